"""IPOPT's C interface through ctypes, for the numpy engine.

``cyipopt.Problem`` copies every Jacobian and Hessian value IPOPT asks for one element at
a time at Python speed (about 80 ns each): on the paper's case 366 000 values, 30 ms per
IPOPT iteration, several times the numpy evaluation itself. :class:`Problem` drives the
same IPOPT library (the one ``cyipopt`` loaded, with its OpenBLAS set-up, found by
:func:`ipopt_library`) through its C interface and copies each callback's array with one
``memmove``. It offers the part of ``cyipopt.Problem``'s interface that
:func:`skneuralode._engines.numpy.solve_numpy` uses, with the same behaviour: the problem
object's ``objective``, ``gradient``, ``constraints``, ``jacobian(structure)``,
``hessian(structure)`` and ``intermediate`` callbacks; an exception raised in one stops
IPOPT and is raised again from :meth:`Problem.solve`.

The C interface of IPOPT 3.14 (``IpStdCInterface.h``) passes ``bool`` flags and ``int``
indices; an older library (no ``GetIpoptCurrentIterate``) is not used, and neither is a
library that cannot be found: :func:`ipopt_library` then returns None and the numpy
engine uses ``cyipopt.Problem`` as before. The library is loaded as a ``ctypes.PyDLL``,
so the interpreter lock stays held while IPOPT runs, as with cyipopt.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from pathlib import Path

import numpy as np

from ._status import MESSAGES

_double_p = ctypes.POINTER(ctypes.c_double)
_int_p = ctypes.POINTER(ctypes.c_int)
_bool, _int, _double, _void_p = ctypes.c_bool, ctypes.c_int, ctypes.c_double, ctypes.c_void_p

_EVAL_F = ctypes.CFUNCTYPE(_bool, _int, _double_p, _bool, _double_p, _void_p)
_EVAL_G = ctypes.CFUNCTYPE(_bool, _int, _double_p, _bool, _int, _double_p, _void_p)
_EVAL_JAC_G = ctypes.CFUNCTYPE(
    _bool, _int, _double_p, _bool, _int, _int, _int_p, _int_p, _double_p, _void_p
)
_EVAL_H = ctypes.CFUNCTYPE(
    _bool,
    _int,
    _double_p,
    _bool,
    _double,
    _int,
    _double_p,
    _bool,
    _int,
    _int_p,
    _int_p,
    _double_p,
    _void_p,
)
_INTERMEDIATE = ctypes.CFUNCTYPE(_bool, _int, _int, *([_double] * 8), _int, _void_p)

_LOCK = threading.Lock()
_library: list = []  # [ctypes library or None] once looked up


def ipopt_library():
    """The IPOPT library ``cyipopt`` loaded, set up for :class:`Problem`, or None.

    Looked up once per process, after :func:`skneuralode._openblas.import_cyipopt` (so
    the bundled OpenBLAS is loaded with its kernels chosen): on Linux the IPOPT library
    mapped into this process; elsewhere the one bundled in the cyipopt wheel. None when
    cyipopt is not installed, no library is found, or it predates IPOPT 3.14.
    """
    with _LOCK:
        if not _library:
            _library.append(_load())
        return _library[0]


def _load():
    from ._openblas import import_cyipopt

    try:
        cyipopt = import_cyipopt()
    except ImportError:
        return None
    for path in _candidates(cyipopt):
        try:
            lib = ctypes.PyDLL(path)
        except OSError:
            continue
        if not hasattr(lib, "GetIpoptCurrentIterate"):  # older than 3.14: other types
            continue
        _declare(lib)
        if _answers_correctly(lib):
            return lib
    return None


class _SelfTest:
    """min |x - 1|^2 subject to x_0 + x_1 = 1: the solution is (0.5, 0.5)."""

    def objective(self, x):
        return float(np.sum((x - 1.0) ** 2))

    def gradient(self, x):
        return 2.0 * (x - 1.0)

    def constraints(self, x):
        return np.array([x[0] + x[1] - 1.0])

    def jacobianstructure(self):
        return np.array([0, 0]), np.array([0, 1])

    def jacobian(self, x):
        return np.ones(2)

    def hessianstructure(self):
        return np.array([0, 1]), np.array([0, 1])

    def hessian(self, x, lagrange, obj_factor):
        return np.full(2, 2.0 * obj_factor)

    def intermediate(self, *report):
        return True


def _answers_correctly(lib) -> bool:
    """Whether ``lib`` solves a two-variable QP right through this module's declarations
    (a guard against a library whose C interface differs from IPOPT 3.14's)."""
    try:
        problem = Problem(2, 1, _SelfTest(), [-10.0, -10.0], [10.0, 10.0], [0.0], [0.0], lib)
        try:
            for key, value in (("print_level", 0), ("sb", "yes"), ("tol", 1e-10)):
                problem.add_option(key, value)
            x, info = problem.solve(np.zeros(2))
        finally:
            problem.close()
    except Exception:
        return False
    return info["status"] == 0 and bool(np.allclose(x, 0.5, atol=1e-8))


def _candidates(cyipopt) -> list[str]:
    """Paths of IPOPT shared libraries: the mapped one first (Linux), then the wheel's."""
    found = []
    maps = Path("/proc/self/maps")
    if maps.is_file():
        for line in maps.read_text().splitlines():
            fields = line.split(maxsplit=5)  # address perms offset dev inode [path]
            path = fields[5] if len(fields) == 6 else ""
            if _is_ipopt_library(path) and path not in found:
                found.append(path)
    site = Path(cyipopt.__file__).resolve().parent.parent
    folders = [
        *site.glob("cyipopt*.libs"),  # auditwheel (Linux), delvewheel (Windows)
        *site.glob("*.dylibs"),  # delocate (macOS), for the top-level extension module
        Path(cyipopt.__file__).parent / ".dylibs",
        site,
    ]
    for folder in folders:
        if folder.is_dir():
            for entry in sorted(folder.iterdir()):
                if _is_ipopt_library(str(entry)) and str(entry) not in found:
                    found.append(str(entry))
    return found


def _is_ipopt_library(path: str) -> bool:
    name = os.path.basename(path).lower()
    shared = ".so" in name or name.endswith((".dylib", ".dll"))
    return shared and name.startswith(("libipopt", "ipopt")) and "wrapper" not in name


def _declare(lib) -> None:
    lib.CreateIpoptProblem.restype = _void_p
    lib.CreateIpoptProblem.argtypes = [
        _int,
        _double_p,
        _double_p,
        _int,
        _double_p,
        _double_p,
        _int,
        _int,
        _int,
        _EVAL_F,
        _EVAL_G,
        _EVAL_F,  # eval_grad_f has eval_f's signature
        _EVAL_JAC_G,
        _EVAL_H,
    ]
    lib.FreeIpoptProblem.restype = None
    lib.FreeIpoptProblem.argtypes = [_void_p]
    lib.AddIpoptStrOption.restype = _bool
    lib.AddIpoptStrOption.argtypes = [_void_p, ctypes.c_char_p, ctypes.c_char_p]
    lib.AddIpoptNumOption.restype = _bool
    lib.AddIpoptNumOption.argtypes = [_void_p, ctypes.c_char_p, _double]
    lib.AddIpoptIntOption.restype = _bool
    lib.AddIpoptIntOption.argtypes = [_void_p, ctypes.c_char_p, _int]
    lib.SetIntermediateCallback.restype = _bool
    lib.SetIntermediateCallback.argtypes = [_void_p, _INTERMEDIATE]
    lib.IpoptSolve.restype = _int
    lib.IpoptSolve.argtypes = [
        _void_p,
        _double_p,
        _double_p,
        _double_p,
        _double_p,
        _double_p,
        _double_p,
        _void_p,
    ]
    lib.GetIpoptCurrentIterate.restype = _bool
    lib.GetIpoptCurrentIterate.argtypes = [
        _void_p,
        _bool,
        _int,
        _double_p,
        _double_p,
        _double_p,
        _int,
        _double_p,
        _double_p,
    ]


def _pointer(array: np.ndarray, kind=_double_p):
    return array.ctypes.data_as(kind)


class Problem:
    """One IPOPT problem on the callbacks of ``problem_obj`` (the cyipopt convention).

    Parameters
    ----------
    n, m : int
        Numbers of variables and constraints.
    problem_obj : object
        ``objective(x)``, ``gradient(x)``, ``constraints(x)``, ``jacobianstructure()``,
        ``jacobian(x)``, ``hessianstructure()``, ``hessian(x, lagrange, obj_factor)``,
        ``intermediate(alg_mod, iter, obj, inf_pr, inf_du, mu, d_norm, regularization,
        alpha_du, alpha_pr, ls_trials)``.
    lb, ub, cl, cu : array-like
        Variable and constraint bounds.
    lib : ctypes library, default=None
        From :func:`ipopt_library` (looked up when None).
    """

    def __init__(self, n, m, problem_obj, lb, ub, cl, cu, lib=None):
        self._lib = ipopt_library() if lib is None else lib
        if self._lib is None:
            raise RuntimeError("IPOPT's C library was not found")
        self.n, self.m, self._obj = int(n), int(m), problem_obj
        self._exception = None
        self._handle = None
        rows, cols = problem_obj.jacobianstructure()
        self._jac = tuple(np.ascontiguousarray(a, dtype=np.intc) for a in (rows, cols))
        rows, cols = problem_obj.hessianstructure()
        self._hess = tuple(np.ascontiguousarray(a, dtype=np.intc) for a in (rows, cols))
        bounds = [np.ascontiguousarray(b, dtype=float) for b in (lb, ub, cl, cu)]
        if [len(b) for b in bounds] != [self.n, self.n, self.m, self.m]:
            raise ValueError("bounds of the wrong length")
        # the ctypes callback objects must live as long as the problem
        self._callbacks = (
            _EVAL_F(self._eval_f),
            _EVAL_G(self._eval_g),
            _EVAL_F(self._eval_grad_f),
            _EVAL_JAC_G(self._eval_jac_g),
            _EVAL_H(self._eval_h),
            _INTERMEDIATE(self._intermediate),
        )
        self._handle = self._lib.CreateIpoptProblem(
            self.n,
            _pointer(bounds[0]),
            _pointer(bounds[1]),
            self.m,
            _pointer(bounds[2]),
            _pointer(bounds[3]),
            len(self._jac[0]),
            len(self._hess[0]),
            0,  # C-style indices
            *self._callbacks[:5],
        )
        if not self._handle:
            raise RuntimeError("IPOPT could not create the problem (CreateIpoptProblem)")
        self._lib.SetIntermediateCallback(self._handle, self._callbacks[5])

    # ------------------------------------------------------------------ public
    def add_option(self, key: str, value) -> None:
        """Set one IPOPT option; ``TypeError`` when IPOPT rejects it (as cyipopt)."""
        name = key.encode()
        if isinstance(value, str):
            ok = self._lib.AddIpoptStrOption(self._handle, name, value.encode())
        elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            ok = self._lib.AddIpoptIntOption(self._handle, name, int(value))
        elif isinstance(value, (float, np.floating)):
            ok = self._lib.AddIpoptNumOption(self._handle, name, float(value))
        else:
            raise TypeError(f"IPOPT option {key!r}: unsupported value type {type(value)}")
        if not ok:
            raise TypeError(f"Error while assigning an option: {key}={value!r}")

    def solve(self, x0):
        """Run IPOPT from ``x0``: ``(x, info)`` with ``info["status"]``, ``"status_msg"``."""
        x = np.array(x0, dtype=float).ravel()
        g, mult_g = np.zeros(self.m), np.zeros(self.m)
        zl, zu = np.zeros(self.n), np.zeros(self.n)
        obj = _double(0.0)
        self._exception = None
        status = self._lib.IpoptSolve(
            self._handle,
            _pointer(x),
            _pointer(g),
            ctypes.byref(obj),
            _pointer(mult_g),
            _pointer(zl),
            _pointer(zu),
            None,
        )
        if self._exception is not None:
            exc, self._exception = self._exception, None
            raise exc
        return x, {
            "x": x,
            "g": g,
            "obj_val": obj.value,
            "mult_g": mult_g,
            "status": int(status),
            "status_msg": MESSAGES.get(int(status), "Unknown status"),
        }

    def get_current_iterate(self, scaled: bool = False) -> dict:
        """The current primal iterate (inside an intermediate callback): ``{"x": x}``."""
        x = np.zeros(self.n)
        if not self._lib.GetIpoptCurrentIterate(
            self._handle, bool(scaled), self.n, _pointer(x), None, None, self.m, None, None
        ):
            return {"x": None}
        return {"x": x}

    def close(self) -> None:
        # forget the handle before freeing it: a KeyboardInterrupt (a Ctrl-C) raised as
        # FreeIpoptProblem returns must not leave it for __del__ to free a second time
        handle, self._handle = self._handle, None
        if handle:
            self._lib.FreeIpoptProblem(handle)

    def __del__(self):
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    # --------------------------------------------------------------- callbacks
    def _fail(self) -> bool:
        if self._exception is None:
            self._exception = sys.exc_info()[1]
        return False

    def _x(self, n, x) -> np.ndarray:
        return np.ctypeslib.as_array(x, shape=(n,)).copy()

    @staticmethod
    def _put(values, result, size: int, what: str) -> None:
        array = np.ascontiguousarray(result, dtype=float).ravel()
        if array.size != size:
            raise ValueError(f"{what} returned {array.size} values; IPOPT expects {size}")
        ctypes.memmove(values, array.ctypes.data, array.nbytes)

    def _eval_f(self, n, x, new_x, obj_value, user_data):
        try:
            obj_value[0] = float(self._obj.objective(self._x(n, x)))
            return True
        except BaseException:
            return self._fail()

    def _eval_grad_f(self, n, x, new_x, grad_f, user_data):
        try:
            self._put(grad_f, self._obj.gradient(self._x(n, x)), n, "gradient")
            return True
        except BaseException:
            return self._fail()

    def _eval_g(self, n, x, new_x, m, g, user_data):
        try:
            if m:
                self._put(g, self._obj.constraints(self._x(n, x)), m, "constraints")
            return True
        except BaseException:
            return self._fail()

    def _eval_jac_g(self, n, x, new_x, m, nele_jac, i_row, j_col, values, user_data):
        try:
            if not values:  # the structure
                rows, cols = self._jac
                ctypes.memmove(i_row, rows.ctypes.data, rows.nbytes)
                ctypes.memmove(j_col, cols.ctypes.data, cols.nbytes)
            elif nele_jac:
                self._put(values, self._obj.jacobian(self._x(n, x)), nele_jac, "jacobian")
            return True
        except BaseException:
            return self._fail()

    def _eval_h(
        self,
        n,
        x,
        new_x,
        obj_factor,
        m,
        lagrange,
        new_lambda,
        nele_hess,
        i_row,
        j_col,
        values,
        user_data,
    ):
        try:
            if not values:
                rows, cols = self._hess
                ctypes.memmove(i_row, rows.ctypes.data, rows.nbytes)
                ctypes.memmove(j_col, cols.ctypes.data, cols.nbytes)
            else:
                lam = self._x(m, lagrange) if m else np.zeros(0)
                result = self._obj.hessian(self._x(n, x), lam, float(obj_factor))
                self._put(values, result, nele_hess, "hessian")
            return True
        except BaseException:
            return self._fail()

    def _intermediate(self, *report):
        """IPOPT's report (alg_mod, iter_count, obj_value, inf_pr, inf_du, mu, d_norm,
        regularization_size, alpha_du, alpha_pr, ls_trials, user_data), forwarded
        without ``user_data``."""
        if self._exception is not None:
            return False
        try:
            keep_going = self._obj.intermediate(*report[:-1])
            return True if keep_going is None else bool(keep_going)
        except BaseException:
            return self._fail()
