"""SimulationDisplay (skneuralode.inspection) and the estimators' summary()."""

import copy
import pickle
import re
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skneuralode import ADMMNeuralODE, CollocationNeuralODE  # noqa: E402
from skneuralode._diagnostics import warmup_length  # noqa: E402
from skneuralode.datasets import two_tank, van_der_pol  # noqa: E402
from skneuralode.inspection import SimulationDisplay  # noqa: E402
from skneuralode.physics import sqrt  # noqa: E402

#: Deterministic numerics (the same simulation, statistics by hand): round-off only.
EXACT = dict(rtol=1e-12, atol=1e-12)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def vdp():
    t, X = van_der_pol(n_samples=60)
    return t, X, CollocationNeuralODE(width=8, random_state=0).fit(t, X)


@pytest.fixture(scope="module")
def tank():
    """One measured level, one latent state, one piecewise-constant input."""
    data = two_tank(n_samples=120, noise=0.02, random_state=0, return_bunch=True)
    model = CollocationNeuralODE(width=8, n_latent=1, u_interpolation="previous",
                                 random_state=0)  # fmt: skip
    return data, model.fit(data.t, data.y, u=data.u)


@pytest.fixture(scope="module")
def admm(vdp):
    t, X, _ = vdp
    model = ADMMNeuralODE(CollocationNeuralODE(width=8, random_state=0), n_batches=2,
                          max_iter=2)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # max_iter=2: a ConvergenceWarning
        return model.fit(t, X)


def hand_fit(y, y_hat):
    return 100.0 * (1.0 - np.linalg.norm(y - y_hat) / np.linalg.norm(y - y.mean()))


def hand_acf(e, k):
    e = e - e.mean()
    return np.sum(e[: len(e) - k] * e[k:]) / np.sum(e**2)


def span(ax, patch):
    """(left, right) of an axvspan, data units."""
    x = ax.transData.inverted().transform(patch.get_verts())[:, 0]
    return x.min(), x.max()


# ------------------------------------------------------------------ display
def test_lines_and_residuals_are_the_simulation_from_the_first_sample(vdp):
    t, X, model = vdp
    display = SimulationDisplay.from_estimator(model, t, X)
    X_sim = model.predict(t, X[0])
    assert display.axes_.shape == (3, 2)  # simulation, residuals, ACF; two states
    assert display.figure_ is display.axes_[0, 0].figure
    for i in range(2):
        np.testing.assert_array_equal(display.simulated_lines_[i].get_xdata(), t)
        np.testing.assert_allclose(display.simulated_lines_[i].get_ydata(), X_sim[:, i], **EXACT)
        np.testing.assert_array_equal(display.measured_lines_[i].get_ydata(), X[:, i])
        np.testing.assert_allclose(display.residual_lines_[i].get_ydata(), X[:, i] - X_sim[:, i],
                                   **EXACT)  # fmt: skip
    np.testing.assert_allclose(display.residuals, X - X_sim, **EXACT)
    assert display.scored.all() and display.warmup_spans_ == []


def test_fit_percent_and_r2_by_hand_and_equal_to_score(vdp):
    t, X, model = vdp
    display = SimulationDisplay.from_estimator(model, t, X)
    X_sim = model.predict(t, X[0])
    fits = [hand_fit(X[:, i], X_sim[:, i]) for i in range(2)]
    np.testing.assert_allclose(display.fit_percent, fits, **EXACT)
    np.testing.assert_allclose(display.nrmse, 1 - np.array(fits) / 100, **EXACT)
    np.testing.assert_allclose(display.r2.mean(), model.score(t, X), rtol=1e-12)
    assert display.fit_percent.min() > 90  # a good fit on its training data
    assert "x0: fit" in display.axes_[0, 0].get_title()


def test_acf_is_one_at_lag_zero_and_matches_a_hand_computation(vdp):
    t, X, model = vdp
    display = SimulationDisplay.from_estimator(model, t, X, max_lags=10)
    e = X - model.predict(t, X[0])
    np.testing.assert_array_equal(display.lags, np.arange(11))
    np.testing.assert_allclose(display.acf[0], 1.0, **EXACT)
    for i in range(2):
        hand = [hand_acf(e[:, i], k) for k in range(11)]
        np.testing.assert_allclose(display.acf[:, i], hand, **EXACT)
        np.testing.assert_allclose(display.acf_lines_[i].get_ydata(), hand, **EXACT)
    np.testing.assert_allclose(display.acf_band, 1.96 / np.sqrt(60), **EXACT)
    assert display.ccf is None and display.ccf_lines_ is None  # no inputs


def test_latent_model_shades_the_warmup_and_leaves_it_unscored(tank):
    data, model = tank
    display = SimulationDisplay.from_estimator(model, data.t, data.y, u=data.u)
    warmup = warmup_length(120, 2)  # one observed + one latent state
    assert warmup == 12
    assert not display.scored[:warmup].any() and display.scored[warmup:].all()
    x0 = model.estimate_initial_state(data.t[:warmup], data.y[:warmup], u=data.u[:warmup])
    X_sim = model.predict(data.t, x0, u=data.u)
    np.testing.assert_allclose(display.simulated_lines_[0].get_ydata(), X_sim[:, 0], rtol=1e-9)
    y, y_hat = data.y[warmup:, 0], X_sim[warmup:, 0]
    np.testing.assert_allclose(display.fit_percent[0], hand_fit(y, y_hat), rtol=1e-9)
    np.testing.assert_allclose(display.r2.mean(), model.score(data.t, data.y, u=data.u),
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose(display.acf[:4, 0], [hand_acf(y - y_hat, k) for k in range(4)],
                               rtol=1e-9)  # fmt: skip
    np.testing.assert_allclose(display.acf_band, 1.96 / np.sqrt(120 - warmup), **EXACT)
    # the warm-up window, shaded on the simulation and residual axes
    assert len(display.warmup_spans_) == 2
    assert span(display.axes_[0, 0], display.warmup_spans_[0]) == pytest.approx(
        (data.t[0], data.t[warmup - 1])
    )
    # with an input: a fourth row, the residual-input cross-correlation
    assert display.axes_.shape == (4, 1) and display.ccf.shape == (51, 1, 1)
    e, u = y - y_hat, data.u[warmup:, 0]
    e, u = e - e.mean(), u - u.mean()
    for k in (-3, 0, 5):
        pairs = u[: len(u) - k] @ e[k:] if k >= 0 else u[-k:] @ e[: len(e) + k]
        hand = pairs / np.sqrt(np.sum(u**2) * np.sum(e**2))
        np.testing.assert_allclose(display.ccf[k + 25, 0, 0], hand, rtol=1e-9)
    assert "u0" in display.axes_[3, 0].get_ylabel()


def test_missing_entries_are_left_out(vdp):
    t, X, model = vdp
    X = X.copy()
    X[[5, 17, 40], 1] = np.nan
    display = SimulationDisplay.from_estimator(model, t, X)
    X_sim = model.predict(t, X[0])
    assert np.isnan(display.residuals[[5, 17, 40], 1]).all()
    observed = np.isfinite(X[:, 1])
    np.testing.assert_allclose(display.fit_percent[1],
                               hand_fit(X[observed, 1], X_sim[observed, 1]), **EXACT)  # fmt: skip
    np.testing.assert_allclose(display.acf[0], 1.0, **EXACT)
    np.testing.assert_allclose(display.acf_band, 1.96 / np.sqrt([60, 57]), **EXACT)
    # pairs with a missing entry drop out: the centred residuals are 0 there
    e = np.where(observed, X[:, 1] - X_sim[:, 1], np.nan)
    e = np.nan_to_num(e - np.nanmean(e))
    np.testing.assert_allclose(display.acf[2, 1], np.sum(e[:-2] * e[2:]) / np.sum(e**2), **EXACT)


def test_missing_first_entry_starts_from_a_warmup_estimate(vdp):
    t, X, model = vdp
    X = X.copy()
    X[0, 0] = np.nan
    display = SimulationDisplay.from_estimator(model, t, X)
    warmup = warmup_length(60, 2)
    assert not display.scored[:warmup].any() and display.scored[warmup:].all()
    assert display.warmup_spans_ and np.isfinite(display.fit_percent).all()
    np.testing.assert_allclose(display.r2.mean(), model.score(t, X), rtol=1e-9)


def test_several_trajectories_are_simulated_and_correlated_separately(vdp):
    t1, X1, model = vdp
    t2, X2 = van_der_pol(n_samples=60, x0=(1.0, 1.0))
    t, X = np.concatenate([t1, t2]), np.vstack([X1, X2])
    trajectory = np.repeat([0, 1], 60)
    display = SimulationDisplay.from_estimator(model, t, X, trajectory=trajectory, max_lags=3)
    sims = [model.predict(t1, X1[0]), model.predict(t2, X2[0])]
    line = display.simulated_lines_[0].get_ydata()
    assert np.isnan(line[60])  # a break between the trajectories
    np.testing.assert_allclose(line[:60], sims[0][:, 0], **EXACT)
    np.testing.assert_allclose(line[61:], sims[1][:, 0], **EXACT)
    e = np.vstack([X1, X2])[:, 0] - np.vstack(sims)[:, 0]
    e = e - e.mean()
    pairs = e[:59] @ e[1:60] + e[60:119] @ e[61:]  # never across the two
    np.testing.assert_allclose(display.acf[1, 0], pairs / np.sum(e**2), **EXACT)
    np.testing.assert_allclose(display.r2.mean(), model.score(t, X, trajectory=trajectory),
                               rtol=1e-12)  # fmt: skip


def test_admm_model_is_simulated_with_its_consensus(vdp, admm):
    t, X, _ = vdp
    display = SimulationDisplay.from_estimator(admm, t, X, states=["x1"])
    assert display.axes_.shape == (3, 1)
    np.testing.assert_allclose(display.simulated_lines_[0].get_ydata(),
                               admm.predict(t, X[0])[:, 1], **EXACT)  # fmt: skip


def test_given_axes_are_used(vdp):
    t, X, model = vdp
    fig, ax = plt.subplots(figsize=(8, 6))
    display = SimulationDisplay.from_estimator(model, t, X, ax=ax)
    assert display.figure_ is fig and display.axes_.shape == (3, 2)
    assert not ax.axison and all(a.figure is fig for a in display.axes_.flat)
    fig, axes = plt.subplots(3, 1)
    display = SimulationDisplay.from_estimator(model, t, X, states=1, ax=axes)
    assert list(display.axes_[:, 0]) == list(axes)
    assert display.measured_lines_[0] in axes[0].lines
    np.testing.assert_array_equal(display.measured_lines_[0].get_ydata(), X[:, 1])
    with pytest.raises(ValueError, match=r"`ax` must hold 6 Axes \(3 rows x 2 plotted"):
        SimulationDisplay.from_estimator(model, t, X, ax=axes)


def test_from_predictions(vdp):
    pd = pytest.importorskip("pandas")
    t, X, model = vdp
    X_sim = model.predict(t, X[0])
    display = SimulationDisplay.from_predictions(
        t, pd.DataFrame(X, columns=["position", "velocity"]), X_sim, warmup=5
    )
    assert display.state_names == ["position", "velocity"]
    assert display.axes_[0, 1].get_title().startswith("velocity: fit")
    assert not display.scored[:5].any() and display.scored[5:].all()
    np.testing.assert_allclose(display.fit_percent[0], hand_fit(X[5:, 0], X_sim[5:, 0]), **EXACT)
    np.testing.assert_allclose(display.residuals, X - X_sim, **EXACT)
    display = SimulationDisplay.from_predictions(t, X, X_sim, states=["x0"],
                                                 state_names=["x0", "x1"])  # fmt: skip
    assert display.axes_.shape == (3, 1)
    with pytest.raises(ValueError, match=r"`X_pred` must have the shape of `X`, \(60, 2\)"):
        SimulationDisplay.from_predictions(t, X, X_sim[:, :1])
    with pytest.raises(ValueError, match="`states` must name observed states"):
        SimulationDisplay.from_predictions(t, X, X_sim, states=["h2"])
    with pytest.raises(ValueError, match="`warmup` must be an integer >= 0"):
        SimulationDisplay.from_predictions(t, X, X_sim, warmup=-1)


def test_diverged_simulation_scores_minus_infinity():
    t, X = van_der_pol(n_samples=30)
    X_pred = X + 0.01 * np.sin(np.arange(30))[:, None]
    X_pred[20:] = np.nan  # what predict returns after an integration failure
    display = SimulationDisplay(t, X, X_pred)
    assert np.all(display.fit_percent == -np.inf) and np.all(display.r2 == -np.inf)
    np.testing.assert_allclose(display.acf[0], 1.0)  # residuals of the first 20 samples


def test_without_matplotlib_the_error_says_how_to_install_it(vdp, monkeypatch):
    t, X, model = vdp
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=re.escape('pip install "skneuralode[examples]"')):
        SimulationDisplay.from_estimator(model, t, X)
    with pytest.raises(ImportError, match="matplotlib"):
        SimulationDisplay.from_predictions(t, X, X)
    display = SimulationDisplay(t, X, X)  # the statistics need no matplotlib
    np.testing.assert_array_equal(display.fit_percent, [100.0, 100.0])


def test_from_estimator_errors(vdp):
    t, X, model = vdp
    with pytest.raises(NotFittedError):
        SimulationDisplay.from_estimator(CollocationNeuralODE(), t, X)
    with pytest.raises(ValueError, match="`X` must have the 2 state column"):
        SimulationDisplay.from_estimator(model, t, X[:, :1])


# ------------------------------------------------------------------ summary
def value_of(text, key):
    """The value on the ``key`` line of a summary (with its wrapped continuation lines)."""
    match = re.search(rf"^  {re.escape(key)} +(.*(?:\n {{25}}\S.*)*)$", text, flags=re.MULTILINE)
    assert match, f"no {key!r} line in\n{text}"
    return " ".join(part.strip() for part in match.group(1).splitlines())


def test_summary_reports_the_fitted_attributes(vdp):
    _, _, model = vdp
    text = model.summary()
    assert text.startswith("CollocationNeuralODE (fitted)")
    assert value_of(text, "status") == f"{model.solver_status_} (converged)"
    assert value_of(text, "IPOPT iterations") == str(model.n_iter_)
    assert value_of(text, "variables") == str(model.n_variables_)
    assert value_of(text, "constraints") == str(model.n_constraints_)
    assert value_of(text, "train MSE").startswith(f"{model.train_mse_:.4g} ")
    assert value_of(text, "discretization error").startswith(
        f"{model.discretization_error_:.3g} (RMS, standard deviations; tolerance 0.1)"
    )
    assert value_of(text, "engine") == f"{model.engine_} (route {model.solver_})"
    assert value_of(text, "states") == "2 observed (x0, x1)"
    assert value_of(text, "network") == "2 -> 8 -> 2: 1 hidden layer of 8 (tanh), 42 parameters"
    assert value_of(text, "nodes") == str(len(model.collocation_times_))
    assert value_of(text, "elements").startswith("59 finite elements in 1 collocation chain")
    assert value_of(text, "fit time").startswith(f"{model.fit_time_:.3g} s (setup")
    for title in ("Model", "Discretization", "NLP", "Solver", "Fit quality"):
        assert f"\n{title}\n" in text
    assert max(len(line) for line in text.splitlines()) <= 88


def test_summary_of_a_latent_model_with_inputs(tank):
    _, model = tank
    text = model.summary()
    assert value_of(text, "latent states") == "1 (z0)"
    assert value_of(text, "inputs") == "1 (u0)"
    assert value_of(text, "network").startswith("3 -> 8 -> 2:")


def test_summary_of_admm(admm):
    text = admm.summary()
    h = admm.history_
    assert text.startswith("ADMMNeuralODE (fitted)\n\nADMM\n")
    assert value_of(text, "iterations") == f"{admm.n_iter_} (max_iter=2)"
    assert value_of(text, "stop reason") == "max_iter (not converged)"
    assert value_of(text, "primal residual") == (
        f"{h['primal_residual'][-1]:.3g} (tolerance {h['primal_tolerance'][-1]:.3g})"
    )
    assert value_of(text, "dual residual").startswith(f"{h['dual_residual'][-1]:.3g} ")
    est = admm.estimator_
    assert value_of(text, "IPOPT iterations") == str(est.n_iter_)
    assert value_of(text, "variables") == str(est.n_variables_)
    assert "collocation chains" in value_of(text, "elements")  # one per batch
    assert "\nNLP (all batches)\n" in text


def tanks(x, u, p, nn):
    h2, h1 = x
    return [p["k2"] * sqrt(h1) + nn[0], p["k4"] * u[0] - p["k1"] * sqrt(h1)]


@pytest.fixture(scope="module")
def greybox():
    """Two-tank physics with k2 fixed, k1 and k4 fitted, a network on one state."""
    data = two_tank(n_samples=100, noise=0.02, random_state=0, return_bunch=True)
    return CollocationNeuralODE(
        physics=tanks, physics_params={"k1": 0.1, "k2": 0.2, "k4": 0.1}, physics_fixed=["k2"],
        physics_bounds={"k1": (0, None), "k4": (0, None)}, n_latent=1, latent_start=[3.0],
        network_inputs=["x[0]"], alpha=1e-5, width=4, u_interpolation="previous",
        random_state=0,
    ).fit(data.t, data.y, u=data.u)  # fmt: skip


def test_summary_lists_physical_parameters_with_standard_errors(greybox):
    model = greybox
    text = model.summary()
    assert "\nPhysical parameters\n" in text
    p, std = model.physics_params_, model.physics_std_
    assert value_of(text, "k1") == f"{p['k1']:.6g} ± {std['k1']:.2g} (std error)"
    assert value_of(text, "k2") == "0.2 (fixed)"


#: Fitted attributes the summary reads that models fitted before they existed lack (git
#: history of skneuralode/_fitted.py and _estimator.py): engine_ (2026-12-02, the numpy
#: engine), discretization_error_ (2026-12-02), timings_ (2026-12-05).
OLDER = ("engine_", "discretization_error_", "timings_")
NOT_RECORDED = r"not recorded \(model fitted by an older version\)"


def _older(model, *names):
    """A copy of ``model`` as an older version pickled it: without ``names`` (an ADMM
    model's own attributes, or else its consensus model's)."""
    old = copy.deepcopy(model)
    for name in names:
        delattr(old if name in vars(old) else old.estimator_, name)
    return pickle.loads(pickle.dumps(old))


def test_summary_of_a_model_fitted_by_an_older_version(vdp):
    """A model pickled before `engine_`, `discretization_error_` or `timings_` existed: its
    summary says they were not recorded (it raised AttributeError), the rest as before."""
    _, _, model = vdp
    text = _older(model, *OLDER).summary()
    assert re.fullmatch(rf"{NOT_RECORDED}; route {model.solver_}", value_of(text, "engine"))
    assert value_of(text, "fit time") == (
        f"{model.fit_time_:.3g} s (its phases not recorded: model fitted by an older version)"
    )
    assert re.fullmatch(NOT_RECORDED, value_of(text, "discretization error"))
    now = model.summary()
    keys = [line[2:24].strip() for line in text.splitlines() if re.match(r"  \S", line)]
    differ = [key for key in keys if value_of(text, key) != value_of(now, key)]
    assert differ == ["engine", "fit time", "discretization error"]


def test_summary_of_admm_fitted_by_an_older_version(admm):
    """ADMM's `stop_reason_` (2026-12-02) and `init_time_` (2026-12-06), and its consensus
    model's attributes above."""
    text = _older(admm, "stop_reason_", "init_time_", *OLDER).summary()
    assert re.fullmatch(rf"{NOT_RECORDED}; not converged", value_of(text, "stop reason"))
    assert value_of(text, "time") == (
        f"{admm.fit_time_:.3g} s (initial fit not recorded: model fitted by an older version)"
    )
    assert re.fullmatch(NOT_RECORDED, value_of(text, "discretization error"))


def test_summary_of_a_greybox_model_fitted_before_standard_errors(greybox):
    """`physics_std_` and `physics_covariance_info_` (2026-12-05): the fitted parameters'
    standard errors were not recorded (the summary called every parameter "fixed")."""
    text = _older(greybox, "physics_std_", "physics_covariance_info_").summary()
    p = greybox.physics_params_
    for name in ("k1", "k4"):
        assert value_of(text, name) == (
            f"{p[name]:.6g} (std error not recorded: model fitted by an older version)"
        )
    assert value_of(text, "k2") == "0.2 (fixed)"


def test_summary_of_an_unfitted_model_raises():
    with pytest.raises(NotFittedError):
        CollocationNeuralODE().summary()
    with pytest.raises(NotFittedError):
        ADMMNeuralODE().summary()


def test_labels_are_the_model_state_names(vdp):
    """A model fitted with names (``state_names_``, the names contract of ``_names``)."""
    t, X, model = vdp
    named = copy.deepcopy(model)
    named.state_names_ = ["position", "velocity"]
    display = SimulationDisplay.from_estimator(named, t, X, states=["velocity"])
    assert display.state_names == ["position", "velocity"]
    assert display.axes_[0, 0].get_title().startswith("velocity: fit")
    assert display.axes_[0, 0].get_ylabel() == "velocity"
    assert value_of(named.summary(), "states") == "2 observed (position, velocity)"
