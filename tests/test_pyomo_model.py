"""The Pyomo model equals the numpy network and discretization at fixed values (no solve)."""

import numpy as np
import pyomo.environ as pyo
import pytest

from skneuralode import CollocationNeuralODE
from skneuralode._problem import constraint_residuals, objective, observation_residuals
from skneuralode._pyomo_model import build_model
from skneuralode.datasets import van_der_pol

ORACLE = 1e-10


@pytest.mark.parametrize(
    "params,with_u",
    [
        (dict(activation="tanh"), False),
        (dict(activation="sigmoid", depth=2, scheme="legendre", degree=2), False),
        (dict(activation="softplus", scheme="chebyshev"), True),
        (dict(activation="identity", depth=3, degree=4), True),
    ],
)
def test_model_matches_numpy_oracle(params, with_u):
    b = van_der_pol(25, (0, 5), forcing_amplitude=0.5, return_bunch=True)
    est = CollocationNeuralODE(width=5, random_state=0, **params)
    data, _, _ = est._prepare(b.t, b.X, b.u if with_u else None, None)
    m = build_model(data)
    rng = np.random.RandomState(3)
    theta = rng.normal(size=len(data.theta0))
    states = rng.normal(size=data.states0.shape)
    for p in m.PARAMS:
        m.theta[p].set_value(theta[p])
    for n in m.NODES:
        for i in m.STATES:
            m.x[n, i].set_value(states[n, i])
    pyomo_res = np.array(
        [[pyo.value(m.collocation[c, i].body) for i in m.STATES] for c in m.COLLOC]
    )
    # the oracle: the numpy network at the collocation nodes, through the discretization
    colloc, cont = constraint_residuals(data, theta, states)
    np.testing.assert_allclose(pyomo_res, colloc, atol=ORACLE)
    assert pyo.value(m.obj) == pytest.approx(objective(data, theta, states), rel=1e-12)
    fit = observation_residuals(data, states)
    expected = np.mean(fit**2) + est.alpha * np.sum(theta[data.weight_mask] ** 2)
    assert objective(data, theta, states) == pytest.approx(expected, rel=1e-14)
    if params.get("scheme") == "legendre":
        body = np.array([[pyo.value(m.continuity[k, i].body) for i in m.STATES] for k in m.CONT])
        np.testing.assert_allclose(body, cont, atol=ORACLE)


def test_initial_point_is_loaded_and_sizes_are_as_documented():
    t, X = van_der_pol(30, (0, 5))
    est = CollocationNeuralODE(width=4, degree=2, state_bound=5.0, weight_bound=20.0)
    data, info, _ = est._prepare(t, X, None, None)
    m = build_model(data)
    assert m.nvariables() == 2 * (1 + 29 * 2) + (3 * 4 + 5 * 2)
    assert m.nconstraints() == 2 * 29 * 2
    np.testing.assert_array_equal([m.theta[p].value for p in m.PARAMS], data.theta0)
    assert m.x[0, 0].bounds == (-5.0, 5.0) and m.theta[0].bounds == (-20.0, 20.0)
    # the smoothed initial states reproduce the (noise-free) data closely
    assert np.max(np.abs(observation_residuals(data, data.states0))) < 1e-2


def test_public_build_model_carries_scaling():
    t, X = van_der_pol(20, (0, 4))
    est = CollocationNeuralODE(width=3)
    m = est.build_model(t, X)
    assert isinstance(m, pyo.ConcreteModel)
    np.testing.assert_allclose([pyo.value(m.x_mean[i]) for i in range(2)], X.mean(axis=0))
    np.testing.assert_allclose([pyo.value(m.x_scale[i]) for i in range(2)], X.std(axis=0))
    assert pyo.value(m.t_scale) > 0
    assert not hasattr(est, "coefs_")  # building does not fit
