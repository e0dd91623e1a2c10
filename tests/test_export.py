"""The learned ODE exported as a pyomo.dae block (``_export``, ``to_pyomo``)."""

import copy
import warnings

import numpy as np
import pyomo.environ as pyo
import pytest
from _nlp_checks import evaluate_block
from pyomo.dae import ContinuousSet
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skneuralode import CollocationNeuralODE
from skneuralode._export import build_block, fold_scaling
from skneuralode._scaling import Scaling
from skneuralode._simulate import VectorField
from skneuralode._solver import available_solvers
from skneuralode.datasets import two_tank, van_der_pol
from skneuralode.physics import sqrt

# The block and the numpy network compute the same floating-point function, up to the
# reassociation of folding the scaling into the weights.
FIELD_RTOL = 1e-10
# Radau collocation (3 points) of the learned field on [0, 3] against predict (LSODA,
# rtol 1e-7): 20 elements; first-order backward differences get 100.
COLLOCATION_ERROR = 1e-3
FINITE_DIFFERENCE_ERROR = 0.2
HORIZON = 3.0

requires_pynumero = pytest.mark.skipif(
    not available_solvers()["pynumero"][0],
    reason="pyo.SolverFactory('cyipopt') needs PyNumero's ASL library "
    "(pyomo build-extensions); not built here",
)


def random_field(activation, depth, n_inputs, seed=0):
    """A VectorField with random weights and non-trivial scaling (no fit needed)."""
    rng = np.random.default_rng(seed)
    sizes = [2 + n_inputs] + [5] * depth + [2]
    return VectorField(
        coefs=[rng.normal(size=(a, b)) for a, b in zip(sizes[:-1], sizes[1:])],
        intercepts=[rng.normal(size=b) for b in sizes[1:]],
        activation=activation,
        x_mean=np.array([0.5, -1.0]),
        x_scale=np.array([2.0, 0.4]),
        t_scale=3.0,
        u_mean=np.array([0.3] * n_inputs) if n_inputs else None,
        u_scale=np.array([0.7] * n_inputs) if n_inputs else None,
    )


def block_of(field, times):
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(initialize=times)
    scaling = Scaling(field.x_mean, field.x_scale, field.t_scale, field.u_mean, field.u_scale)
    m.plant = build_block(m.t, field.coefs, field.intercepts, field.activation, scaling)
    return m


@pytest.fixture(scope="module")
def forced_model():
    """Forced Van der Pol with the forcing cos(t) as the input: about a second to fit."""
    data = van_der_pol(60, (0, 6), forcing_amplitude=1.0, return_bunch=True)
    model = CollocationNeuralODE(width=8, degree=2, alpha=1e-4, random_state=0)
    return model.fit(data.t, data.X, u=data.u), data


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "softplus", "identity"])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("n_inputs", [0, 2])
def test_block_field_equals_numpy_field(activation, depth, n_inputs):
    field = random_field(activation, depth, n_inputs)
    m = block_of(field, np.linspace(0.0, 1.0, 6))
    rng = np.random.default_rng(1)
    X = field.x_mean + field.x_scale * rng.normal(size=(6, 2))
    U = field.u_mean + field.u_scale * rng.normal(size=(6, n_inputs)) if n_inputs else None
    expected = field(X, U)
    np.testing.assert_allclose(evaluate_block(m, X, U), expected, rtol=FIELD_RTOL, atol=0)


def test_fold_scaling_keeps_the_scaled_weights():
    field = random_field("tanh", 2, 1)
    before = [W.copy() for W in field.coefs]
    mean, scale = np.r_[field.x_mean, field.u_mean], np.r_[field.x_scale, field.u_scale]
    fold_scaling(field.coefs, field.intercepts, mean, scale, field.x_scale / field.t_scale)
    for W, W0 in zip(field.coefs, before):
        np.testing.assert_array_equal(W, W0)


def test_to_pyomo_equals_vector_field(forced_model):
    model, _ = forced_model
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(initialize=np.linspace(0.0, 1.0, 8))
    m.plant = model.to_pyomo(m.t)
    rng = np.random.default_rng(2)
    X = model.x_mean_ + model.x_scale_ * rng.normal(size=(8, 2))
    U = rng.uniform(-1.0, 1.0, size=(8, 1))
    expected = model.vector_field()(X, U)
    np.testing.assert_allclose(evaluate_block(m, X, U), expected, rtol=FIELD_RTOL, atol=0)


def test_block_components(small_model):
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, 2.0))
    block = small_model.to_pyomo(m.t)
    assert block.parent_block() is None  # unattached until the user adds it
    m.plant = block
    assert not hasattr(block, "u")  # fitted without inputs
    assert [t for t, _ in block.ode] == [2.0, 2.0]  # not at time.first()
    assert len(block.hidden) == 2 * small_model.width
    np.testing.assert_allclose([block.x[0.0, i].value for i in block.STATES], small_model.x_mean_)


@pytest.mark.parametrize(
    "transform, options",
    [("dae.collocation", dict(nfe=4, ncp=3)), ("dae.finite_difference", dict(nfe=6))],
    ids=["collocation", "finite_difference"],
)
def test_discretization_builds_every_new_point(forced_model, transform, options):
    model, _ = forced_model
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, 2.0))
    m.plant = model.to_pyomo(m.t)
    pyo.TransformationFactory(transform).apply_to(m, wrt=m.t, **options)
    times, n_hidden = list(m.t), len(model.intercepts_[0])
    assert len(times) == 13 if transform == "dae.collocation" else 7
    assert sorted({t for t, _ in m.plant.ode}) == times[1:]
    assert len(m.plant.ode) == 2 * (len(times) - 1)
    assert len(m.plant.hidden) == n_hidden * len(times)
    assert len(m.plant.u) == len(times)


def test_to_pyomo_before_fit():
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, 1.0))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        CollocationNeuralODE().to_pyomo(m.t)


def test_to_pyomo_needs_a_continuous_set(small_model):
    m = pyo.ConcreteModel()
    m.t = pyo.Set(initialize=[0.0, 1.0])
    with pytest.raises(TypeError, match=r"`time` must be a pyomo.dae.ContinuousSet.*got \w+"):
        small_model.to_pyomo(m.t)
    with pytest.raises(TypeError, match="`time` must be a pyomo.dae.ContinuousSet"):
        small_model.to_pyomo([0.0, 1.0])


def test_to_pyomo_needs_a_constructed_set(small_model):
    with pytest.raises(ValueError, match="is not constructed yet: declare it on a ConcreteModel"):
        small_model.to_pyomo(ContinuousSet(bounds=(0.0, 1.0)))


def simulate_in_pyomo(model, data, transform, **options):
    """Fix u = cos(t) and x(0), solve the square discretized system; -> (times, X)."""
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, HORIZON))
    m.plant = model.to_pyomo(m.t)
    pyo.TransformationFactory(transform).apply_to(m, wrt=m.t, **options)
    for t in m.t:
        m.plant.u[t, 0].fix(np.cos(t))
        for i in m.plant.STATES:  # initial guess: the training data, interpolated
            m.plant.x[t, i].value = float(np.interp(t, data.t, data.X[:, i]))
    for i in m.plant.STATES:
        m.plant.x[0.0, i].fix(data.X[0, i])
    m.obj = pyo.Objective(expr=0.0)
    result = pyo.SolverFactory("cyipopt").solve(m, load_solutions=False)
    assert result.solver.termination_condition == pyo.TerminationCondition.optimal
    m.solutions.load_from(result)
    times = np.array(list(m.t))
    return times, np.array([[m.plant.x[t, i].value for i in m.plant.STATES] for t in times])


@requires_pynumero
@pytest.mark.parametrize(
    "transform, coarse, fine, tolerance, factor",
    [
        ("dae.collocation", dict(nfe=10, ncp=3), dict(nfe=20, ncp=3), COLLOCATION_ERROR, 4),
        ("dae.finite_difference", dict(nfe=50), dict(nfe=100), FINITE_DIFFERENCE_ERROR, 1.6),
    ],
    ids=["collocation", "finite_difference"],
)
def test_discretized_block_reproduces_predict(
    forced_model, transform, coarse, fine, tolerance, factor
):
    model, data = forced_model
    errors = []
    for options in (coarse, fine):
        times, X = simulate_in_pyomo(model, data, transform, **options)
        expected = model.predict(times, data.X[0], u=lambda s: [np.cos(s)])
        errors.append(np.max(np.abs(X - expected)))
    assert errors[1] < tolerance
    assert errors[1] < errors[0] / factor  # the gap is discretization error: it shrinks


def test_nl_writer_shares_the_hidden_units(tmp_path):
    field = random_field("tanh", 1, 1)
    m = block_of(field, [0.0, 1.0])
    pyo.TransformationFactory("dae.finite_difference").apply_to(m, wrt=m.t, nfe=2)
    m.obj = pyo.Objective(expr=sum(m.plant.x[t, 0] ** 2 for t in m.t))
    m.write(str(tmp_path / "block.nl"), format="nl")
    header = (tmp_path / "block.nl").read_text().splitlines()[9]
    assert header.endswith("# common exprs: b,c,o,c1,o1")
    n_shared, n_single = map(int, header.split()[1:4:2])
    # ode at the 2 points after the first: 5 hidden units each, in both state equations.
    assert (n_shared, n_single) == (2 * 5, 2 * 2)


def fix_and_evaluate(block, t, x, u):
    """``f[t, :]`` with ``x[t, :]`` and ``u[t, :]`` fixed to the given values, in order."""
    for key, value in zip(block.STATES, x):
        block.x[t, key].fix(value)
    for key, value in zip(block.INPUTS, u):
        block.u[t, key].fix(value)
    return [pyo.value(block.f[t, key]) for key in block.STATES]


def test_a_model_fitted_with_names_indexes_by_them(forced_model):
    model = copy.deepcopy(forced_model[0])
    model.state_names_, model.input_names_ = ["position", "velocity"], ["force"]  # as fit does
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, 1.0))
    m.plant = model.to_pyomo(m.t)
    assert list(m.plant.STATES) == ["position", "velocity"]
    assert list(m.plant.INPUTS) == ["force"]
    assert m.plant.x[0.0, "velocity"].value == pytest.approx(model.x_mean_[1])
    pyo.TransformationFactory("dae.finite_difference").apply_to(m, wrt=m.t, nfe=2)
    assert {i for _, i in m.plant.ode} == {"position", "velocity"}
    x, u = np.array([0.3, -1.2]), np.array([0.4])
    expected = model.vector_field()(x[None], u[None])[0]
    np.testing.assert_allclose(fix_and_evaluate(m.plant, 1.0, x, u), expected, rtol=FIELD_RTOL)


def test_without_names_the_indices_stay_integers(forced_model):
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, 1.0))
    m.plant = forced_model[0].to_pyomo(m.t)
    assert list(m.plant.STATES) == [0, 1] and list(m.plant.INPUTS) == [0]


def tanks(x, u, p, nn):
    return [p["k4"] * u[0] - p["k1"] * sqrt(x[0]), p["k2"] * sqrt(x[0]) + nn[0]]


def test_a_grey_box_model_fitted_with_names_indexes_by_them():
    b = two_tank(n_samples=30, random_state=0, return_bunch=True)
    model = CollocationNeuralODE(physics=tanks, physics_params={"k1": 0.1, "k2": 0.1, "k4": 0.1},
                                 max_iter=3, width=4)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(b.t, b.states, b.u)
    model.state_names_, model.input_names_ = ["upper", "lower"], ["pump"]
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, 1.0))
    m.plant = model.to_pyomo(m.t)
    assert list(m.plant.STATES) == ["upper", "lower"] and list(m.plant.NETWORK) == [0]
    x, u = np.array([3.0, 2.0]), np.array([1.5])
    expected = model.vector_field()(x[None], u[None])[0]
    np.testing.assert_allclose(fix_and_evaluate(m.plant, 0.0, x, u), expected, rtol=1e-12)
