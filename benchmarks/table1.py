"""Table 1 of the paper: collocation (IPOPT) and sequential training (Adam) on one case.

The paper's case (Shapovalova & Tsay 2025), as in ``vs_sequential.py``: forced Van der
Pol, x0 = (0, 1), 200 Chebyshev samples on [0, 15] with noise 0.1, a [2, 32, 2] tanh
network without the forcing as input. Each method gets one row: wall time, iterations
(IPOPT iterations or Adam epochs), training MSE and test MSE.

Rows, all in one invocation:

- ``collocation (chebyshev)``, the paper's scheme, and ``collocation (radau)``, the
  library's default: ``CollocationNeuralODE(width=32, alpha=1e-3, scheme=...,
  random_state=0)`` fitted ``--repeats`` times; the wall time is the median of
  ``fit_time_`` (model building plus IPOPT; all times are listed in ``fit_times``), the
  other columns are those of the last fit (the fits are deterministic).
- ``diffrax (Adam)`` and ``torchdiffeq (Adam)``: sequential training exactly as in
  ``vs_sequential.py`` (its ``run_diffrax`` and ``run_torchdiffeq``: the same loss, ODE
  solvers and tolerances, Glorot-uniform start with seed 0, standardization, float64),
  full-batch Adam with step size ``--lr``, once each. There is no target: training runs
  for a fixed wall-time budget of ``--budget`` seconds and stops at the first epoch past
  it (so the wall time exceeds the budget by at most one epoch), unless the loss stops
  being finite or the ODE solver fails (``status``). The iterations are Adam epochs.
  diffrax's ``jax.jit`` compilation happens before the clock and is reported separately
  (``compile_time``).

Columns: the training MSE is the learned ODE simulated from the first noisy sample and
saved at the 200 sample times, against the noisy data, over both states (for Adam, the loss
of the last epoch, whose parameters are kept; for collocation, of ``predict``, not the
collocation trajectory's ``train_mse_``). The test MSE is the same simulation over [0, 30]
against the noise-free truth on (15, 30] (399 points), each method with its own ODE solver.

Output: one JSON line per row (with the training ``trace``: [seconds, MSE] pairs), then
the table as plain text. Threads: BLAS/OpenMP, torch and XLA are all limited to
``--threads`` (default 2).

    pip install -e .[ipopt,bench]
    python benchmarks/table1.py [--budget 60] [--repeats 3] [--lr 1e-2] [--threads 2]
    python benchmarks/table1.py --quick   # budget 5 s, one collocation fit per scheme
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics

from _results import ResultsFile, add_output_options, text_table
from threadpoolctl import threadpool_limits
from vs_sequential import (
    Result,
    limit_threads,
    load_problem,
    run_collocation,
    run_diffrax,
    run_torchdiffeq,
)

SCHEMES = ("chebyshev", "radau")
SEQUENTIAL = {"diffrax (Adam)": run_diffrax, "torchdiffeq (Adam)": run_torchdiffeq}
COLUMNS = ("method", "wall time [s]", "iterations/epochs", "train MSE", "test MSE")


def collocation_row(problem, scheme: str, repeats: int) -> dict:
    """Median fit time of ``repeats`` fits; the other columns from the last one."""
    fits = [run_collocation(problem, run, scheme=scheme) for run in range(repeats)]
    times = [fit.time for fit in fits]
    last = dataclasses.replace(fits[-1], time=statistics.median(times))
    return row(f"collocation ({scheme})", last, fit_times=times)


def sequential_row(problem, label: str, budget: float, lr: float) -> dict:
    result = SEQUENTIAL[label](problem, float("-inf"), budget, lr, 0)
    return row(label, result, budget=budget)


def row(label: str, result: Result, **extra) -> dict:
    """``result`` as one JSON record, without vs_sequential's run and time-to-target."""
    result = dataclasses.replace(result, extra={**extra, **result.extra})
    record = json.loads(result.to_json())
    for key in ("run", "time_to_target"):
        record.pop(key)
    return {**record, "method": label}


def table(rows: list[dict]) -> str:
    """The rows as aligned plain text, with a note on diffrax's compile time."""
    cells = [
        [
            r["method"],
            f"{r['time']:.1f}",
            str(r["iterations"]),
            f"{r['train_mse']:.4g}",
            f"{r['test_mse']:.4g}",
        ]
        for r in rows
    ]
    lines = text_table(COLUMNS, cells).splitlines()
    for r in rows:
        if "compile_time" in r:
            lines.append(f"{r['method']}: plus {r['compile_time']:.1f} s of JIT compilation")
        if r["status"] not in ("optimal", "budget"):
            lines.append(f"{r['method']}: status {r['status']}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0, help="seconds of Adam training")
    parser.add_argument("--repeats", type=int, default=3, help="collocation fits per scheme")
    parser.add_argument("--lr", type=float, default=1e-2, help="Adam step size (both)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="smoke test: --budget 5 --repeats 1")
    add_output_options(parser, "table1")
    args = parser.parse_args()
    results = ResultsFile("table1", args)
    if args.quick:
        args.budget, args.repeats = 5.0, 1
    limit_threads(args.threads)
    problem = load_problem()
    rows = []
    with threadpool_limits(limits=args.threads):
        for scheme in SCHEMES:
            rows.append(collocation_row(problem, scheme, args.repeats))
            results.emit(rows[-1])
        for label in SEQUENTIAL:
            rows.append(sequential_row(problem, label, args.budget, args.lr))
            results.emit(rows[-1])
    print()
    print(table(rows))
    results.save()


if __name__ == "__main__":
    main()
