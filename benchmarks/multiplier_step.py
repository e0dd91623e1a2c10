"""IPOPT's step for the constraint multipliers (``alpha_for_y``): iterations, time, minimum
and test accuracy of each rule, on varied cases, measured in one run.

IPOPT's default (``"primal"``) moves the multipliers by the primal step length, so after a
shortened line-search step they lag behind; ``"min-dual-infeas"`` picks the multiplier
step that minimizes the dual infeasibility along the search direction (a scalar least
squares, no extra evaluation). The training NLP has equality constraints only, so the
multipliers of the collocation equations drive the whole Hessian.

Cases (each fitted with every rule in ``--rules`` for each seed in ``--seeds``, rules
interleaved so machine noise hits all alike; the seed sets the network start and, where
a case has noise, the noise draw ``seed`` too):

- ``paper_<scheme>``: forced Van der Pol, 200 Chebyshev samples on [0, 15], noise 0.1,
  width 32, alpha 1e-3, schemes radau, chebyshev, legendre; test: free run on (15, 30]
  against the noise-free oscillator (MSE).
- ``paper_depth2``, ``paper_softplus``: the same (radau) with two hidden layers of 16,
  and with softplus units.
- ``unforced``: Van der Pol from (2, 0), 200 uniform samples on [0, 10], noise 0.05,
  alpha 1e-5; test: R² (``score``) from another start on [0, 20].
- ``trajectories``: 1 000 samples (5 trajectories x 200 on [0, 20], noise 0.05,
  alpha 1e-4, width 32); test: MSE on 3 unseen trajectories.
- ``vdp_x1_latent``: Van der Pol, only x1 measured, ``n_latent=1``, 300 samples on
  [0, 15], noise 0.02, width 16, alpha 1e-4; test: R² from another start.
- ``tanks_latent``: two tanks, only h2 measured, held pump input, ``n_latent=1``,
  500 samples, noise 0.02, width 16, alpha 1e-4; test: R² on another input sequence.

Columns: ``n_iter``, ``fit_time``, ``status``, ``objective``, ``test`` (MSE: lower is
better; R²: higher is better; ``test_kind`` says which). One summary line per case and
rule: median iterations and time, number converged, and the median ratio of the default
rule's time to each rule's (above 1: faster than IPOPT's default).

    python benchmarks/multiplier_step.py [--seeds 0 1 2]
        [--rules primal min-dual-infeas] [--cases paper_radau tanks_latent ...]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
from _results import ResultsFile, add_output_options

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import two_tank, van_der_pol

FORCED = dict(x0=(0.0, 1.0), forcing_amplitude=1.0, forcing_frequency=1.0)


def _paper(seed, **params):
    b = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=seed, return_bunch=True, **FORCED
    )
    truth = van_der_pol(t=np.linspace(0, 30, 601), return_bunch=True, **FORCED)
    test = truth.t > 15.0

    def evaluate(est):
        pred = est.predict(truth.t, truth.X_true[0])
        return "mse", float(np.mean((pred[test] - truth.X_true[test]) ** 2))

    return (b.t, b.X), {"width": 32, "alpha": 1e-3, **params}, evaluate


def _unforced(seed):
    t, X = van_der_pol(200, (0, 10), x0=(2.0, 0.0), noise=0.05, random_state=seed)
    tt, XX = van_der_pol(401, (0, 20), x0=(-1.0, 1.5))
    return (t, X), dict(width=32, alpha=1e-5), lambda est: ("r2", est.score(tt, XX))


def _trajectories(seed):
    rng = np.random.RandomState(seed)
    parts = [
        van_der_pol(200, (0, 20), x0=tuple(x0), noise=0.05, random_state=100 * seed + k)
        for k, x0 in enumerate(rng.uniform(-2.5, 2.5, size=(5, 2)))
    ]
    t = np.concatenate([p[0] for p in parts])
    X = np.vstack([p[1] for p in parts])
    ids = np.repeat(np.arange(5), 200)
    tests = [van_der_pol(401, (0, 20), x0=tuple(x0)) for x0 in rng.uniform(-2.5, 2.5, (3, 2))]

    def evaluate(est):
        return "mse", float(np.mean([np.mean((est.predict(a, b[0]) - b) ** 2) for a, b in tests]))

    return (t, X), dict(width=32, alpha=1e-4, trajectory=ids), evaluate


def _vdp_x1_latent(seed):
    t, X = van_der_pol(300, (0, 15), x0=(2.0, 0.0), noise=0.02, random_state=seed)
    tt, XX = van_der_pol(300, (0, 15), x0=(-1.0, 1.5), noise=0.02, random_state=seed + 1)
    return (
        (t, X[:, :1]),
        dict(width=16, alpha=1e-4, n_latent=1),
        lambda est: ("r2", est.score(tt, XX[:, :1])),
    )


def _tanks_latent(seed):
    tr = two_tank(500, noise=0.02, random_state=seed, return_bunch=True)
    te = two_tank(500, noise=0.02, random_state=seed + 1000, return_bunch=True)
    return (
        (tr.t, tr.y, tr.u),
        dict(width=16, alpha=1e-4, n_latent=1, u_interpolation="previous"),
        lambda est: ("r2", est.score(te.t, te.y, te.u)),
    )


CASES = {
    "paper_radau": lambda s: _paper(s, scheme="radau"),
    "paper_chebyshev": lambda s: _paper(s, scheme="chebyshev"),
    "paper_legendre": lambda s: _paper(s, scheme="legendre"),
    "paper_depth2": lambda s: _paper(s, scheme="radau", depth=2, width=16),
    "paper_softplus": lambda s: _paper(s, scheme="radau", activation="softplus"),
    "unforced": _unforced,
    "trajectories": _trajectories,
    "vdp_x1_latent": _vdp_x1_latent,
    "tanks_latent": _tanks_latent,
}


def fit_one(data, params, rule, seed):
    params = dict(params)
    trajectory = params.pop("trajectory", None)
    est = CollocationNeuralODE(
        random_state=seed, max_iter=1000, solver_options={"alpha_for_y": rule}, **params
    )
    fit_kw = {} if trajectory is None else {"trajectory": trajectory}
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(data) == 3:
            est.fit(data[0], data[1], u=data[2], **fit_kw)
        else:
            est.fit(data[0], data[1], **fit_kw)
    return est, time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rules", nargs="+", default=["primal", "min-dual-infeas"])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    add_output_options(parser, "multiplier_step")
    args = parser.parse_args()
    results = ResultsFile("multiplier_step", args)
    for name in args.cases:
        rows = {rule: [] for rule in args.rules}
        for seed in args.seeds:
            data, params, evaluate = CASES[name](seed)
            for rule in args.rules:
                est, wall = fit_one(data, params, rule, seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    try:
                        kind, test = evaluate(est)
                    except Exception as exc:  # a diverging free run is a result, not a crash
                        kind, test = "error", repr(exc)[:80]
                row = {
                    "case": name,
                    "rule": rule,
                    "seed": seed,
                    "n_iter": est.n_iter_,
                    "fit_time": round(wall, 2),
                    "status": est.solver_status_,
                    "converged": bool(est.converged_),
                    "objective": float(f"{est.objective_:.8g}"),
                    "test_kind": kind,
                    "test": round(test, 5) if isinstance(test, float) else test,
                }
                rows[rule].append(row)
                results.emit(row)
        base = rows[args.rules[0]]
        for rule in args.rules:
            mine = rows[rule]
            tests = [r["test"] for r in mine if isinstance(r["test"], float)]
            results.emit(
                {
                    "summary": name,
                    "rule": rule,
                    "median_iter": statistics.median(r["n_iter"] for r in mine),
                    "median_time": round(statistics.median(r["fit_time"] for r in mine), 2),
                    "converged": f"{sum(r['converged'] for r in mine)}/{len(mine)}",
                    "median_test": round(statistics.median(tests), 5) if tests else None,
                    "median_objective_ratio_to_default": round(
                        statistics.median(
                            r["objective"] / b["objective"] for r, b in zip(mine, base)
                        ),
                        4,
                    ),
                    "median_speedup_over_default": round(
                        statistics.median(
                            b["fit_time"] / r["fit_time"] for r, b in zip(mine, base)
                        ),
                        2,
                    ),
                }
            )
    results.save()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
