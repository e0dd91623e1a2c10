"""The numpy engine against the pyomo engine on the paper's case, in one run.

Forced Van der Pol (A=1, omega=1), x0=(0, 1), 200 Chebyshev samples on [0, 15] with noise
0.1, width 32, alpha=1e-3, for the schemes radau (the default) and chebyshev. For each
scheme three variants fit from the same start, interleaved, --repeats times: the numpy
engine as by default (``hessian_regularization="adaptive"``), the numpy engine with
IPOPT's own Hessian regularization (``"ipopt"``: the same iterates as the pyomo engine),
and the pyomo engine (``solver="pynumero"``: cyipopt through PyNumero); all with the
estimators' IPOPT options (``alpha_for_y="min-dual-infeas"``). The JSON lines give the
median wall times, the ratios pyomo / numpy, the iterations, the objective and the simulation MSEs
against the noise-free truth on [0, 15] and (15, 30] (simulated from the true x0). With
--ipopt-timing each engine x scheme is run once more with IPOPT's
``print_timing_statistics`` to split IPOPT's time into function evaluations and the
linear solver (MUMPS).

    python benchmarks/engines.py [--repeats 3] [--schemes radau chebyshev] [--ipopt-timing]
"""

import argparse
import statistics
import time

import numpy as np
from _results import ResultsFile, add_output_options
from scaling import captured_fd1, parse_ipopt_timing

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import van_der_pol

FORCED = dict(x0=(0.0, 1.0), forcing_amplitude=1.0, forcing_frequency=1.0)
#: variant -> (engine, IPOPT route, hessian_regularization)
ENGINES = {"numpy": ("numpy", "auto", "adaptive"), "numpy_ipopt_rule": ("numpy", "auto", "ipopt"),
           "pyomo": ("pyomo", "pynumero", "ipopt")}  # fmt: skip


def data():
    train = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **FORCED
    )
    truth = van_der_pol(t=np.linspace(0, 30, 601), return_bunch=True, **FORCED)
    return train, truth


def fit(train, scheme, variant, solver_options=None):
    engine, solver, regularization = ENGINES[variant]
    est = CollocationNeuralODE(
        width=32,
        alpha=1e-3,
        scheme=scheme,
        random_state=0,
        engine=engine,
        hessian_regularization=regularization,
        solver=solver,
        solver_options=solver_options,
        verbose=2 * (solver_options is not None),  # IPOPT's own log
    )
    start = time.perf_counter()
    est.fit(train.t, train.X)
    return est, time.perf_counter() - start


def mses(est, truth):
    pred = est.predict(truth.t, truth.X_true[0])
    test = truth.t > 15
    err = (pred - truth.X_true) ** 2
    return float(np.mean(err[~test])), float(np.mean(err[test]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--schemes", nargs="+", default=["radau", "chebyshev"])
    parser.add_argument("--ipopt-timing", action="store_true")
    add_output_options(parser, "engines")
    args = parser.parse_args()
    results = ResultsFile("engines", args)
    train, truth = data()
    fit(train, "radau", "numpy")  # first solve in the process: imports, library loading
    for scheme in args.schemes:
        walls = {engine: [] for engine in ENGINES}
        last = {}
        for k in range(args.repeats):
            order = list(ENGINES) if k % 2 == 0 else list(ENGINES)[::-1]
            for engine in order:
                est, wall = fit(train, scheme, engine)
                walls[engine].append(wall)
                last[engine] = est
        for engine in ENGINES:
            est = last[engine]
            train_mse, test_mse = mses(est, truth)
            results.emit(
                {
                    "case": f"paper_{scheme}",
                    "engine": engine,
                    "hessian_regularization": ENGINES[engine][2],
                    "median_fit_time": round(statistics.median(walls[engine]), 3),
                    "fit_times": [round(w, 2) for w in walls[engine]],
                    "build_time": round(est.build_time_, 3),
                    "solve_time": round(est.solve_time_, 3),
                    "n_iter": est.n_iter_,
                    "status": est.solver_status_,
                    "objective": est.objective_,
                    "n_variables": est.n_variables_,
                    "train_span_mse_simulation": round(train_mse, 6),
                    "test_span_mse_simulation": round(test_mse, 6),
                }
            )
        pyomo = statistics.median(walls["pyomo"])
        results.emit(
            {
                "case": f"paper_{scheme}",
                "summary": "pyomo / numpy median fit time",
                "speedup_numpy": round(pyomo / statistics.median(walls["numpy"]), 2),
                "speedup_numpy_ipopt_rule": round(
                    pyomo / statistics.median(walls["numpy_ipopt_rule"]), 2
                ),
                "objective_relative_difference": abs(
                    last["numpy"].objective_ - last["pyomo"].objective_
                )
                / last["pyomo"].objective_,
            }
        )
        if args.ipopt_timing:
            for engine in ENGINES:
                (est, wall), text = captured_fd1(
                    fit, train, scheme, engine, {"print_timing_statistics": "yes"}
                )
                timing = parse_ipopt_timing(text)
                total = timing.get("OverallAlgorithm") or float("nan")
                results.emit(
                    {
                        "case": f"paper_{scheme}",
                        "engine": engine,
                        "ipopt_timing_cpu": timing,
                        "share_function_evaluations": round(
                            timing.get("Function Evaluations", 0) / total, 3
                        ),
                        "share_linear_solver": round(
                            timing.get("PDSystemSolverTotal", 0) / total, 3
                        ),
                        "wall": round(wall, 2),
                    }
                )
    results.save()


if __name__ == "__main__":
    main()
