"""Choosing the networks of the Lotka-Volterra UDE benchmark without looking at its test span.

The case of Rackauckas et al. (2020) (``_lotka_volterra.py``): 31 noisy samples of the
Lotka-Volterra system on [0, 3], and the question how well a model fitted there forecasts
t > 3. The width, activation and weight penalty ``alpha`` of each model with a network
(the grey box with ``a`` and ``d`` fitted, the grey box with ``a`` and ``d`` known, the black
box) are chosen here by forward validation inside the training window: fit on the samples
with t <= ``--split`` (default 2), simulate from the fitted initial state and compare with
the noisy samples on (``--split``, 3], over the noise draws ``--seeds`` (default 100 101
102: not the benchmark's 0-9). Nothing beyond t = 3 and no noise-free value is used. The
physics-only model has no network and nothing to choose; its row is the reference.

Each row is one setting of one model, over the seeds: ``val_rmse`` the validation RMSE per
seed and ``median_val_rmse`` its median (the criterion), the median fitted ``a`` and ``d``
(grey box; shown, not used), IPOPT's iterations and the fit time. A summary line per model
names the setting with the lowest ``median_val_rmse``; ``_lotka_volterra.CHOSEN`` holds it.

    python benchmarks/ude_selection.py [--seeds 100 101 102] [--widths 8 16 32]
        [--activations tanh softplus] [--alphas 1e-2 1e-3 1e-4 1e-5 1e-6] [--split 2]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import warnings

from _lotka_volterra import MODELS, T_TRAIN, blas_kernel, forecast, make_model, rmse, training_data
from _results import ResultsFile, add_output_options, text_table

NETWORK_MODELS = ("grey_box", "grey_box_known_ad", "grey_box_xy", "black_box")
NO_SETTING = (None, None, None)  # physics only
COLUMNS = ["model", "width", "activation", "alpha", "median val. RMSE", "median a", "median d"]


def validate(name: str, setting: tuple, seed: int, split: float) -> dict:
    """Fit on t <= split, forecast the noisy samples on (split, 3]."""
    width, activation, alpha = setting
    _, X = training_data(seed)
    fit = T_TRAIN <= split
    model = make_model(name, width, activation, alpha)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(T_TRAIN[fit], X[fit])
    X_hat = forecast(model, T_TRAIN)
    params = getattr(model, "physics_params_", {})
    return {
        "val_rmse": rmse(X_hat[~fit], X[~fit]),
        "a": params.get("a"),
        "d": params.get("d"),
        "n_iter": model.n_iter_,
        "converged": bool(model.converged_),
        "fit_time": model.fit_time_,
        "warnings": sorted({w.category.__name__ for w in caught}),
    }


def setting_row(name: str, setting: tuple, runs: list[dict], seeds: list[int]) -> dict:
    def median(key):
        values = [r[key] for r in runs if r[key] is not None]
        return round(statistics.median(values), 4) if values else None

    width, activation, alpha = setting
    return {
        "model": name,
        "width": width,
        "activation": activation,
        "alpha": alpha,
        "median_val_rmse": median("val_rmse"),
        "val_rmse": [round(r["val_rmse"], 4) for r in runs],
        "median_a": median("a"),
        "median_d": median("d"),
        "converged": f"{sum(r['converged'] for r in runs)}/{len(runs)}",
        "median_n_iter": median("n_iter"),
        "median_fit_time": median("fit_time"),
        "seeds": seeds,
        "warnings": sorted({w for r in runs for w in r["warnings"]}),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[100, 101, 102])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--widths", type=int, nargs="+", default=[8, 16, 32])
    parser.add_argument("--activations", nargs="+", default=["tanh", "softplus"])
    parser.add_argument("--alphas", type=float, nargs="+", default=[1e-2, 1e-3, 1e-4, 1e-5, 1e-6])
    parser.add_argument("--split", type=float, default=2.0)
    add_output_options(parser, "ude_selection")
    args = parser.parse_args()
    results = ResultsFile("ude_selection", args)
    best = {}
    for name in args.models:
        rows = []
        grid = itertools.product(args.widths, args.activations, args.alphas)
        for setting in grid if name in NETWORK_MODELS else [NO_SETTING]:
            runs = [validate(name, setting, seed, args.split) for seed in args.seeds]
            rows.append(setting_row(name, setting, runs, args.seeds))
            results.emit(rows[-1])
        if name in NETWORK_MODELS:
            best[name] = min(rows, key=lambda r: r["median_val_rmse"])
    for name, row in best.items():
        keep = ("width", "activation", "alpha", "median_val_rmse", "median_a", "median_d")
        results.emit({"chosen_for": name, **{k: row[k] for k in keep},
                      "blas_kernel": blas_kernel()})  # fmt: skip
    print()
    cells = [[name, str(r["width"]), r["activation"], f"{r['alpha']:g}",
              f"{r['median_val_rmse']:.4f}", str(r["median_a"]), str(r["median_d"])]
             for name, r in best.items()]  # fmt: skip
    print(text_table(COLUMNS, cells))
    results.save()


if __name__ == "__main__":
    main()
