"""Find IPOPT, run one engine on an NLP, and turn IPOPT's termination into a status.

Two engines evaluate the same NLP (``_problem.NLPData``):

- ``"numpy"``: ``_numpy_engine`` hands exact vectorized derivatives to ``cyipopt``
  directly. Needs only the ``cyipopt`` package (PyPI ``cyipopt-wheels`` bundles IPOPT
  and MUMPS): no compiler, no root.
- ``"pyomo"``: the Pyomo model of ``_pyomo_model``, solved by one of two routes:
  ``"ipopt"``, an ``ipopt`` executable on ``PATH`` (conda-forge, IDAES, a system build)
  through Pyomo's NL-file interface; ``"cyipopt"``, cyipopt through Pyomo's PyNumero
  interface, which needs PyNumero's compiled ASL library
  (``python -m pyomo.contrib.pynumero.build``).

:func:`solve` is the one entry point used by the estimators and the ADMM workers.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

import numpy as np

from .exceptions import SolverError, SolverNotAvailableError

ENGINES = ("auto", "numpy", "pyomo")
SOLVERS = ("auto", "ipopt", "cyipopt")

INSTALL_HELP = """\
The numpy engine (the default) needs only IPOPT from PyPI:
    pip install "skneuralode[ipopt]"        # or: pip install cyipopt-wheels==1.7.0.dev0
The pyomo engine (engine="pyomo") needs either an `ipopt` executable on PATH, e.g.
`conda install -c conda-forge ipopt` or `idaes get-extensions`, or cyipopt plus
Pyomo's PyNumero ASL library; on Debian/Ubuntu (root and a C++ compiler):
    apt-get install -y libamplsolver-dev
    python -m pyomo.contrib.pynumero.build \\
        -DASL_INCLUDE_DIR=/usr/include/ampl-netlib-solvers \\
        -DASL_LIBRARY=/usr/lib/x86_64-linux-gnu/libamplsolver.so"""

# Pyomo termination conditions, by what the estimator does with them: a stopped solve
# keeps its iterate with a warning naming the knob; any other non-converged one raises.
CONVERGED = {"optimal", "locallyOptimal", "globallyOptimal"}
STOPPED = {
    "maxIterations": "`max_iter`",
    "maxTimeLimit": "`max_time` or `max_cpu_time`",
    "maxEvaluations": "`max_iter`",
    "feasible": "`tol` (stopped at IPOPT's 'acceptable' tolerances)",
    "minStepLength": "`tol` (IPOPT made too little progress)",
    "userInterrupt": "nothing (the fit was interrupted)",
}
# What to try after a failure, by its cause.
FAILURE_ADVICE = {
    "infeasible": "No point satisfies the collocation equations within the bounds: widen or "
    "drop `state_bound`/`weight_bound`, or try another `random_state`.",
    "noSolution": "IPOPT's restoration phase failed, usually from a poor start: try another "
    "`random_state`, init='lstsq', a larger `alpha`, or more `smoothing`.",
    "unbounded": "The iterates diverged: bound them (`weight_bound`, `state_bound`) or "
    "increase `alpha`.",
    "solverFailure": "The step computation failed (a singular KKT system): increase "
    "`alpha` or bound the weights (`weight_bound`).",
    "internalSolverError": "The network produced NaN or inf (an overflow): bound the weights "
    "and states (`weight_bound`, `state_bound`) or increase `alpha`.",
    "resourceInterrupt": "IPOPT ran out of memory: split the data with ADMMNeuralODE, or use "
    "fewer `n_elements` or a smaller `width`.",
    "error": "Check `solver_options` (verbose=1 shows IPOPT's reason): e.g. an HSL "
    "`linear_solver` needs the HSL library, and cyipopt-wheels bundles MUMPS only.",
}


def failure_advice(status: str) -> str:
    """What to try after IPOPT failed with ``status``."""
    return FAILURE_ADVICE.get(
        status, "Try another `random_state`, a larger `alpha`, or `state_bound`/`weight_bound`."
    )


@dataclass
class SolveResult:
    """What one solve reports, as plain values (and the solution as arrays)."""

    solver: str  # IPOPT route: "cyipopt" or "ipopt"
    status: str  # Pyomo termination condition, e.g. "optimal", "maxIterations"
    message: str
    n_iter: int
    solve_time: float  # IPOPT, plus writing the NL problem (nl_time)
    iterations: list = field(default_factory=list)  # per-iteration (obj, inf_pr, inf_du)
    nl_time: float = 0.0  # writing the NL problem and loading it (cyipopt route)
    # (time.perf_counter(), values of the recorded variables) at every iteration, when asked
    iterates: list = field(default_factory=list)
    engine: str = "pyomo"
    theta: np.ndarray | None = None
    states: np.ndarray | None = None
    n_variables: int = 0
    n_constraints: int = 0
    build_time: float = 0.0  # building the Pyomo model / the numpy sparsity structures

    @property
    def converged(self) -> bool:
        return self.status in CONVERGED


def _ipopt_executable_works() -> tuple[bool, str]:
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


def _cyipopt_package_works() -> tuple[bool, str]:
    from ._openblas import import_cyipopt, openblas_report

    try:
        cyipopt = import_cyipopt()
    except ImportError:
        return False, (
            "Python package `cyipopt` (pip install cyipopt-wheels==1.7.0.dev0): not installed"
        )
    from ._ipopt_c import ipopt_library

    version = ".".join(str(v) for v in getattr(cyipopt, "IPOPT_VERSION", ()))
    lib = ipopt_library()
    driver = (
        f"the numpy engine calls IPOPT's C interface in {lib._name}"
        if lib is not None
        else "the numpy engine uses cyipopt.Problem (IPOPT's C library not found)"
    )
    return True, (
        f"cyipopt {cyipopt.__version__} (IPOPT {version}); {driver}; {openblas_report()}"
    )


def _pynumero_works(cyipopt_found: bool) -> tuple[bool, str]:
    if not cyipopt_found:
        return False, "cyipopt through Pyomo's PyNumero: the `cyipopt` package is not installed"
    from pyomo.contrib.pynumero.asl import AmplInterface

    if not AmplInterface.available():
        return False, (
            "cyipopt through Pyomo's PyNumero: Pyomo's PyNumero ASL library "
            "(libpynumero_ASL) is missing"
        )
    return True, "cyipopt with PyNumero ASL"


class _Probes(Mapping):
    """The IPOPT routes, each probed on first access only (see :func:`available_solvers`).

    ``find_solver`` reads only the routes it would use, so forcing one route never runs
    another's probe (e.g. no ``ipopt -v`` subprocess for ``solver="cyipopt"``).
    """

    KEYS = ("numpy", "cyipopt", "ipopt")

    def __init__(self):
        self._found: dict[str, tuple[bool, str]] = {}

    def __getitem__(self, key: str) -> tuple[bool, str]:
        if key not in self.KEYS:
            raise KeyError(key)
        if key not in self._found:
            if key == "numpy":
                self._found[key] = _cyipopt_package_works()
            elif key == "cyipopt":
                self._found[key] = _pynumero_works(self["numpy"][0])
            else:
                self._found[key] = _ipopt_executable_works()
        return self._found[key]

    def __iter__(self):
        return iter(self.KEYS)

    def __len__(self) -> int:
        return len(self.KEYS)

    def __repr__(self) -> str:
        return repr(dict(self))


@functools.cache
def available_solvers() -> Mapping[str, tuple[bool, str]]:
    """What each way of running IPOPT needs, and whether it is there. Cached per process.

    Returns
    -------
    found : mapping
        ``"numpy"`` (the numpy engine: the ``cyipopt`` package, with what was done
        about its bundled OpenBLAS), ``"cyipopt"`` (the pyomo engine through PyNumero)
        and ``"ipopt"`` (the pyomo engine through an ``ipopt`` executable), each mapped
        to ``(works, what was found)``. Each route is probed when first read (the
        executable by running ``ipopt -v``); ``dict(available_solvers())`` probes all.
    """
    return _Probes()


def find_solver(engine: str, solver: str) -> tuple[str, str]:
    """Resolve the ``engine`` and ``solver`` parameters to what runs: (engine, route).

    ``engine="auto"``: the numpy engine when ``cyipopt`` imports (unless
    ``solver="ipopt"`` asks for the executable), else the pyomo engine with an ``ipopt``
    executable. ``engine="pyomo"``: ``solver="auto"`` tries the executable, then PyNumero.
    """
    if engine == "numpy" and solver == "ipopt":
        raise ValueError(
            "engine='numpy' drives IPOPT through the cyipopt package; solver='ipopt' (an "
            "ipopt executable) needs engine='pyomo'. Use solver='auto' or engine='pyomo'."
        )
    found = available_solvers()
    if engine == "numpy" or (engine == "auto" and solver != "ipopt"):
        candidates = [("numpy", "numpy")]
        if engine == "auto" and solver == "auto":
            candidates.append(("pyomo", "ipopt"))
    else:
        routes = ["ipopt", "cyipopt"] if solver == "auto" else [solver]
        candidates = [("pyomo", r) for r in routes]
    for eng, key in candidates:
        if found[key][0]:
            return eng, "cyipopt" if key == "numpy" else key
    looked = "\n".join(f"  - {found[key][1]}" for _, key in candidates)
    raise SolverNotAvailableError(
        f"engine={engine!r}, solver={solver!r}: no usable IPOPT was found. Looked for:\n"
        f"{looked}\n{INSTALL_HELP}"
    )


def check_ipopt_options(options: dict, name: str = "solver_options") -> dict:
    """IPOPT options with numpy scalars made plain, each checked by IPOPT itself.

    Every option is set on a one-variable cyipopt problem before any model is built; one
    that IPOPT rejects (unknown name, wrong type, value out of range) raises a
    ``ValueError`` naming it, with IPOPT's own reason. Without the ``cyipopt`` package
    (the ``ipopt`` executable route) only the types are checked here.
    """
    clean = {}
    for key, value in options.items():
        if not isinstance(key, str):
            raise TypeError(f"`{name}` keys must be IPOPT option names (str); got {key!r}.")
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise TypeError(
                f"`{name}`[{key!r}] must be an int, float or str as IPOPT expects; got "
                f"{value!r} ({type(value).__name__})."
            )
        clean[key] = value
    try:
        from ._openblas import import_cyipopt

        cyipopt = import_cyipopt()
    except ImportError:
        return clean
    problem = cyipopt.Problem(
        n=1, m=0, problem_obj=_OptionProbe(), lb=[-1.0], ub=[1.0], cl=[], cu=[]
    )
    try:
        for key, value in clean.items():
            with _captured_stdout() as said:
                try:
                    problem.add_option(key, value)
                    continue
                except TypeError:
                    pass
            reason = said.text.split("\n\n")[0].strip() or "IPOPT rejected it"
            raise ValueError(f"`{name}`: IPOPT rejects {key}={value!r}: {reason}")
    finally:
        problem.close()
    return clean


class _OptionProbe:
    """The smallest problem cyipopt accepts; only used to check option values."""

    def objective(self, x):
        return 0.0

    def gradient(self, x):
        return np.zeros(1)

    def constraints(self, x):
        return np.zeros(0)

    def jacobian(self, x):
        return np.zeros(0)


class _captured_stdout(contextlib.AbstractContextManager):
    """What C code (IPOPT's journal) writes to file descriptor 1 meanwhile: ``.text``."""

    def __enter__(self):
        import sys

        self.text = ""
        sys.stdout.flush()
        try:
            self._saved = os.dup(1)
        except OSError:  # no usable descriptor 1 (some embedded interpreters)
            self._saved = None
            return self
        self._file = tempfile.TemporaryFile(mode="w+b")
        os.dup2(self._file.fileno(), 1)
        return self

    def __exit__(self, *exc):
        if self._saved is None:
            return False
        try:
            _flush_c_stdout()
        finally:
            os.dup2(self._saved, 1)
            os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace")
        self._file.close()
        return False


def _flush_c_stdout() -> None:
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError, TypeError):  # no C library handle (Windows)
        pass


def solve(
    data,
    engine: str,
    solver: str,
    options: dict,
    tee: bool = False,
    record: bool = False,
    rho: float = 0.0,
    center: np.ndarray | None = None,
    deadline: float | None = None,
) -> SolveResult:
    """Solve the NLP ``data`` from its initial point with one engine.

    ``engine``/``solver`` as returned by :func:`find_solver`. ``rho``/``center``: the
    proximal term of an ADMM sub-problem (``data.proximal`` must be set for the pyomo
    engine). ``record``: keep the network parameters of every IPOPT iteration
    (``result.iterates``; cyipopt only). ``deadline``: a ``time.perf_counter()`` value;
    IPOPT gets the time left then as its ``max_wall_time``. A crash raises
    :class:`SolverError`; any termination with an iterate returns it (the caller decides
    whether to warn), a Ctrl-C included (status ``"userInterrupt"``, see ``_interrupt``).
    """
    if engine == "numpy":
        return _solve_with_numpy(data, options, tee, record, rho, center, deadline)
    return _solve_with_pyomo(data, solver, options, tee, record, rho, center, deadline)


def time_limited(options: dict, deadline: float | None) -> dict:
    """``options`` with IPOPT's ``max_wall_time`` cut to the time left before ``deadline``."""
    if deadline is None:
        return options
    left = max(deadline - time.perf_counter(), 1e-3)  # IPOPT needs a positive limit
    return {**options, "max_wall_time": min(left, float(options.get("max_wall_time", left)))}


#: Failures after which a solve with the adaptive Hessian shift is repeated from the same
#: start with IPOPT's own rule: the shift changes IPOPT's path, and a path can fail (seen
#: from a poor start) where IPOPT's rule goes through. Limits and interrupts are not
#: failures.
RETRY_WITH_IPOPT_RULE = {
    "solverFailure", "noSolution", "minStepLength", "unbounded", "internalSolverError",
    "infeasible",
}  # fmt: skip


def _solve_with_numpy(data, options, tee, record, rho, center, deadline) -> SolveResult:
    result = _solve_numpy_once(data, options, record, rho, center, deadline)
    if data.hessian_regularization != "adaptive" or result.status not in RETRY_WITH_IPOPT_RULE:
        return result
    retry = _solve_numpy_once(
        replace(data, hessian_regularization="ipopt"), options, record, rho, center, deadline
    )
    retry.message = (
        f"{retry.message} (solved again with IPOPT's own Hessian regularization after the "
        f"adaptive shift ended with status {result.status!r} in {result.n_iter} iterations)"
    )
    retry.solve_time += result.solve_time
    retry.build_time += result.build_time
    return retry


def _solve_numpy_once(data, options, record, rho, center, deadline) -> SolveResult:
    from ._numpy_engine import FixedThetaNLP, NumpyNLP, solve_numpy

    start = time.perf_counter()
    nlp = FixedThetaNLP(data) if data.fixed_theta else NumpyNLP(data, rho, center)
    build_time = time.perf_counter() - start
    start = time.perf_counter()
    try:
        code, message, x, log, iterates = solve_numpy(nlp, time_limited(options, deadline), record)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # unknown options, evaluation errors, crashes
        raise SolverError(f"IPOPT (cyipopt) crashed: {exc}") from exc
    states, theta = nlp.split(x)
    return SolveResult(
        solver="cyipopt",
        status=IPOPT_STATUS.get(code, "error"),
        message=message,
        n_iter=max(len(log) - 1, 0),
        solve_time=time.perf_counter() - start,
        iterations=log,
        iterates=iterates,
        engine="numpy",
        theta=theta.copy(),
        states=states.copy(),
        n_variables=nlp.n,
        n_constraints=nlp.m,
        build_time=build_time,
    )


def _solve_with_pyomo(data, solver, options, tee, record, rho, center, deadline) -> SolveResult:
    from ._pyomo_model import build_model, read_solution, set_proximal

    start = time.perf_counter()
    model = build_model(data)
    if data.proximal:
        set_proximal(model, rho, np.zeros(len(data.theta0)) if center is None else center)
    build_time = time.perf_counter() - start
    result = solve_model(model, solver, options, tee, model.theta if record else None, deadline)
    result.theta, result.states = read_solution(model)
    result.n_variables, result.n_constraints = model.nvariables(), model.nconstraints()
    result.build_time = build_time
    return result


def solve_model(
    model, solver: str, options: dict, tee: bool = False, record=None, deadline=None
) -> SolveResult:
    """Run IPOPT on a Pyomo ``model`` and load the final iterate into it.

    Any termination with an iterate loads it (the caller decides whether to warn);
    a crash raises :class:`SolverError`. ``record`` (a Pyomo variable of ``model``, cyipopt
    route only) has its values copied at every IPOPT iteration into ``result.iterates``.
    ``deadline``: as in :func:`solve`.
    """
    start = time.perf_counter()
    if solver == "cyipopt":
        result = _solve_cyipopt(model, dict(options), tee, record, deadline)
    elif record is not None:
        raise ValueError("recording iterates needs the cyipopt route")
    else:
        result = _solve_executable(model, time_limited(dict(options), deadline), tee)
    result.solve_time = time.perf_counter() - start
    return result


# IPOPT's ApplicationReturnStatus -> the Pyomo termination-condition name used as status.
IPOPT_STATUS = {
    0: "optimal",  # Solve_Succeeded
    1: "feasible",  # Solved_To_Acceptable_Level
    2: "infeasible",  # Infeasible_Problem_Detected
    3: "minStepLength",  # Search_Direction_Becomes_Too_Small
    4: "unbounded",  # Diverging_Iterates
    5: "userInterrupt",  # User_Requested_Stop
    6: "feasible",  # Feasible_Point_Found
    -1: "maxIterations",
    -2: "noSolution",  # Restoration_Failed
    -3: "solverFailure",  # Error_In_Step_Computation
    -4: "maxTimeLimit",  # Maximum_CpuTime_Exceeded
    -5: "maxTimeLimit",  # Maximum_WallTime_Exceeded
    -10: "invalidProblem",  # Not_Enough_Degrees_Of_Freedom
    -11: "invalidProblem",
    -12: "error",  # Invalid_Option
    -13: "internalSolverError",  # Invalid_Number_Detected
    -100: "internalSolverError",
    -101: "error",
    -102: "resourceInterrupt",
    -199: "internalSolverError",
}


def _solve_cyipopt(model, options: dict, tee: bool, record=None, deadline=None) -> SolveResult:
    """Write the NL problem once (PyNumero), solve it, load the iterate into ``model``."""
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    start = time.perf_counter()
    nlp = PyomoNLP(model)
    nl_time = time.perf_counter() - start
    indices = None if record is None else np.asarray(nlp.get_primal_indices([record]))
    result, x = solve_nlp(nlp, time_limited(options, deadline), tee, record=indices)
    nlp.set_primals(x)
    nlp.load_state_into_pyomo()
    result.nl_time = nl_time
    return result


def solve_nlp(nlp, options: dict, tee: bool = False, record=None):
    """Run cyipopt on a PyNumero NLP from ``nlp.init_primals()`` -> (SolveResult, x).

    The NLP object is left intact, so a caller may change its bounds and starting point
    and solve it again without writing the problem again. ``record``: primal indices whose
    values are copied, with a time stamp, at every iteration into ``result.iterates``.
    Ctrl-C stops IPOPT at its next iteration (``_interrupt``); no options file is read
    unless ``options`` names one.
    """
    from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP

    from ._interrupt import SolveInterrupt
    from ._openblas import import_cyipopt

    import_cyipopt()  # before Pyomo imports cyipopt itself (ADMM workers come here first)
    log, iterates = [], []
    interrupt = SolveInterrupt()

    # All 13 arguments spelled out: Pyomo passes ``problem`` only to a 13-argument
    # callback (with ``*args`` it falls back to the pre-6.8 signature without it).
    def callback(nlp, problem, alg_mod, it, obj, inf_pr, inf_du, mu, d_norm, reg, a_du, a_pr, ls):
        log.append((float(obj), float(inf_pr), float(inf_du)))
        if record is not None:
            x_now = problem.get_current_iterate(scaled=False)["x"]
            iterates.append((time.perf_counter(), np.array(x_now[record], dtype=float)))
        return interrupt.keep_going()

    start = time.perf_counter()
    problem = CyIpoptNLP(nlp, intermediate_callback=callback)
    try:
        for key, value in {"option_file_name": "", **options}.items():
            problem.add_option(key, value)
        with interrupt:
            x, info = problem.solve(nlp.init_primals().copy())
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # unknown options, evaluation errors, crashes
        raise SolverError(f"IPOPT (cyipopt) crashed: {exc}") from exc
    finally:
        problem.close()
    message = info["status_msg"]
    result = SolveResult(
        solver="cyipopt",
        status=IPOPT_STATUS.get(int(info["status"]), "error"),
        message=message.decode() if isinstance(message, bytes) else str(message),
        n_iter=max(len(log) - 1, 0),
        solve_time=time.perf_counter() - start,
        iterations=log,
        iterates=iterates,
    )
    return result, x


# Ipopt's AMPL result codes (AmplTNLP::finalize_solution) -> the names IPOPT_STATUS uses;
# finer than Pyomo's reading of the .sol file (which calls "acceptable" optimal and a
# time limit an iteration limit).
AMPL_STATUS = {
    0: "optimal",
    1: "feasible",
    2: "feasible",
    200: "infeasible",
    300: "unbounded",
    400: "maxIterations",
    401: "maxTimeLimit",
    402: "maxTimeLimit",
    403: "userInterrupt",
    500: "minStepLength",
    501: "noSolution",
    502: "solverFailure",
    550: "internalSolverError",
}


def _solve_executable(model, options: dict, tee: bool) -> SolveResult:
    """Solve through Pyomo's NL-file interface, every file in one scratch directory.

    Pyomo's NL, solution and log files go into a temporary directory that is removed
    afterwards, also when the solve is interrupted; an empty options file stands in for
    a stray ``ipopt.opt`` in the working directory unless ``options`` names one. The
    first Ctrl-C is forwarded to the ``ipopt`` child, which stops at its next iteration
    and writes its iterate.
    """
    from ._interrupt import SolveInterrupt, forward_sigint_to_children

    with tempfile.TemporaryDirectory(prefix="skneuralode-") as tmp, _pyomo_tempdir(tmp):
        log_file = os.path.join(tmp, "ipopt.log")
        options = {**options, "output_file": log_file, "file_print_level": 5}
        if "option_file_name" not in options:
            options["option_file_name"] = os.path.join(tmp, "empty.opt")
            open(options["option_file_name"], "w").close()
        with SolveInterrupt(on_request=forward_sigint_to_children) as interrupt:
            results = _run_executable(model, options, tee)
        text = open(log_file).read() if os.path.exists(log_file) else ""
    return _read_executable_results(model, results, text, interrupt.requested)


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
        solver="ipopt",
        status=status,
        message=message.group(1).strip() if message else str(results.solver.message),
        n_iter=int(found.group(1)) if found else -1,
        solve_time=0.0,
    )
