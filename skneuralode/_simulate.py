"""Integrate the learned vector field with scipy's ``solve_ivp``. No Pyomo here."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.integrate import solve_ivp

from ._mlp import forward, input_jacobian

IMPLICIT_METHODS = {"Radau", "BDF", "LSODA"}


@dataclass
class VectorField:
    """``dx/dt = f(x, u)`` in user units, from a network acting on scaled coordinates."""

    coefs: list
    intercepts: list
    activation: str
    x_mean: np.ndarray
    x_scale: np.ndarray
    t_scale: float
    u_mean: np.ndarray | None = None
    u_scale: np.ndarray | None = None

    def _inputs(self, x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
        xs = (x - self.x_mean) / self.x_scale
        if u is None:
            return xs
        return np.concatenate([xs, (u - self.u_mean) / self.u_scale], axis=-1)

    def __call__(self, x: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """Time derivative for states ``x`` of shape (n, d) (and inputs ``u`` (n, m))."""
        out = forward(self.coefs, self.intercepts, self._inputs(x, u), self.activation)
        return out * self.x_scale / self.t_scale

    def jacobian(self, x: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """d f / d x for one state vector (d,) -> (d, d)."""
        J = input_jacobian(self.coefs, self.intercepts, self._inputs(x, u), self.activation)
        d = len(x)
        return J[:, :d] * (self.x_scale[:, None] / self.x_scale[None, :]) / self.t_scale


def input_function(t: np.ndarray, u):
    """Turn ``u`` (callable, or samples aligned with ``t``) into ``u(time) -> (m,)``.

    Samples are interpolated linearly in time and held constant outside ``t``.
    """
    if u is None:
        return None
    if callable(u):
        return lambda s: np.atleast_1d(np.asarray(u(s), dtype=float))
    cols = [np.asarray(u[:, k]) for k in range(u.shape[1])]
    return lambda s: np.array([np.interp(s, t, c) for c in cols])


def simulate(
    field: VectorField, t: np.ndarray, x0: np.ndarray, u=None, method="LSODA", options=None
) -> np.ndarray:
    """States at times ``t`` (len(t), d) starting from ``x0`` at ``t[0]``.

    If the integrator fails (e.g. the learned field blows up), the remaining rows are
    NaN and a ``RuntimeWarning`` says where it stopped.
    """
    u_of_t = input_function(t, u)

    def rhs(s, x):
        us = None if u_of_t is None else u_of_t(s)[None, :]
        return field(x[None, :], us)[0]

    kwargs = {"rtol": 1e-7, "atol": 1e-9, **(options or {})}
    if method in IMPLICIT_METHODS:
        kwargs["jac"] = lambda s, x: field.jacobian(x, None if u_of_t is None else u_of_t(s))
    out = np.full((len(t), len(x0)), np.nan)
    out[0] = x0
    if len(t) == 1:
        return out
    sol = solve_ivp(rhs, (t[0], t[-1]), x0, method=method, t_eval=t, **kwargs)
    out[: sol.y.shape[1]] = sol.y.T
    if not sol.success:
        warnings.warn(
            f"The learned ODE could not be integrated past t={sol.t[-1]:.6g} "
            f"({sol.message}); later predictions are NaN.",
            RuntimeWarning,
            stacklevel=3,
        )
    return out
