"""Time to a training MSE: collocation (IPOPT) vs sequential training (torchdiffeq, diffrax).

The paper's case (Shapovalova & Tsay 2025): forced Van der Pol, x0 = (0, 1), 200 Chebyshev
samples on [0, 15] with noise 0.1, a [2, 32, 2] tanh network without the forcing as input.

What is measured, all in one invocation:

1. ``CollocationNeuralODE(width=32, alpha=1e-3, scheme="chebyshev", random_state=0)`` is
   fitted ``--repeats`` times; the baseline is the median of ``fit_time_`` (model building
   plus IPOPT, seconds of wall time). Its training MSE, the *target*, is the MSE between
   ``predict(t, X[0])`` (the learned ODE simulated from the first noisy sample) and the
   noisy data, over both states. That simulated misfit, not ``train_mse_`` (the collocation
   trajectory's misfit), is what sequential training minimizes.
2. Sequential training of the same architecture with full-batch Adam on exactly that loss,
   ``--repeats`` times per library (same start each time: only the timing varies):
   the ODE is solved from the first noisy sample at t=0, saved at the 200 sample times,
   and the MSE to the noisy data is backpropagated through the solver steps
   (discretize-then-optimize, no adjoint). Two implementations, shared with the gallery's
   training-curve and pre-training examples (``benchmarks/_sequential.py``):

   - torchdiffeq ``odeint``, dopri5, ``torch.optim.Adam``;
   - diffrax ``diffeqsolve``, Tsit5 with a ``PIDController``, ``SaveAt(ts=t)``,
     ``optax.adam``; the loss, its gradient and the Adam update are one function
     compiled by ``jax.jit`` ahead of the clock, and the compile time is reported
     separately (``compile_time``).

   Both use float64, rtol=1e-6, atol=1e-8, the same Glorot-uniform initial weights (seed 0,
   zero biases) and the same standardization: ``dx/dt = s * net((x - m) / s)`` with ``m``,
   ``s`` the mean and standard deviation of the noisy data (time is not rescaled). There
   is no weight penalty. The training MSE is the loss itself, read at every epoch before
   the update; the clock (the seconds spent in those evaluations and updates) stops at
   the first epoch whose loss is <= the target (``time_to_target``) or once it passes
   ``--budget-factor`` times the baseline (``time_to_target`` null).
3. Every method's test MSE: the learned ODE simulated from the first noisy sample over
   [0, 30] against the noise-free truth on (15, 30] (399 points), each with its own solver.

Output: one JSON line per run, then a summary line with median times and the ratios
sequential time to target / collocation fit time (null when the target was not reached;
``*_ratio_lower_bound`` then gives the ratio of the time spent; diffrax also with its
compile time added). Adam's step size 1e-2 was the best of 1e-3, 3e-3, 1e-2 and 3e-2 in a
one-off 60 s diffrax trial (only 1e-2 reached the target). Threads: BLAS/OpenMP,
torch and XLA are all limited to ``--threads`` (default 2).

    pip install -e .[ipopt,bench]
    python benchmarks/vs_sequential.py [--budget-factor 20] [--repeats 3] [--lr 1e-2]
    python benchmarks/vs_sequential.py --quick   # budget factor 2, one repeat
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from dataclasses import dataclass, field

import numpy as np
from _results import ResultsFile, add_output_options
from _sequential import (
    DiffraxAdam,
    TorchAdam,
    Training,
    diffrax_field,
    diffrax_solver,
    glorot_weights,
    train,
)
from threadpoolctl import threadpool_limits

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import van_der_pol

FORCED = dict(x0=(0.0, 1.0), forcing_amplitude=1.0, forcing_frequency=1.0)
WIDTH = 32


@dataclass
class Problem:
    """Training data, test truth and the sequential methods' shared starting point."""

    t: np.ndarray  # (200,) sample times on [0, 15]
    X: np.ndarray  # (200, 2) noisy samples
    t_all: np.ndarray  # (600,) [0, 15] then (15, 30]: simulation grid for testing
    test: np.ndarray  # (600,) bool, t_all > 15
    X_test: np.ndarray  # (399, 2) noise-free truth on (15, 30]
    mean: np.ndarray  # (2,) standardization of the states
    scale: np.ndarray  # (2,)
    weights: list[np.ndarray] = field(default_factory=list)  # W1 (2, 32), b1, W2 (32, 2), b2

    @property
    def x0(self) -> np.ndarray:
        return self.X[0]


@dataclass
class Result:
    method: str
    run: int
    time: float  # collocation: fit_time_; sequential: training time (evaluations, updates)
    time_to_target: float | None  # sequential only; None if never reached
    train_mse: float  # simulated from X[0] vs the noisy data
    test_mse: float  # simulated from X[0] vs the truth on (15, 30]
    iterations: int  # IPOPT iterations or Adam steps
    status: str
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        out = {k: v for k, v in self.__dict__.items() if k != "extra"}
        return json.dumps({**_rounded(out), **_rounded(self.extra)})


def _rounded(d: dict) -> dict:
    def r(v):
        if isinstance(v, float):
            return float(f"{v:.4g}")
        if isinstance(v, list | tuple):
            return [r(x) for x in v]
        return v

    return {k: r(v) for k, v in d.items()}


def load_problem() -> Problem:
    tr = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **FORCED
    )
    # x0 is the state at t[0]: simulate the truth from 0 and keep (15, 30].
    t_all = np.r_[np.linspace(0, 15, 201), np.linspace(15, 30, 400)[1:]]
    truth = van_der_pol(t=t_all, return_bunch=True, **FORCED)
    test = t_all > 15
    return Problem(
        t=tr.t,
        X=tr.X,
        t_all=t_all,
        test=test,
        X_test=truth.X_true[test],
        mean=tr.X.mean(axis=0),
        scale=tr.X.std(axis=0),
        weights=glorot_weights(2, WIDTH, seed=0),
    )


def _mse(a, b) -> float:
    return float(np.mean((np.asarray(a) - np.asarray(b)) ** 2))


# ---------------------------------------------------------------- collocation


def run_collocation(problem: Problem, run: int, scheme: str = "chebyshev") -> Result:
    model = CollocationNeuralODE(width=WIDTH, alpha=1e-3, scheme=scheme, random_state=0)
    model.fit(problem.t, problem.X)
    return Result(
        method="collocation",
        run=run,
        time=model.fit_time_,
        time_to_target=None,
        train_mse=_mse(model.predict(problem.t, problem.x0), problem.X),
        test_mse=_mse(model.predict(problem.t_all, problem.x0)[problem.test], problem.X_test),
        iterations=model.n_iter_,
        status=model.solver_status_,
        extra={
            "collocation_train_mse": model.train_mse_,
            "build_time": model.build_time_,
            "solver": model.solver_,
        },
    )


# ---------------------------------------------------------------- sequential (_sequential.py)


def trace(training: Training, factor: float = 1.5, first: float = 0.01) -> list:
    """[time, loss] at the first epoch, then every ``factor`` x in time, and the last."""
    out, due = [], 0.0
    for clock, loss in zip(training.times, training.losses):
        if clock >= due:
            out.append([clock, loss])
            due = max(factor * clock, first)
    if training.times and out[-1][0] != training.times[-1]:
        out.append([training.times[-1], training.losses[-1]])
    return out


def _sequential_result(name, run, training, test_mse, lr, extra=None) -> Result:
    return Result(
        method=name,
        run=run,
        time=training.clock,
        time_to_target=training.time_to_target,
        train_mse=training.loss,
        test_mse=test_mse,
        iterations=training.epochs,
        status=training.status,
        extra={"lr": lr, **(extra or {}), "trace": trace(training)},
    )


def run_torchdiffeq(problem: Problem, target: float, budget: float, lr: float, run: int):
    trainer = TorchAdam(
        problem.weights, problem.t, problem.X, problem.x0, problem.mean, problem.scale, lr
    )
    training = train(trainer, budget=budget, target=target)
    test_mse = _mse(trainer.simulate(problem.t_all)[problem.test], problem.X_test)
    return _sequential_result("torchdiffeq", run, training, test_mse, lr)


def run_diffrax(problem: Problem, target: float, budget: float, lr: float, run: int):
    import jax

    solve = diffrax_solver(diffrax_field(problem.mean, problem.scale), problem.x0)
    trainer = DiffraxAdam(solve, problem.t, problem.X, lr, problem.weights)
    training = train(trainer, budget=budget, target=target)
    prediction = jax.jit(solve)(trainer.params, jax.numpy.asarray(problem.t_all))
    test_mse = _mse(np.asarray(prediction)[problem.test], problem.X_test)
    extra = {"compile_time": trainer.compile_time}
    return _sequential_result("diffrax", run, training, test_mse, lr, extra)


# ---------------------------------------------------------------- main


def summarize(results: list[Result], budget_factor: float) -> dict:
    def median(method, attr):
        values = [getattr(r, attr) for r in results if r.method == method]
        return statistics.median(values) if None not in values else None

    baseline = median("collocation", "time")
    out = {"summary": "vs_sequential", "budget_factor": budget_factor}
    out["target_train_mse"] = median("collocation", "train_mse")
    out["collocation_median_time"] = baseline
    for name in ("torchdiffeq", "diffrax"):
        to_target = median(name, "time_to_target")
        out[f"{name}_median_time_to_target"] = to_target
        out[f"{name}_ratio"] = None if to_target is None else to_target / baseline
        out[f"{name}_ratio_lower_bound"] = median(name, "time") / baseline
    compile_time = statistics.median(
        r.extra["compile_time"] for r in results if r.method == "diffrax"
    )
    out["diffrax_median_compile_time"] = compile_time
    to_target = out["diffrax_median_time_to_target"]
    out["diffrax_ratio_with_compile"] = (
        None if to_target is None else (to_target + compile_time) / baseline
    )
    return _rounded(out)


def limit_threads(n: int) -> None:
    """Torch and XLA (before JAX starts its backend); BLAS is limited by the caller."""
    os.environ["OMP_NUM_THREADS"] = str(n)
    eigen = "true" if n > 1 else "false"
    flags = f"--xla_cpu_multi_thread_eigen={eigen} intra_op_parallelism_threads={n}"
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {flags}".strip()
    import torch

    torch.set_num_threads(n)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget-factor", type=float, default=20.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam step size (both)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--quick", action="store_true", help="smoke test: --budget-factor 2 --repeats 1"
    )
    add_output_options(parser, "vs_sequential")
    args = parser.parse_args()
    results_file = ResultsFile("vs_sequential", args)
    if args.quick:
        args.budget_factor, args.repeats = 2.0, 1
    limit_threads(args.threads)
    problem = load_problem()
    results = []
    with threadpool_limits(limits=args.threads):
        for run in range(args.repeats):
            results.append(run_collocation(problem, run))
            results_file.emit(results[-1].to_json())
        baseline = statistics.median(r.time for r in results)
        target = statistics.median(r.train_mse for r in results)
        budget = args.budget_factor * baseline
        for run in range(args.repeats):
            for method in (run_torchdiffeq, run_diffrax):
                results.append(method(problem, target, budget, args.lr, run))
                results_file.emit(results[-1].to_json())
    results_file.emit(summarize(results, args.budget_factor))
    results_file.save()


if __name__ == "__main__":
    main()
