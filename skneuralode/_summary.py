"""A fitted model in words: the text of ``CollocationNeuralODE.summary()`` and
``ADMMNeuralODE.summary()``, read from the fitted attributes only (``_fitted`` writes
them); sections of aligned ``key  value`` lines for a terminal."""

from __future__ import annotations

import textwrap

import numpy as np
from sklearn.utils.validation import check_is_fitted

from ._collocation import SCHEMES
from ._diagnostics import DISCRETIZATION_TOLERANCE
from ._names import input_names, state_names

#: Width of the key column.
KEY_WIDTH = 22
#: Lines are wrapped to this width.
LINE_WIDTH = 88
#: The value of an attribute that a model fitted by an older version lacks (a pickle made
#: before it existed): ``engine_``, ``discretization_error_`` (2026-12-02), ``timings_``,
#: ``physics_std_`` (2026-12-05), ADMM's ``stop_reason_`` (2026-12-02), ``init_time_``
#: (2026-12-06). The other attributes read here exist since the first version.
OLDER = "model fitted by an older version"
NOT_RECORDED = f"not recorded ({OLDER})"


def summary(model) -> str:
    """The text summary of a fitted :class:`CollocationNeuralODE` or ADMMNeuralODE."""
    check_is_fitted(model)
    est = getattr(model, "estimator_", model)  # ADMM: the consensus model
    admm = est is not model
    batches = " (all batches)" if admm else ""
    sections = [
        ("Model", _model_rows(est)),
        *(
            [("Physical parameters", _physics_rows(est))]
            if hasattr(est, "physics_params_")
            else []
        ),
        ("Discretization" + batches, _discretization_rows(est)),
        ("NLP" + batches, _nlp_rows(est)),
        ("Solver" + batches, _solver_rows(est, admm)),
        ("Fit quality", _quality_rows(est)),
    ]
    if admm:
        sections.insert(0, ("ADMM", _admm_rows(model)))
    lines = [f"{type(model).__name__} (fitted)"]
    for title, rows in sections:
        lines += ["", title] + [_line(key, value) for key, value in rows]
    return "\n".join(lines)


def _line(key: str, value: str) -> str:
    indent = " " * (2 + KEY_WIDTH + 1)
    return textwrap.fill(f"  {key:<{KEY_WIDTH}} {value}", LINE_WIDTH, subsequent_indent=indent)


def _model_rows(est) -> list[tuple[str, str]]:
    names = state_names(est)
    d, n_latent = est.n_states_, len(names) - est.n_states_
    rows = [("states", f"{d} observed ({', '.join(names[:d])})")]
    if n_latent:
        rows.append(("latent states", f"{n_latent} ({', '.join(names[d:])})"))
    rows.append(("inputs", f"{est.n_inputs_} ({', '.join(input_names(est))})"
                 if est.n_inputs_ else "none"))  # fmt: skip
    rows.append(("network", _network(est)))
    return rows


def _network(est) -> str:
    if not est.coefs_:
        return "none (the physics is the whole right-hand side)"
    sizes = [est.coefs_[0].shape[0]] + [c.shape[1] for c in est.coefs_]
    hidden = sizes[1:-1]
    n_params = sum(c.size for c in est.coefs_) + sum(b.size for b in est.intercepts_)
    layers = "hidden layer" if len(hidden) == 1 else "hidden layers"
    widths = " x ".join(str(h) for h in hidden)
    return (f"{' -> '.join(map(str, sizes))}: {len(hidden)} {layers} of {widths} "
            f"({est.activation_}), {n_params} parameters")  # fmt: skip


def _physics_rows(est) -> list[tuple[str, str]]:
    """One row per physical parameter: value (user units) and standard error."""
    std = getattr(est, "physics_std_", None)
    names = est.greybox_.physics.param_names
    free = [names[k] for k in est.greybox_.free]
    rows = []
    for name, value in est.physics_params_.items():
        if name not in free:
            rows.append((name, f"{value:.6g} (fixed)"))
        elif std is None:
            rows.append((name, f"{value:.6g} (std error not recorded: {OLDER})"))
        elif np.isfinite(std[name]):
            rows.append((name, f"{value:.6g} ± {std[name]:.2g} (std error)"))
        else:
            rows.append((name, f"{value:.6g} (no std error)"))
    info = getattr(est, "physics_covariance_info_", {})
    if info.get("status", "ok") != "ok":
        rows.append(("std errors", f"{info['status']}: {info.get('message', '')}"))
    return rows


def _discretization_rows(est) -> list[tuple[str, str]]:
    row = SCHEMES[est.scheme]
    chains = np.unique(est.collocation_trajectory_, return_counts=True)[1]
    if row.global_polynomial:
        pieces = f"{len(chains)} global polynomial(s) of degree {', '.join(map(str, chains - 1))}"
        scheme = f"{est.scheme} (one polynomial per trajectory)"
    else:
        per_chain = (
            (chains - 1) // est.degree if row.shares_start_node else chains // (est.degree + 1)
        )
        chain = "chain" if len(chains) == 1 else "chains"
        pieces = (f"{int(per_chain.sum())} finite elements in {len(chains)} collocation "
                  f"{chain} (n_elements={est.n_elements!r})")  # fmt: skip
        scheme = f"{est.scheme}, degree {est.degree}"
    return [("scheme", scheme), ("elements", pieces),
            ("nodes", f"{len(est.collocation_times_)}")]  # fmt: skip


def _nlp_rows(est) -> list[tuple[str, str]]:
    return [("variables", f"{est.n_variables_}"), ("constraints", f"{est.n_constraints_}")]


def _solver_rows(est, admm: bool) -> list[tuple[str, str]]:
    converged = "converged" if est.converged_ else "not converged"
    if admm:  # the consensus's status is ADMM's; IPOPT's is the last iteration's
        converged = "the last iteration's sub-problems"
    engine = (f"{est.engine_} (route {est.solver_})" if hasattr(est, "engine_")
              else f"{NOT_RECORDED}; route {est.solver_}")  # fmt: skip
    return [
        ("engine", engine),
        ("status", f"{est.solver_status_} ({converged})"),
        ("message", est.solver_message_.strip()),
        ("IPOPT iterations", f"{est.n_iter_}"),
        ("fit time", _fit_time(est)),
    ]


def _fit_time(est) -> str:
    t = getattr(est, "timings_", None)
    if t is None:
        return f"{est.fit_time_:.3g} s (its phases not recorded: {OLDER})"
    times = (f"{est.fit_time_:.3g} s (setup {t['setup']:.3g} s, IPOPT {t['ipopt']:.3g} s, "
             f"of which evaluations {t['evaluation']:.3g} s")  # fmt: skip
    return times + (f", NL file {t['nl_write']:.3g} s)" if t["nl_write"] else ")")


def _quality_rows(est) -> list[tuple[str, str]]:
    return [
        ("train MSE", f"{est.train_mse_:.4g} (collocation trajectory vs data, user units)"),
        ("discretization error", _discretization_error(est)),
        ("constraint violation", f"{est.constraint_violation_:.3g} (largest, scaled units)"),
        ("objective", f"{est.objective_:.6g}"),
    ]


def _discretization_error(est) -> str:
    error = getattr(est, "discretization_error_", None)
    if error is None:
        return NOT_RECORDED
    verdict = (
        f"above the tolerance {DISCRETIZATION_TOLERANCE}: increase n_elements or degree"
        if not error <= DISCRETIZATION_TOLERANCE
        else f"tolerance {DISCRETIZATION_TOLERANCE}"
    )
    return f"{error:.3g} (RMS, standard deviations; {verdict})"


def _admm_rows(admm) -> list[tuple[str, str]]:
    h = admm.history_
    converged = "converged" if admm.converged_ else "not converged"
    stop = getattr(admm, "stop_reason_", None)
    rows = [
        ("batches", f"{admm.n_batches} (batching={admm.batching!r}, n_jobs={admm.n_jobs!r})"),
        ("iterations", f"{admm.n_iter_} (max_iter={admm.max_iter})"),
        ("stop reason", f"{stop} ({converged})" if stop else f"{NOT_RECORDED}; {converged}"),
    ]
    if admm.n_iter_:
        for kind in ("primal", "dual"):
            rows.append((f"{kind} residual", f"{h[kind + '_residual'][-1]:.3g} "
                         f"(tolerance {h[kind + '_tolerance'][-1]:.3g})"))  # fmt: skip
        rows.append(("rho", f"{h['rho'][-1]:.3g}"))
    init = getattr(admm, "init_time_", None)
    init = f"{init:.3g} s" if init is not None else f"not recorded: {OLDER}"
    rows.append(("time", f"{admm.fit_time_:.3g} s (initial fit {init})"))
    return rows
