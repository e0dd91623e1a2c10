"""Checking a fitted model against data: simulated vs measured outputs and the residual
analysis of system identification.

:class:`SimulationDisplay` follows scikit-learn's ``Display`` objects
(``sklearn.metrics.PredictionErrorDisplay``): ``from_estimator`` simulates every
trajectory from its start the way :meth:`~skneuralode.CollocationNeuralODE.score` does,
``from_predictions`` takes simulations made elsewhere, and ``plot`` draws. The statistics
(residuals, their autocorrelation, fit per state) are numpy only; matplotlib (the
``examples`` extra) is imported only to draw.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._diagnostics import simulate_trajectories
from ._names import default_input_names, default_state_names, input_names, state_names
from ._validation import (
    check_inputs,
    check_observations,
    check_states,
    check_times,
    check_trajectory,
)

__all__ = ["SimulationDisplay"]

#: Lags of the residual correlations by default (MATLAB's ``resid`` uses 25 too).
MAX_LAGS = 25
#: The two-sided 95% quantile of the standard normal: the whiteness band is
#: ``+-Z95 / sqrt(N)`` for ``N`` scored residuals.
Z95 = 1.96
#: What ``SimulationDisplay.plot`` draws, one row of axes each ("ccf" only with inputs).
ROWS = ("simulation", "residuals", "acf", "ccf")


def _pyplot():
    """``matplotlib.pyplot``, or an ImportError that says how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "SimulationDisplay draws with matplotlib, which is not installed: "
            'pip install "skneuralode[examples]" (or pip install matplotlib).'
        ) from exc
    return plt


# ---------------------------------------------------------------- statistics
def fit_statistics(X: np.ndarray, X_pred: np.ndarray, mask: np.ndarray):
    """Per state, over the entries of ``mask``: ``(fit_percent, nrmse, r2)``.

    ``nrmse = ||y - y_hat|| / ||y - mean(y)||``, ``fit_percent = 100 (1 - nrmse)`` (the
    "fit" of system identification) and ``r2 = 1 - nrmse**2``; ``nrmse = inf`` where a
    simulation is not finite on a scored entry, NaN for a state with fewer than 2 scored
    entries.
    """
    nrmse = np.full(X.shape[1], np.nan)
    for i in range(X.shape[1]):
        y, y_hat = X[mask[:, i], i], X_pred[mask[:, i], i]
        if len(y) < 2:
            continue
        if not np.all(np.isfinite(y_hat)):
            nrmse[i] = np.inf
            continue
        nrmse[i] = np.linalg.norm(y - y_hat) / np.linalg.norm(y - y.mean())
    return 100.0 * (1.0 - nrmse), nrmse, 1.0 - nrmse**2


def _centered(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``values`` minus their mean over ``valid`` entries (per column), 0 elsewhere."""
    count = np.maximum(valid.sum(axis=0), 1)
    mean = np.where(valid, values, 0.0).sum(axis=0) / count
    return np.where(valid, values - mean, 0.0)


def _lagged_sums(a: np.ndarray, b: np.ndarray, groups, lags) -> np.ndarray:
    """``sum_i a[i]^T b[i + k]`` for each lag ``k``, pairs within one trajectory only ->
    shape (len(lags), a.shape[1], b.shape[1])."""
    out = np.zeros((len(lags), a.shape[1], b.shape[1]))
    for n, k in enumerate(lags):
        for g in groups:
            m = len(g) - abs(k)
            if m > 0:
                ag, bg = a[g], b[g]
                out[n] += ag[:m].T @ bg[k:] if k >= 0 else ag[-k:].T @ bg[:m]
    return out


def residual_acf(residuals: np.ndarray, valid: np.ndarray, groups, max_lags: int):
    """Autocorrelation of each state's residuals at lags ``0 .. max_lags`` (samples).

    ``r(k) = sum_i e_i e_{i+k} / sum_i e_i^2`` with ``e`` the residuals less their mean,
    over the ``valid`` entries, pairs taken within one trajectory (the biased estimator of
    ``statsmodels.tsa.stattools.acf``) -> (acf of shape (max_lags + 1, n_states),
    band of shape (n_states,), ``Z95 / sqrt(N)`` with ``N`` valid entries per state).
    """
    e = _centered(residuals, valid)
    lags = range(max_lags + 1)
    sums = np.einsum("kii->ki", _lagged_sums(e, e, groups, lags))
    power = np.sum(e**2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        acf = sums / power
    return acf, Z95 / np.sqrt(np.maximum(valid.sum(axis=0), 1))


def residual_ccf(residuals: np.ndarray, valid: np.ndarray, u: np.ndarray, groups,
                 max_lags: int) -> np.ndarray:  # fmt: skip
    """Cross-correlation of each state's residuals with each input at lags
    ``-max_lags .. max_lags``: ``r(k) = sum_i u_i e_{i+k} / sqrt(sum u^2 sum e^2)``
    (both less their means over the valid entries; a positive lag pairs an input with a
    later residual) -> shape (2 max_lags + 1, n_states, n_inputs). A model that explains
    the input's effect leaves it inside the same band as the autocorrelation."""
    scored = valid.any(axis=1, keepdims=True)
    u0 = _centered(u, np.broadcast_to(scored, u.shape))
    e = _centered(residuals, valid)
    lags = range(-max_lags, max_lags + 1)
    sums = _lagged_sums(u0, e, groups, lags)  # (lags, n_inputs, n_states)
    norm = np.sqrt(np.outer(np.sum(u0**2, axis=0), np.sum(e**2, axis=0)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.transpose(sums / norm, (0, 2, 1))


def _joined(t: np.ndarray, values: np.ndarray, groups):
    """Trajectories one after the other, a NaN row between two (one line, with breaks)."""
    if len(groups) == 1:
        return t[groups[0]], values[groups[0]]
    times, rows = [], []
    for g in groups:
        times += [t[g], [np.nan]]
        rows += [values[g], np.full((1, values.shape[1]), np.nan)]
    return np.concatenate(times[:-1]), np.vstack(rows[:-1])


# ------------------------------------------------------------------ display
class SimulationDisplay:
    """Simulated vs measured outputs, residuals and their correlations (a ``Display``).

    The check of a dynamic model in system identification: every trajectory is simulated
    from its start (free run, the input alone driving it), then per observed state the
    simulation is drawn over the measurements, with the residuals below and their
    autocorrelation, inside the 95% band ``+-1.96 / sqrt(N)`` of white noise
    (``N`` scored residuals); with inputs also the cross-correlation between residuals and
    inputs. Residuals that stay inside the bands leave nothing the model could explain.
    Correlations count lags in samples and assume a uniform sampling.

    Build it with :meth:`from_estimator` or :meth:`from_predictions`, which also plot;
    the constructor only computes (numpy, no matplotlib).

    Parameters
    ----------
    t : array-like of shape (n_samples,)
        Sample times.
    X : array-like of shape (n_samples, n_states)
        Measured states; NaN marks a missing entry, which is not scored.
    X_pred : array-like of shape (n_samples, n_states)
        Simulated states.
    u : array-like of shape (n_samples, n_inputs), default=None
        Exogenous inputs, for the cross-correlation.
    trajectory : array-like of shape (n_samples,), default=None
        Trajectory id of each sample (``None``: one trajectory). Correlations pair samples
        within a trajectory only.
    scored : array-like of bool of shape (n_samples,), default=None
        Samples that count in the statistics (``None``: all); the others, a warm-up
        window at the start of a trajectory, are drawn shaded.
    state_names : list of str, default=None
        One label per state (``None``: ``x0, x1, ...``).
    input_names : list of str, default=None
        One label per input (``None``: ``u0, u1, ...``).
    max_lags : int, default=25
        Largest lag (samples) of the correlations.

    Attributes
    ----------
    residuals : ndarray of shape (n_samples, n_states)
        ``X - X_pred`` (NaN where ``X`` is missing).
    scored : ndarray of bool of shape (n_samples,)
        Samples in the statistics (outside the warm-up windows).
    fit_percent : ndarray of shape (n_states,)
        ``100 (1 - ||y - y_hat|| / ||y - mean(y)||)`` per state over the scored entries:
        system identification's "fit" (100: perfect; 0: no better than the mean;
        ``-inf`` if a simulation diverged).
    nrmse : ndarray of shape (n_states,)
        ``||y - y_hat|| / ||y - mean(y)||`` per state (``1 - fit_percent / 100``).
    r2 : ndarray of shape (n_states,)
        R² per state, ``1 - nrmse**2``; their mean is what ``score`` returns.
    lags : ndarray of shape (max_lags + 1,)
        ``0 .. max_lags``.
    acf : ndarray of shape (max_lags + 1, n_states)
        Autocorrelation of each state's residuals (``acf[0] == 1``): the residuals less
        their mean, ``sum_i e_i e_{i+k} / sum_i e_i^2`` over scored pairs within a
        trajectory.
    acf_band : ndarray of shape (n_states,)
        ``1.96 / sqrt(N)``, ``N`` scored residuals per state: white residuals stay within
        ``+-acf_band`` at 95% of the lags ``>= 1`` (the cross-correlation's band too).
    ccf_lags : ndarray of shape (2 max_lags + 1,) or None
        ``-max_lags .. max_lags`` (None without inputs).
    ccf : ndarray of shape (2 max_lags + 1, n_states, n_inputs) or None
        Cross-correlation of residuals and inputs, ``sum_i u_i e_{i+k} / sqrt(sum u^2
        sum e^2)`` (a positive lag pairs an input with a later residual); None without
        inputs.
    figure_ : matplotlib Figure
        After :meth:`plot`.
    axes_ : ndarray of matplotlib Axes of shape (n_rows, n_plotted_states)
        After :meth:`plot`: rows simulation, residuals, autocorrelation and (with inputs)
        cross-correlation; one column per plotted state.
    measured_lines_, simulated_lines_, residual_lines_, acf_lines_ : ndarray of Line2D
        After :meth:`plot`, one per plotted state (trajectories joined, a NaN between two).
    ccf_lines_ : ndarray of Line2D of shape (n_plotted_states, n_inputs) or None
        After :meth:`plot`, with inputs.
    warmup_spans_ : list of matplotlib patches
        After :meth:`plot`: the shaded warm-up windows (every axis of time).

    See Also
    --------
    skneuralode.CollocationNeuralODE.score : R² of the same simulations.
    skneuralode.CollocationNeuralODE.summary : a text summary of the fit.

    Examples
    --------
    >>> from skneuralode.inspection import SimulationDisplay
    >>> display = SimulationDisplay.from_estimator(model, t_test, X_test)  # doctest: +SKIP
    >>> display.fit_percent, display.figure_.savefig("check.png")  # doctest: +SKIP
    """

    def __init__(self, t, X, X_pred, *, u=None, trajectory=None, scored=None,
                 state_names=None, input_names=None, max_lags=MAX_LAGS):  # fmt: skip
        t = check_times(t)
        X = check_states(X, len(t), allow_nan=True)
        X_pred = np.asarray(X_pred, dtype=float).reshape(len(t), -1)
        if X_pred.shape != X.shape:
            raise ValueError(
                f"`X_pred` must have the shape of `X`, {X.shape}; got {X_pred.shape}."
            )
        u = check_inputs(u, len(t))
        self._groups = check_trajectory(trajectory, t, min_samples=1, min_gap=0.0)
        scored = np.ones(len(t), bool) if scored is None else np.asarray(scored, bool)
        if scored.shape != t.shape:
            raise ValueError(f"`scored` must have shape {t.shape}; got {scored.shape}.")
        if not isinstance(max_lags, (int, np.integer)) or max_lags < 0:
            raise ValueError(f"`max_lags` must be an integer >= 0; got {max_lags!r}.")
        self.t, self.X, self.X_pred, self.u, self.scored = t, X, X_pred, u, scored
        self.state_names = _labels(state_names, X.shape[1], default_state_names, "state_names")
        n_u = 0 if u is None else u.shape[1]
        self.input_names = _labels(input_names, n_u, default_input_names, "input_names")
        self.max_lags = int(max_lags)
        self._compute()

    def _compute(self) -> None:
        self.residuals = self.X - self.X_pred
        mask = np.isfinite(self.X) & self.scored[:, None]
        self.fit_percent, self.nrmse, self.r2 = fit_statistics(self.X, self.X_pred, mask)
        valid = mask & np.isfinite(self.residuals)
        self.lags = np.arange(self.max_lags + 1)
        self.acf, self.acf_band = residual_acf(self.residuals, valid, self._groups,
                                               self.max_lags)  # fmt: skip
        self.ccf_lags = self.ccf = None
        if self.u is not None:
            self.ccf_lags = np.arange(-self.max_lags, self.max_lags + 1)
            self.ccf = residual_ccf(self.residuals, valid, self.u, self._groups, self.max_lags)

    # ------------------------------------------------------------ builders
    @classmethod
    def from_estimator(cls, estimator, t, X, u=None, trajectory=None, *, states=None,
                       ax=None, max_lags=MAX_LAGS):  # fmt: skip
        """Simulate a fitted model on data, compute the residual statistics and plot.

        Every trajectory is simulated from its first sample as
        :meth:`~skneuralode.CollocationNeuralODE.score` does: when that sample is not
        fully observed or the model has latent states, the initial state is estimated
        from a warm-up window at the trajectory's start (the first 10% of its samples,
        at least ``2 (n_states + n_latent) + 1``), which is drawn shaded and left out of
        the statistics. So ``mean(display.r2)`` equals ``estimator.score(t, X, u,
        trajectory)``.

        Parameters
        ----------
        estimator : CollocationNeuralODE or ADMMNeuralODE
            A fitted model (an ADMM model is simulated with its consensus).
        t, X, u, trajectory
            As in ``fit``: data to check the model on (training or test data).
        states : list of int or str, default=None
            The states to plot (indices or names; ``None``: all observed states). The
            statistics cover all of them.
        ax : matplotlib Axes or array-like of Axes, default=None
            See :meth:`plot`.
        max_lags : int, default=25
            Largest lag (samples) of the correlations.

        Returns
        -------
        display : SimulationDisplay
        """
        _pyplot()
        check_is_fitted(estimator)
        model = getattr(estimator, "estimator_", estimator)  # ADMM: the consensus model
        if not hasattr(model, "estimate_initial_state"):
            raise TypeError(
                "`estimator` must be a fitted CollocationNeuralODE or ADMMNeuralODE; got "
                f"{type(estimator).__name__}. For another model, simulate it yourself and "
                "use SimulationDisplay.from_predictions."
            )
        t, X, u, groups = check_observations(t, X, u, trajectory, model)
        X_pred, scored = simulate_trajectories(model, t, X, u, groups)
        display = cls(t, X, X_pred, u=u, trajectory=trajectory, scored=scored,
                      state_names=state_names(model)[: model.n_states_],
                      input_names=input_names(model), max_lags=max_lags)  # fmt: skip
        return display.plot(ax=ax, states=states)

    @classmethod
    def from_predictions(cls, t, X, X_pred, *, u=None, trajectory=None, warmup=0,
                         state_names=None, input_names=None, states=None, ax=None,
                         max_lags=MAX_LAGS):  # fmt: skip
        """Plot simulations made elsewhere against the measurements.

        Parameters
        ----------
        t, X, X_pred, u, trajectory, state_names, input_names, max_lags
            As in the constructor. Names default to the columns of ``X`` and ``u`` when
            they are DataFrames.
        warmup : int, default=0
            Samples at the start of each trajectory that were used to estimate its
            initial state: drawn shaded, not scored.
        states, ax
            As in :meth:`plot`.

        Returns
        -------
        display : SimulationDisplay
        """
        _pyplot()
        if not isinstance(warmup, (int, np.integer)) or warmup < 0:
            raise ValueError(f"`warmup` must be an integer >= 0 (samples); got {warmup!r}.")
        t = check_times(t)
        scored = np.ones(len(t), bool)
        for g in check_trajectory(trajectory, t, min_samples=1, min_gap=0.0):
            scored[g[:warmup]] = False
        display = cls(t, X, X_pred, u=u, trajectory=trajectory, scored=scored,
                      state_names=_columns(X, state_names), input_names=_columns(u, input_names),
                      max_lags=max_lags)  # fmt: skip
        return display.plot(ax=ax, states=states)

    # ------------------------------------------------------------ drawing
    def plot(self, ax=None, *, states=None, measured_kw=None, simulated_kw=None):
        """Draw: per plotted state a column of axes, rows simulation vs measurement,
        residuals, their autocorrelation and (with inputs) their cross-correlation with
        each input.

        Parameters
        ----------
        ax : matplotlib Axes or array-like of Axes, default=None
            ``None``: a new figure. One Axes: its area is divided into the grid (as
            ``sklearn.inspection.PartialDependenceDisplay`` does). An array of
            ``n_rows * n_plotted_states`` Axes: used row by row (shape (n_rows,
            n_plotted_states) or flat).
        states : list of int or str, default=None
            The states to plot, by index or name (``None``: all).
        measured_kw, simulated_kw : dict, default=None
            Keywords for ``Axes.plot`` of the measurements (markers) and the simulation
            (a line).

        Returns
        -------
        display : SimulationDisplay
            ``self``, with ``figure_``, ``axes_`` and the line attributes.
        """
        plt = _pyplot()
        cols = self._columns(states)
        rows = [r for r in ROWS if r != "ccf" or self.u is not None]
        self.axes_ = _axes_grid(plt, ax, len(rows), len(cols))
        self.figure_ = self.axes_.flat[0].figure
        measured_kw = {"ls": "none", "marker": ".", "ms": 3, "color": "0.45",
                       "label": "measured", **(measured_kw or {})}  # fmt: skip
        simulated_kw = {"lw": 1.4, "color": "C3", "label": "simulated", **(simulated_kw or {})}
        tj, Xj = _joined(self.t, self.X, self._groups)
        _, Pj = _joined(self.t, self.X_pred, self._groups)
        _, Rj = _joined(self.t, self.residuals, self._groups)
        lines = {name: [] for name in ("measured", "simulated", "residual", "acf", "ccf")}
        self.warmup_spans_ = []
        for c, i in enumerate(cols):
            axs = dict(zip(rows, self.axes_[:, c]))
            lines["measured"].append(axs["simulation"].plot(tj, Xj[:, i], **measured_kw)[0])
            lines["simulated"].append(axs["simulation"].plot(tj, Pj[:, i], **simulated_kw)[0])
            lines["residual"].append(self._draw_residuals(axs["residuals"], tj, Rj[:, i]))
            for name in ("simulation", "residuals"):
                self.warmup_spans_ += self._shade_warmup(axs[name])
            lines["acf"].append(self._draw_acf(axs["acf"], i))
            if "ccf" in axs:
                lines["ccf"].append(self._draw_ccf(axs["ccf"], i))
            self._label(axs, i, first=c == 0)
        self.measured_lines_ = _object_array(lines["measured"])
        self.simulated_lines_ = _object_array(lines["simulated"])
        self.residual_lines_ = _object_array(lines["residual"])
        self.acf_lines_ = _object_array(lines["acf"])
        self.ccf_lines_ = _object_array(lines["ccf"]) if lines["ccf"] else None
        return self

    def _columns(self, states) -> list[int]:
        if states is None:
            return list(range(self.X.shape[1]))
        cols = []
        for s in [states] if isinstance(states, (str, int, np.integer)) else states:
            if isinstance(s, str) and s in self.state_names:
                cols.append(self.state_names.index(s))
            elif isinstance(s, (int, np.integer)) and 0 <= s < self.X.shape[1]:
                cols.append(int(s))
            else:
                raise ValueError(
                    f"`states` must name observed states ({self.state_names}) or index them "
                    f"(0 .. {self.X.shape[1] - 1}); got {s!r}."
                )
        return cols

    def _shade_warmup(self, ax) -> list:
        spans = []
        for g in self._groups:
            n = int(np.argmax(self.scored[g])) if self.scored[g].any() else len(g)
            if n:
                spans.append(ax.axvspan(self.t[g][0], self.t[g][n - 1], color="C0", alpha=0.1,
                                        lw=0, label="warm-up" if not spans else None))  # fmt: skip
        return spans

    def _draw_residuals(self, ax, t, residuals):
        ax.axhline(0.0, color="0.6", lw=0.8)
        return ax.plot(t, residuals, ".-", ms=2.5, lw=0.6, color="C0")[0]

    def _draw_acf(self, ax, i):
        band = self.acf_band[i]
        ax.axhspan(-band, band, color="C0", alpha=0.12, lw=0)
        ax.vlines(self.lags, 0.0, self.acf[:, i], color="C0", lw=1.2)
        ax.axhline(0.0, color="0.6", lw=0.8)
        return ax.plot(self.lags, self.acf[:, i], "o", ms=3, color="C0")[0]

    def _draw_ccf(self, ax, i):
        band = self.acf_band[i]
        ax.axhspan(-band, band, color="C0", alpha=0.12, lw=0)
        ax.axhline(0.0, color="0.6", lw=0.8)
        return [ax.plot(self.ccf_lags, self.ccf[:, i, j], ".-", ms=3, lw=0.8, label=name)[0]
                for j, name in enumerate(self.input_names)]  # fmt: skip

    def _label(self, axs, i, first: bool) -> None:
        name = self.state_names[i]
        axs["simulation"].set_title(f"{name}: fit {self.fit_percent[i]:.1f}%, "
                                    f"R² {self.r2[i]:.3f}")  # fmt: skip
        axs["simulation"].set_ylabel(name)
        axs["residuals"].set_ylabel("residual")
        axs["residuals"].set_xlabel("t")
        axs["acf"].set_ylabel("residual ACF")
        axs["acf"].set_xlabel("lag (samples)")
        if "ccf" in axs:
            inputs = self.input_names[0] if len(self.input_names) == 1 else "inputs"
            axs["ccf"].set_ylabel(f"CCF residual-{inputs}")
            axs["ccf"].set_xlabel("lag (samples)")
        if first:
            axs["simulation"].legend(fontsize=8, loc="best")
            if "ccf" in axs and len(self.input_names) > 1:
                axs["ccf"].legend(fontsize=8, loc="best")


# ------------------------------------------------------------------- helpers
def _labels(names, n: int, default, argument: str) -> list[str]:
    if names is None:
        return default(n)
    names = [str(name) for name in names]
    if len(names) != n:
        raise ValueError(f"`{argument}` must have {n} name(s), one per column; got {names}.")
    return names


def _columns(data, names):
    """``names``, or a DataFrame's column names."""
    if names is None and hasattr(data, "columns"):
        return [str(c) for c in data.columns]
    return names


def _object_array(items) -> np.ndarray:
    """Artists as an object array: one per state, or (states, inputs) for lists."""
    return np.array(items, dtype=object)


def _axes_grid(plt, ax, n_rows: int, n_cols: int) -> np.ndarray:
    """An (n_rows, n_cols) array of Axes: new, carved out of one Axes, or the user's."""
    if ax is None:
        fig, axes = plt.subplots(n_rows, n_cols, figsize=(4.2 * n_cols + 0.8, 2.2 * n_rows),
                                 squeeze=False, layout="constrained")  # fmt: skip
        return axes
    if hasattr(ax, "get_subplotspec"):
        spec = ax.get_subplotspec()
        if spec is None:
            raise ValueError("`ax` must be a subplot (made by plt.subplots or add_subplot).")
        ax.set_axis_off()
        grid = spec.subgridspec(n_rows, n_cols, hspace=0.6, wspace=0.35)
        return np.array([[ax.figure.add_subplot(grid[r, c]) for c in range(n_cols)]
                         for r in range(n_rows)], dtype=object)  # fmt: skip
    axes = np.asarray(ax, dtype=object)
    if axes.size != n_rows * n_cols:
        raise ValueError(
            f"`ax` must hold {n_rows * n_cols} Axes ({n_rows} rows x {n_cols} plotted "
            f"states); got {axes.size}."
        )
    return axes.reshape(n_rows, n_cols)
