"""The initial point and the time unit: smoothed data, time scale, starting states."""

from __future__ import annotations

import numpy as np
from scipy.interpolate import make_smoothing_spline

from ._scaling import Scaling, rms, standardize
from .exceptions import warn_user


def fit_scaling(
    t, X, u, groups, smoothing, n_latent: int = 0, latent_start=None
) -> tuple[Scaling, list]:
    """Standardize states and inputs; pick the time unit from the smoothed states.

    Returns the scaling and the smoothers of the standardized states (one list of
    per-state callables per trajectory), which also give the initial point.
    ``latent_start`` (n_latent,): the start of each latent state the physics reads, in
    user units, NaN for the others (``Scaling.latent_start``).
    """
    x_mean, x_scale = standardize(X)
    Xs = (X - x_mean) / x_scale
    smoothers = [smooth_trajectory(t[g], Xs[g], smoothing) for g in groups]
    u_mean, u_scale = standardize(u) if u is not None else (None, None)
    t_scale = float(time_scale(t, Xs, groups, smoothers))
    scaling = Scaling(x_mean, x_scale, t_scale, u_mean, u_scale, n_latent, latent_start)
    return scaling, smoothers


def smooth_trajectory(t: np.ndarray, X: np.ndarray, smoothing) -> list:
    """One callable per state, ``s(times) -> values``, with ``.derivative()``.

    ``"auto"``: cubic smoothing spline, penalty by generalized cross-validation (fitted
    to at most about :data:`GCV_SAMPLES` evenly strided samples, :func:`gcv_subsample`);
    a float: that spline penalty (in the units of ``t``); ``"none"`` (or fewer than 5
    samples): linear interpolation. The spline is fitted on standardized times ``(t -
    t[0]) / median(diff(t))``, so the result does not depend on the unit or the origin of
    ``t`` (up to round-off); if that fails or gives non-finite values, linear
    interpolation is used with a ``UserWarning``.

    NaN entries of ``X`` are missing samples: each state is smoothed through its own
    observed samples (a state observed once is that constant; never observed, zero: the
    mean in standardized units).
    """
    observed = np.isfinite(X)
    if observed.all():
        return _smooth_columns(t, X, smoothing)
    out = []
    for i in range(X.shape[1]):
        keep = observed[:, i]
        if keep.sum() >= 2:
            out.extend(_smooth_columns(t[keep], X[keep, i : i + 1], smoothing))
        else:
            out.append(_Constant(float(X[keep, i][0]) if keep.any() else 0.0))
    return out


def _smooth_columns(t: np.ndarray, X: np.ndarray, smoothing) -> list:
    """:func:`smooth_trajectory` of fully observed columns."""
    if smoothing == "none" or len(t) < 5:
        return [_Linear(t, X[:, i]) for i in range(X.shape[1])]
    # The spline is fitted on standardized times, tau = (t - t[0]) / (median sampling
    # interval), whatever the unit or the origin of t: GCV searches its penalty on a fixed
    # interval (scipy: 0 to n), which on raw times of 1e-10 s over-smooths to a constant and
    # on raw times of 1e6 s under-smooths. A float penalty is in the units of t:
    # lam int g''(t)^2 dt = lam / unit^3 int g''(tau)^2 dtau. With "auto", a long
    # trajectory's spline is fitted to an evenly strided subsample (gcv_subsample).
    origin = float(t[0])
    unit = float(np.median(np.diff(t)))
    if not (np.isfinite(unit) and unit > 0):
        unit = float(t[-1] - t[0]) / (len(t) - 1)
    tau = (t - origin) / unit
    lam = None if smoothing == "auto" else float(smoothing) / unit**3
    keep = gcv_subsample(len(t)) if smoothing == "auto" else slice(None)
    reason = "non-finite values"
    try:
        with np.errstate(all="ignore"):
            splines = [
                make_smoothing_spline(tau[keep], X[keep, i], lam=lam) for i in range(X.shape[1])
            ]
            finite = all(np.all(np.isfinite(s(tau))) for s in splines)
        if finite:
            return [_Rescaled(s, origin, unit) for s in splines]
    except (ValueError, np.linalg.LinAlgError) as err:
        reason = str(err)
    warn_user(
        f"The smoothing spline of a trajectory of {len(t)} samples on [{t[0]:g}, {t[-1]:g}] "
        f"failed ({reason}) with smoothing={smoothing!r}; its initial states are linear "
        "interpolations of the data. Set smoothing='none' to skip the spline, or another "
        "float penalty.",
        UserWarning,
    )
    return [_Linear(t, X[:, i]) for i in range(X.shape[1])]


#: Samples of a trajectory beyond which ``smoothing="auto"`` fits its spline (penalty by
#: cross-validation) to an evenly strided subsample of about this many samples: the
#: cross-validation's cost grows faster than the samples (two states: 18 s at 4 000
#: samples, 239 s at 100 000; subsampled 1.8 s and 4.8 s, ``benchmarks/smoothing_time.py``
#: and the user guide's "Size and time limits").
GCV_SAMPLES = 2000


def gcv_subsample(n: int) -> slice | np.ndarray:
    """The samples of an ``n``-sample trajectory that ``smoothing="auto"`` fits its spline
    to: all up to :data:`GCV_SAMPLES`, else every k-th one and the last (the spline
    then smooths away only what changes within k samples; the NLP fits every sample)."""
    if n <= GCV_SAMPLES:
        return slice(None)
    step = -(-n // GCV_SAMPLES)
    return np.unique(np.r_[np.arange(0, n, step), n - 1])


class _Rescaled:
    """``g((s - origin) / span) / span**order``: a spline fitted on standardized times,
    evaluated on (and differentiated with respect to) the original times."""

    def __init__(self, spline, origin: float, span: float, order: int = 0):
        self.spline, self.origin, self.span, self.order = spline, origin, span, order

    def __call__(self, s):
        return self.spline((np.asarray(s) - self.origin) / self.span) / self.span**self.order

    def derivative(self):
        return _Rescaled(self.spline.derivative(), self.origin, self.span, self.order + 1)


class _Constant:
    """A constant with the spline interface used here."""

    def __init__(self, value: float, order: int = 0):
        self.value, self.order = value, order

    def __call__(self, s):
        return np.full(np.shape(s), self.value if self.order == 0 else 0.0)

    def derivative(self):
        return _Constant(self.value, self.order + 1)


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
            rate = rms(s.derivative()(t[idx]))
            spread = np.nanstd(X[idx, i]) if np.isfinite(X[idx, i]).any() else 0.0
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


def latent_start(smoothers, node_t, node_traj, n_latent: int) -> np.ndarray:
    """Initial values of ``n_latent`` unmeasured states at the nodes, (n_nodes, n_latent).

    Latent state ``k`` starts as the time derivative of order ``1 + k // d`` of the
    smoothed observed state ``k % d`` (``d`` observed states): the coordinates of an
    observable system in which the outputs and their derivatives are the states. Each is
    standardized over the nodes (zero mean, unit mean square), the normalization the NLP
    imposes on latent states; one that cannot be differentiated (linear interpolation)
    or does not vary starts at zero.
    """
    d = len(smoothers[0])
    out = np.zeros((len(node_t), n_latent))
    for k in range(n_latent):
        order, i = 1 + k // d, k % d
        for traj, spl in enumerate(smoothers):
            sel = node_traj == traj
            g = _nth_derivative(spl[i], order)
            out[sel, k] = 0.0 if g is None else g(node_t[sel])
        col = out[:, k] - out[:, k].mean()
        rms = float(np.sqrt(np.mean(col**2)))
        out[:, k] = col / rms if np.isfinite(rms) and rms > 0 else 0.0
    return out


def _nth_derivative(s, order: int):
    for _ in range(order):
        step = getattr(s, "derivative", None)
        if not callable(step):
            return None
        s = step()
    return s


def interpolate_inputs(t, us, groups, disc, node_t, interpolation="linear") -> np.ndarray:
    """Scaled inputs at the nodes from each trajectory's samples.

    ``"linear"``: linear interpolation. ``"previous"`` (zero-order hold): a sample's value
    holds until the next sample; a node gets the value held just *before* it (its left
    limit), so that every collocation point of a finite element between two samples sees
    the input of that interval (exact for elements aligned with the samples), and the
    first node gets the first sample.
    """
    out = np.empty((disc.n_nodes, us.shape[1]))
    for k, g in enumerate(groups):
        sel = disc.node_trajectory == k
        if interpolation == "previous":
            # a node on a sample time (up to round-off in the time scaling) is its left limit
            tol = 1e-6 * float(np.min(np.diff(t[g]), initial=np.inf)) if len(g) > 1 else 0.0
            held = np.searchsorted(t[g], node_t[sel] - tol, side="left") - 1
            out[sel] = us[g][np.clip(held, 0, len(g) - 1)]
            continue
        for j in range(us.shape[1]):
            out[sel, j] = np.interp(node_t[sel], t[g], us[g, j])
    return out
