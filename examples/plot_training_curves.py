"""
2. Training curves: collocation vs. sequential training (the paper's Figs. 2 and 3)
===================================================================================

The question behind Figs. 2 and 3 of Shapovalova & Tsay (2025): how fast does the training
error fall when the whole problem is one collocation NLP solved by IPOPT, compared with
sequential training, where an ODE solver runs inside every epoch and Adam follows the
gradient through it?

Same data as the Fig. 1 example (forced Van der Pol, 200 Chebyshev samples on [0, 15],
noise 0.1), the same [2, 32, 2] tanh network, three trainers:

- :class:`~skneuralode.CollocationNeuralODE` (Chebyshev collocation, IPOPT) with
  ``store_iterates=True``: the weights of every IPOPT iterate are recorded with the wall
  time at which IPOPT reported them (model building included). After the fit,
  :meth:`~skneuralode.CollocationNeuralODE.staged_predict` simulates each of them, so
  the collocation curve is the error of *real simulations* of the intermediate models,
  not the NLP's objective (whose states need not satisfy the ODE before convergence);
- diffrax (JAX): Tsit5 with adaptive steps, full-batch Adam, the loss and the Adam step
  compiled by ``jax.jit`` before the clock starts; the compile time is shown separately;
- torchdiffeq (PyTorch): dopri5, full-batch Adam.

Every method is scored the same way: the learned ODE is simulated from the first noisy
sample ``X[0]`` (the true initial state is unknown to a trainer). *Train MSE* is the
simulation against the 200 noisy samples (the loss the sequential trainers minimize);
*test MSE* is the simulation against the noise-free truth on (15, 30]. The sequential
trainers get a fixed wall-time budget each (``BUDGET`` seconds below), which keeps the
example under a minute; ``benchmarks/vs_sequential.py`` gives them 20 times the
collocation time and reports the ratios.

This example needs the ``bench`` extra (``pip install -e .[bench]``: torch, torchdiffeq,
jax, diffrax, optax).
"""

import sys
import time
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 everywhere, like IPOPT and SciPy
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skneuralode import CollocationNeuralODE  # noqa: E402
from skneuralode.datasets import van_der_pol  # noqa: E402

# The sequential trainers are those of ``benchmarks/vs_sequential.py``, in
# ``benchmarks/_sequential.py`` (sphinx-gallery runs an example in its folder, without
# ``__file__``).
HERE = Path(__file__).parent if "__file__" in globals() else Path.cwd()
sys.path.insert(0, str(HERE.resolve().parent / "benchmarks"))
import _sequential as sequential  # noqa: E402

BUDGET = 10.0  # seconds of training for each sequential method
LEARNING_RATE = 1e-2  # Adam, both libraries (the best of 1e-3 ... 3e-2 for diffrax)
WIDTH = 32

# %%
# Data
# ----
# The test grid starts at 0 so the truth is simulated from the true initial state; the
# models are simulated from the first noisy sample over the same grid.

SYSTEM = dict(x0=(0.0, 1.0), mu=1.0, forcing_amplitude=1.0, forcing_frequency=1.0)
train = van_der_pol(
    200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **SYSTEM
)
t, X, x0 = train.t, train.X, train.X[0]
t_all = np.r_[np.linspace(0, 15, 200, endpoint=False), np.linspace(15, 30, 400)]
truth = van_der_pol(t=t_all, return_bunch=True, **SYSTEM)
test = t_all > 15


def train_mse(X_train_sim):
    return float(np.mean((np.asarray(X_train_sim) - X) ** 2))


def test_mse(X_all_sim):
    return float(np.mean((np.asarray(X_all_sim)[test] - truth.X_true[test]) ** 2))


curves = {}  # method -> dict(time, train, test_time, test)

# %%
# Collocation: one NLP, every iterate recorded
# ---------------------------------------------
# ``store_iterates=True`` records the weights from IPOPT's per-iteration callback
# (the default numpy engine, or the pyomo engine with ``solver="pynumero"``).

model = CollocationNeuralODE(
    width=WIDTH,
    alpha=1e-3,
    scheme="chebyshev",
    random_state=0,
    store_iterates=True,
)
model.fit(t, X)
with warnings.catch_warnings():  # an early iterate's simulation may blow up (MSE NaN)
    warnings.simplefilter("ignore", RuntimeWarning)
    colloc_train = [train_mse(p) for p in model.staged_predict(t, x0)]
    colloc_test = [test_mse(p) for p in model.staged_predict(t_all, x0)]
times = model.iterate_times_
curves["collocation (IPOPT)"] = dict(
    time=times, train=colloc_train, test_time=times, test=colloc_test
)
# method, training time, iterations or epochs, train MSE, test MSE, compile time
summary = [
    ("collocation (IPOPT)", model.fit_time_, model.n_iter_, colloc_train[-1], colloc_test[-1], 0.0)
]

# %%
# Sequential training: the shared loop
# ------------------------------------
# Both libraries train the same network, written on standardized states:
# ``dx/dt = s * net((x - m) / s)`` with ``m``, ``s`` the mean and standard deviation of the
# data, from the same Glorot-uniform weights (seed 0, zero biases). Each epoch solves the
# ODE from ``X[0]`` through the 200 sample times, backpropagates the MSE through the
# solver's steps and takes one Adam step. The clock is paused while the test MSE is
# evaluated (at roughly logarithmically spaced times). The trainers and the loop are
# ``benchmarks/_sequential.py``, shared with ``benchmarks/vs_sequential.py``.

mean, scale = X.mean(axis=0), X.std(axis=0)
glorot = sequential.glorot_weights(2, WIDTH, seed=0)


def train_for(budget, trainer, evaluate_test):
    """Train for ``budget`` seconds: the curve, the number of epochs, the training time."""
    training = sequential.train(
        trainer,
        budget=budget,
        check=evaluate_test,
        check_when=sequential.growing_intervals(1.3, 0.05),
    )
    _, test_times, tests = (list(column) for column in zip(*training.checks))
    curve = dict(
        time=np.array(training.times), train=training.losses, test_time=test_times, test=tests
    )
    return curve, training.epochs, training.clock


# %%
# diffrax
# -------
# The loss, its gradient and the Adam step are one function, compiled before the clock
# starts.

start = time.perf_counter()
diffrax_solve = sequential.diffrax_solver(sequential.diffrax_field(mean, scale), x0)
diffrax_adam = sequential.DiffraxAdam(diffrax_solve, t, X, LEARNING_RATE, glorot)
simulate_all = jax.jit(diffrax_solve).lower(diffrax_adam.params, jnp.asarray(t_all)).compile()
compile_time = time.perf_counter() - start

curve, epochs, clock = train_for(
    BUDGET, diffrax_adam, lambda: test_mse(simulate_all(diffrax_adam.params, jnp.asarray(t_all)))
)
curves["diffrax (Adam)"] = curve
summary.append(
    ("diffrax (Adam)", clock, epochs, curve["train"][-1], curve["test"][-1], compile_time)
)

# %%
# torchdiffeq
# -----------

torch_adam = sequential.TorchAdam(glorot, t, X, x0, mean, scale, LEARNING_RATE)
curve, epochs, clock = train_for(BUDGET, torch_adam, lambda: test_mse(torch_adam.simulate(t_all)))
curves["torchdiffeq (Adam)"] = curve
summary.append(("torchdiffeq (Adam)", clock, epochs, curve["train"][-1], curve["test"][-1], 0.0))

# %%
# Summary
# -------
# Training time excludes the evaluation of the test MSE; for diffrax it also excludes
# the JIT compilation, listed in its own column.

print(
    f"{'method':<20} {'time [s]':>9} {'its/epochs':>10} {'train MSE':>10} "
    f"{'test MSE':>9} {'compile [s]':>11}"
)
for name, seconds, n, mse_train, mse_test, compiled in summary:
    print(
        f"{name:<20} {seconds:>9.2f} {n:>10d} {mse_train:>10.4f} {mse_test:>9.4f} "
        f"{compiled:>11.2f}"
    )

# %%
# Plot
# ----
# Left (Fig. 2): training MSE against wall time; right (Fig. 3): test MSE. diffrax's curve
# starts after its JIT compilation (shaded), which a user waits for too. The collocation
# curve jumps: IPOPT's intermediate iterates need not satisfy the collocation equations,
# so their networks are not yet consistent models; the final iterate is.

fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
styles = {"collocation (IPOPT)": "C3o-", "diffrax (Adam)": "C0-", "torchdiffeq (Adam)": "C2-"}
offsets = {"diffrax (Adam)": compile_time}
for ax, key, time_key, title in [
    (axes[0], "train", "time", "Fig. 2: training MSE (simulation vs noisy data)"),
    (axes[1], "test", "test_time", "Fig. 3: test MSE on (15, 30] (vs truth)"),
]:
    ax.axvspan(0, compile_time, color="C0", alpha=0.1, label="diffrax JIT compile")
    for name, curve in curves.items():
        clock = np.asarray(curve[time_key]) + offsets.get(name, 0.0)
        ax.plot(clock, curve[key], styles[name], ms=3, lw=1, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("wall time [s]")
    ax.set_title(title, fontsize=10)
axes[0].legend(fontsize=8)
fig.tight_layout()
fig.savefig("plot_training_curves.png", dpi=120)
print("plot: plot_training_curves.png")
