"""Lotka-Volterra forecasts from a short window: grey box (UDE) vs black box vs physics only.

The universal-differential-equation case of Rackauckas et al. (2020)
(``_lotka_volterra.py``): 31 samples of the Lotka-Volterra system every 0.1 on [0, 3], noise
of standard deviation 5% of each state's mean, one draw per seed ``--seeds``. Four
:class:`~skneuralode.CollocationNeuralODE` models are fitted on them: the grey box
``[a x + nn0, -d y + nn1]`` with ``a`` and ``d`` fitted (started at 1), the same with
``a`` and ``d`` fixed at their true values (the paper's setting), the black box (a network
only) and the full Lotka-Volterra model with ``a, b, c, d`` fitted (started at 1). Each
network's width, activation and ``alpha`` come from ``benchmarks/ude_selection.py``
(``_lotka_volterra.CHOSEN``), which never looks beyond t = 3; the weights start from
``random_state=0`` in every fit. The grey box with ``a`` and ``d`` fitted is fitted again
with each ``alpha`` of ``--grey-box-alphas``: its network reads both states, so it can
absorb any part of ``a x`` and ``-d y``, and only the weight penalty decides the split.

Each model is simulated from its fitted initial state to t = ``--horizon`` and compared with
the noise-free solution every 0.1: ``rmse_train`` on [0, 3], ``rmse_3_6`` and
``rmse_3_horizon`` beyond it (``inf`` when the simulation stops, ``diverged``), and
``peak_ratio`` the largest forecast state over the largest true one beyond t = 3; the
period is about 5.5 and the prey peaks near 8.9 at t = 4.6, far above its largest value
(1.6) in the training window. ``a_error``, ``d_error`` (and ``b_error``, ``c_error``) are
fitted minus true parameters; ``nn_rmse`` is the grey box's network output against the
interactions it stands for, ``(-b x y, c x y)``, along the true trajectory on [0, 3]
(their RMS is 0.45). One summary line per case: medians over the seeds.

    python benchmarks/ude_forecast.py [--seeds 0 1 ... 9] [--horizon 10]
        [--models grey_box grey_box_known_ad black_box physics_only]
        [--grey-box-alphas 1e-3 1e-4 1e-5 1e-6]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np
from _lotka_volterra import (
    CHOSEN,
    MODELS,
    T_TRAIN,
    TRUE_PARAMS,
    blas_kernel,
    forecast,
    interactions,
    lotka_volterra,
    make_model,
    network_outputs,
    rmse,
    training_data,
)
from _results import ResultsFile, add_output_options, text_table

COLUMNS = ["model", "converged", "RMSE [0, 3]", "RMSE (3, 6]", "RMSE (3, end]", "diverged",
           "a error", "d error", "nn RMSE", "fit time", "iterations"]  # fmt: skip


def fit_row(name: str, alpha, seed: int, t: np.ndarray, X_true: np.ndarray) -> dict:
    _, X = training_data(seed)
    model = make_model(name, alpha=alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(T_TRAIN, X)
    X_hat = forecast(model, t)
    train, first, beyond = t <= T_TRAIN[-1], (t > T_TRAIN[-1]) & (t <= 6), t > T_TRAIN[-1]
    row = {
        "model": name,
        "seed": seed,
        "status": model.solver_status_,
        "converged": bool(model.converged_),
        "n_iter": model.n_iter_,
        "fit_time": round(model.fit_time_, 3),
        "rmse_train": round(rmse(X_hat[train], X_true[train]), 4),
        "rmse_3_6": round(rmse(X_hat[first], X_true[first]), 4),
        "rmse_3_horizon": round(rmse(X_hat[beyond], X_true[beyond]), 4),
        "diverged": bool(np.isnan(X_hat).any()),
        "peak_ratio": round(float(np.nanmax(X_hat[beyond]) / X_true[beyond].max()), 3),
        "discretization_error": float(f"{model.discretization_error_:.3g}"),
    }
    params = getattr(model, "physics_params_", {})
    row.update({f"{k}_error": round(v - TRUE_PARAMS[k], 4) for k, v in params.items()})
    if name.startswith("grey_box"):
        nn = network_outputs(model, X_true[train])
        row["nn_rmse"] = round(rmse(nn, interactions(X_true[train])), 4)
    if name in CHOSEN:
        row["width"], row["activation"] = CHOSEN[name][:2]
        row["alpha"] = model.alpha
    row["warnings"] = sorted({w.category.__name__ for w in caught})
    return row


def summary(name: str, rows: list[dict]) -> dict:
    """Medians over the seeds of one case."""

    def median(key):
        values = [r[key] for r in rows if key in r]
        return round(statistics.median(values), 4) if values else None

    alpha = f" (alpha={rows[0]['alpha']:g})" if "alpha" in rows[0] else ""
    line = {"summary": name + alpha, "repeats": len(rows)}
    line["converged"] = sum(r["converged"] for r in rows)
    for key in ("rmse_train", "rmse_3_6", "rmse_3_horizon"):
        line[f"median_{key}"] = median(key)
    line["diverged"] = sum(r["diverged"] for r in rows)
    line["median_peak_ratio"] = median("peak_ratio")
    for key in ("a_error", "b_error", "c_error", "d_error"):
        if key in rows[0]:
            line[f"median_{key}"] = median(key)
            line[f"median_abs_{key}"] = round(statistics.median(abs(r[key]) for r in rows), 4)
    line["median_nn_rmse"] = median("nn_rmse")
    line["median_fit_time"] = median("fit_time")
    line["median_n_iter"] = median("n_iter")
    line["blas_kernel"] = blas_kernel()
    return {k: v for k, v in line.items() if v is not None}


def table(summaries: list[dict]) -> str:
    def cell(s, key, spec):
        return format(s[key], spec) if key in s else "-"

    cells = [
        [
            s["summary"],
            f"{s['converged']}/{s['repeats']}",
            cell(s, "median_rmse_train", ".3f"),
            cell(s, "median_rmse_3_6", ".3g"),
            cell(s, "median_rmse_3_horizon", ".3g"),
            f"{s['diverged']}/{s['repeats']}",
            cell(s, "median_a_error", "+.3f"),
            cell(s, "median_d_error", "+.3f"),
            cell(s, "median_nn_rmse", ".3f"),
            cell(s, "median_fit_time", ".2f"),
            cell(s, "median_n_iter", ".0f"),
        ]
        for s in summaries
    ]
    return text_table(COLUMNS, cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument(
        "--grey-box-alphas",
        type=float,
        nargs="*",
        default=[1e-3, 1e-4, 1e-5, 1e-6],
        help="grey_box fitted again with each of these alphas (the bias of a, d)",
    )
    parser.add_argument("--horizon", type=float, default=10.0)
    add_output_options(parser, "ude_forecast")
    args = parser.parse_args()
    results = ResultsFile("ude_forecast", args)
    t = np.round(np.arange(0.0, args.horizon + 1e-9, 0.1), 10)
    X_true = lotka_volterra(t)
    summaries = []
    cases = [(name, None) for name in args.models]
    cases += [("grey_box", alpha) for alpha in args.grey_box_alphas]
    for name, alpha in cases:
        rows = []
        for seed in args.seeds:
            rows.append(fit_row(name, alpha, seed, t, X_true))
            results.emit(rows[-1])
        summaries.append(summary(name, rows))
    results.finish(summaries, table(summaries))


if __name__ == "__main__":
    main()
