"""The learned right-hand side as a CasADi function (``_casadi``, ``to_casadi``)."""

import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode._activations import ACTIVATIONS
from skneuralode._physics import FUNCTIONS, trace_physics
from skneuralode._scaling import Scaling
from skneuralode._simulate import VectorField
from skneuralode.datasets import two_tank, van_der_pol
from skneuralode.physics import cos, exp, log, sigmoid, sin, softplus, sqrt, tanh

casadi = pytest.importorskip("casadi")  # in the test extra: CI runs these

from skneuralode._casadi import CASADI_ACTIVATIONS, build_function  # noqa: E402

# CasADi's graph and the numpy network compute the same floating-point function up to
# the reassociation of folding the scaling into the weights (as test_export's FIELD_RTOL).
FIELD_RTOL = 1e-10
FIELD_ATOL = 1e-12
N_POINTS = 7


def random_field(activation, depth, n_inputs, n_latent=0, seed=0):
    """A VectorField with random weights and non-trivial scaling, latent states included."""
    rng = np.random.default_rng(seed)
    d = 2 + n_latent
    sizes = [d + n_inputs] + [5] * depth + [d]
    scaling = Scaling(
        np.array([0.5, -1.0]), np.array([2.0, 0.4]), 3.0,
        np.full(n_inputs, 0.3) if n_inputs else None,
        np.full(n_inputs, 0.7) if n_inputs else None,
        n_latent=n_latent,
    )  # fmt: skip
    coefs = [rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])]
    intercepts = [rng.normal(size=b) for b in sizes[1:]]
    return VectorField.from_network(coefs, intercepts, activation, scaling), scaling


def evaluate(f, X, U=None):
    """The CasADi function on rows of X (and U) -> (n, d), numpy."""
    args = [X.T] if U is None else [X.T, U.T]
    return np.array(f(*args)).T


def random_points(field, n_inputs, seed=1):
    rng = np.random.default_rng(seed)
    X = field.x_mean + field.x_scale * rng.normal(size=(N_POINTS, len(field.x_mean)))
    U = 0.3 + 0.7 * rng.normal(size=(N_POINTS, n_inputs)) if n_inputs else None
    return X, U


def assert_jacobian_matches(f, field, X, U):
    """CasADi's Jacobian of ``f`` over the states equals ``field.jacobian`` at each point."""
    x, u = casadi.SX.sym("x", X.shape[1]), casadi.SX.sym("u", U.shape[1])
    jac = casadi.Function("J", [x, u], [casadi.jacobian(f(x, u), x)])
    for xk, uk in zip(X, U):
        np.testing.assert_allclose(np.array(jac(xk, uk)), field.jacobian(xk, uk), rtol=1e-9,
                                   atol=1e-12)  # fmt: skip


def test_every_activation_has_a_casadi_form():
    assert set(CASADI_ACTIVATIONS) == set(ACTIVATIONS)
    z = np.linspace(-30.0, 30.0, 121)
    for name, form in CASADI_ACTIVATIONS.items():
        s = casadi.SX.sym("z")
        got = np.array(casadi.Function("a", [s], [form(s)])(z)).ravel()
        np.testing.assert_allclose(got, ACTIVATIONS[name].value(z), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("n_inputs", [0, 2])
@pytest.mark.parametrize("n_latent", [0, 1])
def test_function_equals_numpy_field(activation, depth, n_inputs, n_latent):
    field, scaling = random_field(activation, depth, n_inputs, n_latent)
    f = build_function(field.coefs, field.intercepts, activation, scaling)
    assert f.name_in() == (["x", "u"] if n_inputs else ["x"])
    assert f.name_out() == ["dxdt"]
    X, U = random_points(field, n_inputs)
    np.testing.assert_allclose(evaluate(f, X, U), field(X, U), rtol=FIELD_RTOL, atol=FIELD_ATOL)


@pytest.fixture(scope="module")
def forced_model():
    """Forced Van der Pol with the forcing as the input, two hidden layers (about 1 s)."""
    data = van_der_pol(60, (0, 6), forcing_amplitude=1.0, return_bunch=True)
    model = CollocationNeuralODE(width=8, depth=2, degree=2, alpha=1e-4, random_state=0)
    return model.fit(data.t, data.X, u=data.u)


def test_to_casadi_equals_vector_field_and_its_jacobian(forced_model):
    f = forced_model.to_casadi()
    field = forced_model.vector_field()
    rng = np.random.default_rng(2)
    X = forced_model.x_mean_ + forced_model.x_scale_ * rng.normal(size=(N_POINTS, 2))
    U = rng.uniform(-1.0, 1.0, size=(N_POINTS, 1))
    np.testing.assert_allclose(evaluate(f, X, U), field(X, U), rtol=FIELD_RTOL, atol=FIELD_ATOL)
    out = f(x=X[0], u=U[0])  # named arguments, as do-mpc and Opti users call it
    np.testing.assert_allclose(np.array(out["dxdt"]).ravel(), field(X[:1], U[:1])[0], rtol=1e-10)
    assert_jacobian_matches(f, field, X, U)


def test_to_casadi_with_latent_states_and_no_inputs(small_data):
    t, X = small_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = CollocationNeuralODE(n_latent=1, width=6, max_iter=10, random_state=0).fit(t, X)
    f = model.to_casadi()
    assert f.name_in() == ["x"] and f.size1_in(0) == 3 and f.size1_out(0) == 3
    Z = model.collocation_states_[::5]
    np.testing.assert_allclose(evaluate(f, Z), model.vector_field()(Z), rtol=FIELD_RTOL,
                               atol=FIELD_ATOL)  # fmt: skip


# ------------------------------------------------------------ known physics
def every_function(x, u, p, nn):
    """Every row of FUNCTIONS, powers and constants, and the network's outputs."""
    return [
        exp(-p["a"] * x[0]) * sin(u[0]) + log(1 + x[1] ** 2) * tanh(nn[0]),
        sigmoid(x[0] * x[1] - u[0]) * cos(p["b"] * x[1]) + softplus(p["a"] - x[1]) / sqrt(x[0])
        + x[0] ** p["b"] + x[1] ** -2 / 3 - 2.5 + nn[1],
    ]  # fmt: skip


def test_every_physics_function_has_a_casadi_form():
    physics = trace_physics(every_function, 2, 1, ("a", "b"), 2)
    used = {type(node).__name__ for e in physics.expressions for node in _nodes(e)}
    assert {"exp", "sin", "log", "tanh", "sigmoid", "cos", "softplus"} <= used
    assert all(callable(row.casadi) for row in FUNCTIONS.values())
    rng = np.random.default_rng(0)
    w = casadi.SX.sym("w", 2 + 1 + 2 + 2)
    rates = physics.casadi_expressions([w[0], w[1]], [w[2]], {"a": w[3], "b": w[4]},
                                       [w[5], w[6]])  # fmt: skip
    f = casadi.Function("f", [w], [casadi.vertcat(*rates)])
    for _ in range(N_POINTS):
        x, u = rng.uniform(0.5, 2.0, 2), rng.uniform(-1, 1, 1)
        p, nn = rng.uniform(0.5, 1.5, 2), rng.normal(size=2)
        expected = physics.value(x[None], u[None], p, nn[None])[0]
        got = np.array(f(np.r_[x, u, p, nn])).ravel()
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def _nodes(expr):
    import sympy

    return sympy.preorder_traversal(expr)


def tanks_latent(x, u, p, nn):
    """Only the lower tank is measured; the upper one is a latent state in user units."""
    h2, h1 = x
    return [p["k2"] * sqrt(h1) + nn[0], p["k4"] * u[0] - p["k1"] * sqrt(h1)]


@pytest.fixture(scope="module")
def grey_model():
    """A grey-box model (latent state in user units, the network reading x[0] only); a
    few IPOPT iterations are enough: the export is of whatever weights it holds."""
    t, y, u = two_tank(n_samples=60, noise=0.02, random_state=0)
    model = CollocationNeuralODE(
        physics=tanks_latent, physics_params={"k1": 0.1, "k2": 0.2, "k4": 0.1},
        physics_fixed=["k2"], n_latent=1, latent_start=[3.0], network_inputs=["x[0]"],
        width=6, max_iter=10, u_interpolation="previous", random_state=0,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(t, y, u)


def test_grey_box_to_casadi_equals_vector_field_and_its_jacobian(grey_model):
    f, field = grey_model.to_casadi(), grey_model.vector_field()
    rng = np.random.default_rng(3)
    X = rng.uniform(0.5, 4.0, size=(N_POINTS, 2))
    U = rng.uniform(0.5, 2.0, size=(N_POINTS, 1))
    np.testing.assert_allclose(evaluate(f, X, U), field(X, U), rtol=FIELD_RTOL, atol=FIELD_ATOL)
    assert_jacobian_matches(f, field, X, U)


# ------------------------------------------------------------ delegation and errors
def test_admm_delegates_to_its_consensus_model(forced_model):
    admm = ADMMNeuralODE(CollocationNeuralODE())
    with pytest.raises(NotFittedError):
        admm.to_casadi()
    admm.estimator_ = forced_model  # what ADMMNeuralODE.fit leaves: a fitted single model
    X = forced_model.collocation_states_[:3]
    U = np.zeros((3, 1))
    np.testing.assert_array_equal(evaluate(admm.to_casadi(), X, U),
                                  evaluate(forced_model.to_casadi(), X, U))  # fmt: skip


def test_missing_casadi_says_how_to_install(forced_model, monkeypatch):
    monkeypatch.setitem(sys.modules, "casadi", None)  # import casadi -> ImportError
    with pytest.raises(ImportError, match=r'pip install "skneuralode\[casadi\]"'):
        forced_model.to_casadi()


def test_to_casadi_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        CollocationNeuralODE().to_casadi()


def test_casadis_ipopt_runs_next_to_the_fits_ipopt(forced_model, small_data):
    """Two IPOPT libraries in one process: cyipopt's (loaded by the numpy engine's fit)
    and CasADi's own. An equilibrium of the exported model with u = 0, then a new fit."""
    f = forced_model.to_casadi()
    x = casadi.SX.sym("x", 2)
    rates = f(x, 0.0)
    options = {"print_time": False, "ipopt": {"print_level": 0, "sb": "yes"}}
    solver = casadi.nlpsol("S", "ipopt", {"x": x, "f": casadi.sumsqr(rates)}, options)
    found = np.array(solver(x0=[0.1, 0.1])["x"]).ravel()
    assert solver.stats()["success"]
    assert np.abs(forced_model.vector_field()(found[None], np.zeros((1, 1)))).max() < 1e-6
    t, X = small_data
    refit = CollocationNeuralODE(width=6, degree=2, random_state=0).fit(t, X)
    assert refit.converged_ and refit.engine_ == "numpy"
