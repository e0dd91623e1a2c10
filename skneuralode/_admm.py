"""ADMMNeuralODE: consensus ADMM over data batches, sub-problems run through joblib.

The module-level :func:`solve_batch` is what a joblib worker (loky, threads, or a Dask
``distributed`` worker) runs: it receives a ``BatchTask`` made of numpy arrays and
plain values only, and its engine solves the batch's NLP with its proximal term and
returns arrays (see ``_engines``). A batch's data travel with its first task only; the
worker keeps them (``_resident``) and later tasks carry only the iterate.
"""

from __future__ import annotations

import contextlib
import gc
import pickle
import shutil
import time
from dataclasses import dataclass, replace
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from . import _interrupt, _resident, _summary
from ._diagnostics import train_mse
from ._engines import BatchResult, BatchTask, SolveResult, get_engine
from ._estimator import CollocationNeuralODE
from ._fitted import store_fit, store_names
from ._greybox import make_greybox
from ._greybox import prepare as prepare_physics
from ._init import fit_scaling
from ._problem import build_problem, objective
from ._progress import admm_header, admm_line, check_callback_pickles, say, stops
from ._sklearn_compat import HasMethods, Interval, StrOptions, fit_context
from ._solver import STOPPED, find_solver
from ._spec import MIN_SAMPLES, ProblemSpec, ipopt_options
from ._validation import check_fit_data, check_fit_names, index_names
from .exceptions import SolverError, warn_user

# ----------------------------------------------------------------- the worker


def solve_batch(task: BatchTask) -> BatchResult:
    """Solve one batch NLP with its proximal term, warm-started from the task's iterate,
    with the task's engine (``_engines``: the batch's data come with the task or from
    this process's store, ``_resident``; without them the result is ``missing``; the
    pyomo engine also keeps each batch's built model in the worker process). With
    ``task.limit_threads`` the worker's BLAS/OpenMP pools get one thread each.

    A solve leaves its arrays in reference cycles (the IPOPT problem and its callbacks);
    they are collected at the end, so that a worker's memory holds one sub-problem at a
    time, not the solves since Python's cyclic collector last ran (measured: 12
    iterations of two 2 000-sample batches in one process, RSS 1.11 GB without, 0.30 GB
    with; a collection takes milliseconds against the solve's seconds)."""
    limits = threadpool_limits(1) if task.limit_threads else None
    try:
        return get_engine(task.engine).solve_batch(task)
    finally:
        if limits is not None:
            limits.restore_original_limits()
        gc.collect()


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
    init : {"subsample", "estimator"}, default="subsample"
        The initial consensus, which every batch starts from:

        - ``"subsample"``: a model fitted (in one worker, like a batch) on about every
          ``n_batches``-th sample of every trajectory, an NLP of a batch's size that
          covers all the data; ``init_time_`` records its time. Averaging networks that
          drifted apart from an arbitrary start means little (hidden units permute); a
          common start that already fits all the data roughly keeps the batches in one
          basin.
        - ``"estimator"``: the start the single model would use on all the data (see
          ``init`` of :class:`CollocationNeuralODE`); nothing is fitted before ADMM.
    acceleration : {"anderson"} or None, default="anderson"
        ``"anderson"``: Anderson acceleration of the ADMM iteration (see Notes), which
        extrapolates from the last five iterates and rejects a step whose fixed-point
        residual more than doubled. ``None``: plain ADMM.
    rho : float, default=5e-3
        ADMM penalty, per observed entry: batch ``b`` with ``N_b`` observed entries
        minimizes ``N_b L_b(theta_b) + (rho N / 2) ||theta_b - z + u_b||^2``, with ``N``
        the mean of ``N_b`` over the batches. ``L_b``'s curvature grows with ``N_b``, so
        the same ``rho`` holds the batches together alike at any batch size.
    adaptive_rho : bool, default=False
        Residual balancing: ``rho *= 2`` when the primal residual exceeds 10 times the
        dual one, ``rho /= 2`` in the opposite case (scaled duals rescaled; the
        acceleration starts again). With the acceleration a fixed ``rho`` converges in
        fewer iterations (``benchmarks/admm_large.py``).
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
        line saying why ADMM stopped. The lines are written from Python with
        ``print(..., flush=True)`` to ``sys.stdout`` as it stands at each line
        (``contextlib.redirect_stdout`` and notebooks capture them; for ``logging``
        use ``callback=skneuralode.callbacks.log_progress(logger)``). IPOPT's output is
        off in the sub-problems at every level (``2`` prints the same as ``1``), and the
        estimator's own ``verbose`` and ``callback`` do not apply to them.
    callback : callable, default=None
        Called after every ADMM iteration as ``callback(row)`` with a dict of that
        iteration's values: ``"iteration"`` (1, 2, ...) and the latest value of every
        ``history_`` key. Returning ``False`` stops ADMM as a Ctrl-C does
        (``stop_reason_="interrupted"``, a ``ConvergenceWarning``), except that the
        iteration it was called for is complete and kept: the model holds its
        consensus. ``None``, ``True`` or anything else continues. An exception raised
        in it reaches the caller of ``fit`` unchanged. Not called for the initial fit
        (``init="subsample"``).
    random_state : int, RandomState instance or None, default=None
        Seeds the common initial weights (overrides the estimator's ``random_state``;
        ``None`` keeps it): the start of the initial fit on the subsample
        (``init="subsample"``), or the initial consensus itself
        (``init="estimator"``), is the start the single model would use on all the data
        (see ``init`` of :class:`CollocationNeuralODE`).

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
        worker still held the built model), ``batch_times`` (a list: each batch's
        seconds in its worker, build and solve, the input of a scale-out projection);
        what crossed to and from the workers (see Notes): ``bytes_sent`` (pickled size
        of every task dispatched, tasks sent again with their data included),
        ``data_resent`` (tasks that had to carry their batch's data: all ``n_batches``
        in the first iteration, then those whose worker could neither find nor read
        them) and ``bytes_received`` (pickled size of the results). With
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
          ``"userInterrupt"``, or the joblib call raised ``KeyboardInterrupt``), or
          ``callback`` returned ``False``. The model holds the consensus of the last
          completed iteration, or the initial consensus if none completed.

        All but ``"converged"`` come with a ``ConvergenceWarning``.
    n_features_in_ : int
        Always 1 (the time column).
    init_time_ : float
        Wall-clock seconds of the initial fit (``init="subsample"``; 0.0 otherwise),
        included in ``fit_time_`` and in the first iteration's ``wall_time``.
    fit_time_ : float
        Wall-clock seconds of the whole fit.

    See Also
    --------
    CollocationNeuralODE : the single-NLP model.

    Notes
    -----
    Scaled-form consensus ADMM (Boyd et al. 2011, §7.1). With ``L_b`` the collocation
    objective of batch ``b`` (its mean squared misfit plus ``alpha ||W||^2``), ``N_b``
    its observed entries and ``N`` their mean over the batches, iteration ``k`` computes

    .. math::

        \\theta_b &\\leftarrow \\arg\\min N_b L_b(\\theta_b, x_b)
                  + \\tfrac{\\rho N}{2} \\lVert \\theta_b - z + u_b \\rVert^2, \\\\
        z &\\leftarrow \\operatorname{mean}_b (\\theta_b + u_b), \\qquad
        u_b \\leftarrow u_b + \\theta_b - z,

    with primal residual ``r = sqrt(sum_b ||theta_b - z||^2)`` and dual residual
    ``s = rho N sqrt(B) ||z - z_prev||``. Sub-problems are warm-started from their
    previous solution; a worker that solved batch ``b`` before reuses its Pyomo model and
    only updates the proximal parameters and the starting point. All batches share the
    scaling computed on the full data, so the weights mean the same in every batch.

    **What makes it converge at scale.** Three things, each measured on 10 000 samples
    in five batches (``benchmarks/admm_large.py``), where plain ADMM from the
    estimator's start with ``rho`` 20 times smaller ended 10 iterations unconverged,
    its consensus simulating unseen trajectories 100 times worse than one model:

    - a common start that already fits all the data (``init="subsample"``);
    - a penalty that holds the batches together (``rho`` per observed entry: with
      ``N`` 4 000 entries per batch, ``rho N = 20``), so that each sub-problem moves
      little and IPOPT, warm-started, solves it in one to three iterations;
    - Anderson acceleration: ADMM is the fixed-point iteration ``v <- G(v)`` in
      ``v = (z, u_1, ..., u_B)``, linearly and slowly convergent along the directions
      where the batch objectives hardly curve (a network has many). Type-II Anderson
      acceleration (Walker and Ni 2011; for ADMM, Zhang et al. 2019) centres the next
      sub-problems on ``g_k - dG gamma``, the least-squares secant extrapolation from
      the last five images ``g_i = G(v_i)`` and residuals ``f_i = g_i - v_i``. The
      model and the residuals are those of the plain step (``z = mean_b(theta_b +
      u_b)``), so the stopping rule means what it says below; a point whose residual
      grew more than twofold is abandoned for the plain step of the point before it.

    **What is sent per iteration.** A batch's data (its discretization, targets and
    inputs: some 0.8 MB per 2 000 samples) go to the workers with the batch's first task
    only, and every worker process keeps what it received, keyed by the fit and the
    batch (up to 200 MiB per process; older fits' data are dropped first). ``fit`` also
    writes each batch's data to a file in a temporary folder, removed when it ends.
    Later tasks carry ``rho``, the proximal center ``z - u_b``, the warm start
    (``theta_b`` and the batch's node states), the IPOPT options and the file's path. A
    worker that does not hold a task's batch (a new or restarted process, or another
    worker than the one that received the data: loky and Dask give a task to any free
    worker) reads the file if it can (any worker on the calling machine can); one that
    cannot (a worker on another machine) returns the task unsolved, and it is sent again
    with its data in the same iteration, after the others. So the result does not
    depend on which worker holds what, only the bytes and the time do. ``history_``
    records them (``bytes_sent``, ``data_resent``, ``bytes_received``). With
    ``n_jobs=1`` the data stay in the calling process, which drops them when ``fit``
    ends.

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
    the same long simulations in a sensitive system, and a different start ends in a
    different local minimum: on the paper's two-batch experiment
    (``benchmarks/admm_paper.py``) the single model's own test error varies twofold
    with its ``random_state``.

    References
    ----------
    .. [1] S. Boyd, N. Parikh, E. Chu, B. Peleato, J. Eckstein, "Distributed Optimization
       and Statistical Learning via the Alternating Direction Method of Multipliers",
       Foundations and Trends in Machine Learning 3(1), 2011.
    .. [2] M. Shapovalova and C. Tsay, "Training Neural ODEs Using Fully Discretized
       Simultaneous Optimization", arXiv:2502.15642, 2025.
    .. [3] H. F. Walker and P. Ni, "Anderson Acceleration for Fixed-Point Iterations",
       SIAM Journal on Numerical Analysis 49(4), 2011.
    .. [4] J. Zhang, Y. Peng, W. Ouyang and B. Deng, "Accelerating ADMM for Efficient
       Simulation and Optimization", ACM Transactions on Graphics 38(6), 2019.

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
        "init": [StrOptions({"subsample", "estimator"})],
        "acceleration": [StrOptions({"anderson"}), None],
        "rho": [Interval(Real, 0, None, closed="neither")],
        "adaptive_rho": ["boolean"],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
        "callback": [callable, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_batches=2,
        batching="time",
        init="subsample",
        acceleration="anderson",
        rho=5e-3,
        adaptive_rho=False,
        max_iter=100,
        tol=1e-2,
        max_time=None,
        n_jobs=None,
        verbose=0,
        callback=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.n_batches = n_batches
        self.batching = batching
        self.init = init
        self.acceleration = acceleration
        self.rho = rho
        self.adaptive_rho = adaptive_rho
        self.max_iter = max_iter
        self.tol = tol
        self.max_time = max_time
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.callback = callback
        self.random_state = random_state

    @fit_context(prefer_skip_nested_validation=False)
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
        frames = X, u
        t, X, u, groups = check_fit_data(t, X, u, trajectory, est.integrator,
                                         est.integrator_options, spec.n_latent)  # fmt: skip
        names = check_fit_names(*frames, est.state_names, est.input_names, X.shape[1],
                                0 if u is None else u.shape[1], spec.n_latent)  # fmt: skip
        spec = index_names(spec, *names)  # state and input names in the grey-box parameters
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
        extra = []
        if self.init == "subsample":  # one NLP of a batch's size, over all the data
            idx, sub = _subsample(groups, len(batches))
            fit = build_problem(
                t[idx],
                X[idx],
                None if u is None else u[idx],
                sub,
                scaling,
                spec,
                smoothers=smoothers,
                theta0=z,
                physics=greybox,
            )
            extra.append(replace(fit, proximal=True))  # solved with rho = 0
        with _resident.Placement(datas + extra) as placement, self._workers(placement):
            last, history, stop, initial = self._run(placement, len(batches), z, route,
                                                   options, scaling, start)  # fmt: skip
        self._finish(est, datas, scaling, route, last, history, stop, initial, start)
        for model in (est, self):  # the consensus model's names, also on the meta-estimator
            store_names(model, *names)
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
    def _run(self, placement, n_batches, z, route, options, scaling, start):
        """The ADMM iterations -> (last completed iterate, history, stop reason, the
        initial fit's ``SolveResult``: of the subsample, or an empty one for
        ``init="estimator"``)."""
        datas = placement.datas[:n_batches]
        B = len(datas)
        observed = float(np.mean([d.n_observed for d in datas]))  # N of ``rho``'s term
        states = [d.states0 for d in datas]
        it = _Iterate(z, z, np.tile(z, (B, 1)), states, np.zeros((B, len(z))))
        rho = float(self.rho)
        history = {key: [] for key in _HISTORY_KEYS}
        make_tasks = self._task_maker(placement, observed, route, options)
        initial = SolveResult("", "", "", 0, 0.0)  # init="estimator": nothing solved
        if self.init == "subsample":
            it, initial = self._fit_subsample(make_tasks, it, start)
            if initial is None:
                return it, history, "interrupted", _unsolved(route, z, states[0])
        accelerate = _Anderson(ANDERSON_MEMORY) if self.acceleration == "anderson" else None
        self._say(admm_header())
        for k in range(self.max_iter):
            results = self._solve_batches(make_tasks(it, rho, self._time_left(start)))
            if results is None:
                return it, history, "interrupted", initial
            _check_batches(results, k)
            # the dual residual in units of the summed objective's gradient (rho N)
            it, r_norm, s_norm = _step(it, results, rho * observed, accelerate)
            eps_pri, eps_dual = self._tolerances(it, rho * observed)
            _record(history, datas, results, scaling, start)
            for key, value in zip(_RULE_KEYS, (r_norm, s_norm, eps_pri, eps_dual, rho)):
                history[key].append(value)
            row = {"iteration": k + 1, **{key: values[-1] for key, values in history.items()}}
            self._say(admm_line(row))
            stop = self.callback is not None and stops(self.callback(row))
            # a sub-problem stopped early (time or iteration limit) may not have moved
            solved = all(r.result.converged for r in results)
            if solved and r_norm <= eps_pri and s_norm <= eps_dual:
                return it, history, "converged", initial
            if stop:
                return it, history, "callback", initial
            if self._time_left(start) == 0.0:
                return it, history, "max_time", initial
            if self.adaptive_rho:
                new_rho, it.duals = _balance(rho, it.duals, r_norm, s_norm)
                if new_rho != rho and accelerate is not None:
                    accelerate.reset()  # the scaled duals changed their unit
                rho = new_rho
        return it, history, "max_iter", initial

    def _fit_subsample(self, make_tasks, it, start):
        """``init="subsample"``: fit about every ``n_batches``-th sample of every trajectory
        (one NLP of a batch's size; its data are the last of ``make_tasks``'s) from the
        estimator's start, in a worker; its weights become the consensus and every
        batch's warm start. Returns the new iterate and the solve's ``SolveResult``
        (``solve_time`` the wall time of the whole step), or ``(it, None)`` if Ctrl-C
        stopped it."""
        begin = time.perf_counter()
        dispatch = make_tasks(it, 0.0, self._time_left(start), subsample=True)
        results = self._solve_batches(dispatch)
        if results is None:
            return it, None
        result = replace(results[0].result, solve_time=time.perf_counter() - begin)
        if not result.converged and result.status not in STOPPED:
            raise SolverError(
                f"IPOPT failed on the subsample fitted for ADMM's initial consensus "
                f"(init='subsample') with status {result.status!r}: {result.message}. No "
                "model was fitted; try init='estimator'."
            )
        z = result.theta
        self._say(
            f"initial consensus: fitted on a 1/{len(it.states)} subsample, "
            f"{result.n_iter} IPOPT iterations ({result.status}), {result.solve_time:.1f} s"
        )
        return _Iterate(z, z, np.tile(z, (len(it.states), 1)), it.states, it.duals), result

    def _task_maker(self, placement, observed, route, options):
        """A function ``(iterate, rho, time left) -> _Dispatch``: one BatchTask per
        batch, which carries the batch's data in the first dispatch only (then the
        workers hold them or read the batch's file, ``_resident``). With
        ``subsample=True``, the one task of the initial fit (the placement's last data,
        without proximal term). ``observed`` is the ``N`` of ``rho``'s term."""
        datas = placement.datas
        limit_threads = effective_n_jobs(self.n_jobs) > 1
        # ADMM splits the sum of squared errors: batch b's objective is N_b (its observed
        # entries) times its mean misfit (+ alpha term), with the proximal term rho N / 2
        # ||.||^2 (N the mean of N_b over the batches); in the batch's NLP, whose objective
        # is the mean, its weight is rho N / N_b.
        weights = [d.n_observed for d in datas]
        sent = set()

        def task(b, rho, center, theta, states, options):
            data = None if b in sent else datas[b]
            weight = rho * observed / weights[b]
            return BatchTask(placement.key(b), data, weight, center, theta, states, *route,
                             options, limit_threads, placement.path(b))  # fmt: skip

        def make_tasks(it, rho, time_left, subsample=False):
            opts = options
            if time_left is not None:
                limit = min(max(time_left, 1e-3), options.get("max_wall_time", np.inf))
                opts = {**options, "max_wall_time": float(limit)}
            if subsample:
                b = len(datas) - 1
                tasks = [task(b, 0.0, it.z, it.z, datas[b].states0, opts)]
            else:
                tasks = [
                    task(b, rho, it.z - it.duals[b], it.thetas[b], it.states[b], opts)
                    for b in range(len(it.states))
                ]
            return _Dispatch(tasks, datas, sent)

        return make_tasks

    def _solve_batches(self, dispatch) -> list | None:
        """One iteration's sub-problems in parallel; ``None`` if Ctrl-C stopped it.

        Data-less tasks whose worker does not hold their batch come back ``missing``
        and are sent again with the data, in a second joblib call: every batch is solved
        from the same data and iterate whichever worker holds what.
        """
        results = self._run_tasks(dispatch.tasks)
        if results is None:
            return None
        dispatch.sent.update(task.key[1] for task in dispatch.tasks if task.data is not None)
        missed = [i for i, r in enumerate(results) if r.missing]
        if missed:
            again = [dispatch.with_data(i) for i in missed]
            resent = self._run_tasks(again)
            if resent is None:
                return None
            for i, result in zip(missed, resent):
                results[i] = _add_transfer(result, results[i])
        return results

    @contextlib.contextmanager
    def _workers(self, placement):
        """One joblib worker pool for the whole fit (``self._parallel``, used by
        :meth:`_run_tasks`): joblib gives each ``Parallel`` its own memory-mapping
        folder, which a ``Parallel`` per iteration left behind, one per iteration, until
        the process ended. SIGTERM meanwhile (main thread) stops loky's worker
        processes and removes the batch files before the process ends
        (``_interrupt.on_sigterm``)."""

        def cleanup():
            _interrupt.stop_loky_workers()
            shutil.rmtree(placement.folder, ignore_errors=True)

        with (
            _interrupt.on_sigterm(cleanup),
            Parallel(n_jobs=self.n_jobs, return_as="generator") as parallel,
        ):
            self._parallel = parallel
            try:
                yield
            finally:
                del self._parallel

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
            parallel = getattr(self, "_parallel", None)  # the fit's pool (``_workers``)
            if parallel is None:
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
        scale_pri = max(
            np.linalg.norm(it.thetas), np.sqrt(len(it.thetas)) * np.linalg.norm(it.consensus)
        )
        scale_dual = rho * np.linalg.norm(it.duals)
        return float(floor + self.tol * scale_pri), float(floor + self.tol * scale_dual)

    def _say(self, text: str) -> None:
        if self.verbose:
            say(text)

    # ------------------------------------------------------------ results
    def _finish(self, est, datas, scaling, route, last, history, stop, initial, start) -> None:
        if last.results is None:  # interrupted before the first iteration completed
            solved = [_unsolved(route, last.consensus, data.states0) for data in datas]
        else:
            solved = [r.result for r in last.results]
        store_fit(
            est,
            scaling,
            last.consensus,
            [(data, res.theta, res.states) for data, res in zip(datas, solved)],
            solved,
            build_time=sum(history["build_time"]),
            n_iter=initial.n_iter + sum(history["ipopt_iterations"]),
        )
        est.solve_time_ = float(sum(history["solve_time"]))
        est.timings_.update(ipopt=est.solve_time_ - est.timings_["nl_write"])
        est.converged_ = bool(stop == "converged" and est.converged_)
        self.estimator_ = est
        self.history_ = history
        self.n_iter_ = len(history["primal_residual"])
        self.converged_ = stop == "converged"
        self.stop_reason_ = "interrupted" if stop == "callback" else stop
        self.n_features_in_ = 1
        self.init_time_ = initial.solve_time
        self.fit_time_ = est.fit_time_ = est.timings_["total"] = time.perf_counter() - start
        self._say(
            f"ADMM stopped ({self.stop_reason_}) after {self.n_iter_} iterations, "
            f"{self.fit_time_:.1f} s."
        )
        if not self.converged_:
            warn_user(self._stop_message(stop == "callback"), ConvergenceWarning)

    def _stop_message(self, by_callback: bool = False) -> str:
        h, n = self.history_, self.n_iter_
        if by_callback:
            return (
                f"ADMM was stopped by `callback` after iteration {n}. The model holds that "
                "iteration's consensus; stop_reason_='interrupted'."
            )
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
    def predict(self, t, x0=None, u=None, return_latent=False, as_frame=None):
        """Simulate the consensus model; see :meth:`CollocationNeuralODE.predict`."""
        check_is_fitted(self)
        return self.estimator_.predict(t, x0, u, return_latent, as_frame)

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

    def summary(self):
        """A text summary: ADMM's iterations, stop reason and final residuals against
        their tolerances, then the consensus model's (see
        :meth:`CollocationNeuralODE.summary`; its iterations and NLP size add up the
        batches').

        Returns
        -------
        text : str
        """
        return _summary.summary(self)

    def __setstate__(self, state):
        """Unpickle; a model pickled before ``callback`` existed gets ``callback=None``."""
        super().__setstate__({"callback": None, **state})

    def __getstate__(self):
        """Pickle; a ``callback`` that pickle cannot store by reference (a lambda) is a
        clear error here, as for :class:`CollocationNeuralODE`."""
        state = super().__getstate__()
        check_callback_pickles(getattr(self, "callback", None))
        return state

    def to_casadi(self):
        """The consensus model as a CasADi function; see :meth:`CollocationNeuralODE.to_casadi`."""
        check_is_fitted(self)
        return self.estimator_.to_casadi()

    def to_onnx(self, path=None, dtype="float64"):
        """The consensus network as an ONNX model; see :meth:`CollocationNeuralODE.to_onnx`."""
        check_is_fitted(self)
        return self.estimator_.to_onnx(path, dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags


def _subsample(groups: list, n: int) -> tuple[np.ndarray, list]:
    """About every ``n``-th sample of every trajectory: ``ceil(len / n)`` samples (at
    least ``MIN_SAMPLES``) evenly spread from its first to its last -> (sample indices,
    index arrays of the sub-trajectories into them)."""
    picks = []
    for g in groups:
        k = max(MIN_SAMPLES, -(-len(g) // n))
        picks.append(g[np.unique(np.round(np.linspace(0, len(g) - 1, k)).astype(int))])
    bounds = np.cumsum([0] + [len(p) for p in picks])
    return np.concatenate(picks), [np.arange(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


@dataclass
class _Iterate:
    """ADMM's variables after a completed iteration (or at the start)."""

    z: np.ndarray  # the consensus the next sub-problems are centred on, (p,)
    consensus: np.ndarray  # the model: the mean of the last batch solutions (+ duals)
    thetas: np.ndarray  # batch copies, (B, p)
    states: list  # batch node states
    duals: np.ndarray  # scaled duals u_b, (B, p)
    results: list | None = None  # the BatchResults that produced it; None at the start


def _step(it: _Iterate, results: list, rho: float, accelerate) -> tuple[_Iterate, float, float]:
    """The z and u updates from the batch solutions -> (new iterate, r, s).

    The residuals are those of the plain ADMM step, whose consensus is the model; with
    ``accelerate`` (an :class:`_Anderson`), the next sub-problems are centred on its
    extrapolation of the plain steps instead."""
    thetas = np.array([r.result.theta for r in results])
    consensus = (thetas + it.duals).mean(axis=0)
    duals = it.duals + thetas - consensus
    r_norm = float(np.sqrt(np.sum((thetas - consensus) ** 2)))
    s_norm = float(rho * np.sqrt(len(thetas)) * np.linalg.norm(consensus - it.z))
    states = [r.result.states for r in results]
    z = consensus
    if accelerate is not None:
        z, duals = accelerate.step(it.z, it.duals, consensus, duals)
    return _Iterate(z, consensus, thetas, states, duals, results), r_norm, s_norm


#: Past ADMM steps the Anderson acceleration combines (``acceleration="anderson"``).
ANDERSON_MEMORY = 5
#: A step whose fixed-point residual grew by more than this factor over the previous
#: one is rejected: the acceleration forgets its past steps and goes on from the plain
#: ADMM step of the previous point (the safeguard of Zhang et al. 2019, simplified).
ANDERSON_REJECT_GROWTH = 2.0


class _Anderson:
    """Type-II Anderson acceleration of the ADMM map ``v = (z, u) -> G(v)``.

    ADMM is a fixed-point iteration ``v <- G(v)``; its convergence is linear and slow
    along directions the batch objectives hardly curve (flat directions of a network).
    With the last ``m + 1`` points ``v_i``, images ``g_i = G(v_i)`` and residuals
    ``f_i = g_i - v_i``, the next point is ``g_k - dG gamma`` with ``gamma`` the
    least-squares solution of ``dF gamma ~ f_k`` (``dF``, ``dG`` the differences of
    successive ``f``, ``g``): the secant extrapolation of Walker and Ni (2011), applied
    to ADMM as by Zhang, Peng, Ouyang and Deng (2019). An extrapolated point whose residual
    grew by :data:`ANDERSON_REJECT_GROWTH` is rejected (the plain step of the point
    before it is taken instead) and the memory cleared; it is also cleared when ``rho``
    changes (the scaled duals change their unit).
    """

    def __init__(self, memory: int):
        self.memory = memory
        self.reset()

    def reset(self) -> None:
        self._g, self._f = [], []

    def step(self, z, duals, z_plain, duals_plain):
        """The next ``(z, u)`` from the point ``(z, duals)`` and its plain image."""
        v = np.concatenate([z, duals.ravel()])
        g = np.concatenate([z_plain, duals_plain.ravel()])
        f = g - v
        if self._f and np.linalg.norm(f) > ANDERSON_REJECT_GROWTH * np.linalg.norm(self._f[-1]):
            g = self._g[-1]  # the plain step from the last accepted point
            self.reset()
        else:
            self._g = [*self._g, g][-(self.memory + 1) :]
            self._f = [*self._f, f][-(self.memory + 1) :]
            if len(self._f) > 1:
                dF = np.diff(np.array(self._f), axis=0).T
                dG = np.diff(np.array(self._g), axis=0).T
                gamma = np.linalg.lstsq(dF, f, rcond=None)[0]
                g = g - dG @ gamma
        return g[: len(z)], g[len(z) :].reshape(duals.shape)


@dataclass
class _Dispatch:
    """One iteration's tasks, and the batch data for the tasks sent again (``missing``)."""

    tasks: list  # BatchTasks; data only with a batch's first task
    datas: list  # every batch's NLPData, by batch index
    sent: set  # the batches whose data went out with a task already

    def with_data(self, i: int) -> BatchTask:
        """Task ``i`` carrying its batch's data."""
        return replace(self.tasks[i], data=self.datas[self.tasks[i].key[1]])


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
    "batch_times",
    "bytes_sent",
    "data_resent",
    "bytes_received",
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
    history["batch_times"].append([r.build_time + r.result.solve_time for r in results])
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
