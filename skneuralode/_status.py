"""IPOPT's termination, in one table: every return code with its AMPL result code, the
status name the estimators record, what kind of ending it is, what to do about it,
whether the adaptive Hessian shift retries it, and IPOPT's own message.

Status names are Pyomo's termination-condition names (``"optimal"``, ``"maxIterations"``,
...), so both engines and all IPOPT routes report in one vocabulary. What the estimators
do with a kind: ``"converged"`` keeps the solution; ``"stopped"`` keeps the iterate with a
``ConvergenceWarning`` naming the knob in ``advice``; ``"failed"`` raises
``SolverError`` with ``advice``.
"""

from __future__ import annotations

from typing import NamedTuple


class IpoptStatus(NamedTuple):
    """One of IPOPT's ApplicationReturnStatus codes (IpReturnCodes_inc.h)."""

    code: int  # IPOPT's return code
    ampl: int | None  # the code Ipopt's AMPL driver writes (AmplTNLP::finalize_solution)
    status: str  # the recorded status (Pyomo's termination-condition name)
    kind: str  # "converged", "stopped" or "failed"
    advice: str  # stopped: the knob to change; failed: what to try
    retry: bool  # after the adaptive Hessian shift: solve again with IPOPT's own rule
    message: str  # IPOPT's own text


_ACCEPTABLE = "`tol` (stopped at IPOPT's 'acceptable' tolerances)"
_TIME = "`max_time` or `max_cpu_time`"
_NAN = (
    "The network produced NaN or inf (an overflow): bound the weights and states "
    "(`weight_bound`, `state_bound`) or increase `alpha`."
)
_ERROR = (
    "Check `solver_options` (verbose=2 shows IPOPT's reason): e.g. an HSL `linear_solver` "
    "needs the HSL library, and cyipopt-wheels bundles MUMPS only."
)
#: What to try after a failure that has no advice of its own.
DEFAULT_ADVICE = "Try another `random_state`, a larger `alpha`, or `state_bound`/`weight_bound`."

# fmt: off
TABLE = (
    IpoptStatus(0, 0, "optimal", "converged", "", False,
                "Algorithm terminated successfully at a locally optimal point, satisfying the "
                "convergence tolerances (can be specified by options)."),
    IpoptStatus(1, 1, "feasible", "stopped", _ACCEPTABLE, False,
                'Algorithm stopped at a point that was converged, not to "desired" tolerances, '
                'but to "acceptable" tolerances (see the acceptable-... options).'),
    IpoptStatus(2, 200, "infeasible", "failed",
                "No point satisfies the collocation equations within the bounds: widen or "
                "drop `state_bound`/`weight_bound`, or try another `random_state`.", True,
                "Algorithm converged to a point of local infeasibility. Problem may be "
                "infeasible."),
    IpoptStatus(3, 500, "minStepLength", "stopped", "`tol` (IPOPT made too little progress)",
                True, "Algorithm proceeds with very little progress."),
    IpoptStatus(4, 300, "unbounded", "failed",
                "The iterates diverged: bound them (`weight_bound`, `state_bound`) or "
                "increase `alpha`.", True, "It seems that the iterates diverge."),
    IpoptStatus(5, 403, "userInterrupt", "stopped", "nothing (the fit was interrupted)", False,
                "The user call-back function intermediate_callback returned false, i.e., the "
                "user code requested a premature termination of the optimization."),
    IpoptStatus(6, 2, "feasible", "stopped", _ACCEPTABLE, False,
                "Feasible point for square problem found."),
    IpoptStatus(-1, 400, "maxIterations", "stopped", "`max_iter`", False,
                "Maximum number of iterations exceeded (can be specified by an option)."),
    IpoptStatus(-2, 501, "noSolution", "failed",
                "IPOPT's restoration phase failed, usually from a poor start: try another "
                "`random_state`, init='lstsq', a larger `alpha`, or more `smoothing`.", True,
                "Restoration phase failed, algorithm doesn't know how to proceed."),
    IpoptStatus(-3, 502, "solverFailure", "failed",
                "The step computation failed (a singular KKT system): increase `alpha` or "
                "bound the weights (`weight_bound`).", True,
                "An unrecoverable error occurred while Ipopt tried to compute the search "
                "direction."),
    IpoptStatus(-4, 401, "maxTimeLimit", "stopped", _TIME, False, "Maximum CPU time exceeded."),
    IpoptStatus(-5, 402, "maxTimeLimit", "stopped", _TIME, False,
                "Maximum wallclock time exceeded."),
    IpoptStatus(-10, None, "invalidProblem", "failed", DEFAULT_ADVICE, False,
                "Problem has too few degrees of freedom."),
    IpoptStatus(-11, None, "invalidProblem", "failed", DEFAULT_ADVICE, False,
                "Invalid problem definition."),
    IpoptStatus(-12, None, "error", "failed", _ERROR, False, "Invalid option encountered."),
    IpoptStatus(-13, 550, "internalSolverError", "failed", _NAN, True,
                "Algorithm received an invalid number (such as NaN or Inf) from the NLP; see "
                "also option check_derivatives_for_naninf."),
    IpoptStatus(-100, None, "internalSolverError", "failed", _NAN, True,
                "Some uncaught Ipopt exception encountered."),
    IpoptStatus(-101, None, "error", "failed", _ERROR, False,
                "Unknown Exception caught in Ipopt."),
    IpoptStatus(-102, None, "resourceInterrupt", "failed",
                "IPOPT ran out of memory (or could not read an input it was given, such as "
                "an `option_file_name` that is not a file): reduce `width`, `depth`, "
                "`n_elements` or `degree`, or fit with ADMMNeuralODE, which solves the data "
                "in batches.", False, "Not enough memory."),
    IpoptStatus(-199, None, "internalSolverError", "failed", _NAN, True,
                "An unknown internal error occurred."),
)
# fmt: on

#: Termination conditions Pyomo may report without an IPOPT code of ours (the executable
#: route reading a .sol file it could not map), by kind.
_PYOMO_ONLY = {"locallyOptimal": "converged", "globallyOptimal": "converged",
               "maxEvaluations": "stopped"}  # fmt: skip

#: IPOPT return code -> status.
IPOPT_STATUS = {row.code: row.status for row in TABLE}
#: AMPL result code -> status; finer than Pyomo's own reading of the .sol file (which
#: calls "acceptable" optimal and a time limit an iteration limit).
AMPL_STATUS = {row.ampl: row.status for row in TABLE if row.ampl is not None}
#: IPOPT return code -> IPOPT's message.
MESSAGES = {row.code: row.message for row in TABLE}
#: Statuses that mean IPOPT met its tolerances.
CONVERGED = {row.status for row in TABLE if row.kind == "converged"} | {
    name for name, kind in _PYOMO_ONLY.items() if kind == "converged"
}
#: Stopped statuses -> the knob the warning names; the iterate is kept.
STOPPED = {row.status: row.advice for row in TABLE if row.kind == "stopped"} | {
    "maxEvaluations": "`max_iter`"
}
#: Failures after which a solve with the adaptive Hessian shift is repeated from the same
#: start with IPOPT's own rule: the shift changes IPOPT's path, and a path can fail (seen
#: from a poor start) where IPOPT's rule goes through. Limits and interrupts are not
#: failures.
RETRY_WITH_IPOPT_RULE = {row.status for row in TABLE if row.retry}
_FAILURE_ADVICE = {row.status: row.advice for row in TABLE if row.kind == "failed"}


def failure_advice(status: str) -> str:
    """What to try after IPOPT failed with ``status``."""
    return _FAILURE_ADVICE.get(status, DEFAULT_ADVICE)
