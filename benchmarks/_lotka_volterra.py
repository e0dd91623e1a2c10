"""The Lotka-Volterra case of Rackauckas et al. (2020): data and the models compared on it.

The system (prey ``x``, predator ``y``)

    dx/dt = a x - b x y,    dy/dt = c x y - d y,

with ``a, b, c, d = 1.3, 0.9, 0.8, 1.8`` and ``(x, y)(0) = (0.44249296, 4.6280594)``, the
values of the paper's code (``LotkaVolterra/scenario_1.jl`` in
``ChrisRackauckas/universal_differential_equations``): samples every 0.1 on ``[0, 3]``
(31 samples, about half of the period of 5.5), Gaussian noise of standard deviation 5% of
each state's mean over the samples (the later SciML tutorial of the same case samples
every 0.25 on [0, 5] from a random start). :func:`lotka_volterra` integrates it with
``solve_ivp`` (DOP853, ``rtol = atol = 1e-12``), :func:`training_data` adds the noise.

Three right-hand sides for :class:`~skneuralode.CollocationNeuralODE` (``physics=``):

- :func:`ude`: the universal differential equation, the growth ``a x`` and the decay
  ``-d y`` known up to ``a`` and ``d`` (fitted), the interactions learned by a network,
  ``[a x + nn[0], -d y + nn[1]]`` (the paper fixes ``a`` and ``d`` at their true values);
- :func:`lotka_volterra_physics`: the full model, ``a, b, c, d`` fitted, no network;
- the black box is the estimator without ``physics``.

:func:`make_model` builds each of the four models the example and the benchmark compare
(:data:`MODELS`), with the width, activation and weight penalty :data:`CHOSEN` by
``benchmarks/ude_selection.py``.

Used by ``examples/plot_lotka_volterra_ude.py``, ``benchmarks/ude_selection.py`` and
``benchmarks/ude_forecast.py``. It lives here, not in ``examples/``, because every script
there is an example (see ``_sequential.py``); the physics functions are module-level so
that fitted models pickle.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.integrate import solve_ivp

from skneuralode import CollocationNeuralODE

TRUE_PARAMS = {"a": 1.3, "b": 0.9, "c": 0.8, "d": 1.8}
X0 = (0.44249296, 4.6280594)
T_TRAIN = np.round(np.arange(0.0, 3.0 + 1e-9, 0.1), 10)  # the paper's saveat = 0.1
NOISE = 0.05  # standard deviation, as a fraction of each state's mean
#: Initial guesses of the physical parameters (deliberately not the true values).
START_PARAMS = {"a": 1.0, "b": 1.0, "c": 1.0, "d": 1.0}


def lotka_volterra(t, params=TRUE_PARAMS, x0=X0) -> np.ndarray:
    """The noise-free states at the times ``t`` (from ``x0`` at ``t[0]``), shape (n, 2)."""
    a, b, c, d = (params[k] for k in "abcd")

    def rates(_, z):
        return [a * z[0] - b * z[0] * z[1], c * z[0] * z[1] - d * z[1]]

    t = np.asarray(t, dtype=float)
    solution = solve_ivp(rates, (t[0], t[-1]), x0, method="DOP853", t_eval=t,
                         rtol=1e-12, atol=1e-12)  # fmt: skip
    if not solution.success:
        raise RuntimeError(f"solve_ivp failed on the Lotka-Volterra system: {solution.message}")
    return solution.y.T


def training_data(random_state, t=T_TRAIN, noise=NOISE) -> tuple[np.ndarray, np.ndarray]:
    """``(X_true, X_noisy)`` at ``t``: noise of standard deviation ``noise`` times each
    state's mean over ``t``, drawn from ``numpy.random.default_rng(random_state)``."""
    X_true = lotka_volterra(t)
    rng = np.random.default_rng(random_state)
    return X_true, X_true + noise * X_true.mean(axis=0) * rng.standard_normal(X_true.shape)


def ude(x, u, p, nn):
    """Known growth and decay, learned interactions: ``[a x + nn0, -d y + nn1]``."""
    return [p["a"] * x[0] + nn[0], -p["d"] * x[1] + nn[1]]


def ude_xy(x, u, p, nn):
    """The UDE with the interactions' known structure: each is the product ``x y`` (no
    prey or no predator, no interaction) times a learned factor, ``[a x - x y nn0,
    -d y + x y nn1]`` (Lotka-Volterra: ``nn0 = b``, ``nn1 = c``)."""
    return [p["a"] * x[0] - x[0] * x[1] * nn[0], -p["d"] * x[1] + x[0] * x[1] * nn[1]]


def lotka_volterra_physics(x, u, p, nn):
    """The full Lotka-Volterra model, every parameter fitted."""
    return [p["a"] * x[0] - p["b"] * x[0] * x[1], p["c"] * x[0] * x[1] - p["d"] * x[1]]


def interactions(X, params=TRUE_PARAMS) -> np.ndarray:
    """The terms the UDE's network should learn, ``(-b x y, c x y)``, shape (n, 2)."""
    xy = X[:, 0] * X[:, 1]
    return np.column_stack([-params["b"] * xy, params["c"] * xy])


def rmse(a, b) -> float:
    """Root-mean-square difference over all entries (``inf`` if ``a`` is not finite)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or not np.all(np.isfinite(a)):
        return float("inf")
    return float(np.sqrt(np.mean((a - b) ** 2)))


#: The models compared: name -> what it is.
MODELS = {
    "grey_box": "UDE, a x + nn0 and -d y + nn1, a and d fitted",
    "grey_box_known_ad": "UDE with a and d fixed at their true values (the paper's setting)",
    "grey_box_xy": "UDE with the interactions' structure, a x - x y nn0 and -d y + x y nn1",
    "black_box": "network only, dx/dt = nn(x, y)",
    "physics_only": "Lotka-Volterra, a, b, c and d fitted, no network",
}
#: (width, activation, alpha) of each model with a network, chosen by
#: ``benchmarks/ude_selection.py`` (lowest median validation error: fit on t <= 2, forecast
#: the samples on (2, 3], noise seeds other than the benchmark's).
CHOSEN = {
    "grey_box": (8, "tanh", 1e-2),
    "grey_box_known_ad": (8, "tanh", 1e-2),
    "grey_box_xy": (32, "softplus", 1e-3),
    "black_box": (8, "softplus", 1e-3),
}


def make_model(name, width=None, activation=None, alpha=None, random_state=0):
    """The estimator ``name`` of :data:`MODELS`, its network as :data:`CHOSEN` unless
    ``width``, ``activation`` or ``alpha`` is given (ignored by ``"physics_only"``)."""
    if name == "physics_only":
        return CollocationNeuralODE(physics=lotka_volterra_physics,
                                    physics_params=dict(START_PARAMS))  # fmt: skip
    chosen = CHOSEN[name]
    network = dict(
        width=chosen[0] if width is None else width,
        activation=chosen[1] if activation is None else activation,
        alpha=chosen[2] if alpha is None else alpha,
        random_state=random_state,
    )
    if name == "black_box":
        return CollocationNeuralODE(**network)
    if name == "grey_box":
        params = {k: START_PARAMS[k] for k in "ad"}
        return CollocationNeuralODE(physics=ude, physics_params=params, **network)
    if name == "grey_box_xy":
        params = {k: START_PARAMS[k] for k in "ad"}
        return CollocationNeuralODE(physics=ude_xy, physics_params=params, **network)
    if name == "grey_box_known_ad":
        params = {k: TRUE_PARAMS[k] for k in "ad"}
        return CollocationNeuralODE(physics=ude, physics_params=params,
                                    physics_fixed=["a", "d"], **network)  # fmt: skip
    raise ValueError(f"unknown model {name!r}; expected one of {sorted(MODELS)}")


def network_outputs(model, X) -> np.ndarray:
    """What a fitted UDE's network adds to the known terms at the states ``X``:
    ``dx/dt - (a x, -d y)`` from its vector field and fitted ``a``, ``d``."""
    p = model.physics_params_
    known = np.column_stack([p["a"] * X[:, 0], -p["d"] * X[:, 1]])
    return model.vector_field()(X) - known


def forecast(model, t) -> np.ndarray:
    """The fitted model simulated over ``t`` from its fitted initial state (``t[0]`` must
    be the start of the training data); NaN from where a runaway simulation stops."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the NaN rows say it
        return model.predict(t, model.initial_states_[0])


def blas_kernel() -> str | None:
    """The kernels of the OpenBLAS that IPOPT's linear solver runs (threadpoolctl)."""
    from skneuralode._openblas import bundled_openblas_info

    info = bundled_openblas_info()
    return None if info is None else f"{info.get('architecture')} (OpenBLAS {info.get('version')})"
