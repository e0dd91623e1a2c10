"""Collocation nodes and matrices: known values and exactness on polynomials."""

import numpy as np
import pytest
from scipy.linalg import expm

from skneuralode._collocation import (
    build_discretization,
    chebyshev_lobatto_nodes,
    differentiation_matrix,
    element_basis,
    interpolation_matrix,
    legendre_nodes,
    radau_nodes,
)

EXACT = 1e-10


def test_radau_and_legendre_known_nodes():
    np.testing.assert_allclose(radau_nodes(1), [1.0])
    np.testing.assert_allclose(radau_nodes(2), [1 / 3, 1.0])
    s6 = np.sqrt(6)
    np.testing.assert_allclose(radau_nodes(3), [(4 - s6) / 10, (4 + s6) / 10, 1.0])
    np.testing.assert_allclose(legendre_nodes(1), [0.5])
    np.testing.assert_allclose(legendre_nodes(2), [0.5 - np.sqrt(3) / 6, 0.5 + np.sqrt(3) / 6])


@pytest.mark.parametrize("scheme", ["radau", "legendre"])
@pytest.mark.parametrize("degree", [1, 2, 3, 4, 5])
def test_element_derivative_exact_for_polynomials(scheme, degree):
    s = element_basis(scheme, degree)
    D = differentiation_matrix(s)
    coef = np.arange(1.0, degree + 2)  # polynomial of degree `degree` (= nodes - 1)
    p = np.polynomial.Polynomial(coef)
    np.testing.assert_allclose(D @ p(s), p.deriv()(s), atol=EXACT * coef.sum() * degree**2)


@pytest.mark.parametrize("n", [4, 16, 64])
def test_chebyshev_derivative_exact_for_polynomials(n):
    s = chebyshev_lobatto_nodes(n)
    p = np.polynomial.Chebyshev.basis(n, domain=[0, 1])
    D = differentiation_matrix(s)
    np.testing.assert_allclose(D @ p(s), p.deriv()(s), atol=1e-9 * n**2 * n**2)


def test_barycentric_weights_survive_many_nodes():
    s = chebyshev_lobatto_nodes(1000)
    D = differentiation_matrix(s)
    assert np.all(np.isfinite(D))
    np.testing.assert_allclose(D @ np.sin(3 * s), 3 * np.cos(3 * s), atol=1e-6)


def test_interpolation_matrix_exact_and_unit_rows():
    s = element_basis("legendre", 3)
    pts = np.array([0.0, 0.3, 1.0, s[2]])
    L = interpolation_matrix(s, pts)
    p = np.polynomial.Polynomial([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(L @ p(s), p(pts), atol=EXACT)
    np.testing.assert_array_equal(L[3], np.eye(len(s))[2])  # a node gives a unit row


def _solve_linear_ode(disc, A, x0):
    """Solve the collocation equations of dx/dt = A x exactly (a linear system)."""
    n, d = disc.n_nodes, A.shape[0]
    rows, rhs = [], []

    def row():
        return np.zeros((n, d, n, d))

    for c, node in enumerate(disc.colloc_node):
        for i in range(d):
            r = np.zeros((n, d))
            for idx, w in zip(disc.colloc_idx[c], disc.colloc_w[c]):
                r[idx, i] += w
            r[node, :] -= disc.colloc_h[c] * A[i]
            rows.append(r.ravel())
            rhs.append(0.0)
    for k, node in enumerate(disc.cont_node):
        for i in range(d):
            r = np.zeros((n, d))
            r[node, i] = 1.0
            for idx, w in zip(disc.cont_idx[k], disc.cont_w[k]):
                r[idx, i] -= w
            rows.append(r.ravel())
            rhs.append(0.0)
    for i in range(d):
        r = np.zeros((n, d))
        r[disc.initial_nodes[0], i] = 1.0
        rows.append(r.ravel())
        rhs.append(x0[i])
    M = np.array(rows)
    assert M.shape[0] == M.shape[1], "collocation + continuity + x0 must be square"
    return np.linalg.solve(M, np.array(rhs)).reshape(n, d)


def _linear_ode_error(scheme, degree, n_elements, t=None):
    """Max error at the data times of the collocation solution of dx/dt = A x."""
    A = np.array([[0.0, 1.0], [-4.0, -0.4]])
    x0 = np.array([1.0, 0.0])
    if t is None:
        t = np.sort(np.random.RandomState(0).uniform(0, 5, 37))
        t[0], t[-1] = 0.0, 5.0
    disc = build_discretization(t, [np.arange(len(t))], scheme, degree, n_elements)
    states = _solve_linear_ode(disc, A, x0)
    at_data = disc.apply(disc.obs_idx, disc.obs_w, states)
    exact = np.array([expm(A * s) @ x0 for s in t])
    return np.max(np.abs(at_data - exact))


@pytest.mark.parametrize(
    "scheme,degree,order,n",
    [
        ("radau", 1, 1, 400),
        ("radau", 2, 3, 40),
        ("radau", 3, 5, 20),
        ("legendre", 1, 2, 40),
        ("legendre", 2, 4, 20),
    ],
)
def test_linear_ode_superconverges_at_element_ends(scheme, degree, order, n):
    """dx/dt = A x through the discretization alone, data on the element ends (the
    default: one element per data interval): error ~ h^order (Radau IIA 2K-1,
    Gauss-Legendre 2K)."""
    coarse = _linear_ode_error(scheme, degree, None, np.linspace(0, 5, n + 1))
    fine = _linear_ode_error(scheme, degree, None, np.linspace(0, 5, 2 * n + 1))
    assert np.log2(coarse / fine) > order - 0.25, (coarse, fine)


@pytest.mark.parametrize("scheme,degree", [("radau", 2), ("radau", 3), ("legendre", 3)])
def test_linear_ode_data_inside_elements(scheme, degree):
    """Data at their own times inside elements: the element polynomial gives h^(K+1)."""
    coarse = _linear_ode_error(scheme, degree, 40)
    fine = _linear_ode_error(scheme, degree, 80)
    assert np.log2(coarse / fine) > degree + 1 - 0.5, (coarse, fine)


def test_linear_ode_chebyshev_is_spectral():
    errors = [_linear_ode_error("chebyshev", 0, n) for n in (10, 15, 20)]
    assert errors[2] < 1e-9
    assert errors[0] > 1e2 * errors[1] > 1e4 * errors[2]  # geometric, not algebraic


def test_discretization_sizes_and_shared_nodes():
    t = np.linspace(0, 1, 11)
    radau = build_discretization(t, [np.arange(11)], "radau", 3, None)
    assert radau.n_nodes == 1 + 10 * 3  # element starts are shared with previous ends
    assert len(radau.cont_node) == 0
    legendre = build_discretization(t, [np.arange(11)], "legendre", 3, None)
    assert legendre.n_nodes == 10 * 4 and len(legendre.cont_node) == 9
    cheb = build_discretization(t, [np.arange(11)], "chebyshev", 3, None)
    assert cheb.n_nodes == 11 and len(cheb.colloc_node) == 10


def test_data_on_nodes_give_unit_observation_rows():
    """Chebyshev data on CGL points observe the node itself: exactly the paper's NLP."""
    t = 15 * chebyshev_lobatto_nodes(20)
    disc = build_discretization(t, [np.arange(21)], "chebyshev", 3, None)
    np.testing.assert_array_equal(disc.obs_w[:, 0], np.ones(21))
    np.testing.assert_array_equal(disc.obs_w[:, 1:], 0.0)
    np.testing.assert_array_equal(disc.obs_idx[:, 0], np.arange(21))


def test_two_trajectories_have_separate_chains():
    t = np.concatenate([np.linspace(0, 1, 5), np.linspace(0, 2, 4)])
    groups = [np.arange(5), np.arange(5, 9)]
    disc = build_discretization(t, groups, "radau", 2, None)
    assert list(disc.initial_nodes) == [0, 1 + 4 * 2]
    assert np.all(disc.node_trajectory[disc.obs_idx[5:, 0]] == 1)
