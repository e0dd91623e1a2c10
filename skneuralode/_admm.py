"""ADMMNeuralODE: consensus ADMM over data batches, sub-problems run through joblib.

The module-level :func:`solve_batch` is what a joblib worker (loky, threads, or a Dask
``distributed`` worker) runs: it receives a ``BatchTask`` made of numpy arrays and
plain values only, and its engine solves the batch's NLP with its proximal term and
returns arrays (see ``_engines``). A batch's data travel with its first task only; the
worker keeps them (``_resident``) and later tasks carry only the iterate.
"""

from __future__ import annotations

import pickle
import time
import uuid
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, RegressorMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from . import _resident
from ._diagnostics import train_mse
from ._engines import BatchResult, BatchTask, SolveResult, get_engine
from ._estimator import CollocationNeuralODE
from ._fitted import store_fit
from ._greybox import make_greybox
from ._greybox import prepare as prepare_physics
from ._init import fit_scaling
from ._problem import build_problem, objective
from ._solver import STOPPED, find_solver
from ._spec import MIN_SAMPLES, ProblemSpec, ipopt_options
from ._validation import check_fit_data
from .exceptions import SolverError, warn_user

# ----------------------------------------------------------------- the worker


def solve_batch(task: BatchTask) -> BatchResult:
    """Solve one batch NLP with its proximal term, warm-started from the task's iterate,
    with the task's engine (``_engines``: the batch's data come with the task or from
    this process's store, ``_resident``; without them the result is ``missing``; the
    pyomo engine also keeps each batch's built model in the worker process). With
    ``task.limit_threads`` the worker's BLAS/OpenMP pools get one thread each."""
    limits = threadpool_limits(1) if task.limit_threads else None
    try:
        return get_engine(task.engine).solve_batch(task)
    finally:
        if limits is not None:
            limits.restore_original_limits()


# -------------------------------------------------------------- the estimator

#: The absolute tolerance of the stopping rule, per weight, as a fraction of ``tol``.
ABS_TOL_FRACTION = 0.1
#: Why ADMM stopped (``stop_reason_``).
STOP_REASONS = ("converged", "max_iter", "max_time", "interrupted")


class ADMMNeuralODE(RegressorMixin, BaseEstimator):
    """Train a :class:`CollocationNeuralODE` by consensus ADMM over batches of the data.

    The samples are split into ``n_batches`` batches. Every batch gets its own collocation
    NLP (its own states and its own copy ``theta_b`` of the network weights); ADMM drives
    the copies to a consensus ``z``. In each iteration all batch sub-problems are solved
    in parallel with joblib, so any joblib backend works: processes (loky, the default),
    or a Dask cluster through ``joblib.parallel_config(backend="dask")``.

    Parameters
    ----------
    estimator : CollocationNeuralODE, default=None
        The model and its solver settings (``width``, ``scheme``, ``alpha``, IPOPT
        options, ...). It is cloned, never fitted in place. ``None``:
        ``CollocationNeuralODE()``. Its ``warm_start``, ``store_iterates`` and
        ``max_time`` do not apply here: ADMM warm-starts every sub-problem itself,
        records its progress per ADMM iteration in ``history_`` and has its own
        ``max_time`` for the whole fit.
    n_batches : int, default=2
        Number of batches (sub-problems).
    batching : {"time", "trajectory"}, default="time"
        - ``"time"``: every trajectory is cut into ``n_batches`` contiguous time windows
          of (nearly) equal sample counts; batch ``b`` holds window ``b`` of every
          trajectory. Each window has its own free initial state; windows are not tied
          by continuity constraints.
        - ``"trajectory"``: whole trajectories are dealt into ``n_batches`` groups
          (needs ``trajectory=`` in ``fit``).
    rho : float, default=1.0
        Initial ADMM penalty. ADMM splits the *sum* of squared (scaled) errors: batch
        ``b`` with ``n_b`` samples of ``d`` states minimizes ``n_b d L_b(theta_b) +
        rho/2 ||theta_b - z + u_b||^2``, so ``rho`` does not need retuning when the data
        grow.
    adaptive_rho : bool, default=True
        Residual balancing: ``rho *= 2`` when the primal residual exceeds 10 times the
        dual one, ``rho /= 2`` in the opposite case (scaled duals rescaled).
    max_iter : int, default=100
        Maximum number of ADMM iterations.
    tol : float, default=1e-2
        Relative tolerance of the stopping rule of Boyd et al. (2011, §3.3.1); its
        absolute tolerance is ``tol / 10`` per weight (the weights act on standardized
        data). ``converged_`` then means that the batch copies agree with the consensus
        to ``tol`` relative to the norm of the weights, ``r <= tol max(||theta||,
        sqrt(B) ||z||) + sqrt(B p) tol / 10``, and that the dual residual is within
        ``tol`` of the multipliers, ``s <= tol ||rho u|| + sqrt(B p) tol / 10`` (norms
        stacked over the ``B`` batches of ``p`` weights; see Notes), and IPOPT solved
        every sub-problem of that iteration.
    max_time : float, default=None
        Wall-clock limit in seconds for the whole ``fit`` (``None``: no limit). It is
        checked after every ADMM iteration; once exceeded, ADMM stops with the current
        consensus and a ``ConvergenceWarning``. Each sub-problem solve also gets the time
        left at its dispatch as IPOPT's ``max_wall_time`` (IPOPT >= 3.14), so one long
        solve cannot overrun it by much.
    n_jobs : int, default=None
        Parallel sub-problem solves (joblib semantics: ``None`` is 1 unless inside a
        ``joblib.parallel_config`` context, ``-1`` all cores). With more than one job,
        each worker's BLAS/OpenMP threads are limited to 1 (threadpoolctl).
    verbose : int, default=0
        ``>= 1`` prints a header and then one line per ADMM iteration to standard
        output: the iteration, the primal and dual residuals each with its tolerance,
        ``rho``, the objective and the wall time since the start of ``fit``; and a last
        line saying why ADMM stopped. IPOPT's own output is off in the sub-problems.
    random_state : int, RandomState instance or None, default=None
        Seeds the common initial weights (overrides the estimator's ``random_state``;
        ``None`` keeps it). The initial consensus is the start the single model would
        use on all the data (see ``init`` of :class:`CollocationNeuralODE`).

    Attributes
    ----------
    estimator_ : CollocationNeuralODE
        A fitted model holding the consensus weights; everything that works on a single
        model works on it. Its ``initial_states_``/``collocation_*`` come from the
        batches (one chain per batch window), ``n_iter_`` counts all IPOPT iterations.
    history_ : dict of lists
        Per completed ADMM iteration: ``primal_residual``, ``dual_residual`` and the
        thresholds they are compared with, ``primal_tolerance`` and ``dual_tolerance``;
        ``rho``, ``objective`` (sum of the batch objectives without the proximal terms),
        ``train_mse`` (collocation trajectories vs. data, user units), ``wall_time``
        (cumulative seconds), ``build_time`` and ``solve_time`` (summed over batches),
        ``ipopt_iterations`` (summed over batches), ``models_reused`` (batches whose
        worker still held the built model); what crossed to and from the workers (see
        Notes): ``bytes_sent`` (pickled size of every task dispatched, tasks sent again
        with their data included), ``data_resent`` (tasks that had to carry their
        batch's data: all ``n_batches`` in the first iteration, then those whose worker
        did not hold it) and ``bytes_received`` (pickled size of the results). With
        ``n_jobs=1`` nothing is pickled for the solves, but the same is counted.
    n_iter_ : int
        ADMM iterations completed.
    converged_ : bool
        Whether ADMM met its stopping rule (``stop_reason_ == "converged"``; what that
        promises is under ``tol``).
    stop_reason_ : {"converged", "max_iter", "max_time", "interrupted"}
        Why ADMM stopped:

        - ``"converged"``: both residuals under their tolerances (see ``tol``);
        - ``"max_iter"``: ``max_iter`` iterations done without that;
        - ``"max_time"``: the wall time exceeded ``max_time``;
        - ``"interrupted"``: Ctrl-C (a sub-problem stopped with status
          ``"userInterrupt"``, or the joblib call raised ``KeyboardInterrupt``). The
          model holds the consensus of the last completed iteration, or the initial
          consensus if none completed.

        All but ``"converged"`` come with a ``ConvergenceWarning``.
    n_features_in_ : int
        Always 1 (the time column).
    fit_time_ : float
        Wall-clock seconds of the whole fit.

    See Also
    --------
    CollocationNeuralODE : the single-NLP model.

    Notes
    -----
    Scaled-form consensus ADMM (Boyd et al. 2011, §7.1). With ``L_b`` the collocation
    objective of batch ``b`` (its mean squared misfit plus ``alpha ||W||^2``) and
    ``c_b = n_b d``, iteration ``k`` computes

    .. math::

        \\theta_b &\\leftarrow \\arg\\min c_b L_b(\\theta_b, x_b)
                  + \\tfrac{\\rho}{2} \\lVert \\theta_b - z + u_b \\rVert^2, \\\\
        z &\\leftarrow \\operatorname{mean}_b (\\theta_b + u_b), \\qquad
        u_b \\leftarrow u_b + \\theta_b - z,

    with primal residual ``r = sqrt(sum_b ||theta_b - z||^2)`` and dual residual
    ``s = rho sqrt(B) ||z - z_prev||``. Sub-problems are warm-started from their previous
    solution; a worker that solved batch ``b`` before reuses its Pyomo model and only
    updates the proximal parameters and the starting point. All batches share the
    scaling computed on the full data, so the weights mean the same in every batch.

    **What is sent per iteration.** A batch's data (its discretization, targets and
    inputs: some 0.8 MB per 2 000 samples) go to the workers with the first
    iteration's tasks only, and every worker process keeps what it received, keyed by
    the fit and the batch (up to 200 MiB per process; older fits' data are dropped
    first). Later tasks carry ``rho``, the proximal center ``z - u_b``, the warm start
    (``theta_b`` and the batch's node states) and the IPOPT options. A worker that does
    not hold a task's batch (a new or restarted process, or another worker than the one
    that received the data: loky and Dask give a task to any free worker) returns it
    unsolved, and the task is sent again with its data in the same iteration, after the
    others; so the result does not depend on which worker holds what, only the bytes
    and the time do. ``history_`` records them (``bytes_sent``, ``data_resent``,
    ``bytes_received``). With ``n_jobs=1`` the data stay in the calling process, which
    drops them when ``fit`` ends.

    **What "converged" means.** ADMM stops when, with ``eps_abs = tol / 10``,

    .. math::

        r \\le \\sqrt{Bp}\\, \\epsilon_{abs} + \\mathrm{tol} \\max\\big(
            \\lVert \\theta \\rVert, \\sqrt{B} \\lVert z \\rVert\\big), \\qquad
        s \\le \\sqrt{Bp}\\, \\epsilon_{abs} + \\mathrm{tol}\\, \\rho \\lVert u \\rVert,

    Boyd et al.'s rule (2011, §3.3.1) with ``eps_rel = tol``, norms over the stacked
    batch weights ``theta`` and scaled duals ``u``; and IPOPT solved every sub-problem
    of the iteration (one stopped by a limit may not have moved at all). The first
    condition is a promise about the result: the weights each batch fitted to its own
    data are the consensus weights up to a relative ``tol`` (root mean square over the
    batches). The second says that the batch gradients, which the multipliers
    ``rho u_b`` balance, cancel to a relative ``tol``: the consensus is stationary for
    the sum of the batch objectives to that accuracy, so ADMM does not stop while it
    still improves that sum noticeably. The sub-problems are nonconvex, so this is a
    local statement; with ``batching="time"`` the consensus problem is not the single
    model's NLP either (the windows are not tied). Weights that agree to 1% need not give
    the same long simulations in a sensitive system. ADMM's tail is slow here: on the
    paper's two-batch experiment (``benchmarks/admm_paper.py``) the defaults stop after
    25 iterations, while Boyd's rule with ``eps_abs = eps_rel = 1e-3`` is not met
    within 100; three batches of two trajectories each need 91 iterations.

    References
    ----------
    .. [1] S. Boyd, N. Parikh, E. Chu, B. Peleato, J. Eckstein, "Distributed Optimization
       and Statistical Learning via the Alternating Direction Method of Multipliers",
       Foundations and Trends in Machine Learning 3(1), 2011.
    .. [2] M. Shapovalova and C. Tsay, "Training Neural ODEs Using Fully Discretized
       Simultaneous Optimization", arXiv:2502.15642, 2025.

    Examples
    --------
    >>> from skneuralode import ADMMNeuralODE, CollocationNeuralODE
    >>> from skneuralode.datasets import van_der_pol
    >>> t, X = van_der_pol(n_samples=120, t_span=(0, 12))
    >>> admm = ADMMNeuralODE(CollocationNeuralODE(width=16), n_batches=2, n_jobs=2)
    >>> admm = admm.fit(t, X)  # doctest: +SKIP
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_batches": [Interval(Integral, 1, None, closed="left")],
        "batching": [StrOptions({"time", "trajectory"})],
        "rho": [Interval(Real, 0, None, closed="neither")],
        "adaptive_rho": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_batches=2,
        batching="time",
        rho=1.0,
        adaptive_rho=True,
        max_iter=100,
        tol=1e-2,
        max_time=None,
        n_jobs=None,
        verbose=0,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_batches = n_batches
        self.batching = batching
        self.rho = rho
        self.adaptive_rho = adaptive_rho
        self.max_iter = max_iter
        self.tol = tol
        self.max_time = max_time
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, t, X, u=None, trajectory=None):
        """Split the samples into batches and run consensus ADMM on the network weights.

        Parameters
        ----------
        t, X, u, trajectory
            As in :meth:`CollocationNeuralODE.fit`.

        Returns
        -------
        self : ADMMNeuralODE
            The fitted estimator.
        """
        start = time.perf_counter()
        est = self._base_estimator()
        params = est.get_params(deep=False)
        spec = ProblemSpec.from_params(params)
        route = find_solver(est.engine, est.solver)
        t, X, u, groups = check_fit_data(t, X, u, trajectory, est.integrator,
                                         est.integrator_options)  # fmt: skip
        batches = self._make_batches(groups, trajectory is not None, MIN_SAMPLES)
        physics, latent = prepare_physics(spec, X.shape[1], 0 if u is None else u.shape[1])
        scaling, smoothers = fit_scaling(t, X, u, groups, spec.smoothing, spec.n_latent, latent)
        greybox = None if physics is None else make_greybox(spec, physics, scaling)
        # the initial consensus: the start the single model would use on all the data
        z = build_problem(t, X, u, groups, scaling, spec, smoothers=smoothers,
                          physics=greybox).theta0  # fmt: skip
        # latent states: one batch fixes their origin and scale; the consensus carries it
        datas = [
            replace(
                build_problem(t[idx], X[idx], None if u is None else u[idx], sub, scaling,
                              spec, theta0=z, normalize_latent=b == 0, physics=greybox),
                proximal=True,
            )
            for b, (idx, sub) in enumerate(batches)
        ]  # fmt: skip
        options = {**ipopt_options(params), "print_level": 0}
        self._fit_token = uuid.uuid4().hex  # this fit's batches in the workers' stores
        try:
            last, history, stop = self._run(datas, z, route, options, scaling, start)
        finally:  # batches solved in this process (n_jobs=1, threads) leave its store
            _resident.release(self._fit_token)
            del self._fit_token
        self._finish(est, datas, scaling, route, last, history, stop, start)
        return self

    # ------------------------------------------------------------ set-up
    def _base_estimator(self) -> CollocationNeuralODE:
        est = CollocationNeuralODE() if self.estimator is None else clone(self.estimator)
        if not isinstance(est, CollocationNeuralODE):
            raise TypeError(
                "`estimator` must be a CollocationNeuralODE (ADMM splits its collocation NLP); "
                f"got {type(est).__name__}."
            )
        if self.random_state is not None:
            est.set_params(random_state=self.random_state)
        est._validate_params()
        return est

    def _make_batches(self, groups, has_trajectory, min_samples):
        """Per batch: (sample indices, sub-trajectory index arrays into those samples)."""
        if self.batching == "trajectory":
            if not has_trajectory:
                raise ValueError(
                    "batching='trajectory' needs `trajectory` ids in fit; pass trajectory=... "
                    "or use batching='time'."
                )
            if self.n_batches > len(groups):
                raise ValueError(
                    f"n_batches={self.n_batches} is larger than the number of trajectories "
                    f"({len(groups)}) with batching='trajectory'."
                )
            parts = [
                [groups[g] for g in chunk]
                for chunk in np.array_split(np.arange(len(groups)), self.n_batches)
            ]
        else:
            shortest = min(len(g) for g in groups)
            if self.n_batches * min_samples > shortest:
                raise ValueError(
                    f"n_batches={self.n_batches} is too large for batching='time': the "
                    f"shortest trajectory has {shortest} samples and each of its "
                    f"{self.n_batches} windows needs at least {min_samples}."
                )
            windows = [np.array_split(g, self.n_batches) for g in groups]
            parts = [[w[b] for w in windows] for b in range(self.n_batches)]
        batches = []
        for subs in parts:
            idx = np.concatenate(subs)
            bounds = np.cumsum([0] + [len(s) for s in subs])
            batches.append((idx, [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]))
        return batches

    # ------------------------------------------------------------ the loop
    def _run(self, datas, z, route, options, scaling, start):
        """The ADMM iterations -> (last completed iterate, history, stop reason)."""
        B = len(datas)
        it = _Iterate(z, np.tile(z, (B, 1)), [d.states0 for d in datas], np.zeros((B, len(z))))
        rho = float(self.rho)
        history = {key: [] for key in _HISTORY_KEYS}
        make_tasks = self._task_maker(datas, route, options)
        self._say(_HEADER)
        for k in range(self.max_iter):
            results = self._solve_batches(make_tasks(it, rho, self._time_left(start)))
            if results is None:
                return it, history, "interrupted"
            _check_batches(results, k)
            it, r_norm, s_norm = _step(it, results, rho)
            eps_pri, eps_dual = self._tolerances(it, rho)
            _record(history, datas, results, scaling, start)
            for key, value in zip(_RULE_KEYS, (r_norm, s_norm, eps_pri, eps_dual, rho)):
                history[key].append(value)
            self._say(_line(history))
            # a sub-problem stopped early (time or iteration limit) may not have moved
            solved = all(r.result.converged for r in results)
            if solved and r_norm <= eps_pri and s_norm <= eps_dual:
                return it, history, "converged"
            if self._time_left(start) == 0.0:
                return it, history, "max_time"
            if self.adaptive_rho:
                rho, it.duals = _balance(rho, it.duals, r_norm, s_norm)
        return it, history, "max_iter"

    def _task_maker(self, datas, route, options):
        """A function ``(iterate, rho, time left) -> _Dispatch``: one BatchTask per
        batch, which carries the batch's data in the first iteration only."""
        token = self._fit_token  # identifies this fit's batches in the workers' stores
        limit_threads = effective_n_jobs(self.n_jobs) > 1
        # ADMM splits the sum of squared errors: batch b's objective is n_b * d times its
        # mean misfit (+ alpha term), so its proximal weight in the model is rho / (n_b d).
        weights = [d.n_observed for d in datas]
        first = True

        def make_tasks(it, rho, time_left):
            nonlocal first
            opts = options
            if time_left is not None:
                limit = min(max(time_left, 1e-3), options.get("max_wall_time", np.inf))
                opts = {**options, "max_wall_time": float(limit)}
            tasks = [
                BatchTask((token, b), data if first else None, rho / weights[b],
                          it.z - it.duals[b], it.thetas[b], it.states[b], *route, opts,
                          limit_threads)
                for b, data in enumerate(datas)
            ]  # fmt: skip
            first = False
            return _Dispatch(tasks, datas)

        return make_tasks

    def _solve_batches(self, dispatch) -> list | None:
        """One iteration's sub-problems in parallel; ``None`` if Ctrl-C stopped it.

        Data-less tasks whose worker does not hold their batch come back ``missing``
        and are sent again with the data, in a second joblib call: every batch is solved
        from the same data and iterate whichever worker holds what.
        """
        results = self._run_tasks(dispatch.tasks)
        missed = [] if results is None else [b for b, r in enumerate(results) if r.missing]
        if missed:
            again = [replace(dispatch.tasks[b], data=dispatch.datas[b]) for b in missed]
            resent = self._run_tasks(again)
            if resent is None:
                return None
            for b, result in zip(missed, resent):
                results[b] = _add_transfer(result, results[b])
        return results

    def _run_tasks(self, tasks) -> list | None:
        """One joblib call over ``tasks`` -> their results, each with its transfer
        (``_measure``); ``None`` if Ctrl-C stopped it.

        A sub-problem stopped by Ctrl-C returns status ``"userInterrupt"``; the results
        are taken as they arrive, so (sequentially, ``n_jobs=1``) no further batch is
        started after it. loky and Dask make the joblib call raise ``KeyboardInterrupt``
        instead. Either way the partial iteration is dropped.
        """
        results = []
        try:
            parallel = Parallel(n_jobs=self.n_jobs, return_as="generator")
            for task, result in zip(tasks, parallel(delayed(solve_batch)(t) for t in tasks)):
                if not result.missing and result.result.status == "userInterrupt":
                    return None
                results.append(_measure(task, result))
        except KeyboardInterrupt:
            return None
        return results

    def _time_left(self, start) -> float | None:
        """Seconds left of ``max_time`` (0.0 once exceeded), or ``None`` without a limit."""
        if self.max_time is None:
            return None
        return max(start + self.max_time - time.perf_counter(), 0.0)

    def _tolerances(self, it, rho) -> tuple[float, float]:
        """Boyd et al. (2011) §3.3.1 for the stacked consensus variable (dimension B p),
        with eps_rel = tol and eps_abs = ABS_TOL_FRACTION * tol."""
        floor = np.sqrt(it.thetas.size) * ABS_TOL_FRACTION * self.tol
        scale_pri = max(np.linalg.norm(it.thetas), np.sqrt(len(it.thetas)) * np.linalg.norm(it.z))
        scale_dual = rho * np.linalg.norm(it.duals)
        return float(floor + self.tol * scale_pri), float(floor + self.tol * scale_dual)

    def _say(self, text: str) -> None:
        if self.verbose:
            print(text, flush=True)

    # ------------------------------------------------------------ results
    def _finish(self, est, datas, scaling, route, last, history, stop, start) -> None:
        if last.results is None:  # interrupted before the first iteration completed
            solved = [_unsolved(route, last.z, data.states0) for data in datas]
        else:
            solved = [r.result for r in last.results]
        store_fit(
            est,
            scaling,
            last.z,
            [(data, res.theta, res.states) for data, res in zip(datas, solved)],
            solved,
            build_time=sum(history["build_time"]),
            n_iter=sum(history["ipopt_iterations"]),
        )
        est.solve_time_ = float(sum(history["solve_time"]))
        est.timings_.update(ipopt=est.solve_time_ - est.timings_["nl_write"])
        est.converged_ = bool(stop == "converged" and est.converged_)
        self.estimator_ = est
        self.history_ = history
        self.n_iter_ = len(history["primal_residual"])
        self.converged_ = stop == "converged"
        self.stop_reason_ = stop
        self.n_features_in_ = 1
        self.fit_time_ = est.fit_time_ = est.timings_["total"] = time.perf_counter() - start
        self._say(
            f"ADMM stopped ({stop}) after {self.n_iter_} iterations, {self.fit_time_:.1f} s."
        )
        if not self.converged_:
            warn_user(self._stop_message(), ConvergenceWarning)

    def _stop_message(self) -> str:
        h, n = self.history_, self.n_iter_
        if self.stop_reason_ == "interrupted":
            kept = (
                f"consensus of iteration {n}, the last completed one"
                if n
                else "initial consensus (no iteration completed)"
            )
            return (
                f"ADMM was interrupted (Ctrl-C) in iteration {n + 1}. The model holds the "
                f"{kept}; stop_reason_='interrupted'."
            )
        residuals = (
            f"primal residual {h['primal_residual'][-1]:.3g} vs "
            f"{h['primal_tolerance'][-1]:.3g}, dual residual {h['dual_residual'][-1]:.3g} vs "
            f"{h['dual_tolerance'][-1]:.3g}"
        )
        if self.stop_reason_ == "max_time":
            return (
                f"ADMM stopped at max_time={self.max_time:g} s after {n} iterations without "
                f"converging ({residuals}). The model holds the current consensus; increase "
                "`max_time`."
            )
        return (
            f"ADMM did not converge in max_iter={self.max_iter} iterations ({residuals}). "
            "The model holds the current consensus; increase `max_iter` or `tol`."
        )

    # ------------------------------------------------------------ predict
    def predict(self, t, x0=None, u=None, return_latent=False):
        """Simulate the consensus model; see :meth:`CollocationNeuralODE.predict`."""
        check_is_fitted(self)
        return self.estimator_.predict(t, x0, u, return_latent)

    def estimate_initial_state(self, t, X, u=None):
        """Initial state under the consensus model; see
        :meth:`CollocationNeuralODE.estimate_initial_state`."""
        check_is_fitted(self)
        return self.estimator_.estimate_initial_state(t, X, u)

    def score(self, t, X, u=None, trajectory=None):
        """R² of the consensus model's simulations; see :meth:`CollocationNeuralODE.score`."""
        check_is_fitted(self)
        return self.estimator_.score(t, X, u, trajectory)

    def vector_field(self):
        """The consensus model's right-hand side; see :meth:`CollocationNeuralODE.vector_field`."""
        check_is_fitted(self)
        return self.estimator_.vector_field()

    def to_pyomo(self, time):
        """The consensus model as a pyomo.dae block; see :meth:`CollocationNeuralODE.to_pyomo`."""
        check_is_fitted(self)
        return self.estimator_.to_pyomo(time)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags


@dataclass
class _Iterate:
    """ADMM's variables after a completed iteration (or at the start)."""

    z: np.ndarray  # consensus, (p,)
    thetas: np.ndarray  # batch copies, (B, p)
    states: list  # batch node states
    duals: np.ndarray  # scaled duals u_b, (B, p)
    results: list | None = None  # the BatchResults that produced it; None at the start


def _step(it: _Iterate, results: list, rho: float) -> tuple[_Iterate, float, float]:
    """The z and u updates from the batch solutions -> (new iterate, r, s)."""
    thetas = np.array([r.result.theta for r in results])
    z = (thetas + it.duals).mean(axis=0)
    duals = it.duals + thetas - z
    r_norm = float(np.sqrt(np.sum((thetas - z) ** 2)))
    s_norm = float(rho * np.sqrt(len(thetas)) * np.linalg.norm(z - it.z))
    states = [r.result.states for r in results]
    return _Iterate(z, thetas, states, duals, results), r_norm, s_norm


@dataclass
class _Dispatch:
    """One iteration's tasks, and the batch data for the tasks sent again (``missing``)."""

    tasks: list  # a BatchTask per batch; data only in the first iteration
    datas: list  # the batches' NLPData


def _pickled_size(obj) -> int:
    """Bytes of ``obj`` pickled: what a process or cluster backend carries."""
    return len(pickle.dumps(obj, protocol=5))


def _measure(task, result):
    """``result`` with the pickled sizes of its task and of itself, and whether the task
    carried the batch's data (with ``n_jobs=1`` nothing is carried, but the same is
    counted)."""
    result.bytes_received = _pickled_size(result)
    result.bytes_sent = _pickled_size(task)
    result.data_sent = task.data is not None
    return result


def _add_transfer(result, missed):
    """The result of a task sent again, with what the missed first attempt carried."""
    result.bytes_sent += missed.bytes_sent
    result.bytes_received += missed.bytes_received
    return result


def _unsolved(route, theta, states) -> SolveResult:
    """Stands for a batch that no completed iteration solved (Ctrl-C in the first)."""
    engine, solver = route
    message = "interrupted before the first ADMM iteration completed"
    return SolveResult(solver, "userInterrupt", message, 0, 0.0, engine=engine, theta=theta,
                       states=states)  # fmt: skip


# what the stopping rule reads (rho scales the dual tolerance)
_RULE_KEYS = ("primal_residual", "dual_residual", "primal_tolerance", "dual_tolerance", "rho")
_HISTORY_KEYS = (
    *_RULE_KEYS,
    "objective",
    "train_mse",
    "wall_time",
    "build_time",
    "solve_time",
    "ipopt_iterations",
    "models_reused",
    "bytes_sent",
    "data_resent",
    "bytes_received",
)
_HEADER = (
    f"{'iter':>4}  {'primal':>9} {'(tol)':>9}  {'dual':>9} {'(tol)':>9}  {'rho':>8}  "
    f"{'objective':>12}  {'time [s]':>8}"
)


def _line(history) -> str:
    """The verbose line of the latest iteration, in the columns of ``_HEADER``."""
    h = {key: values[-1] for key, values in history.items()}
    return (
        f"{len(history['rho']):>4}  {h['primal_residual']:9.3e} {h['primal_tolerance']:9.3e}  "
        f"{h['dual_residual']:9.3e} {h['dual_tolerance']:9.3e}  {h['rho']:8.2e}  "
        f"{h['objective']:12.6e}  {h['wall_time']:8.1f}"
    )


def _check_batches(results, k) -> None:
    """A failed sub-problem stops ADMM; a stopped one (max_iter, max_wall_time, ...) is
    tolerated. (An interrupted one, status "userInterrupt", never gets here: see
    ``ADMMNeuralODE._solve_batches``.)"""
    for b, r in enumerate(r.result for r in results):
        if not r.converged and r.status != "userInterrupt" and r.status not in STOPPED:
            raise SolverError(
                f"IPOPT failed on batch {b} in ADMM iteration {k + 1} with status "
                f"{r.status!r}: {r.message}. No model was fitted."
            )


def _record(history, datas, results, scaling, start) -> None:
    """Everything of ``history`` but the ``_RULE_KEYS``."""
    parts = [(data, r.result.theta, r.result.states) for data, r in zip(datas, results)]
    history["objective"].append(sum(objective(*part) for part in parts))
    history["train_mse"].append(train_mse(parts, scaling))
    history["wall_time"].append(time.perf_counter() - start)
    history["build_time"].append(sum(r.build_time for r in results))
    history["solve_time"].append(sum(r.result.solve_time for r in results))
    history["ipopt_iterations"].append(sum(r.result.n_iter for r in results))
    history["models_reused"].append(sum(r.reused_model for r in results))
    history["bytes_sent"].append(sum(r.bytes_sent for r in results))
    history["data_resent"].append(sum(r.data_sent for r in results))
    history["bytes_received"].append(sum(r.bytes_received for r in results))


def _balance(rho, duals, r_norm, s_norm):
    """Residual balancing (Boyd et al. 2011, §3.4.1); scaled duals follow rho."""
    if r_norm > 10 * s_norm:
        return rho * 2, duals / 2
    if s_norm > 10 * r_norm:
        return rho / 2, duals * 2
    return rho, duals
