"""What the estimators' parameters say about the NLP and about IPOPT, as two plain values.

:class:`ProblemSpec` is everything but the data that shapes the collocation NLP and its
initial point; :func:`ipopt_options` the IPOPT options a fit runs with. Both are built
from an estimator's public parameters (``get_params``), so the single fit, ADMM and
``estimate_initial_state`` read one description.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ._solver import check_ipopt_number, check_ipopt_options

#: Samples a trajectory needs (the collocation polynomial of one element needs two).
MIN_SAMPLES = 2

#: IPOPT options the estimators set unless ``solver_options`` names them. IPOPT's own
#: default moves the constraint multipliers by the primal step length, so they lag
#: behind after every shortened line-search step; choosing their step to minimize the
#: dual infeasibility halves the iterations on most fits (``benchmarks/multiplier_step.py``).
DEFAULT_IPOPT_OPTIONS = {"alpha_for_y": "min-dual-infeas"}


@dataclass(frozen=True)
class ProblemSpec:
    """The NLP's shape and initial point, as the estimator's parameters set them.

    Field names are the parameter names of :class:`~skneuralode.CollocationNeuralODE`
    (see its docstring for each meaning).
    """

    scheme: str = "radau"
    degree: int = 3
    n_elements: int | None = None
    width: int = 32
    depth: int = 1
    activation: str = "tanh"
    alpha: float = 1e-3
    smoothing: object = "auto"
    init: str = "lstsq"
    random_state: object = None
    state_bound: float | None = None
    weight_bound: float | None = None
    n_latent: int = 0
    u_interpolation: str = "linear"
    hessian_regularization: str = "ipopt"
    physics: object = None
    physics_params: object = None
    physics_bounds: object = None
    physics_fixed: object = None
    physics_alpha: float = 0.0
    latent_start: object = None
    network_inputs: object = None
    state_bounds: object = None

    @classmethod
    def from_params(cls, params: dict) -> ProblemSpec:
        """The spec of an estimator's ``get_params()`` (other keys are ignored)."""
        return cls(**{f.name: params[f.name] for f in fields(cls)})


def ipopt_options(params: dict) -> dict:
    """IPOPT options of an estimator's ``get_params()``: ``tol``, ``max_iter``, the print
    level from ``verbose`` (5, IPOPT's own log, for ``verbose >= 2``; ``verbose=1``'s
    compact lines come from ``_progress``), ``max_cpu_time``,
    :data:`DEFAULT_IPOPT_OPTIONS`, then ``solver_options`` (each checked by IPOPT, see
    ``_solver.check_ipopt_options``)."""
    options = {
        "tol": float(params["tol"]),
        "max_iter": check_ipopt_number(int(params["max_iter"]), "`max_iter`"),
        "print_level": 5 if params["verbose"] >= 2 else 0,
        "sb": "yes",
        **DEFAULT_IPOPT_OPTIONS,
    }
    if params["max_cpu_time"] is not None:
        options["max_cpu_time"] = float(params["max_cpu_time"])
    options.update(check_ipopt_options(params["solver_options"] or {}))
    return options
