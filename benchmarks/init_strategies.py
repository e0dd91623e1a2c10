"""IPOPT iterations and fit time with init="lstsq" vs init="random", measured in one run.

Cases: the paper's forced Van der Pol (200 Chebyshev points on [0, 15], noise 0.1) with
both schemes, and the unforced oscillator (200 uniform points on [0, 10]); seeds 0-2.
``--hard`` adds 300 Chebyshev points on [0, 30] (random init needs minutes there).
Prints one JSON line per fit and a summary line per case with median ratios
(random / lstsq: above 1 means lstsq is faster).

    python benchmarks/init_strategies.py [--seeds 0 1 2] [--hard]
"""

import argparse
import statistics
import time
import warnings

import numpy as np
from _results import ResultsFile, add_output_options

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import van_der_pol

FORCED = dict(x0=(0.0, 1.0), forcing_amplitude=1.0, forcing_frequency=1.0)


def cases(hard):
    paper = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **FORCED
    )
    t, X = van_der_pol(200, (0, 10), x0=(2.0, 0.0))
    out = [
        ("paper_radau", paper.t, paper.X, dict(scheme="radau", alpha=1e-3)),
        ("paper_chebyshev", paper.t, paper.X, dict(scheme="chebyshev", alpha=1e-3)),
        ("unforced_radau", t, X, dict(scheme="radau", alpha=1e-5)),
    ]
    if hard:
        b = van_der_pol(
            300, (0, 30), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **FORCED
        )
        out += [
            ("long_radau", b.t, b.X, dict(scheme="radau", alpha=1e-3)),
            ("long_chebyshev", b.t, b.X, dict(scheme="chebyshev", alpha=1e-3)),
        ]
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--hard", action="store_true")
    add_output_options(parser, "init_strategies")
    args = parser.parse_args()
    results = ResultsFile("init_strategies", args)
    for name, t, X, params in cases(args.hard):
        stats = {"random": [], "lstsq": []}
        for seed in args.seeds:
            for init in ("random", "lstsq"):  # interleaved: machine noise hits both
                est = CollocationNeuralODE(
                    width=32, init=init, random_state=seed, max_iter=1000, **params
                )
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    est.fit(t, X)
                wall = time.perf_counter() - start
                stats[init].append((wall, est.n_iter_))
                results.emit(
                    {
                        "case": name,
                        "init": init,
                        "seed": seed,
                        "fit_time": round(wall, 2),
                        "n_iter": est.n_iter_,
                        "status": est.solver_status_,
                        "objective": round(est.objective_, 6),
                        "train_mse": round(est.train_mse_, 6),
                    }
                )
        med = {
            k: (statistics.median(w for w, _ in v), statistics.median(i for _, i in v))
            for k, v in stats.items()
        }
        results.emit(
            {
                "summary": name,
                "median_time_random": round(med["random"][0], 2),
                "median_time_lstsq": round(med["lstsq"][0], 2),
                "time_ratio_random_over_lstsq": round(med["random"][0] / med["lstsq"][0], 2),
                "max_iter_random": max(i for _, i in stats["random"]),
                "max_iter_lstsq": max(i for _, i in stats["lstsq"]),
                "median_iter_random": med["random"][1],
                "median_iter_lstsq": med["lstsq"][1],
            }
        )
    results.save()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
