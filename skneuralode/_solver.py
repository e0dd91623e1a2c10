"""Find an engine and route to IPOPT, check IPOPT options, and run one solve.

The engines (``_engines``) evaluate the same NLP (``_problem.NLPData``); this module
resolves the estimators' ``engine``/``solver`` parameters to one engine and route,
probes what each route needs (:func:`available_solvers`), checks options with IPOPT
itself before anything is built, and dispatches :func:`solve`, the one entry point the
estimators use. IPOPT's statuses are in ``_status``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import warnings
from collections.abc import Mapping

import numpy as np

from ._child import flush_c_stdio
from ._engines import ENGINES as _ENGINE_MODULES
from ._engines import SolveResult, get_engine, time_limited
from ._status import CONVERGED, IPOPT_STATUS, STOPPED, failure_advice
from .exceptions import SolverError, SolverNotAvailableError

__all__ = [
    "CONVERGED", "ENGINES", "IPOPT_STATUS", "SOLVERS", "STOPPED", "SolveResult",
    "SolverError", "available_solvers", "check_ipopt_options", "failure_advice",
    "find_solver", "solve", "time_limited",
]  # fmt: skip

ENGINES = ("auto", *_ENGINE_MODULES)
#: Route names a user may force with ``solver=`` (routes of the pyomo engine).
ROUTES = ("pynumero", "executable")
#: The former names of the routes, accepted with a FutureWarning (to be removed in 0.3).
DEPRECATED_SOLVERS = {"cyipopt": "pynumero", "ipopt": "executable"}
SOLVERS = ("auto", *ROUTES, *DEPRECATED_SOLVERS)
#: What ``engine="auto"`` tries with ``solver="auto"``: (engine, solver) in order.
AUTO_ORDER = (("numpy", "auto"), ("pyomo", "executable"))

INSTALL_HELP = """\
The numpy engine (the default) needs only IPOPT from PyPI:
    pip install cyipopt-wheels==1.7.0.dev0  # the `ipopt` extra: pip install ".[ipopt]" in a clone
The pyomo engine (engine="pyomo") needs either an `ipopt` executable on PATH, e.g.
`conda install -c conda-forge ipopt` or `idaes get-extensions`, or cyipopt plus
Pyomo's PyNumero ASL library; on Debian/Ubuntu (root and a C++ compiler):
    apt-get install -y libamplsolver-dev
    python -m pyomo.contrib.pynumero.build \\
        -DASL_INCLUDE_DIR=/usr/include/ampl-netlib-solvers \\
        -DASL_LIBRARY=/usr/lib/x86_64-linux-gnu/libamplsolver.so"""


class _Probes(Mapping):
    """What each engine's routes need, each probed on first access only (see
    :func:`available_solvers`): ``find_solver`` reads only the keys it would use, so
    forcing one route never runs another's probe (e.g. no ``ipopt -v`` subprocess for
    ``solver="pynumero"``). The former keys ``"cyipopt"`` and ``"ipopt"`` still read, with
    a FutureWarning."""

    def __init__(self):
        self._probes = {}
        for name in _ENGINE_MODULES:
            self._probes.update(get_engine(name).PROBES)
        self._found: dict[str, tuple[bool, str]] = {}

    def __getitem__(self, key: str) -> tuple[bool, str]:
        if key in DEPRECATED_SOLVERS:
            new = DEPRECATED_SOLVERS[key]
            warnings.warn(
                f"available_solvers()[{key!r}] is now available_solvers()[{new!r}]; the old "
                "key will be removed in skneuralode 0.3.",
                FutureWarning,
                stacklevel=2,
            )
            key = new
        if key not in self._probes:
            raise KeyError(key)
        if key not in self._found:
            self._found[key] = self._probes[key]()
        return self._found[key]

    def __iter__(self):
        return iter(self._probes)

    def __len__(self) -> int:
        return len(self._probes)

    def __repr__(self) -> str:
        return repr(dict(self))


@functools.cache
def available_solvers() -> Mapping[str, tuple[bool, str]]:
    """What each way of running IPOPT needs, and whether it is there. Cached per process.

    Returns
    -------
    found : mapping
        ``"numpy"`` (the numpy engine: the ``cyipopt`` package, which IPOPT library it
        calls, and what was done about its bundled OpenBLAS), ``"pynumero"`` (the pyomo
        engine through PyNumero) and ``"executable"`` (the pyomo engine through an
        ``ipopt`` executable), each mapped to ``(works, what was found)``. Each route is
        probed when first read (the executable by running ``ipopt -v``);
        ``dict(available_solvers())`` probes all.
    """
    return _Probes()


def _undeprecate(engine: str, solver: str) -> tuple[str, str]:
    """(engine, solver) with a former route name replaced, and a FutureWarning.

    ``"ipopt"`` was the executable everywhere. ``"cyipopt"`` was PyNumero with the pyomo
    engine, but with ``engine="auto"`` it chose the numpy engine: it keeps that meaning.
    """
    if solver not in DEPRECATED_SOLVERS:
        return engine, solver
    new = DEPRECATED_SOLVERS[solver]
    warnings.warn(
        f"solver={solver!r} is deprecated: the routes are named solver='pynumero' (the "
        "pyomo engine through PyNumero) and solver='executable' (an ipopt executable); "
        f"use solver={new!r}" + ("" if solver == "ipopt" or engine == "pyomo" else
        " with engine='pyomo', or solver='auto' for the numpy engine")
        + ". The old names will be removed in skneuralode 0.3.",
        FutureWarning,
        stacklevel=3,
    )  # fmt: skip
    if solver == "cyipopt" and engine != "pyomo":
        return "numpy", "auto"
    return engine, new


def find_solver(engine: str, solver: str) -> tuple[str, str]:
    """Resolve the ``engine`` and ``solver`` parameters to what runs: (engine, route).

    ``engine="auto"``: the numpy engine when ``cyipopt`` imports, else the pyomo engine
    with an ``ipopt`` executable; a route named in ``solver`` selects the pyomo engine.
    ``engine="pyomo"``: ``solver="auto"`` tries the executable, then PyNumero.
    """
    engine, solver = _undeprecate(engine, solver)
    if engine != "auto":
        order = [(engine, solver)]
    elif solver == "auto":
        order = list(AUTO_ORDER)
    else:
        order = [("pyomo", solver)]
    candidates = [(name, key) for name, s in order for key in get_engine(name).candidates(s)]
    found = available_solvers()
    for name, key in candidates:
        if found[key][0]:
            return name, get_engine(name).route(key)
    looked = "\n".join(f"  - {found[key][1]}" for _, key in candidates)
    raise SolverNotAvailableError(
        f"engine={engine!r}, solver={solver!r}: no usable IPOPT was found. Looked for:\n"
        f"{looked}\n{INSTALL_HELP}"
    )


def records_iterates(engine: str, route: str) -> bool:
    """Whether that route reports IPOPT's iterate at every iteration."""
    return get_engine(engine).records_iterates(route)


def check_ipopt_options(options: dict, name: str = "solver_options") -> dict:
    """IPOPT options with numpy scalars made plain, each checked by IPOPT itself.

    Checked here first, with a ``ValueError`` naming the option: numbers finite and ints
    within IPOPT's C ``int`` (:func:`check_ipopt_number`), ``option_file_name`` an
    existing file (IPOPT itself ignores a missing one and reads a directory until memory
    runs out) and ``output_file`` a file that can be written. Then every option is set on
    a one-variable cyipopt problem before any model is built; one that IPOPT rejects
    (unknown name, wrong type, value out of range) raises a ``ValueError`` naming it,
    with IPOPT's own reason. Without the ``cyipopt`` package (the ``ipopt`` executable
    route) only the checks before that are made.
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
        if not isinstance(value, str):
            value = check_ipopt_number(value, f"`{name}`[{key!r}]")
        clean[key] = value
    if "option_file_name" in clean:
        _check_option_file(clean["option_file_name"], name)
    if "output_file" in clean:
        _check_output_file(clean["output_file"], name)
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


#: IPOPT's integer options are C ``int``s.
IPOPT_INT_MAX = 2**31 - 1


def check_ipopt_number(value, what: str):
    """``value`` for IPOPT: a finite float, or an int within a C ``int``
    (``±IPOPT_INT_MAX``); else a ``ValueError`` naming ``what`` (e.g. "`max_iter`")."""
    if isinstance(value, int) and not -IPOPT_INT_MAX - 1 <= value <= IPOPT_INT_MAX:
        raise ValueError(
            f"{what} must be within IPOPT's integer range [{-IPOPT_INT_MAX - 1}, "
            f"{IPOPT_INT_MAX}]; got {value!r}."
        )
    if isinstance(value, float) and not np.isfinite(value):
        raise ValueError(f"{what} must be a finite number for IPOPT; got {value!r}.")
    return value


def _check_option_file(path: str, name: str) -> None:
    """IPOPT reads ``option_file_name`` only if it is a file: it skips a missing one
    silently and reads a directory without end."""
    if not os.path.isfile(path):
        what = "is a directory" if os.path.isdir(path) else "does not exist"
        raise ValueError(
            f"`{name}`['option_file_name'] must name an existing IPOPT options file; "
            f"{path!r} {what}. Give the path of the file, or remove the option."
        )


def _check_output_file(path: str, name: str) -> None:
    """``output_file`` can be written: opened for appending (created and removed again
    when it did not exist), before any model is built."""
    existed = os.path.exists(path)
    try:
        with open(path, "a"):
            pass
    except OSError as err:
        raise ValueError(
            f"`{name}`['output_file']: cannot write {path!r} ({err.strerror}). Give a "
            "path in a writable directory, or remove the option."
        ) from None
    if not existed:
        os.remove(path)


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

    # (with a Hessian, cyipopt logs nothing at INFO level about using an approximation)
    def hessianstructure(self):
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)

    def hessian(self, x, lagrange, obj_factor):
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
            flush_c_stdio()
        finally:
            os.dup2(self._saved, 1)
            os.close(self._saved)
        self._file.seek(0)
        self.text = self._file.read().decode(errors="replace")
        self._file.close()
        return False


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
    progress=None,
) -> SolveResult:
    """Solve the NLP ``data`` from its initial point with one engine.

    ``engine``/``solver`` (the route) as returned by :func:`find_solver`. ``rho``/``center``:
    the proximal term of an ADMM sub-problem (``data.proximal`` must be set for the pyomo
    engine). ``record``: keep the network parameters of every IPOPT iteration
    (``result.iterates``). ``deadline``: a ``time.perf_counter()`` value; IPOPT gets the
    time left then as its ``max_wall_time``. ``progress``: a ``_progress.Progress`` that
    gets every IPOPT iteration's report (compact lines, the user's callback, which may
    stop IPOPT); an exception the callback raised is raised here once IPOPT has stopped.
    A crash raises :class:`SolverError`; any termination with an iterate returns it (the
    caller decides whether to warn), a Ctrl-C or a callback's stop included (status
    ``"userInterrupt"``, see ``_interrupt``).
    """
    result = get_engine(engine).solve(data, solver, options, tee=tee, record=record, rho=rho,
                                      center=center, deadline=deadline,
                                      progress=progress)  # fmt: skip
    if progress is not None:
        progress.finish(result)
    return result
