"""A remedy for a learned ODE that is unstable in free run: a leak with a bounded-below rate.

The case of ``free_run_stability.py`` (issue 18, item 5): the two tanks with the pump
input changing every sample, only the lower level measured with noise ``--noise``, one
latent state. Each model is fitted with every ``alpha`` in ``--alphas`` on the data seeds
``--seeds`` and measured as there (``free_run_stability.evaluate``): free run on a
held-out input sequence from an initial state estimated on its first 10%.

The remedy is known physics (``physics=``): a leak that pulls every state back, plus the
network, ``dx0/dt = -lam0 (x0 - c0) + nn0`` and ``dx1/dt = -lam1 x1 + nn1``. ``c0`` is the
training mean of the level (fixed); the rates are fitted with the lower bound ``lam_min =
rate / T`` for each ``rate`` in ``--leak-rates``, ``T`` the data's time scale ``std(y) /
rms(dy/dt)`` (GCV smoothing spline of the level), which is the estimator's own time unit
``t_scale_`` (both recorded). In the NLP's scaled units the leak is then at least ``-rate``
times each standardized state.

With tanh the network is bounded, ``|nn_i| <= (sum_k |W_ki| + |b_i|) scale_i / t_scale``
(``W``, ``b``: the output layer), so every trajectory of the learned ODE stays within
``max(|x_i(0) - c_i|, bound_i)`` of ``c_i``, with ``bound_i = (sum_k |W_ki| + |b_i|) /
(lam_i t_scale)`` standard deviations of state ``i`` (``bound_sd``, per state). Bounded is
not stable: inside that box the field can still grow locally (``eig_positive``), and free
run can still miss the data (``diverged`` counts test fits below -100%).

Models (``--models``): ``black_box``, no physics (the rows of ``free_run_stability.py``);
``leak``, both states, rates fitted; ``leak_fixed``, both rates fixed at ``lam_min``;
``leak_observed``, the leak on the measured level only, the latent state normalized and
``dx1/dt = nn1``. A latent state that the physics reads has user units:
``latent_start=[0.0]`` gives it the unit 1 and starts it at 0.

    python benchmarks/free_run_remedy.py [--models black_box leak leak_fixed leak_observed]
        [--leak-rates 1.0] [--seeds 0 1 2] [--alphas 1e-6 1e-5 1e-4 1e-3 1e-2]
        [--noise 0.05] [--n-samples 200] [--width 32]
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
from _results import ResultsFile, add_output_options, text_table
from free_run_stability import evaluate, summary
from scipy.interpolate import make_smoothing_spline

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import two_tank

MODELS = ("black_box", "leak", "leak_fixed", "leak_observed")
COLUMNS = ["model", "rate", "alpha", "converged", "disc. error", "eig>0", "test fit %",
           "test fit % (truth)", "diverged", "lam_min", "lam0", "lam1", "bound [sd]"]  # fmt: skip


def leak(x, u, p, nn):
    """A leak on both states plus the network (user units)."""
    return [-p["lam0"] * (x[0] - p["c0"]) + nn[0], -p["lam1"] * x[1] + nn[1]]


def leak_observed(x, u, p, nn):
    """A leak on the measured level only; the latent state's rate is the network's."""
    return [-p["lam0"] * (x[0] - p["c0"]) + nn[0], nn[1]]


def time_scale(t, y) -> float:
    """``std(y) / rms(dy/dt)`` of the GCV smoothing spline of ``y``: the estimator's own
    time unit (its ``t_scale_``)."""
    spline = make_smoothing_spline(t, y[:, 0])
    return float(np.std(y) / np.sqrt(np.mean(spline.derivative()(t) ** 2)))


def physics_options(name: str, train, lam_min: float) -> dict:
    """The estimator's physics parameters of model ``name`` (none for ``black_box``)."""
    c0 = float(np.mean(train.y))
    if name == "black_box":
        return {}
    if name == "leak_observed":
        return dict(physics=leak_observed, physics_params={"lam0": lam_min, "c0": c0},
                    physics_bounds={"lam0": (lam_min, None)}, physics_fixed=["c0"])  # fmt: skip
    fixed = ["c0"] + (["lam0", "lam1"] if name == "leak_fixed" else [])
    return dict(physics=leak, physics_params={"lam0": lam_min, "c0": c0, "lam1": lam_min},
                physics_bounds={"lam0": (lam_min, None), "lam1": (lam_min, None)},
                physics_fixed=fixed, latent_start=[0.0])  # fmt: skip


def leak_measures(model, lam_min: float, scale: float) -> dict:
    """The fitted rates and the bound on each leaked state (standard deviations)."""
    if not hasattr(model, "physics_params_"):
        return {}
    p = model.physics_params_
    lam = np.array([p["lam0"], p.get("lam1", np.nan)])
    size = np.abs(model.coefs_[-1]).sum(axis=0) + np.abs(model.intercepts_[-1])
    bound = size / (lam * model.t_scale_)
    return {
        "lam_min": round(lam_min, 5),
        "lam0": round(float(lam[0]), 5),
        "lam1": None if np.isnan(lam[1]) else round(float(lam[1]), 5),
        "time_scale": round(scale, 4),
        "t_scale": round(float(model.t_scale_), 4),
        "bound_sd": [None if np.isnan(b) else round(float(b), 2) for b in bound],
    }


def fit_row(name: str, rate, alpha: float, seed: int, train, test, args) -> dict:
    """One fit and its measures; ``rate`` is None for the black box."""
    scale = time_scale(train.t, train.y)
    lam_min = None if rate is None else rate / scale
    model = CollocationNeuralODE(n_latent=1, u_interpolation="previous", width=args.width,
                                 alpha=alpha, max_iter=args.max_iter, random_state=0,
                                 **physics_options(name, train, lam_min))  # fmt: skip
    row = evaluate(model, train, test, args.noise)
    leak_rate = {} if rate is None else {"leak_rate": rate}
    return {"model": name, **leak_rate, "alpha": alpha, "data_seed": seed, **row,
            **leak_measures(model, lam_min, scale)}  # fmt: skip


def model_summary(rows: list[dict]) -> dict:
    """``free_run_stability.summary`` of one model, leak rate and ``alpha``."""
    name, alpha, rate = rows[0]["model"], rows[0]["alpha"], rows[0].get("leak_rate")
    line = summary(alpha, rows)
    leak_rate = {} if rate is None else {"leak_rate": rate}
    label = ", ".join([name, *(f"rate={rate:g}" for _ in leak_rate), f"alpha={alpha:g}"])
    line = {"summary": label, "model": name, **leak_rate, **line}
    if "lam0" in rows[0]:
        for key in ("lam_min", "lam0", "lam1"):
            values = [r[key] for r in rows if r[key] is not None]
            line[f"median_{key}"] = float(np.median(values)) if values else None
        bounds = [max(b for b in r["bound_sd"] if b is not None) for r in rows]
        line["median_bound_sd"] = float(np.median(bounds))
    return line


def table(summaries: list[dict]) -> str:
    def median(s, key):
        value = s.get(f"median_{key}")
        return "-" if value is None else f"{value:.3g}"

    cells = [
        [
            s["model"],
            f"{s['leak_rate']:g}" if "leak_rate" in s else "-",
            f"{s['alpha']:g}",
            f"{s['converged']}/{s['repeats']}",
            f"{s['median_discretization_error']:.3g}",
            f"{s['median_eig_positive']:.0%}",
            f"{s['median_test_fit_percent']:.1f}",
            f"{s['median_test_fit_percent_truth']:.1f}",
            f"{s['diverged']}/{s['repeats']}",
            median(s, "lam_min"),
            median(s, "lam0"),
            median(s, "lam1"),
            median(s, "bound_sd"),
        ]
        for s in summaries
    ]
    return text_table(COLUMNS, cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--alphas", type=float, nargs="+", default=[1e-6, 1e-5, 1e-4, 1e-3, 1e-2])
    parser.add_argument("--leak-rates", type=float, nargs="+", default=[1.0],
                        help="lam_min times the data's time scale (default 1.0)")  # fmt: skip
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--n-samples", type=int, default=200)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--max-iter", type=int, default=1000)
    add_output_options(parser, "free_run_remedy")
    args = parser.parse_args()
    # a sweep saved elsewhere (--output .../free_run_remedy_rates.jsonl) is its own section
    name = "free_run_remedy" if args.no_save else args.output.stem
    results = ResultsFile(name, args)
    data = dict(n_samples=args.n_samples, noise=args.noise, hold_range=(1, 1), return_bunch=True)
    sequences = {s: (two_tank(random_state=s, **data), two_tank(random_state=s + 100, **data))
                 for s in args.seeds}  # fmt: skip
    summaries = []
    cases = [(name, rate) for name in args.models
             for rate in ([None] if name == "black_box" else args.leak_rates)]  # fmt: skip
    for (name, rate), alpha in itertools.product(cases, args.alphas):
        rows = []
        for seed, (train, test) in sequences.items():
            rows.append(fit_row(name, rate, alpha, seed, train, test, args))
            results.emit(rows[-1])
        summaries.append(model_summary(rows))
    results.finish(summaries, table(summaries))


if __name__ == "__main__":
    main()
