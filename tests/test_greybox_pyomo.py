"""Known physics in the Pyomo model (``_pyomo_model``) and the exported block (``_export``):
both equal the numpy reference (``_problem``, ``_greybox.GreyBoxField``) at fixed values.

Three grey-box cases: physics plus one additive network output with an input (two
tanks), physics reading two network outputs non-additively (through products with the
states and parameters and through ``exp``), and physics alone (no network).
"""

import numpy as np
import pyomo.environ as pyo
import pytest
from _nlp_checks import evaluate_block
from pyomo.dae import ContinuousSet

from skneuralode import _mlp
from skneuralode._export import build_block
from skneuralode._greybox import GreyBoxField
from skneuralode._init import fit_scaling
from skneuralode._problem import (
    build_problem,
    constraint_residuals,
    network_outputs,
    objective,
)
from skneuralode._pyomo_model import build_model
from skneuralode._solver import available_solvers
from skneuralode._spec import ProblemSpec
from skneuralode._validation import check_fit_data
from skneuralode.datasets import two_tank, van_der_pol
from skneuralode.physics import exp, sqrt

# The model, the block and the numpy reference compute the same floating-point
# expressions up to reassociation (and the block folds the scaling into the weights).
ORACLE = 1e-10
FD_AGREEMENT = 1e-6  # PyNumero's exact Jacobian against central differences, relative
EPS = 1e-6


def tanks(x, u, p, nn):
    return [p["k4"] * u[0] - p["k1"] * sqrt(x[0]), p["k2"] * sqrt(x[0]) + nn[0]]


def oscillator(x, u, p, nn):
    return [x[1], -p["w"] * x[0] + p["c"] * x[1] * nn[0] + 0.1 * exp(nn[1]) + u[0]]


def van_der_pol_physics(x, u, p, nn):
    return [x[1], p["mu"] * (1 - x[0] ** 2) * x[1] - p["k"] * x[0]]


def _tanks_data():
    b = two_tank(30, dt=2.0, hold_range=(3, 8), random_state=0, return_bunch=True)
    return b.t, b.states, b.u, None


def _oscillator_data():  # the second state is latent
    b = van_der_pol(14, (0, 5), forcing_amplitude=0.5, return_bunch=True)
    return b.t, b.X[:, :1], b.u, None


def _van_der_pol_data():  # two trajectories
    parts = [van_der_pol(10, (0, 4), x0=(1.0 + k, -0.5 * k), return_bunch=True) for k in (0, 1)]
    t = np.concatenate([b.t for b in parts])
    return t, np.vstack([b.X for b in parts]), None, np.repeat([0, 1], 10)


CASES = {
    "additive": (
        _tanks_data,
        dict(
            physics=tanks,
            physics_params={"k1": 0.25, "k2": 0.2, "k4": 0.15},
            physics_fixed=["k2"],
            physics_bounds={"k1": (0, None)},
            physics_alpha=0.03,
            weight_bound=20.0,
        ),
    ),
    "non_additive": (
        _oscillator_data,
        dict(
            physics=oscillator,
            physics_params={"w": 1.2, "c": -0.5},
            physics_bounds={"w": (0.1, 10.0), "c": (-3.0, 2.0)},
            physics_alpha=0.1,
            scheme="legendre",
            depth=2,
            activation="softplus",
            n_latent=1,
        ),
    ),
    "physics_only": (
        _van_der_pol_data,
        dict(
            physics=van_der_pol_physics,
            physics_params={"mu": 0.7, "k": 1.0},
            physics_fixed=["k"],
            physics_bounds={"mu": (None, 5.0)},
            scheme="chebyshev",
        ),
    ),
}


def greybox_problem(case, **overrides):
    """(NLPData, Scaling) of a case, built as ``fit`` builds them."""
    make_data, params = CASES[case]
    t, X, u, groups = check_fit_data(*make_data(), "LSODA", None)
    spec = ProblemSpec(width=4, degree=2, alpha=0.01, random_state=0, **{**params, **overrides})
    scaling, smoothers = fit_scaling(t, X, u, groups, spec.smoothing, spec.n_latent)
    data = build_problem(t, X, u, groups, scaling, spec, smoothers=smoothers)
    return data, scaling


def load(m, theta, states):
    for p in m.PARAMS:
        m.theta[p].set_value(float(theta[p]))
    for n in m.NODES:
        for i in m.STATES:
            m.x[n, i].set_value(float(states[n, i]))


def bodies(component, rows, cols) -> np.ndarray:
    return np.array([[pyo.value(component[r, i].body) for i in cols] for r in rows])


def relative_error(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def perturbed(data, seed=3):
    """A random point near the start, inside the physics' domain and the bounds."""
    rng = np.random.RandomState(seed)
    theta = data.theta0 + 0.1 * rng.normal(size=data.theta0.shape)
    net, ps = data.split_theta(theta)
    ps[:] = np.clip(ps, data.physics.lower, data.physics.upper)
    return theta, data.states0 + 0.05 * rng.normal(size=data.states0.shape)


# ------------------------------------------------------------------ the model


@pytest.mark.parametrize("case", list(CASES))
def test_model_equals_numpy_reference(case):
    data, _ = greybox_problem(case)
    m = build_model(data)
    for theta, states in [(data.theta0, data.states0), perturbed(data)]:
        load(m, theta, states)
        colloc, cont = constraint_residuals(data, theta, states)
        assert relative_error(bodies(m.collocation, m.COLLOC, m.STATES), colloc) < ORACLE
        if len(cont):
            assert relative_error(bodies(m.continuity, m.CONT, m.STATES), cont) < ORACLE
        assert pyo.value(m.obj) == pytest.approx(objective(data, theta, states), rel=ORACLE)


@pytest.mark.parametrize("case", list(CASES))
def test_model_components(case):
    data, _ = greybox_problem(case)
    greybox, n_net = data.physics, data.n_network_params
    m = build_model(data)
    assert len(m.PARAMS) == n_net + greybox.n_free == len(data.theta0)
    wb = data.weight_bound
    assert all(m.theta[p].bounds == (None if wb is None else -wb, wb) for p in range(n_net))
    for j, (lo, hi) in enumerate(zip(greybox.lower, greybox.upper)):
        expected = (lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
        assert m.theta[n_net + j].bounds == pytest.approx(expected)
    # the physical parameters in user units: fitted ones follow theta, fixed ones are numbers
    theta, _ = perturbed(data)
    load(m, theta, data.states0)
    user = greybox.user_params(data.split_theta(theta)[1])
    assert list(m.PHYSICS_PARAMS) == list(greybox.physics.param_names)
    np.testing.assert_allclose([pyo.value(m.physics_params[k]) for k in m.PHYSICS_PARAMS], user)
    if greybox.n_network:
        g = network_outputs(data, theta[:n_net], data.states0)
        got = [[pyo.value(m.network[c, k]) for k in m.NETWORK] for c in m.COLLOC]
        np.testing.assert_allclose(got, g, rtol=ORACLE)
    else:
        assert n_net == 0 and len(m.hidden) == 0 and not hasattr(m, "network")
    assert pyo.value(m.param_alpha) == data.param_alpha


def test_fixed_theta_fixes_the_physical_parameters_too():
    data, _ = greybox_problem("additive")
    data.fixed_theta = True
    m = build_model(data)
    assert all(m.theta[p].fixed for p in m.PARAMS)


def test_param_alpha_penalizes_the_scaled_parameters():
    data, _ = greybox_problem("non_additive")
    m = build_model(data)
    ps = data.split_theta(data.theta0)[1]
    expected = data.alpha * np.sum(data.theta0[data.weight_mask] ** 2)
    expected += data.param_alpha * np.sum(ps**2)
    assert pyo.value(m.regularization) == pytest.approx(expected, rel=ORACLE)
    m.param_alpha = 0.0  # mutable: changes the objective without rebuilding
    expected -= data.param_alpha * np.sum(ps**2)
    assert pyo.value(m.regularization) == pytest.approx(expected, rel=ORACLE)


BLACK_BOX_COMPONENTS = [
    "NODES",
    "STATES",
    "PARAMS",
    "x",
    "theta",
    "hidden",
    "COLLOC",
    "collocation",
]


def test_without_physics_the_model_is_the_black_box_one():
    """``physics=None``: the components of the black-box model and nothing of physics;
    the same problem with and without physics shares its state layout."""
    data, _ = greybox_problem("physics_only", physics=None, physics_params=None,
                              physics_fixed=None, physics_bounds=None)  # fmt: skip
    assert data.physics is None
    m = build_model(data)
    names = [c.local_name for c in m.component_objects(descend_into=False)]
    assert names == BLACK_BOX_COMPONENTS + ["data_fit", "alpha", "regularization", "obj"]
    d, n_nodes, n_colloc = 2, data.disc.n_nodes, len(data.disc.colloc_node)
    assert m.nvariables() == d * n_nodes + _mlp.Layout(data.sizes).n_params
    assert m.nconstraints() == d * n_colloc
    wb = data.weight_bound
    assert all(m.theta[p].bounds == (None if wb is None else -wb, wb) for p in m.PARAMS)
    colloc, _ = constraint_residuals(data, data.theta0, data.states0)
    assert relative_error(bodies(m.collocation, m.COLLOC, m.STATES), colloc) < ORACLE
    assert pyo.value(m.obj) == pytest.approx(
        objective(data, data.theta0, data.states0), rel=ORACLE
    )


# ------------------------------------------------------------ against PyNumero


@pytest.mark.skipif(not available_solvers()["pynumero"][0], reason="needs PyNumero's ASL library")
@pytest.mark.parametrize("case", list(CASES))
def test_pynumero_jacobian_equals_finite_differences(case):
    """PyNumero's constraint Jacobian and objective gradient of the model, at a perturbed
    start, against central differences of the numpy reference."""
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    data, _ = greybox_problem(case)
    theta, states = perturbed(data)
    m = build_model(data)
    load(m, theta, states)
    nlp = PyomoNLP(m)
    cols = np.r_[nlp.get_primal_indices([m.x]), nlp.get_primal_indices([m.theta])]
    con = [m.collocation] + ([m.continuity] if hasattr(m, "continuity") else [])
    rows = nlp.get_constraint_indices(con)
    w = np.r_[states.ravel(), theta]  # m.x is indexed (node, state): row-major like states

    def split(w):
        return w[states.size :], w[: states.size].reshape(states.shape)

    def residuals(w):
        return np.concatenate([r.ravel() for r in constraint_residuals(data, *split(w))])

    J = np.column_stack([_central(residuals, w, k) for k in range(len(w))])
    grad = np.array([_central(lambda v: objective(data, *split(v)), w, k) for k in range(len(w))])
    assert nlp.get_primals()[cols] == pytest.approx(w, rel=1e-15)
    assert relative_error(nlp.evaluate_constraints()[rows], residuals(w)) < ORACLE
    assert relative_error(nlp.evaluate_jacobian().toarray()[np.ix_(rows, cols)], J) < FD_AGREEMENT
    assert relative_error(nlp.evaluate_grad_objective()[cols], grad) < FD_AGREEMENT


def _central(func, w, k):
    step = EPS * max(1.0, abs(w[k]))
    up, down = w.copy(), w.copy()
    up[k] += step
    down[k] -= step
    return (np.asarray(func(up)) - np.asarray(func(down))) / (2 * step)


# ------------------------------------------------------------ the exported block


def fitted_block(case, times, seed=5):
    """A grey-box block from the case's start (perturbed weights and parameters) and the
    numpy field it should equal."""
    data, scaling = greybox_problem(case)
    greybox = data.physics
    theta, _ = perturbed(data, seed)
    net, ps = data.split_theta(theta)
    coefs, intercepts = _mlp.unpack(net, data.sizes)
    params = greybox.user_params(ps)
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(initialize=times)
    m.plant = build_block(m.t, coefs, intercepts, data.activation, scaling,
                          greybox=greybox, params=params)  # fmt: skip
    return m, GreyBoxField.from_greybox(greybox, coefs, intercepts, data.activation, params)


def random_points(field, n, seed=1):
    """States and inputs in user units, near the training means (levels stay positive)."""
    rng = np.random.default_rng(seed)
    X = field.x_mean + 0.3 * field.x_scale * rng.normal(size=(n, len(field.x_mean)))
    U = None
    if field.u_mean is not None:
        U = field.u_mean + field.u_scale * rng.normal(size=(n, len(field.u_mean)))
    return X, U


@pytest.mark.parametrize("case", list(CASES))
def test_block_field_equals_greybox_field(case):
    times = np.linspace(0.0, 1.0, 6)
    m, field = fitted_block(case, times)
    X, U = random_points(field, len(times))
    np.testing.assert_allclose(evaluate_block(m, X, U), field(X, U), rtol=ORACLE, atol=0)
    # the physical parameters are a mutable Param: changing one changes f
    plant, physics = m.plant, field.greybox.physics
    assert [plant.p[k].value for k in plant.PARAMS] == field.params.tolist()
    name = physics.param_names[0]
    plant.p[name] = 1.5 * plant.p[name].value
    field.params = field.params.copy()
    field.params[0] *= 1.5
    np.testing.assert_allclose(evaluate_block(m, X, U), field(X, U), rtol=ORACLE, atol=0)
    n_network, n_hidden = physics.n_network, sum(len(b) for b in field.intercepts[:-1])
    assert len(plant.hidden) == n_hidden * len(times)
    assert len(getattr(plant, "nn", ())) == n_network * len(times)


def test_block_network_outputs_in_physics_units():
    times = np.linspace(0.0, 1.0, 4)
    m, field = fitted_block("non_additive", times)
    X, U = random_points(field, len(times))
    evaluate_block(m, X, U)
    nn = np.array([[pyo.value(m.plant.nn[t, k]) for k in m.plant.NETWORK] for t in m.t])
    np.testing.assert_allclose(nn, field._network(X, U), rtol=ORACLE, atol=0)


def test_block_discretization_builds_physics_at_new_points():
    m, _ = fitted_block("additive", [0.0, 2.0])
    pyo.TransformationFactory("dae.finite_difference").apply_to(m, wrt=m.t, nfe=5)
    assert len(m.plant.f) == 2 * 6 and len(m.plant.nn) == 6
    assert len(m.plant.ode) == 2 * 5


def test_block_needs_every_parameter():
    data, scaling = greybox_problem("physics_only")
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, 1.0))
    with pytest.raises(ValueError, match=r"`params` must hold the 2 physical parameters"):
        build_block(m.t, [], [], data.activation, scaling, greybox=data.physics, params=[1.0])
