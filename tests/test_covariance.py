"""``_covariance.physics_covariance``: the covariance of the fitted physical parameters from
the reduced Hessian of the collocation NLP.

Checked against an independent computation (the Gauss-Newton covariance of a
single-shooting least-squares fit with scipy on the same data), by a small Monte-Carlo
(the large one is ``benchmarks/covariance_coverage.py``), and on the failure modes: no
parameter, a parameter at its bound, a parameter the data do not determine.
"""

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import least_squares

from skneuralode import CollocationNeuralODE
from skneuralode._covariance import (
    _band_order,
    _BorderedLU,
    _hessian,
    _jacobian,
    _multipliers,
    _reduced_inverse,
    physics_covariance,
)
from skneuralode._engines.numpy import nlp_class
from skneuralode._init import fit_scaling
from skneuralode._problem import build_problem
from skneuralode._solver import find_solver, solve
from skneuralode._spec import ProblemSpec, ipopt_options
from skneuralode._validation import check_fit_data
from skneuralode.datasets import two_tank
from skneuralode.physics import sqrt

# Collocation (degree 3, an element per interval) against an ODE integrated to 1e-10:
# the two estimates and their standard errors agree to discretization and to the
# second-order (residual) terms the Gauss-Newton matrix leaves out.
GAUSS_NEWTON_AGREEMENT = 0.02
STATIONARY = 1e-8  # largest |grad f + J^T lambda| at a converged fit (tol=1e-10)

LV_TRUE = {"a": 1.0, "b": 0.5, "c": 1.0, "d": 0.3}
LV_START = {"a": 0.8, "b": 0.6, "c": 1.2, "d": 0.25}


def lotka_volterra(x, u, p, nn):
    return [p["a"] * x[0] - p["b"] * x[0] * x[1], p["d"] * x[0] * x[1] - p["c"] * x[1]]


def lv_rhs(t, x, a, b, c, d):
    return [a * x[0] - b * x[0] * x[1], d * x[0] * x[1] - c * x[1]]


def lotka_volterra_plus(x, u, p, nn):
    rates = lotka_volterra(x, u, p, nn)
    return [rates[0] + nn[0], rates[1]]


def lotka_volterra_offset(x, u, p, nn):  # the constant a dead network adds
    rates = lotka_volterra(x, u, p, nn)
    return [rates[0] + p["e"], rates[1]]


def product_only(x, u, p, nn):  # a and b enter as a * b only: not identifiable
    return [-p["a"] * p["b"] * x[0]]


def logistic(x, u, p, nn):
    return [p["r"] * x[0] * (1 - x[0] / p["K"])]


def tanks_outflow(x, u, p, nn):  # the lower tank's outflow is the network's
    return [p["k4"] * u[0] - p["k1"] * sqrt(x[0]), p["k2"] * sqrt(x[0]) + nn[0]]


def decay_offset(x, u, p, nn):  # c and the network's output bias (not penalized) add up
    return [-p["k"] * x[0] + p["c"] + nn[0]]


def lv_data(n=40, noise=0.05, seed=0):
    t = np.linspace(0, 10, n)
    sol = solve_ivp(lv_rhs, (0, 10), [2.0, 1.0], t_eval=t, args=tuple(LV_TRUE.values()),
                    rtol=1e-11, atol=1e-11)  # fmt: skip
    X = sol.y.T + noise * np.random.RandomState(seed).normal(size=sol.y.T.shape)
    return t, X


def fit(t, X, u=None, **params):
    """(NLPData, Scaling, SolveResult) of a converged fit, built as ``fit`` builds it."""
    est_params = CollocationNeuralODE(tol=1e-10, **params).get_params(deep=False)
    spec = ProblemSpec.from_params(est_params)
    t, X, u, groups = check_fit_data(t, X, u, None, "LSODA", None)
    scaling, smoothers = fit_scaling(t, X, u, groups, spec.smoothing, spec.n_latent)
    data = build_problem(t, X, u, groups, scaling, spec, smoothers=smoothers)
    result = solve(data, *find_solver("numpy", "auto"), ipopt_options(est_params))
    assert result.status == "optimal", result.message
    return data, scaling, result


def fitted_params(data, result):
    return data.physics.user_params(data.split_theta(result.theta)[1])


# ----------------------------------------------------------------- the answer


def test_equals_gauss_newton_covariance_of_single_shooting():
    t, X = lv_data()
    data, scaling, result = fit(t, X, physics=lotka_volterra, physics_params=LV_START,
                                degree=3)  # fmt: skip
    cov, info = physics_covariance(data, result.theta, result.states)
    assert info["status"] == "ok" and info["names"] == list(LV_TRUE)
    assert info["stationarity"] < STATIONARY

    # the same weighted least squares by single shooting: parameters and initial state
    def residuals(q):
        sol = solve_ivp(lv_rhs, (0, 10), q[4:], t_eval=t, args=tuple(q[:4]), rtol=1e-10,
                        atol=1e-10)  # fmt: skip
        return ((sol.y.T - X) / scaling.scale).ravel()

    start = np.r_[fitted_params(data, result), X[0]]
    ls = least_squares(residuals, start, x_scale="jac", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    s2 = np.sum(ls.fun**2) / (ls.fun.size - 6)
    reference = s2 * np.linalg.inv(ls.jac.T @ ls.jac)[:4, :4]
    np.testing.assert_allclose(fitted_params(data, result), ls.x[:4], rtol=1e-3)
    assert info["dof"] == pytest.approx(6, abs=0.05)  # 4 parameters + 2 initial states
    assert info["s2"] == pytest.approx(s2, rel=GAUSS_NEWTON_AGREEMENT)
    std, ref_std = np.sqrt(np.diag(cov)), np.sqrt(np.diag(reference))
    np.testing.assert_allclose(std, ref_std, rtol=GAUSS_NEWTON_AGREEMENT)
    np.testing.assert_allclose(info["std"], std)
    corr = cov / np.outer(std, std)
    np.testing.assert_allclose(corr, reference / np.outer(ref_std, ref_std),
                               atol=GAUSS_NEWTON_AGREEMENT)  # fmt: skip
    # the sandwich form, with a variance per state, is close without a penalty
    sandwich = np.sqrt(np.diag(info["cov_sandwich"]))
    np.testing.assert_allclose(sandwich, std, rtol=0.1)


def test_small_monte_carlo_covers_the_true_values():
    """30 noise draws of a logistic growth (15 samples): the 95% intervals cover the true
    parameters in most draws, and the reported standard errors match the spread."""
    true = {"r": 1.0, "K": 2.0}
    t = np.linspace(0, 8, 15)
    x = true["K"] / (1 + (true["K"] / 0.2 - 1) * np.exp(-true["r"] * t))
    estimates, stds = [], []
    for seed in range(30):
        X = (x + 0.03 * np.random.RandomState(seed).normal(size=t.shape))[:, None]
        data, _, result = fit(t, X, physics=logistic, physics_params={"r": 0.7, "K": 1.5})
        cov, info = physics_covariance(data, result.theta, result.states)
        assert info["status"] == "ok"
        estimates.append(fitted_params(data, result))
        stds.append(info["std"])
    estimates, stds = np.array(estimates), np.array(stds)
    covered = np.abs(estimates - list(true.values())) <= 1.96 * stds
    assert covered.mean(axis=0).min() >= 0.8  # 95% nominal; 30 draws
    ratio = stds.mean(axis=0) / estimates.std(axis=0, ddof=1)
    assert np.all((ratio > 0.6) & (ratio < 1.6))


def test_grey_box_with_a_network():
    b = two_tank(150, random_state=0, return_bunch=True)
    X = b.states + 0.02 * np.random.RandomState(1).normal(size=b.states.shape)
    common = dict(width=6, alpha=1e-3, network_inputs=["x[1]"], u_interpolation="previous")
    start = {"k1": 0.25, "k2": 0.15, "k4": 0.25}
    data, _, result = fit(b.t, X, b.u, physics=tanks_outflow, physics_params=start, **common)
    cov, info = physics_covariance(data, result.theta, result.states)
    assert info["status"] == "ok"
    assert np.all(np.isfinite(cov)) and np.all(np.linalg.eigvalsh(cov) > 0)
    # more than the 3 parameters and 2 initial states, fewer than all of the network's
    assert 5 < info["dof"] < 5 + data.n_network_params
    z = (fitted_params(data, result) - 0.2) / info["std"]
    assert np.all(np.abs(z) < 4)


def test_a_network_the_penalty_switched_off_leaves_the_physics_answer():
    """With a large ``alpha`` the network's weights vanish: its output is a constant (its
    output bias), its hidden biases (not penalized) change nothing, so the reduced Hessian
    is singular in them. The shifted solves give the errors of the physics with a
    constant instead of the network."""
    t, X = lv_data()
    data, _, result = fit(t, X, physics=lotka_volterra_plus, physics_params=LV_START,
                          width=4, alpha=10.0)  # fmt: skip
    net = data.split_theta(result.theta)[0]
    assert np.abs(net[data.weight_mask[: len(net)]]).max() < 1e-10
    cov, info = physics_covariance(data, result.theta, result.states)
    assert info["status"] == "ok" and info["network_shift"] > 0
    data, _, result = fit(t, X, physics=lotka_volterra_offset,
                          physics_params={**LV_START, "e": 0.01})  # fmt: skip
    reference, ref_info = physics_covariance(data, result.theta, result.states)
    assert info["dof"] == pytest.approx(ref_info["dof"], abs=0.01)
    np.testing.assert_allclose(cov, reference[:4, :4], rtol=1e-3)


def test_a_parameter_the_network_can_replace_is_reported():
    t = np.linspace(0, 4, 30)
    X = (0.5 + np.exp(-t) + 0.01 * np.random.RandomState(0).normal(size=t.shape))[:, None]
    data, _, result = fit(t, X, physics=decay_offset, physics_params={"k": 0.8, "c": 0.3},
                          width=4, alpha=1e-3)  # fmt: skip
    cov, info = physics_covariance(data, result.theta, result.states)
    assert info["status"] == "singular" and "network can take its part" in info["message"]
    assert np.all(np.isnan(cov))


# ------------------------------------------------------------ failure modes


def test_none_without_fitted_physical_parameters():
    t, X = lv_data(20)
    data, _, result = fit(t, X, width=4)
    assert physics_covariance(data, result.theta, result.states)[0] is None
    data, _, result = fit(t, X, physics=lotka_volterra, physics_params=LV_TRUE,
                          physics_fixed=list(LV_TRUE))  # fmt: skip
    cov, info = physics_covariance(data, result.theta, result.states)
    assert cov is None and info["status"] == "no_parameters"


def test_a_parameter_at_its_bound_has_no_standard_error():  # the true b is 0.5
    t, X = lv_data()
    data, _, result = fit(t, X, physics=lotka_volterra, physics_params=LV_START,
                          physics_bounds={"b": (0.55, 1.0)})  # fmt: skip
    assert fitted_params(data, result)[1] == pytest.approx(0.55, abs=1e-6)
    cov, info = physics_covariance(data, result.theta, result.states)
    assert info["status"] == "at_bound" and info["at_bound"] == ["b"]
    assert "b" in info["message"]
    assert np.all(np.isnan(cov[1])) and np.all(np.isnan(cov[:, 1]))
    others = np.ix_([0, 2, 3], [0, 2, 3])
    assert np.all(np.isfinite(cov[others])) and np.all(np.linalg.eigvalsh(cov[others]) > 0)


def test_a_parameter_the_data_do_not_determine_is_reported():
    t = np.linspace(0, 3, 20)
    X = (np.exp(-0.6 * t) + 0.01 * np.random.RandomState(0).normal(size=t.shape))[:, None]
    data, _, result = fit(t, X, physics=product_only, physics_params={"a": 1.0, "b": 0.5})
    cov, info = physics_covariance(data, result.theta, result.states)
    assert info["status"] == "singular" and np.all(np.isnan(cov))
    assert np.all(np.isnan(info["std"]))


def test_an_indefinite_reduced_hessian_is_reported():
    info = {}
    M = np.diag([2.0, -1.0, 0.5])
    assert _reduced_inverse(M, 3, info) is None
    assert info["status"] == "indefinite" and "1 of 3" in info["message"]
    # the right rank: one zero eigenvalue (a latent normalization) is left out
    info = {}
    inverse = _reduced_inverse(np.diag([2.0, 0.0, 0.5]), 2, info)
    np.testing.assert_allclose(inverse, np.diag([0.5, 0.0, 2.0]))


# ------------------------------------------------------------- the algebra


def test_banded_lu_fills_in_linearly():
    b = two_tank(1000, random_state=0, return_bunch=True)
    X = b.states + 0.02 * np.random.RandomState(1).normal(size=b.states.shape)
    data, _, result = fit(b.t, X, b.u, physics=tanks_outflow, width=4, alpha=1e-3,
                          physics_params={"k1": 0.25, "k2": 0.15, "k4": 0.25},
                          network_inputs=["x[1]"], u_interpolation="previous")  # fmt: skip
    nlp = nlp_class(data)(data)
    w = nlp.join(result.theta, result.states)
    rows, cols = nlp.hessianstructure()
    assert np.all(rows >= cols)  # the lower triangle, as _hessian assumes
    free = np.ones(nlp.n, dtype=bool)
    J = _jacobian(nlp, w)
    order = _band_order(nlp, J, free)
    lam, residual = _multipliers(J, nlp.gradient(w), order)
    assert residual < STATIONARY
    H = _hessian(nlp, w, lam)
    lu = _BorderedLU(H, J, *order).lu
    kkt_nnz = 2 * J.nnz + H.nnz
    border = int(order[1].sum())
    # the band's fill plus a dense border, not a dense factor
    assert lu.L.nnz + lu.U.nnz < 10 * kkt_nnz + 2 * border * (nlp.n + nlp.m)
    rhs = np.random.RandomState(0).normal(size=(nlp.n, 3))
    y = _BorderedLU(H, J, *order).solve(rhs)
    assert np.max(np.abs(J @ y)) < 1e-8 * np.max(np.abs(y))  # in the null space of J
