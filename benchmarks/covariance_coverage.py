"""Do the standard errors of the physical parameters hold? A Monte-Carlo of the reduced-
Hessian covariance (``_covariance.physics_covariance``) on synthetic grey-box fits.

Each case is fitted to ``--draws`` noise draws of the same noise-free data; each fit's
95% intervals ``estimate +- 1.96 std`` either cover the true parameter or not. Per case
and parameter: the empirical coverage of the Hessian form (parmest's ``2 s^2 H^{-1}``)
and of the sandwich form (``info["cov_sandwich"]``, a noise level per state), the ratio
of the mean reported standard error to the empirical standard deviation of the
estimates, and the bias in units of that deviation. Per case: the median effective
degrees of freedom, the median fit and covariance times, and the draws where a fit did
not converge or the covariance failed (left out of the figures). The networks start
from one seed (``random_state=0``); ``network_shifted`` counts the covariances whose
network had flat directions (dead units, see ``_covariance``).

``lotka_volterra``: physics only, both populations measured, 40 samples on [0, 10],
noise 0.05 (a, b, c, d; the scaled noise differs between the states).
``tanks``: :func:`skneuralode.datasets.two_tank`, both levels measured, 200 samples,
noise 0.02 on each level (k1, k2, k3, k4; physics only).
``tanks_greybox``: the same data, the lower tank's outflow is a network of its level
(width 6, alpha 1e-3, ``network_inputs=["x[1]"]``); k1, k2, k4 are fitted.

The timing rows fit the two tank models once at growing sample counts and time the
covariance against the fit.

    python benchmarks/covariance_coverage.py [--case lotka_volterra tanks tanks_greybox]
        [--draws 200] [--sizes 200 1000 4000]
"""

import argparse
import time

import numpy as np
from _results import ResultsFile, add_output_options
from scipy.integrate import solve_ivp

from skneuralode import CollocationNeuralODE
from skneuralode._covariance import physics_covariance
from skneuralode._init import fit_scaling
from skneuralode._problem import build_problem
from skneuralode._solver import find_solver, solve
from skneuralode._spec import ProblemSpec, ipopt_options
from skneuralode._validation import check_fit_data
from skneuralode.datasets import two_tank
from skneuralode.physics import sqrt

Z95 = 1.959963984540054


def lotka_volterra(x, u, p, nn):
    return [p["a"] * x[0] - p["b"] * x[0] * x[1], p["d"] * x[0] * x[1] - p["c"] * x[1]]


def tanks(x, u, p, nn):
    return [p["k4"] * u[0] - p["k1"] * sqrt(x[0]), p["k2"] * sqrt(x[0]) - p["k3"] * sqrt(x[1])]


def tanks_outflow(x, u, p, nn):
    return [p["k4"] * u[0] - p["k1"] * sqrt(x[0]), p["k2"] * sqrt(x[0]) + nn[0]]


def lv_truth():
    true = {"a": 1.0, "b": 0.5, "c": 1.0, "d": 0.3}
    t = np.linspace(0, 10, 40)
    sol = solve_ivp(lambda _, x: lotka_volterra(x, None, true, None), (0, 10), [2.0, 1.0],
                    t_eval=t, rtol=1e-11, atol=1e-11)  # fmt: skip
    params = dict(physics=lotka_volterra, physics_params={"a": 0.8, "b": 0.6, "c": 1.2, "d": 0.25})
    return true, (t, sol.y.T, None), 0.05, params


def tanks_truth(n_samples=200, network=False):
    b = two_tank(n_samples, random_state=0, return_bunch=True)
    start = {"k1": 0.25, "k2": 0.15, "k3": 0.2, "k4": 0.25}
    true = {"k1": 0.2, "k2": 0.2, "k3": 0.15, "k4": 0.2}
    params = dict(physics=tanks, u_interpolation="previous")
    if network:
        del start["k3"], true["k3"]
        params.update(physics=tanks_outflow, width=6, alpha=1e-3, network_inputs=["x[1]"],
                      random_state=0)  # fmt: skip
    return true, (b.t, b.states, b.u), 0.02, {**params, "physics_params": start}


CASES = {
    "lotka_volterra": lv_truth,
    "tanks": tanks_truth,
    "tanks_greybox": lambda: tanks_truth(network=True),
}


def fit_and_covariance(t, X, u, params):
    """(estimate, info, fit seconds, status) of one fit, built and solved as ``fit`` does."""
    est_params = CollocationNeuralODE(tol=1e-10, **params).get_params(deep=False)
    spec = ProblemSpec.from_params(est_params)
    t, X, u, groups = check_fit_data(t, X, u, None, "LSODA", None)
    scaling, smoothers = fit_scaling(t, X, u, groups, spec.smoothing, spec.n_latent)
    data = build_problem(t, X, u, groups, scaling, spec, smoothers=smoothers)
    clock = time.perf_counter()
    result = solve(data, *find_solver("numpy", "auto"), ipopt_options(est_params))
    fit_time = time.perf_counter() - clock
    estimate = data.physics.user_params(data.split_theta(result.theta)[1])[data.physics.free]
    _, info = physics_covariance(data, result.theta, result.states)
    return estimate, info, fit_time, result.status


def coverage(case: str, draws: int) -> list[dict]:
    true, (t, clean, u), noise, params = CASES[case]()
    truth = np.array(list(true.values()))
    est, std, sandwich, dofs, fit_times, cov_times = [], [], [], [], [], []
    failed, shifted = {"fit": 0, "covariance": 0}, 0
    for draw in range(draws):
        X = clean + noise * np.random.RandomState(1000 + draw).normal(size=clean.shape)
        estimate, info, fit_time, status = fit_and_covariance(t, X, u, params)
        if status != "optimal" or info["status"] != "ok":
            failed["fit" if status != "optimal" else "covariance"] += 1
            continue
        shifted += "network_shift" in info
        est.append(estimate)
        std.append(info["std"])
        sandwich.append(np.sqrt(np.diag(info["cov_sandwich"])))
        dofs.append(info["dof"])
        fit_times.append(fit_time)
        cov_times.append(info["time"])
    est, std, sandwich = np.array(est), np.array(std), np.array(sandwich)
    spread = est.std(axis=0, ddof=1)
    rows = []
    for k, name in enumerate(true):
        rows.append({
            "case": case,
            "parameter": name,
            "true": float(truth[k]),
            "coverage": round(float(np.mean(np.abs(est[:, k] - truth[k]) <= Z95 * std[:, k])), 3),
            "coverage_sandwich": round(
                float(np.mean(np.abs(est[:, k] - truth[k]) <= Z95 * sandwich[:, k])), 3),
            "std_ratio": round(float(std[:, k].mean() / spread[k]), 3),
            "std_ratio_sandwich": round(float(sandwich[:, k].mean() / spread[k]), 3),
            "bias_in_std": round(float((est[:, k].mean() - truth[k]) / spread[k]), 3),
            "empirical_std": float(f"{spread[k]:.4g}"),
        })  # fmt: skip
    rows.append({
        "case": case,
        "summary": True,
        "draws": draws,
        "failed_fits": failed["fit"],
        "failed_covariances": failed["covariance"],
        "network_shifted": shifted,
        "median_dof": round(float(np.median(dofs)), 2),
        "median_fit_time": round(float(np.median(fit_times)), 4),
        "median_covariance_time": round(float(np.median(cov_times)), 4),
    })  # fmt: skip
    return rows


def timing(n_samples: int, network: bool) -> dict:
    true, (t, clean, u), noise, params = tanks_truth(n_samples, network)
    X = clean + noise * np.random.RandomState(0).normal(size=clean.shape)
    _, info, fit_time, status = fit_and_covariance(t, X, u, params)
    return {
        "case": "tanks_greybox" if network else "tanks",
        "timing": True,
        "n_samples": n_samples,
        "status": status,
        "covariance_status": info["status"],
        "fit_time": round(fit_time, 3),
        "covariance_time": round(info["time"], 3),
        "dof": round(float(info["dof"]), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--sizes", nargs="*", type=int, default=[200, 1000, 4000])
    add_output_options(parser, "covariance_coverage")
    args = parser.parse_args()
    results = ResultsFile("covariance_coverage", args)
    for case in args.case:
        for row in coverage(case, args.draws):
            results.emit(row)
    for network in (False, True):
        for n in args.sizes:
            results.emit(timing(n, network))
    results.save()


if __name__ == "__main__":
    main()
