"""Scaling and the initial point: smoothed data, time scale, starting states."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import make_smoothing_spline

from .exceptions import warn_user


@dataclass
class Scaling:
    """User units -> scaled units: ``(x - x_mean) / x_scale``, ``tau = t / t_scale``."""

    x_mean: np.ndarray
    x_scale: np.ndarray
    t_scale: float
    u_mean: np.ndarray | None = None
    u_scale: np.ndarray | None = None

    def states(self, X: np.ndarray) -> np.ndarray:
        return (X - self.x_mean) / self.x_scale

    def inputs(self, U: np.ndarray) -> np.ndarray:
        return (U - self.u_mean) / self.u_scale


def standardize(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant, i.e. varies by
    less than 1e-12 of its magnitude). Any magnitude works: 1e-200 as well as 1e200."""
    size = np.max(np.abs(A), axis=0)
    size[size == 0] = 1.0
    mean = (A / size).mean(axis=0) * size
    scale = _rms((A - mean) / size, axis=0) * size
    scale[~(scale > 1e-12 * size)] = 1.0
    return mean, scale


def _rms(a: np.ndarray, axis=None) -> np.ndarray:
    """Root mean square without overflow or underflow in the squares."""
    size = np.max(np.abs(a), axis=axis, keepdims=True)
    size = np.where(np.isfinite(size) & (size > 0), size, 1.0)
    return np.squeeze(np.sqrt(np.mean((a / size) ** 2, axis=axis, keepdims=True)) * size, axis)


def fit_scaling(t, X, u, groups, smoothing) -> tuple[Scaling, list]:
    """Standardize states and inputs; pick the time unit from the smoothed states.

    Returns the scaling and the smoothers of the standardized states (one list of
    per-state callables per trajectory), which also give the initial point.
    """
    x_mean, x_scale = standardize(X)
    Xs = (X - x_mean) / x_scale
    smoothers = [smooth_trajectory(t[g], Xs[g], smoothing) for g in groups]
    u_mean, u_scale = standardize(u) if u is not None else (None, None)
    scaling = Scaling(x_mean, x_scale, time_scale(t, Xs, groups, smoothers), u_mean, u_scale)
    return scaling, smoothers


def smooth_trajectory(t: np.ndarray, X: np.ndarray, smoothing) -> list:
    """One callable per state, ``s(times) -> values``, with ``.derivative()``.

    ``"auto"``: cubic smoothing spline, penalty by generalized cross-validation;
    a float: that spline penalty (in the units of ``t``); ``"none"`` (or fewer than 5
    samples): linear interpolation. The spline is fitted on the times as given, or, if
    that fails (e.g. very short spans), on the normalized times ``(t - t[0]) / span``,
    so any time unit works; if both fail or give
    non-finite values, linear interpolation is used with a ``UserWarning``.
    """
    if smoothing == "none" or len(t) < 5:
        return [_Linear(t, X[:, i]) for i in range(X.shape[1])]
    origin, span = float(t[0]), float(t[-1] - t[0])
    reason = ""
    # On the user's times first (GCV picks its penalty there); on normalized times when
    # that fails, e.g. for very short spans: lam int g''(t)^2 dt = lam / span^3 int g''(tau)^2.
    for scale in (None, span):
        tau = t if scale is None else (t - origin) / span
        lam = None if smoothing == "auto" else float(smoothing) / (scale or 1.0) ** 3
        try:
            with np.errstate(all="ignore"):
                splines = [make_smoothing_spline(tau, X[:, i], lam=lam) for i in range(X.shape[1])]
                finite = all(np.all(np.isfinite(s(tau))) for s in splines)
        except (ValueError, np.linalg.LinAlgError) as err:
            reason = str(err)
            continue
        if finite:
            return splines if scale is None else [_Rescaled(s, origin, span) for s in splines]
        reason = "non-finite values"
    warn_user(
        f"The smoothing spline of a trajectory of {len(t)} samples on [{t[0]:g}, {t[-1]:g}] "
        f"failed ({reason}) with smoothing={smoothing!r}; its initial states are linear "
        "interpolations of the data. Set smoothing='none' to skip the spline, or another "
        "float penalty.",
        UserWarning,
    )
    return [_Linear(t, X[:, i]) for i in range(X.shape[1])]


class _Rescaled:
    """``g((s - origin) / span) / span**order``: a spline fitted on normalized times,
    evaluated on (and differentiated with respect to) the original times."""

    def __init__(self, spline, origin: float, span: float, order: int = 0):
        self.spline, self.origin, self.span, self.order = spline, origin, span, order

    def __call__(self, s):
        return self.spline((np.asarray(s) - self.origin) / self.span) / self.span**self.order

    def derivative(self):
        return _Rescaled(self.spline.derivative(), self.origin, self.span, self.order + 1)


class _Linear:
    """Piecewise-linear interpolant with the spline interface used here."""

    def __init__(self, t, y):
        self.t, self.y = t, y

    def __call__(self, s):
        return np.interp(s, self.t, self.y)

    def derivative(self):
        slope = np.diff(self.y) / np.diff(self.t)
        t = self.t

        def d(s):
            k = np.clip(np.searchsorted(t, s, side="right") - 1, 0, len(slope) - 1)
            return slope[k]

        d.derivative = None
        return d


def time_scale(t: np.ndarray, X: np.ndarray, groups, smoothers) -> float:
    """Time unit in which the scaled states change at O(1) rates.

    ``median_i std(x_i) / rms(dx_i/dt)`` over the smoothed data, falling back to the
    median sampling interval when the data look constant.
    """
    ratios = []
    for idx, spl in zip(groups, smoothers):
        for i, s in enumerate(spl):
            rate = _rms(s.derivative()(t[idx]))
            spread = np.std(X[idx, i])
            if rate > 0 and spread > 0:
                ratios.append(spread / rate)
    fallback = float(np.median(np.concatenate([np.diff(t[idx]) for idx in groups])))
    value = float(np.median(ratios)) if ratios else fallback
    return value if np.isfinite(value) and value > 0 else fallback


def fit_output_layer(theta, sizes, activation, inputs, rates, ridge: float = 1e-2):
    """Least-squares output layer: with the hidden layers of ``theta`` fixed, choose the
    last layer so the network reproduces the smoothed rates ``rates`` at ``inputs``.

    A ridge-regularized linear regression on the random hidden features; it puts the
    initial point close to the collocation equations, which spares IPOPT many
    regularized (inertia-corrected) iterations.
    """
    from ._mlp import ACTIVATIONS, pack, unpack

    coefs, intercepts = unpack(theta.copy(), sizes)
    act = ACTIVATIONS[activation][0]
    h = inputs
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        h = act(h @ W + b)
    H = np.hstack([h, np.ones((len(h), 1))])
    reg = ridge * len(h) * np.eye(H.shape[1])
    reg[-1, -1] = 0.0  # the bias is not shrunk
    beta = np.linalg.solve(H.T @ H + reg, H.T @ rates)
    coefs[-1], intercepts[-1] = beta[:-1], beta[-1]
    return pack(coefs, intercepts)


def evaluate_smoothers(smoothers, node_t, node_traj, derivative=False) -> np.ndarray:
    """Smoothed states (or their time derivatives) at the nodes, trajectory by trajectory."""
    d = len(smoothers[0])
    out = np.empty((len(node_t), d))
    for k, spl in enumerate(smoothers):
        sel = node_traj == k
        for i, s in enumerate(spl):
            out[sel, i] = (s.derivative() if derivative else s)(node_t[sel])
    return out


def interpolate_inputs(t, us, groups, disc, node_t) -> np.ndarray:
    """Scaled inputs at the nodes: linear interpolation of each trajectory's samples."""
    out = np.empty((disc.n_nodes, us.shape[1]))
    for k, g in enumerate(groups):
        sel = disc.node_trajectory == k
        for j in range(us.shape[1]):
            out[sel, j] = np.interp(node_t[sel], t[g], us[g, j])
    return out
