"""Find IPOPT, run it on a built model, and turn its termination into a status.

Two routes, both driven by Pyomo:

- ``"ipopt"``: an ``ipopt`` executable on ``PATH`` (conda-forge, IDAES, a system build),
  through Pyomo's NL-file interface;
- ``"cyipopt"``: the ``cyipopt`` Python package (PyPI ``cyipopt-wheels`` bundles IPOPT
  and MUMPS) through Pyomo's PyNumero interface, which needs PyNumero's compiled
  ASL library (``python -m pyomo.contrib.pynumero.build``).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field

from .exceptions import SolverError, SolverNotAvailableError

SOLVERS = ("auto", "ipopt", "cyipopt")

INSTALL_HELP = """\
To install the cyipopt route (what `make demo` does) on Debian/Ubuntu:
    pip install cyipopt-wheels
    apt-get install -y libamplsolver-dev
    python -m pyomo.contrib.pynumero.build \\
        -DASL_INCLUDE_DIR=/usr/include/ampl-netlib-solvers \\
        -DASL_LIBRARY=/usr/lib/x86_64-linux-gnu/libamplsolver.so
or put an `ipopt` executable on PATH, e.g. `conda install -c conda-forge ipopt`
or `idaes get-extensions`."""

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
    """What one IPOPT run reports, as plain values."""

    solver: str
    status: str  # Pyomo termination condition, e.g. "optimal", "maxIterations"
    message: str
    n_iter: int
    solve_time: float
    iterations: list = field(default_factory=list)  # per-iteration (obj, inf_pr, inf_du)

    @property
    def converged(self) -> bool:
        return self.status in CONVERGED


def _ipopt_executable_works() -> tuple[bool, str]:
    path = shutil.which("ipopt")
    if path is None:
        return False, "`ipopt` executable on PATH: not found"
    import pyomo.environ as pyo

    if not pyo.SolverFactory("ipopt").available(exception_flag=False):
        return False, f"`ipopt` executable at {path}: Pyomo cannot run it"
    return True, f"`ipopt` executable at {path}"


def _cyipopt_works() -> tuple[bool, str]:
    try:
        import cyipopt  # noqa: F401
    except ImportError:
        return False, "Python package `cyipopt` (pip install cyipopt-wheels): not installed"
    from pyomo.contrib.pynumero.asl import AmplInterface

    if not AmplInterface.available():
        return False, (
            "Python package `cyipopt`: installed, but Pyomo's PyNumero ASL library "
            "(libpynumero_ASL) is missing"
        )
    return True, "cyipopt with PyNumero ASL"


@functools.cache
def available_solvers() -> dict[str, tuple[bool, str]]:
    """Each route -> (works, what was found). Cached for the process."""
    return {"ipopt": _ipopt_executable_works(), "cyipopt": _cyipopt_works()}


def find_solver(requested: str) -> str:
    """Resolve ``"auto"`` (ipopt executable first, then cyipopt) or check a forced route."""
    found = available_solvers()
    order = ["ipopt", "cyipopt"] if requested == "auto" else [requested]
    for name in order:
        if found[name][0]:
            return name
    looked = "\n".join(f"  - {found[name][1]}" for name in order)
    raise SolverNotAvailableError(
        f"solver={requested!r}: no usable IPOPT was found. Looked for:\n{looked}\n{INSTALL_HELP}"
    )


def solve_model(model, solver: str, options: dict, tee: bool = False) -> SolveResult:
    """Run IPOPT on ``model`` and load the final iterate into it.

    Any termination with an iterate loads it (the caller decides whether to warn);
    a crash raises :class:`SolverError`.
    """
    run = _solve_cyipopt if solver == "cyipopt" else _solve_executable
    start = time.perf_counter()
    result = run(model, dict(options), tee)
    result.solve_time = time.perf_counter() - start
    return result


def _solve_cyipopt(model, options: dict, tee: bool) -> SolveResult:
    import pyomo.environ as pyo

    log = []

    def callback(nlp, problem, alg_mod, it, obj, inf_pr, inf_du, *rest):
        log.append((float(obj), float(inf_pr), float(inf_du)))
        return True

    try:
        results = pyo.SolverFactory("cyipopt").solve(
            model,
            tee=tee,
            load_solutions=False,
            options=options,
            intermediate_callback=callback,
        )
    except Exception as exc:  # cyipopt raises on evaluation errors and crashes
        raise SolverError(f"IPOPT (cyipopt) crashed: {exc}") from exc
    model.solutions.load_from(results)
    return SolveResult(
        solver="cyipopt",
        status=str(results.solver.termination_condition),
        message=str(results.solver.message),
        n_iter=max(len(log) - 1, 0),
        solve_time=0.0,
        iterations=log,
    )


def _solve_executable(model, options: dict, tee: bool) -> SolveResult:
    import pyomo.environ as pyo

    with tempfile.TemporaryDirectory() as tmp:
        log_file = os.path.join(tmp, "ipopt.log")
        options = {**options, "output_file": log_file, "file_print_level": 5}
        try:
            results = pyo.SolverFactory("ipopt").solve(
                model, tee=tee, load_solutions=False, options=options
            )
        except Exception as exc:
            raise SolverError(f"IPOPT (executable) crashed: {exc}") from exc
        with open(log_file) as fh:
            text = fh.read()
    status = str(results.solver.termination_condition)
    if len(results.solution) == 0:
        raise SolverError(f"IPOPT (executable) returned no solution; status {status!r}")
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
