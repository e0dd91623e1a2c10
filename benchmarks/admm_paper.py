"""The paper's ADMM experiment: two time batches of 150 points vs. one model on 300.

``paper``: forced Van der Pol (mu=1, A=1, omega=1, x0=(0, 1)), 300 Chebyshev points on
[0, 30], noise 0.1; [2, 32, 2] tanh network, alpha=1e-3, Chebyshev collocation. Test span
(30, 40] against the noise-free truth.

``trajectories`` (a second case for the stopping rule): six unforced Van der Pol
trajectories of 100 points on [0, 10], noise 0.05, [2, 16, 2] network, alpha=1e-4,
radau; three batches of two trajectories (``batching="trajectory"``). Test: free-run
simulations of two unseen noise-free trajectories.

ADMM runs with its default parameters (``tol``, ``max_iter``, ``rho``) unless given.
Prints one JSON line per method and the ratio of test MSEs per case.

    python benchmarks/admm_paper.py [--case paper trajectories] [--tol 1e-2]
        [--max-iter 100] [--n-jobs 2]
"""

import argparse
import time
import warnings

import numpy as np
from _results import ResultsFile, add_output_options
from sklearn.base import clone

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import van_der_pol

SYSTEM = dict(x0=(0.0, 1.0), mu=1.0, forcing_amplitude=1.0, forcing_frequency=1.0)
TRAJECTORY_STARTS = [(2, 0), (1, 1), (-1.5, 0.5), (0.5, -2), (-2, -1), (0, 2.5)]
TEST_STARTS = [(1.5, -1), (-0.5, 1.5)]


def paper_case():
    """-> (base estimator, ADMM parameters, fit arguments, test MSE function)."""
    train = van_der_pol(
        300, (0, 30), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **SYSTEM
    )
    truth = van_der_pol(t=np.linspace(0, 40, 801), return_bunch=True, **SYSTEM)
    base = CollocationNeuralODE(width=32, alpha=1e-3, scheme="chebyshev", random_state=0)
    test = truth.t > 30

    def test_mse(model):
        pred = model.predict(truth.t, truth.X_true[0])
        return float(np.mean((pred[test] - truth.X_true[test]) ** 2))

    return base, {"n_batches": 2}, ((train.t, train.X), {}), test_mse


def trajectories_case():
    parts = [
        van_der_pol(100, (0, 10), x0=x0, noise=0.05, random_state=k)
        for k, x0 in enumerate(TRAJECTORY_STARTS)
    ]
    t = np.concatenate([p[0] for p in parts])
    X = np.vstack([p[1] for p in parts])
    ids = np.repeat(np.arange(len(parts)), 100)
    grid = np.linspace(0, 10, 201)
    tests = [van_der_pol(t=grid, x0=x0, return_bunch=True) for x0 in TEST_STARTS]
    base = CollocationNeuralODE(width=16, alpha=1e-4, random_state=0)

    def test_mse(model):
        errors = [np.mean((model.predict(b.t, b.X_true[0]) - b.X_true) ** 2) for b in tests]
        return float(np.mean(errors))

    admm = {"n_batches": 3, "batching": "trajectory"}
    return base, admm, ((t, X), {"trajectory": ids}), test_mse


CASES = {"paper": paper_case, "trajectories": trajectories_case}


def run_case(name, args, results):
    base, admm_params, (fit_args, fit_kwargs), test_mse = CASES[name]()
    overrides = {"tol": args.tol, "max_iter": args.max_iter}
    admm_params.update({k: v for k, v in overrides.items() if v is not None})
    models = {
        "single": clone(base),
        "admm": ADMMNeuralODE(base, n_jobs=args.n_jobs, **admm_params),
    }
    mse = {}
    for method, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(*fit_args, **fit_kwargs)
        wall = time.perf_counter() - start
        mse[method] = test_mse(model)
        est = model.estimator_ if isinstance(model, ADMMNeuralODE) else model
        row = {
            "method": f"{name}_{method}",
            "wall_time": round(wall, 2),
            "train_mse_collocation": round(est.train_mse_, 4),
            "test_mse_truth": round(mse[method], 4),
            "warnings": [str(w.message)[:120] for w in caught],
        }
        if isinstance(model, ADMMNeuralODE):
            h = model.history_
            row.update(
                params={k: model.get_params()[k] for k in ("n_batches", "tol", "max_iter", "rho")},
                admm_iterations=model.n_iter_,
                converged=model.converged_,
                stop_reason=model.stop_reason_,
                primal=[round(h["primal_residual"][-1], 5), round(h["primal_tolerance"][-1], 5)],
                dual=[round(h["dual_residual"][-1], 5), round(h["dual_tolerance"][-1], 5)],
                ipopt_iterations=est.n_iter_,
                build_time=round(sum(h["build_time"]), 2),
                solve_time=round(sum(h["solve_time"]), 2),
            )
        else:
            row.update(ipopt_iterations=model.n_iter_, status=model.solver_status_)
        results.emit(row)
    ratio = round(mse["admm"] / mse["single"], 3)
    results.emit({f"test_mse_ratio_admm_over_single_{name}": ratio})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--tol", type=float, default=None, help="default: ADMMNeuralODE's")
    parser.add_argument("--max-iter", type=int, default=None, help="default: ADMMNeuralODE's")
    parser.add_argument("--n-jobs", type=int, default=2)
    add_output_options(parser, "admm_paper")
    args = parser.parse_args()
    results = ResultsFile("admm_paper", args)
    for name in args.case:
        run_case(name, args, results)
    results.save()


if __name__ == "__main__":
    main()
