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
