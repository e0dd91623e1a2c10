"""Time-unit and offset invariance (issue 21, items 1 and 2): the fit works in standardized
coordinates (the smoothing spline on ``(t - t[0]) / median(diff(t))``, the states on
``(x - mean) / std``) and ``predict``/``score``/the discretization check integrate there,
so a change of the time unit (1e-12 ... 1e6) or an offset of the states (up to 1e12) or
of the times (seconds since 1970) gives the same model up to round-off.

"Round-off" is that of the data themselves: ``X + 1e12`` is stored to +-6e-5 (half an
ulp of 1e12), so a state of standard deviation 1.4 is only known to 4e-5 relative there;
the tolerances below are 1e-6 plus a small multiple of ``eps * offset / spread``.
"""

import warnings

import numpy as np
import pytest

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import van_der_pol

EPS = np.finfo(float).eps
T, X = van_der_pol(30, (0, 6), noise=0.02, random_state=0)


def _fit(t, X):
    model = CollocationNeuralODE(width=8, alpha=1e-4, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DiscretizationWarning, no smoothing warning
        model.fit(t, X)
    return model


@pytest.fixture(scope="module")
def reference():
    model = _fit(T, X)
    return model, model.predict(T, X[0])


def _weights(model):
    return np.concatenate([a.ravel() for a in model.coefs_ + model.intercepts_])


def _assert_same_model(model, ref, pred, ref_pred, tol):
    assert model.solver_status_ == ref.solver_status_ == "optimal"
    assert model.n_iter_ == ref.n_iter_
    # the network acts on scaled coordinates: its weights are unit-free
    np.testing.assert_allclose(_weights(model), _weights(ref), rtol=0, atol=10 * tol)
    np.testing.assert_allclose(pred, ref_pred, rtol=0, atol=tol * X.std())
    assert abs(model.discretization_error_ - ref.discretization_error_) < max(tol, 1e-6)


@pytest.mark.parametrize("unit", [1e-12, 1e-10, 1e-3, 1e6])
def test_time_unit_does_not_change_the_model(reference, unit):
    # before: t * 1e-10 smoothed to a constant (GCV on raw times), t_scale_ 2e8, a flat
    # model with training MSE = the data's variance, status optimal, no warning
    ref, ref_pred = reference
    model = _fit(T * unit, X)
    assert model.scaling_.t_scale / unit == pytest.approx(ref.scaling_.t_scale, rel=1e-9)
    assert model.train_mse_ == pytest.approx(ref.train_mse_, rel=1e-6)
    _assert_same_model(model, ref, model.predict(T * unit, X[0]), ref_pred, 1e-6)


@pytest.mark.parametrize("offset", [1e6, 1e9, 1e12])
def test_state_offset_does_not_change_the_model(reference, offset):
    # before: X + 1e9 predicted with errors up to 7.6 (amplitude 2): the integrator's
    # relative tolerance applied to the offset values; the discretization check warned
    ref, ref_pred = reference
    model = _fit(T, X + offset)
    tol = 1e-6 + 10 * EPS * offset / X.std()
    pred = model.predict(T, X[0] + offset) - offset
    _assert_same_model(model, ref, pred, ref_pred, tol)
    assert model.score(T, X + offset) == pytest.approx(ref.score(T, X), abs=tol)


def test_time_offset_does_not_change_the_model(reference):
    # times in seconds since 1970 (1.7e9): t is stored to 1e-7, 5e-7 of its spacing
    ref, ref_pred = reference
    offset = 1.7e9
    model = _fit(T + offset, X)
    tol = 1e-6 + 10 * EPS * offset / np.median(np.diff(T))
    _assert_same_model(model, ref, model.predict(T + offset, X[0]), ref_pred, tol)


def test_user_atol_is_in_the_units_of_the_states(reference):
    """A given ``atol`` is converted to scaled units (atol / x_scale), ``rtol`` applies to
    the scaled states: the same options give the same simulation at any offset and unit."""
    ref, _ = reference
    options = {"rtol": 1e-4, "atol": 1e-6 * X.std(axis=0)}
    ref.set_params(integrator_options=options)
    base = ref.predict(T, X[0])
    model = _fit(T * 1e-6, X * 1e3 + 1e9)
    model.set_params(integrator_options={"rtol": 1e-4, "atol": options["atol"] * 1e3})
    pred = (model.predict(T * 1e-6, X[0] * 1e3 + 1e9) - 1e9) / 1e3
    ref.set_params(integrator_options=None)
    np.testing.assert_allclose(pred, base, rtol=0, atol=1e-5)


def test_a_small_spread_on_a_large_offset_is_not_taken_for_a_constant():
    """Standardization keeps a state of standard deviation 0.1 on an offset of 1e12 (it
    was taken for a constant below 1e-12 of the magnitude, i.e. std 1 here), and a truly
    constant column (round-off only) still gets scale 1."""
    from skneuralode._scaling import standardize

    col = np.sin(np.linspace(0, 6, 30))
    A = np.c_[0.1 * col / col.std() + 1e12, np.full(30, 1e12) + np.r_[0.0, 1.2e-4].repeat(15)]
    mean, scale = standardize(A)
    assert scale[0] == pytest.approx(0.1, rel=1e-3)
    assert mean[0] == pytest.approx(1e12 + 0.1 * col.mean() / col.std(), abs=1e-3)
    assert scale[1] == 1.0  # one round-off unit of 1e12: a constant
