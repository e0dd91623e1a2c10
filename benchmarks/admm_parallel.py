"""Wall time of ADMM with n_jobs=2 vs n_jobs=1 on 4 batches, measured in one run.

Prints one JSON line per run and a summary line with the median wall times and their
ratio (speed-up). Both settings do the same fixed number of ADMM iterations on the same
data and seed, and must reach the same weights.

    python benchmarks/admm_parallel.py [--repeats 3] [--iterations 10]
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from _results import ResultsFile, add_output_options
from sklearn.exceptions import ConvergenceWarning

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import van_der_pol


def run(n_jobs, iterations, t, X):
    base = CollocationNeuralODE(width=32, alpha=1e-3, random_state=0)
    admm = ADMMNeuralODE(base, n_batches=4, max_iter=iterations, tol=1e-12, n_jobs=n_jobs)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        admm.fit(t, X)
    wall = time.perf_counter() - start
    h = admm.history_
    return (
        wall,
        admm,
        {
            "n_jobs": n_jobs,
            "wall_time": round(wall, 3),
            "build_time_sum": round(sum(h["build_time"]), 3),
            "solve_time_sum": round(sum(h["solve_time"]), 3),
            "models_reused": int(sum(h["models_reused"])),
            "subproblem_solves": 4 * admm.n_iter_,
        },
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=10)
    add_output_options(parser, "admm_parallel")
    args = parser.parse_args()
    results = ResultsFile("admm_parallel", args)
    b = van_der_pol(
        400,
        (0, 40),
        x0=(0, 1),
        forcing_amplitude=1.0,
        noise=0.1,
        random_state=0,
        return_bunch=True,
    )
    walls = {1: [], 2: []}
    fits = {}
    for _ in range(args.repeats):
        for n_jobs in (1, 2):  # interleaved so that machine noise hits both alike
            wall, fits[n_jobs], row = run(n_jobs, args.iterations, b.t, b.X)
            walls[n_jobs].append(wall)
            results.emit({"case": "admm_4_batches_400_points", **row})
    same = all(
        np.allclose(a, c, rtol=1e-8, atol=1e-10)
        for a, c in zip(fits[1].estimator_.coefs_, fits[2].estimator_.coefs_)
    )
    m1, m2 = statistics.median(walls[1]), statistics.median(walls[2])
    results.emit(
        {
            "summary": "n_jobs=2 vs n_jobs=1",
            "median_wall_n_jobs_1": round(m1, 3),
            "median_wall_n_jobs_2": round(m2, 3),
            "speedup": round(m1 / m2, 3),
            "same_weights": bool(same),
            "repeats": args.repeats,
            "admm_iterations": args.iterations,
        }
    )
    results.save()


if __name__ == "__main__":
    main()
