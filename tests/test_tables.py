"""Every row of the library's tables is complete: activations, collocation schemes, the
parameter layout and IPOPT's statuses. Adding a row is adding a case here for free."""

import subprocess
import sys

import numpy as np
import pyomo.environ as pyo
import pytest

from skneuralode import _mlp
from skneuralode._activations import ACTIVATIONS
from skneuralode._collocation import SCHEMES, build_discretization, collocation_residuals
from skneuralode._status import MESSAGES, TABLE

#: Central differences with step FD_STEP: truncation O(step^2), round-off O(1e-16 / step).
FD_STEP = 1e-6
FD_TOL = 1e-8
#: Pyomo's and numpy's formulas of one activation differ in round-off only.
PYOMO_TOL = 1e-12
#: Polynomials of the scheme's degree are differentiated exactly, up to round-off.
EXACT = 1e-9

POINTS = np.linspace(-4.0, 4.0, 17)


# ---------------------------------------------------------------- activations
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(name):
    act = ACTIVATIONS[name]
    central = lambda f: (f(POINTS + FD_STEP) - f(POINTS - FD_STEP)) / (2 * FD_STEP)  # noqa: E731
    np.testing.assert_allclose(act.first(POINTS), central(act.value), rtol=0, atol=FD_TOL)
    np.testing.assert_allclose(act.second(POINTS), central(act.first), rtol=0, atol=FD_TOL)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_with_derivatives_is_bit_identical(name):
    act = ACTIVATIONS[name]
    fused = act.with_derivatives(POINTS)
    for got, alone in zip(fused, (act.value, act.first, act.second)):
        np.testing.assert_array_equal(got, alone(POINTS))


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_pyomo_form_equals_numpy(name):
    act = ACTIVATIONS[name]
    m = pyo.ConcreteModel()
    m.z = pyo.Var()
    expr = act.pyomo(m.z)
    for z in POINTS:
        m.z.set_value(float(z))
        assert pyo.value(expr) == pytest.approx(float(act.value(z)), rel=PYOMO_TOL, abs=PYOMO_TOL)


def test_activations_do_not_import_pyomo():
    code = (
        "import sys, skneuralode._mlp, skneuralode._activations; "
        "sys.exit(any(m.split('.')[0] == 'pyomo' for m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -------------------------------------------------------------------- schemes
@pytest.mark.parametrize("name", sorted(SCHEMES))
def test_scheme_differentiates_its_polynomials_exactly(name):
    row = SCHEMES[name]
    assert row.name == name
    rng = np.random.RandomState(0)
    t = np.sort(rng.uniform(0.0, 2.0, size=9))
    t[0], t[-1] = 0.0, 2.0
    degree, n_elements = 3, 4
    disc = build_discretization(t, [np.arange(len(t))], name, degree, n_elements)
    # a global polynomial's degree is n_elements; a finite element's is its `degree`
    p = np.polynomial.Polynomial(
        rng.normal(size=1 + (n_elements if row.global_polynomial else degree))
    )
    states = np.column_stack([p(disc.node_times), -p(disc.node_times)])
    dp = p.deriv()(disc.node_times[disc.colloc_node])
    colloc, cont = collocation_residuals(disc, states, np.column_stack([dp, -dp]))
    np.testing.assert_allclose(colloc, 0.0, atol=EXACT)
    np.testing.assert_allclose(cont, 0.0, atol=EXACT)
    observed = disc.apply(disc.obs_idx, disc.obs_w, states)
    np.testing.assert_allclose(observed[:, 0], p(t), atol=EXACT)
    joins = 0 if row.shares_start_node or row.global_polynomial else n_elements - 1
    assert len(disc.cont_node) == joins


# --------------------------------------------------------------------- layout
def test_layout_round_trip_and_indices():
    sizes = [3, 5, 4, 2]
    layout = _mlp.Layout(sizes)
    theta = np.arange(layout.n_params, dtype=float)
    assert layout.n_params == _mlp.n_parameters(sizes) == 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2
    coefs, intercepts = layout.unpack(theta)
    np.testing.assert_array_equal(layout.pack(coefs, intercepts), theta)
    np.testing.assert_array_equal(_mlp.pack(coefs, intercepts), theta)
    assert _mlp.Layout.from_coefs(coefs).sizes == sizes
    mask = np.zeros(layout.n_params, dtype=bool)
    for l in range(1, layout.n_layers + 1):  # noqa: E741
        W, b = coefs[l - 1], intercepts[l - 1]
        k, j = np.indices(W.shape)
        np.testing.assert_array_equal(theta[layout.weight(l, k, j)], W)
        np.testing.assert_array_equal(theta[layout.bias(l, np.arange(len(b)))], b)
        assert layout.before(l) == layout.layer(l).start == layout.weights(l).start
        assert layout.biases(l).stop == layout.layer(l).stop
        mask[layout.weight(l, k, j)] = True
    np.testing.assert_array_equal(layout.weight_mask(), mask)
    np.testing.assert_array_equal(_mlp.weight_mask(sizes), mask)


# ------------------------------------------------------------------- statuses
@pytest.mark.parametrize("row", TABLE, ids=lambda row: str(row.code))
def test_status_row_is_complete(row):
    assert row.kind in {"converged", "stopped", "failed"}
    assert isinstance(row.code, int) and (row.ampl is None or isinstance(row.ampl, int))
    assert isinstance(row.status, str) and row.status
    assert isinstance(row.retry, bool)
    assert isinstance(row.message, str) and row.message.strip()
    if row.kind != "converged":
        assert row.advice.strip(), f"status {row.code} ({row.kind}) gives no advice"


def test_status_codes_are_unique_and_all_have_messages():
    codes = [row.code for row in TABLE]
    assert len(codes) == len(set(codes))
    assert set(MESSAGES) == set(codes)
    assert all(MESSAGES[code] for code in codes)
