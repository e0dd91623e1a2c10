"""Writing a fitted model: every fitted attribute of :class:`CollocationNeuralODE` comes
from here, for a single fit and for ADMM's consensus alike (arrays and plain values only:
nothing of Pyomo or IPOPT stays on the estimator)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from . import _mlp
from ._diagnostics import discretization_error, train_mse, warn_if_coarse
from ._greybox import GreyBoxField
from ._problem import constraint_violation, objective
from ._progress import CALLBACK_STOP
from ._scaling import Scaling
from ._simulate import VectorField
from ._status import STOPPED, failure_advice
from .exceptions import SolverError, UndeterminedStatesWarning, warn_user

#: Keys of ``timings_``.
TIMINGS = ("setup", "nl_write", "ipopt", "evaluation", "total")


def check_result(result) -> None:
    """Raise on a failed solve, warn on a stopped or interrupted one."""
    if result.converged:
        return
    if result.status == "userInterrupt":
        by_callback = result.message == CALLBACK_STOP
        why = "stopped by `callback`" if by_callback else "interrupted (Ctrl-C)"
        warn_user(
            f"fit was {why} after {result.n_iter} IPOPT iterations. The "
            "model holds the last iterate (solver_status_='userInterrupt'); fit again "
            "with warm_start=True to continue from it.",
            ConvergenceWarning,
        )
        return
    if result.status in STOPPED:
        warn_user(
            f"IPOPT stopped before converging after {result.n_iter} iterations "
            f"(status {result.status!r}: {result.message}). The model holds the last "
            f"iterate; consider increasing or relaxing {STOPPED[result.status]}.",
            ConvergenceWarning,
        )
        return
    raise SolverError(
        f"IPOPT failed with status {result.status!r}: {result.message.rstrip('.')}. "
        f"No model was fitted. {failure_advice(result.status)}"
    )


def store_network(est, theta: np.ndarray, data, scaling: Scaling) -> None:
    """The network, the physics and the scaling: all that ``predict`` needs (numpy only).

    With known physics (``data.physics``) also ``physics_params_`` (user units) and
    ``greybox_``, the ``GreyBox`` holding the fitted parameters."""
    net, ps = data.split_theta(theta)
    est.coefs_, est.intercepts_ = (
        [c.copy() for c in part] for part in _mlp.unpack(net, data.sizes)
    )
    for name in ("physics_params_", "greybox_"):
        est.__dict__.pop(name, None)
    if data.physics is not None:
        est.greybox_ = replace(data.physics, values=data.physics.user_params(ps))
        est.physics_params_ = est.greybox_.params_dict(est.greybox_.scaled_params())
    est.scaling_ = scaling
    est.activation_ = data.activation  # predict's, not the parameter changed later
    est.n_features_in_ = 1
    est.n_states_ = scaling.n_observed
    est.n_inputs_ = 0 if scaling.u_mean is None else len(scaling.u_mean)


def store_names(est, state_names, input_names) -> None:
    """``state_names_`` and ``input_names_``, each only when the user named them (like
    scikit-learn's ``feature_names_in_``; ``_names`` gives the defaults otherwise)."""
    for name, value in (("state_names_", state_names), ("input_names_", input_names)):
        est.__dict__.pop(name, None)
        if value is not None:
            setattr(est, name, value)


def vector_field(data, theta: np.ndarray, activation: str, scaling: Scaling):
    """The learned ``dx/dt`` in user units of ``theta`` solved on ``data`` (a
    ``VectorField``, or a ``GreyBoxField`` with known physics)."""
    net, ps = data.split_theta(theta)
    coefs, intercepts = _mlp.unpack(net, data.sizes)
    if data.physics is None:
        return VectorField.from_network(coefs, intercepts, activation, scaling)
    return GreyBoxField.from_greybox(
        data.physics, coefs, intercepts, activation, data.physics.user_params(ps)
    )


def store_fit(est, scaling: Scaling, theta, parts, results, build_time, n_iter=None,
              names=(None, None)) -> None:  # fmt: skip
    """Write every fitted attribute: the network ``theta`` and the solved NLPs.

    ``parts``: one ``(NLPData, theta, states)`` per solved NLP (one for ``fit``, one per
    batch for ADMM), whose collocation chains are stored one after the other;
    ``results``: their latest ``SolveResult``. ``n_iter``: IPOPT iterations in all
    (default: those of ``results``). ``names``: ``(state_names_, input_names_)`` from
    ``_validation.check_fit_names`` (None: not named). ``fit_time_`` and
    ``timings_["total"]`` are the caller's to set at the end.

    Atomic: every attribute is computed on a :class:`_Staged` view of ``est`` first and
    written only once all of them (the discretization check's simulation included)
    succeeded; on an exception ``est`` keeps the attributes of its previous fit, or stays
    unfitted.
    """
    staged = _Staged(est)
    _compute_fit(staged, scaling, theta, parts, results, build_time, n_iter, names)
    staged.commit()


class _Staged:
    """Fitted attributes written to a staging area, not to the estimator: reads fall back
    to the estimator (its parameters), ``__dict__.pop`` drops a staged attribute only, and
    :meth:`commit` writes them all, removing the estimator's optional attributes
    (:data:`OPTIONAL`) this fit did not set."""

    def __init__(self, est):
        object.__setattr__(self, "_est", est)

    def __getattr__(self, name):
        return getattr(self._est, name)

    def commit(self) -> None:
        staged = {k: v for k, v in vars(self).items() if k != "_est"}
        for name in OPTIONAL:
            if name not in staged:
                self._est.__dict__.pop(name, None)
        for name, value in staged.items():
            setattr(self._est, name, value)


#: Fitted attributes a fit may leave unset (names not given, no physics or covariance).
OPTIONAL = (
    "state_names_", "input_names_", "physics_params_", "greybox_", "physics_covariance_",
    "physics_std_", "physics_covariance_info_",
)  # fmt: skip


def _compute_fit(est, scaling, theta, parts, results, build_time, n_iter, names) -> None:
    """:func:`store_fit` on ``est`` (a :class:`_Staged` view)."""
    store_network(est, theta, parts[0][0], scaling)
    store_names(est, *names)
    _store_collocation(est, parts, scaling)
    _store_ranges(est, parts, scaling)
    _check_determined(est.collocation_states_, parts, scaling)
    est.train_mse_ = train_mse(parts, scaling)
    est.constraint_violation_ = max(constraint_violation(*part) for part in parts)
    est.objective_ = sum(objective(*part) for part in parts)
    worst = next((r for r in results if not r.converged), results[0])
    est.engine_, est.solver_ = worst.engine, worst.solver
    est.solver_status_, est.solver_message_ = worst.status, worst.message
    est.converged_ = all(r.converged for r in results)
    est.n_iter_ = int(sum(r.n_iter for r in results) if n_iter is None else n_iter)
    est.n_variables_ = int(sum(r.n_variables for r in results))
    est.n_constraints_ = int(sum(r.n_constraints for r in results))
    est.build_time_ = float(build_time)
    est.solve_time_ = float(sum(r.solve_time for r in results))
    nl_write = float(sum(r.nl_time for r in results))
    est.timings_ = {
        "setup": est.build_time_,
        "nl_write": nl_write,
        "ipopt": est.solve_time_ - nl_write,
        "evaluation": float(sum(r.eval_time for r in results)),
        "total": float("nan"),
    }
    _check_discretization(est, parts, scaling)
    _store_covariance(est, parts)


#: The covariance's LU holds about 16 bytes x network parameters x (variables +
#: constraints); above this many bytes it is not computed (``physics_covariance_info_``).
COVARIANCE_MEMORY = 1 << 30


def _store_covariance(est, parts) -> None:
    """``physics_covariance_``, ``physics_std_`` and ``physics_covariance_info_`` of a
    single fit with fitted physical parameters (``_covariance``); none otherwise."""
    for name in ("physics_covariance_", "physics_std_", "physics_covariance_info_"):
        est.__dict__.pop(name, None)
    data, theta, states = parts[0]
    if data.physics is None or not data.physics.n_free:
        return
    names = [data.physics.physics.param_names[k] for k in data.physics.free]
    n_free = len(names)
    size = 16 * data.n_network_params * (len(theta) + states.size) * 2
    if len(parts) > 1:
        cov, info = (
            np.full((n_free, n_free), np.nan),
            {
                "status": "not_computed",
                "message": "ADMM: no batch's NLP is the whole problem",
            },
        )
    elif size > COVARIANCE_MEMORY:
        cov, info = (
            np.full((n_free, n_free), np.nan),
            {
                "status": "not_computed",
                "message": f"its factorization would need about {size / 2**30:.1f} GiB",
            },
        )
    else:
        from ._covariance import physics_covariance

        cov, info = physics_covariance(data, theta, states)
    info.setdefault("names", names)
    est.physics_covariance_ = cov
    est.physics_std_ = dict(zip(names, np.sqrt(np.diag(cov)).tolist()))
    est.physics_covariance_info_ = info


def _store_collocation(est, parts, scaling: Scaling) -> None:
    times, values, chains, first, offset = [], [], [], [], 0
    for data, _, states in parts:
        disc = data.disc
        times.append(disc.node_times * scaling.t_scale)
        values.append(scaling.unscale_states(states))
        chains.append(disc.node_trajectory + offset)
        first.append(values[-1][disc.initial_nodes])
        offset += len(disc.initial_nodes)
    est.collocation_times_ = np.concatenate(times)
    est.collocation_states_ = np.vstack(values)
    est.collocation_trajectory_ = np.concatenate(chains)
    est.initial_states_ = np.vstack(first)


def _store_ranges(est, parts, scaling: Scaling) -> None:
    """``state_range_`` and ``input_range_``: rows (min, max) in user units of the
    observed samples and the collocation states (latent ones included), and of the inputs
    at the collocation nodes (None without inputs): the region the model was fitted on,
    which ``to_onnx`` writes as the network's input bounds."""
    n_obs = scaling.n_observed
    states = [est.collocation_states_]
    for data, _, _ in parts:
        X = data.targets[:, :n_obs] * scaling.x_scale + scaling.x_mean
        seen = (
            np.ones(X.shape, bool) if data.obs_weight is None else data.obs_weight[:, :n_obs] > 0
        )
        full = np.full((len(X), len(scaling.mean)), np.nan)
        full[:, :n_obs] = np.where(seen, X, np.nan)
        states.append(full)
    states = np.vstack(states)
    est.state_range_ = np.vstack([np.nanmin(states, axis=0), np.nanmax(states, axis=0)])
    est.input_range_ = None
    if scaling.u_mean is not None:
        U = np.vstack([d.node_inputs for d, _, _ in parts]) * scaling.u_scale + scaling.u_mean
        est.input_range_ = np.vstack([U.min(axis=0), U.max(axis=0)])


#: How far outside the range of its observed samples (in units of that range) a fitted
#: collocation state of an observed state may lie before ``UndeterminedStatesWarning``.
DATA_RANGES = 10.0


def _check_determined(states: np.ndarray, parts, scaling: Scaling) -> None:
    """An :class:`UndeterminedStatesWarning` when a collocation state of an observed state
    (user units, ``collocation_states_``) lies more than ``DATA_RANGES`` data ranges
    outside the range of its observed samples (a state observed once or constant: in
    units of its magnitude)."""
    n_obs = scaling.n_observed
    X = np.vstack([d.targets[:, :n_obs] for d, _, _ in parts]) * scaling.x_scale
    X = X + scaling.x_mean
    seen = np.vstack([
        np.ones((len(d.targets), n_obs), bool) if d.obs_weight is None
        else d.obs_weight[:, :n_obs] > 0
        for d, _, _ in parts
    ])  # fmt: skip
    X = np.where(seen, X, np.nan)
    low, high = np.nanmin(X, axis=0), np.nanmax(X, axis=0)
    # a state observed once (or constant): the size of its value, else its scale
    size = np.where(np.abs(low) > 0, np.abs(low), scaling.x_scale)
    span = np.where(high > low, high - low, size)
    fitted = states[:, :n_obs]
    outside = np.maximum(np.max(low - fitted, axis=0), np.max(fitted - high, axis=0)) / span
    if not np.nanmax(outside, initial=0.0) > DATA_RANGES:
        return
    i = int(np.nanargmax(outside))
    where = (
        f"{outside[i]:.3g} data ranges outside its observed range [{low[i]:.4g}, {high[i]:.4g}]"
        if high[i] > low[i]
        else f"{outside[i]:.3g} times its magnitude away from its observed value {low[i]:.4g}"
    )
    warn_user(
        f"The data do not determine the fitted states: the collocation states of state {i} "
        f"(and so `initial_states_`) reach {where} ({seen[:, i].sum()} observed of "
        f"{len(seen)} samples). The fit is optimal for IPOPT but its states are not "
        "supported by the data: use fewer latent states (`n_latent`), more observed "
        "samples, or bound the states (`state_bound`).",
        UndeterminedStatesWarning,
    )


def _check_discretization(est, parts, scaling: Scaling) -> None:
    """``discretization_error_``, each chain simulated with the weights it was solved with
    (an ADMM batch's own weights), and the warning after a converged solve."""

    def make_field(theta, data):
        return vector_field(data, theta, est.activation_, scaling)

    simulation = {
        "method": est.integrator,
        "options": est.integrator_options,
        "interpolation": est.u_interpolation,
    }
    est.discretization_error_ = discretization_error(parts, make_field, scaling, simulation)
    warn_if_coarse(est.discretization_error_, est.converged_, est.n_elements, est.degree,
                   est.scheme)  # fmt: skip


def store_iterates(est, result, start: float, record: bool) -> None:
    """Per-iteration weights of this fit (``record``), or no such attributes (left from a
    refit)."""
    for name in ("iterates_", "iterate_times_", "iterate_objectives_"):
        est.__dict__.pop(name, None)
    if not record:
        return
    est.iterates_ = np.array([theta for _, theta in result.iterates])
    est.iterate_times_ = np.array([stamp - start for stamp, _ in result.iterates])
    est.iterate_objectives_ = np.array([obj for obj, *_ in result.iterations])
