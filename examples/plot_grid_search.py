"""
5. Model selection with GridSearchCV and TimeSeriesSplit
========================================================

:class:`~skneuralode.CollocationNeuralODE` is a scikit-learn estimator, so its network
width and collocation degree can be chosen by cross-validation. The times ``t`` play
scikit-learn's ``X`` and the states play ``y``; ``TimeSeriesSplit`` then trains each
candidate on the beginning of the trajectory and scores it on the next time window.
``score`` is the R² of the learned ODE *simulated* from the first sample of that window:
every test score measures extrapolation in time.

The data are 120 noise-free samples of the unforced Van der Pol oscillator (mu=1,
x0=(2, 0)) on [0, 20], about three periods. With ``TimeSeriesSplit(3)`` the first fold
trains on [0, 5] only, less than one period, and scores on (5, 10]: a model that has not
seen a whole cycle may extrapolate badly, and its R² can be far below zero (R² is not
bounded below). Such a fold dominates the mean.

The script prints the cross-validation results and the best parameters, and writes
``plot_grid_search.png``.
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit  # noqa: E402

from skneuralode import CollocationNeuralODE  # noqa: E402
from skneuralode.datasets import van_der_pol  # noqa: E402

# %%
# Search
# ------
# Nine candidates (three widths of the hidden layer, three Radau collocation degrees),
# three folds each, then a refit of the best candidate on all the data. The fits are
# small NLPs (up to 90 samples); ``n_jobs=2`` runs two of them at a time.

t, X = van_der_pol(120, (0, 20))
widths, degrees = [4, 8, 16], [1, 2, 3]
search = GridSearchCV(
    CollocationNeuralODE(alpha=1e-4, random_state=0),
    {"width": widths, "degree": degrees},
    cv=TimeSeriesSplit(3),
    n_jobs=2,
)
start = time.perf_counter()
search.fit(t, X)
elapsed = time.perf_counter() - start

# %%
# Results
# -------
# The mean test R² over the three folds, and each fold's. On the later folds, which train
# on at least one full cycle, every candidate with degree 2 or 3 extrapolates almost
# perfectly; the first fold, which does not, decides the ranking.

res = search.cv_results_
print(f"search time       : {elapsed:.1f} s ({len(res['params'])} candidates x 3 folds + refit)")
print(" width  degree  mean R^2   fold 1   fold 2   fold 3")
mean_r2 = np.empty((len(widths), len(degrees)))
for k, params in enumerate(res["params"]):
    i, j = widths.index(params["width"]), degrees.index(params["degree"])
    mean_r2[i, j] = res["mean_test_score"][k]
    folds = [res[f"split{f}_test_score"][k] for f in range(3)]
    print(
        f"{params['width']:6d}  {params['degree']:6d}  {mean_r2[i, j]:8.3f}  "
        + "  ".join(f"{s:7.3f}" for s in folds)
    )
print(f"best params       : {search.best_params_}")
print(f"best mean R^2     : {search.best_score_:.3f}")
print(f"refit R^2 (train) : {search.score(t, X):.4f}  simulation over [0, 20]")

# %%
# Heat map
# --------
# The color scale is clipped to [-5, 1]: a diverging extrapolation can give R² of -10 or
# less (see the first fold above), which would otherwise squeeze every useful difference
# into one color. Cells below -5 get the darkest color; the annotated values are the
# unclipped means. The best candidate is framed.

fig, ax = plt.subplots(figsize=(5.5, 4.2))
image = ax.imshow(mean_r2, cmap="viridis", vmin=-5.0, vmax=1.0, origin="lower")
for i in range(len(widths)):
    for j in range(len(degrees)):
        value = mean_r2[i, j]
        color = "black" if image.norm(value) > 0.5 else "white"
        ax.text(j, i, f"{value:.2f}", ha="center", va="center", color=color, fontsize=11)
best_i = widths.index(search.best_params_["width"])
best_j = degrees.index(search.best_params_["degree"])
ax.add_patch(plt.Rectangle((best_j - 0.5, best_i - 0.5), 1, 1, fill=False, edgecolor="C3", lw=3))
ax.set_xticks(range(len(degrees)), degrees)
ax.set_yticks(range(len(widths)), widths)
ax.set_xlabel("collocation degree")
ax.set_ylabel("hidden-layer width")
ax.set_title("Mean test R² (TimeSeriesSplit(3))")
fig.colorbar(image, ax=ax, extend="min", label="R² (color clipped at -5)")
fig.tight_layout()
fig.savefig("plot_grid_search.png", dpi=120)
print("plot              : plot_grid_search.png")
