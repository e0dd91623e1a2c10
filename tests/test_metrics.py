"""The simulation scorer (skneuralode.metrics), score's shared simulation, predict without
x0, TransformedTargetRegressor and the swapped-argument hint."""

import copy
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.compose import TransformedTargetRegressor
from sklearn.exceptions import UnsetMetadataPassedError
from sklearn.metrics import mean_absolute_error, r2_score
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    TimeSeriesSplit,
    cross_val_score,
    cross_validate,
)

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode._diagnostics import observed_r2, warmup_length
from skneuralode.datasets import van_der_pol
from skneuralode.metrics import make_simulation_scorer

FORECAST = TimeSeriesSplit(n_splits=3, test_size=10)


@pytest.fixture(scope="module")
def vdp():
    return van_der_pol(60, (0, 8), noise=0.02, random_state=0)


@pytest.fixture(scope="module")
def model(vdp):
    t, X = vdp
    return CollocationNeuralODE(width=8, degree=2, alpha=1e-4, random_state=0).fit(t, X)


@pytest.fixture(scope="module")
def latent_model(vdp):
    t, X = vdp
    est = CollocationNeuralODE(width=8, degree=2, alpha=1e-4, n_latent=1, max_iter=200,
                               random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a short fit: only the scoring path matters
        return est.fit(t, X[:, :1])


def _old_score(model, t, X, u=None, groups=None):
    """score as it was before the scorer (the code of 2026-12-05), from validated arrays."""
    groups = [np.arange(len(t))] if groups is None else groups
    pred = np.full_like(X, np.nan)
    scored = np.ones(len(t), dtype=bool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for g in groups:
            tg, Xg, ug = t[g], X[g], None if u is None else u[g]
            n_latent = model.scaling_.n_latent
            if n_latent == 0 and np.all(np.isfinite(Xg[0])):
                x0, warmup = Xg[0], 0
            else:
                warmup = warmup_length(len(tg), model.n_states_ + n_latent)
                w = slice(0, warmup)
                x0 = model.estimate_initial_state(tg[w], Xg[w], None if ug is None else ug[w])
            scored[g[:warmup]] = False
            pred[g] = model.predict(tg, x0, ug)
    return observed_r2(X, pred, np.isfinite(X) & scored[:, None], model.scaling_)


# ------------------------------------------------------------ score is unchanged


def test_score_equals_the_code_before_the_refactor(model, latent_model, vdp):
    t, X = vdp
    assert model.score(t, X) == _old_score(model, t, X)
    gaps = X.copy()
    gaps[0, 1] = np.nan  # a missing first sample: warm-up path
    gaps[20:25, 0] = np.nan
    assert model.score(t, gaps) == _old_score(model, t, gaps)
    assert latent_model.score(t, X[:, :1]) == _old_score(latent_model, t, X[:, :1])
    traj = np.repeat([0, 1], 30)
    groups = [np.arange(30), np.arange(30, 60)]
    assert model.score(t, X, trajectory=traj) == _old_score(model, t, X, groups=groups)


# ------------------------------------------------------------ the scorer itself


def test_r2_scorer_equals_score(model, latent_model, vdp):
    t, X = vdp
    assert make_simulation_scorer("r2")(model, t, X) == model.score(t, X)
    assert make_simulation_scorer()(latent_model, t, X[:, :1]) == latent_model.score(t, X[:, :1])


def test_named_errors_are_the_negated_errors_of_the_simulation(model, vdp):
    t, X = vdp
    sim = model.predict(t, X[0])
    err = sim - X
    expected = {
        "neg_mean_squared_error": -np.mean(err**2),
        "neg_root_mean_squared_error": -np.mean(np.sqrt(np.mean(err**2, axis=0))),
        "neg_mean_absolute_error": -np.mean(np.abs(err)),
    }
    for name, value in expected.items():
        assert make_simulation_scorer(name)(model, t, X) == pytest.approx(value, rel=1e-12)


def test_callable_metric_sign_and_missing_entries(model, vdp):
    t, X = vdp
    gaps = X.copy()
    gaps[5:9, 1] = np.nan
    scorer = make_simulation_scorer(mean_absolute_error, greater_is_better=False)
    sim = model.predict(t, X[0])
    per_state = [np.mean(np.abs(sim[:, 0] - X[:, 0])), np.nanmean(np.abs(sim[:, 1] - gaps[:, 1]))]
    assert scorer(model, t, gaps) == pytest.approx(-np.mean(per_state), rel=1e-12)
    assert "greater_is_better=False" in repr(scorer)


def test_scorer_argument_errors():
    with pytest.raises(ValueError, match=r"`metric` must be one of \['neg_mean_absolute_error"):
        make_simulation_scorer("mse")
    with pytest.raises(ValueError, match="has its sign in its name"):
        make_simulation_scorer("neg_mean_squared_error", greater_is_better=False)
    with pytest.raises(TypeError, match="`metric` must be a metric name or a callable"):
        make_simulation_scorer(3)
    with pytest.raises(TypeError, match="scores a CollocationNeuralODE or an ADMMNeuralODE"):
        make_simulation_scorer()(TransformedTargetRegressor(), [0, 1], [0, 1])


def test_a_diverging_simulation_scores_minus_infinity(model, vdp):
    t, X = vdp
    diverging = copy.deepcopy(model)
    real = diverging.predict

    def predict(t, x0, u=None, **kwargs):  # NaN rows after a failure, as predict gives
        out = real(t, x0, u, **kwargs)
        out[len(t) // 2 :] = np.nan
        return out

    diverging.predict = predict
    for name in ("neg_mean_squared_error", "r2"):
        assert make_simulation_scorer(name)(diverging, t, X) == -np.inf
    assert diverging.score(t, X) == -np.inf


# ------------------------------------------------------------ in scikit-learn's tools


def test_cross_val_score_equals_the_hand_computed_mse(model, vdp):
    t, X = vdp
    scores = cross_val_score(
        model, t, X, cv=FORECAST, scoring=make_simulation_scorer("neg_mean_squared_error")
    )
    expected = []
    for train, test in FORECAST.split(t):
        fitted = sklearn.clone(model).fit(t[train], X[train])
        sim = fitted.predict(t[test], X[test][0])
        expected.append(-np.mean((sim - X[test]) ** 2))
    np.testing.assert_allclose(scores, expected, rtol=1e-12)


def test_r2_scoring_string_gives_nan_but_the_scorer_does_not(model, vdp):
    """The issue: scikit-learn's own scorer calls predict(t) and fails on every fold."""
    t, X = vdp
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = cross_val_score(model, t, X, cv=FORECAST, scoring="r2")
    assert np.all(np.isnan(plain))
    ours = cross_val_score(model, t, X, cv=FORECAST, scoring=make_simulation_scorer("r2"))
    assert np.all(np.isfinite(ours))
    np.testing.assert_allclose(ours, cross_val_score(model, t, X, cv=FORECAST), rtol=0)


@pytest.mark.filterwarnings("ignore::skneuralode.DiscretizationWarning")  # width 1 is poor
def test_grid_search_over_width_with_the_scorer():
    # 80 samples on [0, 10]: every training fold (50 to 70 samples) covers a period
    t, X = van_der_pol(80, (0, 10), noise=0.02, random_state=0)
    grid = GridSearchCV(
        CollocationNeuralODE(degree=2, alpha=1e-4, random_state=0),
        {"width": [1, 8]},
        cv=FORECAST,
        scoring={
            "mse": make_simulation_scorer("neg_mean_squared_error"),
            "r2": make_simulation_scorer(),
        },
        refit="mse",
    ).fit(t, X)
    res = grid.cv_results_
    for key in ("mean_test_mse", "mean_test_r2"):
        assert not np.any(np.isnan(res[key]))
    # one hidden unit cannot carry a limit cycle: width 8 wins on both metrics
    assert grid.best_params_ == {"width": 8}
    assert res["mean_test_r2"][1] > res["mean_test_r2"][0]
    assert res["mean_test_r2"][1] > 0.9


def test_latent_model_is_scored_after_its_warm_up(latent_model, vdp):
    t, X = vdp
    x = X[:, :1]
    n = len(t)
    warmup = warmup_length(n, 2)
    x0 = latent_model.estimate_initial_state(t[:warmup], x[:warmup])
    sim = latent_model.predict(t, x0)
    expected = -np.mean((sim[warmup:] - x[warmup:]) ** 2)
    scorer = make_simulation_scorer("neg_mean_squared_error")
    assert scorer(latent_model, t, x) == pytest.approx(expected, rel=1e-9)
    assert make_simulation_scorer(r2_score)(latent_model, t, x) == pytest.approx(
        r2_score(x[warmup:], sim[warmup:]), rel=1e-9
    )


def test_inputs_and_trajectories_reach_the_scorer_by_metadata_routing(paper_data):
    train, _ = paper_data
    t, X, u = train.t[:120], train.X[:120], train.u[:120]
    traj = np.repeat([0, 1, 2], 40)
    scorer = make_simulation_scorer("neg_mean_squared_error")
    with sklearn.config_context(enable_metadata_routing=True):
        est = (
            CollocationNeuralODE(width=8, degree=2, alpha=1e-3, random_state=0)
            .set_fit_request(u=True, trajectory=True)
            .set_score_request(u=True, trajectory=True)
        )
        # the scorer has not requested them: scikit-learn 1.9 says to call its
        # set_score_request; 1.6 names the estimator's set_fit_request instead
        unset = "set_score_request|not explicitly set as requested"
        with pytest.raises(UnsetMetadataPassedError, match=unset):
            cross_validate(est, t, X, cv=GroupKFold(3), scoring=scorer,
                           params={"u": u, "trajectory": traj, "groups": traj})  # fmt: skip
        scorer.set_score_request(u=True, trajectory=True)
        grid = GridSearchCV(est, {"width": [8]}, cv=GroupKFold(3), scoring=scorer)
        grid.fit(t, X, u=u, trajectory=traj, groups=traj)
    score = grid.cv_results_["split0_test_score"][0]
    # by hand: fold 0 holds out one trajectory, simulated from its first sample with its u
    train_idx, test_idx = next(GroupKFold(3).split(t, X, traj))
    fitted = CollocationNeuralODE(width=8, degree=2, alpha=1e-3, random_state=0).fit(
        t[train_idx], X[train_idx], u=u[train_idx], trajectory=traj[train_idx]
    )
    sim = fitted.predict(t[test_idx], X[test_idx][0], u=u[test_idx])
    assert score == pytest.approx(-np.mean((sim - X[test_idx]) ** 2), rel=1e-9)
    assert np.isfinite(score)


def test_scorer_with_admm(vdp):
    t, X = vdp
    admm = ADMMNeuralODE(CollocationNeuralODE(width=8, degree=2, alpha=1e-4, random_state=0),
                         n_batches=2, max_iter=3, n_jobs=1)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 3 iterations: not converged, fine here
        admm.fit(t, X)
    sim = admm.predict(t, X[0])
    value = make_simulation_scorer("neg_mean_squared_error")(admm, t, X)
    assert value == pytest.approx(-np.mean((sim - X) ** 2), rel=1e-12)
    assert make_simulation_scorer()(admm, t, X) == admm.score(t, X)


# ------------------------------------------------------------ predict without x0


def test_predict_without_x0_names_it_and_the_fix(model, vdp):
    t, X = vdp
    with pytest.raises(ValueError, match=r"`x0` \(the state at t\[0\]\) is required.*"
                       r"make_simulation_scorer"):  # fmt: skip
        model.predict(t)
    # the positional and keyword forms keep working
    np.testing.assert_array_equal(model.predict(t, X[0]), model.predict(t, x0=X[0]))


def test_transformed_target_regressor_gets_a_clear_error(vdp):
    t, X = vdp
    ttr = TransformedTargetRegressor(
        regressor=CollocationNeuralODE(width=4, degree=2, max_iter=20, random_state=0),
        func=lambda x: 2 * x,
        inverse_func=lambda x: x / 2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ttr.fit(t, X)
    with pytest.raises(ValueError, match=r"TransformedTargetRegressor\) call predict\(t\) "
                       r"without x0.*need no target transform"):  # fmt: skip
        ttr.predict(t)


# ------------------------------------------------------------ fit(X, t)


def test_fit_with_swapped_arguments_says_so(vdp):
    t, X = vdp
    est = CollocationNeuralODE(width=4)
    with pytest.raises(ValueError, match=r"did you swap t and X\? fit\(t, X\) takes the times"):
        est.fit(X, t)
    with pytest.raises(ValueError, match=r"did you swap t and X\?.*t = 0.1 \* np.arange\(60\)"):
        est.fit(X, 0.1)  # pysindy's fit(x, t=dt)
    with pytest.raises(ValueError, match=r"did you swap t and X\?"):
        est.fit(X[:, 0], t)  # one state


def test_score_with_swapped_arguments_says_so(model, vdp):
    t, X = vdp
    with pytest.raises(ValueError, match=r"did you swap t and X\? score\(t, X\) takes the"):
        model.score(X, t)


def test_ordinary_data_are_not_taken_for_swapped(vdp):
    t, X = vdp
    # an increasing single state with valid times fits as before; bad times alone keep
    # their own message
    with pytest.raises(ValueError, match="must be strictly increasing within each trajectory"):
        CollocationNeuralODE().fit(t[::-1], X)
