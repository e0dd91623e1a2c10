"""A converged collocation fit whose learned ODE is unstable in free run (issue 18, item 5).

Collocation solves a boundary-value problem: every node state is an unknown, so an ODE
that is unstable as an initial-value problem can still match the data on the grid. This
script reproduces the failure seen on a real input-output record and measures what the
library offers against it today, by free-run fit on held-out inputs.

Data: :func:`skneuralode.datasets.two_tank`, only the lower level measured with noise
``--noise`` (default 0.05), the pump input held for one sample only (it changes every
sample: ``hold_range=(1, 1)``), ``--n-samples`` samples. Training sequences use the data
seeds ``--seeds``; each is tested on a sequence with another input (seed + 100).

Model: ``CollocationNeuralODE(n_latent=1, u_interpolation="previous", width=--width,
alpha=a, random_state=0)`` for every ``a`` in ``--alphas``. Per fit:

- ``status``, ``n_iter``: IPOPT's termination and iterations;
- ``discretization_error``: the estimator's ``discretization_error_`` (the learned ODE
  simulated along the collocation trajectory; above 0.1 a ``DiscretizationWarning``);
- ``eig_dt_median``/``eig_dt_max``/``eig_positive``: the largest real part of the
  eigenvalues of the learned field's Jacobian ``d f / d x`` at every collocation node
  (with the input held there), times the sample time: its median, its maximum and the
  fraction of nodes where it is positive (a growing mode);
- ``train_fit_percent``/``test_fit_percent``: free-run fit ``100 (1 - ||y - y_hat|| /
  ||y - mean(y)||)`` on the training and the held-out sequence, the initial state
  estimated from the first 10% of each (``estimate_initial_state``), as in
  ``latent_states.py``; ``-inf`` when the simulation diverges; ``test_fit_percent_truth``
  the same against the noise-free level, and ``signal_to_noise`` the standard deviation of
  the noise-free training level over ``--noise``;
- ``train_mse_collocation``: the collocation trajectory's misfit (what the NLP sees).

One summary line per ``alpha`` (medians over the seeds), then a plain-text table.

    python benchmarks/free_run_stability.py [--seeds 0 1 2] [--alphas 1e-6 1e-5 1e-4 1e-3 1e-2]
        [--noise 0.05] [--n-samples 200] [--width 32]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np
from _results import ResultsFile, add_output_options, text_table
from latent_states import fit_percent, free_run

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import two_tank

WARMUP = 0.1
COLUMNS = ["alpha", "converged", "disc. error", "eig*dt median", "eig>0", "train fit %",
           "test fit %", "test fit % (truth)", "diverged"]  # fmt: skip


def node_eigenvalues(model, t, u) -> np.ndarray:
    """Largest real part of the eigenvalues of d f / d x at every collocation node, with
    the input that ``u_interpolation="previous"`` holds there, times the sample time."""
    field = model.vector_field()
    held = np.clip(np.searchsorted(t, model.collocation_times_, side="right") - 1, 0, len(t) - 1)
    growth = [np.linalg.eigvals(field.jacobian(x, u[k])).real.max()
              for x, k in zip(model.collocation_states_, held)]  # fmt: skip
    return np.asarray(growth) * float(np.median(np.diff(t)))


def fit_row(alpha: float, seed: int, train, test, args) -> dict:
    model = CollocationNeuralODE(n_latent=1, u_interpolation="previous", width=args.width,
                                 alpha=alpha, max_iter=args.max_iter, random_state=0)  # fmt: skip
    return {"alpha": alpha, "data_seed": seed, **evaluate(model, train, test, args.noise)}


def evaluate(model, train, test, noise: float) -> dict:
    """Fit ``model`` on ``train``; the measures of the module docstring, ``train`` and
    ``test`` in free run from initial states estimated on their first 10%."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train.t, train.y, u=train.u)
        y_train = free_run(model, train, WARMUP)
        y_test = free_run(model, test, WARMUP)
    eig = node_eigenvalues(model, train.t, train.u)
    return {
        "status": model.solver_status_,
        "n_iter": model.n_iter_,
        "converged": bool(model.converged_),
        "discretization_error": float(f"{model.discretization_error_:.4g}"),
        "eig_dt_median": round(float(np.median(eig)), 4),
        "eig_dt_max": round(float(eig.max()), 4),
        "eig_positive": round(float(np.mean(eig > 0)), 3),
        "train_fit_percent": round(fit_percent(train.y, y_train), 2),
        "test_fit_percent": round(fit_percent(test.y, y_test), 2),
        "test_fit_percent_truth": round(fit_percent(test.y_true, y_test), 2),
        "signal_to_noise": round(float(np.std(train.y_true) / noise), 2),
        "train_mse_collocation": round(model.train_mse_, 6),
        "fit_time": round(model.fit_time_, 2),
        "warnings": sorted({w.category.__name__ for w in caught}),
    }


def summary(alpha: float, rows: list[dict]) -> dict:
    def median(key):
        return statistics.median(r[key] for r in rows)

    return {
        "summary": f"alpha={alpha:g}",
        "alpha": alpha,
        "repeats": len(rows),
        "converged": sum(r["converged"] for r in rows),
        "median_discretization_error": median("discretization_error"),
        "median_eig_dt_median": median("eig_dt_median"),
        "median_eig_positive": median("eig_positive"),
        "median_train_fit_percent": median("train_fit_percent"),
        "median_test_fit_percent": median("test_fit_percent"),
        "median_test_fit_percent_truth": median("test_fit_percent_truth"),
        "diverged": sum(
            not np.isfinite(r["test_fit_percent"]) or r["test_fit_percent"] < -100 for r in rows
        ),  # fmt: skip
    }


def table(summaries: list[dict]) -> str:
    cells = [
        [
            f"{s['alpha']:g}",
            f"{s['converged']}/{s['repeats']}",
            f"{s['median_discretization_error']:.3g}",
            f"{s['median_eig_dt_median']:+.3f}",
            f"{s['median_eig_positive']:.0%}",
            f"{s['median_train_fit_percent']:.1f}",
            f"{s['median_test_fit_percent']:.1f}",
            f"{s['median_test_fit_percent_truth']:.1f}",
            f"{s['diverged']}/{s['repeats']}",
        ]
        for s in summaries
    ]
    return text_table(COLUMNS, cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--alphas", type=float, nargs="+", default=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--n-samples", type=int, default=200)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--max-iter", type=int, default=1000)
    add_output_options(parser, "free_run_stability")
    args = parser.parse_args()
    results = ResultsFile("free_run_stability", args)
    data = dict(n_samples=args.n_samples, noise=args.noise, hold_range=(1, 1), return_bunch=True)
    sequences = {s: (two_tank(random_state=s, **data), two_tank(random_state=s + 100, **data))
                 for s in args.seeds}  # fmt: skip
    summaries = []
    for alpha in args.alphas:
        rows = []
        for seed, (train, test) in sequences.items():
            rows.append(fit_row(alpha, seed, train, test, args))
            results.emit(rows[-1])
        summaries.append(summary(alpha, rows))
    results.finish(summaries, table(summaries))


if __name__ == "__main__":
    main()
