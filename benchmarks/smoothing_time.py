"""Seconds of ``smoothing="auto"`` (``_init.smooth_trajectory``) on one long trajectory.

With ``--all-samples`` the spline's cross-validation runs on every sample (the behaviour
before ``_init.GCV_SAMPLES``). Run::

    python benchmarks/smoothing_time.py [--all-samples] [n ...]
"""

from __future__ import annotations

import sys
import time

import numpy as np

from skneuralode import _init


def main(argv: list[str]) -> None:
    if "--all-samples" in argv:
        _init.GCV_SAMPLES = 10**12
    sizes = [int(a) for a in argv if not a.startswith("--")] or [4_000, 100_000, 1_000_000]
    rng = np.random.default_rng(0)
    for n in sizes:
        t = np.linspace(0.0, 100.0, n)
        X = np.column_stack([np.sin(t), np.cos(0.5 * t)]) + 0.05 * rng.standard_normal((n, 2))
        start = time.perf_counter()
        splines = _init.smooth_trajectory(t, X, "auto")
        seconds = time.perf_counter() - start
        error = max(
            np.max(np.abs(s(t) - y)) for s, y in zip(splines, [np.sin(t), np.cos(0.5 * t)])
        )
        print(f"n={n:8d}: {seconds:6.2f} s, max |spline - noise-free signal| = {error:.3f}")


if __name__ == "__main__":
    main(sys.argv[1:])
