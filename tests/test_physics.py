"""The expression layer for known physics (skneuralode._physics, skneuralode.physics):
exact derivatives against finite differences, the Pyomo form against numpy, pickling,
and every error a bad physics function gets."""

import ast
import inspect
import math
import pickle

import numpy as np
import pyomo.environ as pyo
import pytest
import sympy

from skneuralode import _physics
from skneuralode import physics as ph
from skneuralode._physics import FUNCTIONS, Physics, trace_physics
from skneuralode.physics import cos, exp, log, sigmoid, sin, softplus, sqrt, tanh

#: Central differences with step FD_STEP: truncation O(step^2), round-off O(1e-16 / step).
FD_STEP = 1e-6
FD_TOL = 1e-8
#: Pyomo's and numpy's forms of one expression differ in round-off only.
PYOMO_TOL = 1e-12
N_POINTS = 7


# ------------------------------------------------------------ physics functions
def tanks(x, u, p, nn):
    h1, h2 = x
    return [p["k4"] * u[0] - p["k1"] * sqrt(h1), p["k2"] * sqrt(h1) + nn[0]]


def lotka_volterra(x, u, p, nn):
    prey, predator = x
    return [
        p["alpha"] * prey - p["beta"] * prey * predator + nn[0],
        -p["gamma"] * predator + p["delta"] * prey * predator + nn[1],
    ]


def every_function(x, u, p, nn):
    """Every row of FUNCTIONS, powers and constants: one case covers the table."""
    return [
        exp(-p["a"] * x[0]) * sin(u[0]) + log(1 + x[1] ** 2) * tanh(nn[0]),
        sigmoid(x[0] * x[2] - u[1]) * cos(p["b"] * x[1]) + softplus(p["a"] - x[2]) / sqrt(x[0]),
        x[0] ** p["b"] + x[1] ** -2 / 3 + x[2] ** 1.5 + u[0] * u[1] - 2.5 + math.pi,
    ]


def constants(x, u, p, nn):
    return [0, p["k"], 2.0 * x[0]]


#: name -> (function, n_states, n_inputs, param_names, n_network, state range)
CASES = {
    "tanks": (tanks, 2, 1, ("k1", "k2", "k4"), 1, (0.5, 2.0)),
    "lotka_volterra": (lotka_volterra, 2, 0, ("alpha", "beta", "gamma", "delta"), 2, (0.2, 3.0)),
    "every_function": (every_function, 3, 2, ("a", "b"), 1, (0.5, 2.0)),
    "constants": (constants, 3, 0, ("k",), 0, (-1.0, 1.0)),
}


def traced(case: str) -> Physics:
    func, n_states, n_inputs, names, n_network, _ = CASES[case]
    return trace_physics(func, n_states, n_inputs, names, n_network)


def points(case: str, seed: int = 0):
    """X, U, per-point P and NN inside the physics' domain."""
    physics, (low, high) = traced(case), CASES[case][-1]
    rng = np.random.default_rng(seed)
    X = rng.uniform(low, high, (N_POINTS, physics.n_states))
    U = rng.uniform(-1.0, 1.0, (N_POINTS, physics.n_inputs))
    P = rng.uniform(0.5, 1.5, (N_POINTS, physics.n_params))
    NN = rng.normal(size=(N_POINTS, physics.n_network))
    return physics, X, U, P, NN


def split(physics: Physics, W: np.ndarray):
    """(n, n_w) -> X, U, P, NN (P per point)."""
    g = physics.groups
    return W[:, g["x"]], W[:, g["u"]], W[:, g["p"]], W[:, g["nn"]]


def central(fun, W: np.ndarray) -> np.ndarray:
    """d fun(W) / dW[:, j] per point: (n, ..., n_w)."""
    slopes = []
    for j in range(W.shape[1]):
        step = np.zeros_like(W)
        step[:, j] = FD_STEP
        slopes.append((fun(W + step) - fun(W - step)) / (2 * FD_STEP))
    return np.stack(slopes, axis=-1)


# ------------------------------------------------------------ derivatives
@pytest.mark.parametrize("case", sorted(CASES))
def test_jacobian_matches_finite_differences(case):
    physics, X, U, P, NN = points(case)
    W = np.hstack([X, U, P, NN])
    expected = central(lambda W: physics.value(*split(physics, W)), W)
    got = physics.jacobian(X, U, P, NN)
    assert got.shape == (N_POINTS, physics.n_states, physics.n_w)
    np.testing.assert_allclose(got, expected, rtol=0, atol=FD_TOL)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hessian_contraction_matches_finite_differences_of_the_jacobian(case):
    physics, X, U, P, NN = points(case)
    V = np.random.default_rng(1).normal(size=(N_POINTS, physics.n_states))
    W = np.hstack([X, U, P, NN])
    weighted = lambda W: np.einsum("ni,nij->nj", V, physics.jacobian(*split(physics, W)))  # noqa: E731
    got = physics.hessian(X, U, P, NN, V)
    assert got.shape == (N_POINTS, physics.n_w, physics.n_w)
    np.testing.assert_array_equal(got, np.swapaxes(got, 1, 2))
    np.testing.assert_allclose(got, central(weighted, W), rtol=0, atol=FD_TOL)


def test_structure_of_the_two_tanks():
    physics = traced("tanks")  # w = (h1, h2, u0, k1, k2, k4, nn0)
    rows, cols = physics.jacobian_structure
    assert list(zip(rows.tolist(), cols.tolist())) == [
        (0, 0), (0, 2), (0, 3), (0, 5), (1, 0), (1, 4), (1, 6)
    ]  # fmt: skip
    rows, cols = physics.hessian_structure
    assert np.all(rows >= cols)
    assert list(zip(rows.tolist(), cols.tolist())) == [(0, 0), (3, 0), (4, 0), (5, 2)]
    X, U, P, NN = points("tanks")[1:]
    dense = physics.jacobian(X, U, P, NN)
    outside = np.ones(dense.shape[1:], bool)
    outside[physics.jacobian_structure] = False
    assert not dense[:, outside].any()


def test_constants_broadcast_to_every_point():
    physics = traced("constants")
    X = np.ones((5, 3))
    np.testing.assert_array_equal(physics.value(X, None, [4.0], None), [[0.0, 4.0, 2.0]] * 5)
    assert physics.jacobian_values(X, None, [4.0], None).shape == (5, 2)
    assert physics.hessian_values(X, None, [4.0], None, np.ones((5, 3))).shape == (5, 0)


def test_one_point_as_a_simulation_asks():
    physics, X, U, P, NN = points("every_function")
    one = physics.value(X[:1], U[:1], P[0], NN[:1])
    assert one.shape == (1, 3)
    np.testing.assert_array_equal(one[0], physics.value(X, U, P, NN)[0])


def test_shared_and_per_point_parameters_agree():
    physics, X, U, _, NN = points("every_function")
    shared = np.array([0.7, 1.3])
    per_point = np.tile(shared, (N_POINTS, 1))
    by_name = {"a": 0.7, "b": 1.3}
    for method in (physics.value, physics.jacobian):
        np.testing.assert_array_equal(method(X, U, shared, NN), method(X, U, per_point, NN))
        np.testing.assert_array_equal(method(X, U, shared, NN), method(X, U, by_name, NN))


@pytest.mark.parametrize("case", sorted(CASES))
def test_traced_values_equal_the_function_on_numbers(case):
    physics, X, U, P, NN = points(case)
    func = CASES[case][0]
    for n in range(N_POINTS):
        p = dict(zip(physics.param_names, P[n]))
        np.testing.assert_allclose(
            physics.value(X, U, P, NN)[n], func(X[n], U[n], p, NN[n]), rtol=1e-14, atol=1e-14
        )


def test_helpers_on_numbers():
    z = np.linspace(-3.0, 3.0, 7)
    for name in ("tanh", "sin", "cos", "exp", "sigmoid", "softplus"):
        np.testing.assert_array_equal(getattr(ph, name)(z), FUNCTIONS[name].numpy(z))
    assert sqrt(4.0) == 2.0 and log(1.0) == 0.0 and sigmoid(0.0) == 0.5
    assert softplus(0.0) == pytest.approx(math.log(2.0), rel=1e-15)
    assert sorted(ph.__all__) == sorted(FUNCTIONS)


# ------------------------------------------------------------ Pyomo form
@pytest.mark.parametrize("case", sorted(CASES))
def test_pyomo_expressions_equal_numpy(case):
    physics, X, U, P, NN = points(case)
    m = pyo.ConcreteModel()
    m.x = pyo.Var(range(physics.n_states))
    m.p = pyo.Var(physics.param_names)
    m.z = pyo.Var(range(physics.n_network))
    m.u = pyo.Param(range(physics.n_inputs), mutable=True, initialize=0.0)
    nn = [2.0 * m.z[k] for k in range(physics.n_network)]  # any Pyomo expression
    rates = physics.pyomo_expressions(m.x, m.u, m.p, nn)  # indexed components as they are
    expected = physics.value(X, U, P, NN)
    for n in range(N_POINTS):
        for i, v in enumerate(X[n]):
            m.x[i].set_value(v)
        for i, v in enumerate(U[n]):
            m.u[i].set_value(v)
        for name, v in zip(physics.param_names, P[n]):
            m.p[name].set_value(v)
        for k, v in enumerate(NN[n]):
            m.z[k].set_value(v / 2.0)
        got = [pyo.value(r) for r in rates]
        np.testing.assert_allclose(got, expected[n], rtol=PYOMO_TOL, atol=PYOMO_TOL)


def test_pyomo_expressions_check_their_arguments():
    with pytest.raises(ValueError, match="nn must have 1 entries; got 0"):
        traced("tanks").pyomo_expressions([1.0, 1.0], [1.0], [1.0, 1.0, 1.0], [])


# ------------------------------------------------------------ pickling
def test_pickle_round_trip_evaluates_bit_identically():
    physics, X, U, P, NN = points("tanks")
    V = np.ones((N_POINTS, 2))
    before = [physics.value(X, U, P, NN), physics.jacobian(X, U, P, NN)]
    before.append(physics.hessian(X, U, P, NN, V))
    copy = pickle.loads(pickle.dumps(physics))  # after evaluation: numpy code is cached
    assert copy == physics and "_derivatives" not in vars(copy)
    after = [copy.value(X, U, P, NN), copy.jacobian(X, U, P, NN), copy.hessian(X, U, P, NN, V)]
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


def test_a_traced_lambda_pickles_too():
    physics = trace_physics(lambda x, u, p, nn: [-p["k"] * x[0]], 1, 0, ["k"])
    copy = pickle.loads(pickle.dumps(physics))
    assert copy.formulas() == ['dx[0]/dt = -p["k"]*x[0]']


def test_physics_modules_import_pyomo_only_inside_functions():
    for module in (_physics, ph):  # predict must not need Pyomo
        tree = ast.parse(inspect.getsource(module))
        top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
        names = [a.name for n in top for a in n.names] + [
            n.module or "" for n in top if isinstance(n, ast.ImportFrom)
        ]
        assert not [n for n in names if n.split(".")[0] == "pyomo"]


# ------------------------------------------------------------ errors
def two_rates(x, u, p, nn):
    return [x[1], -x[0]]


def test_wrong_number_of_derivatives():
    with pytest.raises(ValueError, match="'two_rates' must return n_states=3 derivatives; got 2"):
        trace_physics(two_rates, 3)


def test_a_single_expression_is_not_a_list():
    with pytest.raises(TypeError, match=r"must return a list of n_states=1 derivatives; got Mul"):
        trace_physics(lambda x, u, p, nn: -2 * x[0], 1)


def test_a_derivative_that_is_not_an_expression():
    with pytest.raises(TypeError, match="derivative 1 is NoneType None; expected a number"):
        trace_physics(lambda x, u, p, nn: [x[0], None], 2)


def test_unknown_parameter_name():
    message = "unknown physical parameter 'k9'; the known names are 'k1', 'k2', 'k4'"
    with pytest.raises(ValueError, match=message):
        trace_physics(lambda x, u, p, nn: [p["k9"] * x[0], x[1]], 2, 1, ["k1", "k2", "k4"], 1)


@pytest.mark.parametrize(
    "func, message",
    [
        (lambda x, u, p, nn: [x[2], x[0]], r"x\[2\] is out of range: x has n_states=2 entries"),
        (lambda x, u, p, nn: [u[1], x[0]], r"u\[1\] is out of range: u has n_inputs=1 entries"),
        (lambda x, u, p, nn: [nn[1], x[0]], r"nn\[1\] is out of range: nn has n_network=1"),
    ],
)
def test_index_out_of_range(func, message):
    with pytest.raises(ValueError, match=message):
        trace_physics(func, 2, 1, [], 1)


def test_unpacking_the_wrong_number_of_states():
    message = "raised ValueError when traced with n_states=3.*too many values to unpack"
    with pytest.raises(ValueError, match=message):
        trace_physics(tanks, 3, 1, ["k1", "k2", "k4"], 1)


def math_sqrt(x, u, p, nn):
    return [-math.sqrt(x[0])]


def numpy_sqrt(x, u, p, nn):
    return [-np.sqrt(x[0])]


@pytest.mark.parametrize(
    "func, message",
    [
        (
            math_sqrt,
            r"at `return \[-math.sqrt\(x\[0\]\)\]`.*"
            "use skneuralode.physics.sqrt instead of math.sqrt",
        ),
        (numpy_sqrt, "use skneuralode.physics.sqrt instead of np.sqrt"),
        (lambda x, u, p, nn: [np.exp(x[0])], "use skneuralode.physics.exp instead of"),
    ],
)
def test_math_and_numpy_functions_say_what_to_use(func, message):
    with pytest.raises(TypeError, match="(?i)" + message):
        trace_physics(func, 1)


def test_branching_on_a_state():
    with pytest.raises(TypeError, match="Python branches on the arguments"):
        trace_physics(lambda x, u, p, nn: [x[0] if x[0] > 0 else 0], 1)


@pytest.mark.parametrize("function", [sympy.gamma, sympy.Abs, sympy.atan])
def test_unsupported_sympy_function_is_named(function):
    name = function.__name__
    with pytest.raises(TypeError, match=f"derivative 0 uses {name}, which is not supported"):
        trace_physics(lambda x, u, p, nn: [function(x[0])], 1)


def test_foreign_symbols_and_non_finite_constants():
    with pytest.raises(ValueError, match="uses the symbol a, which is none of x, u, p, nn"):
        trace_physics(lambda x, u, p, nn: [sympy.Symbol("a") * x[0]], 1)
    with pytest.raises(ValueError, match="derivative 0 contains the non-finite constant zoo"):
        trace_physics(lambda x, u, p, nn: [x[0] / 0], 1)
    with pytest.raises(ValueError, match="derivative 0 contains the non-finite constant nan"):
        trace_physics(lambda x, u, p, nn: [x[0] * float("nan")], 1)


def test_bad_callable_sizes_and_names():
    with pytest.raises(TypeError, match="physics must be callable as func.*got 3"):
        trace_physics(3, 1)
    with pytest.raises(ValueError, match="n_states must be an integer >= 1; got 0"):
        trace_physics(tanks, 0)
    with pytest.raises(TypeError, match=r"got the string 'k1'. Write \('k1',\)"):
        trace_physics(tanks, 2, 1, "k1", 1)
    with pytest.raises(ValueError, match="param_names must be distinct; 'k1' appears twice"):
        trace_physics(tanks, 2, 1, ["k1", "k1", "k4"], 1)


def test_points_of_the_wrong_shape():
    physics = traced("tanks")
    with pytest.raises(ValueError, match=r"U must have shape \(2, 1\); got \(2,\)"):
        physics.value(np.ones((2, 2)), np.ones(2), [1.0, 1.0, 1.0], np.ones((2, 1)))
    with pytest.raises(ValueError, match=r"P must have shape \(3,\) or \(n_points, 3\)"):
        physics.value(np.ones((2, 2)), np.ones((2, 1)), [1.0, 1.0], np.ones((2, 1)))
    with pytest.raises(ValueError, match="P has no value for the physical parameter 'k4'"):
        physics.value(np.ones((2, 2)), np.ones((2, 1)), {"k1": 1.0, "k2": 1.0}, np.ones((2, 1)))


def test_check_finite_names_the_rate_and_the_point():
    physics = traced("tanks")
    X = np.array([[1.0, 1.0], [-0.5, 1.0]])
    U, P = np.ones((2, 1)), [1.0, 1.0, 1.0]
    message = (
        r'dx\[0\]/dt = -p\["k1"\]\*sqrt\(x\[0\]\) \+ p\["k4"\]\*u\[0\] '
        r"is nan at point 1 \(x=\[-0.5, 1.0\]"
    )
    with pytest.raises(ValueError, match=message):
        physics.check_finite(X, U, P)
    with pytest.raises(ValueError, match=r"d\(dx\[0\]/dt\)/dx\[0\] is -inf at point 0"):
        physics.check_finite(np.array([[0.0, 1.0]]), U[:1], P)
    physics.check_finite(np.abs(X), U, P)  # finite: no error
