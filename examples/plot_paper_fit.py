"""
1. Fitting the forced Van der Pol oscillator (the paper's Fig. 1)
=================================================================

The setting of Fig. 1 of Shapovalova & Tsay (2025): the forced Van der Pol oscillator

.. math::

    \\dot x_1 = x_2, \\qquad \\dot x_2 = \\mu (1 - x_1^2) x_2 - x_1 + A \\cos(\\omega t)

with mu=1, A=1, omega=1 and x0=(0, 1), observed at 200 Chebyshev points on [0, 15] with
Gaussian noise of standard deviation 0.1. A [2, 32, 2] tanh network ``f_theta(x)`` is
trained as one collocation NLP (Chebyshev collocation, the paper's scheme) solved by IPOPT.

The learned ODE is then simulated from the initial state over [0, 30]. The span [15, 30],
400 uniform points, is never seen in training: it measures extrapolation. The model does
not see the forcing ``A cos(omega t)``: it must explain the data by ``dx/dt = f_theta(x)``
alone, as in the paper's figure; on the test span the simulation keeps the shape of the
limit cycle but slowly drifts out of phase with the truth.

``make demo`` runs this script (after installing everything); ``python
examples/plot_paper_fit.py`` does too. It prints the fit statistics and writes
``plot_paper_fit.png``.
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skneuralode import CollocationNeuralODE  # noqa: E402
from skneuralode.datasets import van_der_pol  # noqa: E402

# %%
# Data
# ----
# Training: 200 noisy samples on a Chebyshev grid over [0, 15]. Test: 400 uniform points
# on [15, 30]. The noise-free truth on the test span is simulated from the same initial
# state at t=0, so the time grid passed to ``van_der_pol(t=...)`` starts at 0; a dense
# grid on [0, 15) in front of the test points also gives the truth curve to plot there.

SYSTEM = dict(x0=(0.0, 1.0), mu=1.0, forcing_amplitude=1.0, forcing_frequency=1.0)
train = van_der_pol(
    200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **SYSTEM
)
t_test = np.linspace(15, 30, 400)
t_all = np.r_[np.linspace(0, 15, 300, endpoint=False), t_test]
truth = van_der_pol(t=t_all, return_bunch=True, **SYSTEM)
test = t_all >= 15

# %%
# Fit
# ---
# One NLP: the collocation states and the network weights are its unknowns.

model = CollocationNeuralODE(width=32, alpha=1e-3, scheme="chebyshev", random_state=0)
start = time.perf_counter()
model.fit(train.t, train.X)
elapsed = time.perf_counter() - start

# %%
# Simulate and score
# ------------------
# ``predict`` integrates the learned ODE with SciPy from the true initial state.

X_sim = model.predict(t_all, x0=truth.X_true[0])
X_sim_train = model.predict(train.t, x0=truth.X_true[0])
X_true_train = van_der_pol(t=train.t, **SYSTEM)[1]


def mse(a, b):
    return float(np.mean((a - b) ** 2))


print(f"engine / solver   : {model.engine_} / {model.solver_} ({model.solver_status_})")
print(
    f"fit time          : {elapsed:.2f} s "
    f"(set-up {model.build_time_:.2f} s, IPOPT {model.solve_time_:.2f} s)"
)
print(f"IPOPT iterations  : {model.n_iter_}")
print(f"NLP size          : {model.n_variables_} variables, {model.n_constraints_} constraints")
print(f"train MSE (colloc): {model.train_mse_:.4f}  collocation trajectory vs noisy samples")
print(f"train MSE (data)  : {mse(X_sim_train, train.X):.4f}  simulation vs noisy samples")
print(f"train MSE (truth) : {mse(X_sim_train, X_true_train):.4f}  simulation vs noise-free")
print(f"test MSE (truth)  : {mse(X_sim[test], truth.X_true[test]):.4f}  t in [15, 30]")

# %%
# Plot
# ----
# Noisy training data, the noise-free truth and the simulation of the learned ODE for
# both states; the shaded span is the test span.

fig, axes = plt.subplots(2, 1, figsize=(9, 6), sharex=True)
for i, ax in enumerate(axes):
    ax.plot(train.t, train.X[:, i], ".", ms=3, color="0.6", label="training data (noisy)")
    ax.plot(t_all, truth.X_true[:, i], "k-", lw=1, label="truth (noise-free)")
    ax.plot(t_all, X_sim[:, i], "C3--", lw=1.5, label="neural ODE simulation")
    ax.axvspan(15, 30, color="C0", alpha=0.06)
    ax.set_ylabel(f"$x_{i + 1}$")
axes[0].legend(loc="upper left", fontsize=8)
axes[0].set_title("Forced Van der Pol, collocation-trained neural ODE (shaded: test span)")
axes[1].set_xlabel("t")
fig.tight_layout()
fig.savefig("plot_paper_fit.png", dpi=120)
print("plot              : plot_paper_fit.png")
