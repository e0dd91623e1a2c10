"""Grey-box models (known physics + network): exact derivatives, both engines, fitted
parameters, the estimator's API (predict, score, pickling, warm start, export, ADMM) and
the errors for bad definitions."""

import pickle
import warnings

import numpy as np
import pytest
from _nlp_checks import check_against_pynumero, coo, lagrangian_hessian, relative_error
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode._engines.numpy import GreyBoxNLP, nlp_class
from skneuralode._init import fit_scaling
from skneuralode._problem import build_problem, constraint_residuals, objective
from skneuralode._spec import ProblemSpec
from skneuralode._validation import check_fit_data
from skneuralode.datasets import two_tank
from skneuralode.physics import exp, sqrt, tanh

EPS = 1e-6
FD_AGREEMENT = 1e-6  # central differences with EPS on O(1)-O(100) values


# ------------------------------------------------------------- physics functions
# module level, so that a model keeping them pickles (by reference)
def tanks(x, u, p, nn):
    """Upper tank by Torricelli's law, the lower tank's outflow learned (both measured)."""
    h1, h2 = x
    return [p["k4"] * u[0] - p["k1"] * sqrt(h1), p["k2"] * sqrt(h1) + nn[0]]


def tanks_latent(x, u, p, nn):
    """Only the lower tank is measured; the upper one is a latent state in user units."""
    h2, h1 = x
    return [p["k2"] * sqrt(h1) + nn[0], p["k4"] * u[0] - p["k1"] * sqrt(h1)]


def tanks_physics(x, u, p, nn):
    """The whole two-tank model, no network."""
    h1, h2 = x
    return [p["k4"] * u[0] - p["k1"] * sqrt(h1), p["k2"] * sqrt(h1) - p["k3"] * sqrt(h2)]


def coupled(x, u, p, nn):
    """Not additive: network outputs times states and parameters, exp and tanh of them."""
    return [
        x[1] * nn[1] + p["a"] * u[0],
        -p["w"] * x[0] + p["c"] * x[1] * nn[0] + 0.1 * exp(nn[1]) * p["a"] + tanh(nn[0] * x[0]),
    ]


def coupled_latent(x, u, p, nn):
    """Three states, the last latent and free (normalized): its rate is the network's."""
    return [
        x[1] * nn[1] + p["a"] * u[0] * x[2],
        -p["w"] * x[0] + p["c"] * x[1] * nn[0] + 0.1 * exp(nn[1]) * p["a"],
        nn[2],
    ]


def free_latent(x, u, p, nn):
    """A latent state the physics does not read (it stays normalized)."""
    return [p["a"] * x[1] + nn[0], nn[1] + u[0], nn[2]]


def _data(n=25, seed=0):
    t = np.linspace(0.0, 5.0, n)
    X = np.column_stack([1.5 + np.sin(t), 1.2 + 0.5 * np.cos(t)])
    U = np.sin(2 * t)[:, None]
    return t, X, U


CASES = {
    "additive": (tanks, {"k1": 0.5, "k2": 0.4, "k4": 0.3},
                 {"physics_fixed": ["k2"], "physics_alpha": 0.01}),
    "coupled": (coupled, {"a": 1.0, "w": 2.0, "c": -0.5}, {"depth": 2}),
    "physics_only": (tanks_physics, {"k1": 0.5, "k2": 0.4, "k3": 0.3, "k4": 0.3}, {}),
    "latent": (coupled_latent, {"a": 1.0, "w": 2.0, "c": -0.5},
               {"n_latent": 1, "physics_fixed": ["w"], "scheme": "legendre"}),
    "inputs": (coupled, {"a": 1.0, "w": 2.0, "c": -0.5},
               {"network_inputs": ["x[1]", "u[0]"], "activation": "softplus"}),
    "state_bounds": (tanks, {"k1": 0.5, "k2": 0.4, "k4": 0.3},
                     {"state_bounds": {"x[0]": (0.6, None), "x[1]": (-5.0, 5.0)},
                      "state_bound": 3.0}),
    "physical_latent": (coupled_latent, {"a": 1.0, "w": 2.0, "c": -0.5},
                        {"n_latent": 1, "latent_start": [1.5]}),
    "latent_inputs": (coupled_latent, {"a": 1.0, "w": 2.0, "c": -0.5},
                      {"n_latent": 1, "network_inputs": ["x[0]", "x[2]"]}),
}  # fmt: skip


def _problem(case, proximal=False, seed=0):
    func, params, extra = CASES[case]
    spec = ProblemSpec(width=5, physics=func, physics_params=params, **extra)
    t, X, U = _data()
    t, X, U, groups = check_fit_data(t, X, U, None, "LSODA", None)
    start = None if spec.latent_start is None else np.asarray(spec.latent_start, float)
    scaling, smoothers = fit_scaling(t, X, U, groups, "auto", spec.n_latent, start)
    data = build_problem(t, X, U, groups, scaling, spec, smoothers=smoothers)
    assert (data.physical_latent is not None) == (start is not None)
    rng = np.random.default_rng(seed)
    rho, center = (0.3, rng.normal(size=len(data.theta0))) if proximal else (0.0, None)
    nlp = nlp_class(data)(data, rho, center)
    w = nlp.join(data.theta0, data.states0) + 0.05 * rng.normal(size=nlp.n)
    lam = rng.normal(size=nlp.m)
    return data, nlp, w, lam, rho, center


# -------------------------------------------------------- derivatives, no IPOPT
@pytest.mark.parametrize("case", sorted(CASES))
def test_derivatives_match_finite_differences(case):
    data, nlp, w, lam, _, _ = _problem(case, proximal=case == "additive")
    assert isinstance(nlp, GreyBoxNLP)
    rows, cols = nlp.hessianstructure()
    assert np.all(rows >= cols)
    jac = coo((nlp.m, nlp.n), nlp.jacobianstructure(), nlp.jacobian(w))
    H = lagrangian_hessian(nlp, w, lam, 0.6)

    def lagrangian_gradient(x):
        J = coo((nlp.m, nlp.n), nlp.jacobianstructure(), nlp.jacobian(x))
        return 0.6 * nlp.gradient(x) + J.T @ lam

    eye = np.eye(nlp.n)
    fd_jac = np.column_stack(
        [(nlp.constraints(w + EPS * e) - nlp.constraints(w - EPS * e)) / (2 * EPS) for e in eye]
    )
    assert relative_error(jac, fd_jac) < FD_AGREEMENT
    fd_hess = np.column_stack(
        [(lagrangian_gradient(w + EPS * e) - lagrangian_gradient(w - EPS * e)) / (2 * EPS)
         for e in eye]
    )  # fmt: skip
    assert relative_error(H, fd_hess) < FD_AGREEMENT
    fd_grad = np.array(
        [(nlp.objective(w + EPS * e) - nlp.objective(w - EPS * e)) / (2 * EPS) for e in eye]
    )
    assert relative_error(nlp.gradient(w), fd_grad) < FD_AGREEMENT


@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_equals_the_problem_module(case):
    data, nlp, w, *_ = _problem(case)
    states, theta = nlp.split(w)
    colloc, cont = constraint_residuals(data, theta, states)
    c = nlp.constraints(w)
    np.testing.assert_array_equal(c[: colloc.size], colloc.ravel())
    np.testing.assert_array_equal(c[colloc.size : colloc.size + cont.size], cont.ravel())
    assert nlp.objective(w) == pytest.approx(objective(data, theta, states), rel=1e-14)


def test_physics_none_keeps_todays_nlp():
    """Without physics the engine is the black-box NumpyNLP and theta the network alone."""
    t, X, U = _data()
    t, X, U, groups = check_fit_data(t, X, U, None, "LSODA", None)
    scaling, smoothers = fit_scaling(t, X, U, groups, "auto", 0)
    data = build_problem(t, X, U, groups, scaling, ProblemSpec(width=5), smoothers=smoothers)
    assert data.physics is None and type(nlp_class(data)(data)).__name__ == "NumpyNLP"
    assert len(data.theta0) == data.n_network_params == len(data.weight_mask)


# ------------------------------------------------------------ against PyNumero
def _pynumero_available():
    try:
        from pyomo.contrib.pynumero.asl import AmplInterface
    except ImportError:
        return False
    return AmplInterface.available()


@pytest.mark.skipif(not _pynumero_available(), reason="needs PyNumero's ASL library")
@pytest.mark.parametrize("case", sorted(CASES))
def test_engine_equals_pynumero(case):
    data, nlp, w, lam, rho, center = _problem(case, proximal=True)
    data.proximal = True
    check_against_pynumero(data, nlp, w, lam, rho, center)


# ------------------------------------------------------------------- fitting
def _tank_data(n=150, seed=0, noise=0.0):
    b = two_tank(n_samples=n, random_state=seed, return_bunch=True)
    rng = np.random.default_rng(seed)
    return b.t, b.states + noise * rng.normal(size=b.states.shape), b.u, b


def test_physics_only_recovers_known_parameters():
    """Classic dynamic parameter estimation: noise-free data, the true parameters to 1e-4."""
    t, X, u, _ = _tank_data()
    model = CollocationNeuralODE(
        physics=tanks_physics,
        physics_params={"k1": 0.1, "k2": 0.1, "k3": 0.1, "k4": 0.1},
        physics_bounds={k: (0, None) for k in ("k1", "k2", "k3", "k4")},
        u_interpolation="previous",
        degree=5,
    ).fit(t, X, u)
    assert model.converged_ and model.coefs_ == []
    for name, true in {"k1": 0.2, "k2": 0.2, "k3": 0.15, "k4": 0.2}.items():
        assert model.physics_params_[name] == pytest.approx(true, rel=1e-4)


def _grey_model(**kw):
    params = dict(
        physics=tanks_latent,
        physics_params={"k1": 0.1, "k2": 0.2, "k4": 0.1},
        physics_fixed=["k2"],
        physics_bounds={"k1": (0, None), "k4": (0, None)},
        n_latent=1,
        latent_start=[3.0],
        network_inputs=["x[0]"],
        alpha=1e-5,
        width=8,
        u_interpolation="previous",
        random_state=0,
    )
    params.update(kw)
    return CollocationNeuralODE(**params)


@pytest.fixture(scope="module")
def grey_fit():
    t, y, u = two_tank(n_samples=300, noise=0.02, random_state=0)
    return _grey_model().fit(t, y, u), (t, y, u)


def test_grey_box_two_tanks_recovers_k1_k4_and_beats_the_black_box(grey_fit):
    model, (t, y, u) = grey_fit
    assert model.converged_
    assert model.physics_params_["k2"] == 0.2  # fixed
    assert model.physics_params_["k1"] == pytest.approx(0.2, rel=0.05)
    assert model.physics_params_["k4"] == pytest.approx(0.2, rel=0.05)
    # standard errors from the reduced Hessian: the truth within 4 of them, k2 (fixed) none
    info = model.physics_covariance_info_
    assert info["status"] == "ok" and info["names"] == ["k1", "k4"]
    assert model.physics_covariance_.shape == (2, 2)
    for name in ("k1", "k4"):
        std = model.physics_std_[name]
        assert 0 < std < 0.02 and abs(model.physics_params_[name] - 0.2) < 4 * std
    tt, yt, ut = two_tank(n_samples=300, noise=0.0, random_state=1)
    black = CollocationNeuralODE(n_latent=1, width=8, u_interpolation="previous",
                                 random_state=0).fit(t, y, u)  # fmt: skip
    assert model.score(tt, yt, ut) > max(black.score(tt, yt, ut), 0.99)


def test_fitted_model_predicts_pickles_and_exports(grey_fit):
    import pyomo.environ as pyo
    from pyomo.dae import ContinuousSet

    model, (t, y, u) = grey_fit
    x0 = model.initial_states_[0]
    pred = model.predict(t, x0, u)
    assert np.sqrt(np.mean((pred - y) ** 2)) < 0.05
    clone_ = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone_.predict(t, x0, u), pred)
    assert clone_.physics_params_ == model.physics_params_
    # the field, its Jacobian and the exported block agree
    field = model.vector_field()
    x, uu = np.array([[3.0, 2.0]]), np.array([[1.5]])
    J_fd = np.column_stack(
        [(field(x + EPS * e, uu) - field(x - EPS * e, uu))[0] / (2 * EPS) for e in np.eye(2)]
    )
    np.testing.assert_allclose(field.jacobian(x[0], uu[0]), J_fd, rtol=1e-6, atol=1e-9)
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0, 1))
    m.plant = model.to_pyomo(m.t)
    first = m.t.first()
    m.plant.x[first, 0], m.plant.x[first, 1], m.plant.u[first, 0] = 3.0, 2.0, 1.5
    exported = [pyo.value(m.plant.f[first, i]) for i in range(2)]
    np.testing.assert_allclose(exported, field(x, uu)[0], rtol=1e-12)
    assert pyo.value(m.plant.p["k1"]) == model.physics_params_["k1"]


def test_estimate_initial_state_and_score_use_the_fitted_physics(grey_fit):
    model, (t, y, u) = grey_fit
    x0 = model.estimate_initial_state(t[:40], y[:40], u[:40])
    assert x0 == pytest.approx(model.initial_states_[0], rel=0.05)
    assert model.score(t, y, u) > 0.99


def test_warm_start_continues_from_the_fitted_parameters(grey_fit):
    model, (t, y, u) = grey_fit
    warm = clone(model).set_params(warm_start=True)
    warm.fit(t, y, u)
    first = warm.n_iter_
    warm.fit(t, y, u)  # from the first fit's solution
    assert warm.n_iter_ < first / 2
    assert warm.physics_params_["k1"] == pytest.approx(model.physics_params_["k1"], rel=1e-3)


@pytest.mark.skipif(not _pynumero_available(), reason="needs PyNumero's ASL library")
def test_both_engines_fit_the_same_parameters():
    t, X, u, _ = _tank_data(n=80, noise=0.01)
    kw = dict(physics=tanks, physics_params={"k1": 0.1, "k2": 0.1, "k4": 0.1}, width=6,
              physics_bounds={"k1": (0, None), "k4": (0, None)}, random_state=0,
              u_interpolation="previous", hessian_regularization="ipopt")  # fmt: skip
    numpy_fit = CollocationNeuralODE(engine="numpy", **kw).fit(t, X, u)
    pyomo_fit = CollocationNeuralODE(engine="pyomo", solver="pynumero", **kw).fit(t, X, u)
    assert numpy_fit.n_iter_ == pyomo_fit.n_iter_
    for name in ("k1", "k2", "k4"):
        assert numpy_fit.physics_params_[name] == pytest.approx(
            pyomo_fit.physics_params_[name], rel=1e-6
        )


def test_admm_fits_the_physical_parameters_by_consensus():
    t, X, u, _ = _tank_data(n=120, noise=0.005)
    traj = np.repeat([0, 1], 60)
    base = CollocationNeuralODE(
        physics=tanks_physics, physics_params={"k1": 0.1, "k2": 0.1, "k3": 0.1, "k4": 0.1},
        physics_bounds={k: (0, None) for k in ("k1", "k2", "k3", "k4")},
        u_interpolation="previous",
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        admm = ADMMNeuralODE(base, n_batches=2, max_iter=30, random_state=0)
        admm.fit(t, X, u, trajectory=traj)
    single = clone(base).fit(t, X, u, trajectory=traj)
    assert admm.estimator_.physics_covariance_info_["status"] == "not_computed"
    assert single.physics_covariance_info_["status"] == "ok"
    for name in ("k1", "k2", "k3", "k4"):
        assert admm.estimator_.physics_params_[name] == pytest.approx(
            single.physics_params_[name], rel=0.02
        )


# -------------------------------------------------------------- bad definitions
def _fit(**kw):
    t, X, u, _ = _tank_data(n=30)
    params = dict(physics=tanks, physics_params={"k1": 0.1, "k2": 0.1, "k4": 0.1}, max_iter=5)
    params.update(kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return CollocationNeuralODE(**params).fit(t, X, u)


def _wrong_length(x, u, p, nn):
    return [p["k1"] * x[0]]


def _numpy_sqrt(x, u, p, nn):
    return [np.sqrt(x[0]) * p["k1"], nn[0]]


def _uses_k9(x, u, p, nn):
    return [p["k9"] * x[0], nn[0]]


def _branches(x, u, p, nn):
    return [p["k1"] if x[0] > 0 else 0.0, nn[0]]


def _log_of_negative(x, u, p, nn):
    return [p["k1"] * sqrt(x[0] - 100.0), nn[0]]


@pytest.mark.parametrize(
    "kw,error,match",
    [
        ({"physics": _wrong_length, "physics_params": {"k1": 1.0}}, ValueError,
         "must return n_states=2 derivatives; got 1"),
        ({"physics": _numpy_sqrt, "physics_params": {"k1": 1.0}}, TypeError,
         "Use skneuralode.physics.sqrt"),
        ({"physics": _uses_k9, "physics_params": {"k1": 1.0}}, ValueError,
         "unknown physical parameter 'k9'"),
        ({"physics": _branches, "physics_params": {"k1": 1.0}}, TypeError,
         "branches on the arguments"),
        ({"physics": _log_of_negative, "physics_params": {"k1": 1.0}}, ValueError,
         "not finite at the starting point"),
        ({"physics_params": {"k1": 0.1, "k2": 0.1, "k4": 0.1, "k5": 1.0}}, ValueError,
         "names 'k5', which the physics function 'tanks' does not use"),
        ({"physics_params": {"k1": 0.1, "k2": 0.1, "k4": float("nan")}}, ValueError,
         r"physics_params\['k4'\]` must be a finite number"),
        ({"physics_fixed": ["k7"]}, ValueError, "`physics_fixed` names 'k7'"),
        ({"physics_fixed": "k1"}, ValueError, "'physics_fixed' parameter .* must be an instance"),
        ({"physics_bounds": {"k1": (0.5, None)}}, ValueError,
         "outside physics_bounds\\['k1'\\]"),
        ({"physics_bounds": {"k1": (1.0, 0.0)}}, ValueError, "is not an interval"),
        ({"physics_bounds": {"k1": 3}}, ValueError, "must be a pair"),
        ({"network_inputs": ["x[5]"]}, ValueError, "the network can read x\\[0\\], x\\[1\\]"),
        ({"physics": tanks_physics, "physics_params": dict.fromkeys(("k1", "k2", "k3", "k4"),
          0.1), "network_inputs": ["x[0]"]}, ValueError, "reads no network output"),
        ({"latent_start": [1.0]}, ValueError, "there is none"),
        ({"state_bounds": {"x[2]": (0, None)}}, ValueError, "the states are x\\[0\\], x\\[1\\]"),
        ({"state_bounds": {"x[0]": (1, 0)}}, ValueError, "is not an interval"),
        ({"state_bounds": {"x[0]": "low"}}, ValueError, "must be a pair"),
        ({"physics": None, "physics_params": None, "network_inputs": ["x[0]"]}, ValueError,
         "`network_inputs` chooses what the network reads of known physics"),
    ],
)  # fmt: skip
def test_bad_definitions_get_clear_errors_before_ipopt(kw, error, match):
    with pytest.raises(error, match=match):
        _fit(**kw)


def test_a_physical_latent_state_needs_its_start():
    t, y, u = two_tank(n_samples=30, random_state=0)
    with pytest.raises(ValueError, match="reads the latent state x\\[1\\].*latent_start"):
        _grey_model(latent_start=None).fit(t, y, u)
    with pytest.raises(ValueError, match="latent_start\\[0\\] = 1.0 is given for the latent"):
        CollocationNeuralODE(
            physics=free_latent, physics_params={"a": 1.0}, n_latent=1, latent_start=[1.0],
        ).fit(*_data())  # fmt: skip


def test_a_lambda_physics_fits_but_pickling_says_what_to_do():
    model = _fit(physics=lambda x, u, p, nn: [p["k1"] * x[1], nn[0]],
                 physics_params={"k1": 1.0})  # fmt: skip
    with pytest.raises(pickle.PicklingError, match="def at the top level of a module"):
        pickle.dumps(model)
    model.physics = None  # the fitted model keeps its traced physics
    restored = pickle.loads(pickle.dumps(model))
    t, X, u, _ = _tank_data(n=30)
    np.testing.assert_array_equal(restored.predict(t, X[0], u), model.predict(t, X[0], u))


def test_the_users_arrays_and_parameters_are_not_modified():
    t, X, u, _ = _tank_data(n=30)
    params = {"k1": 0.1, "k2": 0.1, "k4": 0.1}
    bounds = {"k1": [0, None]}
    fixed = ["k2"]
    copies = [a.copy() for a in (t, X, u)]
    _fit(physics_params=params, physics_bounds=bounds, physics_fixed=fixed)
    assert params == {"k1": 0.1, "k2": 0.1, "k4": 0.1}
    assert bounds == {"k1": [0, None]} and fixed == ["k2"]
    for a, b in zip((t, X, u), copies):
        np.testing.assert_array_equal(a, b)


def test_state_bounds_hold_in_user_units():
    """Bounds in user units on the collocation states (e.g. a level under sqrt)."""
    data, nlp, *_ = _problem("state_bounds")
    lo, hi = nlp.bounds()
    scaling_lo = (0.6 - data.physics.mean[0]) / data.physics.scale[0]
    assert lo[0] == pytest.approx(scaling_lo) and lo[2] == lo[0]  # x[0] at nodes 0 and 1
    assert hi[0] == 3.0 and hi[1] == pytest.approx(min(3.0, (5.0 - data.physics.mean[1])
                                                       / data.physics.scale[1]))  # fmt: skip
    assert np.all(data.states0[:, 0] > scaling_lo)  # the start is inside
    t, X, u, _ = _tank_data(n=60)
    model = _fit(state_bounds={"x[0]": (float(X[:, 0].min()) + 0.05, None)}, max_iter=3000)
    assert model.collocation_states_[:, 0].min() >= X[:, 0].min() + 0.05 - 1e-6
