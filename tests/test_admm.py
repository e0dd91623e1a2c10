"""ADMMNeuralODE: consensus over batches, parallel and distributed sub-problems."""

import pickle
import warnings

import numpy as np
import pytest
from conftest import PAPER, span_mse
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import van_der_pol

ADMM_VS_SINGLE = 1.5  # the ADMM model's test MSE may be at most this times the single one
PAPER_ADMM_TOL = 2e-3


@pytest.fixture(scope="module")
def admm_data():
    """Unforced VdP, 60 samples on [0, 8]: a few seconds per ADMM fit."""
    return van_der_pol(60, (0, 8))


def _admm(engine="auto", solver="auto", **kw):
    base = CollocationNeuralODE(
        width=8, degree=2, alpha=1e-4, random_state=0, engine=engine, solver=solver
    )
    return ADMMNeuralODE(base, **{"n_batches": 2, "max_iter": 30, "tol": 1e-3, **kw})


def test_consensus_reached_and_batches_agree(admm_data):
    t, X = admm_data
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        admm = _admm(n_jobs=1, max_iter=60).fit(t, X)
    assert admm.converged_
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
    assert est.engine_ == "numpy" and est.solver_ == "cyipopt"
    n_params = sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)
    assert est.n_variables_ == est.collocation_states_.size + 2 * n_params
    assert est.n_constraints_ == (len(t) - 2) * 2 * 2  # intervals of both windows x degree x d


def test_one_batch_reproduces_the_single_model(admm_data):
    t, X = admm_data
    single = clone(_admm().estimator).fit(t, X)
    admm = _admm(n_batches=1, tol=1e-5, max_iter=100).fit(t, X)
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
    assert not admm.converged_ and admm.n_iter_ == 2


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
    one model on all 300; test span (30, 40] against the noise-free truth."""
    train = van_der_pol(
        300, (0, 30), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **PAPER
    )
    truth = van_der_pol(t=np.linspace(0, 40, 801), return_bunch=True, **PAPER)
    base = CollocationNeuralODE(width=32, alpha=1e-3, scheme="chebyshev", random_state=0)
    single = clone(base).fit(train.t, train.X)
    admm = ADMMNeuralODE(base, n_batches=2, tol=PAPER_ADMM_TOL, max_iter=40, n_jobs=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        admm.fit(train.t, train.X)
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
    from skneuralode import _admm as admm_module

    t, X = admm_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reused = _admm(n_jobs=1, max_iter=4, engine="pyomo", solver="cyipopt").fit(t, X)
        assert sum(reused.history_["models_reused"]) == 2 * 3
        original_init = admm_module._CachedBatch.__init__

        def without_nlp(self, task):
            original_init(self, task)
            self.nlp = None  # forces set_proximal + solve_model on the Pyomo model

        monkeypatch.setattr(admm_module._CachedBatch, "__init__", without_nlp)
        rebuilt = _admm(n_jobs=1, max_iter=4, engine="pyomo", solver="cyipopt").fit(t, X)
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
