"""Ctrl-C and time limits: a fit stops at the next IPOPT iteration and keeps its iterate.

The SIGINT is sent to a fit running in a subprocess (as a terminal's Ctrl-C would be), and,
in-process, raised from inside IPOPT's evaluation callbacks, where cyipopt would swallow
a ``KeyboardInterrupt``.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from sklearn.exceptions import ConvergenceWarning

from skneuralode import CollocationNeuralODE, _interrupt, _solver
from skneuralode._engines import numpy as _numpy_engine
from skneuralode.datasets import van_der_pol

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# A small fit that IPOPT cannot finish quickly (tol far below round-off, no "acceptable"
# exit): the in-process tests below stop it at its ~5th iteration, synchronously; left
# alone it ends by itself after 100-odd iterations (1-2 s, status "infeasible"), so a
# test must never rely on it still running at a given time.
ENDLESS = dict(
    width=6, depth=2, degree=2, tol=1e-30, max_iter=100_000, random_state=0,
    solver_options={"acceptable_tol": 1e-30, "acceptable_iter": 1000},
)  # fmt: skip

# The fit holds at its 20th iteration (in the per-iteration callback) until a signal
# arrives, so the signal always lands while IPOPT runs, however slow the machine.
CHILD = textwrap.dedent(
    """
    import json, signal, sys, warnings
    import numpy as np
    from skneuralode import CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    def hold(info):
        if info.iteration == 20:
            print("SOLVING", flush=True)
            signal.pause()  # returns once a signal handler has run

    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(callback=hold, **json.loads(sys.argv[1]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(t, X)
    pred = model.predict(t, model.initial_states_[0])
    print("RESULT " + json.dumps({
        "status": model.solver_status_,
        "n_iter": model.n_iter_,
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
        "finite": bool(np.all(np.isfinite(pred))),
    }), flush=True)
    """
)


def test_sigint_to_a_fitting_process_stops_ipopt_and_keeps_the_iterate():
    """The reproducer of the issue: SIGINT while IPOPT iterates used to be swallowed."""
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(ENDLESS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for line in proc.stdout:  # wait until the fit holds at iteration 20
            if line.startswith("SOLVING"):
                proc.send_signal(signal.SIGINT)
                break
        out, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    result = json.loads(out.split("RESULT ", 1)[1])
    assert result["status"] == "userInterrupt"
    assert result["n_iter"] == 20  # stopped right after the iteration that held
    assert result["finite"]
    assert any(
        w.startswith("ConvergenceWarning: fit was interrupted (Ctrl-C)")
        for w in result["warnings"]
    )


def _raise_sigint_in(monkeypatch, cls, method: str, at_call: int, times: int) -> None:
    """Make ``cls.method`` send ``times`` SIGINTs to this process on its ``at_call``-th call
    (inside IPOPT's evaluation callbacks, where a KeyboardInterrupt would be swallowed)."""
    original, calls = getattr(cls, method), []

    def wrapped(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == at_call:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(cls, method, wrapped)


def test_first_sigint_in_a_callback_stops_at_the_next_iteration(monkeypatch):
    t, X = van_der_pol(40, (0, 6))
    _raise_sigint_in(monkeypatch, _numpy_engine.NumpyNLP, "hessian", at_call=5, times=1)
    with pytest.warns(ConvergenceWarning, match=r"interrupted \(Ctrl-C\) after \d+ IPOPT"):
        model = CollocationNeuralODE(engine="numpy", **ENDLESS).fit(t, X)
    assert model.solver_status_ == "userInterrupt" and not model.converged_
    assert 4 <= model.n_iter_ <= 6
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_second_sigint_raises_keyboard_interrupt(monkeypatch):
    t, X = van_der_pol(40, (0, 6))
    _raise_sigint_in(monkeypatch, _numpy_engine.NumpyNLP, "hessian", at_call=5, times=2)
    model = CollocationNeuralODE(engine="numpy", **ENDLESS)
    with pytest.raises(KeyboardInterrupt):
        model.fit(t, X)
    assert not hasattr(model, "coefs_")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_through_pynumero_stops_at_the_next_iteration(monkeypatch):
    if not _solver.available_solvers()["pynumero"][0]:
        pytest.skip("needs Pyomo's PyNumero ASL library")
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    t, X = van_der_pol(40, (0, 6))
    _raise_sigint_in(monkeypatch, PyomoNLP, "evaluate_hessian_lag", at_call=5, times=1)
    with pytest.warns(ConvergenceWarning, match="interrupted"):
        model = CollocationNeuralODE(engine="pyomo", solver="pynumero", **ENDLESS).fit(t, X)
    assert model.solver_status_ == "userInterrupt"
    assert 4 <= model.n_iter_ <= 6


def test_interrupt_context_outside_the_main_thread_changes_nothing():
    import threading

    seen = []

    def run():
        with _interrupt.SolveInterrupt() as interrupt:
            seen.append((signal.getsignal(signal.SIGINT), interrupt.keep_going()))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [(signal.default_int_handler, True)]


def test_child_processes_lists_a_running_child():
    if not os.path.isdir("/proc"):
        pytest.skip("needs /proc")
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert child.pid in _interrupt.child_processes()
    finally:
        child.kill()
        child.wait()


def test_max_time_bounds_the_whole_fit():
    """A fit that takes ten seconds or more here, limited to 1.5 s of wall-clock time."""
    t, X = van_der_pol(1000, (0, 100), noise=0.05, random_state=0)
    start = time.perf_counter()
    with pytest.warns(ConvergenceWarning, match="`max_time` or `max_cpu_time`"):
        model = CollocationNeuralODE(width=32, max_time=1.5, smoothing="none", random_state=0)
        model.fit(t, X)
    elapsed = time.perf_counter() - start
    assert model.solver_status_ == "maxTimeLimit" and not model.converged_
    # IPOPT's max_wall_time is what is left of max_time after building; generous margin
    # for the discretization check and a loaded machine.
    assert elapsed < 1.5 + 30.0
    assert model.fit_time_ <= elapsed


def test_max_time_spent_before_ipopt_starts_is_a_timeout_error():
    """Time used up before IPOPT starts: no model to keep (``tests/test_limits.py``)."""
    t, X = van_der_pol(40, (0, 6))
    with pytest.raises(TimeoutError, match="max_time ran out while validating the data"):
        CollocationNeuralODE(max_time=1e-9, **ENDLESS).fit(t, X)


def test_time_limited_keeps_a_tighter_user_limit():
    deadline = time.perf_counter() + 100.0
    assert _solver.time_limited({"max_wall_time": 5.0}, deadline)["max_wall_time"] == 5.0
    assert 90.0 < _solver.time_limited({}, deadline)["max_wall_time"] <= 100.0
    assert _solver.time_limited({}, time.perf_counter() - 1)["max_wall_time"] == 1e-3
    assert _solver.time_limited({"tol": 1.0}, None) == {"tol": 1.0}
