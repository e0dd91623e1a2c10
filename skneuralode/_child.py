"""IPOPT in a forked child process, so that ``max_time`` can stop a solve anywhere.

IPOPT checks its wall-time limit at the start of each iteration, and the numpy engine
refuses every evaluation asked for after the deadline (``_engines.numpy._Timed``), but a
MUMPS factorization of the KKT matrix is C code that takes no callback: on a large
problem one iteration's factorizations can run far past the limit (4 000 samples at
``depth=2``: 28 s of factorizations in iteration 0 at ``max_time=15``). A thread cannot
be stopped there either. A process can: with a deadline, :func:`run` forks, the child
runs the solve, and the parent

- receives every IPOPT iteration's report and iterate, runs the progress lines and the
  user's callback itself and answers whether the child goes on (so ``verbose=1``, the
  callback, Ctrl-C and ``record`` behave as in one process);
- stops the child (SIGKILL) if it is still running :data:`KILL_GRACE` seconds after the
  deadline, and keeps the last iterate it received (the start if none): the same result
  the in-process deadline gives, only on time;
- re-emits the warnings the child's evaluations raised, and raises its exceptions.

The child computes exactly what the parent would have: the same IPOPT on the same
callbacks from the same memory image, so results are bit-identical to an in-process
solve. It ignores SIGINT (the parent owns Ctrl-C: a terminal signals both, and the
parent answers "stop" at the next iteration; a second Ctrl-C stops the child at once),
takes SIGTERM's default action, and dies with its parent (``PR_SET_PDEATHSIG``).

Only where ``os.fork`` is safe to use for this: Linux. Elsewhere, and with
``SKNEURALODE_SOLVE_IN_CHILD=0``, the solve runs in the calling process and a
factorization that started before the deadline runs to its end.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import signal
import sys
import time
import warnings
from collections.abc import Callable
from multiprocessing.connection import Pipe

#: Seconds after the deadline at which a child still solving is stopped. The child stops
#: by itself at its first evaluation past the deadline; this is for a factorization.
KILL_GRACE = 0.5

#: The message of a solve whose child was stopped at the deadline (status -4).
KILLED_MESSAGE = (
    f"Maximum wall time exceeded (IPOPT's process was stopped {KILL_GRACE} s after "
    "max_time, in a linear solve)."
)

#: Seconds between the parent's checks of the deadline and of a second Ctrl-C.
_POLL = 0.05

_ENV = "SKNEURALODE_SOLVE_IN_CHILD"

#: The registry of the child's warnings re-emitted here (``"default"`` filters show
#: each once, as for a warning raised in this process).
_REGISTRY: dict = {}


def available() -> bool:
    """Whether :func:`run` forks: on Linux, unless ``SKNEURALODE_SOLVE_IN_CHILD=0``."""
    return (
        sys.platform.startswith("linux")
        and hasattr(os, "fork")
        and os.environ.get(_ENV, "1").strip() != "0"
    )


class Killed(Exception):
    """The deadline passed and the child was stopped; ``eval_time``: the seconds its
    evaluations took up to its last report."""

    def __init__(self, eval_time: float):
        super().__init__("stopped at the deadline")
        self.eval_time = eval_time


def run(
    work: Callable[[Callable], tuple],
    on_iteration: Callable[[tuple, object], bool],
    deadline: float | None = None,
    interrupt=None,
) -> tuple:
    """Run ``work(report)`` and return what it returns: in a forked child when there is a
    ``deadline`` (``time.perf_counter()``) and :func:`available`, else in this process.

    ``work`` gets ``report(args, x, eval_time) -> bool`` to call at every IPOPT
    iteration (IPOPT's per-iteration arguments, the current iterate, the seconds spent
    evaluating so far); each call is answered by ``on_iteration(args, x)`` run in this
    process. ``work``'s return value (picklable) comes back; an exception it raises is
    raised here. Raises :class:`Killed` when the child was still running
    :data:`KILL_GRACE` seconds after ``deadline``, or when ``interrupt`` (a
    ``_interrupt.SolveInterrupt``) saw a second Ctrl-C.
    """
    from ._interrupt import on_sigterm

    def here(args, x, seconds) -> bool:
        return on_iteration(args, x)

    if deadline is None or not available():
        return work(here)
    parent, child = Pipe(duplex=True)
    sys.stdout.flush()
    sys.stderr.flush()
    flush_c_stdio()  # what C code buffered would otherwise be written twice
    ppid = os.getpid()
    with warnings.catch_warnings():
        # Python >= 3.12 warns that a child forked from a multi-threaded process may find
        # a lock held by a thread it does not have. The child only runs IPOPT and numpy
        # (glibc's malloc and OpenBLAS prepare for fork) and talks through its own pipe.
        warnings.filterwarnings("ignore", r".*multi-threaded.*fork", DeprecationWarning)
        try:
            pid = os.fork()
        except OSError as err:  # e.g. ENOMEM under strict overcommit, a process limit
            parent.close()
            child.close()
            warnings.warn(
                f"max_time: could not start a process for IPOPT ({err}); IPOPT runs in "
                "this process, where a factorization that starts before the limit runs "
                "to its end.",
                RuntimeWarning,
                stacklevel=4,
            )
            return work(here)
    if pid == 0:  # pragma: no cover - runs in the child (tested through its effects)
        parent.close()
        _child_main(child, work, ppid)
    child.close()
    try:
        with on_sigterm(lambda: _kill(pid)):
            outcome = _serve(parent, pid, on_iteration, deadline, interrupt)
    except BaseException:
        _kill(pid)
        raise
    finally:
        parent.close()
    _reap(pid)
    return outcome


def _serve(conn, pid, on_iteration, deadline, interrupt) -> tuple:
    limit, eval_time = deadline + KILL_GRACE, 0.0
    while True:
        if interrupt is not None and interrupt.forced:
            raise Killed(eval_time)
        wait = min(_POLL, limit - time.perf_counter())
        if wait <= 0:
            raise Killed(eval_time)
        if not conn.poll(wait):
            continue
        try:
            kind, *payload = conn.recv()
        except (EOFError, OSError):
            raise RuntimeError(_death(pid)) from None
        if kind == "iteration":
            args, x, eval_time = payload
            conn.send(bool(on_iteration(args, x)))
            continue
        caught, outcome = payload
        for message, category, filename, lineno in caught:
            warnings.warn_explicit(message, category, filename, lineno, registry=_REGISTRY)
        if kind == "error":
            raise outcome
        return outcome


def _child_main(conn, work, ppid: int) -> None:  # pragma: no cover - runs in the child
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _die_with_parent(ppid)

        def report(args, x, eval_time) -> bool:
            conn.send(("iteration", args, x, eval_time))
            return conn.recv()

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                outcome, kind = work(report), "done"
            except Exception as exc:  # sent to the parent, which raises it
                outcome, kind = _picklable(exc), "error"
        _flush()  # before answering: the parent may stop this process once it has the answer
        conn.send((kind, [_warning_args(w) for w in caught], outcome))
    except BaseException:
        code = 1
    finally:
        _flush()
        os._exit(code)


def _flush() -> None:  # pragma: no cover - runs in the child
    """IPOPT's journal (``verbose=2``) is C stdio, which ``os._exit`` would drop."""
    with contextlib.suppress(BaseException):
        flush_c_stdio()
        sys.stdout.flush()
        sys.stderr.flush()


def _warning_args(w) -> tuple:
    return (str(w.message), w.category, w.filename, w.lineno)


def _picklable(exc: Exception) -> Exception:
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:
        return RuntimeError(f"{type(exc).__name__}: {exc}")


def _death(pid: int) -> str:
    """Why the child ended without an answer. It stays to be reaped by :func:`_kill`
    (``WNOWAIT``): a reaped process id could be another process's by then."""
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)
    except ChildProcessError:
        info = None
    if info is None:
        return "IPOPT's child process ended without an answer"
    if info.si_code in (os.CLD_KILLED, os.CLD_DUMPED):
        sig = info.si_status
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        hint = (
            " (SIGKILL from outside: often the kernel's out-of-memory killer; reduce "
            "`width`, `depth` or the samples, or fit with ADMMNeuralODE)"
            if sig == signal.SIGKILL
            else ""
        )
        return f"IPOPT's child process was ended by signal {name}{hint}"
    return f"IPOPT's child process exited with status {info.si_status} without an answer"


def _kill(pid: int) -> None:
    """Stop the child if it still runs, and reap it."""
    with contextlib.suppress(OSError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, 0)


def _reap(pid: int, wait: float = 10.0) -> None:
    """Wait for a child that has answered to exit (it only flushes its output), then
    stop it if it has not."""
    end = time.monotonic() + wait
    while time.monotonic() < end:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.001)
    _kill(pid)


def _die_with_parent(ppid: int) -> None:  # pragma: no cover - runs in the child
    """SIGKILL this process when its parent dies (Linux ``prctl(PR_SET_PDEATHSIG)``)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != ppid:  # the parent died before prctl
        os._exit(1)


def flush_c_stdio() -> None:
    """Write out what C code (IPOPT's journal) holds in its stdio buffers."""
    with contextlib.suppress(OSError, AttributeError, TypeError):  # no C library handle
        ctypes.CDLL(None).fflush(None)
