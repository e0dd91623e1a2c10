"""
8. Grey-box identification: known physics plus a network (cascaded two tanks)
=============================================================================

The cascaded tanks of example 7, with what an engineer knows about them written into the
model. A pump fills the upper tank, which drains into the lower one through Torricelli
outflows,

.. math::

    \\dot h_1 = -k_1 \\sqrt{h_1} + k_4 u, \\qquad
    \\dot h_2 = k_2 \\sqrt{h_1} - k_3 \\sqrt{h_2}.

Only the lower level ``h2`` is measured. Suppose the upper tank and the pipe between the
tanks are well understood (the form of both terms, and ``k2`` from the pipe's
calibration), but ``k1`` and ``k4`` are not known and the lower tank's outflow is not
modelled at all. The grey-box model keeps the known terms, leaves ``k1`` and ``k4`` to be
estimated, and lets a network stand for the unknown outflow:

.. math::

    \\dot h_2 = k_2 \\sqrt{h_1} + \\mathrm{nn}(h_2), \\qquad
    \\dot h_1 = k_4 u - k_1 \\sqrt{h_1}.

The physics is a plain Python function ``tanks(x, u, p, nn)`` returning the time
derivatives in user units, over all states: the observed one first, then the latent one
(``h1``). :class:`~skneuralode.CollocationNeuralODE` traces it once with SymPy and puts it
in the collocation NLP with exact derivatives; ``k1`` and ``k4`` become decision variables
beside the weights (``physics_bounds`` keeps them nonnegative, ``physics_fixed`` holds
``k2``). Three settings make the parameters identifiable:

- ``n_latent=1`` with ``latent_start=[3.0]``: ``h1`` is a latent state *in the physics'
  own units* (a level, not a standardized coordinate), so it needs a start in those units
  (a rough guess; the NLP refines it). A black-box latent state, by contrast, is known
  only up to a change of coordinates.
- ``network_inputs=["x[0]"]``: the network reads ``h2`` only. Given ``h1`` and ``u`` as
  well, it could absorb the physics (any ``k1``, ``k4`` plus a compensating network fits
  the data), and the parameters would not be identifiable.
- ``alpha=1e-5`` instead of the default ``1e-3``: the weight penalty shrinks the network,
  and whatever the shrunk network leaves unexplained is taken up by the physical
  parameters, which biases them. A small ``alpha`` keeps that bias small
  (``benchmarks/greybox_two_tank.py`` measures it).

The black-box comparison is example 7's model with one latent state,
``d(h2, z)/dt = f(h2, z, u)``. Both are trained on one input sequence and tested in free
run on another (a fresh input, seed 1, measured with the same noise), from an initial
state estimated on a warm-up window (``estimate_initial_state``).
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from skneuralode import CollocationNeuralODE  # noqa: E402
from skneuralode.datasets import two_tank  # noqa: E402
from skneuralode.physics import sqrt  # noqa: E402


def tanks(x, u, p, nn):
    """The grey-box right-hand side: h2 measured, h1 latent, nn[0] the lower tank's outflow."""
    h2, h1 = x
    return [p["k2"] * sqrt(h1) + nn[0], p["k4"] * u[0] - p["k1"] * sqrt(h1)]


# %%
# Data
# ----
# Two sequences of 500 samples with different random pump inputs (seeds 0 and 1), the
# lower level measured with noise of standard deviation 0.02. ``TRUE`` holds the values
# :func:`~skneuralode.datasets.two_tank` simulates with.

N_SAMPLES, NOISE = 500, 0.02
TRUE = {"k1": 0.2, "k2": 0.2, "k3": 0.15, "k4": 0.2}
TOLERANCE = 0.05  # relative error allowed on k1, k4
train = two_tank(n_samples=N_SAMPLES, noise=NOISE, random_state=0, return_bunch=True)
test = two_tank(n_samples=N_SAMPLES, noise=NOISE, random_state=1, return_bunch=True)
warmup = slice(0, N_SAMPLES // 10)


def fit_percent(y, y_hat):
    """100 (1 - ||y - y_hat|| / ||y - mean(y)||), the usual system-identification fit."""
    y, y_hat = np.ravel(y), np.ravel(y_hat)
    return float(100.0 * (1.0 - np.linalg.norm(y - y_hat) / np.linalg.norm(y - y.mean())))


# %%
# Fit the grey-box and the black-box model
# ----------------------------------------
# The grey-box model starts ``k1`` and ``k4`` at half their true values. Both models hold
# the input between samples (``u_interpolation="previous"``) and have 16 hidden units.

models = {
    "grey-box": CollocationNeuralODE(
        physics=tanks,
        physics_params={"k1": 0.1, "k2": TRUE["k2"], "k4": 0.1},
        physics_fixed=["k2"],
        physics_bounds={"k1": (0, None), "k4": (0, None)},
        n_latent=1,
        latent_start=[3.0],
        network_inputs=["x[0]"],
        alpha=1e-5,
        width=16,
        u_interpolation="previous",
        random_state=0,
    ),
    "black-box": CollocationNeuralODE(
        n_latent=1, u_interpolation="previous", width=16, alpha=1e-4, random_state=0
    ),
}
fit_times = {}
for name, model in models.items():
    start = time.perf_counter()
    model.fit(train.t, train.y, u=train.u)
    fit_times[name] = time.perf_counter() - start

fitted = models["grey-box"].physics_params_
for name in ("k1", "k4"):
    error = fitted[name] / TRUE[name] - 1.0
    print(f"{name}: fitted {fitted[name]:.4f}, true {TRUE[name]:.4f} ({error:+.1%})")
    if abs(error) > TOLERANCE:
        raise RuntimeError(f"{name} is {error:+.1%} off its true value (> {TOLERANCE:.0%})")

# %%
# Free-run test
# -------------
# ``score`` is the R² of the free run on the test sequence against the measured (noisy)
# level, after a warm-up window from which it estimates the initial state; the fit
# percentage below uses the first 10% of the sequence as warm-up and all samples.

predictions, latents, fits, scores = {}, {}, {}, {}
for name, model in models.items():
    x0 = model.estimate_initial_state(test.t[warmup], test.y[warmup], u=test.u[warmup])
    predictions[name], latents[name] = model.predict(test.t, x0, u=test.u, return_latent=True)
    fits[name] = fit_percent(test.y, predictions[name])
    scores[name] = model.score(test.t, test.y, u=test.u)
    print(
        f"{name}: fit time {fit_times[name]:.1f} s, {model.n_iter_} IPOPT iterations "
        f"({model.solver_status_}), test R^2 {scores[name]:.4f}, test fit {fits[name]:.1f}%"
    )
if scores["grey-box"] <= scores["black-box"]:
    raise RuntimeError(f"the grey-box model does not beat the black-box one: {scores}")

# The black-box latent state has no units: map it onto h1 (least squares, for display).
z = latents["black-box"][:, 0]
(a, b), *_ = np.linalg.lstsq(np.column_stack([z, np.ones_like(z)]), test.states[:, 0], rcond=None)
h1_black = a * z + b
h1_error = np.max(np.abs(latents["grey-box"][:, 0] - test.states[:, 0]))
print(f"grey-box h1 vs true h1: max error {h1_error:.3f} (levels {test.states[:, 0].min():.1f}"
      f"..{test.states[:, 0].max():.1f}), no map needed")  # fmt: skip

# %%
# What the network learned
# ------------------------
# The network's output is ``dh2/dt - k2 sqrt(h1)``, read from the fitted vector field. It
# should be the outflow the physics left out, ``-k3 sqrt(h2)``, over the levels the
# training data visit.

field = models["grey-box"].vector_field()
h2 = np.linspace(train.y_true.min(), train.y_true.max(), 50)
states = np.column_stack([h2, np.ones_like(h2)])  # h1 = 1: sqrt(h1) = 1
outflow = field(states, np.ones((len(h2), 1)))[:, 0] - fitted["k2"]
outflow_true = -TRUE["k3"] * np.sqrt(h2)
outflow_error = np.max(np.abs(outflow - outflow_true)) / np.max(np.abs(outflow_true))
print(f"network vs -k3 sqrt(h2): max error {outflow_error:.1%} of the largest outflow")

# %%
# Plot
# ----
# Top: measured ``h2`` and the two free runs (shaded: the warm-up window). Middle: the
# grey-box latent state as it comes out of the model, the black-box one mapped onto
# ``h1``, and the true ``h1``. Bottom left: the pump signal. Bottom right: the network's
# share of the grey-box model against the outflow it replaces.

fig = plt.figure(figsize=(10, 8))
grid = fig.add_gridspec(3, 3, height_ratios=[3, 3, 2])
top = fig.add_subplot(grid[0, :])
middle = fig.add_subplot(grid[1, :], sharex=top)
bottom = fig.add_subplot(grid[2, :2], sharex=top)
right = fig.add_subplot(grid[2, 2])
top.plot(test.t, test.y, ".", ms=2.5, color="0.6", label="measured $h_2$ (noisy)")
top.plot(test.t, predictions["black-box"], "C0-", lw=1.2,
         label=f"black-box, n_latent=1 (R$^2$ {scores['black-box']:.4f})")  # fmt: skip
top.plot(test.t, predictions["grey-box"], "C3--", lw=1.5,
         label=f"grey-box (R$^2$ {scores['grey-box']:.4f})")  # fmt: skip
top.set_ylabel("$h_2$")
top.legend(loc="upper right", fontsize=8)
top.set_title("Cascaded tanks, test sequence in free run (shaded: warm-up window)")
middle.plot(test.t, test.states[:, 0], "k-", lw=1, label="true $h_1$ (never measured)")
middle.plot(test.t, h1_black, "C0-", lw=1.2, label="black-box latent state, affine map")
middle.plot(test.t, latents["grey-box"][:, 0], "C3--", lw=1.5, label="grey-box $h_1$ (as fitted)")
middle.set_ylabel("$h_1$")
middle.legend(loc="upper right", fontsize=8)
bottom.step(test.t, test.u, "C2-", where="post", lw=1)
bottom.set_ylabel("$u$")
bottom.set_xlabel("t")
for ax in (top, middle):
    ax.tick_params(labelbottom=False)
for ax in (top, middle, bottom):
    ax.axvspan(test.t[warmup][0], test.t[warmup][-1], color="C0", alpha=0.08)
right.plot(h2, outflow_true, "k-", lw=1, label="$-k_3 \\sqrt{h_2}$ (true)")
right.plot(h2, outflow, "C3--", lw=1.5, label="network")
right.set_xlabel("$h_2$")
right.legend(fontsize=8)
right.set_title("lower tank's outflow", fontsize=9)
fig.tight_layout()
fig.savefig("plot_greybox_two_tank.png", dpi=120)
print("plot: plot_greybox_two_tank.png")
