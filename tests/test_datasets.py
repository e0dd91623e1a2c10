"""skneuralode.datasets: the two-tank input-output data set."""

import numpy as np
import pytest
from sklearn.utils import Bunch

from skneuralode.datasets import two_tank

# The data are integrated to round-off; a central difference on a grid of step DT_FINE
# has a truncation error of order DT_FINE**2 (the levels' third derivative is O(1e-2)).
DT_FINE = 0.01
ODE_TOLERANCE = 1e-6
NOISE = 0.05


@pytest.fixture(scope="module")
def bunch():
    return two_tank(n_samples=400, noise=NOISE, random_state=0, return_bunch=True)


def test_default_returns_t_y_u():
    t, y, u = two_tank(n_samples=50, random_state=0)
    assert t.shape == (50,) and y.shape == (50, 1) and u.shape == (50, 1)
    np.testing.assert_allclose(t, np.arange(50.0))


def test_bunch_shapes_and_times(bunch):
    assert isinstance(bunch, Bunch)
    n = 400
    assert bunch.t.shape == (n,)
    assert bunch.y.shape == bunch.y_true.shape == bunch.u.shape == (n, 1)
    assert bunch.states.shape == (n, 2)
    np.testing.assert_allclose(np.diff(bunch.t), 1.0)
    np.testing.assert_allclose(two_tank(n_samples=5, dt=0.5, random_state=0)[0], np.arange(5) / 2)


def test_y_true_is_the_lower_tank(bunch):
    np.testing.assert_array_equal(bunch.y_true[:, 0], bunch.states[:, 1])


def test_reproducible_with_random_state():
    a = two_tank(n_samples=200, noise=0.1, random_state=3, return_bunch=True)
    b = two_tank(n_samples=200, noise=0.1, random_state=3, return_bunch=True)
    c = two_tank(n_samples=200, noise=0.1, random_state=4, return_bunch=True)
    for key in ("t", "y", "y_true", "u", "states"):
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a.u, c.u)


def test_noise_does_not_change_the_input_or_the_truth():
    clean = two_tank(n_samples=200, random_state=1, return_bunch=True)
    noisy = two_tank(n_samples=200, noise=0.1, random_state=1, return_bunch=True)
    np.testing.assert_array_equal(clean.u, noisy.u)
    np.testing.assert_array_equal(clean.states, noisy.states)
    np.testing.assert_array_equal(clean.y, clean.y_true)
    assert not np.array_equal(noisy.y, noisy.y_true)


def test_noise_level(bunch):
    residual = bunch.y - bunch.y_true
    assert abs(residual.std() - NOISE) < 0.15 * NOISE
    assert abs(residual.mean()) < 4 * NOISE / np.sqrt(len(residual))


def test_input_is_piecewise_constant_with_holds_in_range():
    hold_range = (10, 40)
    u = two_tank(n_samples=2000, hold_range=hold_range, random_state=2)[2][:, 0]
    switches = np.flatnonzero(np.diff(u)) + 1
    holds = np.diff(np.r_[0, switches, len(u)])
    assert len(switches) > 40
    assert holds[:-1].min() >= hold_range[0] and holds.max() <= hold_range[1]  # last is cut
    assert holds[:-1].min() < 15 and holds.max() > 35  # the range is used
    assert u.min() >= 1.0 and u.max() <= 2.0


def test_levels_stay_positive(bunch):
    assert bunch.states.min() > 0.5
    assert np.all(np.isfinite(bunch.states))


def test_default_start_is_the_steady_state_of_the_middle_level():
    b = two_tank(n_samples=30, u_range=(1.5, 1.5), random_state=0, return_bunch=True)
    np.testing.assert_allclose(b.states, b.states[[0]].repeat(30, axis=0), rtol=1e-9)
    root1 = 1.5  # sqrt(h1) = k4 u / k1 with k4 = k1 = 0.2 (the defaults)
    np.testing.assert_allclose(b.states[0], [root1**2, (root1 * 0.2 / 0.15) ** 2])
    other = two_tank(n_samples=2, k4=0.4, u_range=(1.0, 2.0), random_state=0, return_bunch=True)
    np.testing.assert_allclose(other.states[0], [9.0, 16.0])


def test_ode_holds_on_a_fine_grid():
    k = dict(k1=0.3, k2=0.25, k3=0.2, k4=0.1)
    b = two_tank(
        n_samples=3000, dt=DT_FINE, x0=(1.0, 3.0), hold_range=(30, 60), random_state=5,
        return_bunch=True, **k,
    )  # fmt: skip
    h, u = b.states, b.u[:, 0]
    rate = (h[2:] - h[:-2]) / (2 * DT_FINE)  # at samples 1 .. n-2
    mid = slice(1, -1)
    root = np.sqrt(h[mid])
    rhs = np.column_stack(
        [-k["k1"] * root[:, 0] + k["k4"] * u[mid], k["k2"] * root[:, 0] - k["k3"] * root[:, 1]]
    )
    steady = u[:-2] == u[1:-1]  # the input on [t[j-1], t[j+1]) is one level
    assert steady.sum() > 0.9 * len(steady)
    np.testing.assert_allclose(rate[steady], rhs[steady], atol=ODE_TOLERANCE)
    # across a switch the levels are continuous and only h1's slope jumps
    assert np.abs(np.diff(h, axis=0)).max() < 0.01


def test_explicit_start():
    b = two_tank(n_samples=20, x0=(0.0, 0.0), random_state=0, return_bunch=True)
    np.testing.assert_array_equal(b.states[0], [0.0, 0.0])
    assert np.all(b.states[1:] > 0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_samples=1), "`n_samples` must be an integer >= 2"),
        (dict(n_samples=10.5), "`n_samples` must be an integer >= 2"),
        (dict(dt=0.0), "`dt` must be a positive finite number"),
        (dict(dt=np.inf), "`dt` must be a positive finite number"),
        (dict(k1=-0.1), "`k1` must be a positive finite number"),
        (dict(k3=0.0), "`k3` must be a positive finite number"),
        (dict(k4=np.nan), "`k4` must be a positive finite number"),
        (dict(u_range=(2.0, 1.0)), r"`u_range` must be \(low, high\) with 0 <= low <= high"),
        (dict(u_range=(-1.0, 1.0)), r"`u_range` must be \(low, high\) with 0 <= low <= high"),
        (dict(u_range=1.0), r"`u_range` must be a pair \(low, high\)"),
        (dict(hold_range=(0, 5)), r"`hold_range` must be \(low, high\) integers"),
        (dict(hold_range=(5, 2)), r"`hold_range` must be \(low, high\) integers"),
        (dict(hold_range=(1.5, 3)), r"`hold_range` must be \(low, high\) integers"),
        (dict(hold_range=(1, 2, 3)), r"`hold_range` must be a pair \(low, high\)"),
        (dict(noise=-0.1), "`noise` must be a finite number >= 0"),
        (dict(x0=(1.0, -1.0)), r"`x0` must be two finite levels \(h1, h2\) >= 0"),
        (dict(x0=(1.0,)), r"`x0` must be two finite levels \(h1, h2\) >= 0"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        two_tank(**{"n_samples": 10, "random_state": 0, **kwargs})
