"""ADMM by trajectory against one model on many trajectories (numpy engine).

``--trajectories`` (default 10) noisy trajectories of 1 000 samples each
(``benchmarks/_trajectories.py``: unforced Van der Pol on [0, 20], noise 0.05,
alpha 1e-4), radau, width 32. One ``CollocationNeuralODE`` on all samples against
``ADMMNeuralODE(batching="trajectory", n_batches=--batches, n_jobs=--n-jobs)``; each
reported with its wall time, iterations, training MSE (collocation vs. data) and the MSE
of free-run simulations on three unseen noise-free trajectories. ADMM runs at its
defaults (``tol``, ``max_iter``, ``rho``, ``init``, ``acceleration``) unless given; a
summary line gives ADMM's wall time and test MSE as ratios to the single model's, both
measured in the same run.

    python benchmarks/admm_large.py [--trajectories 10] [--batches 5] [--n-jobs 2]
        [--tol T] [--max-iter K] [--rho R] [--skip-single]
"""

import argparse
import time
import warnings

from _results import ResultsFile, add_output_options
from _trajectories import ALPHA, test_mse, training_set

from skneuralode import ADMMNeuralODE, CollocationNeuralODE


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=10)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--tol", type=float, default=None, help="default: ADMMNeuralODE's")
    parser.add_argument("--max-iter", type=int, default=None, help="default: ADMMNeuralODE's")
    parser.add_argument("--rho", type=float, default=None, help="default: ADMMNeuralODE's")
    parser.add_argument("--skip-single", action="store_true")
    add_output_options(parser, "admm_large")
    args = parser.parse_args()
    results = ResultsFile("admm_large", args)
    t, X, ids = training_set(args.trajectories)
    base = CollocationNeuralODE(width=32, alpha=ALPHA, random_state=0)
    overrides = {"tol": args.tol, "max_iter": args.max_iter, "rho": args.rho}
    models = {
        f"admm_{args.batches}_batches": ADMMNeuralODE(
            base,
            n_batches=args.batches,
            batching="trajectory",
            n_jobs=args.n_jobs,
            **{k: v for k, v in overrides.items() if v is not None},
        )
    }
    measured = {}
    if not args.skip_single:
        models = {"single": base, **models}
    for name, model in models.items():
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model.fit(t, X, trajectory=ids)
        wall = time.perf_counter() - start
        est = model.estimator_ if isinstance(model, ADMMNeuralODE) else model
        row = {
            "method": name,
            "n_samples": len(t),
            "wall_time": round(wall, 1),
            "ipopt_iterations": est.n_iter_,
            "train_mse_collocation": round(est.train_mse_, 6),
            "test_mse_unseen_trajectories": round(test_mse(model), 6),
            "warnings": [str(w.message)[:160] for w in caught],
        }
        if isinstance(model, ADMMNeuralODE):
            h = model.history_
            row.update(
                admm_iterations=model.n_iter_,
                converged=model.converged_,
                init_time=round(model.init_time_, 1),
                time_per_iteration=round((wall - model.init_time_) / max(model.n_iter_, 1), 1),
                mb_sent_per_iteration=[round(b / 1e6, 2) for b in h["bytes_sent"]],
                data_resent=h["data_resent"],
                primal=[round(h["primal_residual"][-1], 5), round(h["primal_tolerance"][-1], 5)],
                dual=[round(h["dual_residual"][-1], 5), round(h["dual_tolerance"][-1], 5)],
                solve_time_summed=round(sum(h["solve_time"]), 1),
            )
        else:
            row.update(status=est.solver_status_, build_time=round(est.build_time_, 1))
        measured[name] = (wall, row["test_mse_unseen_trajectories"])
        results.emit(row)
    if "single" in measured:
        (w_single, m_single), (w_admm, m_admm) = measured.values()
        results.emit(
            {
                "summary": "ADMM / single model, same run",
                "wall_time_ratio": round(w_admm / w_single, 2),
                "test_mse_ratio": round(m_admm / m_single, 3),
            }
        )
    results.save()


if __name__ == "__main__":
    main()
