"""Size and time limits of a fit: the up-front memory estimate, ``max_time`` between the
phases of ``fit`` and inside IPOPT's evaluations, the subsampled cross-validation of the
smoothing spline."""

import os
import signal
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from skneuralode import CollocationNeuralODE, _child, _estimator, _init, _interrupt, _limits
from skneuralode._engines import numpy as numpy_engine
from skneuralode._solver import available_solvers
from skneuralode.datasets import van_der_pol
from skneuralode.exceptions import SolverError


def _slow(function, seconds):
    def call(*args, **kwargs):
        time.sleep(seconds)
        return function(*args, **kwargs)

    return call


# ------------------------------------------------------------------- memory


def test_a_too_large_network_is_refused_before_anything_is_built(monkeypatch):
    """The issue's ``width=20000`` used to end in a bare MemoryError (or IPOPT's crash
    after reaching 6 GB); now the estimate is compared with the memory available first."""
    monkeypatch.setattr(_limits, "available_memory", lambda: 2**30)
    monkeypatch.delenv(_limits.MEMORY_CHECK_ENV, raising=False)
    t, X = van_der_pol(40, (0, 6))
    start = time.perf_counter()
    model = CollocationNeuralODE(width=5000, random_state=0)
    with pytest.raises(MemoryError, match=r"needs about [\d.]+ GiB .* and 1.00 GiB is avail"):
        model.fit(t, X)
    assert time.perf_counter() - start < 5.0  # refused, not attempted
    with pytest.raises(MemoryError, match=r"Reduce `width` or `depth`.*ADMMNeuralODE"):
        model.fit(t, X)
    with pytest.raises(MemoryError, match="SKNEURALODE_MEMORY_CHECK=0"):
        model.fit(t, X)
    with pytest.raises(AttributeError):
        check_is_fitted(model, "coefs_")


def test_the_memory_check_can_be_turned_off(monkeypatch):
    monkeypatch.setattr(_limits, "available_memory", lambda: 2**20)
    spec = CollocationNeuralODE()
    with pytest.raises(MemoryError):
        _limits.check_memory([40], 2, 0, spec)
    monkeypatch.setenv(_limits.MEMORY_CHECK_ENV, "0")
    assert _limits.check_memory([40], 2, 0, spec) == _limits.estimate_memory([40], 2, 0, spec)


@pytest.mark.parametrize(
    ("samples", "states", "inputs", "params", "most_gib"),
    [
        ([200], 2, 1, dict(scheme="chebyshev"), 0.2),  # the paper's case (with its forcing)
        ([10_000], 2, 0, dict(width=32), 4.0),  # 10 000 samples, width 32: measured 1.9 GiB
        ([500], 1, 1, dict(width=16, n_latent=1), 0.2),  # the two-tank examples
    ],
)
def test_ordinary_fits_are_estimated_well_below_a_laptops_memory(
    samples, states, inputs, params, most_gib
):
    spec = CollocationNeuralODE(**params)
    assert _limits.estimate_memory(samples, states, inputs, spec) < most_gib * 2**30


def test_the_estimate_grows_with_states_times_parameters():
    small = _limits.estimate_memory([200], 10, 0, CollocationNeuralODE())
    large = _limits.estimate_memory([200], 50, 0, CollocationNeuralODE())
    assert large > 20 * small  # 50 states: 5x the states and 5x the parameters
    assert large > 6 * 2**30  # the 50 states x 200 samples reached 6 GB


def test_available_memory_respects_a_cgroup_limit(tmp_path, monkeypatch):
    (tmp_path / "meminfo").write_text("MemTotal: 8000000 kB\nMemAvailable: 4000000 kB\n")
    (tmp_path / "memory.max").write_text("1073741824\n")
    (tmp_path / "memory.current").write_text("536870912\n")
    monkeypatch.setattr(_limits, "MEMINFO", str(tmp_path / "meminfo"))
    monkeypatch.setattr(_limits, "CGROUP", str(tmp_path))
    assert _limits.available_memory() == 2**29  # the cgroup's 512 MiB left, not 3.8 GiB
    (tmp_path / "memory.max").write_text("max\n")
    assert _limits.available_memory() == 4_000_000 * 1024


# --------------------------------------------------------- max_time, phases


@pytest.mark.parametrize(
    ("target", "phase"),
    [("fit_scaling", "smoothing the data"), ("build_problem", "building the NLP")],
)
def test_max_time_spent_before_ipopt_raises_a_timeout_that_names_the_phase(
    target, phase, monkeypatch
):
    """4 000 samples at max_time=3 used to take 6.6 s and return the initial point as a
    model: the time went to smoothing, and IPOPT got 1 ms."""
    monkeypatch.setattr(_estimator, target, _slow(getattr(_estimator, target), 1.5))
    t, X = van_der_pol(40, (0, 6))
    smoothing = "auto" if target == "fit_scaling" else "none"
    model = CollocationNeuralODE(width=8, degree=2, max_time=1.0, smoothing=smoothing)
    with pytest.raises(TimeoutError, match=f"max_time ran out while {phase} .* no fitted model"):
        model.fit(t, X)
    with pytest.raises(AttributeError):
        check_is_fitted(model, "coefs_")


def test_a_timeout_before_ipopt_leaves_the_previous_fit_in_place(monkeypatch):
    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(width=8, degree=2, random_state=0).fit(t, X)
    coefs = [c.copy() for c in model.coefs_]
    monkeypatch.setattr(_estimator, "fit_scaling", _slow(_estimator.fit_scaling, 1.5))
    with pytest.raises(TimeoutError, match="Raise `max_time`, or set `smoothing`"):
        model.set_params(max_time=1.0).fit(t, X)
    assert all(np.array_equal(a, b) for a, b in zip(coefs, model.coefs_))


def test_a_timeout_in_the_engines_structures_names_that_phase(monkeypatch):
    cls = numpy_engine.NumpyNLP
    monkeypatch.setattr(cls, "__init__", _slow(cls.__init__, 1.5))
    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(width=8, degree=2, max_time=1.0, smoothing="none")
    with pytest.raises(TimeoutError, match="while building the engine's structures"):
        model.fit(t, X)


# ------------------------------------------------ max_time inside an iteration


def test_max_time_stops_ipopt_at_its_next_evaluation(monkeypatch):
    """One IPOPT iteration of 18 s used to overrun max_time=4 by 24 s: IPOPT checks its
    wall time only between iterations. Every evaluation is slowed here, and none may
    start after the deadline; the fit keeps the last accepted iterate. (In this process:
    the evaluations' start times are recorded here.)"""
    monkeypatch.setenv("SKNEURALODE_SOLVE_IN_CHILD", "0")
    starts = []
    for name in ("objective", "gradient", "constraints", "jacobian", "hessian"):
        method = getattr(numpy_engine.NumpyNLP, name)

        def call(self, *args, _method=method, _pause=0.3 if name == "hessian" else 0.02):
            starts.append(time.perf_counter())
            time.sleep(_pause)
            return _method(self, *args)

        monkeypatch.setattr(numpy_engine.NumpyNLP, name, call)
    t, X = van_der_pol(40, (0, 6))
    max_time = 1.0
    before = time.perf_counter()
    model = CollocationNeuralODE(width=8, degree=2, max_time=max_time, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_time"):
        model.fit(t, X)
    assert model.solver_status_ == "maxTimeLimit"
    assert max(starts) <= before + max_time + 0.01  # no evaluation after the deadline
    assert np.all(np.isfinite(model.predict(t, X[0])))


# -------------------------------------- max_time inside a linear solve: a child process
# A MUMPS factorization takes no callback: 4 000 samples at depth=2 spent 28 s in
# iteration 0's factorizations at max_time=15. With a deadline the solve runs in a forked
# child that is stopped shortly after it. A long evaluation stands in for the
# factorization here: both are one call that started before the deadline.

needs_fork = pytest.mark.skipif(not _child.available(), reason="solves in a child: Linux")


def _stuck_after(monkeypatch, calls, seconds=600.0):
    """From its ``calls``-th call on, the Hessian takes ``seconds`` (in whichever process
    IPOPT runs)."""
    count = [0]
    method = numpy_engine.NumpyNLP.hessian

    def hessian(self, *args):
        count[0] += 1
        if count[0] >= calls:
            time.sleep(seconds)
        return method(self, *args)

    monkeypatch.setattr(numpy_engine.NumpyNLP, "hessian", hessian)


@needs_fork
def test_max_time_stops_a_solve_stuck_in_one_long_call(monkeypatch):
    """In one process this fit would take 600 s (the call started before the deadline
    and runs to its end); the child is stopped ``KILL_GRACE`` after the deadline and the
    fit keeps the last iterate IPOPT reported, with status maxTimeLimit."""
    monkeypatch.delenv("SKNEURALODE_SOLVE_IN_CHILD", raising=False)
    _stuck_after(monkeypatch, calls=4)
    t, X = van_der_pol(40, (0, 6))
    max_time = 3.0
    children = set(_interrupt.child_processes())  # e.g. loky workers of earlier tests
    before = time.perf_counter()
    model = CollocationNeuralODE(width=8, degree=2, max_time=max_time, random_state=0)
    with pytest.warns(ConvergenceWarning, match="max_time"):
        model.fit(t, X)
    took = time.perf_counter() - before
    assert max_time + _child.KILL_GRACE <= took < max_time + 30.0  # not 600 s
    assert model.solver_status_ == "maxTimeLimit"
    assert "stopped 0.5 s after max_time" in model.solver_message_
    assert model.n_iter_ == 3  # iterations 0 to 3 reported, then iteration 3's Hessian hangs
    assert np.all(np.isfinite(model.predict(t, X[0])))
    assert set(_interrupt.child_processes()) <= children  # stopped and reaped


@needs_fork
def test_a_solve_in_the_child_gives_the_same_model_as_in_this_process(monkeypatch):
    t, X = van_der_pol(60, (0, 8), noise=0.02)
    fits = {}
    for where in ("1", "0"):
        monkeypatch.setenv("SKNEURALODE_SOLVE_IN_CHILD", where)
        model = CollocationNeuralODE(width=8, degree=2, max_time=600.0, random_state=0)
        fits[where] = model.fit(t, X)
    child, here = fits["1"], fits["0"]
    assert child.solver_status_ == here.solver_status_ == "optimal"
    assert child.n_iter_ == here.n_iter_
    for a, b in zip(child.coefs_ + child.intercepts_, here.coefs_ + here.intercepts_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(child.predict(t, X[0]), here.predict(t, X[0]))


@needs_fork
def test_the_child_answers_to_the_callback_verbose_and_warnings_of_this_process(
    monkeypatch, capsys
):
    """The callback runs here (it may stop IPOPT), the compact lines are printed here,
    a warning raised in an evaluation is raised here, an error is the fit's error."""
    monkeypatch.delenv("SKNEURALODE_SOLVE_IN_CHILD", raising=False)
    seen = []
    t, X = van_der_pol(40, (0, 6))

    def callback(info):
        seen.append((os.getpid(), info.iteration))
        return info.iteration < 3

    model = CollocationNeuralODE(width=8, degree=2, max_time=600.0, random_state=0,
                                 verbose=1, callback=callback)  # fmt: skip
    with pytest.warns(ConvergenceWarning, match="stopped by `callback` after 3"):
        model.fit(t, X)
    assert seen == [(os.getpid(), i) for i in range(4)]
    assert model.solver_status_ == "userInterrupt" and model.n_iter_ == 3
    assert "IPOPT stopped (userInterrupt) after 3 iterations" in capsys.readouterr().out

    method = numpy_engine.NumpyNLP.objective

    def objective(self, x):
        warnings.warn("an evaluation's warning", RuntimeWarning, stacklevel=1)
        return method(self, x)

    monkeypatch.setattr(numpy_engine.NumpyNLP, "objective", objective)
    with pytest.warns(RuntimeWarning, match="an evaluation's warning"):
        CollocationNeuralODE(width=8, degree=2, max_time=600.0).fit(t, X)

    def jacobian(self, x):
        raise ValueError("the Jacobian failed")

    monkeypatch.setattr(numpy_engine.NumpyNLP, "jacobian", jacobian)
    with pytest.raises(SolverError, match=r"crashed: the Jacobian failed"):
        CollocationNeuralODE(width=8, degree=2, max_time=600.0).fit(t, X)


@needs_fork
def test_ipopts_own_log_from_the_child_is_written_once(monkeypatch, capfd):
    """``verbose=2`` with ``max_time``: IPOPT's log, written by the child to the fit's
    file descriptor 1 (a file here), arrives whole and once, and what this process had
    written before the fork is not repeated."""
    monkeypatch.delenv("SKNEURALODE_SOLVE_IN_CHILD", raising=False)
    t, X = van_der_pol(40, (0, 6))
    print("before the fit", end="\n", flush=False)
    CollocationNeuralODE(width=8, degree=2, max_time=600.0, verbose=2).fit(t, X)
    out = capfd.readouterr().out
    assert out.count("before the fit") == 1
    assert out.count("This is Ipopt version") == 1
    assert out.count("EXIT: Optimal Solution Found.") == 1


@needs_fork
def test_a_child_killed_from_outside_is_a_solver_error_that_suspects_memory(monkeypatch):
    monkeypatch.delenv("SKNEURALODE_SOLVE_IN_CHILD", raising=False)
    method = numpy_engine.NumpyNLP.hessian

    def hessian(self, *args):
        os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does
        return method(self, *args)

    monkeypatch.setattr(numpy_engine.NumpyNLP, "hessian", hessian)
    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(width=8, degree=2, max_time=600.0, random_state=0)
    with pytest.raises(SolverError, match=r"ended by signal SIGKILL .*out-of-memory"):
        model.fit(t, X)
    with pytest.raises(AttributeError):
        check_is_fitted(model, "coefs_")


@needs_fork
def test_without_a_child_process_the_solve_runs_here_with_a_warning(monkeypatch):
    """fork can fail (no memory to commit under strict overcommit, a process limit)."""

    def no_fork():
        raise OSError(12, "Cannot allocate memory")

    monkeypatch.delenv("SKNEURALODE_SOLVE_IN_CHILD", raising=False)
    monkeypatch.setattr(_child.os, "fork", no_fork)
    t, X = van_der_pol(40, (0, 6))
    with pytest.warns(RuntimeWarning, match=r"could not start a process for IPOPT .*Cannot"):
        model = CollocationNeuralODE(width=8, degree=2, max_time=600.0, random_state=0)
        model.fit(t, X)
    assert model.solver_status_ == "optimal"


needs_pynumero = pytest.mark.skipif(
    not available_solvers()["pynumero"][0], reason="the pyomo engine's PyNumero route"
)


@needs_fork
@needs_pynumero
def test_the_pyomo_engine_solves_in_a_child_too(monkeypatch):
    """The same model as in this process; a stuck call is stopped at the deadline."""
    from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP

    t, X = van_der_pol(40, (0, 6))
    params = dict(width=6, degree=2, engine="pyomo", random_state=0)
    fits = {}
    for where in ("1", "0"):
        monkeypatch.setenv("SKNEURALODE_SOLVE_IN_CHILD", where)
        fits[where] = CollocationNeuralODE(max_time=600.0, **params).fit(t, X)
    assert fits["1"].solver_ == "pynumero" and fits["1"].solver_status_ == "optimal"
    assert fits["1"].n_iter_ == fits["0"].n_iter_
    for a, b in zip(fits["1"].coefs_, fits["0"].coefs_):
        np.testing.assert_array_equal(a, b)

    monkeypatch.setenv("SKNEURALODE_SOLVE_IN_CHILD", "1")
    count, method = [0], CyIpoptNLP.hessian

    def hessian(self, *args):
        count[0] += 1
        if count[0] >= 4:
            time.sleep(600.0)
        return method(self, *args)

    monkeypatch.setattr(CyIpoptNLP, "hessian", hessian)
    start = time.perf_counter()
    model = CollocationNeuralODE(max_time=3.0, **params)
    with pytest.warns(ConvergenceWarning, match="max_time"):
        model.fit(t, X)
    assert time.perf_counter() - start < 33.0  # not 600 s
    assert model.solver_status_ == "maxTimeLimit" and model.n_iter_ == 3
    assert "stopped 0.5 s after max_time" in model.solver_message_
    assert np.all(np.isfinite(model.predict(t, X[0])))


# ------------------------------------------------------------------ smoothing


def test_auto_smoothing_cross_validates_a_subsample_of_a_long_trajectory(monkeypatch):
    """1e6 samples used to spend 330 s+ in the spline's cross-validation."""
    sizes = []
    original = _init.make_smoothing_spline

    def spy(x, y, lam=None):
        sizes.append((len(x), lam))
        return original(x, y, lam=lam)

    monkeypatch.setattr(_init, "make_smoothing_spline", spy)
    n = 20 * _init.GCV_SAMPLES
    t = np.linspace(0.0, 50.0, n)
    X = np.sin(t)[:, None] + 0.01 * np.random.default_rng(0).standard_normal((n, 1))
    (spline,) = _init.smooth_trajectory(t, X, "auto")
    assert sizes == [(_init.GCV_SAMPLES + 1, None)]
    assert np.max(np.abs(spline(t) - np.sin(t))) < 0.05  # the whole span, every sample
    sizes.clear()
    _init.smooth_trajectory(t, X, 1e-3)  # a fixed penalty: linear cost, every sample
    unit = np.median(np.diff(t))  # the spline's standardized time unit, penalty converted
    assert [size for size, _ in sizes] == [n]
    assert sizes[0][1] == pytest.approx(1e-3 / unit**3, rel=1e-12)


def test_gcv_subsample_keeps_both_ends():
    assert _init.gcv_subsample(10) == slice(None)
    keep = _init.gcv_subsample(100_001)
    assert keep[0] == 0 and keep[-1] == 100_000 and len(keep) <= _init.GCV_SAMPLES + 1


def test_running_out_of_memory_inside_ipopt_says_what_to_reduce(monkeypatch):
    """Past the estimate (another process took the memory): numpy's MemoryError inside an
    evaluation used to read "IPOPT (cyipopt) crashed: Unable to allocate 391 MiB"."""

    def hessian(self, *args):
        raise MemoryError("Unable to allocate 391. MiB for an array")

    monkeypatch.setattr(numpy_engine.NumpyNLP, "hessian", hessian)
    t, X = van_der_pol(40, (0, 6))
    model = CollocationNeuralODE(width=8, degree=2, smoothing="none")
    with pytest.raises(SolverError, match=r"ran out of memory .*391.*reduce `width`.*ADMM"):
        model.fit(t, X)
