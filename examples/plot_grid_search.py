"""
5. Model selection: forecast windows and held-out trajectories
==============================================================

:class:`~skneuralode.CollocationNeuralODE` is a scikit-learn estimator, so its width and
regularization can be chosen with ``GridSearchCV``. The times ``t`` play scikit-learn's
``X`` and the states play ``y``. ``score`` is the R² of the learned ODE *simulated* from
the first sample of the test data: on a test window that comes after the training data,
that is a forecast from the state observed at the start of the window.

Such a score ranks models only if every training fold contains the dynamics that its test
window visits. ``TimeSeriesSplit(3)`` on a single trajectory does not guarantee this: its
first fold trains on a quarter of the samples. Here that is less than one period of the
oscillator, every candidate's forecast of the next quarter leaves the data (R² from -56
to -108), and the mean test R² is decided by how badly each one extrapolates.
``TimeSeriesSplit(n_splits=3, test_size=10)`` trains on 70, 80 and 90 of the 100
samples, each more than one period, and scores a forecast of the next 10 samples. Its
ranking agrees with a check that only synthetic data allow: the forecast of the
noise-free oscillator over the next 10 time units.
With several trajectories, ``GroupKFold`` holds out whole trajectories instead; the
trajectory ids reach ``fit`` and ``score`` by metadata routing.

scikit-learn's named scorers (``scoring="neg_mean_squared_error"``) call ``predict(t)``,
which cannot simulate without an initial state. The searches below score with
:func:`skneuralode.metrics.make_simulation_scorer`, which simulates each test window from
its start as ``score`` does: its ``"r2"`` is ``score``'s R² and picks the candidate, and
``"neg_mean_squared_error"`` reports the forecast's mean squared error next to it.

The script prints every score quoted in the documentation and writes
``plot_grid_search.png``.
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import GridSearchCV, GroupKFold, TimeSeriesSplit  # noqa: E402

from skneuralode import CollocationNeuralODE  # noqa: E402
from skneuralode.datasets import van_der_pol  # noqa: E402
from skneuralode.metrics import make_simulation_scorer  # noqa: E402

# %%
# Data and candidates
# -------------------
# The quick start's data: 100 samples of the unforced Van der Pol oscillator (mu=1,
# x0=(2, 0)) on [0, 10] with Gaussian noise of standard deviation 0.05, about 1.5
# periods (the limit cycle's period is 6.66). Eight candidates: two hidden-layer widths,
# four values of ``alpha``. Every fit is seeded (``random_state=0``, also for the noise),
# so the numbers below are reproducible.

t, X = van_der_pol(n_samples=100, t_span=(0, 10), noise=0.05, random_state=0)
grid = {"width": [8, 16], "alpha": [1e-5, 1e-4, 1e-3, 1e-2]}
model = CollocationNeuralODE(random_state=0)
# R^2 of the simulations (= score, which picks the candidate) and their mean squared error
scoring = {
    "r2": make_simulation_scorer("r2"),
    "mse": make_simulation_scorer("neg_mean_squared_error"),
}


def search(cv, *args, **kwargs):
    """Run GridSearchCV with ``cv`` and print its folds and scores per candidate."""
    start = time.perf_counter()
    result = GridSearchCV(model, grid, cv=cv, scoring=scoring, refit="r2", n_jobs=2)
    result.fit(t, X, *args, **kwargs)
    res, n_folds = result.cv_results_, result.n_splits_
    print(f"\n{cv}  ({time.perf_counter() - start:.1f} s)")
    print(
        " width   alpha  mean R^2  mean MSE  " + "  ".join(f"R^2 f{f + 1}" for f in range(n_folds))
    )
    for k, params in enumerate(res["params"]):
        folds = "  ".join(f"{res[f'split{f}_test_r2'][k]:7.3f}" for f in range(n_folds))
        mean, mse = res["mean_test_r2"][k], -res["mean_test_mse"][k]
        print(f"{params['width']:6d}  {params['alpha']:.0e}  {mean:8.3f}  {mse:8.3g}  {folds}")
    print(f"best params  : {result.best_params_}")
    print(f"best mean R^2: {result.best_score_:.3f}")
    return result


def spans(cv):
    """(training samples, test samples) of every fold, as index ranges."""
    return [(f"0-{tr[-1]}", f"{te[0]}-{te[-1]}") for tr, te in cv.split(t)]


# %%
# Folds that train on a quarter of the trajectory
# -----------------------------------------------
# ``TimeSeriesSplit(3)`` cuts the 100 samples into four blocks of 25: fold 1 trains on
# [0, 2.4] and forecasts [2.5, 4.9], fold 2 trains on [0, 4.9]. Neither training set
# contains one cycle of the oscillator: the network has never seen the part of the state
# space that the test window visits, and every candidate's forecast leaves the data
# there. R² has no lower bound, so fold 1's large negative values decide the mean, and
# the search picks whatever diverged least (``best_score_`` near -18).

old_cv = TimeSeriesSplit(n_splits=3)
print("TimeSeriesSplit(3) folds (train, test):", spans(old_cv))
old = search(old_cv)

# %%
# Folds that train on most of the trajectory
# ------------------------------------------
# ``test_size=10`` keeps the test windows short (one time unit) and puts them at the end,
# so the training folds hold 70, 80 and 90 samples: at least [0, 6.97], more than one
# period. Every fold now forecasts a region of the state space the model has been
# trained on, and the scores are comparable between candidates. Larger ``alpha``
# regularizes the field more and scores lower; the two smallest values are close, and
# the two widths tie.

new_cv = TimeSeriesSplit(n_splits=3, test_size=10)
print("\nTimeSeriesSplit(3, test_size=10) folds (train, test):", spans(new_cv))
new = search(new_cv)

# %%
# Check against the truth
# -----------------------
# With synthetic data, each candidate can be judged directly: fit it on all 100 samples
# (what the search's refit does for the winner) and forecast the noise-free oscillator on
# [10, 20], started from the true state at t=10. This is ten time units further than any
# test window, and the ``alpha`` values rank as they do with ``test_size=10``, not as
# with ``TimeSeriesSplit(3)`` (the two widths tie to four digits).

t_truth, X_truth = van_der_pol(n_samples=201, t_span=(0, 20))  # noise-free, same x0
t_future, X_future = t_truth[100:], X_truth[100:]  # t in [10, 20]
params = new.cv_results_["params"]
fits = [clone(model).set_params(**p).fit(t, X) for p in params]
truth = np.array([fit.score(t_future, X_future) for fit in fits])
print("\nforecast R^2 on [10, 20] (noise-free truth), each candidate fitted on all the data")
for p, score in zip(params, truth):
    print(f"{p['width']:6d}  {p['alpha']:.0e}  {score:8.4f}")
print(f"best by truth: {params[int(np.argmax(truth))]}")

# %%
# Several trajectories: hold out whole trajectories
# -------------------------------------------------
# With several trajectories, ``GroupKFold`` with the trajectory ids as ``groups`` trains
# on some trajectories and scores the others, each simulated from its own first sample:
# a prediction from an initial state the model was not trained on. Four trajectories of
# 40 noisy samples on [0, 8]; ``GroupKFold(4)`` leaves one out per fold. The ids also go
# to ``fit`` and ``score`` as ``trajectory=``, through metadata routing, so that each
# training fold gets one collocation chain per trajectory and each test fold is
# simulated trajectory by trajectory. The smallest ``alpha`` wins; ``1e-4`` and ``1e-3``
# predict the trajectory from (1, 1) poorly, and ``1e-2`` is mediocre on all four.

starts = [(2, 0), (1, 1), (-1.5, 0.5), (0.5, -2)]
runs = [van_der_pol(40, (0, 8), x0=x0, noise=0.05, random_state=k) for k, x0 in enumerate(starts)]
t_many = np.concatenate([t_k for t_k, _ in runs])
X_many = np.vstack([X_k for _, X_k in runs])
traj = np.repeat(np.arange(len(runs)), 40)
group_cv = GroupKFold(n_splits=4)
held_out = [starts[traj[test][0]] for _, test in group_cv.split(t_many, groups=traj)]

with sklearn.config_context(enable_metadata_routing=True):
    routed = (
        CollocationNeuralODE(width=8, random_state=0)
        .set_fit_request(trajectory=True)
        .set_score_request(trajectory=True)
    )
    start = time.perf_counter()
    groups = GridSearchCV(routed, {"alpha": grid["alpha"]}, cv=group_cv, n_jobs=2)
    groups.fit(t_many, X_many, groups=traj, trajectory=traj)
res = groups.cv_results_
print(f"\nGroupKFold(4) over 4 trajectories, width 8 ({time.perf_counter() - start:.1f} s)")
print("held-out trajectory (x0) of folds 1-4:", held_out)
print(" alpha  mean R^2  " + "  ".join(f" fold {f + 1}" for f in range(4)))
for k, p in enumerate(res["params"]):
    folds = "  ".join(f"{res[f'split{f}_test_score'][k]:7.3f}" for f in range(4))
    print(f"{p['alpha']:.0e}  {res['mean_test_score'][k]:8.3f}  {folds}")
print(f"best params  : {groups.best_params_}")
print(f"best mean R^2: {groups.best_score_:.3f}")

# %%
# Figure
# ------
# Left: the data and the folds of both splitters (training span as a line, test window as
# a box); the dashed line marks one period of the oscillator. Right: the mean test R² of
# every candidate under both splitters, and the forecast R² against the truth. The axis
# is cut at -1; bars that go below it are labeled with their value.

fig, (ax_folds, ax_scores) = plt.subplots(1, 2, figsize=(11, 4.2), width_ratios=[1, 1.4])
ax_folds.plot(t, X[:, 0], ".", color="0.6", ms=3, label="data $x_1$")
for row, (name, cv) in enumerate([("TimeSeriesSplit(3)", old_cv), ("test_size=10", new_cv)]):
    for f, (train, test) in enumerate(cv.split(t)):
        y = -3.0 - 0.45 * (3 * row + f) - 0.4 * row
        ax_folds.plot([t[train[0]], t[train[-1]]], [y, y], color="C0", lw=3)
        ax_folds.plot([t[test[0]], t[test[-1]]], [y, y], color="C3", lw=7, solid_capstyle="butt")
    ax_folds.text(10.2, -3.45 - 1.75 * row, name, va="center", fontsize=9)
ax_folds.axvline(6.66, color="k", ls="--", lw=0.8, label="one period")
ax_folds.plot([], [], color="C0", lw=3, label="train")
ax_folds.plot([], [], color="C3", lw=7, label="test")
ax_folds.set_xlim(-0.3, 15.5)
ax_folds.set_yticks([])
ax_folds.set_xlabel("t")
ax_folds.legend(loc="upper right", fontsize=8)
ax_folds.set_title("Folds on one trajectory")

labels = [f"w={p['width']}\nα={p['alpha']:.0e}" for p in params]
bars = {
    "TimeSeriesSplit(3)": old.cv_results_["mean_test_r2"],
    "TimeSeriesSplit(3, test_size=10)": new.cv_results_["mean_test_r2"],
    "forecast on [10, 20] vs truth": truth,
}
x = np.arange(len(params))
for k, (name, values) in enumerate(bars.items()):
    pos = x + (k - 1) * 0.27
    ax_scores.bar(pos, np.maximum(values, -1.0), width=0.27, color=f"C{k}", label=name)
    for where, v in zip(pos, values):
        if v < -1.0:
            label = f"{v:.1f}"
            ax_scores.text(where, -0.97, label, ha="center", va="bottom", rotation=90, color="w")
ax_scores.axhline(0.0, color="k", lw=0.8)
ax_scores.set_ylim(-1.0, 1.4)
ax_scores.set_xticks(x, labels, fontsize=8)
ax_scores.set_ylabel("R² (axis cut at -1)")
ax_scores.legend(loc="upper center", ncol=2, fontsize=8)
ax_scores.set_title("Mean test R² per candidate")
fig.tight_layout()
fig.savefig("plot_grid_search.png", dpi=120)
print("\nplot         : plot_grid_search.png")
