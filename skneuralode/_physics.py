"""Known physics as expressions: a user's right-hand side traced once into SymPy, then
evaluated with exact first and second derivatives (numpy, vectorized over points) and
written as Pyomo or CasADi expressions.

A physics function ``func(x, u, p, nn)`` returns the time derivatives ``dx/dt`` in user
units from the states ``x``, the inputs ``u``, the physical parameters ``p`` (a mapping
keyed by name) and the network's outputs ``nn``. :func:`trace_physics` calls it once with
SymPy symbols and returns a :class:`Physics`. Write ``w = (x, u, p, nn)`` for the
concatenated variables (``n_w`` of them) and ``f(w)`` for the ``n_states`` rates; then at
each of ``n`` points :class:`Physics` gives

- ``value``: ``f(w)``, shape ``(n, n_states)``;
- ``jacobian``: ``df_i/dw_j``, shape ``(n, n_states, n_w)`` (``jacobian_values`` keeps
  only the structural nonzeros of ``jacobian_structure``);
- ``hessian``: for weights ``v`` of shape ``(n, n_states)``, the Hessian of
  ``sum_i v_i f_i`` over ``w``, shape ``(n, n_w, n_w)`` (``hessian_values`` keeps the
  lower triangle of ``hessian_structure``): with ``v = -h_c lambda_c`` this is the
  physics' part of the Lagrangian's Hessian at collocation point ``c`` (DESIGN.md §7, §8).

Derivatives are taken with ``sympy.diff`` once and turned into numpy code with
``sympy.lambdify`` (common subexpressions shared). The functions a physics function may
call form one table, :data:`FUNCTIONS` (SymPy, numpy, Pyomo and CasADi forms); anything
else in the traced expressions is an error at trace time.

A :class:`Physics` keeps its expressions as ``sympy.srepr`` strings and rebuilds the SymPy
trees, derivatives and numpy code lazily, so it pickles as plain strings and numbers
whatever the user's function was (a lambda included). Pyomo and CasADi are imported
inside :meth:`Physics.pyomo_expressions` and :meth:`Physics.casadi_expressions` only.
"""

from __future__ import annotations

import functools
import operator
import re
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import NamedTuple

import numpy as np
import sympy

from ._activations import ACTIVATIONS


# ------------------------------------------------ SymPy forms of sigmoid and softplus
class sigmoid(sympy.Function):  # lower case, like SymPy's functions
    """``1 / (1 + exp(-z))`` as one SymPy node (its numpy form does not overflow)."""

    nargs = 1

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)


class softplus(sympy.Function):
    """``log(1 + exp(z))`` as one SymPy node; its derivative is :class:`sigmoid`."""

    nargs = 1

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])


class Function(NamedTuple):
    """One function a physics function may call: its SymPy, numpy, Pyomo and CasADi
    forms."""

    sympy: Callable  # SymPy expression -> SymPy expression
    numpy: Callable  # numbers or arrays -> numbers or arrays
    pyomo: Callable  # Pyomo expression -> Pyomo expression
    casadi: Callable  # CasADi SX/MX expression -> CasADi expression (``to_casadi``)


def _pyomo_function(name: str) -> Callable:
    def form(z):
        import pyomo.environ as pyo

        return getattr(pyo, name)(z)

    form.__name__ = f"pyomo_{name}"
    return form


def _casadi_function(name: str) -> Callable:
    def form(z):
        import casadi

        return getattr(casadi, name)(z)

    form.__name__ = f"casadi_{name}"
    return form


def _casadi_activation(name: str) -> Callable:
    from ._casadi import CASADI_ACTIVATIONS

    return CASADI_ACTIVATIONS[name]


#: name -> Function; the names are those of ``skneuralode.physics``.
FUNCTIONS = {
    "sqrt": Function(sympy.sqrt, np.sqrt, _pyomo_function("sqrt"), _casadi_function("sqrt")),
    "exp": Function(sympy.exp, np.exp, _pyomo_function("exp"), _casadi_function("exp")),
    "log": Function(sympy.log, np.log, _pyomo_function("log"), _casadi_function("log")),
    "tanh": Function(sympy.tanh, np.tanh, _pyomo_function("tanh"), _casadi_function("tanh")),
    "sin": Function(sympy.sin, np.sin, _pyomo_function("sin"), _casadi_function("sin")),
    "cos": Function(sympy.cos, np.cos, _pyomo_function("cos"), _casadi_function("cos")),
    "sigmoid": Function(sigmoid, ACTIVATIONS["sigmoid"].value, ACTIVATIONS["sigmoid"].pyomo,
                        _casadi_activation("sigmoid")),
    "softplus": Function(softplus, ACTIVATIONS["softplus"].value,
                         ACTIVATIONS["softplus"].pyomo, _casadi_activation("softplus")),
}  # fmt: skip

#: SymPy node class -> name in FUNCTIONS (``sqrt`` is a power in SymPy's trees).
_NODES = {row.sympy: name for name, row in FUNCTIONS.items() if isinstance(row.sympy, type)}
#: numpy implementations that ``lambdify`` needs beyond its "numpy" module.
_LAMBDIFY_MODULES = [{name: FUNCTIONS[name].numpy for name in ("sigmoid", "softplus")}, "numpy"]
#: what ``eval`` needs to read back a ``sympy.srepr`` string
_SREPR_NAMESPACE = {**vars(sympy), "sigmoid": sigmoid, "softplus": softplus}
_SUPPORTED = ", ".join(FUNCTIONS)


def apply_function(name: str, z):
    """``FUNCTIONS[name]`` of ``z``: its SymPy form for SymPy input, else its numpy form."""
    row = FUNCTIONS[name]
    return row.sympy(z) if isinstance(z, sympy.Basic) else row.numpy(z)


# ----------------------------------------------------------------------- tracing
class _TraceError(Exception):
    """A bad access while tracing (index out of range, unknown parameter name)."""


class _Vector(tuple):
    """``x``, ``u`` or ``nn`` while tracing: an out-of-range index names the argument."""

    def __new__(cls, items, label: str, size: str):
        self = super().__new__(cls, items)
        self.label, self.size = label, size
        return self

    def __getitem__(self, index):
        try:
            return super().__getitem__(index)
        except IndexError:
            raise _TraceError(
                f"{self.label}[{index}] is out of range: {self.label} has "
                f"{self.size}={len(self)} entries. Fix the index or the size."
            ) from None


class _Params(dict):
    """``p`` while tracing: an unknown name says which names exist."""

    def __missing__(self, key):
        known = ", ".join(repr(k) for k in self) or "none"
        raise _TraceError(
            f"unknown physical parameter {key!r}; the known names are {known}. "
            "Add it to the parameter names or fix the spelling."
        )


def _symbols(prefix: str, n: int) -> tuple[sympy.Symbol, ...]:
    return tuple(sympy.Symbol(f"{prefix}_{i}") for i in range(n))


def trace_physics(
    func: Callable,
    n_states: int,
    n_inputs: int = 0,
    param_names: Sequence[str] = (),
    n_network: int = 0,
) -> Physics:
    """Trace a physics function with SymPy symbols.

    Parameters
    ----------
    func : callable
        ``func(x, u, p, nn)`` returning a sequence of ``n_states`` time derivatives.
        ``x``, ``u`` and ``nn`` are sequences (``h1, h2 = x`` unpacks), ``p`` a mapping
        keyed by ``param_names``. Inside, use ``+ - * / **`` and the functions of
        :mod:`skneuralode.physics`; Python branches on the arguments cannot be traced.
    n_states : int
        Number of states, and of derivatives ``func`` returns.
    n_inputs : int, default=0
        Number of exogenous inputs.
    param_names : sequence of str, default=()
        Names of the physical parameters.
    n_network : int, default=0
        Number of network outputs ``func`` may read.

    Returns
    -------
    physics : Physics

    Raises
    ------
    TypeError
        ``func`` is not callable, calls a function that needs numbers (``math.sqrt``,
        ``np.sqrt``: use ``skneuralode.physics.sqrt``), branches on a symbol, returns
        something that is not an expression, or uses an unsupported SymPy function.
    ValueError
        Wrong number of derivatives, unknown parameter name, index out of range, a
        non-finite constant, or sizes that do not fit the function.

    Notes
    -----
    A lambda or a closure can be traced, and the :class:`Physics` pickles whatever
    ``func`` was (it keeps the expressions, not the function). An estimator that keeps
    ``func`` as a parameter pickles it by reference, which needs a module-level function
    (``def`` at the top of an importable module).

    Examples
    --------
    >>> from skneuralode.physics import sqrt
    >>> def tanks(x, u, p, nn):
    ...     h1, h2 = x
    ...     return [p["k4"] * u[0] - p["k1"] * sqrt(h1), p["k2"] * sqrt(h1) + nn[0]]
    >>> physics = trace_physics(tanks, 2, 1, ["k1", "k2", "k4"], 1)
    >>> physics.formulas()[1]
    'dx[1]/dt = nn[0] + p["k2"]*sqrt(x[0])'
    """
    if not callable(func):
        raise TypeError(f"physics must be callable as func(x, u, p, nn); got {func!r}.")
    sizes = n_states, n_inputs, n_network = _check_sizes(n_states, n_inputs, n_network)
    names = _check_param_names(param_names)
    name = getattr(func, "__qualname__", type(func).__name__)
    x, u, nn = (_symbols(g, n) for g, n in zip(("x", "u", "nn"), sizes))
    p = _symbols("p", len(names))
    args = (
        _Vector(x, "x", "n_states"),
        _Vector(u, "u", "n_inputs"),
        _Params(zip(names, p)),
        _Vector(nn, "nn", "n_network"),
    )
    out = _call(func, args, name, sizes)
    rates = _check_output(out, n_states, name)
    physics = Physics(name, n_states, n_inputs, names, n_network, tuple(map(sympy.srepr, rates)))
    for i, expr in enumerate(rates):
        _check_tree(expr, set(physics.symbols), f"physics function {name!r}, derivative {i}")
    return physics


def _check_sizes(n_states, n_inputs, n_network) -> tuple[int, int, int]:
    for label, n, low in (
        ("n_states", n_states, 1),
        ("n_inputs", n_inputs, 0),
        ("n_network", n_network, 0),
    ):
        if not isinstance(n, int | np.integer) or isinstance(n, bool) or n < low:
            raise ValueError(f"{label} must be an integer >= {low}; got {n!r}.")
    return int(n_states), int(n_inputs), int(n_network)


def _check_param_names(param_names) -> tuple[str, ...]:
    if isinstance(param_names, str):
        raise TypeError(
            f"param_names must be a sequence of strings; got the string {param_names!r}. "
            f"Write ({param_names!r},) for one parameter."
        )
    names = tuple(param_names)
    bad = [n for n in names if not isinstance(n, str) or not n]
    if bad:
        raise TypeError(f"param_names must be non-empty strings; got {bad[0]!r}.")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"param_names must be distinct; {repeated[0]!r} appears twice.")
    return names


def _call(func, args, name, sizes):
    try:
        return func(*args)
    except _TraceError as exc:
        raise ValueError(f"physics function {name!r}: {exc}") from None
    except TypeError as exc:
        raise TypeError(_untraceable(func, name, exc)) from exc
    except Exception as exc:
        n_states, n_inputs, n_network = sizes
        raise ValueError(
            f"physics function {name!r} raised {type(exc).__name__} when traced with "
            f"n_states={n_states}, n_inputs={n_inputs}, {len(args[2])} parameters and "
            f"n_network={n_network}: {exc}. Check that these sizes fit the function."
        ) from exc


def _untraceable(func, name: str, exc: TypeError) -> str:
    """The message for a TypeError while tracing: where it happened and what to use."""
    code = getattr(func, "__code__", None)
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if code is not None and f.filename == code.co_filename]
    line = (mine[-1].line or "").strip() if mine else ""
    where = f" at `{line}` (line {mine[-1].lineno})" if line else ""
    called = re.search(r"\b(math|cmath|numpy|np|scipy\.special)\.(\w+)\s*\(", line)
    ufunc = re.search(r"no callable (\w+) method", str(exc))  # numpy's ufuncs say which
    if called and called.group(2) in FUNCTIONS:
        module, fn = called.groups()
        fix = f"Use skneuralode.physics.{fn} instead of {module}.{fn}."
    elif ufunc and ufunc.group(1) in FUNCTIONS:
        fix = f"Use skneuralode.physics.{ufunc.group(1)} instead of numpy's."
    elif "truth value" in str(exc):
        fix = "Python branches on the arguments (if, min, max, abs) cannot be traced."
    else:
        fix = "math and numpy functions need numbers."
    return (
        f"physics function {name!r} cannot be traced with SymPy symbols{where}: {exc}. {fix} "
        f"Inside a physics function use + - * / ** and skneuralode.physics ({_SUPPORTED})."
    )


def _check_output(out, n_states: int, name: str) -> list[sympy.Expr]:
    if isinstance(out, np.ndarray):
        out = list(out.ravel())
    if isinstance(out, sympy.Basic | str) or not isinstance(out, Sequence):
        raise TypeError(
            f"physics function {name!r} must return a list of n_states={n_states} "
            f"derivatives; got {type(out).__name__}. Return [dx0_dt, ...]."
        )
    if len(out) != n_states:
        raise ValueError(
            f"physics function {name!r} must return n_states={n_states} derivatives; "
            f"got {len(out)}."
        )
    rates = []
    for i, item in enumerate(out):
        try:
            rates.append(sympy.sympify(item, strict=True))
        except sympy.SympifyError:
            raise TypeError(
                f"physics function {name!r}: derivative {i} is {type(item).__name__} "
                f"{item!r}; expected a number or an expression of x, u, p and nn."
            ) from None
    return rates


def _check_tree(expr: sympy.Expr, symbols: set, where: str) -> None:
    """Raise unless every node of ``expr`` is one the numpy and Pyomo forms know."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Symbol:
            if node not in symbols:
                raise ValueError(
                    f"{where} uses the symbol {node}, which is none of x, u, p, nn. "
                    "Use the arguments the function receives."
                )
        elif node.is_Number or node in (sympy.zoo, sympy.oo, -sympy.oo, sympy.nan):
            if not node.is_finite:
                raise ValueError(f"{where} contains the non-finite constant {node}.")
        elif not (node.is_NumberSymbol or node.is_Add or node.is_Mul or node.is_Pow):
            if type(node) not in _NODES:
                raise TypeError(
                    f"{where} uses {type(node).__name__}, which is not supported. "
                    f"The supported functions are those of skneuralode.physics: {_SUPPORTED}."
                )


# ----------------------------------------------------------------------- Physics
class _Derivatives(NamedTuple):
    """Structure and numpy code of the first and second derivatives."""

    jac_rows: np.ndarray  # (nnz_J,) output i of each structural nonzero of df/dw
    jac_cols: np.ndarray  # (nnz_J,) variable j
    hess_rows: np.ndarray  # (nnz_H,) row j >= col k of the contracted Hessian
    hess_cols: np.ndarray  # (nnz_H,)
    term_output: np.ndarray  # (n_terms,) output i of each nonzero d2 f_i / dw_j dw_k
    term_slot: np.ndarray  # (n_terms,) its entry in (hess_rows, hess_cols)
    value: Callable
    jacobian: Callable
    hessian: Callable


@dataclass(frozen=True)
class Physics:
    """A traced physics function: expressions, exact derivatives, Pyomo form.

    Build it with :func:`trace_physics`. Arrays of points: ``X`` ``(n, n_states)``,
    ``U`` ``(n, n_inputs)`` (None if there are none), ``P`` ``(n_params,)`` shared by all
    points or ``(n, n_params)``, or a mapping keyed by ``param_names``, and ``NN``
    ``(n, n_network)`` (None if there are none).

    Attributes
    ----------
    name : str
        The traced function's ``__qualname__`` (for messages).
    n_states, n_inputs, n_network : int
        Sizes of ``x``, ``u`` and ``nn``.
    param_names : tuple of str
        Names of the physical parameters, in the order of ``p`` in ``w``.
    rates : tuple of str
        ``sympy.srepr`` of each ``dx_i/dt`` (symbols ``x_i``, ``u_i``, ``p_i``, ``nn_i``).
    """

    name: str
    n_states: int
    n_inputs: int
    param_names: tuple[str, ...]
    n_network: int
    rates: tuple[str, ...]

    def __reduce__(self):
        # fields only: the SymPy trees and numpy code cached in __dict__ are rebuilt lazily
        return (type(self), tuple(getattr(self, f.name) for f in fields(self)))

    # ------------------------------------------------------------ the variables
    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @property
    def n_w(self) -> int:
        """Length of ``w = (x, u, p, nn)``."""
        return self.n_states + self.n_inputs + self.n_params + self.n_network

    @property
    def groups(self) -> dict[str, slice]:
        """Where ``x``, ``u``, ``p`` and ``nn`` sit in ``w``."""
        ends = np.cumsum([0, self.n_states, self.n_inputs, self.n_params, self.n_network])
        return {g: slice(int(a), int(b)) for g, a, b in zip(("x", "u", "p", "nn"), ends, ends[1:])}

    @functools.cached_property
    def symbols(self) -> tuple[sympy.Symbol, ...]:
        """The SymPy symbols of ``w``."""
        sizes = (self.n_states, self.n_inputs, self.n_params, self.n_network)
        return sum((_symbols(g, n) for g, n in zip(("x", "u", "p", "nn"), sizes)), ())

    @functools.cached_property
    def expressions(self) -> tuple[sympy.Expr, ...]:
        """``dx_i/dt`` as SymPy expressions of :attr:`symbols`."""
        return tuple(eval(s, {"__builtins__": {}}, _SREPR_NAMESPACE) for s in self.rates)

    def formulas(self) -> list[str]:
        """``dx[i]/dt = ...`` with the user's names (``x[0]``, ``p["k1"]``, ``nn[0]``)."""
        return [f"dx[{i}]/dt = {self._display(e)}" for i, e in enumerate(self.expressions)]

    def _display(self, expr) -> str:
        labels = [f"x[{i}]" for i in range(self.n_states)]
        labels += [f"u[{i}]" for i in range(self.n_inputs)]
        labels += [f'p["{n}"]' for n in self.param_names]
        labels += [f"nn[{i}]" for i in range(self.n_network)]
        return sympy.sstr(expr.xreplace(dict(zip(self.symbols, map(sympy.Symbol, labels)))))

    # ------------------------------------------------------------ derivatives
    @functools.cached_property
    def _derivatives(self) -> _Derivatives:
        w, index = self.symbols, {s: j for j, s in enumerate(self.symbols)}
        jac, jac_rows, jac_cols = [], [], []
        hess, term_output, term_pair = [], [], []
        for i, f in enumerate(self.expressions):
            for j in sorted(index[s] for s in f.free_symbols):
                d = sympy.diff(f, w[j])
                if d == 0:
                    continue
                jac.append(d)
                jac_rows.append(i)
                jac_cols.append(j)
                for k in sorted(index[s] for s in d.free_symbols if index[s] <= j):
                    d2 = sympy.diff(d, w[k])
                    if d2 != 0:
                        hess.append(d2)
                        term_output.append(i)
                        term_pair.append((j, k))
        pairs = sorted(set(term_pair))
        slot = {pair: n for n, pair in enumerate(pairs)}
        code = functools.partial(sympy.lambdify, w, modules=_LAMBDIFY_MODULES, cse=True)
        return _Derivatives(
            np.array(jac_rows, dtype=np.intp),
            np.array(jac_cols, dtype=np.intp),
            np.array([j for j, _ in pairs], dtype=np.intp),
            np.array([k for _, k in pairs], dtype=np.intp),
            np.array(term_output, dtype=np.intp),
            np.array([slot[pair] for pair in term_pair], dtype=np.intp),
            code(list(self.expressions)),
            code(jac),
            code(hess),
        )

    @property
    def jacobian_structure(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)``: output ``i`` and variable ``j`` of each nonzero ``df_i/dw_j``."""
        d = self._derivatives
        return d.jac_rows, d.jac_cols

    @property
    def hessian_structure(self) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)``, ``rows >= cols``: the lower triangle where the Hessian of
        ``sum_i v_i f_i`` over ``w`` can be nonzero (for any ``v``)."""
        d = self._derivatives
        return d.hess_rows, d.hess_cols

    # ------------------------------------------------------------ evaluation
    def value(self, X, U, P, NN) -> np.ndarray:
        """``f(w)`` at every point, shape ``(n, n_states)``."""
        n, columns = self._columns(X, U, P, NN)
        return _fill(self._derivatives.value, columns, n, self.n_states)

    def value_at(self, w) -> list:
        """``f(w)`` at one point, ``w`` the flat ``(x, u, p, nn)`` numbers (no checks: for
        loops that call it many times)."""
        return list(self._derivatives.value(*w))

    def jacobian_values(self, X, U, P, NN) -> np.ndarray:
        """The nonzeros of :attr:`jacobian_structure` at every point, ``(n, nnz_J)``."""
        n, columns = self._columns(X, U, P, NN)
        return _fill(self._derivatives.jacobian, columns, n, len(self._derivatives.jac_rows))

    def jacobian(self, X, U, P, NN) -> np.ndarray:
        """``df_i/dw_j`` at every point, shape ``(n, n_states, n_w)``."""
        values = self.jacobian_values(X, U, P, NN)
        rows, cols = self.jacobian_structure
        out = np.zeros((values.shape[0], self.n_states, self.n_w))
        out[:, rows, cols] = values
        return out

    def hessian_values(self, X, U, P, NN, V) -> np.ndarray:
        """The nonzeros of :attr:`hessian_structure` of ``sum_i V[:, i] f_i``, ``(n, nnz_H)``."""
        n, columns = self._columns(X, U, P, NN)
        V = _as_points("V", V, self.n_states, n)
        d = self._derivatives
        terms = _fill(d.hessian, columns, n, len(d.term_output))
        out = np.zeros((n, len(d.hess_rows)))
        np.add.at(out, (slice(None), d.term_slot), V[:, d.term_output] * terms)
        return out

    def hessian(self, X, U, P, NN, V) -> np.ndarray:
        """Hessian of ``sum_i V[:, i] f_i`` over ``w`` at every point, ``(n, n_w, n_w)``."""
        values = self.hessian_values(X, U, P, NN, V)
        rows, cols = self.hessian_structure
        out = np.zeros((values.shape[0], self.n_w, self.n_w))
        out[:, rows, cols] = values
        out[:, cols, rows] = values
        return out

    def _columns(self, X, U, P, NN) -> tuple[int, list]:
        """The arguments of the numpy code: one contiguous (n,) column per entry of ``w``
        (a scalar for a parameter shared by all points)."""
        X = _as_points("X", X, self.n_states, None)
        n = X.shape[0]
        U = _as_points("U", U, self.n_inputs, n)
        NN = _as_points("NN", NN, self.n_network, n)
        P = self._params(P, n)
        columns = [*np.ascontiguousarray(X.T), *np.ascontiguousarray(U.T)]
        columns += list(np.ascontiguousarray(P.T)) if P.ndim == 2 else list(P)
        return n, columns + list(np.ascontiguousarray(NN.T))

    def _params(self, P, n: int) -> np.ndarray:
        if isinstance(P, Mapping):
            missing = [k for k in self.param_names if k not in P]
            if missing:
                raise ValueError(f"P has no value for the physical parameter {missing[0]!r}.")
            P = [P[k] for k in self.param_names]
        P = np.asarray(P if P is not None else [], dtype=float)
        if P.shape not in ((self.n_params,), (n, self.n_params)):
            raise ValueError(
                f"P must have shape ({self.n_params},) or (n_points, {self.n_params}) "
                f"for the parameters {self.param_names}; got {P.shape}."
            )
        return P

    # ------------------------------------------------------------ checks and Pyomo
    def check_finite(self, X, U, P, NN=None) -> None:
        """Raise a ValueError naming the first rate, then the first derivative, that is not
        finite at a point (e.g. ``sqrt`` of a negative level, or its slope at zero).

        ``NN`` defaults to zeros (the network's outputs at the start, if not given).
        """
        X = _as_points("X", X, self.n_states, None)
        NN = np.zeros((len(X), self.n_network)) if NN is None else NN
        with np.errstate(all="ignore"):
            values = self.value(X, U, P, NN)
            jac = self.jacobian_values(X, U, P, NN)
        rows, cols = self.jacobian_structure
        bad = np.argwhere(~np.isfinite(values))
        if len(bad):
            point, i = bad[0]
            rate = f"dx[{i}]/dt = {self._display(self.expressions[i])}"
            self._raise_not_finite(rate, values[point, i], point, X, U, P, NN)
        bad = np.argwhere(~np.isfinite(jac))
        if len(bad):
            point, e = bad[0]
            slope = f"d(dx[{rows[e]}]/dt)/d{self._display(self.symbols[cols[e]])}"
            self._raise_not_finite(slope, jac[point, e], point, X, U, P, NN)

    def _raise_not_finite(self, what: str, value, point: int, X, U, P, NN):
        U = _as_points("U", U, self.n_inputs, len(X))
        p = self._params(P, len(X))
        p = p[point] if p.ndim == 2 else p
        at = (
            f"x={X[point].tolist()}, u={U[point].tolist()}, "
            f"p={dict(zip(self.param_names, p.tolist()))}, nn={np.asarray(NN)[point].tolist()}"
        )
        raise ValueError(
            f"physics function {self.name!r} is not finite at the starting point: {what} "
            f"is {value} at point {point} ({at}). Start the states and parameters where the "
            "physics and its derivatives are defined (e.g. a positive level under sqrt), "
            "or bound them."
        )

    def pyomo_expressions(self, x, u, p, nn) -> list:
        """The rates as Pyomo expressions of the given components or numbers.

        Parameters
        ----------
        x : sequence of length n_states
            Pyomo variables or expressions (or numbers) for the states; a dict or an
            indexed Pyomo component is read by its values, in order.
        u : sequence of length n_inputs
            Numbers or Pyomo components for the inputs.
        p : mapping keyed by param_names (a dict, a Pyomo Var indexed by the names), or
            sequence in their order
            Pyomo variables (or numbers) for the physical parameters.
        nn : sequence of length n_network
            Pyomo expressions of the network's outputs.
        """
        leaves = self._leaves(x, u, p, nn, "pyomo_expressions")
        return [_walk(expr, leaves, "pyomo") for expr in self.expressions]

    def casadi_expressions(self, x, u, p, nn) -> list:
        """The rates as CasADi expressions: as :meth:`pyomo_expressions`, with CasADi
        scalars (``SX``/``MX`` entries) or numbers for ``x``, ``u``, ``p`` and ``nn``."""
        leaves = self._leaves(x, u, p, nn, "casadi_expressions")
        return [_walk(expr, leaves, "casadi") for expr in self.expressions]

    def _leaves(self, x, u, p, nn, where: str) -> dict:
        """SymPy symbol -> the given entry, each group checked for its length."""
        if isinstance(p, Mapping) or hasattr(p, "keys"):  # a dict or an indexed Pyomo Var
            p = [p[k] for k in self.param_names]
        leaves = []
        for label, given, n in (
            ("x", x, self.n_states),
            ("u", u, self.n_inputs),
            ("p", p, self.n_params),
            ("nn", nn, self.n_network),
        ):
            given = _entries(given)
            if len(given) != n:
                raise ValueError(f"{where}: {label} must have {n} entries; got {len(given)}.")
            leaves += given
        return dict(zip(self.symbols, leaves))


def _entries(given) -> list:
    """A sequence, a dict or an indexed Pyomo component (by its values) as a list."""
    if given is None:
        return []
    return list(given.values()) if hasattr(given, "values") else list(given)


def _as_points(label: str, A, width: int, n: int | None) -> np.ndarray:
    """``A`` as a float array ``(n, width)``; None stands for no columns."""
    if A is None and width == 0:
        return np.empty((n or 0, 0))
    A = np.asarray(A, dtype=float)
    if A.ndim != 2 or A.shape[1] != width or (n is not None and A.shape[0] != n):
        expected = f"({'n_points' if n is None else n}, {width})"
        raise ValueError(f"{label} must have shape {expected}; got {A.shape}.")
    return A


def _fill(code: Callable, columns: list, n: int, width: int) -> np.ndarray:
    """Run lambdified ``code`` on the columns; constants broadcast to all ``n`` points."""
    out = np.empty((n, width))
    if width:
        for k, value in enumerate(code(*columns)):
            out[:, k] = value
    return out


def _walk(expr, leaves: dict, form: str):
    """Walk a checked SymPy tree (see :func:`_check_tree`) into an expression of the
    ``leaves`` with the ``form`` (``"pyomo"`` or ``"casadi"``) of each function of
    :data:`FUNCTIONS`; ``+ * **`` are the leaves' own operators."""
    if expr.is_Symbol:
        return leaves[expr]
    if expr.is_Integer:
        return int(expr)
    if expr.is_Number or expr.is_NumberSymbol:
        return float(expr)
    args = [_walk(a, leaves, form) for a in expr.args]
    if expr.is_Add:
        return functools.reduce(operator.add, args)
    if expr.is_Mul:
        return functools.reduce(operator.mul, args)
    if expr.is_Pow:
        if expr.exp == sympy.S.Half:
            return getattr(FUNCTIONS["sqrt"], form)(args[0])
        return args[0] ** args[1]
    if type(expr) in _NODES:
        return getattr(FUNCTIONS[_NODES[type(expr)]], form)(*args)
    raise TypeError(f"{type(expr).__name__} has no {form} form; supported: {_SUPPORTED}.")
