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
