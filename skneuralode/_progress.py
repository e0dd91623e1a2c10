"""Progress of a fit, written from Python: compact tables and the user's ``callback``.

IPOPT's own log (``print_level``) is written by C code to file descriptor 1, below
Python, where ``contextlib.redirect_stdout``, pytest's ``capsys``, notebooks and
``logging`` see nothing. With ``verbose=1`` IPOPT prints nothing (``print_level`` 0) and
:class:`Progress` writes one line per IPOPT iteration from its per-iteration report,
through ``print(..., flush=True)``: ``sys.stdout`` is looked up at each line, so whatever
stands there then receives it. The same report, as an :class:`IterationInfo`, goes to the
estimator's ``callback``; returning ``False`` asks IPOPT to stop, as a first Ctrl-C does
(``_interrupt``), and an exception raised in it is kept, IPOPT is stopped cleanly, and
the exception is raised again when the solve returns (:meth:`Progress.finish`).

Every table (IPOPT's iterations here, ADMM's iterations in ``_admm``) is a tuple of
:class:`Column` formatted by :func:`table_header` and :func:`table_row`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._validation import check_function_pickles


@dataclass(frozen=True)
class IterationInfo:
    """One IPOPT iteration, as IPOPT reports it to its per-iteration callback.

    What ``callback`` of :class:`~skneuralode.CollocationNeuralODE` receives, and what
    ``verbose=1`` prints (one line per iteration, in IPOPT's column names).

    Attributes
    ----------
    iteration : int
        IPOPT's iteration counter; 0 is the initial point.
    objective : float
        The NLP's objective (scaled units: mean squared misfit plus the penalty).
    inf_pr : float
        Primal infeasibility: the largest violation of the collocation equations.
    inf_du : float
        Dual infeasibility: the optimality error of the Lagrangian's gradient.
    mu : float
        The barrier parameter.
    d_norm : float
        The infinity norm of the primal step (IPOPT's ``||d||``).
    regularization : float
        The Hessian regularization ``delta_w`` IPOPT added for this step (0.0: none).
    alpha_du, alpha_pr : float
        The step sizes of the dual and the primal variables.
    ls_trials : int
        Line-search trials of this iteration.
    elapsed : float
        Seconds since ``fit`` started (NaN when not known: the ``"executable"`` route
        reports its iterations after the solve, from IPOPT's log).
    restoration : bool
        Whether IPOPT is in its restoration phase (IPOPT's log marks these iterations
        ``r``; ``inf_du`` is then the restoration problem's).
    """

    iteration: int
    objective: float
    inf_pr: float
    inf_du: float
    mu: float
    d_norm: float
    regularization: float
    alpha_du: float
    alpha_pr: float
    ls_trials: int
    elapsed: float
    restoration: bool = False


# ------------------------------------------------------------------- tables
class Column(NamedTuple):
    """One column of a progress table: its title, width, how a value is written, and the
    spaces before it (none before the first column)."""

    title: str
    width: int
    format: Callable[[object], str]
    gap: int = 2


def number(spec: str) -> Callable[[object], str]:
    """A column format: ``format(value, spec)``, or ``-`` for NaN or None."""

    def write(value) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "-"
        return format(value, spec)

    return write


def log10(spec: str) -> Callable[[object], str]:
    """A column format: ``log10(value)``, or ``-`` when the value is not positive."""
    plain = number(spec)
    return lambda value: plain(math.log10(value)) if value and value > 0 else "-"


def table_header(columns: Sequence[Column]) -> str:
    """The titles of ``columns``, right-aligned to their widths, ``gap`` spaces apart."""
    return _join(columns, [c.title for c in columns])


def table_row(columns: Sequence[Column], values: Sequence) -> str:
    """``values`` written in ``columns``, aligned as :func:`table_header`."""
    return _join(columns, [c.format(v) for c, v in zip(columns, values)])


def _join(columns: Sequence[Column], texts: Sequence[str]) -> str:
    cells = [" " * c.gap * (k > 0) + f"{text:>{c.width}}" for k, (c, text) in
             enumerate(zip(columns, texts))]  # fmt: skip
    return "".join(cells)


def say(text: str) -> None:
    """Write one line of progress to ``sys.stdout`` as it stands now, flushed."""
    print(text, flush=True)


#: The compact IPOPT table (``verbose=1``): IPOPT's own column names, plus the time.
IPOPT_COLUMNS = (
    Column("iter", 5, str),
    Column("objective", 12, number(".6e")),
    Column("inf_pr", 8, number(".2e")),
    Column("inf_du", 8, number(".2e")),
    Column("lg(mu)", 6, log10(".1f")),
    Column("||d||", 8, number(".2e")),
    Column("lg(rg)", 6, log10(".1f")),
    Column("alpha_pr", 8, number(".2e")),
    Column("ls", 2, str),
    Column("time [s]", 8, number(".2f")),
)


def iteration_header() -> str:
    """The header of the compact IPOPT table."""
    return table_header(IPOPT_COLUMNS)


def iteration_line(info: IterationInfo) -> str:
    """One IPOPT iteration in the columns of :func:`iteration_header`."""
    values = (
        f"{info.iteration}{'r' if info.restoration else ''}", info.objective, info.inf_pr,
        info.inf_du, info.mu, info.d_norm, info.regularization, info.alpha_pr,
        info.ls_trials, info.elapsed,
    )  # fmt: skip
    return table_row(IPOPT_COLUMNS, values)


def final_line(status: str, n_iter: int, seconds: float) -> str:
    """The last line of a fit's progress: why IPOPT stopped, after what."""
    return f"IPOPT stopped ({status}) after {n_iter} iterations, {seconds:.2f} s."


#: ADMM's table (``ADMMNeuralODE(verbose=1)``): a row of ``history_``'s latest values.
ADMM_COLUMNS = (
    Column("iter", 4, str),
    Column("primal", 9, number("9.3e")),
    Column("(tol)", 9, number("9.3e"), gap=1),
    Column("dual", 9, number("9.3e")),
    Column("(tol)", 9, number("9.3e"), gap=1),
    Column("rho", 8, number("8.2e")),
    Column("objective", 12, number("12.6e")),
    Column("time [s]", 8, number("8.1f")),
)
#: The ``history_`` keys of :data:`ADMM_COLUMNS` after ``iteration``.
ADMM_KEYS = ("primal_residual", "primal_tolerance", "dual_residual", "dual_tolerance", "rho",
             "objective", "wall_time")  # fmt: skip


def admm_header() -> str:
    """The header of ADMM's table."""
    return table_header(ADMM_COLUMNS)


def admm_line(row: dict) -> str:
    """One ADMM iteration (``iteration`` and ``history_``'s values) in ADMM's table."""
    return table_row(ADMM_COLUMNS, [row["iteration"], *(row[key] for key in ADMM_KEYS)])


# ---------------------------------------------------------------- callbacks
#: ``SolveResult.message`` of a solve that the user's callback stopped.
CALLBACK_STOP = "Stopped because the callback returned False."


def stops(answer) -> bool:
    """Whether a callback's return value asks to stop: ``False`` only (``None``, ``True``
    and anything else continue)."""
    return isinstance(answer, (bool, np.bool_)) and not answer


class Progress:
    """A fit's per-iteration report: compact lines (``lines``) and the user's ``callback``.

    Engines call :meth:`report` with IPOPT's per-iteration arguments and stop IPOPT when
    it returns ``False``; :func:`skneuralode._solver.solve` calls :meth:`finish` with the
    result. ``start``: the ``time.perf_counter()`` of the fit's start (``elapsed``).
    """

    def __init__(self, lines: bool, callback: Callable | None, start: float):
        self.lines = lines
        self.callback = callback
        self.start = start
        self.error: Exception | None = None
        self.stopped = False  # by the callback

    @classmethod
    def of(cls, verbose, callback, start: float) -> Progress | None:
        """The progress of an estimator's ``verbose`` and ``callback``; ``None`` when it
        reports nothing (``verbose`` 0 or >= 2, no callback)."""
        lines = int(verbose) == 1
        return cls(lines, callback, start) if lines or callback is not None else None

    def report(self, alg_mod, it, obj, inf_pr, inf_du, mu, d_norm, reg, a_du, a_pr, ls,
               elapsed: float | None = None) -> bool:  # fmt: skip
        """IPOPT's per-iteration arguments -> whether IPOPT should go on."""
        if self.error is not None:
            return False
        info = IterationInfo(
            int(it), float(obj), float(inf_pr), float(inf_du), float(mu), float(d_norm),
            float(reg), float(a_du), float(a_pr), int(ls),
            time.perf_counter() - self.start if elapsed is None else float(elapsed),
            bool(alg_mod),
        )  # fmt: skip
        if self.lines:
            if info.iteration == 0:
                say(iteration_header())
            say(iteration_line(info))
        if self.callback is None:
            return True
        try:
            self.stopped = stops(self.callback(info))
        except Exception as exc:  # raised again by finish(), once IPOPT has stopped
            self.error = exc
            return False
        return not self.stopped

    def note(self, text: str) -> None:
        """A line between solves (e.g. a second solve), with the compact lines only."""
        if self.lines:
            say(text)

    def finish(self, result) -> None:
        """After the solve: raise the callback's exception, or write the final line."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        if self.stopped and result.status == "userInterrupt":
            result.message = CALLBACK_STOP
        if self.lines:
            say(final_line(result.status, result.n_iter, time.perf_counter() - self.start))


# ----------------------------------------------------------------- pickling
def check_callback_pickles(func) -> None:
    """A clear ``pickle.PicklingError`` for a ``callback`` pickle cannot store (pickling a
    model pickles its parameters, as scikit-learn does)."""
    check_function_pickles(
        func,
        "callback",
        "Set model.callback = None before pickling (the fitted model does not need it), or "
        "define it with def at the top level of a module that the loading side can import.",
    )
