"""Ctrl-C while IPOPT runs: stop at the next iteration and keep the iterate.

A ``KeyboardInterrupt`` raised inside an IPOPT evaluation callback is swallowed by
cyipopt (IPOPT then carries on with an unfilled Hessian), so the default SIGINT
behaviour silently changes the result. While a solve runs, :class:`SolveInterrupt`
replaces it, as scikit-learn's ``MLPRegressor`` does for its own loop:

- the first SIGINT only records the request; the solve's per-iteration callback then
  asks IPOPT to stop (IPOPT's ``User_Requested_Stop``: status ``"userInterrupt"``) and
  the fit keeps the last iterate with a warning;
- a second SIGINT restores the previous handler and asks IPOPT to stop too; when the
  solve has returned, the context raises ``KeyboardInterrupt`` (no model is stored). It
  is not raised from inside the signal handler: there it would land in an IPOPT
  callback (cyipopt swallows it) or in the middle of freeing IPOPT's problem (a double
  free crashed the process). A second SIGINT counts until :data:`SECOND_SIGINT_GRACE`
  seconds after the first even if IPOPT stopped sooner (a small problem stops within a
  millisecond, long before a second key press), so "Ctrl-C twice" always raises;
- a third is the previous handler's (Python's: ``KeyboardInterrupt`` at once).

A process that ignores SIGINT (``signal.SIG_IGN``: started by ``nohup`` or as a
background job of a non-interactive shell) keeps ignoring it: the context installs
nothing then. Signal handlers can only be installed from the main thread; elsewhere
(threads, Dask workers) the context does nothing and SIGINT keeps its usual meaning.

SIGTERM (:func:`on_sigterm`): during an ADMM fit and an ``ipopt`` executable's solve,
a handler removes what the process would otherwise leave behind (worker processes,
the ``ipopt`` child, temporary folders) and then lets SIGTERM's default action end the
process (exit status -15, as without the handler).
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable

#: Seconds after a first SIGINT during which a second one still raises
#: ``KeyboardInterrupt``, even if IPOPT already stopped (``SolveInterrupt``).
SECOND_SIGINT_GRACE = 0.5


class SolveInterrupt:
    """Context manager: SIGINT requests a clean stop of the solve running inside it.

    ``on_request`` (optional) runs in the signal handler on the first SIGINT, e.g. to
    forward the signal to an ``ipopt`` child process.
    """

    def __init__(self, on_request: Callable[[], None] | None = None):
        self.on_request = on_request
        self.requested = False
        self.forced = False
        self._previous = None
        self._first = None  # time.monotonic() of the first SIGINT

    def __enter__(self) -> SolveInterrupt:
        if threading.current_thread() is not threading.main_thread():
            return self
        previous = signal.getsignal(signal.SIGINT)
        if previous is signal.SIG_IGN or previous is None:
            return self  # ignored on purpose (nohup, background job), or not from Python
        self._previous = previous
        signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, exc_type, *exc) -> None:
        try:
            if exc_type is None and self.requested and not self.forced:
                self._await_second()
        finally:
            self._restore()
        if self.forced and exc_type is None:
            raise KeyboardInterrupt

    def _await_second(self) -> None:
        """Wait until ``SECOND_SIGINT_GRACE`` seconds after the first SIGINT (no wait if
        IPOPT took longer than that to stop), or until a second SIGINT."""
        end = self._first + SECOND_SIGINT_GRACE
        while not self.forced and time.monotonic() < end:
            time.sleep(min(0.01, max(end - time.monotonic(), 0.0)))

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.forced = True
            self._restore()
            return
        self.requested = True
        self._first = time.monotonic()
        if self.on_request is not None:
            self.on_request()

    def keep_going(self) -> bool:
        """For IPOPT's per-iteration callback: ``False`` once a stop was requested (the
        context raises ``KeyboardInterrupt`` on leaving after a second SIGINT)."""
        return not self.requested


def child_processes(pid: int | None = None) -> list[int]:
    """Process ids whose parent is ``pid`` (default: this process), from ``/proc``.

    Used to forward SIGINT to an ``ipopt`` executable that Pyomo runs as a child;
    empty where ``/proc`` does not exist (a terminal's Ctrl-C reaches the child there
    anyway, as it signals the whole foreground process group).
    """
    pid = os.getpid() if pid is None else pid
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


def forward_sigint_to_children() -> None:
    """Send SIGINT to this process's children (an ``ipopt`` run by Pyomo): IPOPT's
    AMPL executable then stops at its next iteration and writes its iterate."""
    for child in child_processes():
        try:
            os.kill(child, signal.SIGINT)
        except OSError:
            pass


# ------------------------------------------------------------------------- SIGTERM


@contextlib.contextmanager
def on_sigterm(cleanup: Callable[[], None]):
    """While inside, SIGTERM runs ``cleanup`` and then ends the process as SIGTERM's
    default action does (exit status -15); the previous handler is restored on leaving.

    Only where SIGTERM has its default action, or is handled by an outer ``on_sigterm``
    (whose cleanup then runs after this one's): a program's own SIGTERM handler, or
    SIGTERM ignored, is left alone. Only in the main thread (signal handlers can only be
    installed there); elsewhere the context does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    if previous is not signal.SIG_DFL and not getattr(previous, "_skneuralode", False):
        yield
        return

    def handle(signum, frame):
        signal.signal(signal.SIGTERM, previous)
        try:
            cleanup()
        finally:
            if previous is signal.SIG_DFL:
                signal.raise_signal(signal.SIGTERM)  # the default action: the process ends
            else:
                previous(signum, frame)

    handle._skneuralode = True
    signal.signal(signal.SIGTERM, handle)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGTERM) is handle:
            signal.signal(signal.SIGTERM, previous)


def descendants(pid: int | None = None) -> list[int]:
    """Process ids below ``pid`` (default: this process), deepest first."""
    found = []
    for child in child_processes(pid):
        found.extend(descendants(child))
        found.append(child)
    return found


def _command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting for its parent to read its status, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :][:1] not in ("Z", "X")


def stop_processes(pids: list[int], wait: float = 5.0) -> None:
    """Send SIGTERM to ``pids``, wait up to ``wait`` seconds for them to end (they may
    clean up: a worker in an ``ipopt`` solve stops its own child), then SIGKILL the rest
    and whatever they started."""
    for pid in pids:
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + wait
    while any(_alive(pid) for pid in pids) and time.monotonic() < end:
        time.sleep(0.02)
    for pid in pids:
        if _alive(pid):
            for victim in [*descendants(pid), pid]:
                with contextlib.suppress(OSError):
                    os.kill(victim, signal.SIGKILL)


def stop_loky_workers() -> None:
    """Stop this process's loky worker processes (joblib's default process backend),
    without loky's own shutdown, whose locks the interrupted main thread may hold.

    loky's resource trackers are left to end by themselves: they do, and remove the
    folders registered with them, once every process that writes to them has ended.
    """
    workers = [p for p in child_processes() if "loky.backend.popen_loky" in _command(p)]
    stop_processes(workers)


def stop_children(mark: str) -> None:
    """Send SIGTERM to this process's children whose command line holds ``mark`` (the
    ``ipopt`` executable Pyomo runs on an NL file in a folder of ours), then SIGKILL any
    still running after five seconds."""
    stop_processes([p for p in child_processes() if mark in _command(p)])
