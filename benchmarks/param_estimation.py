"""Physics-only parameter estimation: collocation (IPOPT) vs single shooting (least squares).

A model that is all physics (the physics function reads no network output) has no
network: :class:`~skneuralode.CollocationNeuralODE` then estimates the physical parameters
and the states at the collocation nodes, one NLP solved by IPOPT with exact derivatives.
The classical alternative is single shooting: simulate the ODE with ``solve_ivp`` from
guessed parameters and initial states, and let ``scipy.optimize.least_squares`` adjust
them. Both are run on the same data from the same initial guess; both minimize the same
misfit (each state's residuals divided by the standard deviation of its data, as the
collocation objective standardizes them), so their estimates should agree to within the
collocation's discretization error.

Cases (``--cases``):

- ``tanks_both``: :func:`skneuralode.datasets.two_tank` (``--n-samples`` samples, pump
  input held 10 to 40 samples), both levels measured with noise ``--noise``; ``k1``,
  ``k2``, ``k3``, ``k4`` free (true 0.2, 0.2, 0.15, 0.2), bounded below by 0;
- ``tanks_h2``: the same system, only ``h2`` measured, ``h1`` a latent state (collocation:
  ``n_latent=1, latent_start=[3.0]``; shooting: ``h1(0)`` an unknown starting at 3.0);
  ``k2`` held at its true value (with ``h1`` unmeasured, ``k1``, ``k2``, ``k4`` and ``h1``
  are identifiable only up to a rescaling of ``h1``), ``k1``, ``k3``, ``k4`` free;
- ``lotka_volterra``: ``dx/dt = a x - b x y``, ``dy/dt = d x y - c y`` with ``a = 2/3``,
  ``b = 4/3``, ``c = d = 1`` from ``(1.2, 0.8)``, ``--lv-samples`` samples on [0, 20],
  simulated with ``solve_ivp`` (DOP853, rtol 1e-12) and measured with noise ``--noise``;
  all four parameters free, bounded below by 0.

Every free parameter starts at ``g`` times its true value for each ``g`` in ``--guesses``;
the measured initial states start at the first samples. Collocation:
``CollocationNeuralODE(physics=..., physics_params=guess, physics_bounds=...,
u_interpolation="previous")`` with every other setting at its default (Radau IIA of degree
3, one element per sample interval, ``tol=1e-6``). Shooting: ``least_squares(method="trf",
x_scale="jac")`` over the free parameters and the initial states, Jacobian by forward
differences (``"2-point"``, the default); each residual evaluation integrates the ODE with
``solve_ivp`` (DOP853, rtol ``--rtol``, atol ``--rtol`` / 100), piece by piece between
input switches for the tanks (the input is constant on each piece, so the integrator never
steps across a switch), with ``sqrt(max(h, 0))`` so that a trial point with a negative
level stays finite.

Per run (``--repeats`` per case and start, collocation and shooting interleaved, the order
alternating, after one untimed run of each): ``time`` (wall seconds; for collocation the
whole ``fit``, tracing the physics with SymPy included; ``solve_time`` IPOPT alone),
``n_iter`` (IPOPT iterations), ``nfev`` and ``njev`` (least squares' residual and Jacobian
evaluations), ``n_simulations`` (shooting: ODE solves, those of the finite-difference
Jacobians included), ``cost`` (the shooting's objective, half the sum of squared
standardized residuals, at each method's estimates: collocation's parameters and initial
state simulated), ``max_abs_error`` (the largest relative error of a parameter). Then one
line per case, start and parameter (the true value, both estimates from the first run,
their relative difference), one summary line per case and start (the largest difference,
whether it is under 1%, both costs, the median times and their ratio shooting /
collocation, the iteration counts), one line with the BLAS kernels (threadpoolctl), and
plain-text tables. BLAS threads are limited to ``--threads``.

    python benchmarks/param_estimation.py [--cases tanks_both tanks_h2 lotka_volterra]
        [--repeats 3] [--guesses 0.5 0.8] [--noise 0.02] [--seed 0] [--rtol 1e-8]
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings
from dataclasses import dataclass

import numpy as np
from _results import ResultsFile, add_output_options, blas_kernels, text_table
from scipy.integrate import solve_ivp
from scipy.optimize import least_squares
from threadpoolctl import threadpool_limits

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import two_tank
from skneuralode.physics import sqrt

AGREEMENT = 0.01  # the two methods' estimates must agree to within 1%
CASES = ("tanks_both", "tanks_h2", "lotka_volterra")
COLUMNS = ["case", "guess", "parameter", "true", "collocation", "shooting", "rel. difference"]
TIMES = ["case", "cost colloc.", "cost shooting", "colloc. [s]", "IPOPT [s]", "iter",
         "shooting [s]", "nfev", "ODE solves", "ratio", "agree"]  # fmt: skip


# ---------------------------------------------------------------- physics functions


def tanks_both(x, u, p, nn):
    h1, h2 = x
    return [p["k4"] * u[0] - p["k1"] * sqrt(h1), p["k2"] * sqrt(h1) - p["k3"] * sqrt(h2)]


def tanks_h2(x, u, p, nn):
    h2, h1 = x
    return [p["k2"] * sqrt(h1) - p["k3"] * sqrt(h2), p["k4"] * u[0] - p["k1"] * sqrt(h1)]


def lotka_volterra(x, u, p, nn):
    prey, predator = x
    return [p["a"] * prey - p["b"] * prey * predator,
            p["d"] * prey * predator - p["c"] * predator]  # fmt: skip


def numeric_rates(func, nonnegative: bool = False):
    """``func`` on numbers; ``nonnegative``: the states clipped at 0 first (the tanks'
    ``sqrt(max(h, 0))``, so that the shooting's trial points stay finite)."""

    def rates(t, x, u, p):
        return func(np.maximum(x, 0.0) if nonnegative else x, u, p, None)

    return rates


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    name: str
    physics: object
    t: np.ndarray
    X: np.ndarray  # measured states (n, n_observed)
    u: np.ndarray | None  # (n, 1) held between samples, or None
    true: dict  # every parameter the physics reads
    free: list  # the parameters estimated
    latent_start: list | None = None  # user-unit start of each latent state
    nonnegative: bool = False  # the states are levels (sqrt): clipped at 0 when shooting


def make_case(name: str, args) -> Case:
    rng = np.random.RandomState(args.seed + 1000)
    if name == "lotka_volterra":
        true = {"a": 2 / 3, "b": 4 / 3, "c": 1.0, "d": 1.0}
        t = np.linspace(0.0, 20.0, args.lv_samples)
        field = numeric_rates(lotka_volterra)
        sol = solve_ivp(field, (t[0], t[-1]), [1.2, 0.8], t_eval=t, args=(None, true),
                        method="DOP853", rtol=1e-12, atol=1e-14)  # fmt: skip
        X = sol.y.T + args.noise * rng.randn(len(t), 2)
        return Case(name, lotka_volterra, t, X, None, true, list(true))
    true = {"k1": 0.2, "k2": 0.2, "k3": 0.15, "k4": 0.2}
    data = two_tank(n_samples=args.n_samples, noise=0.0, random_state=args.seed, return_bunch=True)
    if name == "tanks_both":
        X = data.states + args.noise * rng.randn(*data.states.shape)
        return Case(name, tanks_both, data.t, X, data.u, true, ["k1", "k2", "k3", "k4"],
                    nonnegative=True)  # fmt: skip
    X = data.y_true + args.noise * rng.randn(*data.y_true.shape)
    return Case(name, tanks_h2, data.t, X, data.u, true, ["k1", "k3", "k4"], [3.0], True)


def initial_guess(case: Case, factor: float) -> dict:
    return {k: v * factor if k in case.free else v for k, v in case.true.items()}


# ---------------------------------------------------------------- the two methods


def fit_collocation(case: Case, guess: dict) -> dict:
    model = CollocationNeuralODE(
        physics=case.physics,
        physics_params=dict(guess),
        physics_fixed=[k for k in case.true if k not in case.free] or None,
        physics_bounds={k: (0, None) for k in case.free},
        n_latent=len(case.latent_start or []),
        latent_start=case.latent_start,
        u_interpolation="previous",
    )
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(case.t, case.X, u=case.u)
    elapsed = time.perf_counter() - start
    return {
        "params": {k: model.physics_params_[k] for k in case.free},
        "x0": model.initial_states_[0].tolist(),
        "time": elapsed,
        "solve_time": model.solve_time_,
        "n_iter": model.n_iter_,
        "status": model.solver_status_,
        "warnings": sorted({f"{w.category.__name__}: {str(w.message)[:120]}" for w in caught}),
    }


class Shooting:
    """Residuals of single shooting, standardized per state, counting the ODE solves."""

    def __init__(self, case: Case, guess: dict, rtol: float):
        self.case, self.fixed, self.rtol = case, dict(guess), rtol
        self.rates = numeric_rates(case.physics, case.nonnegative)
        self.scale = case.X.std(axis=0)
        self.n_observed = case.X.shape[1]
        self.pieces = self._pieces()
        self.n_simulations = 0

    def _pieces(self) -> list[tuple[int, int]]:
        """Index ranges ``[i, j]`` on which the input is constant (the whole record
        without input)."""
        n = len(self.case.t)
        if self.case.u is None:
            return [(0, n - 1)]
        switches = np.flatnonzero(np.any(np.diff(self.case.u, axis=0) != 0, axis=1)) + 1
        bounds = [0, *switches.tolist(), n - 1]
        return [(i, j) for i, j in zip(bounds[:-1], bounds[1:]) if j > i]

    def start(self) -> np.ndarray:
        """Free parameters, then the initial state (measured ones at the first sample)."""
        x0 = [*self.case.X[0], *(self.case.latent_start or [])]
        return np.array([*(self.fixed[k] for k in self.case.free), *x0])

    def unpack(self, z: np.ndarray) -> tuple[dict, np.ndarray]:
        n_free = len(self.case.free)
        return {**self.fixed, **dict(zip(self.case.free, z[:n_free]))}, z[n_free:]

    def simulate(self, z: np.ndarray) -> np.ndarray:
        """The full state at every sample time, piece by piece."""
        self.n_simulations += 1
        p, x = self.unpack(z)
        t, u = self.case.t, self.case.u
        out = np.empty((len(t), len(x)))
        out[0] = x
        for i, j in self.pieces:
            held = None if u is None else u[i]
            sol = solve_ivp(self.rates, (t[i], t[j]), x, t_eval=t[i : j + 1], args=(held, p),
                            method="DOP853", rtol=self.rtol, atol=self.rtol / 100)  # fmt: skip
            if not sol.success or sol.y.shape[1] != j - i + 1:
                return np.full_like(out, 1e6)  # a failed simulation: a large residual
            out[i : j + 1], x = sol.y.T, sol.y[:, -1]
        return out

    def residuals(self, z: np.ndarray) -> np.ndarray:
        observed = self.simulate(z)[:, : self.n_observed]
        return ((observed - self.case.X) / self.scale).ravel()


def shooting_cost(case: Case, guess: dict, rtol: float, params: dict, x0) -> float:
    """The shooting's objective (``least_squares``' ``cost``) at given estimates."""
    problem = Shooting(case, guess, rtol)
    residuals = problem.residuals(np.r_[[params[k] for k in case.free], x0])
    return 0.5 * float(residuals @ residuals)


def fit_shooting(case: Case, guess: dict, rtol: float) -> dict:
    problem = Shooting(case, guess, rtol)
    n_free = len(case.free)
    lower = np.r_[np.zeros(n_free), np.full(len(problem.start()) - n_free, -np.inf)]
    start = time.perf_counter()
    result = least_squares(problem.residuals, problem.start(), bounds=(lower, np.inf),
                           method="trf", x_scale="jac")  # fmt: skip
    elapsed = time.perf_counter() - start
    return {
        "params": dict(zip(case.free, result.x[:n_free].tolist())),
        "time": elapsed,
        "nfev": result.nfev,
        "njev": result.njev,
        "n_simulations": problem.n_simulations,
        "status": result.message,
        "cost": result.cost,
    }


# ---------------------------------------------------------------- records


def run_row(case: Case, factor: float, method: str, repeat: int, out: dict) -> dict:
    errors = [abs(v / case.true[k] - 1.0) for k, v in out["params"].items()]
    row = {"case": case.name, "guess": factor, "method": method, "repeat": repeat,
           "time": round(out["time"], 3)}  # fmt: skip
    row |= {k: (round(v, 4) if isinstance(v, float) else v)
            for k, v in out.items() if k not in ("params", "time")}  # fmt: skip
    return row | {"max_abs_error": round(max(errors), 5), "params": out["params"]}


def estimates(case: Case, factor: float, rows: list[dict]) -> list[dict]:
    """One line per free parameter: truth, both estimates (first run), their difference."""
    colloc = next(r for r in rows if r["method"] == "collocation")["params"]
    shoot = next(r for r in rows if r["method"] == "shooting")["params"]
    return [
        {
            "case": case.name,
            "guess": factor,
            "parameter": k,
            "true": round(case.true[k], 6),
            "collocation": round(colloc[k], 6),
            "shooting": round(shoot[k], 6),
            "collocation_error": round(colloc[k] / case.true[k] - 1.0, 5),
            "shooting_error": round(shoot[k] / case.true[k] - 1.0, 5),
            "relative_difference": float(f"{colloc[k] / shoot[k] - 1.0:.3g}"),
        }
        for k in case.free
    ]


def summary(case: Case, factor: float, rows: list[dict], lines: list[dict]) -> dict:
    colloc = [r for r in rows if r["method"] == "collocation"]
    shoot = [r for r in rows if r["method"] == "shooting"]
    difference = max(abs(line["relative_difference"]) for line in lines)
    t_colloc = statistics.median(r["time"] for r in colloc)
    t_shoot = statistics.median(r["time"] for r in shoot)
    return {
        "summary": f"{case.name}, guess {factor:g}",
        "repeats": len(colloc),
        "max_relative_difference": difference,
        "agree_within_1_percent": difference <= AGREEMENT,
        "cost_collocation": colloc[0]["cost"],
        "cost_shooting": shoot[0]["cost"],
        "median_time_collocation": t_colloc,
        "median_solve_time_collocation": statistics.median(r["solve_time"] for r in colloc),
        "median_time_shooting": t_shoot,
        "time_ratio_shooting_over_collocation": round(t_shoot / t_colloc, 2),
        "n_iter_collocation": colloc[0]["n_iter"],
        "nfev_shooting": shoot[0]["nfev"],
        "n_simulations_shooting": shoot[0]["n_simulations"],
    }


def tables(lines: list[dict], summaries: list[dict]) -> str:
    estimated = [
        [e["case"], f"{e['guess']:g}", e["parameter"], f"{e['true']:.4g}",
         f"{e['collocation']:.5g}", f"{e['shooting']:.5g}", f"{e['relative_difference']:+.2e}"]
        for e in lines
    ]  # fmt: skip
    times = [
        [s["summary"], f"{s['cost_collocation']:.4g}", f"{s['cost_shooting']:.4g}",
         f"{s['median_time_collocation']:.2f}", f"{s['median_solve_time_collocation']:.2f}",
         str(s["n_iter_collocation"]), f"{s['median_time_shooting']:.2f}",
         str(s["nfev_shooting"]), str(s["n_simulations_shooting"]),
         f"{s['time_ratio_shooting_over_collocation']:.1f}",
         "yes" if s["agree_within_1_percent"] else "NO"]
        for s in summaries
    ]  # fmt: skip
    return text_table(COLUMNS, estimated) + "\n\n" + text_table(TIMES, times)


def run_case(case: Case, factor: float, args, results: ResultsFile) -> list[dict]:
    """``--repeats`` runs of each method, interleaved, the order alternating."""
    guess = initial_guess(case, factor)
    rows = []
    for repeat in range(args.repeats):
        for method in ["collocation", "shooting"][:: 1 if repeat % 2 == 0 else -1]:
            if method == "collocation":
                out = fit_collocation(case, guess)
                x0 = out.pop("x0")  # the shooting's objective there, off the clock
                out["cost"] = shooting_cost(case, guess, args.rtol, out["params"], x0)
            else:
                out = fit_shooting(case, guess, args.rtol)
            rows.append(run_row(case, factor, method, repeat, out))
            results.emit(rows[-1])
    return rows


def warm_up(case: Case, args) -> None:
    """One untimed run of each method (imports and first calls), not recorded."""
    guess = initial_guess(case, max(args.guesses))
    fit_collocation(case, guess)
    fit_shooting(case, guess, args.rtol)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--guesses", type=float, nargs="+", default=[0.5, 0.8],
                        help="starts: factors on the true parameters")  # fmt: skip
    parser.add_argument("--noise", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0, help="data seed (input and noise)")
    parser.add_argument("--n-samples", type=int, default=500, help="two tanks")
    parser.add_argument("--lv-samples", type=int, default=200, help="Lotka-Volterra")
    parser.add_argument("--rtol", type=float, default=1e-8, help="shooting's solve_ivp")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads")
    add_output_options(parser, "param_estimation")
    args = parser.parse_args()
    results = ResultsFile("param_estimation", args)
    lines, summaries = [], []
    with threadpool_limits(limits=args.threads):
        warm_up(make_case(args.cases[0], args), args)
        for name in args.cases:
            case = make_case(name, args)
            for factor in args.guesses:
                rows = run_case(case, factor, args, results)
                lines += estimates(case, factor, rows)
                summaries.append(summary(case, factor, rows, lines[-len(case.free) :]))
        kernels = blas_kernels()
    for line in [*lines, *summaries, {"summary": "BLAS kernels", "blas": kernels}]:
        results.emit(line)
    print()
    print(tables(lines, summaries))
    results.save()


if __name__ == "__main__":
    main()
