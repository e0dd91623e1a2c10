"""What a fit is checked and scored with: the training misfit, the discretization check
(does the learned ODE reproduce its own collocation trajectory?), and score's warm-up and
R² over observed entries. Shared by the single fit and ADMM; numpy and scipy only."""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import r2_score

from ._problem import observation_residuals
from ._scaling import Scaling
from ._simulate import simulate
from .exceptions import DiscretizationWarning, warn_user

#: Largest RMS gap (in standard deviations of the data) between the learned ODE simulated
#: from the fitted initial states and the collocation trajectory before fit warns.
DISCRETIZATION_TOLERANCE = 0.1
#: Fraction of each trajectory's samples that ``score`` uses to estimate its initial
#: state (latent states, or a first sample not fully observed); they are not scored.
SCORE_WARMUP = 0.1


def train_mse(parts, scaling: Scaling) -> float:
    """Mean squared error, user units, of the collocation trajectories against the
    observed data over ``parts``, ``(NLPData, theta, states)`` triples."""
    sq_err, count = 0.0, 0
    for data, _, states in parts:
        residual = observation_residuals(data, states) * scaling.scale
        sq_err, count = sq_err + float(np.sum(residual**2)), count + data.n_observed
    return sq_err / count


def discretization_error(parts, make_field, scaling: Scaling, simulation: dict) -> float:
    """RMS gap (standardized units) between the learned ODE simulated along every
    collocation chain from its first node and the collocation states.

    ``parts``: ``(NLPData, theta, states)``, each chain simulated with the weights it was
    solved with (``make_field(theta, data)`` -> a ``VectorField``); ``simulation``: the
    keywords ``method``, ``options`` and ``interpolation`` of
    :func:`skneuralode._simulate.simulate` (the estimator's integrator settings).
    ``inf`` when a simulation diverges.
    """
    sq_err, count = 0.0, 0
    for data, theta, states in parts:
        field = make_field(theta, data)
        for nodes in _chains(data.disc):
            gap = _chain_gap(field, data, states, nodes, scaling, simulation)
            sq_err, count = sq_err + float(np.sum(gap**2)), count + gap.size
    return float(np.sqrt(sq_err / count))


def _chains(disc):
    """Node indices of each collocation chain, one per distinct time, in time order."""
    for k in range(len(disc.initial_nodes)):
        nodes = np.flatnonzero(disc.node_trajectory == k)
        _, first = np.unique(disc.node_times[nodes], return_index=True)
        yield nodes[first]


def _chain_gap(field, data, states, nodes, scaling: Scaling, simulation: dict) -> np.ndarray:
    times = data.disc.node_times[nodes] * scaling.t_scale
    u = None
    if data.node_inputs is not None:
        u = scaling.unscale_inputs(data.node_inputs[nodes])
        if simulation["interpolation"] == "previous":
            u = np.vstack([u[1:], u[-1:]])  # a node holds its left limit: shift
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # in scaled units throughout: an offset of the data (X + 1e9) costs no precision
        sim = simulate(field, times, states[nodes[0]], u, **simulation, scaled=True)
    return sim - states[nodes]


def warn_if_coarse(error: float, converged: bool, n_elements, degree: int, scheme: str) -> None:
    """A :class:`DiscretizationWarning` after a converged solve whose discretization error
    exceeds ``DISCRETIZATION_TOLERANCE`` (a stopped solve has its own warning)."""
    if not converged or error <= DISCRETIZATION_TOLERANCE:
        return
    how = (
        f"departs from the collocation trajectory by {error:.3g} (RMS in units of the data's "
        f"standard deviation; tolerance {DISCRETIZATION_TOLERANCE})"
        if np.isfinite(error)
        else "cannot be integrated along the collocation trajectory (it diverges)"
    )
    warn_user(
        f"The fitted collocation trajectory is not a solution of the learned ODE: "
        f"simulated from `initial_states_`, the model {how}. The discretization is "
        f"too coarse for the learned dynamics (n_elements={n_elements!r}, "
        f"degree={degree}, scheme={scheme!r}): increase `n_elements` (None "
        "puts one element on every sample interval) or `degree`.",
        DiscretizationWarning,
    )


def warmup_length(n_samples: int, n_states: int) -> int:
    """Samples at the start of a trajectory that ``score`` uses to estimate its initial
    state: ``max(ceil(SCORE_WARMUP n), 2 n_states + 1)``, at most ``n - 1``."""
    warmup = min(n_samples - 1, max(int(np.ceil(SCORE_WARMUP * n_samples)), 2 * n_states + 1))
    if warmup < 2:
        raise ValueError(
            f"score needs at least 3 samples per trajectory to estimate its initial state "
            f"(latent states or a missing first sample); got {n_samples}."
        )
    return warmup


def simulate_trajectories(model, t, X, u, groups) -> tuple[np.ndarray, np.ndarray]:
    """Every trajectory of validated observations simulated from its start, the way
    ``score`` and the simulation scorer evaluate a fitted ``model`` -> (predictions of shape
    ``X.shape``, boolean mask of the samples to score).

    A trajectory whose first sample is fully observed, for a model without latent states,
    is simulated from that sample and scored whole. Otherwise its initial state is
    estimated (``model.estimate_initial_state``) on a warm-up window at its start
    (:func:`warmup_length`), whose samples are not scored. Integration warnings are
    silenced: a diverging simulation shows as non-finite predictions."""
    pred = np.full_like(X, np.nan)
    scored = np.ones(len(t), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for g in groups:
            u_g = None if u is None else u[g]
            x0, warmup = score_start(model, t[g], X[g], u_g)
            scored[g[:warmup]] = False
            pred[g] = model.predict(t[g], x0, u_g, as_frame=False)
    return pred, scored


def score_start(model, t, X, u) -> tuple[np.ndarray, int]:
    """(initial state, samples in the warm-up window) for scoring one trajectory."""
    n_latent = model.scaling_.n_latent
    if n_latent == 0 and np.all(np.isfinite(X[0])):
        return X[0], 0
    warmup = warmup_length(len(t), model.n_states_ + n_latent)
    window = slice(0, warmup)
    x0 = model.estimate_initial_state(t[window], X[window], None if u is None else u[window])
    return x0, warmup


def observed_r2(X: np.ndarray, pred: np.ndarray, observed: np.ndarray, scaling: Scaling):
    """R² (uniform average over states) of ``pred`` against ``X`` over the ``observed``
    entries; ``-inf`` when a prediction there is not finite."""
    if not np.all(np.isfinite(pred[observed])):
        return -np.inf
    # R² per state is unit-free; standardized, it neither overflows nor underflows
    Xs, Ps = scaling.states(X), scaling.states(pred)
    if observed.all():
        return float(r2_score(Xs, Ps))
    cols = [i for i in range(X.shape[1]) if np.count_nonzero(observed[:, i]) > 1]
    if not cols:
        raise ValueError(
            "score needs at least 2 observed samples of a state outside the warm-up windows."
        )
    return float(np.mean([r2_score(Xs[observed[:, i], i], Ps[observed[:, i], i])
                          for i in cols]))  # fmt: skip
