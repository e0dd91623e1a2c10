"""The paper's ADMM experiment: two time batches of 150 points vs. one model on 300.

Forced Van der Pol (mu=1, A=1, omega=1, x0=(0, 1)), 300 Chebyshev points on [0, 30],
noise 0.1; [2, 32, 2] tanh network, alpha=1e-3, Chebyshev collocation. Test span (30, 40]
against the noise-free truth. Prints one JSON line per method and the ratio of test MSEs.

    python benchmarks/admm_paper.py [--tol 2e-3] [--max-iter 40] [--n-jobs 2]
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=2e-3)
    parser.add_argument("--max-iter", type=int, default=40)
    parser.add_argument("--n-jobs", type=int, default=2)
    add_output_options(parser, "admm_paper")
    args = parser.parse_args()
    results = ResultsFile("admm_paper", args)
    train = van_der_pol(
        300, (0, 30), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **SYSTEM
    )
    truth = van_der_pol(t=np.linspace(0, 40, 801), return_bunch=True, **SYSTEM)
    base = CollocationNeuralODE(width=32, alpha=1e-3, scheme="chebyshev", random_state=0)
    models = {
        "single_300": clone(base),
        "admm_2x150": ADMMNeuralODE(
            base, n_batches=2, tol=args.tol, max_iter=args.max_iter, n_jobs=args.n_jobs
        ),
    }
    test = truth.t > 30
    mse = {}
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(train.t, train.X)
        wall = time.perf_counter() - start
        pred = model.predict(truth.t, truth.X_true[0])
        fit = model.predict(train.t, train.X[0])
        mse[name] = float(np.mean((pred[test] - truth.X_true[test]) ** 2))
        row = {
            "method": name,
            "wall_time": round(wall, 2),
            "train_mse_data": round(float(np.mean((fit - train.X) ** 2)), 4),
            "train_mse_truth": round(float(np.mean((pred[~test] - truth.X_true[~test]) ** 2)), 4),
            "test_mse_truth": round(mse[name], 4),
            "warnings": [str(w.message)[:120] for w in caught],
        }
        if isinstance(model, ADMMNeuralODE):
            h = model.history_
            row.update(
                admm_iterations=model.n_iter_,
                converged=model.converged_,
                primal=[round(h["primal_residual"][-1], 5), round(h["primal_tolerance"][-1], 5)],
                dual=[round(h["dual_residual"][-1], 5), round(h["dual_tolerance"][-1], 5)],
                ipopt_iterations=model.estimator_.n_iter_,
                build_time=round(sum(h["build_time"]), 2),
                solve_time=round(sum(h["solve_time"]), 2),
            )
        else:
            row.update(ipopt_iterations=model.n_iter_, status=model.solver_status_)
        results.emit(row)
    results.emit(
        {"test_mse_ratio_admm_over_single": round(mse["admm_2x150"] / mse["single_300"], 3)}
    )
    results.save()


if __name__ == "__main__":
    main()
