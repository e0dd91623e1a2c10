"""SIGTERM, a second Ctrl-C and an ignored SIGINT: what a fit leaves behind and raises.

Each signal goes to a fit running in a subprocess, sent only once the child has printed
that the fit is in the state under test; every wait is generous (a shared machine may
take many seconds to start a Python process).
"""

import glob
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from skneuralode import CollocationNeuralODE, _child, _interrupt, _ipopt_c
from skneuralode._engines import numpy as _numpy_engine
from skneuralode.datasets import van_der_pol

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not os.path.isdir("/proc"), reason="POSIX signals and /proc"
)

WAIT = 120.0  # seconds a child may take to start, reach a state or end


def _start(code: str, tmp_path, *args) -> subprocess.Popen:
    """Run ``code`` in a child whose temporary files (tempfile's and joblib's) go to
    ``tmp_path/tmp``."""
    scratch = tmp_path / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(scratch), "JOBLIB_TEMP_FOLDER": str(scratch)}
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_signals,
    )


def _default_signals() -> None:
    """In the child before it starts: SIGINT and SIGTERM unblocked and at their default
    action, whatever the test process inherited or set (a blocked or ignored signal is
    passed on to a child)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT, signal.SIGTERM])
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_line(proc: subprocess.Popen, prefix: str) -> str:
    for line in proc.stdout:
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise AssertionError(f"the child ended before printing {prefix!r}: {proc.stderr.read()}")


def _all_ended(pids, timeout=WAIT) -> bool:
    """Whether every process of ``pids`` has ended (or is a zombie) within ``timeout``."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if not any(_interrupt._alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def _kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# ------------------------------------------------------------------------- SIGTERM

ADMM_CHILD = """
    import os, sys, time, warnings
    from skneuralode import ADMMNeuralODE, CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    def hold(row):  # after the first ADMM iteration: the workers are up, wait for SIGTERM
        print("FITTING", flush=True)
        time.sleep(600)

    t, X = van_der_pol(40, (0, 6))
    warnings.simplefilter("ignore")
    est = CollocationNeuralODE(width=4, depth=1, degree=2, random_state=0)
    ADMMNeuralODE(est, n_batches=2, n_jobs=2, max_iter=5, init="estimator",
                  callback=hold).fit(t, X)
    print("ENDED", flush=True)
"""


def test_sigterm_during_an_admm_fit_leaves_no_worker_and_no_temporary_folder(tmp_path):
    """loky's workers used to live on for minutes after the parent died (until their idle
    timeout), holding loky's resource trackers; the batch files stayed."""
    proc = _start(ADMM_CHILD, tmp_path)
    started = []
    try:
        _wait_for_line(proc, "FITTING")
        started = _interrupt.descendants(proc.pid)
        workers = [p for p in started if "popen_loky" in _interrupt._command(p)]
        assert len(workers) == 2, [_interrupt._command(p) for p in started]
        assert glob.glob(str(tmp_path / "tmp" / "skneuralode-admm-*"))
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=WAIT)
        assert proc.returncode == -signal.SIGTERM  # SIGTERM's default outcome
        assert _all_ended(started), [_interrupt._command(p) for p in started]
        assert list((tmp_path / "tmp").iterdir()) == []  # batch files, joblib's folders
    finally:
        proc.kill()
        _kill_all(started)


def test_an_admm_fit_uses_one_worker_pool(tmp_path, monkeypatch):
    """joblib gives every ``Parallel`` a memory-mapping folder that stays until the
    process ends; a ``Parallel`` per iteration left one per iteration."""
    import tempfile

    from skneuralode import ADMMNeuralODE

    def folders() -> int:
        name = f"joblib_memmapping_folder_{os.getpid()}_*"
        places = ("/dev/shm", tempfile.gettempdir(), os.environ.get("JOBLIB_TEMP_FOLDER", ""))
        return len({p for place in places if place for p in glob.glob(f"{place}/{name}")})

    t, X = van_der_pol(40, (0, 6))
    est = CollocationNeuralODE(width=4, depth=1, degree=2, random_state=0)
    admm = ADMMNeuralODE(est, n_batches=2, n_jobs=2, max_iter=4, init="estimator", tol=1e-12)
    before = folders()
    with pytest.warns(Warning):
        admm.fit(t, X)
    assert admm.n_iter_ == 4
    assert folders() - before <= 1
    assert not hasattr(admm, "_parallel")


EXECUTABLE_CHILD = """
    import subprocess, sys
    from pyomo.common.tempfiles import TempfileManager
    from skneuralode._engines import pyomo as engine

    def run(model, options, tee):  # an `ipopt` that solves until stopped
        nl = f"{TempfileManager.tempdir}/model.nl"
        open(nl, "w").close()
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", nl])
        print(f"SOLVING {child.pid} {TempfileManager.tempdir}", flush=True)
        child.wait()

    engine._run_executable = run
    engine._solve_executable(None, {}, False)
"""


def test_sigterm_during_an_executable_solve_stops_ipopt_and_removes_its_files(tmp_path):
    """The `ipopt` child used to keep solving after this process ended, and the folder
    with its NL file stayed."""
    proc = _start(EXECUTABLE_CHILD, tmp_path)
    child = None
    try:
        child, folder = _wait_for_line(proc, "SOLVING ").split()
        child = int(child)
        assert os.path.isdir(folder) and _interrupt._alive(child)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=WAIT)
        assert proc.returncode == -signal.SIGTERM
        assert _all_ended([child])
        assert not os.path.exists(folder)
    finally:
        proc.kill()
        if child is not None:
            _kill_all([child])


FAKE_IPOPT = os.path.join(os.path.dirname(__file__), "fake_ipopt", "fake_ipopt.py")

FAKE_CHILD = """
    import sys, warnings
    from skneuralode import CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    t, X = van_der_pol(40, (0, 6))
    warnings.simplefilter("ignore")
    CollocationNeuralODE(width=6, depth=2, degree=2, random_state=0, tol=1e-30,
                         max_iter=100_000, solver="executable").fit(t, X)
"""


def test_sigterm_stops_the_fake_ipopt_executable(tmp_path):
    """The same through Pyomo and the AMPL-protocol fake of ``tests/fake_ipopt`` (its
    iterations are IPOPT's, in another process; it writes a file at the first one)."""
    from skneuralode import _solver

    if not _solver.available_solvers()["pynumero"][0]:
        pytest.skip("the fake ipopt needs Pyomo's PyNumero ASL library")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "ipopt"
    exe.write_text(
        '#!/bin/sh\nif [ "$1" = "-v" ]; then echo "Ipopt 3.14.11 (fake), ASL(20190605)"; '
        f'exit 0; fi\nexec "{sys.executable}" "{FAKE_IPOPT}" "$@"\n'
    )
    exe.chmod(0o755)
    iterating = tmp_path / "iterating"
    os.environ["FAKE_IPOPT_ITERATING"] = str(iterating)
    path = os.environ["PATH"]
    os.environ["PATH"] = f"{bin_dir}{os.pathsep}{path}"
    try:
        proc = _start(FAKE_CHILD, tmp_path)
    finally:
        os.environ["PATH"] = path
        del os.environ["FAKE_IPOPT_ITERATING"]
    started = []
    try:
        end = time.monotonic() + WAIT
        while not iterating.exists() and time.monotonic() < end and proc.poll() is None:
            time.sleep(0.05)
        assert iterating.exists(), proc.communicate(timeout=WAIT)[1]
        started = _interrupt.descendants(proc.pid)
        assert any("fake_ipopt" in _interrupt._command(p) for p in started)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=WAIT)
        assert proc.returncode == -signal.SIGTERM
        assert _all_ended(started), [_interrupt._command(p) for p in started]
        # ours is gone (the fake's own scratch folder, ended by SIGTERM, is not ours)
        assert not glob.glob(str(tmp_path / "tmp" / "skneuralode-*"))
    finally:
        proc.kill()
        _kill_all(started)


def test_on_sigterm_cleans_up_and_keeps_a_programs_own_handler():
    ran = []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    with _interrupt.on_sigterm(lambda: ran.append(1)):
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        with _interrupt.on_sigterm(lambda: ran.append(2)):  # nested: both clean up
            assert signal.getsignal(signal.SIGTERM) is not handler
        assert signal.getsignal(signal.SIGTERM) is handler
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL

    def own(signum, frame):
        ran.append("own")

    previous = signal.signal(signal.SIGTERM, own)
    try:
        with _interrupt.on_sigterm(lambda: ran.append(3)):
            assert signal.getsignal(signal.SIGTERM) is own  # left alone
            signal.raise_signal(signal.SIGTERM)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert ran == ["own"]


# -------------------------------------------------------------------------- SIGINT

#: The end of a child script: fit ``model`` and print how the fit ended.
FIT_AND_REPORT = """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(t, X)
        print("RESULT " + model.solver_status_, flush=True)
    except KeyboardInterrupt:
        print("RESULT KeyboardInterrupt " + str(hasattr(model, "coefs_")), flush=True)
"""

DOUBLE_CHILD = (
    """
    import json, signal, sys, warnings
    from skneuralode import CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    def hold(info):  # at iteration 5, wait for the first SIGINT
        if info.iteration == 5:
            print("SOLVING", flush=True)
            signal.pause()

    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(width=6, depth=2, degree=2, random_state=0, max_iter=10_000,
                                 tol=1e-30, callback=hold, engine=sys.argv[1])
"""
    + FIT_AND_REPORT
)


@pytest.mark.parametrize("gap", [0.02, 0.2])
def test_two_sigints_close_together_raise_keyboard_interrupt(tmp_path, gap):
    """The first stops IPOPT at once (this small problem's iterations take about a
    millisecond); the second, 20 ms later, used to arrive after the fit had returned, or
    to land while IPOPT's problem was freed (a double free: the process aborted)."""
    proc = _start(DOUBLE_CHILD, tmp_path, "numpy")
    try:
        _wait_for_line(proc, "SOLVING")
        proc.send_signal(signal.SIGINT)
        time.sleep(gap)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "RESULT KeyboardInterrupt False" in out, (out, err)


def test_a_problem_is_freed_once_even_if_ctrl_c_lands_as_it_is_freed():
    """A KeyboardInterrupt raised as ``FreeIpoptProblem`` returns (a signal handler runs
    there) left the handle for ``__del__`` to free a second time."""
    freed = []

    class Library:
        def FreeIpoptProblem(self, handle):
            freed.append(handle)
            if len(freed) == 1:
                raise KeyboardInterrupt

    problem = object.__new__(_ipopt_c.Problem)
    problem._lib, problem._handle = Library(), 12345
    with pytest.raises(KeyboardInterrupt):
        problem.close()
    problem.close()  # what __del__ does
    assert freed == [12345]


def test_an_ignored_sigint_stays_ignored_during_a_fit(monkeypatch):
    """A process started with SIGINT ignored (nohup, a background job) used to become
    interruptible while IPOPT ran."""
    original, calls = _numpy_engine.NumpyNLP.hessian, []

    def hessian(self, *args):
        calls.append(signal.getsignal(signal.SIGINT))
        if len(calls) == 5:
            signal.raise_signal(signal.SIGINT)  # ignored: the fit goes on
        return original(self, *args)

    monkeypatch.setattr(_numpy_engine.NumpyNLP, "hessian", hessian)
    t, X = van_der_pol(40, (0, 6))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        model = CollocationNeuralODE(
            width=6, depth=1, degree=2, random_state=0, max_iter=15, tol=1e-30
        )
        with pytest.warns(Warning):
            model.fit(t, X)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
    assert model.solver_status_ != "userInterrupt"
    assert model.n_iter_ == 15
    assert all(handler is signal.SIG_IGN for handler in calls)


def test_solve_interrupt_keeps_a_second_sigint_for_after_the_solve():
    with pytest.raises(KeyboardInterrupt):
        with _interrupt.SolveInterrupt() as interrupt:
            signal.raise_signal(signal.SIGINT)
            assert not interrupt.keep_going()
            signal.raise_signal(signal.SIGINT)  # not raised here (IPOPT's callback)
            assert interrupt.forced
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    start = time.monotonic()
    with _interrupt.SolveInterrupt() as interrupt:
        signal.raise_signal(signal.SIGINT)
    assert interrupt.requested and not interrupt.forced
    # a single Ctrl-C: the solve returns after the grace for a second one
    assert time.monotonic() - start >= _interrupt.SECOND_SIGINT_GRACE


# ----------------------------------------- with max_time: IPOPT in a child process
# (``_child``): the child is stopped with its parent, and Ctrl-C stays the parent's.

STUCK_CHILD = (
    """
    import os, sys, time, warnings
    from skneuralode import CollocationNeuralODE
    from skneuralode._engines import numpy as engine
    from skneuralode.datasets import van_der_pol

    original, calls = engine.NumpyNLP.hessian, []

    def hessian(self, *args):  # runs in IPOPT's process: the fit's child
        calls.append(1)
        if len(calls) == 3:  # stuck as in a long factorization
            print("STUCK", os.getpid(), flush=True)
            time.sleep(600)
        return original(self, *args)

    engine.NumpyNLP.hessian = hessian
    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(width=6, degree=2, random_state=0, max_time=float(sys.argv[1]))
"""
    + FIT_AND_REPORT
)

needs_fork = pytest.mark.skipif(not _child.available(), reason="solves in a child: Linux")


def _stuck(tmp_path, max_time=600.0):
    proc = _start(STUCK_CHILD, tmp_path, str(max_time))
    child = int(_wait_for_line(proc, "STUCK"))
    assert _interrupt.child_processes(proc.pid) == [child]
    return proc, child


@needs_fork
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_solving_child_ends_with_its_parent(tmp_path, sig):
    """SIGTERM: the parent stops its child and ends; SIGKILL (nothing of the parent
    runs): the kernel stops the child (``PR_SET_PDEATHSIG``)."""
    proc, child = _stuck(tmp_path)
    try:
        proc.send_signal(sig)
        proc.wait(timeout=WAIT)
        assert proc.returncode == -sig
        assert _all_ended([child])
    finally:
        _kill_all([proc.pid, child])


@needs_fork
def test_two_sigints_stop_a_stuck_child_at_once(tmp_path):
    """The child is in one long call (a factorization): the first Ctrl-C waits for the
    next iteration, the second stops the child and raises KeyboardInterrupt."""
    proc, child = _stuck(tmp_path)
    try:
        start = time.monotonic()
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
        assert time.monotonic() - start < 60.0  # not the child's 600 s
        assert proc.returncode == 0, err
        assert "RESULT KeyboardInterrupt False" in out, (out, err)
        assert _all_ended([child], timeout=5.0)
    finally:
        _kill_all([proc.pid, child])


ENDLESS_WITH_LIMIT = """
    import sys, warnings
    from skneuralode import CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    def hold(info):
        if info.iteration == 3:
            print("SOLVING", flush=True)
        return True

    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(width=6, depth=2, degree=2, random_state=0, max_iter=10_000,
                                 tol=1e-30, max_time=600.0, callback=hold)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(t, X)
    print("RESULT", model.solver_status_, model.n_iter_ > 3, flush=True)
"""


@needs_fork
def test_a_terminals_ctrl_c_reaches_parent_and_child_and_stops_the_fit_once(tmp_path):
    """A terminal sends SIGINT to the whole foreground process group: the child ignores
    it, the parent asks IPOPT to stop at its next iteration; the fit keeps the iterate."""
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(ENDLESS_WITH_LIMIT)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        preexec_fn=lambda: (_default_signals(), os.setpgid(0, 0)),
    )  # fmt: skip
    try:
        _wait_for_line(proc, "SOLVING")
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=WAIT)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert "RESULT userInterrupt True" in out, (out, err)
