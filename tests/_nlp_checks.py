"""Helpers shared by the tests that compare an NLP's derivatives (numpy engine, PyNumero,
finite differences): dense matrices from IPOPT's triplets, and a relative error."""

import numpy as np
import scipy.sparse as sp


def coo(shape, structure, values):
    """The dense matrix of ``(rows, cols)`` triplets (duplicates summed)."""
    rows, cols = structure
    return sp.coo_matrix((values, (rows, cols)), shape=shape).toarray()


def lagrangian_hessian(nlp, w, lam, obj_factor):
    """The full symmetric Hessian of the Lagrangian from an NLP's lower triangle."""
    lower = coo((nlp.n, nlp.n), nlp.hessianstructure(), nlp.hessian(w, lam, obj_factor))
    return lower + lower.T - np.diag(np.diag(lower))


def relative_error(a, b):
    """``max |a - b| / max |b|``."""
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


#: Two exact evaluations of the same NLP agree to this, relative to the largest entry.
AGREEMENT = 1e-8


def check_against_pynumero(data, nlp, w, lam, rho, center):
    """Assert that ``nlp`` (a numpy engine NLP of ``data``) and the Pyomo model of ``data``
    evaluated by PyNumero (the AMPL library) agree at ``w`` with multipliers ``lam``:
    objective, gradient, constraints, Jacobian, Hessian of the Lagrangian and bounds."""
    import pytest
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    from skneuralode._pyomo_model import build_model, set_proximal

    model = build_model(data)
    if data.proximal:
        set_proximal(model, rho, center)
    pnlp = PyomoNLP(model)
    ix = pnlp.get_primal_indices([model.x])
    if not data.fixed_theta:  # a fixed network is no variable of the NL problem
        ix = np.r_[ix, pnlp.get_primal_indices([model.theta])]
    con = [model.collocation] + ([model.continuity] if hasattr(model, "continuity") else [])
    if hasattr(model, "LATENT"):  # the engine's order: (mean, mean square) per latent state
        con += [c for k in model.LATENT for c in (model.latent_mean[k], model.latent_scale[k])]
    ic = np.asarray(pnlp.get_constraint_indices(con))
    assert len(ic) == nlp.m == pnlp.n_constraints()
    primals = pnlp.get_primals().copy()  # keeps the pinned rho / prox_center values
    primals[ix] = w
    pnlp.set_primals(primals)
    duals = np.zeros(pnlp.n_constraints())
    duals[ic] = lam
    pnlp.set_duals(duals)
    pnlp.set_obj_factor(0.4)

    assert nlp.objective(w) == pytest.approx(pnlp.evaluate_objective(), rel=AGREEMENT)
    assert relative_error(nlp.gradient(w), pnlp.evaluate_grad_objective()[ix]) < AGREEMENT
    assert relative_error(nlp.constraints(w), pnlp.evaluate_constraints()[ic]) < AGREEMENT
    J_ref = pnlp.evaluate_jacobian().toarray()[np.ix_(ic, ix)]
    J = coo((nlp.m, nlp.n), nlp.jacobianstructure(), nlp.jacobian(w))
    assert relative_error(J, J_ref) < AGREEMENT
    H_ref = pnlp.evaluate_hessian_lag().toarray()[np.ix_(ix, ix)]  # PyNumero: both triangles
    assert relative_error(lagrangian_hessian(nlp, w, lam, 0.4), H_ref) < AGREEMENT
    lo, hi = nlp.bounds()
    lo, hi = lo[: len(ix)], hi[: len(ix)]  # a fixed network's columns are not in ix
    plo, phi = pnlp.primals_lb()[ix], pnlp.primals_ub()[ix]
    np.testing.assert_array_equal(np.isfinite(plo), lo > -1e19)
    np.testing.assert_allclose(plo[np.isfinite(plo)], lo[lo > -1e19])
    np.testing.assert_array_equal(np.isfinite(phi), hi < 1e19)
    np.testing.assert_allclose(phi[np.isfinite(phi)], hi[hi < 1e19])


def evaluate_block(m, X, U=None):
    """``pyo.value(f[t, i])`` of the block ``m.plant`` with x (and u) fixed to row k of X
    (U) at time point k."""
    import pyomo.environ as pyo

    plant, times = m.plant, list(m.t)
    for k, t in enumerate(times):
        for i in plant.STATES:
            plant.x[t, i].fix(X[k, i])
        for j in range(0 if U is None else U.shape[1]):
            plant.u[t, j].fix(U[k, j])
    return np.array([[pyo.value(plant.f[t, i]) for i in plant.STATES] for t in times])
