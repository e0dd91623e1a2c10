"""The engines that evaluate the collocation NLP for IPOPT, behind one interface.

An engine is a module of this package, registered in :data:`ENGINES`, that evaluates an
``_problem.NLPData`` for IPOPT by one or more *routes* (ways of reaching IPOPT). Each
engine module provides:

``PROBES``
    ``{probe key: () -> (works, what was found)}``: what the engine's routes need, each
    checked when first asked (``_solver.available_solvers`` caches the answers).
``candidates(solver) -> list[str]``
    The probe keys to try, in order, for the user's ``solver`` parameter (``"auto"`` or
    a route name); a ``ValueError`` if the engine has no such route.
``route(key) -> str``
    The route a found probe key runs (recorded as ``solver_``).
``records_iterates(route) -> bool``
    Whether that route reports IPOPT's iterate at every iteration while it runs
    (``store_iterates``, ``callback``).
``solve(data, route, options, *, tee, record, rho, center, deadline, progress) -> SolveResult``
    One solve from the initial point of ``data`` (see :func:`skneuralode._solver.solve`).
    ``progress`` (``None`` or a ``_progress.Progress``): call
    ``progress.report(alg_mod, iter, obj, inf_pr, inf_du, mu, d_norm, regularization,
    alpha_du, alpha_pr, ls_trials)`` at every IPOPT iteration and stop IPOPT (status
    ``"userInterrupt"``) when it returns ``False``. A route without a per-iteration
    callback (``records_iterates(route)`` false) may report the iterations after the
    solve and raises a ``ValueError`` for a ``progress`` with a user ``callback``.
``solve_batch(task) -> BatchResult``
    One ADMM sub-problem, in a joblib worker; the engine may keep per-process state
    (the pyomo engine caches built models). It takes the batch's data from
    ``_resident.task_data(task)`` (``task.data``, or after the first ADMM iteration the
    copy this process holds or reads from the batch's file) and returns
    ``BatchResult(None, 0.0, False, missing=True)`` unsolved when that is ``None``.

Adding an engine is one module with these names plus one line in :data:`ENGINES`.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from .._status import CONVERGED

#: engine name -> its module in this package; the order "auto" has no say in (see
#: ``_solver.find_solver``).
ENGINES = {"numpy": "numpy", "pyomo": "pyomo"}


def get_engine(name: str) -> ModuleType:
    """The engine module registered as ``name``."""
    return importlib.import_module(f"{__name__}.{ENGINES[name]}")


@dataclass
class SolveResult:
    """What one solve reports, as plain values (and the solution as arrays)."""

    solver: str  # the route that ran IPOPT: "ctypes", "cyipopt", "pynumero", "executable"
    status: str  # termination status (``_status``), e.g. "optimal", "maxIterations"
    message: str
    n_iter: int
    solve_time: float  # IPOPT, plus writing the NL problem (nl_time)
    iterations: list = field(default_factory=list)  # per-iteration (obj, inf_pr, inf_du)
    nl_time: float = 0.0  # writing the NL problem and loading it (pynumero route)
    # (time.perf_counter(), values of the recorded variables) at every iteration, when asked
    iterates: list = field(default_factory=list)
    engine: str = ""  # the engine module that ran (each sets its own name)
    theta: np.ndarray | None = None
    states: np.ndarray | None = None
    n_variables: int = 0
    n_constraints: int = 0
    build_time: float = 0.0  # building the Pyomo model / the numpy sparsity structures
    eval_time: float = float("nan")  # inside the NLP callbacks (numpy engine only)

    @property
    def converged(self) -> bool:
        return self.status in CONVERGED


@dataclass
class BatchTask:
    """One ADMM sub-problem solve: arrays and plain values only (cheap to pickle)."""

    key: tuple  # (fit token, batch index): the batch data and model a worker may hold
    data: object  # _problem.NLPData; None: the worker's stored copy for key (_resident)
    rho: float
    center: np.ndarray  # z - u_b
    theta: np.ndarray  # warm start
    states: np.ndarray  # warm start
    engine: str
    solver: str  # the route
    options: dict
    limit_threads: bool
    #: the batch's data pickled in a file of the parent's filesystem (``_resident``),
    #: read by a worker that can and does not hold them; None: no such file
    path: str | None = None


@dataclass
class BatchResult:
    """What a worker returns for a ``BatchTask``, and what carrying both took."""

    result: SolveResult | None  # with the batch's theta and states; None if missing
    build_time: float
    reused_model: bool
    #: a data-less task whose batch the worker did not hold: not solved, send it with data
    missing: bool = False
    # filled in by the parent: pickled bytes of the task(s) sent for the batch and of the
    # result(s) received, in one ADMM iteration, and whether its data had to be sent
    bytes_sent: int = 0
    bytes_received: int = 0
    data_sent: bool = False


def time_limited(options: dict, deadline: float | None) -> dict:
    """``options`` with IPOPT's ``max_wall_time`` cut to the time left before ``deadline``."""
    if deadline is None:
        return options
    left = max(deadline - time.perf_counter(), 1e-3)  # IPOPT needs a positive limit
    return {**options, "max_wall_time": min(left, float(options.get("max_wall_time", left)))}


class IterationLog:
    """What the fit's process keeps of IPOPT's iterations, wherever IPOPT runs (in this
    process or in ``_child``'s): called with IPOPT's per-iteration arguments and the
    current iterate (``None`` when not fetched), it returns whether IPOPT goes on.

    ``log``: ``(obj, inf_pr, inf_du)`` per iteration; ``last``: the last iterate reported
    (``start`` before any); ``iterates``: ``(time.perf_counter(), pick(x))`` per
    iteration when ``pick`` is given. ``progress`` (``_progress.Progress``) and
    ``interrupt`` (``_interrupt.SolveInterrupt``) may stop IPOPT.
    """

    def __init__(self, start, progress, interrupt, pick=None):
        self.log, self.iterates, self.last = [], [], start
        self.progress, self.interrupt, self.pick = progress, interrupt, pick

    def __call__(self, args: tuple, x_now) -> bool:
        self.log.append((float(args[2]), float(args[3]), float(args[4])))
        if x_now is not None:
            self.last = x_now
            if self.pick is not None:
                self.iterates.append((time.perf_counter(), self.pick(x_now)))
        keep = self.progress is None or self.progress.report(*args)
        return self.interrupt.keep_going() and keep
