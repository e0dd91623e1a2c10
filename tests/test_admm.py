"""ADMMNeuralODE: consensus over batches, parallel and distributed sub-problems."""

import pickle
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import PAPER, span_mse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import van_der_pol
from skneuralode.exceptions import SolverError

ADMM_VS_SINGLE = 1.5  # the ADMM model's test MSE may be at most this times the single one


@pytest.fixture(scope="module")
def admm_data():
    """Unforced VdP, 60 samples on [0, 8]: a few seconds per ADMM fit."""
    return van_der_pol(60, (0, 8))


def _admm(engine="auto", solver="auto", **kw):
    base = CollocationNeuralODE(
        width=8, degree=2, alpha=1e-4, random_state=0, engine=engine, solver=solver
    )
    # a tolerance these few iterations never meet: tests that count iterations see
    # max_iter of them (the tests of convergence give ADMM's default tol)
    return ADMMNeuralODE(base, **{"n_batches": 2, "max_iter": 30, "tol": 1e-8, **kw})


def test_consensus_reached_and_batches_agree(admm_data):
    t, X = admm_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        admm = _admm(n_jobs=1, max_iter=100, tol=1e-2).fit(t, X)
    assert admm.converged_ and admm.stop_reason_ == "converged"
    h = admm.history_
    assert h["primal_residual"][-1] <= h["primal_tolerance"][-1]
    assert h["dual_residual"][-1] <= h["dual_tolerance"][-1]
    assert all(len(v) == admm.n_iter_ for v in h.values())
    assert np.all(np.diff(h["wall_time"]) > 0)
    assert admm.score(t, X) > 0.95
    # two windows -> two chains, each with its own initial state
    assert admm.estimator_.initial_states_.shape == (2, 2)
    np.testing.assert_allclose(admm.estimator_.initial_states_[0], X[0], atol=0.05)
    # the fitted attributes of a single model, written by the same code: the size of
    # the NLP is the two batch NLPs together (states of both chains + one theta each)
    est = admm.estimator_
    assert est.engine_ == "numpy" and est.solver_ in {"ctypes", "cyipopt"}
    n_params = sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)
    assert est.n_variables_ == est.collocation_states_.size + 2 * n_params
    assert est.n_constraints_ == (len(t) - 2) * 2 * 2  # intervals of both windows x degree x d


def test_one_batch_reproduces_the_single_model(admm_data):
    t, X = admm_data
    single = clone(_admm().estimator).fit(t, X)
    admm = _admm(n_batches=1, tol=1e-4, max_iter=100).fit(t, X)
    assert admm.converged_
    # Same objective value and same simulated trajectories. (Individual weights may move
    # along the objective's flat directions, e.g. between interchangeable hidden units.)
    assert admm.estimator_.objective_ == pytest.approx(single.objective_, rel=1e-5)
    np.testing.assert_allclose(admm.predict(t, X[0]), single.predict(t, X[0]), atol=1e-3)


def test_parallel_jobs_give_the_same_weights(admm_data):
    t, X = admm_data
    serial = _admm(n_batches=4, n_jobs=1, max_iter=5).fit(t, X)
    parallel = _admm(n_batches=4, n_jobs=2, max_iter=5).fit(t, X)
    for a, b in zip(serial.estimator_.coefs_, parallel.estimator_.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
    # loky hands each task to whichever worker is free, so later iterations may send a
    # batch's data again (to a worker without it); the weights do not depend on that
    resent = parallel.history_["data_resent"]
    assert resent[0] == 4 and all(0 <= r <= 4 for r in resent[1:])


# ------------------------------------------------------------ batch data on the workers


def test_batch_data_are_sent_with_the_first_iteration_only(admm_data):
    from skneuralode import _resident

    t, X = admm_data
    with pytest.warns(ConvergenceWarning):
        admm = _admm(n_jobs=1, max_iter=3).fit(t, X)
    h = admm.history_
    assert h["data_resent"] == [2, 0, 0]
    # later tasks carry the iterate only: here a fifth of the first iteration's bytes
    assert all(0 < sent < h["bytes_sent"][0] / 3 for sent in h["bytes_sent"][1:])
    assert h["bytes_sent"][1] == h["bytes_sent"][2]
    assert all(received > 0 for received in h["bytes_received"])
    assert not _resident._STORE  # the fit's batches left this process's store


@pytest.mark.parametrize("engine,solver", [("numpy", "auto"), ("pyomo", "pynumero")])
def test_a_worker_without_the_data_gets_them_again_and_the_same_weights(
    admm_data, monkeypatch, engine, solver
):
    """A data-less task on a worker that does not hold its batch (here: batch 1 is
    always forgotten) reads the batch's file, or where it cannot (another machine: here
    the file is unreadable too) comes back missing and is sent again with its data in
    the same iteration; either way the fit is bit-identical to one without misses."""
    from skneuralode import _resident

    t, X = admm_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        normal = _admm(engine, solver, n_jobs=1, max_iter=3).fit(t, X)
        remembered, read = _resident.get, _resident._read

        def forgetful(key):
            return None if key[1] == 1 else remembered(key)

        monkeypatch.setattr(_resident, "get", forgetful)
        from_file = _admm(engine, solver, n_jobs=1, max_iter=3).fit(t, X)
        monkeypatch.setattr(_resident, "_read", lambda path: None)
        missed = _admm(engine, solver, n_jobs=1, max_iter=3).fit(t, X)
        monkeypatch.setattr(_resident, "_read", read)
    assert normal.history_["data_resent"] == [2, 0, 0]
    assert from_file.history_["data_resent"] == [2, 0, 0]
    assert missed.history_["data_resent"] == [2, 1, 1]
    for a, b in zip(from_file.estimator_.coefs_, normal.estimator_.coefs_):
        np.testing.assert_array_equal(a, b)
    assert missed.history_["bytes_sent"][1] > normal.history_["bytes_sent"][1]
    for key in ("primal_residual", "dual_residual", "objective"):
        assert missed.history_[key] == normal.history_[key]
    for a, b in zip(missed.estimator_.coefs_ + missed.estimator_.intercepts_,
                    normal.estimator_.coefs_ + normal.estimator_.intercepts_):  # fmt: skip
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("how", ["error", "interrupt"])
def test_the_parent_store_is_emptied_when_fit_stops(admm_data, monkeypatch, how):
    """With n_jobs=1 the batches' data are held in this process; a fit that raises or is
    interrupted (in the second iteration, when both batches are held) releases them."""
    from skneuralode import _admm as admm_module
    from skneuralode import _resident

    t, X = admm_data
    original, held = admm_module.solve_batch, []

    def failing(task):
        if task.key[1] == 0 and task.data is None:  # batch 0 of the second iteration
            held.append(len(_resident._STORE))
            raise RuntimeError("solver crashed") if how == "error" else KeyboardInterrupt
        return original(task)

    monkeypatch.setattr(admm_module, "solve_batch", failing)
    if how == "error":
        with pytest.raises(RuntimeError, match="solver crashed"):
            _admm(n_jobs=1).fit(t, X)
    else:
        with pytest.warns(ConvergenceWarning, match="interrupted"):
            assert _admm(n_jobs=1).fit(t, X).stop_reason_ == "interrupted"
    assert held == [3]  # the two batches and the initial subsample
    assert not _resident._STORE


def test_batching_by_trajectory():
    ts, Xs, ids = [], [], []
    for k, x0 in enumerate([(2, 0), (1, 1), (-1.5, 0.5), (0.5, -2)]):
        t, X = van_der_pol(25, (0, 5), x0=x0)
        ts.append(t), Xs.append(X), ids.append(np.full(25, k))
    t, X, traj = np.concatenate(ts), np.vstack(Xs), np.concatenate(ids)
    admm = _admm(batching="trajectory", max_iter=3).fit(t, X, trajectory=traj)
    assert admm.estimator_.initial_states_.shape == (4, 2)
    np.testing.assert_allclose(
        admm.estimator_.initial_states_, [(2, 0), (1, 1), (-1.5, 0.5), (0.5, -2)], atol=0.3
    )


def test_max_iter_warns(admm_data):
    t, X = admm_data
    with pytest.warns(ConvergenceWarning, match="ADMM did not converge in max_iter=2"):
        admm = _admm(max_iter=2).fit(t, X)
    assert not admm.converged_ and admm.n_iter_ == 2 and admm.stop_reason_ == "max_iter"


def test_pickle_round_trip_predicts_identically(admm_data):
    t, X = admm_data
    admm = _admm(max_iter=2).fit(t, X)
    again = pickle.loads(pickle.dumps(admm))
    np.testing.assert_array_equal(again.predict(t, X[0]), admm.predict(t, X[0]))
    assert b"pyomo" not in pickle.dumps(admm)


def test_grid_search_over_the_inner_estimator(admm_data):
    t, X = admm_data
    grid = GridSearchCV(_admm(max_iter=3), {"estimator__width": [8, 16]}, cv=TimeSeriesSplit(2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(t, X)
    assert grid.best_params_["estimator__width"] in (8, 16)
    assert grid.best_estimator_.estimator.width == grid.best_params_["estimator__width"]


def test_base_estimator_is_not_fitted_in_place(admm_data):
    t, X = admm_data
    admm = _admm(max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        admm.fit(t, X)
    assert not hasattr(admm.estimator, "coefs_")


@pytest.mark.parametrize(
    "params,kwargs,match",
    [
        (dict(n_batches=31), {}, "n_batches=31 is too large for batching='time'.*60 samples"),
        (dict(batching="random"), {}, "'batching' parameter"),
        (dict(batching="trajectory"), {}, "batching='trajectory' needs `trajectory` ids"),
        (
            dict(batching="trajectory", n_batches=3),
            {"trajectory": np.repeat([0, 1], 30)},
            "n_batches=3 is larger than the number of trajectories \\(2\\)",
        ),
    ],
)
def test_bad_batching_is_rejected(admm_data, params, kwargs, match):
    t, X = admm_data
    with pytest.raises(ValueError, match=match):
        _admm(**params).fit(t, X, **kwargs)


def test_estimator_must_be_a_collocation_model(admm_data):
    from sklearn.linear_model import LinearRegression

    with pytest.raises(TypeError, match="`estimator` must be a CollocationNeuralODE"):
        ADMMNeuralODE(LinearRegression()).fit(*admm_data)


def test_paper_admm_experiment():
    """Forced VdP on [0, 30], 300 Chebyshev points (noise 0.1): two time batches of 150 vs.
    one model on all 300; test span (30, 40] against the noise-free truth. ADMM with its
    default parameters converges within its default max_iter."""
    train = van_der_pol(
        300, (0, 30), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **PAPER
    )
    truth = van_der_pol(t=np.linspace(0, 40, 801), return_bunch=True, **PAPER)
    base = CollocationNeuralODE(width=32, alpha=1e-3, scheme="chebyshev", random_state=0)
    single = clone(base).fit(train.t, train.X)
    admm = ADMMNeuralODE(base, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        admm.fit(train.t, train.X)
    assert admm.converged_ and admm.stop_reason_ == "converged"
    assert admm.n_iter_ < admm.max_iter
    h = admm.history_
    assert h["primal_residual"][-1] <= h["primal_tolerance"][-1]
    assert h["dual_residual"][-1] <= h["dual_tolerance"][-1]
    test = truth.t > 30
    mse = {
        name: span_mse(m.predict(truth.t, truth.X_true[0]), truth.X_true, test)
        for name, m in [("single", single), ("admm", admm)]
    }
    assert mse["admm"] <= ADMM_VS_SINGLE * mse["single"], mse


def test_reused_nl_problem_matches_rebuilding_the_model(admm_data, monkeypatch):
    """The pyomo engine's cyipopt route keeps each batch's written NL problem and only
    moves bounds and the start; solving the Pyomo model afresh each time must give the
    same iterates."""
    from skneuralode._engines import pyomo as pyomo_engine

    t, X = admm_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reused = _admm(n_jobs=1, max_iter=4, engine="pyomo", solver="pynumero").fit(t, X)
        assert sum(reused.history_["models_reused"]) == 2 * 3
        original_init = pyomo_engine._CachedBatch.__init__

        def without_nlp(self, task):
            original_init(self, task)
            self.nlp = None  # forces set_proximal + solve_model on the Pyomo model

        monkeypatch.setattr(pyomo_engine._CachedBatch, "__init__", without_nlp)
        rebuilt = _admm(n_jobs=1, max_iter=4, engine="pyomo", solver="pynumero").fit(t, X)
    for key in ("primal_residual", "dual_residual", "objective"):
        np.testing.assert_allclose(reused.history_[key], rebuilt.history_[key], rtol=1e-7)
    for a, b in zip(reused.estimator_.coefs_, rebuilt.estimator_.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


def test_nested_inside_a_parallel_grid_search(admm_data):
    """ADMM with n_jobs=2 inside GridSearchCV(n_jobs=2): joblib nests without
    oversubscribing, and the result equals the sequential search."""
    t, X = admm_data
    grid = {"estimator__width": [6, 8]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        nested = GridSearchCV(_admm(max_iter=2, n_jobs=2), grid, cv=TimeSeriesSplit(2), n_jobs=2)
        nested.fit(t, X)
        serial = GridSearchCV(_admm(max_iter=2, n_jobs=1), grid, cv=TimeSeriesSplit(2))
        serial.fit(t, X)
    np.testing.assert_allclose(
        nested.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], rtol=1e-6
    )


def test_batches_on_threads_of_one_process(admm_data):
    """The threading backend (what nested joblib calls use inside a worker): batches of
    one fit share a process and its cache, and give the sequential weights."""
    import joblib

    t, X = admm_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        serial = _admm(n_batches=4, n_jobs=1, max_iter=3).fit(t, X)
        with joblib.parallel_config(backend="threading"):
            threaded = _admm(n_batches=4, n_jobs=4, max_iter=3).fit(t, X)
    for a, b in zip(serial.estimator_.coefs_, threaded.estimator_.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


# ------------------------------------------------------------ the stopping rule


def test_tolerances_are_boyds_with_a_relative_tol():
    """eps_pri = sqrt(Bp) tol/10 + tol max(||theta||, sqrt(B) ||z||) and
    eps_dual = sqrt(Bp) tol/10 + tol rho ||u||, on the stacked batch weights."""
    from skneuralode._admm import _Iterate

    thetas = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 12.0]])  # ||theta|| = 13
    z, duals, rho, tol = np.array([1.0, 1.0, 1.0]), np.array([[0.0, 3.0, 4.0]] * 2), 2.0, 1e-2
    eps_pri, eps_dual = ADMMNeuralODE(tol=tol)._tolerances(_Iterate(z, z, thetas, [], duals), rho)
    floor = np.sqrt(6) * tol / 10
    assert eps_pri == pytest.approx(floor + tol * 13.0)
    assert eps_dual == pytest.approx(floor + tol * rho * np.sqrt(50.0))
    # the relative part follows the size of the weights: 100 times larger weights
    big = ADMMNeuralODE(tol=tol)._tolerances(
        _Iterate(100 * z, 100 * z, 100 * thetas, [], duals), rho
    )
    assert big[0] == pytest.approx(floor + tol * 1300.0)


def test_converged_batches_agree_to_tol_relative(admm_data, monkeypatch):
    """What converged_ promises, checked on the batch weights themselves: the fitted
    weights are the consensus z, and the batch copies agree with it to tol relative
    (root mean square over the batches) plus tol/10 per weight."""
    from skneuralode import _admm as admm_module
    from skneuralode._mlp import pack

    t, X = admm_data
    original, last = admm_module._step, {}

    def spy(*args):
        out = original(*args)
        last["it"] = out[0]
        return out

    monkeypatch.setattr(admm_module, "_step", spy)
    admm = _admm(n_jobs=1, max_iter=100, tol=1e-2).fit(t, X)
    assert admm.converged_
    # the model is the plain step's consensus (the accelerated z only centres the next
    # sub-problems)
    z, thetas = last["it"].consensus, last["it"].thetas
    np.testing.assert_array_equal(pack(admm.estimator_.coefs_, admm.estimator_.intercepts_), z)
    B, p = thetas.shape
    rms_gap = np.sqrt(np.mean(np.sum((thetas - z) ** 2, axis=1)))
    rms_norm = max(np.sqrt(np.mean(np.sum(thetas**2, axis=1))), np.linalg.norm(z))
    assert rms_gap <= admm.tol * rms_norm + np.sqrt(p) * admm.tol / 10
    assert admm.history_["primal_residual"][-1] == pytest.approx(np.sqrt(B) * rms_gap)


# ------------------------------------------------------------ verbose


def test_verbose_prints_a_header_and_one_line_per_iteration(admm_data, capsys):
    t, X = admm_data
    with pytest.warns(ConvergenceWarning, match="max_iter=3"):
        admm = _admm(n_jobs=1, max_iter=3, verbose=1).fit(t, X)
    lines = capsys.readouterr().out.splitlines()
    assert re.fullmatch(
        r"initial consensus: fitted on a 1/2 subsample, \d+ IPOPT iterations \(optimal\), "
        r"\d+\.\d s",
        lines.pop(0),
    )
    assert lines[0].split() == [
        "iter", "primal", "(tol)", "dual", "(tol)", "rho", "objective", "time", "[s]"
    ]  # fmt: skip
    h = admm.history_
    for k, line in enumerate(lines[1:4]):
        fields = [float(v) for v in line.split()]
        assert fields[0] == k + 1
        keys = ("primal_residual", "primal_tolerance", "dual_residual", "dual_tolerance")
        expected = [h[key][k] for key in (*keys, "rho", "objective", "wall_time")]
        np.testing.assert_allclose(fields[1:], expected, rtol=1e-3, atol=0.05)
    assert lines[4].startswith("ADMM stopped (max_iter) after 3 iterations")
    assert len(lines) == 5


def test_verbose_zero_prints_nothing(admm_data, capsys):
    t, X = admm_data
    with pytest.warns(ConvergenceWarning):
        _admm(n_jobs=1, max_iter=1).fit(t, X)
    assert capsys.readouterr().out == ""


# ------------------------------------------------------------ parameters


def test_parameters_after_estimator_are_keyword_only():
    with pytest.raises(TypeError, match="positional argument"):
        ADMMNeuralODE(None, 2)
    assert ADMMNeuralODE(CollocationNeuralODE(width=4)).estimator.width == 4


# ------------------------------------------------------------ max_time


def _slowed(monkeypatch, seconds, seen):
    """Make every batch solve take ``seconds`` longer; record the tasks' IPOPT options."""
    from skneuralode import _admm as admm_module

    original = admm_module.solve_batch

    def slow(task):
        seen.append(dict(task.options))
        time.sleep(seconds)
        return original(task)

    monkeypatch.setattr(admm_module, "solve_batch", slow)


def test_max_time_stops_with_the_current_consensus(admm_data, monkeypatch):
    t, X = admm_data
    seen = []
    _slowed(monkeypatch, 0.15, seen)
    with pytest.warns(ConvergenceWarning, match=r"ADMM stopped at max_time=3 s after \d+ iter"):
        admm = _admm(n_jobs=1, max_time=3.0).fit(t, X)
    assert admm.stop_reason_ == "max_time" and not admm.converged_
    assert 1 <= admm.n_iter_ < admm.max_iter  # (a loaded machine may fit only one in)
    wall = admm.history_["wall_time"]
    assert wall[-1] >= 3.0  # checked after every iteration: stopped at the first past it
    assert all(w < 3.0 for w in wall[:-1])
    # each sub-problem got the time left at its dispatch as IPOPT's max_wall_time
    limits = [o["max_wall_time"] for o in seen]
    assert len(limits) == 1 + 2 * admm.n_iter_  # the initial fit and two per iteration
    assert all(0 < a <= 3.0 for a in limits) and limits[0] > limits[-1]
    # a usable model: the consensus of the last iteration (how good depends on the
    # machine's speed, i.e. on how many iterations fit into 2 s)
    assert np.all(np.isfinite(admm.predict(t, X[0])))


def test_no_wall_time_option_without_max_time(admm_data, monkeypatch):
    t, X = admm_data
    seen = []
    _slowed(monkeypatch, 0.0, seen)
    with pytest.warns(ConvergenceWarning):
        _admm(n_jobs=1, max_iter=1).fit(t, X)
    assert seen and all("max_wall_time" not in o for o in seen)


def test_ipopt_stops_a_sub_problem_at_the_time_left(admm_data):
    """With max_time shorter than the set-up, the first sub-problems get IPOPT's smallest
    max_wall_time and stop at once; ADMM keeps that iteration and stops."""
    t, X = admm_data
    with pytest.warns(ConvergenceWarning, match="max_time=1e-06"):
        admm = _admm(n_jobs=1, max_time=1e-6).fit(t, X)
    assert admm.stop_reason_ == "max_time" and admm.n_iter_ == 1
    assert admm.estimator_.solver_status_ == "maxTimeLimit"


# ------------------------------------------------------------ Ctrl-C


def _interrupt_at(monkeypatch, call, how):
    """Let ``solve_batch`` run normally until its ``call``-th call (1-based), which
    returns a "userInterrupt" result (``how="status"``) or raises KeyboardInterrupt."""
    from skneuralode import _admm as admm_module

    original, calls = admm_module.solve_batch, []

    def interrupted(task):
        calls.append(task.key[1])
        if len(calls) == call and how == "raise":
            raise KeyboardInterrupt
        out = original(task)
        if len(calls) == call:
            out.result.status = "userInterrupt"
        return out

    monkeypatch.setattr(admm_module, "solve_batch", interrupted)
    return calls


@pytest.mark.parametrize("how", ["status", "raise"])
def test_interrupt_keeps_the_consensus_of_the_last_completed_iteration(
    admm_data, monkeypatch, how
):
    t, X = admm_data
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        reference = _admm(n_jobs=1, max_iter=1).fit(t, X)
    calls = _interrupt_at(monkeypatch, 4, how)  # batch 0 of the second iteration
    kept = r"interrupted \(Ctrl-C\) in iteration 2\. The model holds the consensus of iteration 1"
    with pytest.warns(ConvergenceWarning, match=kept):
        admm = _admm(n_jobs=1).fit(t, X)
    # the initial fit (the placement's third data), then batch 1 of the interrupted
    # iteration never started
    assert calls == [2, 0, 1, 0]
    assert admm.stop_reason_ == "interrupted" and not admm.converged_
    assert admm.n_iter_ == 1 and all(len(v) == 1 for v in admm.history_.values())
    for a, b in zip(admm.estimator_.coefs_, reference.estimator_.coefs_):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(admm.predict(t, X[0]), reference.predict(t, X[0]))


def test_interrupt_in_the_first_iteration_keeps_the_initial_consensus(admm_data, monkeypatch):
    t, X = admm_data
    base = _admm().estimator
    with pytest.warns(ConvergenceWarning):  # IPOPT's max_iter=0: the starting point
        start = clone(base).set_params(max_iter=0).fit(t, X)
    _interrupt_at(monkeypatch, 1, "raise")
    with pytest.warns(ConvergenceWarning, match="initial consensus \\(no iteration completed\\)"):
        admm = _admm(n_jobs=1).fit(t, X)
    assert admm.stop_reason_ == "interrupted" and admm.n_iter_ == 0
    assert admm.history_["primal_residual"] == []
    for a, b in zip(admm.estimator_.coefs_, start.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    assert admm.estimator_.solver_status_ == "userInterrupt"


def test_an_interrupted_batch_is_not_a_failure():
    from skneuralode._admm import BatchResult, _check_batches
    from skneuralode._solver import SolveResult

    def batch(status):
        return BatchResult(SolveResult("ctypes", status, "", 3, 0.1), 0.0, False)

    _check_batches([batch("optimal"), batch("userInterrupt"), batch("maxTimeLimit")], 0)
    with pytest.raises(SolverError, match="IPOPT failed on batch 1 in ADMM iteration 4"):
        _check_batches([batch("optimal"), batch("infeasible")], 3)


# ------------------------------------------------------------ at scale


def test_anderson_solves_a_slow_linear_fixed_point_in_few_steps():
    """On a linear contraction v <- M v + c whose slowest mode contracts by 0.98 per
    step, plain iteration needs hundreds of steps to 1e-8; Anderson acceleration with
    memory m reaches the fixed point in about m + 2 (the secant model is exact)."""
    from skneuralode._admm import _Anderson

    rng = np.random.RandomState(0)
    Q = np.linalg.qr(rng.randn(6, 6))[0]
    M = Q @ np.diag([0.98, 0.9, 0.5, 0.3, 0.1, 0.0]) @ Q.T
    c = rng.randn(6)
    fixed = np.linalg.solve(np.eye(6) - M, c)

    def steps(accelerate):
        z, u = np.zeros(2), np.zeros((2, 2))
        for k in range(1, 1000):
            g = M @ np.concatenate([z, u.ravel()]) + c
            if np.linalg.norm(g - np.concatenate([z, u.ravel()])) < 1e-8:
                return k, np.concatenate([z, u.ravel()])
            z_plain, u_plain = g[:2], g[2:].reshape(2, 2)
            z, u = accelerate.step(z, u, z_plain, u_plain) if accelerate else (z_plain, u_plain)
        return k, None

    plain, _ = steps(None)
    fast, v = steps(_Anderson(6))
    assert plain > 500 and fast <= 10
    np.testing.assert_allclose(v, fixed, atol=1e-7)


def test_anderson_rejects_a_step_whose_residual_grew():
    """A point whose residual grew by more than ANDERSON_REJECT_GROWTH is not
    extrapolated from: the next point is the plain image of the point before it, and
    the memory starts again."""
    from skneuralode._admm import ANDERSON_REJECT_GROWTH, _Anderson

    acc = _Anderson(3)
    z0, u0 = np.zeros(1), np.zeros((1, 1))
    acc.step(z0, u0, np.ones(1), np.ones((1, 1)))  # residual norm sqrt(2)
    z, u = acc.step(np.ones(1), np.ones((1, 1)), np.full(1, 9.0), np.full((1, 1), 9.0))
    assert 8 * np.sqrt(2) > ANDERSON_REJECT_GROWTH * np.sqrt(2)
    np.testing.assert_array_equal(z, [1.0])  # the plain image of the first point
    np.testing.assert_array_equal(u, [[1.0]])
    assert acc._f == []


def test_subsample_takes_every_nth_sample_of_every_trajectory():
    from skneuralode._admm import _subsample

    groups = [np.arange(0, 10), np.arange(10, 13), np.arange(13, 14 + 100)]
    idx, sub = _subsample(groups, 4)
    picked = [idx[s] for s in sub]
    np.testing.assert_array_equal(picked[0], [0, 4, 9])  # ceil(10 / 4), ends included
    np.testing.assert_array_equal(picked[1], [10, 12])  # at least MIN_SAMPLES = 2
    assert len(picked[2]) == 26 and picked[2][0] == 13 and picked[2][-1] == 113
    assert np.all(np.diff(picked[2]) >= 3) and np.all(np.diff(picked[2]) <= 5)


def test_rho_is_per_observed_entry(admm_data, monkeypatch):
    """Batch b's NLP (mean objective over its N_b observed entries) gets the proximal
    weight rho * mean_b(N_b) / N_b; the initial subsample fit none."""
    from skneuralode import _admm as admm_module

    t, X = admm_data
    original, seen = admm_module.solve_batch, []

    def spy(task):
        seen.append((task.key[1], task.rho))
        return original(task)

    monkeypatch.setattr(admm_module, "solve_batch", spy)
    with pytest.warns(ConvergenceWarning):
        _admm(n_batches=3, n_jobs=1, max_iter=1, rho=0.01).fit(t[:-1], X[:-1])
    # 59 samples: windows of 20, 20, 19 samples x 2 states
    counts = {0: 40, 1: 40, 2: 38}
    mean = np.mean(list(counts.values()))
    assert seen[0] == (3, 0.0)  # the subsample (the placement's fourth data)
    assert dict(seen[1:]) == pytest.approx({b: 0.01 * mean / n for b, n in counts.items()})


def test_plain_admm_from_the_estimators_start(admm_data):
    """init="estimator" fits nothing before ADMM; acceleration=None centres every
    sub-problem on the plain consensus, which is then the model."""
    t, X = admm_data
    with pytest.warns(ConvergenceWarning):
        plain = _admm(n_jobs=1, max_iter=3, init="estimator", acceleration=None).fit(t, X)
    assert plain.init_time_ == 0.0
    h = plain.history_
    assert len(h["batch_times"]) == 3 and all(len(b) == 2 for b in h["batch_times"])
    with pytest.warns(ConvergenceWarning):
        default = _admm(n_jobs=1, max_iter=3).fit(t, X)
    assert default.init_time_ > 0
    # the initial fit's IPOPT iterations count in the model's total
    assert default.estimator_.n_iter_ > sum(default.history_["ipopt_iterations"])
    assert plain.estimator_.n_iter_ == sum(h["ipopt_iterations"])


def test_a_failed_initial_fit_names_the_subsample(admm_data, monkeypatch):
    from skneuralode import _admm as admm_module

    t, X = admm_data
    original = admm_module.solve_batch

    def failing(task):
        out = original(task)
        if task.key[1] == 2:  # the subsample: the data after the two batches
            out.result.status, out.result.message = "infeasible", "converged to infeasible"
        return out

    monkeypatch.setattr(admm_module, "solve_batch", failing)
    message = (
        "IPOPT failed on the subsample fitted for ADMM's initial consensus "
        r"\(init='subsample'\) with status 'infeasible'"
    )
    with pytest.raises(SolverError, match=message):
        _admm(n_jobs=1).fit(t, X)


@pytest.mark.parametrize("how", ["converged", "error"])
def test_the_batch_files_are_removed_when_fit_ends(admm_data, monkeypatch, tmp_path, how):
    """fit writes each batch's data to a file in a temporary folder, which workers on
    this machine read when they do not hold the batch; the folder goes when fit ends."""
    import tempfile

    from skneuralode import _admm as admm_module

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    t, X = admm_data
    original, paths = admm_module.solve_batch, []

    def spy(task):
        paths.append(task.path)
        if how == "error" and len(paths) == 3:
            raise RuntimeError("solver crashed")
        return original(task)

    monkeypatch.setattr(admm_module, "solve_batch", spy)
    if how == "error":
        with pytest.raises(RuntimeError, match="solver crashed"):
            _admm(n_jobs=1).fit(t, X)
    else:
        _admm(n_jobs=1, tol=1e-2).fit(t, X)
    folders = {Path(p).parent for p in paths}
    assert len(folders) == 1 and folders.pop().parent == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == []
