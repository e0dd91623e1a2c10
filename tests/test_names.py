"""Names of states and inputs: DataFrames, state_names / input_names, state_names_ /
input_names_, predict's DataFrames and the column checks."""

import pickle
import warnings

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode._names import input_names, state_names, uses_names
from skneuralode.datasets import van_der_pol

pd = pytest.importorskip("pandas")

PARAMS = dict(width=8, degree=2, alpha=1e-4, random_state=0)


@pytest.fixture(scope="module")
def data():
    t, X = van_der_pol(40, (0, 6))
    u = np.c_[np.sin(t)]
    return t, X, u


@pytest.fixture(scope="module")
def frames(data):
    t, X, u = data
    return (
        pd.Series(t, name="time"),
        pd.DataFrame(X, columns=["x", "v"]),
        pd.DataFrame(u, columns=["force"]),
    )


@pytest.fixture(scope="module")
def named(frames):
    t, X, _ = frames
    return CollocationNeuralODE(**PARAMS).fit(t, X)


def _quiet_fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # short fits: only the names matter
        return est.fit(*args, **kwargs)


# ------------------------------------------------------------ fit


def test_dataframe_and_array_fits_give_bit_identical_weights(data, frames):
    t, X, u = data
    ts, Xf, uf = frames
    a = CollocationNeuralODE(**PARAMS).fit(t, X, u=u)
    b = CollocationNeuralODE(**PARAMS).fit(ts, Xf, u=uf)
    for wa, wb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.collocation_states_, b.collocation_states_)
    assert not uses_names(a) and not hasattr(a, "input_names_")
    assert b.state_names_.tolist() == ["x", "v"] and b.state_names_.dtype == object
    assert b.input_names_.tolist() == ["force"]
    assert isinstance(b.initial_states_, np.ndarray)
    assert isinstance(b.collocation_states_, np.ndarray)


def test_latent_states_keep_default_names(data, frames):
    t, _, _ = data
    est = _quiet_fit(CollocationNeuralODE(**PARAMS, n_latent=1, max_iter=20), t, frames[1][["x"]])
    assert est.state_names_.tolist() == ["x", "z0"]
    assert state_names(est) == ["x", "z0"]
    X, Z = est.predict(t, est.initial_states_[0], return_latent=True)
    assert X.columns.tolist() == ["x"] and Z.columns.tolist() == ["z0"]
    with pytest.raises(ValueError, match=r"State name\(s\) \['z0'\] are the default names"):
        CollocationNeuralODE(**PARAMS, n_latent=1).fit(
            t, frames[1][["x"]].set_axis(["z0"], axis=1)
        )


def test_names_from_parameters(data):
    t, X, u = data
    est = CollocationNeuralODE(**PARAMS, state_names=["pos", "vel"], input_names=["f"])
    est.fit(t, X, u=u)
    assert state_names(est) == ["pos", "vel"] and input_names(est) == ["f"]
    pred = est.predict(t, X[0], u=u)
    assert pred.columns.tolist() == ["pos", "vel"] and pred.index.name == "t"
    np.testing.assert_array_equal(pred.index.to_numpy(), t)


def test_inputs_alone_named_keep_array_output(data, frames):
    t, X, u = data
    est = CollocationNeuralODE(**PARAMS).fit(t, X, u=frames[2])
    assert not uses_names(est) and est.input_names_.tolist() == ["force"]
    assert isinstance(est.predict(t, X[0], u=u), np.ndarray)
    with pytest.raises(ValueError, match=r"columns of `u` must be the names seen in fit, "):
        est.predict(t, X[0], u=frames[2].set_axis(["push"], axis=1))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(state_names=["a"]), ValueError, r"`state_names` must hold 2 name\(s\), one per"),
        (dict(state_names=["a", 1]), TypeError, r"`state_names` must be a list of str"),
        (dict(state_names=["a", "a"]), ValueError, r"`state_names` must be unique names; \['a'\]"),
        (dict(input_names=["f"]), ValueError, r"`input_names`=\['f'\] names inputs, but fit got"),
    ],
)
def test_bad_name_parameters(data, kwargs, error, match):
    t, X, _ = data
    with pytest.raises(error, match=match):
        CollocationNeuralODE(**PARAMS, **kwargs).fit(t, X)


def test_column_name_rules_follow_scikit_learn(data, frames):
    t, X, _ = data
    with pytest.raises(ValueError, match=r"`X`'s columns must be unique names; \['a'\] appear"):
        CollocationNeuralODE(**PARAMS).fit(t, pd.DataFrame(X, columns=["a", "a"]))
    with pytest.raises(TypeError, match=r"`X`'s column names must all be strings.*astype\(str\)"):
        CollocationNeuralODE(**PARAMS).fit(t, pd.DataFrame(X, columns=["a", 1]))
    plain = CollocationNeuralODE(**PARAMS).fit(t, pd.DataFrame(X))  # int columns: no names
    assert not uses_names(plain) and isinstance(plain.predict(t, X[0]), np.ndarray)
    with pytest.raises(ValueError, match=r"`state_names`=\['p', 'q'\] differ from the column"):
        CollocationNeuralODE(**PARAMS, state_names=["p", "q"]).fit(t, frames[1])


def test_refit_on_arrays_drops_the_names(data, frames):
    t, X, _ = data
    est = CollocationNeuralODE(**PARAMS).fit(t, frames[1])
    est.fit(t, X)
    assert not hasattr(est, "state_names_") and isinstance(est.predict(t, X[0]), np.ndarray)


# ------------------------------------------------------------ predict, score


def test_predict_frames_follow_the_fit_or_the_request(data, frames, named):
    t, X, _ = data
    ts, Xf, _ = frames
    pred = named.predict(ts, Xf.iloc[0])
    assert pred.index.name == "time" and pred.columns.tolist() == ["x", "v"]
    np.testing.assert_array_equal(pred.to_numpy(), named.predict(t, X[0], as_frame=False))
    assert named.predict(pd.Index(t), X[0]).index.name == "t"
    plain = CollocationNeuralODE(**PARAMS).fit(t, X)
    framed = plain.predict(t, X[0], as_frame=True)
    assert framed.columns.tolist() == ["x0", "x1"] and framed.index.name == "t"


def test_score_and_initial_state_accept_dataframes_and_check_columns(data, frames, named):
    t, X, _ = data
    ts, Xf, _ = frames
    assert named.score(ts, Xf) == named.score(t, X)
    np.testing.assert_array_equal(
        named.estimate_initial_state(ts[:10], Xf[:10]),
        named.estimate_initial_state(t[:10], X[:10]),
    )
    with pytest.raises(ValueError, match=r"must be in the order of fit, \['x', 'v'\]; got "
                       r"\['v', 'x'\]. Reorder them: `X\[\['x', 'v'\]\]`"):  # fmt: skip
        named.score(t, Xf[["v", "x"]])
    with pytest.raises(ValueError, match=r"missing \['v'\], unexpected \['w'\]"):
        named.estimate_initial_state(t, Xf.set_axis(["x", "w"], axis=1))
    assert named.score(t, X) == named.score(t, Xf)  # arrays are not checked


def test_datetime_series_times_index_the_prediction(data):
    t, X, _ = data
    stamps = pd.Series(pd.Timestamp("2026-01-01") + pd.to_timedelta(t, unit="s"), name="when")
    est = CollocationNeuralODE(**PARAMS).fit(stamps, pd.DataFrame(X, columns=["x", "v"]))
    pred = est.predict(stamps, X[0])
    assert pred.index.name == "when" and pred.index[0] == pd.Timestamp("2026-01-01")


# ------------------------------------------------------------ scikit-learn tools


def test_grid_search_clone_and_pickle_with_dataframes(frames, named):
    ts, Xf, _ = frames
    grid = GridSearchCV(CollocationNeuralODE(**PARAMS), {"width": [8]},
                        cv=TimeSeriesSplit(2, test_size=8)).fit(ts, Xf)  # fmt: skip
    assert grid.best_estimator_.state_names_.tolist() == ["x", "v"]
    assert np.isfinite(grid.cv_results_["mean_test_score"][0])
    twin = clone(CollocationNeuralODE(state_names=["a", "b"]))
    assert twin.state_names == ["a", "b"]
    again = pickle.loads(pickle.dumps(named))
    assert again.state_names_.tolist() == ["x", "v"]
    pd.testing.assert_frame_equal(again.predict(ts, Xf.iloc[0]), named.predict(ts, Xf.iloc[0]))


def test_inputs_named_through_metadata_routing(data, frames):
    t, X, u = data
    _, Xf, uf = frames
    with sklearn.config_context(enable_metadata_routing=True):
        est = CollocationNeuralODE(**PARAMS).set_fit_request(u=True).set_score_request(u=True)
        grid = GridSearchCV(est, {"width": [8]}, cv=TimeSeriesSplit(2, test_size=8))
        grid.fit(t, Xf, u=uf)
    assert grid.best_estimator_.input_names_.tolist() == ["force"]


def test_admm_keeps_the_names(data, frames):
    t, X, _ = data
    admm = ADMMNeuralODE(CollocationNeuralODE(**PARAMS), n_batches=2, max_iter=2, n_jobs=1)
    _quiet_fit(admm, frames[0], frames[1])
    assert admm.state_names_.tolist() == ["x", "v"]
    assert admm.estimator_.state_names_.tolist() == ["x", "v"]
    assert admm.predict(t, X[0]).columns.tolist() == ["x", "v"]
    assert isinstance(admm.predict(t, X[0], as_frame=False), np.ndarray)


def test_a_model_pickled_before_names_existed_gets_default_parameters(named):
    state = named.__getstate__()
    state.pop("state_names"), state.pop("input_names")
    old = CollocationNeuralODE.__new__(CollocationNeuralODE)
    old.__setstate__(state)
    assert old.get_params()["state_names"] is None and old.get_params()["input_names"] is None


# ------------------------------------------------------------ grey-box parameters by name


def tanks(x, u, p, nn):
    """Upper tank by Torricelli's law, the lower tank's outflow learned."""
    from skneuralode.physics import sqrt

    return [p["k4"] * u[0] - p["k1"] * sqrt(x[0]), p["k2"] * sqrt(x[0]) + nn[0]]


def test_greybox_parameters_accept_the_names():
    from skneuralode.datasets import two_tank

    b = two_tank(n_samples=30, random_state=0, return_bunch=True)
    params = dict(physics=tanks, physics_params={"k1": 0.1, "k2": 0.1, "k4": 0.1},
                  width=4, max_iter=15, random_state=0)  # fmt: skip
    low = float(b.states[:, 0].min()) - 0.01
    by_index = _quiet_fit(
        CollocationNeuralODE(**params, network_inputs=["x[1]", "u[0]"],
                             state_bounds={"x[0]": (low, None)}),
        b.t, b.states, b.u,
    )  # fmt: skip
    by_name = _quiet_fit(
        CollocationNeuralODE(**params, network_inputs=["h2", "pump"],
                             state_bounds={"h1": (low, None)}),
        b.t, pd.DataFrame(b.states, columns=["h1", "h2"]), pd.DataFrame(b.u, columns=["pump"]),
    )  # fmt: skip
    for a, c in zip(by_index.coefs_ + by_index.intercepts_, by_name.coefs_ + by_name.intercepts_):
        np.testing.assert_array_equal(a, c)
    assert by_index.physics_params_ == by_name.physics_params_
    np.testing.assert_array_equal(
        by_name.estimate_initial_state(b.t[:10], b.states[:10], b.u[:10]),
        by_index.estimate_initial_state(b.t[:10], b.states[:10], b.u[:10]),
    )
    with pytest.raises(ValueError, match="bounds a state twice, by name and by position"):
        CollocationNeuralODE(**params, state_bounds={"h1": (0, None), "x[0]": (0, None)}).fit(
            b.t, pd.DataFrame(b.states, columns=["h1", "h2"]), b.u
        )


# ------------------------------------------------------------ x0 with labels (issue 21)


def test_predict_checks_the_index_of_a_series_x0(data, frames, named):
    """`x0` as a Series (e.g. `X.iloc[0]`) on a model fitted with names: its index must be
    the fitted names in their order, as the columns of a DataFrame `X` (it was not
    checked: `x0[["v", "x"]]` swapped the states silently). On a model fitted without
    names its values are taken in their order, as before."""
    t, X, _ = data
    x0 = frames[1].iloc[0]
    expected = named.predict(t, X[0], as_frame=False)
    np.testing.assert_array_equal(named.predict(t, x0, as_frame=False), expected)
    order = (r"^The index of `x0` must be in the order of fit, \['x', 'v'\]; got "
             r"\['v', 'x'\]\. Reorder it: `x0\[\['x', 'v'\]\]`\.$")  # fmt: skip
    with pytest.raises(ValueError, match=order):
        named.predict(t, x0[["v", "x"]])
    names = (r"^The index of `x0` must be the names seen in fit, \['x', 'v'\]; got "
             r"\['x', 'w'\] \(missing \['v'\], unexpected \['w'\]\)\.$")  # fmt: skip
    with pytest.raises(ValueError, match=names):
        named.predict(t, x0.set_axis(["x", "w"]))
    with pytest.raises(ValueError, match=r"index of `x0` must be the names seen in fit, "
                       r"\['x', 'v'\]; got \[0, 1\]"):  # fmt: skip
        named.predict(t, pd.Series(X[0]))
    plain = CollocationNeuralODE(**PARAMS).fit(t, X)
    np.testing.assert_array_equal(
        plain.predict(t, pd.Series(X[0], index=["v", "x"])), plain.predict(t, X[0])
    )


def test_predict_checks_the_columns_of_a_one_row_dataframe_x0(data, frames, named):
    t, X, _ = data
    np.testing.assert_array_equal(
        named.predict(t, frames[1].iloc[:1], as_frame=False),
        named.predict(t, X[0], as_frame=False),
    )
    order = (r"^The columns of `x0` must be in the order of fit, \['x', 'v'\]; got "
             r"\['v', 'x'\]\. Reorder them: `x0\[\['x', 'v'\]\]`\.$")  # fmt: skip
    with pytest.raises(ValueError, match=order):
        named.predict(t, frames[1][["v", "x"]].iloc[:1])
