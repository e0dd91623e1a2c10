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

import functools
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field

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

# Pyomo termination conditions, by what the estimator does with them.
CONVERGED = {"optimal", "locallyOptimal", "globallyOptimal"}
STOPPED = {
    "maxIterations": "max_iter",
    "maxTimeLimit": "max_cpu_time",
    "maxEvaluations": "max_iter",
    "feasible": "tol (stopped at IPOPT's 'acceptable' tolerances)",
    "minStepLength": "tol (IPOPT made too little progress)",
    "userInterrupt": "max_iter",
}


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
    version = ".".join(str(v) for v in getattr(cyipopt, "IPOPT_VERSION", ()))
    return True, f"cyipopt {cyipopt.__version__} (IPOPT {version}); {openblas_report()}"


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


@functools.cache
def available_solvers() -> dict[str, tuple[bool, str]]:
    """What each way of running IPOPT needs, and whether it is there. Cached per process.

    Returns
    -------
    found : dict
        ``"numpy"`` (the numpy engine: the ``cyipopt`` package, with what was done
        about its bundled OpenBLAS), ``"cyipopt"`` (the pyomo engine through PyNumero)
        and ``"ipopt"`` (the pyomo engine through an ``ipopt`` executable), each mapped
        to ``(works, what was found)``.
    """
    numpy_route = _cyipopt_package_works()
    return {
        "numpy": numpy_route,
        "cyipopt": _pynumero_works(numpy_route[0]),
        "ipopt": _ipopt_executable_works(),
    }


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


def solve(
    data,
    engine: str,
    solver: str,
    options: dict,
    tee: bool = False,
    record: bool = False,
    rho: float = 0.0,
    center: np.ndarray | None = None,
) -> SolveResult:
    """Solve the NLP ``data`` from its initial point with one engine.

    ``engine``/``solver`` as returned by :func:`find_solver`. ``rho``/``center``: the
    proximal term of an ADMM sub-problem (``data.proximal`` must be set for the pyomo
    engine). ``record``: keep the network parameters of every IPOPT iteration
    (``result.iterates``; cyipopt only). A crash raises :class:`SolverError`; any
    termination with an iterate returns it (the caller decides whether to warn).
    """
    if engine == "numpy":
        return _solve_with_numpy(data, options, tee, record, rho, center)
    return _solve_with_pyomo(data, solver, options, tee, record, rho, center)


def _solve_with_numpy(data, options, tee, record, rho, center) -> SolveResult:
    from ._numpy_engine import NumpyNLP, solve_numpy

    start = time.perf_counter()
    nlp = NumpyNLP(data, rho, center)
    build_time = time.perf_counter() - start
    start = time.perf_counter()
    try:
        code, message, x, log, iterates = solve_numpy(nlp, options, record)
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


def _solve_with_pyomo(data, solver, options, tee, record, rho, center) -> SolveResult:
    from ._pyomo_model import build_model, read_solution, set_proximal

    start = time.perf_counter()
    model = build_model(data)
    if data.proximal:
        set_proximal(model, rho, np.zeros(len(data.theta0)) if center is None else center)
    build_time = time.perf_counter() - start
    result = solve_model(model, solver, options, tee, model.theta if record else None)
    result.theta, result.states = read_solution(model)
    result.n_variables, result.n_constraints = model.nvariables(), model.nconstraints()
    result.build_time = build_time
    return result


def solve_model(model, solver: str, options: dict, tee: bool = False, record=None) -> SolveResult:
    """Run IPOPT on a Pyomo ``model`` and load the final iterate into it.

    Any termination with an iterate loads it (the caller decides whether to warn);
    a crash raises :class:`SolverError`. ``record`` (a Pyomo variable of ``model``, cyipopt
    route only) has its values copied at every IPOPT iteration into ``result.iterates``.
    """
    start = time.perf_counter()
    if solver == "cyipopt":
        result = _solve_cyipopt(model, dict(options), tee, record)
    elif record is not None:
        raise ValueError("recording iterates needs the cyipopt route")
    else:
        result = _solve_executable(model, dict(options), tee)
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


def _solve_cyipopt(model, options: dict, tee: bool, record=None) -> SolveResult:
    """Write the NL problem once (PyNumero), solve it, load the iterate into ``model``."""
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    start = time.perf_counter()
    nlp = PyomoNLP(model)
    nl_time = time.perf_counter() - start
    indices = None if record is None else np.asarray(nlp.get_primal_indices([record]))
    result, x = solve_nlp(nlp, options, tee, record=indices)
    nlp.set_primals(x)
    nlp.load_state_into_pyomo()
    result.nl_time = nl_time
    return result


def solve_nlp(nlp, options: dict, tee: bool = False, record=None):
    """Run cyipopt on a PyNumero NLP from ``nlp.init_primals()`` -> (SolveResult, x).

    The NLP object is left intact, so a caller may change its bounds and starting point
    and solve it again without writing the problem again. ``record``: primal indices whose
    values are copied, with a time stamp, at every iteration into ``result.iterates``.
    """
    from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP

    from ._openblas import import_cyipopt

    import_cyipopt()  # before Pyomo imports cyipopt itself (ADMM workers come here first)
    log, iterates = [], []

    # All 13 arguments spelled out: Pyomo passes ``problem`` only to a 13-argument
    # callback (with ``*args`` it falls back to the pre-6.8 signature without it).
    def callback(nlp, problem, alg_mod, it, obj, inf_pr, inf_du, mu, d_norm, reg, a_du, a_pr, ls):
        log.append((float(obj), float(inf_pr), float(inf_du)))
        if record is not None:
            x_now = problem.get_current_iterate(scaled=False)["x"]
            iterates.append((time.perf_counter(), np.array(x_now[record], dtype=float)))
        return True

    start = time.perf_counter()
    problem = CyIpoptNLP(nlp, intermediate_callback=callback)
    try:
        for key, value in options.items():
            problem.add_option(key, value)
        x, info = problem.solve(nlp.init_primals().copy())
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
    import pyomo.environ as pyo
    from pyomo.opt import SolverStatus

    with tempfile.TemporaryDirectory() as tmp:
        log_file = os.path.join(tmp, "ipopt.log")
        options = {**options, "output_file": log_file, "file_print_level": 5}
        try:
            results = pyo.SolverFactory("ipopt").solve(
                model, tee=tee, load_solutions=False, options=options
            )
        except Exception as exc:
            raise SolverError(f"IPOPT (executable) crashed: {exc}") from exc
        text = open(log_file).read() if os.path.exists(log_file) else ""
    code = results.solver.id
    status = AMPL_STATUS.get(code, str(results.solver.termination_condition))
    if len(results.solution) == 0:
        raise SolverError(
            f"IPOPT (executable) returned no solution (status {status!r}, result code {code})"
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
