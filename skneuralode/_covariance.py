"""Standard errors of the fitted physical parameters: the reduced Hessian of the NLP.

The fit solves (``_problem``), in scaled units, with ``w = (x, theta, p_s)``::

    min_w  f(w) = 1/N sum_(observed) r_k(x)^2 + alpha ||W||^2 + physics_alpha ||p_s||^2
    s.t.   c(w) = 0          (collocation, continuity, latent normalization)

``r = O x - y`` the scaled residuals at the ``N`` observed entries. Treat the scaled
observations as ``y = O x_true + e`` with independent errors of one variance ``sigma^2``
(in user units: each state's noise proportional to its scale, the weighting the
objective already assumes). Parameter-estimation tools for Pyomo report
``V = 2 sigma^2 H^{-1}`` for a sum-of-squares objective ``SSE`` with ``H`` its reduced
Hessian (parmest); our objective is ``f = SSE / N + ...``, ``H_SSE = N H_f``, so::

    cov(p_s) = (2 s^2 / N) [H_red^{-1}]_pp,     cov(p) = S cov(p_s) S,  S = diag(param_scale)

Reduced Hessian. At the solution, with ``J = dc/dw`` and ``H`` the Hessian of the
Lagrangian ``f + lambda^T c``, the inverse of the Hessian reduced to the null space of
``J`` (``Z`` a basis, ``M = Z^T H Z``) is the ``w w`` block of the inverse of the KKT
matrix (as sIPOPT and k_aug compute it)::

    K = [[H, J^T], [J, 0]],     K [y; mu] = [v; 0]  ->  y = Z M^{-1} Z^T v

so ``[H_red^{-1}]_pp`` is ``y`` read at ``p_s`` for the unit vectors ``v = e_j`` of the
fitted parameters: the covariance of ``p_s`` marginal over every other degree of freedom
(initial states, network weights). ``K`` is factorized once (sparse LU,
``scipy.sparse.linalg.splu``) after a symmetric permutation that makes it banded along
the collocation chain (each constraint row right after the last node it touches) with a
border of the dense columns and rows (``theta``, ``p_s``, the latent normalization)
scaled down so that no pivot is taken from it: the LU then fills in only within the band
and the border, so its cost grows linearly with the number of nodes.

The solves run for the unit vectors ``E`` of a complement of the null space: the
initial states of each trajectory and every ``theta`` and ``p_s`` (fixing them fixes
the collocation states), ``Y = [K^{-1}]_ww E``. Then ``E^T Y = A^T M^{-1} A``
(``A = Z^T E``, of full row rank) has the inertia of ``M^{-1}`` on its ``n - m``
non-zero eigenvalues: the whole reduced Hessian's definiteness is checked, not only the
parameters' block.

Multipliers. IPOPT's are not kept: ``lambda`` is the least-squares solution of the
stationarity ``grad f + J^T lambda = 0``, from ``[[I, J^T], [J, 0]] [rho; lambda] =
[-grad f; 0]``, whose ``rho`` (the dual infeasibility left) is ``info["stationarity"]``.
Variables at an active bound (physical parameters, state or weight bounds) are held
fixed: their columns leave ``J``, ``H`` and the stationarity; a physical parameter at its
bound gets NaN rows and columns.

Residual variance. ``s^2 = SSE / (N - dof)`` with ``dof`` the effective number of
parameters, the trace of the linearized hat matrix ``d yhat / d y`` (``yhat = O x``). A
change ``dy`` of the data moves the gradient by ``-(2/N) O^T dy``, so the solution moves
by ``K^{-1} [(2/N) O^T dy; 0]``; with ``B = O^T`` over the observed entries::

    dof = (2/N) trace(B^T [K^{-1}]_ww B) = (2/N) trace((E^T Y)^+ (B^T Y)^T (B^T Y))

(the second form from ``[K^{-1}]_ww = Z M^{-1} Z^T`` and ``Y = Z M^{-1} A``; the
pseudo-inverse keeps the ``n - m`` non-zero eigenvalues), so it needs no more solves.
For a physics-only model ``dof`` is the number of fitted parameters and initial states
(up to second-order terms in the residuals); with a network it counts the network's
effective parameters as for penalized least squares (effective degrees of freedom,
Hastie & Tibshirani), so that ``s^2`` is not biased low by what the network absorbs.

Sandwich form (``info["cov_sandwich"]``). The same solves give the sensitivity of the
estimate to the data, ``d p_s / d y = (2/N) (B^T Y_p)^T``; with the errors' variances
estimated per state, ``s_i^2 = SSE_i / (N_i (1 - dof / N))``::

    cov_sandwich(p_s) = (2/N)^2 (B^T Y_p)^T diag(s^2) (B^T Y_p)

It equals the Hessian form when the Hessian is its Gauss-Newton part, without penalty
and with one variance for every state; it stays valid with a penalty (the covariance of
the penalized estimate, narrower than the Hessian form, which reads the penalty as a
prior) and with a noise level per state.

Dead network units. Weight decay can switch a hidden unit off (its output weights
vanish); its bias, which is not penalized, then changes nothing and the reduced Hessian
is singular in it. With a network, a singular ``K`` is solved again with ``delta I``
added on the network's diagonal (``NETWORK_SHIFT``, like IPOPT's ``delta_w``) and with
``10 delta``: when the parameters' block does not change (``SHIFT_AGREEMENT``), the flat
directions do not move the parameters and the first result stands
(``info["network_shift"] = delta``); when it does, a parameter lies along a flat direction
(e.g. a constant the network's output bias can take over) and it is reported singular.

Failures are reported, never raised: no physics or no fitted parameter -> ``None``; a
singular or nearly singular ``K`` (the data do not determine a parameter, an initial
state or a combination of network weights), a reduced Hessian that is not positive
definite (not a strict minimum) or no residual degree of freedom left -> NaN, with the
reason in ``info``.
"""

from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import splu

from ._engines.numpy import nlp_class
from ._problem import NLPData, observation_residuals

#: A variable within ``ACTIVE_TOL * max(1, |bound|)`` of a bound is at that bound.
ACTIVE_TOL = 1e-6
#: Scale of the KKT matrix's border rows and columns during the LU (a power of two: exact),
#: small enough that partial pivoting never picks a border row inside the band.
BORDER_SCALE = 2.0**-30
#: Eigenvalues of ``E^T Y`` below ``RANK_TOL`` times the largest count as zero.
RANK_TOL = 1e-10
#: ``E^T Y`` with a condition number above this: the reduced Hessian is (nearly) singular.
SINGULAR_COND = 1e12
#: Relative asymmetry of ``E^T Y`` above which the solves are too inaccurate to use.
SYMMETRY_TOL = 1e-6
#: A singular reduced Hessian with a network is solved again with ``delta`` times the
#: Hessian's largest diagonal entry added to the network's diagonal (and with 10 delta)...
NETWORK_SHIFT = 1e-8
#: ... and accepted when the parameters' block changes by less than this, relatively.
SHIFT_AGREEMENT = 1e-4


def physics_covariance(data: NLPData, theta: np.ndarray, states: np.ndarray):
    """Covariance of the fitted physical parameters (user units) at a solution.

    Parameters
    ----------
    data : NLPData
        The NLP that was solved (``data.physics`` set).
    theta : ndarray of shape (n_network_params + n_free,)
        Its solution's ``theta`` (network parameters, then the scaled physical ones).
    states : ndarray of shape (n_nodes, n_states)
        Its solution's states at the nodes (scaled).

    Returns
    -------
    cov : ndarray of shape (n_free, n_free) or None
        ``cov(p)`` of the fitted physical parameters in user units, in the order of
        ``info["names"]``; NaN where it cannot be computed (``info["status"]``); None
        without physics or without a fitted parameter.
    info : dict
        ``status``: "ok", "at_bound" (NaN for the parameters at a bound only),
        "singular", "indefinite", "no_dof", "failed" (all NaN) or "no_parameters";
        ``message``; ``names``; ``std`` (user units); ``s2`` (residual variance, scaled);
        ``dof``; ``n_observed``; ``cov_sandwich`` (user units); ``at_bound`` (names);
        ``n_active`` (variables held at a bound); ``stationarity`` (largest
        ``|grad f + J^T lambda|``); ``network_shift`` (only when the network's flat
        directions were shifted, see the module docstring); ``time`` (seconds).
    """
    start = time.perf_counter()
    gb = data.physics
    if gb is None or not gb.n_free or data.fixed_theta:
        return None, {"status": "no_parameters", "message": "no fitted physical parameter"}
    nf = gb.n_free
    info = {"names": [gb.physics.param_names[k] for k in gb.free],
            "n_observed": data.n_observed, "dof": np.nan, "s2": np.nan}  # fmt: skip
    cov_s = sandwich_s = np.full((nf, nf), np.nan)
    try:
        with np.errstate(all="ignore"):
            result = _scaled_covariance(data, theta, states, info)
        if result is not None:
            cov_s, sandwich_s = result
    except (RuntimeError, ValueError, np.linalg.LinAlgError, MemoryError) as exc:
        info.update(status="failed", message=f"linear algebra failed: {exc}")
    scale = np.outer(gb.param_scale, gb.param_scale)
    cov = cov_s * scale
    info.update(cov_sandwich=sandwich_s * scale, std=np.sqrt(np.diag(cov)),
                time=time.perf_counter() - start)  # fmt: skip
    return cov, info


def _scaled_covariance(data, theta, states, info):
    """``(cov(p_s), cov_sandwich(p_s))`` filling ``info``; None (``info`` says why) when
    there is no covariance."""
    nlp = nlp_class(data)(data)
    states = np.asarray(states, dtype=float)
    w = nlp.join(np.asarray(theta, dtype=float), states)
    free = ~_active(nlp, w)
    p_free = free[nlp.nx + nlp.n_net :]
    info["at_bound"] = [n for n, f in zip(info["names"], p_free) if not f]
    info["n_active"] = int(np.count_nonzero(~free))
    J = _jacobian(nlp, w)[:, free]
    order = _band_order(nlp, J, free)
    lam, info["stationarity"] = _multipliers(J, nlp.gradient(w)[free], order)
    H = _hessian(nlp, w, lam)[free][:, free]
    if not (np.all(np.isfinite(H.data)) and np.all(np.isfinite(J.data))):
        return _fail(info, "failed", "the Hessian or the constraint Jacobian is not finite")
    dofs, pcols = _complement(nlp, free, int(np.count_nonzero(p_free)))
    n_dof = H.shape[0] - J.shape[0]
    solved = _reduced_solves(H, J, order, dofs, n_dof, info)
    network = np.flatnonzero(free)
    network = (network >= nlp.nx) & (network < nlp.nx + nlp.n_net)
    if solved is None and info["status"] == "singular" and network.any():
        solved = _shifted_solves(H, J, order, dofs, n_dof, pcols, network, info)
    if solved is None:
        return None
    Y, M, pinv = solved
    B = _observation_columns(nlp, free)  # (n_free, N): O^T e_k per observed entry
    BY = B.T @ Y  # (N, k)
    dof = info["dof"] = (2.0 / data.n_observed) * float(np.sum((BY @ pinv) * BY))
    if not data.n_observed - dof > 0:
        return _fail(info, "no_dof", "no residual degree of freedom left (N = "
                     f"{data.n_observed} observed entries, dof = {dof:.4g})")  # fmt: skip
    residuals = observation_residuals(data, states)[_observed(data)]
    s2 = info["s2"] = float(residuals @ residuals) / (data.n_observed - dof)
    nf = data.physics.n_free
    cov, sandwich = np.full((nf, nf), np.nan), np.full((nf, nf), np.nan)
    idx = np.ix_(np.flatnonzero(p_free), np.flatnonzero(p_free))
    P = M[np.ix_(pcols, pcols)]
    cov[idx] = (2.0 * s2 / data.n_observed) * 0.5 * (P + P.T)
    G = (2.0 / data.n_observed) * BY[:, pcols]  # d p_s / d y
    sandwich[idx] = G.T @ (_statewise_variance(data, residuals, dof)[:, None] * G)
    info.update(status="ok", message="")
    if info["at_bound"]:
        info.update(status="at_bound", message="at a bound, no standard error: "
                    + ", ".join(info["at_bound"]))  # fmt: skip
    return cov, sandwich


def _complement(nlp, free: np.ndarray, n_p: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions among the free variables of ``E`` (the free initial states, then the free
    ``theta`` and ``p_s``) and the columns of ``E`` that are the ``n_p`` free ``p_s``."""
    where = np.flatnonzero(free)
    initial = (nlp.data.disc.initial_nodes[:, None] * nlp.d + np.arange(nlp.d)).ravel()
    chosen = np.concatenate([initial[free[initial]], nlp.nx + np.flatnonzero(free[nlp.nx :])])
    dofs = np.searchsorted(where, chosen)
    return dofs, len(dofs) - n_p + np.arange(n_p)


def _reduced_solves(H, J, order, dofs, n_dof, info, check_condition=True):
    """``(Y, E^T Y, (E^T Y)^+)`` with ``Y = [K^{-1}]_ww E``, or None (``info`` says why)."""
    try:
        kkt = _BorderedLU(H, J, *order)
    except RuntimeError as exc:  # SuperLU: "Factor is exactly singular"
        return _fail(info, "singular", f"the KKT matrix is singular ({exc}): the data do not "
                     "determine every parameter, initial state or network weight")  # fmt: skip
    E = np.zeros((H.shape[0], len(dofs)))
    E[dofs, np.arange(len(dofs))] = 1.0
    Y = kkt.solve(E)
    M = Y[dofs]
    pinv = _reduced_inverse(M, n_dof, info, check_condition)
    return None if pinv is None else (Y, M, pinv)


def _shifted_solves(H, J, order, dofs, n_dof, pcols, network, info):
    """The solves with ``delta`` added to the network's diagonal (``NETWORK_SHIFT``), when
    the parameters' block is the same with ``10 delta``; else None."""
    delta = NETWORK_SHIFT * float(np.max(np.abs(H.diagonal())))
    runs = []
    for shift in (delta, 10 * delta):
        Hs = (H + sp.diags(np.where(network, shift, 0.0))).tocsc()
        runs.append(_reduced_solves(Hs, J, order, dofs, n_dof, info, check_condition=False))
        if runs[-1] is None:
            return None
    P1, P2 = (run[1][np.ix_(pcols, pcols)] for run in runs)
    if np.max(np.abs(P1 - P2)) > SHIFT_AGREEMENT * np.max(np.abs(P1)):
        return _fail(info, "singular", "the reduced Hessian is singular in a direction that "
                     "moves a physical parameter: the data do not determine it, or the "
                     "network can take its part")  # fmt: skip
    info["network_shift"] = delta
    return runs[0]


def _fail(info: dict, status: str, message: str) -> None:
    info.update(status=status, message=message)
    return None


def _active(nlp, w: np.ndarray) -> np.ndarray:
    """True for the variables at a bound."""
    lo, hi = nlp.bounds()
    near_lo = w - lo <= ACTIVE_TOL * np.maximum(1.0, np.abs(lo))
    near_hi = hi - w <= ACTIVE_TOL * np.maximum(1.0, np.abs(hi))
    return near_lo | near_hi


def _jacobian(nlp, w: np.ndarray) -> sp.csc_matrix:
    rows, cols = nlp.jacobianstructure()
    return sp.csc_matrix((nlp.jacobian(w), (rows, cols)), shape=(nlp.m, nlp.n))


def _hessian(nlp, w: np.ndarray, lam: np.ndarray) -> sp.csc_matrix:
    """The symmetric Hessian of ``f + lambda^T c`` from the callback's lower triangle
    (duplicate entries summed, as IPOPT does)."""
    rows, cols = nlp.hessianstructure()
    L = sp.csc_matrix((nlp.hessian(w, lam, 1.0), (rows, cols)), shape=(nlp.n, nlp.n))
    return (L + L.T - sp.diags(L.diagonal())).tocsc()


def _band_order(nlp, J: sp.csc_matrix, free: np.ndarray):
    """``(order, border)`` of the KKT matrix's rows (free variables, then constraints): by
    node along the chains, each constraint right after the last node it touches; the
    parameters and the rows touching no node or every node (latent normalization) last,
    flagged in ``border``."""
    n_free = int(np.count_nonzero(free))
    position = np.where(np.arange(nlp.n) < nlp.nx, np.arange(nlp.n) // max(nlp.d, 1), np.inf)
    key = np.empty(n_free + J.shape[0])
    key[:n_free] = position[free]
    coo = J.tocoo()
    node = key[coo.col]
    on_node = np.isfinite(node)
    last = np.full(J.shape[0], -1.0)
    np.maximum.at(last, coo.row[on_node], node[on_node])
    row_key = np.where(last < 0, np.inf, last + 0.5)
    if nlp.data.n_normalization:
        row_key[-nlp.data.n_normalization :] = np.inf
    key[n_free:] = row_key
    order = np.argsort(key, kind="stable")
    return order, ~np.isfinite(key[order])


class _BorderedLU:
    """LU of ``[[H, J^T], [J, 0]]`` permuted to a band with a scaled-down border."""

    def __init__(self, H, J, order, border):
        K = sp.bmat([[H, J.T], [J, None]], format="csr")[order][:, order]
        self.order = order
        self.d = np.where(border, BORDER_SCALE, 1.0)
        D = sp.diags(self.d)
        self.lu = splu((D @ K @ D).tocsc(), permc_spec="NATURAL")
        self.n = H.shape[0]

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """The ``w`` part of ``K^{-1} [rhs; 0]`` (``rhs`` (n, k) over the free variables)."""
        full = np.zeros((len(self.order), rhs.shape[1]))
        full[: self.n] = rhs
        y = self.d[:, None] * self.lu.solve(np.asfortranarray(self.d[:, None] * full[self.order]))
        out = np.empty_like(y)
        out[self.order] = y
        return out[: self.n]


def _multipliers(J: sp.csc_matrix, grad: np.ndarray, order) -> tuple[np.ndarray, float]:
    """Least-squares ``lambda`` of ``grad + J^T lambda = 0`` and the largest residual."""
    n, m = J.shape[1], J.shape[0]
    K = sp.bmat([[sp.identity(n), J.T], [J, None]], format="csr")[order[0]][:, order[0]]
    D = sp.diags(np.where(order[1], BORDER_SCALE, 1.0))
    rhs = np.concatenate([-grad, np.zeros(m)])[order[0]]
    sol = np.empty(n + m)
    sol[order[0]] = D @ splu((D @ K @ D).tocsc(), permc_spec="NATURAL").solve(D @ rhs)
    lam = sol[n:]
    return lam, float(np.max(np.abs(grad + J.T @ lam), initial=0.0))


def _reduced_inverse(M: np.ndarray, n_dof: int, info: dict, check_condition: bool = True):
    """The pseudo-inverse of ``M = E^T Y`` on its ``n_dof`` largest eigenvalues, after
    checking that they are positive and well conditioned (else None, ``info`` says why)."""
    if not np.all(np.isfinite(M)):
        return _fail(info, "singular", "the reduced Hessian is singular (non-finite inverse)")
    sym = 0.5 * (M + M.T)
    if np.max(np.abs(M - M.T)) > SYMMETRY_TOL * np.max(np.abs(sym)):
        return _fail(info, "singular", "the KKT solves are inaccurate (asymmetric inverse): "
                     "the reduced Hessian is nearly singular")  # fmt: skip
    vals, vecs = np.linalg.eigh(sym)
    keep = np.argsort(-np.abs(vals))[:n_dof]
    top = vals[keep]
    size = np.abs(top)
    if check_condition and size.max() > SINGULAR_COND * size.min():
        return _fail(info, "singular", f"the reduced Hessian is nearly singular (condition "
                     f"number {size.max() / size.min():.3g}): the data do not determine "
                     "every parameter, initial state or network weight")  # fmt: skip
    if np.any(top <= 0):
        return _fail(info, "indefinite", "the reduced Hessian is not positive definite "
                     f"({np.count_nonzero(top <= 0)} of {n_dof} directions): not a strict "
                     "minimum")  # fmt: skip
    zero = np.delete(np.abs(vals), keep)
    if zero.size and zero.max() > RANK_TOL * top.max():
        return _fail(info, "failed", "the initial states and parameters do not span the "
                     "degrees of freedom of the NLP")  # fmt: skip
    return (vecs[:, keep] / top) @ vecs[:, keep].T


def _observed(data: NLPData) -> np.ndarray:
    """(n_samples, n_states) True at the observed entries."""
    if data.obs_weight is None:
        return np.ones(data.targets.shape, dtype=bool)
    return data.obs_weight > 0


def _observation_columns(nlp, free: np.ndarray) -> sp.csr_matrix:
    """``O^T e_k`` over the free variables for every observed entry ``k`` (sample ``s``,
    state ``i``, sample-major): the row ``O[s]`` placed on ``x[n * d + i]``."""
    s_idx, i_idx = np.nonzero(_observed(nlp.data))
    rows = nlp.O[s_idx].tocoo()  # row k: sample s_idx[k]
    B = sp.csr_matrix((rows.data, (rows.col * nlp.d + i_idx[rows.row], rows.row)),
                      shape=(nlp.n, len(s_idx)))  # fmt: skip
    return B[np.flatnonzero(free)]


def _statewise_variance(data: NLPData, residuals: np.ndarray, dof: float) -> np.ndarray:
    """Each observed entry's error variance, estimated per state:
    ``SSE_i / (N_i (1 - dof / N))``."""
    state = np.nonzero(_observed(data))[1]
    d = data.targets.shape[1]
    sse = np.bincount(state, residuals**2, minlength=d)
    count = np.bincount(state, minlength=d)
    return (sse / (count * (1.0 - dof / data.n_observed)))[state]
