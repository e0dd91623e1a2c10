"""Input-output identification with latent states: the cascaded two tanks, free-run test.

Data: :func:`skneuralode.datasets.two_tank`. Only the lower tank's level ``h2`` is
measured (Gaussian noise ``--noise``); the upper tank's level ``h1`` is never seen; the
pump signal ``u`` is piecewise constant (held 10 to 40 samples). Training: one sequence of
``--n-samples`` samples (seed ``--train-seed``); test: a sequence of the same length with
another input (seed ``--test-seed``), predicted in free run from the input alone.

Models:

- ``neural_latent_k`` for each ``k`` in ``--latent`` (default 0, 1 and 2):
  ``CollocationNeuralODE(n_latent=k, u_interpolation="previous", width=--width,
  alpha=--alpha, random_state=r)`` fitted ``--repeats`` times, ``r = 0, 1, ...`` (the
  repeats differ in their initial weights). On each sequence the full initial state
  (measured level and ``k`` latent states) comes from ``estimate_initial_state`` on a
  warm-up window (the first ``--warmup`` fraction of its samples, default 10%); the model
  is then simulated with ``predict`` over the whole sequence. ``k=0`` is a first-order
  model ``dh2/dt = f(h2, u)``; the true system needs one latent state.
- ``arx``: the linear baseline ``y[k] = sum_i a_i y[k-i] + sum_j b_j u[k-j] + c`` fitted
  by least squares, its orders ``na, nb`` in ``1..--arx-max-order`` chosen by the
  free-run fit on the training sequence, simulated in free run on the test input. Like
  the neural models, it starts from the initial outputs that best explain the warm-up
  window (least squares; the free run is affine in them). Least squares on noisy outputs biases
  an ARX model (the equation error is not white); ``arx_clean_train``, the same fitted
  to the noise-free training level (which the other models never see), shows the linear
  model's limit without that bias.

Columns: ``fit_percent = 100 (1 - ||y - y_hat|| / ||y - mean(y)||)`` over all test samples
against the measured (noisy) level, ``fit_percent_truth`` the same against the noise-free
level, ``train_fit_percent`` the free-run fit on the training sequence, ``test_r2`` the
estimator's ``score`` on the test sequence, ``fit_time`` (``fit_time_``), ``n_iter`` (IPOPT
iterations), ``converged``; one summary line per model with the medians over the repeats,
then a plain-text table. The aim (issue 10): ``n_latent=1`` reaches a test fit of at least
95% and clearly beats ``n_latent=0``.

    python benchmarks/latent_states.py [--repeats 3] [--n-samples 500] [--noise 0.02]
        [--width 16] [--alpha 1e-4] [--latent 0 1 2] [--warmup 0.1]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import time
import warnings

import numpy as np
from _results import ResultsFile, add_output_options, text_table

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import two_tank

COLUMNS = ["model", "fit % (test)", "min..max", "fit % (truth)", "fit time [s]", "iter", "conv"]


def fit_percent(y, y_hat) -> float:
    """``100 (1 - ||y - y_hat|| / ||y - mean(y)||)``; ``-inf`` if ``y_hat`` is not finite."""
    y, y_hat = np.ravel(y), np.ravel(y_hat)
    if not np.all(np.isfinite(y_hat)):
        return -np.inf
    return float(100.0 * (1.0 - np.linalg.norm(y - y_hat) / np.linalg.norm(y - y.mean())))


# ---------------------------------------------------------------- ARX baseline


def arx_regressors(y, u, na, nb):
    """Rows ``[y[k-1..k-na], u[k-1..k-nb], 1]`` and targets ``y[k]`` for ``k >= max(na, nb)``."""
    start = max(na, nb)
    rows = [np.r_[y[k - na : k][::-1], u[k - nb : k][::-1], 1.0] for k in range(start, len(y))]
    return np.array(rows), y[start:]


def fit_arx(y, u, na, nb):
    """Least-squares ARX parameters ``(a_1..a_na, b_1..b_nb, c)``."""
    A, target = arx_regressors(y, u, na, nb)
    return np.linalg.lstsq(A, target, rcond=None)[0]


def simulate_arx(theta, y_init, u, na, nb):
    """Free run on ``u`` from the initial outputs ``y_init`` (the first ``max(na, nb)``)."""
    start = max(na, nb)
    y_hat = np.empty(len(u))
    y_hat[:start] = y_init
    for k in range(start, len(u)):
        y_hat[k] = np.r_[y_hat[k - na : k][::-1], u[k - nb : k][::-1], 1.0] @ theta
    return y_hat


def free_run_arx(theta, y, u, na, nb, n_warmup):
    """Free run on ``u`` from the initial outputs that best explain ``y[:n_warmup]``.

    The ARX analogue of ``estimate_initial_state``: the simulation is affine in the
    ``max(na, nb)`` initial outputs, which are fitted by least squares to the warm-up
    window (starting from the noisy first samples themselves excites spurious modes).
    """
    start = max(na, nb)
    n = max(n_warmup, start)
    base = simulate_arx(theta, np.zeros(start), u[:n], na, nb)
    columns = [simulate_arx(theta, unit, u[:n], na, nb) - base for unit in np.eye(start)]
    y_init = np.linalg.lstsq(np.column_stack(columns), y[:n] - base, rcond=None)[0]
    return simulate_arx(theta, y_init, u, na, nb)


def arx_row(train, test, args, name="arx", clean=False):
    start = time.perf_counter()
    y, u = (train.y_true if clean else train.y)[:, 0], train.u[:, 0]
    best = None
    for na, nb in itertools.product(range(1, args.arx_max_order + 1), repeat=2):
        theta = fit_arx(y, u, na, nb)
        y_hat = free_run_arx(theta, y, u, na, nb, n_warmup(len(y), args.warmup))
        score = fit_percent(y, y_hat)
        if best is None or score > best[0]:
            best = (score, na, nb, theta)
    train_fit, na, nb, theta = best
    elapsed = time.perf_counter() - start
    y_test, u_test = test.y[:, 0], test.u[:, 0]
    y_hat = free_run_arx(theta, y_test, u_test, na, nb, n_warmup(len(y_test), args.warmup))
    return {
        "model": name,
        "orders": [na, nb],
        "fit_percent": round(fit_percent(test.y, y_hat), 2),
        "fit_percent_truth": round(fit_percent(test.y_true, y_hat), 2),
        "train_fit_percent": round(train_fit, 2),
        "fit_time": round(elapsed, 3),
    }


def n_warmup(n_samples, fraction):
    return max(2, int(round(fraction * n_samples)))


# ---------------------------------------------------------------- neural ODEs


def free_run(model, data, warmup):
    """Initial state from the warm-up window, then ``predict`` over the whole sequence."""
    n = n_warmup(len(data.t), warmup)
    x0 = model.estimate_initial_state(data.t[:n], data.y[:n], u=data.u[:n])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.predict(data.t, x0, u=data.u)


def neural_row(n_latent, seed, train, test, args):
    model = CollocationNeuralODE(
        n_latent=n_latent,
        u_interpolation="previous",
        width=args.width,
        alpha=args.alpha,
        max_iter=args.max_iter,
        random_state=seed,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(train.t, train.y, u=train.u)
        y_hat = free_run(model, test, args.warmup)
        y_train = free_run(model, train, args.warmup)
        r2 = model.score(test.t, test.y, u=test.u)
    return {
        "model": f"neural_latent_{n_latent}",
        "random_state": seed,
        "fit_percent": round(fit_percent(test.y, y_hat), 2),
        "fit_percent_truth": round(fit_percent(test.y_true, y_hat), 2),
        "train_fit_percent": round(fit_percent(train.y, y_train), 2),
        "test_r2": round(r2, 4),
        "fit_time": round(model.fit_time_, 2),
        "n_iter": model.n_iter_,
        "converged": bool(model.converged_),
        "status": model.solver_status_,
        "train_mse_collocation": round(model.train_mse_, 6),
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught}),
    }


def summary(name, rows):
    fits = [r["fit_percent"] for r in rows]
    return {
        "summary": name,
        "repeats": len(rows),
        "median_fit_percent": round(statistics.median(fits), 2),
        "min_fit_percent": min(fits),
        "max_fit_percent": max(fits),
        "median_fit_percent_truth": round(
            statistics.median(r["fit_percent_truth"] for r in rows), 2
        ),
        "median_fit_time": round(statistics.median(r["fit_time"] for r in rows), 2),
        "median_n_iter": (
            statistics.median(r["n_iter"] for r in rows) if "n_iter" in rows[0] else None
        ),
        "converged": sum(r["converged"] for r in rows) if "converged" in rows[0] else None,
    }


def table(summaries) -> str:
    cells = [
        [
            s["summary"],
            f"{s['median_fit_percent']:.1f}",
            f"{s['min_fit_percent']:.1f}..{s['max_fit_percent']:.1f}",
            f"{s['median_fit_percent_truth']:.1f}",
            f"{s['median_fit_time']:.2f}",
            "-" if s["median_n_iter"] is None else f"{s['median_n_iter']:g}",
            "-" if s["converged"] is None else f"{s['converged']}/{s['repeats']}",
        ]
        for s in summaries
    ]
    return text_table(COLUMNS, cells)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="fits per neural model")
    parser.add_argument("--n-samples", type=int, default=500, help="per sequence")
    parser.add_argument("--noise", type=float, default=0.02, help="std of the level noise")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--alpha", type=float, default=1e-4)
    parser.add_argument("--max-iter", type=int, default=3000)
    parser.add_argument("--latent", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of a sequence")
    parser.add_argument("--train-seed", type=int, default=0)
    parser.add_argument("--test-seed", type=int, default=1)
    parser.add_argument("--arx-max-order", type=int, default=4)
    add_output_options(parser, "latent_states")
    args = parser.parse_args()
    results = ResultsFile("latent_states", args)
    data = dict(n_samples=args.n_samples, noise=args.noise, return_bunch=True)
    train = two_tank(random_state=args.train_seed, **data)
    test = two_tank(random_state=args.test_seed, **data)
    summaries = []
    for n_latent in args.latent:
        rows = []
        for seed in range(args.repeats):
            rows.append(neural_row(n_latent, seed, train, test, args))
            results.emit(rows[-1])
        summaries.append(summary(rows[0]["model"], rows))
    for name, clean in (("arx", False), ("arx_clean_train", True)):
        arx = arx_row(train, test, args, name, clean)
        results.emit(arx)
        summaries.append(summary(name, [arx]))
    results.finish(summaries, table(summaries))


if __name__ == "__main__":
    main()
