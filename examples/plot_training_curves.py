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

import time
import warnings

import matplotlib

matplotlib.use("Agg")
import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # float64 everywhere, like IPOPT and SciPy
import diffrax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
import torch  # noqa: E402
from torchdiffeq import odeint  # noqa: E402

from skneuralode import CollocationNeuralODE  # noqa: E402
from skneuralode.datasets import van_der_pol  # noqa: E402

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
# (cyipopt: the default numpy engine, or the pyomo engine with ``solver="cyipopt"``).

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
# evaluated (at roughly logarithmically spaced times).

mean, scale = X.mean(axis=0), X.std(axis=0)
rng = np.random.RandomState(0)
glorot = []
for n_in, n_out in [(2, WIDTH), (WIDTH, 2)]:
    limit = np.sqrt(6.0 / (n_in + n_out))
    glorot += [rng.uniform(-limit, limit, size=(n_in, n_out)), np.zeros(n_out)]


def train_for(budget, epoch, evaluate_test):
    """Run ``epoch()`` (returns the loss before its update) for ``budget`` seconds."""
    times, losses, test_times, tests = [], [], [], []
    clock, next_test = 0.0, 0.0
    while clock < budget:
        start = time.perf_counter()
        loss = epoch()
        clock += time.perf_counter() - start
        times.append(clock)
        losses.append(loss)
        if clock >= next_test:  # paused clock: testing is not training
            test_times.append(clock)
            tests.append(evaluate_test())
            next_test = max(1.3 * clock, 0.05)
        if not np.isfinite(loss):
            break
    test_times.append(clock)
    tests.append(evaluate_test())
    curve = dict(time=np.array(times), train=losses, test_time=test_times, test=tests)
    return curve, len(losses), clock


# %%
# diffrax
# -------


def diffrax_field(_, x, params):
    W1, b1, W2, b2 = params
    return scale * (jnp.tanh(((x - mean) / scale) @ W1 + b1) @ W2 + b2)


def diffrax_solve(params, ts):
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(diffrax_field),
        diffrax.Tsit5(),
        t0=ts[0],
        t1=ts[-1],
        dt0=None,
        y0=jnp.asarray(x0),
        args=params,
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=diffrax.PIDController(rtol=1e-6, atol=1e-8),
        max_steps=10_000,
    )
    return solution.ys


def diffrax_loss(params):
    return jnp.mean((diffrax_solve(params, jnp.asarray(t)) - jnp.asarray(X)) ** 2)


adam = optax.adam(LEARNING_RATE)


def diffrax_step(params, state):
    loss, grads = jax.value_and_grad(diffrax_loss)(params)
    updates, state = adam.update(grads, state, params)
    return optax.apply_updates(params, updates), state, loss


params = tuple(jnp.asarray(w) for w in glorot)
state = adam.init(params)
start = time.perf_counter()
step = jax.jit(diffrax_step).lower(params, state).compile()
simulate_all = jax.jit(diffrax_solve).lower(params, jnp.asarray(t_all)).compile()
compile_time = time.perf_counter() - start


def diffrax_epoch():
    global params, state
    params, state, loss = step(params, state)
    return float(loss)


curve, epochs, clock = train_for(
    BUDGET, diffrax_epoch, lambda: test_mse(simulate_all(params, jnp.asarray(t_all)))
)
curves["diffrax (Adam)"] = curve
final_train = train_mse(diffrax_solve(params, jnp.asarray(t)))
summary.append(("diffrax (Adam)", clock, epochs, final_train, curve["test"][-1], compile_time))

# %%
# torchdiffeq
# -----------

torch.set_default_dtype(torch.float64)
net = torch.nn.Sequential(torch.nn.Linear(2, WIDTH), torch.nn.Tanh(), torch.nn.Linear(WIDTH, 2))
with torch.no_grad():
    for layer, W, b in [(net[0], *glorot[:2]), (net[2], *glorot[2:])]:
        layer.weight.copy_(torch.as_tensor(W.T))
        layer.bias.copy_(torch.as_tensor(b))
m_t, s_t = torch.as_tensor(mean), torch.as_tensor(scale)
x0_t, t_t, X_t = torch.as_tensor(x0), torch.as_tensor(t), torch.as_tensor(X)
optimizer = torch.optim.Adam(net.parameters(), lr=LEARNING_RATE)


def torch_solve(ts):
    return odeint(lambda _, x: s_t * net((x - m_t) / s_t), x0_t, ts, rtol=1e-6, atol=1e-8)


def torch_epoch():
    optimizer.zero_grad()
    loss = torch.mean((torch_solve(t_t) - X_t) ** 2)
    loss.backward()
    optimizer.step()
    return loss.item()


def torch_test():
    with torch.no_grad():
        return test_mse(torch_solve(torch.as_tensor(t_all)).numpy())


curve, epochs, clock = train_for(BUDGET, torch_epoch, torch_test)
curves["torchdiffeq (Adam)"] = curve
with torch.no_grad():
    final_train = train_mse(torch_solve(t_t).numpy())
summary.append(("torchdiffeq (Adam)", clock, epochs, final_train, curve["test"][-1], 0.0))

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
