"""Cost per IPOPT iteration with linear input interpolation against a zero-order hold.

Issue 21, item 11: on a 3 000-sample input-output record with one latent state,
``u_interpolation="linear"`` took ~9 s and 2.4 GB per IPOPT iteration against ~0.3 s
with ``"previous"``. This script measures, in one run and on the same data, what could
make the two differ:

- the NLP: variables, constraints, Jacobian and Hessian non-zeros of the numpy engine
  (``_problem.build_problem``, ``_engines.numpy.nlp_class``), per interpolation;
- the solve (``max_time`` per fit): IPOPT iterations, CPU and wall seconds per
  iteration, MUMPS factorizations (one per inertia trial), the largest factor
  (MUMPS ``INFO(9)``, doubles), how often IPOPT raised MUMPS's pivot tolerance, MUMPS
  memory reallocations, restoration iterations (from IPOPT's log at
  ``file_print_level=6``);
- ``pivtol``: the same fits for a few iterations with MUMPS's pivot tolerance at IPOPT's
  ceiling (``mumps_pivtol=0.1``, where IPOPT's ``mumps_pivtolmax`` lets it rise):
  how large the factor and an iteration get once IPOPT has raised it (``--pivtols``:
  other fixed values, ``pivtol=<value>`` rows).

Cases: ``held`` is :func:`skneuralode.datasets.two_tank` (pump level held 10 to 40
samples); ``per_sample`` the same system with a new level every sample
(``hold_range=(1, 1)``). Both: noise 0.02, only h2 measured, ``n_latent=1``, width 16,
alpha 1e-4, as ``examples/plot_two_tank.py``. Prints one JSON line per fit and a
summary line per case with the ratios linear / previous.

    python benchmarks/input_interpolation.py [--n-samples 3000] [--max-time 60]
        [--cases held per_sample] [--pivtol-iterations 8] [--pivtols 0.1] [--no-default]
"""

import argparse
import os
import re
import tempfile
import time
import warnings

from _results import ResultsFile, add_output_options, text_table

from skneuralode import CollocationNeuralODE
from skneuralode._engines.numpy import nlp_class
from skneuralode._init import fit_scaling
from skneuralode._problem import build_problem
from skneuralode._spec import ProblemSpec
from skneuralode._validation import check_fit_data
from skneuralode.datasets import two_tank

PARAMS = dict(n_latent=1, width=16, alpha=1e-4, random_state=0)
CASES = {"held": (10, 40), "per_sample": (1, 1)}
INTERPOLATIONS = ("linear", "previous")


def data(case: str, n_samples: int):
    b = two_tank(n_samples, noise=0.02, hold_range=CASES[case], random_state=0, return_bunch=True)
    return b.t, b.y, b.u


def nlp_size(t, y, u, interpolation: str) -> dict:
    """Variables, constraints and non-zeros of the NLP the numpy engine hands IPOPT."""
    params = CollocationNeuralODE(u_interpolation=interpolation, **PARAMS).get_params()
    spec = ProblemSpec.from_params(params)
    t, X, u, groups = check_fit_data(t, y, u, None, "LSODA", None)
    scaling, smoothers = fit_scaling(t, X, u, groups, spec.smoothing, spec.n_latent)
    problem = build_problem(t, X, u, groups, scaling, spec, smoothers=smoothers)
    nlp = nlp_class(problem)(problem)
    n_var = len(nlp.bounds()[0])
    return {
        "n_variables": n_var,
        "n_constraints": len(nlp.constraints(nlp.join(problem.theta0, problem.states0))),
        "jacobian_nnz": len(nlp.jacobianstructure()[0]),
        "hessian_nnz": len(nlp.hessianstructure()[0]),
    }


def ipopt_log_counts(text: str) -> dict:
    """What IPOPT's log at ``file_print_level=6`` says about the linear algebra."""
    factors = [int(v) for v in re.findall(r"INFO\(9\)\) = (\d+)", text)]
    rows = re.findall(r"^ *\d+(r?) +[-+0-9.e]+ ", text, re.M)
    return {
        "factorizations": len(factors),
        "max_factor_doubles": max(factors, default=0),
        "first_factor_doubles": factors[0] if factors else 0,
        "pivtol_increases": text.count("Increasing pivot tolerance"),
        "mumps_reallocations": text.count("requires more memory"),
        "restoration_iterations": sum(1 for r in rows if r),
    }


def fit(t, y, u, interpolation: str, max_time: float, options: dict) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        log = os.path.join(folder, "ipopt.log")
        model = CollocationNeuralODE(
            u_interpolation=interpolation,
            max_time=max_time,
            solver_options={"output_file": log, "file_print_level": 6, **options},
            **PARAMS,
        )
        wall, cpu = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the time limit's ConvergenceWarning
            model.fit(t, y, u=u)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        with open(log) as f:
            counts = ipopt_log_counts(f.read())
    n_iter = max(model.n_iter_, 1)
    return {
        "status": model.solver_status_,
        "n_iter": model.n_iter_,
        "cpu_per_iter": round(cpu / n_iter, 3),
        "wall_per_iter": round(wall / n_iter, 3),
        "factorizations_per_iter": round(counts["factorizations"] / n_iter, 2),
        **counts,
    }


def ratio(rows: list[dict], key: str) -> float:
    by = {r["interpolation"]: r[key] for r in rows}
    return round(by["linear"] / by["previous"], 3) if by["previous"] else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-samples", type=int, default=3000)
    parser.add_argument("--max-time", type=float, default=60.0, help="seconds per fit")
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument(
        "--pivtol-iterations",
        type=int,
        default=8,
        help="iterations of the fits at a fixed mumps_pivtol (0: skip them)",
    )
    parser.add_argument(
        "--pivtols", nargs="+", type=float, default=[0.1], help="the fixed mumps_pivtol values"
    )
    parser.add_argument(
        "--no-default", action="store_true", help="only the fits at a fixed mumps_pivtol"
    )
    add_output_options(parser, "input_interpolation")
    args = parser.parse_args()
    # a run saved elsewhere (--output .../input_interpolation_pivtol.jsonl) is its own section
    name = "input_interpolation" if args.no_save else args.output.stem
    results = ResultsFile(name, args)
    summaries, cells = [], []
    runs = [] if args.no_default else [("default", {})]
    if args.pivtol_iterations:
        for pivtol in args.pivtols:
            options = {"mumps_pivtol": pivtol, "max_iter": args.pivtol_iterations}
            runs.append(("pivtol" if pivtol == 0.1 else f"pivtol={pivtol:g}", options))
    for case in args.cases:
        t, y, u = data(case, args.n_samples)
        for run, options in runs:
            rows = []
            for interpolation in INTERPOLATIONS:
                row = {"case": case, "run": run, "n_samples": args.n_samples,
                       "interpolation": interpolation, **nlp_size(t, y, u, interpolation),
                       **fit(t, y, u, interpolation, args.max_time, options)}  # fmt: skip
                results.emit(row)
                rows.append(row)
            sizes = ("n_variables", "n_constraints", "jacobian_nnz", "hessian_nnz")
            same = all(rows[0][k] == rows[1][k] for k in sizes)
            summary = {"summary": case, "run": run, "same_nlp": same}
            for key in ("cpu_per_iter", "wall_per_iter", "factorizations_per_iter",
                        "max_factor_doubles"):  # fmt: skip
                summary[f"{key}_ratio"] = ratio(rows, key)
            summaries.append(summary)
            for r in rows:
                cells.append([f"{case}/{run}/{r['interpolation']}", str(r["n_iter"]),
                              f"{r['cpu_per_iter']:.2f}", f"{r['wall_per_iter']:.2f}",
                              f"{r['factorizations_per_iter']:.2f}",
                              f"{r['max_factor_doubles'] / 1e6:.1f}", str(r["pivtol_increases"]),
                              str(r["restoration_iterations"])])  # fmt: skip
    columns = ["case/run/u_interpolation", "iter", "cpu s/it", "wall s/it", "fact/it",
               "max factor (M doubles)", "pivtol raised", "restoration it"]  # fmt: skip
    results.finish(summaries, text_table(columns, cells))


if __name__ == "__main__":
    main()
