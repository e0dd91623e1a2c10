"""Scoring a model by simulation, for scikit-learn's model selection tools.

scikit-learn's scorers (``scoring="r2"``, ``"neg_mean_squared_error"``, ...) call
``estimator.predict(X_test)``: for these estimators ``predict(t)``, which cannot simulate
without an initial state. :func:`make_simulation_scorer` builds a scorer that simulates
every test trajectory from its start the way
:meth:`~skneuralode.CollocationNeuralODE.score` does, then applies a metric.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    root_mean_squared_error,
)
from sklearn.utils.metadata_routing import MetadataRequest
from sklearn.utils.validation import check_is_fitted

from ._admm import ADMMNeuralODE
from ._diagnostics import observed_r2, simulate_trajectories
from ._estimator import CollocationNeuralODE
from ._validation import check_observations

__all__ = ["make_simulation_scorer"]

#: The metrics known by name: ``name: (metric(y_true, y_pred), greater_is_better)``.
METRICS = {
    "r2": (r2_score, True),
    "neg_mean_squared_error": (mean_squared_error, False),
    "neg_root_mean_squared_error": (root_mean_squared_error, False),
    "neg_mean_absolute_error": (mean_absolute_error, False),
}
#: What the scorer can receive besides ``t`` and ``X`` (by metadata routing in a search).
_METADATA = ("u", "trajectory")


def make_simulation_scorer(metric="r2", *, greater_is_better=True, **kwargs):
    """A scorer that simulates each test trajectory from its start, for model selection.

    Use it as ``scoring=`` in ``GridSearchCV``, ``RandomizedSearchCV``,
    ``cross_val_score`` and ``cross_validate`` (alone or in a dict of scorers), with
    :class:`~skneuralode.CollocationNeuralODE` and :class:`~skneuralode.ADMMNeuralODE`.
    scikit-learn's own scorers call ``predict(t)``, which needs an initial state.

    Called as ``scorer(estimator, t, X, u=None, trajectory=None)``, it simulates every
    trajectory of the test data exactly as :meth:`~skneuralode.CollocationNeuralODE.score`
    does: from its first sample when that sample is fully observed and the model has no
    latent states; otherwise from an initial state estimated on a warm-up window at its
    start, whose samples are then not scored. The metric compares the simulation with the
    observed entries of ``X`` (NaN left out).

    Parameters
    ----------
    metric : {"r2", "neg_mean_squared_error", "neg_root_mean_squared_error", \
"neg_mean_absolute_error"} or callable, default="r2"
        - ``"r2"``: R², uniform average over the states (the value of ``score``);
        - ``"neg_mean_squared_error"``, ``"neg_root_mean_squared_error"``,
          ``"neg_mean_absolute_error"``: the negated error, averaged over the states, in
          the units of ``X``;
        - a callable ``metric(y_true, y_pred, **kwargs)`` returning a float, with
          ``y_true`` and ``y_pred`` of shape (n_scored, n_states).

        When some scored entries of ``X`` are missing, the metric is computed per state
        over that state's observed samples (1-D arrays) and averaged over the states.
    greater_is_better : bool, default=True
        Whether a larger ``metric`` is better; if not, the scorer returns ``-metric`` (as
        scikit-learn's ``make_scorer``). Only for a callable: a named metric has its sign
        in its name.
    **kwargs
        Passed to ``metric``.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, t, X, u=None, trajectory=None) -> float``; ``-inf`` when a
        simulation diverges. Inside a search, ``u`` and ``trajectory`` reach it by
        metadata routing: enable it (``sklearn.set_config(enable_metadata_routing=True)``)
        and request them with ``scorer.set_score_request(u=True, trajectory=True)``, as
        for the estimator's ``fit``.

    See Also
    --------
    skneuralode.CollocationNeuralODE.score : R² of the same simulations.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
    >>> from skneuralode import CollocationNeuralODE
    >>> from skneuralode.datasets import van_der_pol
    >>> from skneuralode.metrics import make_simulation_scorer
    >>> t, X = van_der_pol(n_samples=100, t_span=(0, 10))
    >>> search = GridSearchCV(
    ...     CollocationNeuralODE(random_state=0), {"width": [8, 16]},
    ...     cv=TimeSeriesSplit(n_splits=3, test_size=10),
    ...     scoring=make_simulation_scorer("neg_mean_squared_error"),
    ... ).fit(t, X)  # doctest: +SKIP
    """
    if isinstance(metric, str):
        if metric not in METRICS:
            raise ValueError(
                f"`metric` must be one of {sorted(METRICS)} or a callable "
                f"metric(y_true, y_pred); got {metric!r}."
            )
        if greater_is_better is not True:
            raise ValueError(
                f"`greater_is_better` applies to a callable metric; {metric!r} has its sign "
                "in its name. Drop `greater_is_better`."
            )
        func, greater_is_better = METRICS[metric]
        name = metric
    elif callable(metric):
        func, name = metric, getattr(metric, "__name__", repr(metric))
    else:
        raise TypeError(
            f"`metric` must be a metric name or a callable metric(y_true, y_pred); got "
            f"{type(metric).__name__} {metric!r}."
        )
    return SimulationScorer(func, 1 if greater_is_better else -1, kwargs, name)


class SimulationScorer:
    """The scorer of :func:`make_simulation_scorer` (build it with that function)."""

    def __init__(self, metric, sign: int, kwargs: dict, name: str):
        self._metric = metric
        self._sign = sign
        self._kwargs = kwargs
        self._name = name

    def __repr__(self):
        sign = "" if self._sign > 0 or self._name in METRICS else ", greater_is_better=False"
        args = "".join(f", {k}={v!r}" for k, v in self._kwargs.items())
        return f"make_simulation_scorer({self._name!r}{sign}{args})"

    def __call__(self, estimator, t, X, u=None, trajectory=None):
        """The score of ``estimator`` on the observations ``(t, X)``.

        Parameters
        ----------
        estimator : CollocationNeuralODE or ADMMNeuralODE
            A fitted model.
        t, X, u, trajectory
            As in :meth:`~skneuralode.CollocationNeuralODE.score`.

        Returns
        -------
        score : float
            ``metric`` (negated if smaller is better) of the simulations against the
            scored observed entries of ``X``; ``-inf`` when a simulation diverges.
        """
        model = _fitted_model(estimator)
        t, X, u, groups = check_observations(t, X, u, trajectory, model)
        pred, scored = simulate_trajectories(model, t, X, u, groups)
        observed = np.isfinite(X) & scored[:, None]
        if not np.all(np.isfinite(pred[observed])):
            return -np.inf
        if self._metric is r2_score and not self._kwargs:
            return observed_r2(X, pred, observed, model.scaling_)  # = score's value
        return self._sign * self._apply(X, pred, observed)

    def _apply(self, X, pred, observed) -> float:
        rows = observed.any(axis=1)
        if observed[rows].all():
            return float(self._metric(X[rows], pred[rows], **self._kwargs))
        cols = [i for i in range(X.shape[1]) if np.count_nonzero(observed[:, i]) > 1]
        if not cols:
            raise ValueError(
                "The simulation scorer needs at least 2 observed samples of a state outside "
                "the warm-up windows."
            )
        values = [self._metric(X[observed[:, i], i], pred[observed[:, i], i], **self._kwargs)
                  for i in cols]  # fmt: skip
        return float(np.mean(values))

    # ------------------------------------------------ scikit-learn metadata routing
    def set_score_request(self, **kwargs):
        """Request ``u`` and/or ``trajectory`` from a search's ``fit`` (metadata routing).

        Parameters
        ----------
        u, trajectory : bool, str or None
            ``True``: pass it to the scorer; ``False``: do not; ``None``: error if given;
            a str: the name under which it is passed to ``fit``.

        Returns
        -------
        self : SimulationScorer
        """
        unknown = set(kwargs) - set(_METADATA)
        if unknown:
            raise TypeError(
                f"The simulation scorer can request {list(_METADATA)}; got {sorted(unknown)}."
            )
        self._requests = {**getattr(self, "_requests", {}), **kwargs}
        return self

    def get_metadata_routing(self):
        """What the scorer requests (scikit-learn's metadata routing).

        Returns
        -------
        routing : sklearn.utils.metadata_routing.MetadataRequest
        """
        request = MetadataRequest(owner=self)
        requests = getattr(self, "_requests", {})
        for param in _METADATA:
            request.score.add_request(param=param, alias=requests.get(param))
        return request

    def _accept_sample_weight(self) -> bool:
        # scikit-learn asks every scorer of a multi-metric dict when sample_weight is given
        return False


def _fitted_model(estimator) -> CollocationNeuralODE:
    """The fitted CollocationNeuralODE that simulates (an ADMM model's consensus)."""
    if isinstance(estimator, ADMMNeuralODE):
        check_is_fitted(estimator)
        return estimator.estimator_
    if not isinstance(estimator, CollocationNeuralODE):
        raise TypeError(
            "The simulation scorer scores a CollocationNeuralODE or an ADMMNeuralODE; got "
            f"{type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    return estimator
