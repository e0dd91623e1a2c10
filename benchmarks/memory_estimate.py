"""Peak memory of a fit against ``_limits.estimate_memory`` (the calibration of its factor).

Each size is fitted in a fresh process with ``max_iter=2`` (the peak comes with the first
factorization of the KKT matrix); the peak resident memory is ``ru_maxrss`` of that process
minus its resident memory after ``import skneuralode`` and the data. Run::

    python benchmarks/memory_estimate.py
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys
import numpy as np
from skneuralode import CollocationNeuralODE
from skneuralode._limits import estimate_memory
n, d, width = map(int, sys.argv[1:4])
t = np.linspace(0.0, 20.0, n)
X = np.column_stack([np.sin((1 + 0.1 * k) * t + k) for k in range(d)])
model = CollocationNeuralODE(width=width, max_iter=2, smoothing="none", random_state=0)
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
estimate = estimate_memory(n_points=[n], n_states=d, n_inputs=0, spec=model)
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    model.fit(t, X)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - base
print(json.dumps({"n": n, "d": d, "width": width, "peak": peak, "estimate": estimate}))
"""

SIZES = [(200, 10, 32), (200, 20, 32), (2000, 2, 32), (10000, 2, 32), (200, 2, 512)]


def main() -> None:
    for n, d, width in SIZES:
        out = subprocess.run([sys.executable, "-c", CHILD, str(n), str(d), str(width)],
                             capture_output=True, text=True, check=True)  # fmt: skip
        row = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"samples={row['n']:6d} states={row['d']:3d} width={row['width']:4d}: "
            f"peak {row['peak'] / 2**20:8.1f} MiB, estimate {row['estimate'] / 2**20:8.1f} MiB"
        )


if __name__ == "__main__":
    main()
