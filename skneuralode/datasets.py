"""Trajectory data sets for examples and tests."""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_ivp
from sklearn.utils import Bunch, check_random_state


def time_grid(n_samples: int, t_span=(0.0, 10.0), grid: str = "uniform") -> np.ndarray:
    """``n_samples`` increasing times on ``t_span``.

    ``grid="uniform"``: equally spaced; ``grid="chebyshev"``: Chebyshev-Gauss-Lobatto
    points (clustered at both ends), the grid of the paper's experiments.
    """
    t0, t1 = map(float, t_span)
    if n_samples < 2 or not t1 > t0:
        raise ValueError(
            f"`n_samples` must be >= 2 and `t_span` increasing; got {n_samples}, {t_span}."
        )
    if grid == "uniform":
        return np.linspace(t0, t1, n_samples)
    if grid == "chebyshev":
        k = np.arange(n_samples)
        s = (1.0 - np.cos(np.pi * k / (n_samples - 1))) / 2.0
        s[0], s[-1] = 0.0, 1.0
        return t0 + (t1 - t0) * s
    raise ValueError(f"`grid` must be 'uniform' or 'chebyshev'; got {grid!r}.")


def van_der_pol(
    n_samples=200,
    t_span=(0.0, 10.0),
    x0=(2.0, 0.0),
    mu=1.0,
    forcing_amplitude=0.0,
    forcing_frequency=1.0,
    grid="uniform",
    noise=0.0,
    t=None,
    random_state=None,
    return_bunch=False,
):
    """Samples of the (forced) Van der Pol oscillator.

    .. math::

        \\dot x_1 = x_2, \\qquad
        \\dot x_2 = \\mu (1 - x_1^2) x_2 - x_1 + A \\cos(\\omega t)

    Parameters
    ----------
    n_samples : int, default=200
        Number of sample times (ignored when ``t`` is given).
    t_span : tuple of float, default=(0.0, 10.0)
        Time interval.
    x0 : tuple of float, default=(2.0, 0.0)
        State at ``t_span[0]`` (or ``t[0]``).
    mu : float, default=1.0
        Damping parameter.
    forcing_amplitude : float, default=0.0
        ``A``; 0 gives the unforced oscillator.
    forcing_frequency : float, default=1.0
        ``omega``.
    grid : {"uniform", "chebyshev"}, default="uniform"
        Sample grid, see :func:`time_grid`.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the returned states.
    t : array-like, default=None
        Explicit sample times (overrides ``n_samples``, ``t_span`` and ``grid``).
    random_state : int, RandomState instance or None, default=None
        Seeds the noise.
    return_bunch : bool, default=False
        Return a :class:`~sklearn.utils.Bunch` with ``t``, ``X`` (noisy), ``X_true``
        (noise-free) and ``u`` (the forcing ``A cos(omega t)``, shape (n, 1)) instead of
        ``(t, X)``.

    Returns
    -------
    t : ndarray of shape (n_samples,)
    X : ndarray of shape (n_samples, 2)
        Or a Bunch, see ``return_bunch``.
    """
    t = time_grid(n_samples, t_span, grid) if t is None else np.asarray(t, dtype=float)

    def rhs(s, x):
        force = forcing_amplitude * np.cos(forcing_frequency * s)
        return [x[1], mu * (1.0 - x[0] ** 2) * x[1] - x[0] + force]

    sol = solve_ivp(
        rhs,
        (t[0], t[-1]),
        np.asarray(x0, float),
        method="DOP853",
        t_eval=t,
        rtol=1e-10,
        atol=1e-12,
    )
    X_true = sol.y.T
    rng = check_random_state(random_state)
    X = X_true + noise * rng.standard_normal(X_true.shape) if noise > 0 else X_true.copy()
    if not return_bunch:
        return t, X
    u = (forcing_amplitude * np.cos(forcing_frequency * t))[:, None]
    return Bunch(t=t, X=X, X_true=X_true, u=u)


def two_tank(
    n_samples=500,
    dt=1.0,
    k1=0.2,
    k2=0.2,
    k3=0.15,
    k4=0.2,
    u_range=(1.0, 2.0),
    hold_range=(10, 40),
    x0=None,
    noise=0.0,
    random_state=None,
    return_bunch=False,
):
    """Input-output samples of a cascaded two-tank system; only the lower tank is measured.

    Water is pumped into the upper tank, which drains into the lower one:

    .. math::

        \\dot h_1 = -k_1 \\sqrt{h_1} + k_4 u, \\qquad
        \\dot h_2 = k_2 \\sqrt{h_1} - k_3 \\sqrt{h_2}

    The pump signal ``u`` is piecewise constant (a zero-order hold on the sample grid):
    a level drawn uniformly from ``u_range`` is held for a random number of samples drawn
    uniformly from ``hold_range``, then the next level is drawn, and so on. Only ``h2`` is
    measured; ``h1`` is a latent state. The ODE is integrated exactly (to round-off) on
    every interval of constant input. At a constant input ``u`` the levels settle at
    ``sqrt(h1) = k4 u / k1`` and ``sqrt(h2) = k2 sqrt(h1) / k3``, with linearized time
    constants ``2 sqrt(h1) / k1`` and ``2 sqrt(h2) / k3``: with the defaults, levels
    between 1 and 7 and time constants of 10 to 36 time units (samples).

    Parameters
    ----------
    n_samples : int, default=500
        Number of samples, at times ``0, dt, 2 dt, ...``.
    dt : float, default=1.0
        Sampling interval.
    k1, k2, k3, k4 : float, default=0.2, 0.2, 0.15, 0.2
        Positive outflow (``k1``, ``k3``), inflow (``k2``) and pump (``k4``) coefficients.
    u_range : tuple of float, default=(1.0, 2.0)
        ``(low, high)``, ``0 <= low <= high``: range of the pump levels.
    hold_range : tuple of int, default=(10, 40)
        ``(low, high)``, ``1 <= low <= high``: each level is held for between ``low`` and
        ``high`` samples (both included).
    x0 : tuple of float, default=None
        Levels ``(h1, h2) >= 0`` at ``t=0``; ``None``: the steady state at the middle of
        ``u_range`` (the operating point), so that every sequence starts inside the range
        its input spans.
    noise : float, default=0.0
        Standard deviation of Gaussian noise added to the measured ``h2``.
    random_state : int, RandomState instance or None, default=None
        Seeds the input signal and then the noise (so one seed gives the same input at
        any noise level).
    return_bunch : bool, default=False
        Return a :class:`~sklearn.utils.Bunch` with ``t``, ``y`` (noisy ``h2``, shape
        (n, 1)), ``y_true`` (noise-free ``h2``, shape (n, 1)), ``u`` (shape (n, 1)) and
        ``states`` (noise-free ``(h1, h2)``, shape (n, 2)) instead of ``(t, y, u)``.

    Returns
    -------
    t : ndarray of shape (n_samples,)
    y : ndarray of shape (n_samples, 1)
        Measured level of the lower tank.
    u : ndarray of shape (n_samples, 1)
        Pump signal; ``u[k]`` acts on ``[t[k], t[k + 1])``.
        Or a Bunch, see ``return_bunch``.

    Examples
    --------
    >>> from skneuralode.datasets import two_tank
    >>> t, y, u = two_tank(n_samples=300, noise=0.02, random_state=0)
    >>> t.shape, y.shape, u.shape
    ((300,), (300, 1), (300, 1))
    """
    _check_two_tank_args(n_samples, dt, (k1, k2, k3, k4), u_range, hold_range, noise)
    rng = check_random_state(random_state)
    u = _zero_order_hold(n_samples, u_range, hold_range, rng)
    k1, k2, k3, k4 = map(float, (k1, k2, k3, k4))
    if x0 is None:
        root1 = k4 * np.mean(u_range) / k1
        x0 = (root1**2, (k2 * root1 / k3) ** 2)
    x0 = _check_levels(x0)
    t = dt * np.arange(n_samples, dtype=float)

    def rhs(_, h, level):
        r1, r2 = np.sqrt(np.maximum(h, 0.0))
        return [-k1 * r1 + k4 * level, k2 * r1 - k3 * r2]

    states = np.empty((n_samples, 2))
    states[0] = x0
    switches = np.r_[0, np.flatnonzero(np.diff(u)) + 1, n_samples]
    for start, stop in zip(switches[:-1], switches[1:]):
        end = min(stop, n_samples - 1)  # the segment's input acts up to t[stop]
        if end == start:
            continue
        sol = solve_ivp(
            rhs,
            (t[start], t[end]),
            states[start],
            method="DOP853",
            t_eval=t[start + 1 : end + 1],
            args=(u[start],),
            rtol=1e-10,
            atol=1e-12,
        )
        states[start + 1 : end + 1] = sol.y.T
    y_true = states[:, 1:].copy()
    y = y_true + noise * rng.standard_normal(y_true.shape) if noise > 0 else y_true.copy()
    u = u[:, None]
    if not return_bunch:
        return t, y, u
    return Bunch(t=t, y=y, y_true=y_true, u=u, states=states)


def _zero_order_hold(n_samples: int, u_range, hold_range, rng) -> np.ndarray:
    """Levels from ``u_range`` held for ``hold_range`` samples each -> (n_samples,)."""
    u = np.empty(n_samples)
    start = 0
    while start < n_samples:
        hold = rng.randint(int(hold_range[0]), int(hold_range[1]) + 1)
        u[start : start + hold] = rng.uniform(*u_range)
        start += hold
    return u


def _check_two_tank_args(n_samples, dt, ks, u_range, hold_range, noise) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise ValueError(f"`n_samples` must be an integer >= 2; got {n_samples!r}.")
    if n_samples < 2:
        raise ValueError(f"`n_samples` must be an integer >= 2; got {n_samples}.")
    if not (np.isfinite(dt) and dt > 0):
        raise ValueError(f"`dt` must be a positive finite number; got {dt!r}.")
    for name, value in zip(("k1", "k2", "k3", "k4"), ks):
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"`{name}` must be a positive finite number; got {value!r}.")
    low, high = _pair(u_range, "u_range")
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low <= high):
        raise ValueError(
            f"`u_range` must be (low, high) with 0 <= low <= high, both finite; got {u_range!r}."
        )
    low, high = _pair(hold_range, "hold_range")
    integers = all(float(v).is_integer() for v in (low, high))
    if not (integers and 1 <= low <= high):
        raise ValueError(
            f"`hold_range` must be (low, high) integers with 1 <= low <= high; got {hold_range!r}."
        )
    if not (np.isfinite(noise) and noise >= 0):
        raise ValueError(f"`noise` must be a finite number >= 0; got {noise!r}.")


def _pair(value, name: str) -> tuple[float, float]:
    arr = np.asarray(value, dtype=float)
    if arr.shape != (2,):
        raise ValueError(f"`{name}` must be a pair (low, high); got {value!r}.")
    return float(arr[0]), float(arr[1])


def _check_levels(x0) -> np.ndarray:
    arr = np.asarray(x0, dtype=float)
    if arr.shape != (2,) or not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"`x0` must be two finite levels (h1, h2) >= 0; got {x0!r}.")
    return arr
