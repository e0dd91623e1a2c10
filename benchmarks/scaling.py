"""Fit time, IPOPT iterations and peak memory of CollocationNeuralODE as the problem grows.

Two sweeps, for every scheme (radau, legendre, chebyshev), the pyomo engine through PyNumero:

- samples: unforced Van der Pol (mu=1, x0=(2, 0)), ``van_der_pol(n, (0, n/20))`` for
  n in 200, 1000, 5000, 10000 (up to --max-points), width 32. The time span grows with n
  so the sampling density (20 points per time unit, the density of the test suite's
  200 points on [0, 10]) stays fixed: the NLP grows in length, not in resolution, and
  each element sees the same local dynamics. (Fixing the span and refining instead would
  make the problem easier per point and mix two effects.) Chebyshev is one global
  polynomial, so its differentiation matrix is dense in the states (O(n^2) nonzeros);
  it is skipped above 1000 points with a JSON line saying so.
- widths: 200 points on [0, 10], width in 8, 16, 32, 64, 128.

Each case runs in a fresh subprocess (this script with ``--one CASE``), so the reported
``peak_rss_mb`` (``ru_maxrss`` of the child, read right after ``fit``) is that case's own
peak. The child fits ``CollocationNeuralODE(engine="pyomo", solver="pynumero")`` and
reads the split of its time from the fitted ``timings_``:

- ``build_time``: ``timings_["setup"]`` (validation, smoothing, discretization and the
  Pyomo model; = ``build_time_``);
- ``nl_time``: ``timings_["nl_write"]``, writing the NL problem through PyNumero;
- ``ipopt_time``: ``timings_["ipopt"]`` (IPOPT, including the function/derivative
  evaluations it asks PyNumero for). ``nl_time + ipopt_time`` is ``solve_time_``;
- ``fit_time``: ``timings_["total"]``, the whole ``fit`` (= ``fit_time_``; besides the
  three above it holds what ``fit`` does after IPOPT, such as checking the discretization
  by simulation, which results written before ``timings_`` existed did not count).

``jac_nnz`` and ``hess_nnz`` come from ``PyomoNLP(est.build_model(t, X))`` after the fit,
outside the timed part.

With --ipopt-timing, one representative case (radau, 1000 points, width 32) is run once
more with IPOPT's ``print_timing_statistics`` and its stdout captured at the file-descriptor
level, to split IPOPT's time between function evaluations and the linear solver.
alpha=1e-5, tol=1e-6, other parameters at their defaults; one run per case (a fresh
process each, so medians would multiply the budget: use --repeats for that).

    python benchmarks/scaling.py [--max-points 10000] [--widths 8 16 32 64 128]
        [--schemes radau legendre chebyshev] [--max-iter 3000] [--max-cpu-time 600]
        [--repeats 1] [--ipopt-timing]

``--sweep trajectories`` (the numpy engine's sweep): 1, 5 and 10 trajectories of 1 000
noisy samples each (``benchmarks/_trajectories.py``: unforced Van der Pol on [0, 20],
noise 0.05, alpha 1e-4), radau, width 32, ``--engine`` numpy (default) or pyomo, through
the public ``fit``, no CPU cap unless given. Each case reports the fit's own split
(``timings_``, under the keys above; with the numpy engine also ``evaluation_time``,
the seconds spent in its callbacks), IPOPT's iterations, seconds per iteration, the peak
memory of its process, IPOPT's timing statistics (function evaluations vs. the linear
solver) and the test MSE of free-run simulations on three unseen trajectories.

    python benchmarks/scaling.py --sweep trajectories [--max-points 10000] [--engine numpy]
"""

import argparse
import json
import math
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile

from _results import RESULTS, ResultsFile, add_output_options

SCHEMES = ("radau", "legendre", "chebyshev")
POINTS = (200, 1000, 5000, 10000)
WIDTHS = (8, 16, 32, 64, 128)
SAMPLES_WIDTH = 32
WIDTHS_POINTS = 200
DENSITY = 20  # points per time unit
CHEBYSHEV_MAX_POINTS = 1000
TIMING_CASE = dict(scheme="radau", n=1000, width=32)
#: this script's result keys -> the estimator's ``timings_`` keys
TIMINGS = {
    "build_time": "setup",
    "nl_time": "nl_write",
    "ipopt_time": "ipopt",
    "fit_time": "total",
}


def make_estimator(case, max_iter, max_cpu_time, solver_options=None, verbose=0):
    from skneuralode import CollocationNeuralODE

    return CollocationNeuralODE(
        width=case["width"],
        scheme=case["scheme"],
        alpha=1e-5,
        max_iter=max_iter,
        max_cpu_time=max_cpu_time,
        engine="pyomo",
        solver="pynumero",
        solver_options=solver_options,
        random_state=0,
        verbose=verbose,
    )


def timing_row(est):
    """The fit's wall-clock split (``timings_``) under this script's result keys."""
    row = {key: est.timings_[name] for key, name in TIMINGS.items()}
    if math.isfinite(est.timings_["evaluation"]):  # the numpy engine's callbacks
        row["evaluation_time"] = est.timings_["evaluation"]
    return row


def nonzeros(est, t, X):
    """(Jacobian, Hessian-of-the-Lagrangian) nonzeros of the Pyomo model ``fit`` solves."""
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    nlp = PyomoNLP(est.build_model(t, X))
    return int(nlp.nnz_jacobian_eq() + nlp.nnz_jacobian_ineq()), int(nlp.nnz_hessian_lag())


def run_one(case, max_iter, max_cpu_time, ipopt_timing=False):
    """One public ``fit`` of the samples/widths sweeps, in this process -> dict."""
    from skneuralode.datasets import van_der_pol

    n = case["n"]
    t, X = van_der_pol(n, (0, n / DENSITY), x0=(2.0, 0.0))
    options = {"print_timing_statistics": "yes"} if ipopt_timing else None
    est = make_estimator(case, max_iter, max_cpu_time, options, verbose=2 * ipopt_timing)
    est.fit(t, X)
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jac_nnz, hess_nnz = nonzeros(est, t, X)
    return {
        **timing_row(est),
        "n_iter": est.n_iter_,
        "status": est.solver_status_,
        "n_variables": est.n_variables_,
        "n_constraints": est.n_constraints_,
        "jac_nnz": jac_nnz,
        "hess_nnz": hess_nnz,
        "peak_rss_mb": peak_rss_mb,
    }


def captured_fd1(func, *args):
    """Run ``func`` with file descriptor 1 redirected to a temp file -> (value, text)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), 1)
        try:
            value = func(*args)
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)
        tmp.seek(0)
        text = tmp.read().decode(errors="replace")
    return value, text


TIMING_LINE = re.compile(r"^\s*([A-Za-z][\w ()-]*?)\.{2,}:\s*([\d.]+)\s*\(sys:\s*([\d.]+)\s*wall:")
TIMING_KEYS = (
    "OverallAlgorithm",
    "PDSystemSolverTotal",
    "PDSystemSolverSolveOnce",
    "LinearSystemFactorization",
    "LinearSystemBackSolve",
    "Function Evaluations",
    "Objective function",
    "Objective function gradient",
    "Equality constraints",
    "Equality constraint Jacobian",
    "Lagrangian Hessian",
)


def parse_ipopt_timing(text):
    """IPOPT's 'Timing Statistics' block -> {name: cpu seconds} for TIMING_KEYS."""
    found = {}
    for line in text.splitlines():
        match = TIMING_LINE.match(line)
        if match and match.group(1).strip() in TIMING_KEYS:
            found.setdefault(match.group(1).strip(), float(match.group(2)))
    return found


def run_trajectories(case):
    """One public ``fit`` on ``case["k"]`` trajectories with IPOPT's timing statistics."""
    from _trajectories import ALPHA, test_mse, training_set

    from skneuralode import CollocationNeuralODE

    t, X, ids = training_set(case["k"])
    est = CollocationNeuralODE(
        width=case["width"],
        scheme=case["scheme"],
        alpha=ALPHA,
        engine=case["engine"],
        max_iter=case["max_iter"],
        max_cpu_time=case["max_cpu_time"],
        random_state=0,
        solver_options={"print_level": 3, "print_timing_statistics": "yes"},
    )
    est, text = captured_fd1(est.fit, t, X, None, ids)
    return {
        "n": len(t),
        "engine": est.engine_,
        **timing_row(est),
        "n_iter": est.n_iter_,
        "status": est.solver_status_,
        "n_variables": est.n_variables_,
        "n_constraints": est.n_constraints_,
        "test_mse": test_mse(est),
        "train_mse": est.train_mse_,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "ipopt_timing_cpu": parse_ipopt_timing(text),
    }


def child(spec):
    case = json.loads(spec)
    if "k" in case:
        print("RESULT " + json.dumps(run_trajectories(case)), flush=True)
        return
    if case.pop("ipopt_timing", False):
        out, text = captured_fd1(
            run_one, case, case.pop("max_iter"), case.pop("max_cpu_time"), True
        )
        out["ipopt_timing_cpu"] = parse_ipopt_timing(text)
    else:
        out = run_one(case, case.pop("max_iter"), case.pop("max_cpu_time"))
    print("RESULT " + json.dumps(out), flush=True)


def in_subprocess(case, args, ipopt_timing=False):
    spec = dict(case, max_iter=args.max_iter, max_cpu_time=args.max_cpu_time)
    if "k" in case:
        spec["engine"] = args.engine
    elif spec["max_cpu_time"] is None:
        spec["max_cpu_time"] = 600.0
    spec["ipopt_timing"] = ipopt_timing
    timeout = 3 * (args.max_cpu_time or 3600) + 600  # building is not under max_cpu_time
    try:
        proc = subprocess.run(
            [sys.executable, os.path.abspath(__file__), "--one", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timeout after {timeout} s"}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
    return {"error": f"exit code {proc.returncode}: " + " | ".join(tail)}


def cases(args):
    """(sweeps, case) in order, each (scheme, n, width) once."""
    points = [n for n in POINTS if n <= args.max_points]
    todo = {}
    for scheme in args.schemes:
        for n in points:
            todo.setdefault((scheme, n, SAMPLES_WIDTH), []).append("samples")
        for width in args.widths:
            todo.setdefault((scheme, WIDTHS_POINTS, width), []).append("widths")
    return [(sweeps, dict(scheme=s, n=n, width=w)) for (s, n, w), sweeps in sorted(todo.items())]


def rounded(value):
    return round(value, 3) if isinstance(value, float) else value


def table(rows):
    head = ["scheme", "n", "width", "status", "iter", "n_var", "jac_nnz", "build", "nl"]
    head += ["ipopt", "fit", "s/iter", "rss_MB"]
    lines = ["  ".join(f"{h:>9}" for h in head)]
    for row in rows:
        if "fit_time" not in row:
            cells = [row["scheme"], row["n"], row["width"], row.get("skipped") or row["error"]]
            lines.append("  ".join(f"{str(c):>9}" for c in cells[:3]) + "  " + str(cells[3]))
            continue
        per_iter = row["ipopt_time"] / max(row["n_iter"], 1)
        cells = [row["scheme"], row["n"], row["width"], row["status"][:9], row["n_iter"]]
        cells += [row["n_variables"], row["jac_nnz"]]
        cells += [f"{row[k]:.2f}" for k in ("build_time", "nl_time", "ipopt_time", "fit_time")]
        cells += [f"{per_iter:.3f}", f"{row['peak_rss_mb']:.0f}"]
        lines.append("  ".join(f"{str(c):>9}" for c in cells))
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-points", type=int, default=max(POINTS))
    parser.add_argument("--widths", type=int, nargs="+", default=list(WIDTHS))
    parser.add_argument("--schemes", nargs="+", choices=SCHEMES, default=list(SCHEMES))
    parser.add_argument("--max-iter", type=int, default=3000)
    parser.add_argument(
        "--max-cpu-time", type=float, default=None, help="per fit (IPOPT); samples sweep: 600"
    )
    parser.add_argument("--repeats", type=int, default=1, help="fresh processes per case")
    parser.add_argument("--ipopt-timing", action="store_true")
    parser.add_argument("--sweep", choices=["samples", "trajectories"], default="samples")
    parser.add_argument("--engine", choices=["numpy", "pyomo"], default="numpy")
    parser.add_argument("--one", help=argparse.SUPPRESS)
    add_output_options(parser, "scaling")
    args = parser.parse_args()
    if args.one:
        child(args.one)
        return
    if args.sweep == "trajectories":
        trajectory_sweep(args)
        return
    results = ResultsFile("scaling", args)
    rows = []
    for sweeps, case in cases(args):
        row = dict(case, sweeps=sweeps)
        if case["scheme"] == "chebyshev" and case["n"] > CHEBYSHEV_MAX_POINTS:
            row["skipped"] = (
                f"chebyshev is one global polynomial: its differentiation matrix is dense in "
                f"the states (O(n^2) Jacobian nonzeros); skipped above "
                f"{CHEBYSHEV_MAX_POINTS} points"
            )
        else:
            runs = [in_subprocess(case, args) for _ in range(args.repeats)]
            good = [r for r in runs if "error" not in r]
            if not good:
                row.update(runs[0])
            else:
                row.update(good[-1])
                for key in ("build_time", "nl_time", "ipopt_time", "fit_time", "peak_rss_mb"):
                    row[key] = statistics.median(r[key] for r in good)
                if args.repeats > 1:
                    row["fit_times"] = [round(r["fit_time"], 2) for r in good]
                row["ipopt_s_per_iter"] = row["ipopt_time"] / max(row["n_iter"], 1)
        rows.append(row)
        results.emit({k: rounded(v) for k, v in row.items()})
    if args.ipopt_timing:
        case = dict(TIMING_CASE)
        row = dict(case, sweeps=["ipopt_timing"])
        row.update(in_subprocess(case, args, ipopt_timing=True))
        timing = row.get("ipopt_timing_cpu", {})
        total = timing.get("OverallAlgorithm")
        if total:
            for key in ("Function Evaluations", "PDSystemSolverTotal"):
                if key in timing:
                    row[f"share_{key.replace(' ', '_')}"] = timing[key] / total
        results.emit({k: rounded(v) for k, v in row.items()})
    print()
    print(table(rows))
    results.save()


def trajectory_sweep(args):
    """1, 5, 10 trajectories x 1 000 samples (up to --max-points), one engine."""
    name = f"scaling_trajectories_{args.engine}"
    if args.output == RESULTS / "scaling.jsonl":  # the default belongs to the samples sweep
        args.output = RESULTS / f"{name}.jsonl"
    results = ResultsFile(name, args)
    for k in (1, 5, 10):
        if k * 1000 > args.max_points:
            continue
        case = dict(scheme="radau", width=SAMPLES_WIDTH, k=k)
        row = dict(case, sweeps=["trajectories"])
        row.update(in_subprocess(case, args))
        if "n_iter" in row:
            row["ipopt_s_per_iter"] = row["ipopt_time"] / max(row["n_iter"], 1)
            timing = row.get("ipopt_timing_cpu", {})
            total = timing.get("OverallAlgorithm")
            if total:
                for key in ("Function Evaluations", "PDSystemSolverTotal"):
                    row[f"share_{key.replace(' ', '_')}"] = timing.get(key, 0) / total
        results.emit({key: rounded(value) for key, value in row.items()})
    results.save()


if __name__ == "__main__":
    main()
