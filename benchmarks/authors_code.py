"""The authors' own code against skneuralode on the paper's case, interleaved in one run.

The authors' research code (Shapovalova & Tsay, github.com/mariashapo/NODE; measured at
commit af94a05) is not part of this repository and is never copied into it: pass a clone
with ``--authors-repo PATH``. It is used unchanged: their ``TrainerToy.load_trainer("vdp")``
generates the forced Van der Pol data (200 Chebyshev samples on [0, 15], noise 0.1),
builds their Chebyshev differentiation matrix and kernel-smoothed start (with JAX), then
``train_pyomo`` builds their Pyomo collocation model (``00_models/nn_pyomo_base.py``:
[2, 32, 2] tanh network, regularization 1e-3, IPOPT ``tol`` 1e-4, as in their Van der Pol
notebook) and solves it. Two interventions, both here: their module imports the
PyTorch/diffrax baselines' modules and ``flax`` at import time, which are unused on the
Pyomo path, so empty stand-ins are put first on ``sys.path``; and when no ``ipopt``
executable is on ``PATH`` (their route), their model is solved by Pyomo's ``cyipopt``
interface (PyNumero, same IPOPT, same options; ``halt_on_ampl_error`` is an option of
the AMPL executable only and is dropped).

Rows per repeat (``--repeats``), in this order:

- ``authors[their data]``: their data preparation (``prep``: data, differentiation
  matrix, smoothing), their model building and their solve (``build_solve``; the figure
  compared), with IPOPT's iterations;
- ``skneuralode[default]``, ``skneuralode[chebyshev]``, ``skneuralode[ipopt defaults]``
  (``solver_options={"alpha_for_y": "primal"}, hessian_regularization="ipopt"``: IPOPT's
  own rules): ``CollocationNeuralODE(width=32, alpha=1e-3, random_state=0)`` on
  ``skneuralode.datasets.van_der_pol`` data of the same case (noise seed 0); ``total``
  is the whole ``fit``;
- ``skneuralode[default, their data]``: the default estimator on the authors' noisy
  samples;
- ``authors[our data]``: their model and solve on our noisy samples (their smoothing
  redone on them).

Accuracy: MSE of a free run from the true initial state against the noise-free
oscillator on [0, 15] (``mse_train_span``) and (15, 30] (``mse_test_span``). The summary
gives medians and ``speedup = authors' build_solve / our total`` for each of our rows.

Needs the ``bench`` and ``examples`` extras (their code imports jax, torch, matplotlib)
and an IPOPT route for Pyomo (an ``ipopt`` executable or PyNumero's ASL library, as
``make test`` sets up).

    git clone https://github.com/mariashapo/NODE /tmp/NODE
    python benchmarks/authors_code.py --authors-repo /tmp/NODE [--repeats 3]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from _results import ResultsFile, add_output_options

from skneuralode import CollocationNeuralODE
from skneuralode._simulate import VectorField, simulate
from skneuralode.datasets import van_der_pol

FORCED = dict(x0=(0.0, 1.0), forcing_amplitude=1.0, forcing_frequency=1.0)
EXECUTABLE_ONLY_OPTIONS = {"halt_on_ampl_error"}

#: Empty stand-ins for modules the authors' training module imports but the Pyomo path
#: never uses (their PyTorch and diffrax baselines; flax).
STAND_INS = {
    "nn_pytorch.py": "class NeuralODE:\n    pass\n",
    "nn_jax_diffrax.py": "class NeuralODE:\n    pass\n",
    "flax/__init__.py": "from . import linen\n",
    "flax/linen.py": "",
}


def authors_params():
    """Their Van der Pol settings (01_experiments_synthetic, Pyomo initialization run)."""
    return {
        "layer_widths": [2, 32, 2],
        "act_func": "tanh",
        "penalty_lambda_reg": 0.001,
        "time_invariant": True,
        "w_init_method": "xavier",
        "reg_norm": False,
        "skip_collocation": np.inf,
        "params": {
            "tol": 1e-4,
            "acceptable_iter": 0,
            "halt_on_ampl_error": "yes",
            "print_level": 5,
            "max_iter": 3000,
        },
    }


class Authors:
    """Imports the authors' modules from a clone and runs their Pyomo training."""

    def __init__(self, repo: Path):
        if not (repo / "00_models" / "nn_pyomo_base.py").is_file():
            raise SystemExit(f"--authors-repo {repo}: no 00_models/nn_pyomo_base.py there")
        self._stand_ins = Path(tempfile.mkdtemp(prefix="authors_stand_ins_"))
        for name, text in STAND_INS.items():
            path = self._stand_ins / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        sys.path.insert(0, str(self._stand_ins))
        for sub in ("00_utils", "00_models", "00_utils_training"):
            sys.path.insert(1, str(repo / sub))
        import nn_pyomo_base
        import pyomo.environ as pyo
        import run_train_toy

        self.route = "ipopt executable" if shutil.which("ipopt") else "cyipopt (PyNumero)"
        self.last = {}
        outer = self

        class Solver:
            """SolverFactory('ipopt')'s interface for their code, on the available route."""

            def __init__(self):
                self.options = {}

            def solve(self, model, tee=True):
                if outer.route == "ipopt executable":
                    solver, opts = pyo.SolverFactory("ipopt"), dict(self.options)
                else:
                    solver = pyo.SolverFactory("cyipopt")
                    opts = {
                        k: v for k, v in self.options.items() if k not in EXECUTABLE_ONLY_OPTIONS
                    }
                buf = io.StringIO()
                start = time.perf_counter()
                with contextlib.redirect_stdout(buf):
                    result = solver.solve(model, tee=True, options=opts)
                wall = time.perf_counter() - start
                found = re.search(r"Number of Iterations\.*:\s*(\d+)", buf.getvalue())
                outer.last = dict(
                    solve=wall,
                    n_iter=int(found.group(1)) if found else None,
                    status=str(result.solver.termination_condition),
                )
                result.solver.time = wall  # their result extraction reads it
                return result

        class Model(nn_pyomo_base.NeuralODEPyomo):
            def initialize_solver(self):  # their loop over options, on our Solver
                solver = Solver()
                for key, value in (self.params or {}).items():
                    if key != "detailed_output":
                        solver.options[key] = value
                return solver

        run_train_toy.PyomoModel = Model
        self._trainer_class = run_train_toy.TrainerToy

    def close(self):
        shutil.rmtree(self._stand_ins, ignore_errors=True)

    def run(self, samples=None):
        """Their data (or ``samples``' noisy states with their smoothing), model and solve."""
        quiet = contextlib.redirect_stdout(io.StringIO())
        start = time.perf_counter()
        with quiet, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer = self._trainer_class.load_trainer("vdp")
            if samples is not None:
                if not np.allclose(np.asarray(trainer.t), samples.t, atol=1e-9):
                    raise RuntimeError("the authors' time grid differs from ours")
                trainer.y_noisy = np.asarray(samples.X)
                trainer.y = np.asarray(samples.X_true)
                trainer.estimate_derivative()
        prepared = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            trainer.train_pyomo(authors_params())
        done = time.perf_counter()
        weights = {k: np.asarray(v) for k, v in trainer.model.extract_weights().items()}
        return (
            trainer,
            dict(
                prep=prepared - start,
                build_solve=done - prepared,
                build=done - prepared - self.last["solve"],
                solve=self.last["solve"],
                n_iter=self.last["n_iter"],
                status=self.last["status"],
            ),
            weights,
        )


def free_run_errors(pred, truth):
    """MSE of a free run against the noise-free oscillator on [0, 15] and (15, 30]."""
    test = truth.t > 15.0
    err = (pred - truth.X_true) ** 2
    return float(np.mean(err[~test])), float(np.mean(err[test]))


def simulate_authors(weights, truth):
    """Their network (``W2 tanh(W1 x + b1) + b2`` in the data's units) simulated from the
    true x0 with the same integrator and tolerances as ``CollocationNeuralODE.predict``."""
    field = VectorField(
        coefs=[np.asarray(weights["W1"]).T, np.asarray(weights["W2"]).T],
        intercepts=[np.asarray(weights["b1"]), np.asarray(weights["b2"])],
        activation="tanh",
        x_mean=np.zeros(2),
        x_scale=np.ones(2),
        t_scale=1.0,
    )
    return simulate(field, truth.t, truth.X_true[0])


OURS = {
    "skneuralode[default]": {},
    "skneuralode[chebyshev]": {"scheme": "chebyshev"},
    "skneuralode[ipopt defaults]": {
        "solver_options": {"alpha_for_y": "primal"},
        "hessian_regularization": "ipopt",
    },
}


def run_ours(params, t, X, truth):
    est = CollocationNeuralODE(width=32, alpha=1e-3, random_state=0, **params)
    start = time.perf_counter()
    est.fit(t, X)
    total = time.perf_counter() - start
    train, test = free_run_errors(est.predict(truth.t, truth.X_true[0]), truth)
    return dict(
        total=total,
        build=est.build_time_,
        solve=est.solve_time_,
        n_iter=est.n_iter_,
        status=est.solver_status_,
        mse_train_span=train,
        mse_test_span=test,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors-repo", type=Path, required=True, metavar="PATH")
    parser.add_argument("--repeats", type=int, default=3)
    add_output_options(parser, "authors_code")
    args = parser.parse_args()
    results = ResultsFile("authors_code", args)
    authors = Authors(args.authors_repo.resolve())
    ours_data = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **FORCED
    )
    truth = van_der_pol(t=np.linspace(0, 30, 601), return_bunch=True, **FORCED)
    rows = []

    def emit(method, record, repeat):
        row = {"method": method, "repeat": repeat, **record}
        rows.append(row)
        results.emit({k: round(v, 5) if isinstance(v, float) else v for k, v in row.items()})

    try:
        for repeat in range(args.repeats):
            trainer, record, weights = authors.run()
            train, test = free_run_errors(simulate_authors(weights, truth), truth)
            emit(
                "authors[their data]",
                {**record, "route": authors.route, "mse_train_span": train, "mse_test_span": test},
                repeat,
            )
            for name, params in OURS.items():
                emit(name, run_ours(params, ours_data.t, ours_data.X, truth), repeat)
            their_t, their_X = np.asarray(trainer.t), np.asarray(trainer.y_noisy)
            emit("skneuralode[default, their data]", run_ours({}, their_t, their_X, truth), repeat)
            _, record, weights = authors.run(ours_data)
            train, test = free_run_errors(simulate_authors(weights, truth), truth)
            emit(
                "authors[our data]",
                {**record, "route": authors.route, "mse_train_span": train, "mse_test_span": test},
                repeat,
            )
    finally:
        authors.close()

    def median(method, key):
        return statistics.median(r[key] for r in rows if r["method"] == method)

    reference = median("authors[their data]", "build_solve")
    for method in dict.fromkeys(r["method"] for r in rows):
        timed = "build_solve" if method.startswith("authors") else "total"
        summary = {
            "summary": method,
            "median_time": round(median(method, timed), 2),
            "timed": timed,
            "median_iter": median(method, "n_iter"),
            "mse_train_span": round(median(method, "mse_train_span"), 4),
            "mse_test_span": round(median(method, "mse_test_span"), 4),
        }
        if method.startswith("authors"):
            summary["median_prep"] = round(median(method, "prep"), 2)
        else:
            summary["speedup_vs_authors"] = round(reference / median(method, "total"), 2)
        results.emit(summary)
    results.save()


if __name__ == "__main__":
    main()
