"""How long a fit with ``max_time`` takes, with IPOPT in the fit's process or in a child
process (``skneuralode._child``), on a problem whose first factorizations take longer
than the limit: ``van_der_pol(4000, (0, 400), noise=0.05)`` with ``depth=2``.

Each case runs in a fresh process (``SKNEURALODE_SOLVE_IN_CHILD=0`` or ``1``) and prints
one line: wall seconds of ``fit``, how far past ``max_time``, IPOPT's status and
iterations (or a ``TimeoutError`` when the limit ran out before IPOPT started). Run::

    python benchmarks/max_time.py [max_time ...]      (default: 4 15)

``--overhead [repeats]`` measures instead what the child costs on a small fit that ends
long before its limit: the README's fit (100 samples, ``width=16``) with
``max_time=1e6``, in a child and in this process, interleaved ``repeats`` times
(default 15); it prints the median seconds of each and their ratio, and which BLAS
kernel ran (threadpoolctl).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

CASE = """
import json, sys, time, warnings
from skneuralode import CollocationNeuralODE
from skneuralode.datasets import van_der_pol

t, X = van_der_pol(4000, (0, 400), noise=0.05)
model = CollocationNeuralODE(depth=2, max_time=float(sys.argv[1]))
start = time.perf_counter()
try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(t, X)
    row = {"status": model.solver_status_, "n_iter": model.n_iter_,
           "ipopt_s": model.timings_["ipopt"]}
except TimeoutError:  # the limit ran out before IPOPT started (a loaded machine)
    row = {"status": "TimeoutError before IPOPT"}
print(json.dumps({"fit_s": time.perf_counter() - start, **row}))
"""


def overhead(repeats: int) -> None:
    import time
    import warnings

    import numpy as np
    from threadpoolctl import threadpool_info

    from skneuralode import CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    t, X = van_der_pol(n_samples=100, t_span=(0, 10), random_state=0)
    seconds = {"1": [], "0": []}
    coefs = {}
    for _ in range(repeats):
        for env in ("1", "0"):
            os.environ["SKNEURALODE_SOLVE_IN_CHILD"] = env
            model = CollocationNeuralODE(width=16, random_state=0, max_time=1e6)
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(t, X)
            seconds[env].append(time.perf_counter() - start)
            coefs[env] = np.concatenate([c.ravel() for c in model.coefs_])
    child, here = np.median(seconds["1"]), np.median(seconds["0"])
    kernels = sorted({f"{i['internal_api']} {i.get('architecture')}" for i in threadpool_info()})
    print(json.dumps({"case": "README fit, max_time=1e6", "repeats": repeats,
                      "child_s": round(child, 4), "in_process_s": round(here, 4),
                      "ratio_child_over_in_process": round(child / here, 3),
                      "bit_identical": bool(np.array_equal(coefs["1"], coefs["0"])),
                      "blas": kernels}))  # fmt: skip


def main(argv: list[str]) -> None:
    if argv[:1] == ["--overhead"]:
        overhead(int(argv[1]) if len(argv) > 1 else 15)
        return
    limits = [float(a) for a in argv] or [4.0, 15.0]
    for limit in limits:
        for where, env in (("fit's process", "0"), ("child process", "1")):
            out = subprocess.run(
                [sys.executable, "-c", CASE, str(limit)],
                env={**os.environ, "SKNEURALODE_SOLVE_IN_CHILD": env},
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
            row = json.loads(out.strip().splitlines()[-1])
            row = {"max_time": limit, "ipopt_in": where, **row,
                   "past_limit_s": row["fit_s"] - limit}  # fmt: skip
            print(json.dumps({k: round(v, 2) if isinstance(v, float) else v
                              for k, v in row.items()}), flush=True)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1:])
