"""Integrate the learned vector field with scipy's ``solve_ivp``. No Pyomo here."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.integrate import BDF, DOP853, LSODA, RK23, RK45, Radau

from ._mlp import forward, input_jacobian
from ._validation import check_integrator_options

IMPLICIT_METHODS = {"Radau", "BDF", "LSODA"}
METHODS = {
    "RK45": RK45,
    "RK23": RK23,
    "DOP853": DOP853,
    "Radau": Radau,
    "BDF": BDF,
    "LSODA": LSODA,
}
DIVERGED = 1e100  # |scaled state| at which a simulation has blown up
#: Integrator steps a simulation may take: ``MAX_STEPS_PER_OUTPUT`` per output time, at
#: least ``MIN_MAX_STEPS``. A learned field that is extremely stiff somewhere (steps of
#: 1e-12 of the span, for ever) is stopped there instead of hanging ``fit``'s check,
#: ``predict`` or ``score``.
MAX_STEPS_PER_OUTPUT = 1_000
MIN_MAX_STEPS = 100_000


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

    @classmethod
    def from_network(cls, coefs, intercepts, activation: str, scaling) -> VectorField:
        """The field of a network acting on the scaled units of ``scaling``
        (``_scaling.Scaling``, latent states included)."""
        return cls(coefs, intercepts, activation, scaling.mean, scaling.scale,
                   scaling.t_scale, scaling.u_mean, scaling.u_scale)  # fmt: skip

    def scaled(self, x: np.ndarray) -> np.ndarray:
        return (x - self.x_mean) / self.x_scale

    def _inputs(self, x: np.ndarray, u: np.ndarray | None) -> np.ndarray:
        xs = self.scaled(x)
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

    def _scaled_inputs(self, z: np.ndarray, u: np.ndarray | None) -> np.ndarray:
        if u is None:
            return z
        return np.concatenate([z, (u - self.u_mean) / self.u_scale], axis=-1)

    def scaled_rates(self, z: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """``dz/dtau`` in scaled units (``z = (x - x_mean) / x_scale``, ``tau = t /
        t_scale``) for states ``z`` (n, d) and inputs ``u`` (n, m) in user units: the
        network's output itself, so no offset of the states costs precision."""
        return forward(self.coefs, self.intercepts, self._scaled_inputs(z, u), self.activation)

    def scaled_jacobian(self, z: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """d (dz/dtau) / d z for one scaled state vector (d,) -> (d, d)."""
        J = input_jacobian(self.coefs, self.intercepts, self._scaled_inputs(z, u), self.activation)
        return J[:, : len(z)]


def input_function(t: np.ndarray, u, n_inputs: int):
    """Turn ``u`` (callable, or samples aligned with ``t``) into ``u(time) -> (n_inputs,)``.

    Samples are interpolated linearly in time and held constant outside ``t``. A
    callable's value is checked on every call (``n_inputs`` finite numbers; a scalar when
    ``n_inputs == 1``); exceptions raised inside it propagate unchanged.
    """
    if u is None:
        return None
    if callable(u):
        return lambda s: _checked_input(u(s), s, n_inputs)
    cols = [np.asarray(u[:, k]) for k in range(u.shape[1])]
    return lambda s: np.array([np.interp(s, t, c) for c in cols])


def _checked_input(value, s: float, n_inputs: int) -> np.ndarray:
    """The value of the user's ``u(s)`` as a float array of shape (n_inputs,), or raise."""
    try:
        if value is None:
            raise TypeError("None")
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"`u` must return {n_inputs} number(s) for each time; u({s:.6g}) returned "
            f"{value!r}, which is not numeric ({err})."
        ) from err
    if arr.shape != (n_inputs,):
        if arr.ndim != 0 or n_inputs != 1:
            raise ValueError(
                f"`u` must return an array of shape ({n_inputs},) for each time (the model "
                f"was fitted with {n_inputs} input(s)); u({s:.6g}) returned shape "
                f"{arr.shape}: {value!r}."
            )
        arr = arr.reshape(1)
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"`u` must return finite inputs; u({s:.6g}) returned {arr.tolist()}. Check the "
            "function near that time."
        )
    return arr


def _input_segments(t: np.ndarray, u, n_inputs: int, interpolation: str) -> list:
    """``(first, last, u(time))`` pieces of the sample range on which the inputs are
    smooth: one piece, except for zero-order-hold samples (``"previous"``), where each
    piece runs from one change of the held value to the next with that value constant,
    so that the integrator never steps across a jump."""
    if u is None or callable(u) or interpolation != "previous":
        return [(0, len(t) - 1, input_function(t, u, n_inputs))]
    changes = np.flatnonzero(np.any(u[1:] != u[:-1], axis=1)) + 1
    bounds = np.unique(np.r_[0, changes, len(t) - 1])
    return [(int(a), int(b), _Held(u[a])) for a, b in zip(bounds[:-1], bounds[1:])]


class _Held:
    """A constant input ``u(time) -> value``."""

    def __init__(self, value):
        self.value = np.array(value, dtype=float)

    def __call__(self, s):
        return self.value


def simulate(
    field: VectorField,
    t: np.ndarray,
    x0: np.ndarray,
    u=None,
    method="LSODA",
    options=None,
    interpolation="linear",
    scaled=False,
) -> np.ndarray:
    """States at times ``t`` (len(t), d) starting from ``x0`` at ``t[0]`` (row 0 is ``x0``).

    The integrator runs in standardized coordinates: the scaled states ``z = (x -
    x_mean) / x_scale`` and the model's time unit, ``tau = (t - t[0]) / t_scale``, so that
    any unit of ``t`` (nanoseconds to years, or seconds since 1970) and any unit or offset
    of the states (``X + 1e9``) integrates alike. ``max_step``/``first_step``/``min_step``
    stay in the units of ``t``. Tolerances default to ``rtol=1e-7`` and ``atol=1e-9`` on
    the scaled states (``1e-9 * x_scale`` in the units of the states); a given ``atol``
    is in the units of the states (converted: ``atol / x_scale``), a given ``rtol``
    applies to the scaled states (relative to a state's deviation from its mean in the
    data, in units of its standard deviation, not to its offset).

    ``scaled=True``: ``x0`` and the result are scaled states (no round trip through user
    units). If the integrator fails, or the simulation blows up (a standardized state not
    finite or beyond ``DIVERGED``), the rows from there on are NaN and a ``RuntimeWarning``
    says where.
    """
    options = check_integrator_options(options, method, len(x0))
    n_inputs = 0 if field.u_mean is None else len(field.u_mean)
    segments = _input_segments(t, u, n_inputs, interpolation)
    if segments[0][2] is not None:
        segments[0][2](t[0])  # a wrong callable fails here, before the integrator starts
    if len(t) == 1:
        return x0[None, :].copy()
    if options.get("first_step") is not None and options["first_step"] > t[-1] - t[0]:
        raise ValueError(
            f"`integrator_options['first_step']`={options['first_step']!r} is longer than "
            f"the simulated span t[-1] - t[0] = {t[-1] - t[0]:.6g}; make it smaller."
        )
    origin, unit = float(t[0]), float(field.t_scale)
    tau = (t - origin) / unit
    z0 = np.asarray(x0, dtype=float) if scaled else field.scaled(x0)
    kwargs = {"rtol": 1e-7, "atol": 1e-9, **options}
    if "atol" in options:  # the units of the states -> scaled units
        kwargs["atol"] = np.asarray(options["atol"], dtype=float) / field.x_scale
    for key in ("max_step", "first_step", "min_step"):
        if kwargs.get(key) is not None:
            kwargs[key] = kwargs[key] / unit
    out = np.full((len(t), len(z0)), np.nan)
    out[0] = z0
    stop = reason = None
    for first, last, u_of_t in segments:
        piece, stop, reason = _integrate_piece(
            field, tau[first : last + 1], out[first], u_of_t, origin, unit, method, kwargs
        )
        out[first : last + 1] = piece
        if reason is not None:
            break
    bad = np.flatnonzero(~np.all(np.isfinite(out), axis=1))
    if len(bad):
        out[bad[0] :] = np.nan
        what, why = reason or ("blew up", "non-finite states")
        at = "" if stop is None else f" at t={origin + stop * unit:.6g}"
        problem = f"{what}{at} ({why})"
        warnings.warn(
            f"The learned ODE {problem}; predictions from t={t[bad[0]]:.6g} (row {bad[0]}) "
            "on are NaN. A fit with `state_bound` or a larger `alpha` may keep the learned "
            "field bounded.",
            RuntimeWarning,
            stacklevel=3,
        )
    if scaled:
        return out
    x = out * field.x_scale + field.x_mean
    x[0] = x0  # row 0 is x0 exactly
    return x


def _integrate_piece(field, tau, x0, u_of_t, origin, unit, method, kwargs) -> tuple:
    """:func:`_integrate` of one piece with smooth inputs ``u_of_t`` (user time), in
    scaled states ``z`` and scaled time ``tau``."""

    def inputs(s):
        return None if u_of_t is None else u_of_t(origin + s * unit)

    def rhs(s, z):  # dz/dtau, scaled units
        us = inputs(s)
        return field.scaled_rates(z[None, :], None if us is None else us[None, :])[0]

    kwargs = dict(kwargs)
    if method in IMPLICIT_METHODS:
        kwargs["jac"] = lambda s, z: field.scaled_jacobian(z, inputs(s))
    if kwargs.get("first_step") is not None:  # a short piece: no longer than the piece
        kwargs["first_step"] = min(kwargs["first_step"], tau[-1] - tau[0])
    with np.errstate(over="ignore", invalid="ignore"):
        solver = METHODS[method](rhs, tau[0], x0, tau[-1], **kwargs)
        return _integrate(tau, x0, solver, _diverged)


def _diverged(scaled_state: np.ndarray) -> bool:
    return not np.all(np.abs(scaled_state) < DIVERGED)


def _integrate(tau: np.ndarray, x0: np.ndarray, solver, diverged) -> tuple:
    """``solve_ivp(..., t_eval=tau)``'s stepping loop, stopped as soon as ``diverged(y)``
    (which scipy's LSODA would not do: it can loop for ever on an overflowing state).

    Returns the states at ``tau`` (NaN after a stop), the time it stopped at and (what
    happened, why) (None, None if it reached ``tau[-1]``).
    """
    out = np.full((len(tau), len(x0)), np.nan)
    out[0] = x0
    k, steps = 1, 0
    budget = max(MIN_MAX_STEPS, MAX_STEPS_PER_OUTPUT * len(tau))
    while k < len(tau):
        message = solver.step()
        steps += 1
        if solver.status == "failed":
            return out, solver.t, ("could not be integrated", message)
        if steps > budget:
            return (
                out,
                solver.t,
                (
                    "could not be integrated",
                    f"{budget} integrator steps without reaching the end: the learned ODE is "
                    "extremely stiff there",
                ),
            )
        stop = int(np.searchsorted(tau, solver.t, side="right"))
        if stop > k:
            out[k:stop] = solver.dense_output()(tau[k:stop]).T
            k = stop
        if diverged(solver.y):
            return out, solver.t, ("blew up", f"a standardized state beyond {DIVERGED:g}")
    return out, None, None
