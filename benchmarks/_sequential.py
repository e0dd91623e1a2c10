"""Sequential training, the baseline collocation is compared with: one copy of the trainers.

Sequential training solves the ODE inside every epoch and lets Adam follow the gradient of
the data misfit through the solver's steps (discretize-then-optimize, no adjoint). Two
implementations of the same thing, on the paper's [n, width, n] tanh network written on
standardized states, ``dx/dt = rate * net((x - mean) / scale)`` (``rate = scale`` unless
given; time is not rescaled):

- :class:`DiffraxAdam`: diffrax, Tsit5 with a ``PIDController``, ``SaveAt(ts=t)``,
  ``optax.adam``; the loss, its gradient and the Adam update are one function compiled by
  ``jax.jit`` when the trainer is made (``compile_time``);
- :class:`TorchAdam`: torchdiffeq ``odeint`` with dopri5, ``torch.optim.Adam``.

Both use float64, ``RTOL``, ``ATOL``, at most ``MAX_STEPS`` solver steps per solve, the MSE
to the samples over all states as the loss (no weight penalty), and the Glorot-uniform
start of :func:`glorot_weights`. :func:`train` runs either for a wall-time budget, a number
of epochs or until a target loss, with an evaluation callback kept off the clock.

Used by ``benchmarks/vs_sequential.py``, ``examples/plot_training_curves.py`` and
``examples/plot_pretraining.py``. It lives in ``benchmarks/``, not ``examples/``, because
every ``*.py`` file in ``examples/`` is an example: ``tests/test_examples.py`` runs each one
and expects it to report what it did, and sphinx-gallery renders each one as a gallery
page. A benchmark imports it like ``_results`` (a script's folder is on ``sys.path``); an
example puts this folder on ``sys.path`` first, found from ``__file__`` when it runs as a
script and from the working directory under sphinx-gallery, which runs an example in its
own folder without ``__file__``. torch and JAX are imported only when a trainer is made,
so that a benchmark can set thread limits before either starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

RTOL, ATOL = 1e-6, 1e-8
MAX_STEPS = 10_000  # per ODE solve, both libraries


def glorot_weights(n_states: int, width: int, seed: int = 0) -> list[np.ndarray]:
    """Glorot-uniform weights and zero biases ``[W1 (n, width), b1, W2 (width, n), b2]``."""
    rng = np.random.RandomState(seed)
    weights = []
    for n_in, n_out in [(n_states, width), (width, n_states)]:
        limit = np.sqrt(6.0 / (n_in + n_out))
        weights += [rng.uniform(-limit, limit, size=(n_in, n_out)), np.zeros(n_out)]
    return weights


# ---------------------------------------------------------------- diffrax


def diffrax_field(mean, scale, rate=None) -> Callable:
    """``field(t, x, params)``: ``rate * net((x - mean) / scale)`` with JAX arrays."""
    import jax.numpy as jnp

    mean, scale = jnp.asarray(mean), jnp.asarray(scale)
    rate = scale if rate is None else jnp.asarray(rate)

    def field(_, x, params):
        W1, b1, W2, b2 = params
        return rate * (jnp.tanh(((x - mean) / scale) @ W1 + b1) @ W2 + b2)

    return field


def diffrax_solver(field: Callable, x0) -> Callable:
    """``solve(params, ts)``: the states at ``ts`` from ``x0`` at ``ts[0]`` (Tsit5, PID)."""
    import diffrax
    import jax.numpy as jnp

    def solve(params, ts):
        solution = diffrax.diffeqsolve(
            diffrax.ODETerm(field),
            diffrax.Tsit5(),
            t0=ts[0],
            t1=ts[-1],
            dt0=None,
            y0=jnp.asarray(x0),
            args=params,
            saveat=diffrax.SaveAt(ts=ts),
            stepsize_controller=diffrax.PIDController(rtol=RTOL, atol=ATOL),
            max_steps=MAX_STEPS,
        )
        return solution.ys

    return solve


class DiffraxAdam:
    """Full-batch Adam on ``mean((solve(params, t) - X)**2)``, compiled for ``params``.

    :meth:`evaluate` runs the compiled step (loss, gradient and Adam update) and returns
    the loss at the current parameters; :meth:`update` accepts the step. :meth:`restart`
    starts again from other parameters of the same shapes without compiling again.
    """

    def __init__(self, solve: Callable, t, X, lr: float, params):
        import jax

        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import optax

        t, X, optimizer = jnp.asarray(t), jnp.asarray(X), optax.adam(lr)

        def loss(params):
            return jnp.mean((solve(params, t) - X) ** 2)

        def step(params, state):
            value, grads = jax.value_and_grad(loss)(params)
            updates, state = optimizer.update(grads, state, params)
            return optax.apply_updates(params, updates), state, value

        self._init = optimizer.init
        params = tuple(jnp.asarray(w) for w in params)
        start = time.perf_counter()
        self._step = jax.jit(step).lower(params, optimizer.init(params)).compile()
        self.compile_time = time.perf_counter() - start
        self.restart(params)

    def restart(self, params) -> None:
        self.params, self.state, self._next = tuple(params), self._init(tuple(params)), None

    def evaluate(self) -> float:
        self._next = self._step(self.params, self.state)
        return float(self._next[2])

    def update(self) -> None:
        self.params, self.state, _ = self._next


# ---------------------------------------------------------------- torchdiffeq


class TorchAdam:
    """Full-batch Adam on ``mean((odeint(field, x0, t) - X)**2)`` with torch, dopri5."""

    def __init__(self, weights, t, X, x0, mean, scale, lr: float):
        import torch

        def tensor(a):
            return torch.as_tensor(np.asarray(a), dtype=torch.float64)

        n_states, width = weights[0].shape
        net = torch.nn.Sequential(
            torch.nn.Linear(n_states, width), torch.nn.Tanh(), torch.nn.Linear(width, n_states)
        ).double()
        with torch.no_grad():
            W1, b1, W2, b2 = weights
            for layer, W, b in [(net[0], W1, b1), (net[2], W2, b2)]:
                layer.weight.copy_(tensor(W.T))
                layer.bias.copy_(tensor(b))
        mean, scale = tensor(mean), tensor(scale)
        self._field = lambda _, x: scale * net((x - mean) / scale)
        self._tensor, self._x0, self._t, self._X = tensor, tensor(x0), tensor(t), tensor(X)
        self.optimizer = torch.optim.Adam(net.parameters(), lr=lr)

    def solve(self, ts):
        from torchdiffeq import odeint

        options = {"max_num_steps": MAX_STEPS}
        ts = self._tensor(ts)
        return odeint(self._field, self._x0, ts, rtol=RTOL, atol=ATOL, options=options)

    def simulate(self, ts) -> np.ndarray:
        """The states at ``ts`` from ``x0`` at ``ts[0]``, without a graph."""
        import torch

        with torch.no_grad():
            return self.solve(ts).numpy()

    def evaluate(self) -> float:
        import torch

        self.optimizer.zero_grad()
        loss = torch.mean((self.solve(self._t) - self._X) ** 2)
        loss.backward()
        return loss.item()

    def update(self) -> None:
        self.optimizer.step()


# ---------------------------------------------------------------- the training loop


class Trainer(Protocol):
    def evaluate(self) -> float: ...  # the loss at the current parameters (and gradient)

    def update(self) -> None: ...  # one Adam step with that gradient


@dataclass
class Training:
    """Outcome of :func:`train`. ``losses[k]`` is the loss before update ``k`` (the last
    one: at the parameters left behind), read at training time ``times[k]``."""

    epochs: int  # Adam updates taken
    clock: float  # training seconds: evaluations and updates, callbacks excluded
    status: str  # "reached", "budget", "epochs", "diverged" or "solver_failed: ..."
    losses: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    checks: list[tuple[int, float, object]] = field(default_factory=list)  # epoch, time, value

    @property
    def time_to_target(self) -> float | None:
        return self.clock if self.status == "reached" else None

    @property
    def loss(self) -> float:
        return self.losses[-1] if self.losses else math.nan


def every_epochs(n: int) -> Callable[[int, float], bool]:
    """A ``check_when`` for :func:`train`: at epochs 0, n, 2n, ..."""
    return lambda epoch, _: epoch % n == 0


def growing_intervals(factor: float, first: float) -> Callable[[int, float], bool]:
    """A ``check_when`` for :func:`train`: at time 0, then once the training time reaches
    ``max(factor * t, first)``, ``t`` the time of the previous check."""
    due = 0.0

    def when(_, clock):
        nonlocal due
        if clock < due:
            return False
        due = max(factor * clock, first)
        return True

    return when


def train(
    trainer: Trainer,
    *,
    budget: float = math.inf,
    epochs: int | None = None,
    target: float = -math.inf,
    check: Callable[[], object] | None = None,
    check_when: Callable[[int, float], bool] | None = None,
) -> Training:
    """Alternate ``trainer.evaluate()`` and ``trainer.update()``, timing only those two.

    Stops after an evaluation, before its update, when the loss is <= ``target`` or not
    finite, when the training time exceeds ``budget`` or after ``epochs`` updates (that
    last evaluation only reads the final loss, off the clock), or when the solver fails.
    ``check()`` (a test error, say) runs off the clock before the epochs ``check_when``
    selects (default: every epoch), and once more at the end if the parameters changed
    since.
    """
    check_when = check_when or every_epochs(1)
    out = Training(epochs=0, clock=0.0, status="budget")
    while True:
        if check is not None and check_when(out.epochs, out.clock):
            out.checks.append((out.epochs, out.clock, check()))
        start = time.perf_counter()
        try:
            loss = trainer.evaluate()
        except Exception as exc:  # step-size underflow, max_steps, ...
            out.status = f"solver_failed: {type(exc).__name__}"
            break
        if out.epochs != epochs:
            out.clock += time.perf_counter() - start
        out.losses.append(loss)
        out.times.append(out.clock)
        if out.epochs == epochs:
            out.status = "epochs"
        elif not np.isfinite(loss):
            out.status = "diverged"
        elif loss <= target:
            out.status = "reached"
        elif out.clock <= budget:
            start = time.perf_counter()
            trainer.update()
            out.clock += time.perf_counter() - start
            out.epochs += 1
            continue
        break
    if check is not None and (not out.checks or out.checks[-1][0] != out.epochs):
        out.checks.append((out.epochs, out.clock, check()))
    return out
