"""IPOPT's speed with the kernels cyipopt's bundled OpenBLAS runs: skneuralode's choice,
OpenBLAS's own, and the generic fallback, each in fresh processes.

The OpenBLAS that cyipopt-wheels bundles for MUMPS picks its kernels when it is loaded,
so every run is a new Python process (this script with ``--child``), loading it one of
three ways:

- ``fix``: ``skneuralode._openblas.import_cyipopt()`` (``OPENBLAS_CORETYPE`` unset in the
  child; the function sets it from the CPU flags for the import only);
- ``self``: ``import cyipopt`` before skneuralode, so the bundled OpenBLAS chooses by itself;
- ``prescott``: ``OPENBLAS_CORETYPE=Prescott`` set for the import of cyipopt only (after
  numpy and scipy), the generic kernels an unrecognised CPU falls back to, while numpy's
  and scipy's own OpenBLAS keep theirs.

Workloads: the paper's forced Van der Pol case (200 Chebyshev points on [0, 15], noise 0.1,
width 32, alpha=1e-3) fitted with scheme radau and chebyshev (``fit_time_``,
``solve_time_``, ``n_iter_``); and a pure cyipopt problem where MUMPS dominates: a convex
sparse QP whose random couplings fill the factor into a dense block (``--qp-size``
variables, a quarter as many equality constraints, bounds, exact Hessian, exactly
``--qp-iterations`` IPOPT iterations). Runs are interleaved (the order of the three
settings rotates with the repeat); one JSON line per run, then a summary line per workload
with the medians and the ratios self/fix and prescott/fix.

    python benchmarks/openblas.py [--repeats 3] [--workloads fit_radau fit_chebyshev qp]
"""

# Only the standard library at the top: a child must import cyipopt, numpy and
# skneuralode in the order its setting prescribes.
import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import warnings

from _results import ROOT, ResultsFile, add_output_options

SETTINGS = ("fix", "self", "prescott")
WORKLOADS = ("fit_radau", "fit_chebyshev", "qp")
# Medians and ratios of these. time_per_iter = solve_time / n_iter, as the iteration counts
# of a fit can differ between kernels (rounding changes IPOPT's path); cpu_time is the
# child's CPU time over the fit or solve, less sensitive than wall time to other load on a
# shared machine (the bundled OpenBLAS is single-threaded).
TIMES = {
    "fit": ("fit_time", "solve_time", "time_per_iter", "cpu_time"),
    "qp": ("solve_time", "time_per_iter", "cpu_time"),
}
TIMEOUT = 1800  # seconds per child; the machines are shared
FORCED = dict(x0=(0.0, 1.0), mu=1.0, forcing_amplitude=1.0, forcing_frequency=1.0)


# The parent: fresh processes, interleaved, then medians and ratios.


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--qp-size", type=int, default=3000, help="QP variables")
    parser.add_argument("--qp-iterations", type=int, default=20)
    parser.add_argument("--child", metavar="JSON", help=argparse.SUPPRESS)
    add_output_options(parser, "openblas")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(**json.loads(args.child))))
        return
    results = ResultsFile("openblas", args)
    runs = {w: {s: [] for s in SETTINGS} for w in args.workloads}
    for repeat in range(args.repeats):
        order = SETTINGS[repeat % 3 :] + SETTINGS[: repeat % 3]  # no setting always first
        for workload in args.workloads:
            for setting in order:
                row = run_child(setting, workload, args)
                runs[workload][setting].append(row)
                results.emit({"case": workload, "setting": setting, "repeat": repeat, **row})
    for workload in args.workloads:
        results.emit(summary(workload, runs[workload]))
    results.save()


def run_child(setting: str, workload: str, args: argparse.Namespace) -> dict:
    """One fresh process: load cyipopt by ``setting``, run ``workload`` -> its record."""
    spec = dict(setting=setting, workload=workload, qp_size=args.qp_size)
    spec["qp_iterations"] = args.qp_iterations
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    done = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--child", json.dumps(spec)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        cwd=ROOT,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"{setting}/{workload} child failed ({done.returncode}):\n{done.stderr}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def summary(workload: str, runs: dict[str, list[dict]]) -> dict:
    """Medians per setting and the ratios self/fix, prescott/fix for ``workload``."""
    row = {"summary": workload, "repeats": len(runs["fix"])}
    for setting in SETTINGS:
        row[f"architecture_{setting}"] = runs[setting][0]["architecture"]
        iterations = sorted({r["n_iter"] for r in runs[setting]})
        row[f"n_iter_{setting}"] = iterations[0] if len(iterations) == 1 else iterations
    for key in TIMES[workload.split("_")[0]]:
        medians = {s: statistics.median(r[key] for r in runs[s]) for s in SETTINGS}
        for setting in SETTINGS:
            row[f"median_{key}_{setting}"] = round(medians[setting], 4)
        for setting in ("self", "prescott"):
            row[f"{key}_ratio_{setting}_vs_fix"] = round(medians[setting] / medians["fix"], 3)
    return row


# The child: load cyipopt as the setting says, run one workload, describe the OpenBLAS.


def child(setting: str, workload: str, qp_size: int, qp_iterations: int) -> dict:
    """Everything one fresh process does -> its record."""
    load_cyipopt(setting)
    if workload == "qp":
        row = solve_qp(qp_size, qp_iterations)
    else:
        row = fit_paper_case(workload.removeprefix("fit_"))
    row["time_per_iter"] = round(row["solve_time"] / max(row["n_iter"], 1), 4)
    return {**row, **describe_openblas()}


def load_cyipopt(setting: str) -> None:
    """Load cyipopt (and its OpenBLAS) the way ``setting`` names."""
    if setting == "self":
        import cyipopt  # noqa: F401  (first, before numpy, scipy and skneuralode)
    elif setting == "prescott":
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401
        import scipy.optimize  # noqa: F401
        import scipy.sparse  # noqa: F401

        os.environ["OPENBLAS_CORETYPE"] = "Prescott"
        try:
            import cyipopt  # noqa: F401
        finally:
            del os.environ["OPENBLAS_CORETYPE"]
    from skneuralode._openblas import import_cyipopt

    import_cyipopt()  # in "fix" the first import: sets OPENBLAS_CORETYPE for it


def fit_paper_case(scheme: str) -> dict:
    """Fit the paper's forced Van der Pol case with ``scheme`` -> times and iterations."""
    from skneuralode import CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    train = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **FORCED
    )
    est = CollocationNeuralODE(width=32, alpha=1e-3, scheme=scheme, random_state=0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cpu = time.process_time()
        est.fit(train.t, train.X)
        cpu = time.process_time() - cpu
    return {
        "fit_time": round(est.fit_time_, 3),
        "cpu_time": round(cpu, 3),
        "solve_time": round(est.solve_time_, 3),
        "n_iter": est.n_iter_,
        "status": est.solver_status_,
        "engine": getattr(est, "engine_", None),  # the fitted engine, where the estimator has one
        "warnings": sorted({type(w.message).__name__ for w in caught}),
    }


def solve_qp(n: int, iterations: int) -> dict:
    """``iterations`` IPOPT iterations on a sparse QP whose factor fills in -> the time."""
    import numpy as np

    from skneuralode._openblas import import_cyipopt

    problem = build_qp(n, np.random.default_rng(0), import_cyipopt())
    options = dict(print_level=0, sb="yes", max_iter=iterations, tol=1e-14, acceptable_iter=0)
    for key, value in options.items():
        problem.add_option(key, value)
    start, cpu = time.perf_counter(), time.process_time()
    _, info = problem.solve(np.full(n, 5.0))
    return {
        "solve_time": round(time.perf_counter() - start, 3),
        "cpu_time": round(time.process_time() - cpu, 3),
        "n_iter": iterations,
        "status": int(info["status"]),  # -1: the iteration limit, as intended
    }


def build_qp(n: int, rng, cyipopt):
    """min ½xᵀQx + gᵀx s.t. Ax = b, 0 <= x <= 10 as a ``cyipopt.Problem``.

    Q is diagonally dominant (so SPD) with 3n random couplings: a random sparse graph has
    no small separators, so MUMPS's factor is nearly dense in its last few thousand rows
    and its time is BLAS-3 work. A (n/4 rows, 4 nonzeros per row on average) has a
    solution strictly inside the bounds.
    """
    import numpy as np
    import scipy.sparse as sp

    i, j = rng.integers(0, n, (2, 3 * n))
    keep = i != j
    lower = sp.coo_matrix(
        (rng.standard_normal(keep.sum()), (np.maximum(i, j)[keep], np.minimum(i, j)[keep])),
        shape=(n, n),
    ).tocsr()
    couplings = lower + lower.T
    Q = (couplings + sp.diags(abs(couplings).sum(axis=1).A1 + 1.0)).tocsr()
    H = sp.tril(Q).tocoo()
    A = sp.random(n // 4, n, density=4 / n, random_state=1, format="csr")
    A.data = rng.standard_normal(A.nnz)
    J = A.tocoo()
    b = A @ rng.uniform(1, 9, n)
    g = 10 * rng.standard_normal(n)

    class QP:
        def objective(self, x):
            return 0.5 * x @ (Q @ x) + g @ x

        def gradient(self, x):
            return Q @ x + g

        def constraints(self, x):
            return A @ x

        def jacobian(self, x):
            return J.data

        def jacobianstructure(self):
            return J.row, J.col

        def hessian(self, x, lagrange, obj_factor):
            return obj_factor * H.data

        def hessianstructure(self):
            return H.row, H.col

    lb, ub = np.zeros(n), np.full(n, 10.0)
    return cyipopt.Problem(n=n, m=A.shape[0], problem_obj=QP(), lb=lb, ub=ub, cl=b, cu=b)


def describe_openblas() -> dict:
    """The bundled OpenBLAS's kernels, the report, and the other OpenBLAS libraries."""
    import threadpoolctl

    from skneuralode._openblas import bundled_openblas_info, openblas_report

    bundled = bundled_openblas_info() or {}
    others = [
        f"{os.path.basename(i['filepath'])} {i.get('version')}: {i.get('architecture')}"
        for i in threadpoolctl.threadpool_info()
        if i.get("internal_api") == "openblas" and i.get("filepath") != bundled.get("filepath")
    ]
    return {
        "architecture": bundled.get("architecture"),
        "openblas_version": bundled.get("version"),
        "coretype_left_set": "OPENBLAS_CORETYPE" in os.environ,
        # a dict: kept in the JSON, left out of docs/benchmarks.rst's tables
        "details": {"report": openblas_report(), "other_openblas": sorted(others)},
    }


if __name__ == "__main__":
    main()
