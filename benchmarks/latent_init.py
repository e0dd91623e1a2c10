"""How the latent states start: the smoothed outputs' derivatives (what ``fit`` does)
against a zero start and a random start, on two input-output problems.

``vdp``: unforced Van der Pol, only x1 measured (x2 = dx1/dt is the latent state), 150
samples on [0, 15] with noise 0.02; width 16, alpha 1e-4. Test: a trajectory from another
start (-2, 0), its initial state estimated on the first 10% of the samples, the fit % on the rest.

``two_tank``: :func:`skneuralode.datasets.two_tank`, only h2 measured, 400 samples with
noise 0.02; train on one input sequence, test on another (``u_interpolation="previous"``,
width 16, alpha 1e-4), scored as above.

The three starts differ only in ``_init.latent_start`` (swapped for the comparison):
``derivatives`` (the default), ``zeros``, ``random`` (standard normal, seeded). Each
runs for several network seeds. Prints one JSON line per fit and a summary per start:
median IPOPT iterations and fit time, converged fits, median test fit %.

    python benchmarks/latent_init.py [--case vdp two_tank] [--seeds 0 1 2]
"""

import argparse
import time
import warnings

import numpy as np
from _results import ResultsFile, add_output_options

from skneuralode import CollocationNeuralODE, _init, _problem
from skneuralode.datasets import two_tank, van_der_pol

WARMUP = 0.1


def fit_percent(y, y_hat):
    """``100 (1 - ||y - y_hat|| / ||y - mean(y)||)``, the identification fit %."""
    return float(100 * (1 - np.linalg.norm(y - y_hat) / np.linalg.norm(y - y.mean(axis=0))))


def vdp_case():
    t, X = van_der_pol(150, (0, 15), x0=(2.0, 0.0), noise=0.02, random_state=0)
    test_t, test_X = van_der_pol(150, (0, 15), x0=(-2.0, 0.0))
    est = dict(width=16, alpha=1e-4, n_latent=1)
    return est, (t, X[:, :1], None), (test_t, test_X[:, :1], None)


def two_tank_case():
    train = two_tank(400, noise=0.02, random_state=0, return_bunch=True)
    test = two_tank(400, random_state=1, return_bunch=True)
    est = dict(width=16, alpha=1e-4, n_latent=1, u_interpolation="previous")
    return est, (train.t, train.y, train.u), (test.t, test.y_true, test.u)


CASES = {"vdp": vdp_case, "two_tank": two_tank_case}


def zero_start(smoothers, node_t, node_traj, n_latent):
    return np.zeros((len(node_t), n_latent))


def random_start(smoothers, node_t, node_traj, n_latent):
    return np.random.RandomState(0).standard_normal((len(node_t), n_latent))


STARTS = {"derivatives": _init.latent_start, "zeros": zero_start, "random": random_start}


def run(case: str, start: str, seed: int) -> dict:
    params, (t, y, u), (tt, yt, ut) = CASES[case]()
    _problem.latent_start = STARTS[start]
    try:
        clock = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = CollocationNeuralODE(random_state=seed, **params).fit(t, y, u=u)
        elapsed = time.perf_counter() - clock
    finally:
        _problem.latent_start = _init.latent_start
    warm = max(int(np.ceil(WARMUP * len(tt))), 5)
    x0 = model.estimate_initial_state(tt[:warm], yt[:warm], None if ut is None else ut[:warm])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = model.predict(tt, x0, ut)
    score = fit_percent(yt[warm:], pred[warm:]) if np.all(np.isfinite(pred)) else -np.inf
    return {
        "case": case,
        "start": start,
        "seed": seed,
        "fit_time": round(elapsed, 2),
        "ipopt_iterations": int(model.n_iter_),
        "status": model.solver_status_,
        "converged": bool(model.converged_),
        "warnings": sorted({type(w.message).__name__ for w in caught}),
        "test_fit_percent": round(score, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    add_output_options(parser, "latent_init")
    args = parser.parse_args()
    results = ResultsFile("latent_init", args)
    for case in args.case:
        for start in STARTS:
            rows = [run(case, start, seed) for seed in args.seeds]
            for row in rows:
                results.emit(row)
            results.emit(
                {
                    "case": case,
                    "start": start,
                    "summary": True,
                    "median_iterations": float(np.median([r["ipopt_iterations"] for r in rows])),
                    "median_fit_time": float(np.median([r["fit_time"] for r in rows])),
                    "converged": f"{sum(r['converged'] for r in rows)}/{len(rows)}",
                    "median_test_fit_percent": float(
                        np.median([r["test_fit_percent"] for r in rows])
                    ),
                }
            )
    results.save()


if __name__ == "__main__":
    main()
