"""The pyomo engine: the NLP as the Pyomo model of ``_pyomo_model``, solved by IPOPT.

Routes (``solver_``):

- ``"executable"``: an ``ipopt`` executable on ``PATH`` (conda-forge, IDAES, a system
  build) through Pyomo's NL-file interface;
- ``"pynumero"``: cyipopt through Pyomo's PyNumero interface, which needs PyNumero's
  compiled ASL library (``python -m pyomo.contrib.pynumero.build``).

For ADMM, each worker process keeps the batches' built models (and, on the pynumero
route, their written NL problems) between iterations: building a Pyomo model and
writing its NL problem cost more than a warm-started sub-problem solve.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from dataclasses import replace

import numpy as np

from .._resident import task_data
from .._status import AMPL_STATUS, IPOPT_STATUS
from ..exceptions import SolverError
from . import BatchResult, IterationLog, SolveResult, time_limited

# ------------------------------------------------------- the engine interface


def _probe_executable() -> tuple[bool, str]:
    """Found on PATH *and* answers ``ipopt -v`` (a broken install must not win "auto")."""
    path = shutil.which("ipopt")
    if path is None:
        return False, "`ipopt` executable on PATH: not found"
    try:
        probe = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"`ipopt` executable at {path}: `ipopt -v` failed ({exc})"
    if probe.returncode != 0 or "ipopt" not in probe.stdout.lower():
        return False, f"`ipopt` executable at {path}: `ipopt -v` did not answer as IPOPT"
    from pyomo.common import Executable

    Executable("ipopt").rehash()  # Pyomo caches its own lookup; make it see this PATH
    return True, f"`ipopt` executable at {path}"


def _probe_pynumero() -> tuple[bool, str]:
    from .._openblas import import_cyipopt

    try:
        import_cyipopt()
    except ImportError:
        return False, "cyipopt through Pyomo's PyNumero: the `cyipopt` package is not installed"
    from pyomo.contrib.pynumero.asl import AmplInterface

    if not AmplInterface.available():
        return False, (
            "cyipopt through Pyomo's PyNumero: Pyomo's PyNumero ASL library "
            "(libpynumero_ASL) is missing"
        )
    return True, "cyipopt with PyNumero ASL"


PROBES = {"pynumero": _probe_pynumero, "executable": _probe_executable}


def candidates(solver: str) -> list[str]:
    """``"auto"``: the executable, then PyNumero; otherwise the route named."""
    return ["executable", "pynumero"] if solver == "auto" else [solver]


def route(key: str) -> str:
    return key


def records_iterates(route: str) -> bool:
    """Only PyNumero's callback reports the iterate; the executable does not."""
    return route == "pynumero"


def solve(data, route: str, options: dict, *, tee=False, record=False, rho=0.0, center=None,
          deadline=None, progress=None) -> SolveResult:  # fmt: skip
    """Build the Pyomo model of ``data``, solve it by ``route``, read the solution."""
    from .._pyomo_model import build_model, read_solution, set_proximal

    start = time.perf_counter()
    model = build_model(data)
    if data.proximal:
        set_proximal(model, rho, np.zeros(len(data.theta0)) if center is None else center)
    build_time = time.perf_counter() - start
    result = solve_model(
        model, route, options, tee, model.theta if record else None, deadline, progress
    )
    result.theta, result.states = read_solution(model)
    result.n_variables, result.n_constraints = model.nvariables(), model.nconstraints()
    result.build_time = build_time
    return result


def solve_model(
    model, route: str, options: dict, tee: bool = False, record=None, deadline=None,
    progress=None,
) -> SolveResult:  # fmt: skip
    """Run IPOPT on a Pyomo ``model`` and load the final iterate into it.

    Any termination with an iterate loads it (the caller decides whether to warn);
    a crash raises :class:`SolverError`. ``record`` (a Pyomo variable of ``model``,
    pynumero route only) has its values copied at every IPOPT iteration into
    ``result.iterates``. ``deadline``, ``progress``: as in
    :func:`skneuralode._solver.solve`; the executable has no per-iteration callback, so
    its iterations reach ``progress`` after the solve, read from IPOPT's log, and a
    ``progress`` with a user callback is a ``ValueError`` there.
    """
    start = time.perf_counter()
    if route == "pynumero":
        result = _solve_pynumero(model, dict(options), tee, record, deadline, progress)
    elif record is not None:
        raise ValueError("recording iterates needs the pynumero route")
    elif progress is not None and progress.callback is not None:
        raise ValueError("a per-iteration callback needs the pynumero route")
    else:
        result = _solve_executable(model, time_limited(dict(options), deadline), tee, progress)
    result.solve_time = time.perf_counter() - start
    return result


# ------------------------------------------------------------ PyNumero route


def _solve_pynumero(
    model, options: dict, tee: bool, record=None, deadline=None, progress=None
) -> SolveResult:
    """Write the NL problem once (PyNumero), solve it, load the iterate into ``model``."""
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    start = time.perf_counter()
    nlp = PyomoNLP(model)
    nl_time = time.perf_counter() - start
    indices = None if record is None else np.asarray(nlp.get_primal_indices([record]))
    result, x = solve_nlp(nlp, time_limited(options, deadline), tee, indices, progress,
                          deadline)  # fmt: skip
    nlp.set_primals(x)
    nlp.load_state_into_pyomo()
    result.nl_time = nl_time
    return result


def solve_nlp(nlp, options: dict, tee: bool = False, record=None, progress=None, deadline=None):
    """Run cyipopt on a PyNumero NLP from ``nlp.init_primals()`` -> (SolveResult, x).

    The NLP object is left intact, so a caller may change its bounds and starting point
    and solve it again without writing the problem again. ``record``: primal indices whose
    values are copied, with a time stamp, at every iteration into ``result.iterates``.
    Ctrl-C stops IPOPT at its next iteration (``_interrupt``), and so does ``progress``
    (``_progress.Progress``, given every iteration's report) when it answers ``False``;
    no options file is read unless ``options`` names one. With a ``deadline``
    (``time.perf_counter()``), IPOPT runs in a child process that is stopped if it is
    still running shortly after it (``_child``); the last iterate it reported is kept.
    """
    from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP

    from .. import _child
    from .._interrupt import SolveInterrupt
    from .._openblas import import_cyipopt

    import_cyipopt()  # before Pyomo imports cyipopt itself (ADMM workers come here first)
    interrupt = SolveInterrupt()
    start = nlp.init_primals().copy()
    pick = None if record is None else (lambda x: np.array(x[record], dtype=float))
    iterations = IterationLog(start, progress, interrupt, pick)
    keep_x = record is not None or deadline is not None  # the last iterate, kept at the deadline

    def work(report) -> tuple:
        # All 13 arguments spelled out: Pyomo passes ``problem`` only to a 13-argument
        # callback (with ``*args`` it falls back to the pre-6.8 signature without it).
        def callback(nlp, problem, alg_mod, it, obj, inf_pr, inf_du, mu, d_norm, reg, a_du,
                     a_pr, ls):  # fmt: skip
            x_now = None
            if keep_x:
                x_now = np.array(problem.get_current_iterate(scaled=False)["x"], dtype=float)
            args = (alg_mod, it, obj, inf_pr, inf_du, mu, d_norm, reg, a_du, a_pr, ls)
            return report(args, x_now, 0.0)

        problem = CyIpoptNLP(nlp, intermediate_callback=callback)
        try:
            for key, value in {"option_file_name": "", **options}.items():
                problem.add_option(key, value)
            x, info = problem.solve(start.copy())
        finally:
            problem.close()
        message = info["status_msg"]
        message = message.decode() if isinstance(message, bytes) else str(message)
        return x, int(info["status"]), message

    begin = time.perf_counter()
    try:
        with interrupt:
            try:
                x, code, message = _child.run(work, iterations, deadline, interrupt)
            except _child.Killed:  # in a factorization at the deadline, or Ctrl-C twice
                x, code, message = iterations.last, -4, _child.KILLED_MESSAGE
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # unknown options, evaluation errors, crashes
        raise SolverError(f"IPOPT (cyipopt) crashed: {exc}") from exc
    result = SolveResult(
        solver="pynumero",
        engine="pyomo",
        status=IPOPT_STATUS.get(code, "error"),
        message=message,
        n_iter=max(len(iterations.log) - 1, 0),
        solve_time=time.perf_counter() - begin,
        iterations=iterations.log,
        iterates=iterations.iterates,
    )
    return result, x


# ---------------------------------------------------------- executable route


def _solve_executable(model, options: dict, tee: bool, progress=None) -> SolveResult:
    """Solve through Pyomo's NL-file interface, every file in one scratch directory.

    Pyomo's NL, solution and log files go into a temporary directory that is removed
    afterwards, also when the solve is interrupted; an empty options file stands in for
    a stray ``ipopt.opt`` in the working directory unless ``options`` names one. The
    first Ctrl-C is forwarded to the ``ipopt`` child, which stops at its next iteration
    and writes its iterate. SIGTERM (in the main thread) stops the child and removes the
    directory before the process ends (``_interrupt.on_sigterm``). The iterations in
    IPOPT's log reach ``progress`` (without their times) once the executable has finished.
    """
    from .._interrupt import SolveInterrupt, forward_sigint_to_children, on_sigterm, stop_children

    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="skneuralode-"))

        def cleanup():  # on SIGTERM: the NL file, hence the child's command line, is in tmp
            stop_children(tmp)
            shutil.rmtree(tmp, ignore_errors=True)

        stack.enter_context(on_sigterm(cleanup))
        stack.enter_context(_pyomo_tempdir(tmp))
        log_file = os.path.join(tmp, "ipopt.log")
        options = {**options, "output_file": log_file, "file_print_level": 5}
        if "option_file_name" not in options:
            options["option_file_name"] = os.path.join(tmp, "empty.opt")
            open(options["option_file_name"], "w").close()
        with SolveInterrupt(on_request=forward_sigint_to_children) as interrupt:
            results = _run_executable(model, options, tee)
        text = open(log_file).read() if os.path.exists(log_file) else ""
    if progress is not None:
        for report in log_iterations(text):
            progress.report(*report, elapsed=float("nan"))
    return _read_executable_results(model, results, text, interrupt.requested)


#: An iteration line of IPOPT's log: ``iter[r] objective inf_pr inf_du lg(mu) ||d||
#: lg(rg) alpha_du alpha_pr[flag] ls``, then IPOPT's info string.
_LOG_ITERATION = re.compile(
    r"^\s*(\d+)(r?)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)"
    r"\s+([-+.\deE]+)[A-Za-z]?\s+(\d+)"
)


def log_iterations(text: str) -> list[tuple]:
    """The iterations of IPOPT's log ``text`` as the arguments of IPOPT's per-iteration
    callback: ``(alg_mod, iter, obj, inf_pr, inf_du, mu, d_norm, regularization,
    alpha_du, alpha_pr, ls_trials)`` (``lg(mu)``/``lg(rg)`` undone; ``-`` is 0)."""

    def value(field: str) -> float:
        try:
            return float(field)
        except ValueError:
            return float("nan")

    found = []
    for line in text.splitlines():
        match = _LOG_ITERATION.match(line)
        if match is None:
            continue
        it, r, obj, inf_pr, inf_du, lg_mu, d_norm, lg_rg, a_du, a_pr, ls = match.groups()
        exp10 = [0.0 if math.isnan(value(f)) else 10.0 ** value(f) for f in (lg_mu, lg_rg)]
        found.append((
            int(bool(r)), int(it), value(obj), value(inf_pr), value(inf_du), exp10[0],
            value(d_norm), exp10[1], value(a_du), value(a_pr), int(ls),
        ))  # fmt: skip
    return found


@contextlib.contextmanager
def _pyomo_tempdir(path: str):
    """Point Pyomo's temporary files (NL, .sol, logs) into ``path`` while solving, and
    drop any temporary-file context an interrupted solve left on Pyomo's stack."""
    from pyomo.common.tempfiles import TempfileManager

    previous, stack = TempfileManager.tempdir, getattr(TempfileManager, "_context_stack", None)
    depth = None if stack is None else len(stack)
    TempfileManager.tempdir = path
    try:
        yield
    finally:
        TempfileManager.tempdir = previous
        while depth is not None and len(stack) > depth:
            TempfileManager.pop(remove=True)


def _run_executable(model, options: dict, tee: bool):
    import pyomo.environ as pyo

    try:
        return pyo.SolverFactory("ipopt").solve(
            model, tee=tee, load_solutions=False, options=options
        )
    except KeyboardInterrupt:
        raise
    except Exception as exc:
        raise SolverError(
            f"IPOPT (executable {shutil.which('ipopt')}) failed to run: {exc}"
        ) from exc


def _read_executable_results(model, results, text: str, interrupted: bool) -> SolveResult:
    """Check what the executable left (its .sol file, read by Pyomo) and load the iterate."""
    from pyomo.opt import SolverStatus

    code = getattr(results.solver, "id", None) if len(results.solution) else None
    status = AMPL_STATUS.get(code, str(results.solver.termination_condition))
    if len(results.solution) == 0:
        if interrupted:  # the executable died on Ctrl-C without writing its iterate
            raise KeyboardInterrupt
        tail = "\n".join(text.strip().splitlines()[-5:]) or str(results.solver.message)
        raise SolverError(
            f"IPOPT (executable {shutil.which('ipopt')}) wrote no solution (status "
            f"{status!r}). A broken or incompatible `ipopt` on PATH does this; check "
            f"`ipopt -v`, or use engine='numpy'. Its last output:\n{tail}"
        )
    results.solver.status = SolverStatus.ok  # our own warning reports stopped solves
    model.solutions.load_from(results)
    found = re.search(r"Number of Iterations\.*:\s*(\d+)", text)
    message = re.search(r"EXIT:\s*(.*)", text)
    return SolveResult(
        solver="executable",
        engine="pyomo",
        status=status,
        message=message.group(1).strip() if message else str(results.solver.message),
        n_iter=int(found.group(1)) if found else -1,
        solve_time=0.0,
    )


# -------------------------------------------------- ADMM: the per-process cache

#: Batches kept in each worker process, most recent last: (fit token, batch) -> _CachedBatch.
_MODEL_CACHE: OrderedDict = OrderedDict()
_MODEL_CACHE_SIZE = 32
#: Memory the cache may hold in one worker. loky recycles a worker whose memory grows by
#: 300 MB after its first task (it takes that for a leak), and a recycled worker loses
#: every cached batch and re-imports Pyomo; staying under that is cheaper.
_MODEL_CACHE_BYTES = 200e6
_PROCESS_LOCK = threading.Lock()


class _CachedBatch:
    """A batch's Pyomo model, and on the pynumero route its written NL problem with the
    positions of the variables in it: later solves only move bounds and the starting
    point, without building or writing anything again."""

    def __init__(self, task):
        from .._pyomo_model import build_model

        self.model = build_model(task.data)
        self.nlp = None
        if task.solver == "pynumero":
            from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

            m = self.model
            self.nlp = PyomoNLP(m)
            self.theta_idx = np.array(self.nlp.get_primal_indices([m.theta]))
            self.x_idx = np.array(self.nlp.get_primal_indices([m.x]))
            self.pinned_idx = np.array(self.nlp.get_primal_indices([m.rho, m.prox_center]))

    def solve(self, task) -> SolveResult:
        """-> SolveResult with the batch's theta and states."""
        if self.nlp is None:
            return self._solve_model(task)
        nlp, pinned = self.nlp, np.r_[task.rho, task.center]
        start = nlp.init_primals().copy()
        start[self.theta_idx] = task.theta
        start[self.x_idx] = task.states.ravel()
        start[self.pinned_idx] = pinned
        _overwrite(nlp.init_primals(), slice(None), start)
        _overwrite(nlp.primals_lb(), self.pinned_idx, pinned)
        _overwrite(nlp.primals_ub(), self.pinned_idx, pinned)
        result, x = solve_nlp(nlp, task.options)
        result.theta = x[self.theta_idx]
        result.states = x[self.x_idx].reshape(task.states.shape)
        result.n_variables, result.n_constraints = nlp.n_primals(), nlp.n_constraints()
        return result

    def _solve_model(self, task) -> SolveResult:
        from .._pyomo_model import read_solution, set_proximal

        m = self.model
        set_proximal(m, task.rho, task.center)
        for p in m.PARAMS:
            m.theta[p].set_value(float(task.theta[p]))
        for (n, i), value in np.ndenumerate(task.states):
            m.x[n, i].set_value(float(value))
        result = solve_model(m, task.solver, task.options)
        result.theta, result.states = read_solution(m)
        result.n_variables, result.n_constraints = m.nvariables(), m.nconstraints()
        return result


def _overwrite(array: np.ndarray, idx, values: np.ndarray) -> None:
    """Write into one of PyNumero's NLP arrays (bounds, starting point) in place.

    PyNumero hands out its own arrays read-only; the solve reads them from the NLP, so
    they are changed where they live and locked again.
    """
    array.flags.writeable = True
    try:
        array[idx] = values
    finally:
        array.flags.writeable = False


def _resident_bytes() -> float:
    try:
        import psutil
    except ImportError:  # then loky cannot watch memory either
        return 0.0
    return float(psutil.Process().memory_info().rss)


def _cached_batch(task) -> tuple[_CachedBatch, bool]:
    """The task's batch from this worker's cache (most recent last), or a new one.

    Building a batch first drops the batches of other fits (a worker process outlives a
    fit, and freed memory is not handed back to the system, so stale batches would push
    it over loky's recycling threshold); then the least recently used batches are dropped
    beyond ``_MODEL_CACHE_SIZE`` entries or ``_MODEL_CACHE_BYTES`` of memory, measured when
    each entry was built. Call with ``_PROCESS_LOCK`` held.
    """
    entry = _MODEL_CACHE.pop(task.key, None)
    reused = entry is not None
    if entry is None:
        for key in [k for k in _MODEL_CACHE if k[0] != task.key[0]]:
            del _MODEL_CACHE[key]
        gc.collect()
        before = _resident_bytes()
        entry = _CachedBatch(task)
        entry.size = max(_resident_bytes() - before, 0.0)
    _MODEL_CACHE[task.key] = entry
    while len(_MODEL_CACHE) > 1 and (
        len(_MODEL_CACHE) > _MODEL_CACHE_SIZE
        or sum(e.size for e in _MODEL_CACHE.values()) > _MODEL_CACHE_BYTES
    ):
        _MODEL_CACHE.popitem(last=False)
    return entry, reused


def solve_batch(task) -> BatchResult:
    """An ADMM sub-problem from this process's cached model of its batch, built from the
    batch's data (carried by the task or held by this process, ``_resident``);
    ``missing`` if the data are not at hand. Solves within one process run one at a
    time: the cache is shared, and neither Pyomo model building nor the AMPL solver
    library is thread-safe. (Nested inside another joblib worker, the batches run on
    threads of that worker: they then take turns.)"""
    with _PROCESS_LOCK:
        data = task_data(task)
        if data is None:
            return BatchResult(None, 0.0, False, missing=True)
        start = time.perf_counter()
        entry, reused = _cached_batch(replace(task, data=data))
        build_time = time.perf_counter() - start
        return BatchResult(entry.solve(task), build_time, reused)
