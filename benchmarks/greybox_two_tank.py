"""Grey-box vs black-box on the cascaded tanks: physical parameters and free-run test fit.

Data: :func:`skneuralode.datasets.two_tank`, ``--n-samples`` samples, only the lower
level ``h2`` measured with Gaussian noise ``--noise`` (each level in the list), true
``k1 = k2 = k4 = 0.2``, ``k3 = 0.15``. Training sequences use the data seeds ``--seeds``;
each is tested on a sequence with another input (seed + 100), measured with the same noise.

Models, fitted in turn on each training sequence (grey-box first, then black-box):

- ``greybox`` (one per ``a`` in ``--greybox-alphas``): the upper tank and the pipe known,
  the lower tank's outflow left to a network of ``h2`` alone, ``h1`` a latent state in
  level units::

      def tanks(x, u, p, nn):
          h2, h1 = x
          return [p["k2"] * sqrt(h1) + nn[0], p["k4"] * u[0] - p["k1"] * sqrt(h1)]

      CollocationNeuralODE(physics=tanks, physics_params={"k1": 0.1, "k2": 0.2, "k4": 0.1},
          physics_fixed=["k2"], physics_bounds={"k1": (0, None), "k4": (0, None)},
          n_latent=1, latent_start=[3.0], network_inputs=["x[0]"], alpha=a,
          width=--width, u_interpolation="previous", random_state=0)

  ``k1`` and ``k4`` start at half their true values; ``k2`` is held at its true value
  (with ``h1`` unmeasured, ``k1``, ``k2``, ``k4`` are identifiable only up to the scale
  of ``h1``, which fixing ``k2`` sets).
- ``blackbox``: ``CollocationNeuralODE(n_latent=1, u_interpolation="previous",
  width=--width, alpha=--blackbox-alpha, random_state=0)``, as in
  ``examples/plot_two_tank.py``.

Columns: ``k1``, ``k4`` and their relative errors ``k1_error``, ``k4_error`` (fitted / true
- 1); ``test_r2``, the estimator's ``score`` on the test sequence (R² of the free run
against the noisy level after a warm-up window, from which the initial state is estimated);
``test_fit_percent`` and ``test_fit_percent_truth``, the free-run fit ``100 (1 - ||y -
y_hat|| / ||y - mean(y)||)`` against the noisy and the noise-free level, the initial state
estimated from the first 10% (``estimate_initial_state``), as in ``latent_states.py``;
``noise_floor_fit_percent``, the fit of the noise-free level itself against the noisy one
(about the best a free run can reach against the noisy level); ``test_outside``, the share
of test samples whose true ``h2`` lies outside the training sequence's range (where the
grey-box network, a function of ``h2``, extrapolates); ``h1_max_error`` (grey-box) the
largest distance of its latent state from the true ``h1`` on that free run; ``fit_time``
(``fit_time_``), ``n_iter`` (IPOPT iterations), ``status``. One summary line per model and
noise (medians and worst cases over the seeds, the grey-box wins against the black-box fit
of the same sequence on ``test_r2`` and on ``test_fit_percent_truth``, the median of the
per-sequence time ratios black-box / grey-box), one line with the issue's targets (at noise
0.02 and the first grey-box alpha: every ``|k1_error|``, ``|k4_error|`` under 5%, and the
grey-box test R² above the black-box one on every sequence) and the BLAS kernels
(threadpoolctl), then a plain-text table. BLAS threads are limited to ``--threads``.

    python benchmarks/greybox_two_tank.py [--seeds 0 1 2 3 4] [--noises 0.02 0.05]
        [--greybox-alphas 1e-5 1e-3] [--blackbox-alpha 1e-4] [--n-samples 500] [--width 16]
"""

from __future__ import annotations

import argparse
import statistics
import warnings

import numpy as np
from _results import ResultsFile, add_output_options, blas_kernels, text_table
from latent_states import fit_percent, free_run
from threadpoolctl import threadpool_limits

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import two_tank
from skneuralode.physics import sqrt

TRUE = {"k1": 0.2, "k2": 0.2, "k3": 0.15, "k4": 0.2}
START = {"k1": 0.1, "k2": TRUE["k2"], "k4": 0.1}
TOLERANCE = 0.05  # the target on |k1_error|, |k4_error| at noise 0.02
WARMUP = 0.1
COLUMNS = ["model", "noise", "|k1 err| med/max", "|k4 err| med/max", "test R2",
           "fit %", "fit % (truth)", "wins R2/truth", "fit time [s]", "iter", "conv"]  # fmt: skip


def tanks(x, u, p, nn):
    """h2 measured, h1 latent; the network stands for the lower tank's outflow."""
    h2, h1 = x
    return [p["k2"] * sqrt(h1) + nn[0], p["k4"] * u[0] - p["k1"] * sqrt(h1)]


def greybox(alpha: float, args) -> CollocationNeuralODE:
    return CollocationNeuralODE(
        physics=tanks,
        physics_params=dict(START),
        physics_fixed=["k2"],
        physics_bounds={"k1": (0, None), "k4": (0, None)},
        n_latent=1,
        latent_start=[3.0],
        network_inputs=["x[0]"],
        alpha=alpha,
        width=args.width,
        u_interpolation="previous",
        max_iter=args.max_iter,
        random_state=0,
    )


def blackbox(args) -> CollocationNeuralODE:
    return CollocationNeuralODE(n_latent=1, u_interpolation="previous", width=args.width,
                                alpha=args.blackbox_alpha, max_iter=args.max_iter,
                                random_state=0)  # fmt: skip


def fit_row(name: str, model, noise: float, seed: int, train, test) -> dict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train.t, train.y, u=train.u)
        y_test = free_run(model, test, WARMUP)
        r2 = model.score(test.t, test.y, u=test.u)
    row = {"model": name, "noise": noise, "data_seed": seed}
    if hasattr(model, "physics_params_"):
        for k in ("k1", "k4"):
            row[k] = round(model.physics_params_[k], 5)
            row[f"{k}_error"] = round(model.physics_params_[k] / TRUE[k] - 1.0, 5)
        row["h1_max_error"] = round(h1_error(model, test), 4)
    return {
        **row,
        "test_r2": round(r2, 5),
        "test_fit_percent": round(fit_percent(test.y, y_test), 2),
        "test_fit_percent_truth": round(fit_percent(test.y_true, y_test), 2),
        "noise_floor_fit_percent": round(fit_percent(test.y, test.y_true), 2),
        "test_outside": round(outside(train, test), 3),
        "fit_time": round(model.fit_time_, 2),
        "n_iter": model.n_iter_,
        "status": model.solver_status_,
        "converged": bool(model.converged_),
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught}),
    }


def outside(train, test) -> float:
    """Share of the test samples whose true h2 lies outside the training range (where
    the network of h2 extrapolates)."""
    low, high = train.y_true.min(), train.y_true.max()
    return float(np.mean((test.y_true < low) | (test.y_true > high)))


def h1_error(model, data) -> float:
    """Largest |latent state - true h1| on the free run from the warm-up estimate."""
    n = max(2, int(round(WARMUP * len(data.t))))
    x0 = model.estimate_initial_state(data.t[:n], data.y[:n], u=data.u[:n])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        _, latent = model.predict(data.t, x0, u=data.u, return_latent=True)
    return float(np.max(np.abs(latent[:, 0] - data.states[:, 0])))


def summary(name: str, noise: float, rows: list[dict], baseline: list[dict] | None) -> dict:
    def median(key):
        return statistics.median(r[key] for r in rows)

    out = {"summary": f"{name}, noise {noise:g}", "model": name, "noise": noise,
           "repeats": len(rows)}  # fmt: skip
    if "k1" in rows[0]:
        for k in ("k1", "k4"):
            errors = [abs(r[f"{k}_error"]) for r in rows]
            out[f"median_abs_{k}_error"] = round(statistics.median(errors), 5)
            out[f"max_abs_{k}_error"] = max(errors)
        out["median_h1_max_error"] = median("h1_max_error")
    out |= {
        "median_test_r2": median("test_r2"),
        "min_test_r2": min(r["test_r2"] for r in rows),
        "median_test_fit_percent": median("test_fit_percent"),
        "median_test_fit_percent_truth": median("test_fit_percent_truth"),
        "median_noise_floor_fit_percent": median("noise_floor_fit_percent"),
        "median_fit_time": median("fit_time"),
        "median_n_iter": median("n_iter"),
        "converged": sum(r["converged"] for r in rows),
    }
    if baseline is not None:  # paired with the black-box fit of the same sequence
        pairs = list(zip(rows, baseline, strict=True))
        out["wins_vs_blackbox"] = sum(g["test_r2"] > b["test_r2"] for g, b in pairs)
        out["wins_vs_blackbox_truth"] = sum(
            g["test_fit_percent_truth"] > b["test_fit_percent_truth"] for g, b in pairs
        )
        ratios = [b["fit_time"] / g["fit_time"] for g, b in pairs]
        out["median_time_ratio_blackbox_over_greybox"] = round(statistics.median(ratios), 2)
    return out


def targets(rows: list[dict], alpha_name: str) -> dict:
    """The issue's targets at noise 0.02: k1, k4 within 5%; grey-box above black-box."""
    at = [r for r in rows if r["noise"] == 0.02]
    grey = [r for r in at if r["model"] == alpha_name]
    black = {r["data_seed"]: r for r in at if r["model"] == "blackbox"}
    worst = max((abs(r[f"{k}_error"]) for r in grey for k in ("k1", "k4")), default=None)
    wins = sum(r["test_r2"] > black[r["data_seed"]]["test_r2"] for r in grey)
    return {
        "summary": "targets (noise 0.02)",
        "model": alpha_name,
        "max_abs_parameter_error": worst,
        "parameters_within_5_percent": worst is not None and worst <= TOLERANCE,
        "greybox_wins": f"{wins}/{len(grey)}",
        "greybox_above_blackbox": bool(grey) and wins == len(grey),
    }


def table(summaries: list[dict]) -> str:
    def errors(s, k):
        if f"median_abs_{k}_error" not in s:
            return "-"
        return f"{s[f'median_abs_{k}_error']:.1%}/{s[f'max_abs_{k}_error']:.1%}"

    def wins(s):
        if "wins_vs_blackbox" not in s:
            return "-"
        return f"{s['wins_vs_blackbox']}/{s['wins_vs_blackbox_truth']} of {s['repeats']}"

    cells = [
        [
            s["model"],
            f"{s['noise']:g}",
            errors(s, "k1"),
            errors(s, "k4"),
            f"{s['median_test_r2']:.4f}",
            f"{s['median_test_fit_percent']:.1f}",
            f"{s['median_test_fit_percent_truth']:.1f}",
            wins(s),
            f"{s['median_fit_time']:.2f}",
            f"{s['median_n_iter']:g}",
            f"{s['converged']}/{s['repeats']}",
        ]
        for s in summaries
    ]
    return text_table(COLUMNS, cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--noises", type=float, nargs="+", default=[0.02, 0.05])
    parser.add_argument("--greybox-alphas", type=float, nargs="+", default=[1e-5, 1e-3])
    parser.add_argument("--blackbox-alpha", type=float, default=1e-4)
    parser.add_argument("--n-samples", type=int, default=500)
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--max-iter", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    add_output_options(parser, "greybox_two_tank")
    args = parser.parse_args()
    results = ResultsFile("greybox_two_tank", args)
    names = [f"greybox_alpha_{a:g}" for a in args.greybox_alphas]
    rows = []
    with threadpool_limits(limits=args.threads):
        for noise in args.noises:
            data = dict(n_samples=args.n_samples, noise=noise, return_bunch=True)
            for seed in args.seeds:
                train = two_tank(random_state=seed, **data)
                test = two_tank(random_state=seed + 100, **data)
                models = [(n, greybox(a, args)) for n, a in zip(names, args.greybox_alphas)]
                for name, model in [*models, ("blackbox", blackbox(args))]:
                    rows.append(fit_row(name, model, noise, seed, train, test))
                    results.emit(rows[-1])
        kernels = blas_kernels()
    summaries = []
    for noise in args.noises:
        base = [r for r in rows if r["noise"] == noise and r["model"] == "blackbox"]
        for name in [*names, "blackbox"]:
            cases = [r for r in rows if r["noise"] == noise and r["model"] == name]
            summaries.append(summary(name, noise, cases, None if name == "blackbox" else base))
    lines = [*summaries, {**targets(rows, names[0]), "blas": kernels}]
    results.finish(lines, table(summaries))


if __name__ == "__main__":
    main()
