"""Progress of a fit: ``verbose=1`` lines written from Python, ``callback``, ``log_progress``.

IPOPT's own log (``verbose=2``) goes to file descriptor 1 below Python; ``verbose=1`` must
reach ``sys.stdout`` as it stands (``capsys``, ``redirect_stdout``) and nothing below it.
"""

import contextlib
import copy
import io
import logging
import pickle
import re
import signal
import sys

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

from skneuralode import ADMMNeuralODE, CollocationNeuralODE, _solver
from skneuralode._engines import numpy as _numpy_engine
from skneuralode._engines.pyomo import log_iterations
from skneuralode.callbacks import IterationInfo, log_progress
from skneuralode.datasets import van_der_pol

PARAMS = dict(width=8, degree=2, alpha=1e-4, random_state=0)
HEADER = ["iter", "objective", "inf_pr", "inf_du", "lg(mu)", "||d||", "lg(rg)", "alpha_pr",
          "ls", "time", "[s]"]  # fmt: skip
FINAL = r"IPOPT stopped \((\w+)\) after (\d+) iterations, \d+\.\d\d s\."


def _pynumero() -> bool:
    return _solver.available_solvers()["pynumero"][0]


#: Every route with IPOPT's per-iteration callback: the numpy engine's two drivers and
#: the pyomo engine through PyNumero.
ROUTES = [
    pytest.param(({"engine": "numpy"}, "auto"), id="numpy-ctypes"),
    pytest.param(({"engine": "numpy"}, "cyipopt"), id="numpy-cyipopt"),
    pytest.param(
        ({"engine": "pyomo", "solver": "pynumero"}, "auto"), id="pynumero",
        marks=pytest.mark.skipif(not _pynumero(), reason="PyNumero's ASL library is missing"),
    ),
]  # fmt: skip


@pytest.fixture
def route(request, monkeypatch):
    params, driver = request.param
    monkeypatch.setattr(_numpy_engine, "DRIVER", driver)
    return params


@pytest.fixture(scope="module")
def data():
    return van_der_pol(40, (0, 6))


class Recorder:
    """A callback that keeps what it receives; returns ``answer(info)``."""

    def __init__(self, answer=lambda info: None):
        self.infos, self.answer = [], answer

    def __call__(self, info):
        self.infos.append(info)
        return self.answer(info)


def _table(out: str) -> tuple[list[str], list[list[str]], str]:
    """(header fields, iteration rows' fields, final line) of verbose=1 output."""
    lines = out.splitlines()
    return lines[0].split(), [line.split() for line in lines[1:-1]], lines[-1]


# ------------------------------------------------------------------ verbose=1
def test_verbose_1_prints_a_compact_table_through_sys_stdout(data, capsys):
    model = CollocationNeuralODE(verbose=1, store_iterates=True, **PARAMS).fit(*data)
    header, rows, final = _table(capsys.readouterr().out)
    assert header == HEADER
    assert [row[0] for row in rows] == [str(k) for k in range(model.n_iter_ + 1)]
    objectives = [float(row[1]) for row in rows]
    np.testing.assert_allclose(objectives, model.iterate_objectives_, rtol=1e-6)
    times = [float(row[-1]) for row in rows]
    assert times == sorted(times) and times[-1] <= model.fit_time_
    assert re.fullmatch(FINAL, final).groups() == ("optimal", str(model.n_iter_))


def test_verbose_1_is_captured_by_redirect_stdout_and_nothing_reaches_fd_1(data, capfd):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        model = CollocationNeuralODE(verbose=1, **PARAMS).fit(*data)
    assert capfd.readouterr().out == ""  # no IPOPT banner, no line below Python
    header, rows, final = _table(buffer.getvalue())
    assert header == HEADER and len(rows) == model.n_iter_ + 1
    assert re.fullmatch(FINAL, final)


def test_verbose_2_is_ipopts_own_log_on_fd_1(data, capfd):
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        CollocationNeuralODE(verbose=2, **PARAMS).fit(*data)
    assert buffer.getvalue() == ""  # nothing from Python
    out = capfd.readouterr().out
    assert "This is Ipopt version" in out and "EXIT: Optimal Solution Found." in out
    assert "time [s]" not in out and "IPOPT stopped" not in out


def test_verbose_0_prints_nothing(data, capfd):
    CollocationNeuralODE(**PARAMS).fit(*data)
    assert capfd.readouterr().out == ""


# ------------------------------------------------------------------ callback
@pytest.mark.parametrize("route", ROUTES, indirect=True)
def test_callback_sees_every_iteration(data, route):
    seen = Recorder()
    model = CollocationNeuralODE(callback=seen, store_iterates=True, **route, **PARAMS)
    model.fit(*data)
    assert model.converged_
    assert [info.iteration for info in seen.infos] == list(range(model.n_iter_ + 1))
    assert all(isinstance(info, IterationInfo) for info in seen.infos)
    np.testing.assert_array_equal(
        [info.objective for info in seen.infos], model.iterate_objectives_
    )
    elapsed = [info.elapsed for info in seen.infos]
    assert elapsed == sorted(elapsed) and 0 < elapsed[-1] <= model.fit_time_
    np.testing.assert_allclose(elapsed, model.iterate_times_, atol=0.05)
    last = seen.infos[-1]
    assert last.inf_pr <= 1e-6 and 0 < last.mu < 1e-4 and not last.restoration
    with pytest.raises(AttributeError):  # frozen
        last.objective = 0.0


@pytest.mark.parametrize("route", ROUTES, indirect=True)
@pytest.mark.parametrize("false", [False, np.False_])
def test_callback_returning_false_stops_like_ctrl_c(data, route, false):
    seen = Recorder(lambda info: false if info.iteration == 3 else True)
    model = CollocationNeuralODE(callback=seen, **route, **PARAMS)
    with pytest.warns(ConvergenceWarning, match=r"stopped by `callback` after 3 IPOPT"):
        model.fit(*data)
    assert model.solver_status_ == "userInterrupt" and not model.converged_
    assert model.n_iter_ == 3 and len(seen.infos) == 4
    assert np.isfinite(model.predict(data[0], model.initial_states_[0])).all()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


class CallbackError(Exception):
    pass


@pytest.mark.parametrize("route", ROUTES, indirect=True)
def test_an_exception_in_the_callback_reaches_the_caller_unchanged(data, route):
    error = CallbackError("stop here, with this message")

    def callback(info):
        if info.iteration == 2:
            raise error
        return None

    model = CollocationNeuralODE(callback=callback, **route, **PARAMS)
    with pytest.raises(CallbackError, match="stop here, with this message") as caught:
        model.fit(*data)
    assert caught.value is error
    assert not hasattr(model, "coefs_")
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_verbose_1_and_the_callback_stop_together(data, capsys):
    model = CollocationNeuralODE(verbose=1, callback=lambda i: i.iteration < 2, **PARAMS)
    with pytest.warns(ConvergenceWarning, match="stopped by `callback`"):
        model.fit(*data)
    header, rows, final = _table(capsys.readouterr().out)
    assert [row[0] for row in rows] == ["0", "1", "2"]
    assert re.fullmatch(FINAL, final).groups() == ("userInterrupt", "2")


def test_estimate_initial_state_and_score_are_silent(data, capsys):
    t, X = data
    seen = Recorder()
    model = CollocationNeuralODE(verbose=1, callback=seen, n_latent=1, **PARAMS).fit(t, X)
    assert capsys.readouterr().out and seen.infos
    n_seen = len(seen.infos)
    model.estimate_initial_state(t[:10], X[:10])
    model.score(t, X)
    assert capsys.readouterr().out == "" and len(seen.infos) == n_seen


def test_callback_must_be_callable(data):
    with pytest.raises(InvalidParameterError, match="'callback' parameter"):
        CollocationNeuralODE(callback="print").fit(*data)


# ------------------------------------------------------------------ pickling
def _module_level_callback(info):
    return None


def test_a_lambda_callback_is_a_clear_error_when_pickled(data):
    model = CollocationNeuralODE(callback=lambda info: None, max_iter=3, **PARAMS)
    with pytest.warns(ConvergenceWarning):
        model.fit(*data)
    with pytest.raises(pickle.PicklingError, match="callback .*model.callback = None"):
        pickle.dumps(model)
    clone(model)  # cloned and copied as sklearn does: no error
    copy.deepcopy(model)
    model.callback = None
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.predict(*data[:1], data[1][0]),
                                  model.predict(*data[:1], data[1][0]))  # fmt: skip
    with pytest.raises(pickle.PicklingError, match="callback"):
        pickle.dumps(ADMMNeuralODE(callback=lambda row: None))


def test_module_level_and_log_progress_callbacks_pickle():
    for callback in (_module_level_callback, log_progress("training")):
        model = pickle.loads(pickle.dumps(CollocationNeuralODE(callback=callback)))
        assert repr(model.callback) == repr(callback)


def test_a_model_pickled_before_callback_existed_loads():
    state = CollocationNeuralODE().__getstate__()
    del state["callback"]
    model = CollocationNeuralODE.__new__(CollocationNeuralODE)
    model.__setstate__(state)
    assert model.get_params()["callback"] is None
    admm_state = ADMMNeuralODE().__getstate__()
    del admm_state["callback"]
    admm = ADMMNeuralODE.__new__(ADMMNeuralODE)
    admm.__setstate__(admm_state)
    assert admm.get_params()["callback"] is None


# ------------------------------------------------------------------ log_progress
def test_log_progress_sends_the_table_to_logging(data, caplog):
    with caplog.at_level(logging.INFO, logger="training"):
        model = CollocationNeuralODE(callback=log_progress("training"), **PARAMS).fit(*data)
    lines = [r.getMessage() for r in caplog.records if r.name == "training"]
    assert lines[0].split() == HEADER
    assert [line.split()[0] for line in lines[1:]] == [str(k) for k in range(model.n_iter_ + 1)]


# ------------------------------------------------------------------ ADMM
@pytest.fixture(scope="module")
def admm_data():
    return van_der_pol(60, (0, 8))


def _admm(**kw):
    base = CollocationNeuralODE(**PARAMS)
    return ADMMNeuralODE(base, **{"n_batches": 2, "max_iter": 30, "tol": 1e-8, "n_jobs": 1,
                                  **kw})  # fmt: skip


def test_admm_callback_gets_the_history_rows_and_can_stop(admm_data):
    seen = Recorder(lambda row: row["iteration"] < 2)
    admm = _admm(callback=seen)
    with pytest.warns(ConvergenceWarning, match="stopped by `callback` after iteration 2"):
        admm.fit(*admm_data)
    assert admm.stop_reason_ == "interrupted" and not admm.converged_
    assert admm.n_iter_ == 2 and [row["iteration"] for row in seen.infos] == [1, 2]
    for k, row in enumerate(seen.infos):
        assert set(row) == {"iteration", *admm.history_}
        assert all(row[key] == admm.history_[key][k] for key in admm.history_)
    t, X = admm_data
    assert np.isfinite(admm.predict(t, X[0])).all()


def test_admm_does_not_call_the_estimators_callback(admm_data, capsys):
    inner = Recorder()
    admm = ADMMNeuralODE(
        CollocationNeuralODE(callback=inner, verbose=1, **PARAMS), n_batches=2, max_iter=1,
        n_jobs=1,
    )  # fmt: skip
    with pytest.warns(ConvergenceWarning):
        admm.fit(*admm_data)
    assert inner.infos == [] and capsys.readouterr().out == ""


def test_admm_log_progress_logs_its_table(admm_data, caplog):
    with caplog.at_level(logging.INFO, logger="skneuralode"):
        with pytest.warns(ConvergenceWarning):
            admm = _admm(max_iter=2, callback=log_progress()).fit(*admm_data)
    lines = [r.getMessage() for r in caplog.records if r.name == "skneuralode"]
    assert lines[0].split() == ["iter", "primal", "(tol)", "dual", "(tol)", "rho",
                                "objective", "time", "[s]"]  # fmt: skip
    assert [float(line.split()[1]) for line in lines[1:]] == pytest.approx(
        admm.history_["primal_residual"], rel=1e-3
    )


def test_an_exception_in_the_admm_callback_reaches_the_caller(admm_data):
    def callback(row):
        raise CallbackError(f"at {row['iteration']}")

    with pytest.raises(CallbackError, match="at 1"):
        _admm(callback=callback).fit(*admm_data)


# ------------------------------------------------------------------ executable route
LOG = """\
iter    objective    inf_pr   inf_du lg(mu)  ||d||  lg(rg) alpha_du alpha_pr  ls
   0  7.3717478e-03 4.23e-01 1.98e-03  -1.0 0.00e+00    -  0.00e+00 0.00e+00   0
   1  7.6542694e-03 3.65e-01 1.61e-03  -1.7 3.86e+00    -  9.70e-01 1.25e-01h  4
   2r 8.1283075e-03 3.52e-01 9.99e+02  -4.0 5.23e+01  -4.0 1.00e+00 7.81e-03f  8 Nhj
"""


def test_log_iterations_reads_ipopts_log():
    rows = log_iterations(LOG)
    assert [row[:2] for row in rows] == [(0, 0), (0, 1), (1, 2)]
    alg_mod, it, obj, inf_pr, inf_du, mu, d_norm, reg, a_du, a_pr, ls = rows[2]
    assert (obj, inf_pr, inf_du, d_norm, a_du, a_pr, ls) == (
        8.1283075e-03, 3.52e-01, 9.99e02, 5.23e01, 1.0, 7.81e-03, 8
    )  # fmt: skip
    assert mu == pytest.approx(1e-4) and reg == pytest.approx(1e-4)
    assert rows[1][7] == 0.0 and rows[1][9] == 0.125


@pytest.fixture(scope="module")
def fake_ipopt(fake_ipopt):
    """conftest's fake `ipopt` on PATH, where the executable route can run it."""
    if sys.platform == "win32" or not _pynumero():
        pytest.skip("the fake executable needs a POSIX shell, cyipopt and PyNumero's ASL")
    return fake_ipopt


def test_a_callback_with_the_executable_is_a_value_error(fake_ipopt, data):
    model = CollocationNeuralODE(solver="executable", callback=print, **PARAMS)
    with pytest.raises(ValueError, match="callback needs IPOPT's per-iteration callback"):
        model.fit(*data)
    assert not hasattr(model, "coefs_")


def test_verbose_1_with_the_executable_prints_its_log_after_the_solve(fake_ipopt, data, capfd):
    model = CollocationNeuralODE(solver="executable", verbose=1, **PARAMS).fit(*data)
    assert model.solver_ == "executable"
    out = capfd.readouterr().out
    assert "Ipopt" not in out  # the executable's own output stays off
    header, rows, final = _table(out)
    assert header == HEADER
    assert [row[0] for row in rows] == [str(k) for k in range(model.n_iter_ + 1)]
    assert {row[-1] for row in rows} == {"-"}  # no per-iteration times
    assert re.fullmatch(FINAL, final).groups() == ("optimal", str(model.n_iter_))
