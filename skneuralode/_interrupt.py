"""Ctrl-C while IPOPT runs: stop at the next iteration and keep the iterate.

A ``KeyboardInterrupt`` raised inside an IPOPT evaluation callback is swallowed by
cyipopt (IPOPT then carries on with an unfilled Hessian), so the default SIGINT
behaviour silently changes the result. While a solve runs, :class:`SolveInterrupt`
replaces it, as scikit-learn's ``MLPRegressor`` does for its own loop:

- the first SIGINT only records the request; the solve's per-iteration callback then
  asks IPOPT to stop (IPOPT's ``User_Requested_Stop``: status ``"userInterrupt"``) and
  the fit keeps the last iterate with a warning;
- a second SIGINT restores the previous handler and raises ``KeyboardInterrupt`` at
  once (and again from the next per-iteration callback, in case cyipopt swallowed it);
  a third is the previous handler's.

Signal handlers can only be installed from the main thread; elsewhere (threads, Dask
workers) the context does nothing and SIGINT keeps its usual meaning.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable


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

    def __enter__(self) -> SolveInterrupt:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.getsignal(signal.SIGINT)
            signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        self._restore()

    def _restore(self) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.requested:
            self.forced = True
            self._restore()
            raise KeyboardInterrupt
        self.requested = True
        if self.on_request is not None:
            self.on_request()

    def keep_going(self) -> bool:
        """For IPOPT's per-iteration callback: ``False`` once a stop was requested.

        Raises ``KeyboardInterrupt`` after a second SIGINT.
        """
        if self.forced:
            raise KeyboardInterrupt
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
