"""Collocation nodes, differentiation/interpolation matrices and the discretization.

Pure numpy: nothing here knows about Pyomo. Every matrix acts on *scaled* time.
The schemes are the rows of ``SCHEMES``: code reads a row's fields, never its name.

A :class:`Discretization` describes, for all trajectories at once, which state nodes
exist, which linear combination of nodes each collocation equation differentiates,
which linear combination each continuity equation needs (Gauss-Legendre only) and
which linear combination of nodes reproduces each data sample at its own time.
Rows are stored as padded ``(index, weight)`` arrays; padding has weight 0 and
index 0 and is skipped by the model builder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from numpy.polynomial import legendre


def radau_nodes(degree: int) -> np.ndarray:
    """Radau IIA collocation points on [0, 1] (right end included), increasing."""
    coef = np.zeros(degree + 1)
    coef[degree] = 1.0
    coef[degree - 1] = -1.0
    roots = np.sort(np.real(legendre.legroots(coef)))
    nodes = (roots + 1.0) / 2.0
    nodes[-1] = 1.0  # the root x = 1 is exact; remove round-off
    return nodes


def legendre_nodes(degree: int) -> np.ndarray:
    """Gauss-Legendre collocation points on (0, 1), increasing."""
    roots, _ = legendre.leggauss(degree)
    return (np.sort(roots) + 1.0) / 2.0


def chebyshev_lobatto_nodes(n_intervals: int) -> np.ndarray:
    """The ``n_intervals + 1`` Chebyshev-Gauss-Lobatto points on [0, 1], increasing."""
    k = np.arange(n_intervals + 1)
    nodes = (1.0 - np.cos(np.pi * k / n_intervals)) / 2.0
    nodes[0], nodes[-1] = 0.0, 1.0
    return nodes


def barycentric_weights(nodes: np.ndarray) -> np.ndarray:
    """Barycentric weights ``w_j = 1 / prod_{k != j} (s_j - s_k)``, rescaled to max |w| = 1.

    Computed in log space so that hundreds of nodes neither overflow nor underflow.
    """
    diff = nodes[:, None] - nodes[None, :]
    np.fill_diagonal(diff, 1.0)
    log_abs = -np.sum(np.log(np.abs(diff)), axis=1)
    sign = np.prod(np.sign(diff), axis=1)
    return sign * np.exp(log_abs - log_abs.max())


def differentiation_matrix(nodes: np.ndarray) -> np.ndarray:
    """``D[i, j] = l_j'(s_i)`` for the Lagrange basis ``l_j`` through ``nodes``."""
    w = barycentric_weights(nodes)
    diff = nodes[:, None] - nodes[None, :]
    np.fill_diagonal(diff, 1.0)
    D = (w[None, :] / w[:, None]) / diff
    np.fill_diagonal(D, 0.0)
    np.fill_diagonal(D, -D.sum(axis=1))
    return D


def interpolation_matrix(nodes: np.ndarray, points: np.ndarray, atol: float = 1e-12) -> np.ndarray:
    """``L[p, j] = l_j(points[p])``; a point on a node gets an exact unit row."""
    points = np.asarray(points, dtype=float)
    w = barycentric_weights(nodes)
    diff = points[:, None] - nodes[None, :]
    on_node = np.abs(diff) <= atol * max(1.0, float(np.ptp(nodes)))
    hit = on_node.any(axis=1)
    L = on_node.astype(float)
    terms = w[None, :] / diff[~hit]
    L[~hit] = terms / terms.sum(axis=1, keepdims=True)
    return L


def _radau_basis(degree: int) -> np.ndarray:
    return np.concatenate([[0.0], radau_nodes(degree)])


def _legendre_basis(degree: int) -> np.ndarray:
    return np.concatenate([[0.0], legendre_nodes(degree)])


class Scheme(NamedTuple):
    """One collocation scheme: where a polynomial piece's nodes lie and how pieces join."""

    name: str
    #: ``n -> nodes on [0, 1]``: the start point, then the ``n`` collocation points of one
    #: piece (a finite element, or the whole trajectory for a global polynomial)
    basis: Callable[[int], np.ndarray]
    #: finite elements: an element starts at the previous element's last node (Radau's
    #: right end point), so there is no continuity equation
    shares_start_node: bool
    #: one polynomial per trajectory, of degree ``n_elements`` (default: samples - 1),
    #: instead of finite elements of ``degree`` collocation points
    global_polynomial: bool


#: name -> Scheme; the names are the estimators' ``scheme`` options.
SCHEMES = {
    "radau": Scheme("radau", _radau_basis, shares_start_node=True, global_polynomial=False),
    "legendre": Scheme(
        "legendre", _legendre_basis, shares_start_node=False, global_polynomial=False
    ),
    "chebyshev": Scheme(
        "chebyshev", chebyshev_lobatto_nodes, shares_start_node=False, global_polynomial=True
    ),
}


def element_basis(scheme: str, degree: int) -> np.ndarray:
    """Nodes of one piece on [0, 1]: the start point, then ``degree`` collocation points."""
    return SCHEMES[scheme].basis(degree)


@dataclass
class Discretization:
    """Index/weight description of the collocation NLP for all trajectories.

    All times are scaled times. ``*_idx``/``*_w`` are padded rows of node indices
    and weights: a row means ``sum_l w[l] * x[idx[l]]``.
    """

    node_times: np.ndarray  # (n_nodes,)
    node_trajectory: np.ndarray  # (n_nodes,) trajectory number of each node
    initial_nodes: np.ndarray  # (n_trajectories,) first node of each trajectory
    colloc_node: np.ndarray  # (n_colloc,) node where f is evaluated
    colloc_h: np.ndarray  # (n_colloc,) element length multiplying f
    colloc_idx: np.ndarray  # (n_colloc, m)
    colloc_w: np.ndarray  # (n_colloc, m)
    cont_node: np.ndarray  # (n_cont,) start node of the next element (Legendre)
    cont_idx: np.ndarray  # (n_cont, m)
    cont_w: np.ndarray  # (n_cont, m)
    obs_idx: np.ndarray  # (n_samples, m) in the caller's sample order
    obs_w: np.ndarray  # (n_samples, m)

    @property
    def n_nodes(self) -> int:
        return len(self.node_times)

    def apply(self, idx: np.ndarray, w: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Evaluate padded rows on node values ``states`` (n_nodes, d) -> (n_rows, d)."""
        return np.einsum("rl,rld->rd", w, states[idx])


def _pad(rows: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    width = max((len(i) for i, _ in rows), default=1)
    idx = np.zeros((len(rows), width), dtype=np.int64)
    w = np.zeros((len(rows), width))
    for r, (i, v) in enumerate(rows):
        keep = v != 0.0
        i, v = i[keep], v[keep]
        idx[r, : len(i)] = i
        w[r, : len(v)] = v
    return idx, w


class _Builder:
    """Accumulates nodes and equation rows trajectory by trajectory."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.traj: list[int] = []
        self.initial: list[int] = []
        self.colloc: list[tuple[int, float, np.ndarray, np.ndarray]] = []
        self.cont: list[tuple[int, np.ndarray, np.ndarray]] = []
        self.obs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def add_nodes(self, times: np.ndarray, trajectory: int) -> np.ndarray:
        start = len(self.times)
        self.times.extend(np.asarray(times, dtype=float).tolist())
        self.traj.extend([trajectory] * len(times))
        return np.arange(start, start + len(times))

    def finish(self, n_samples: int) -> Discretization:
        colloc_idx, colloc_w = _pad([(c[2], c[3]) for c in self.colloc])
        cont_idx, cont_w = _pad([(c[1], c[2]) for c in self.cont])
        obs_idx, obs_w = _pad([self.obs[s] for s in range(n_samples)])
        return Discretization(
            node_times=np.array(self.times),
            node_trajectory=np.array(self.traj, dtype=np.int64),
            initial_nodes=np.array(self.initial, dtype=np.int64),
            colloc_node=np.array([c[0] for c in self.colloc], dtype=np.int64),
            colloc_h=np.array([c[1] for c in self.colloc]),
            colloc_idx=colloc_idx,
            colloc_w=colloc_w,
            cont_node=np.array([c[0] for c in self.cont], dtype=np.int64),
            cont_idx=cont_idx,
            cont_w=cont_w,
            obs_idx=obs_idx,
            obs_w=obs_w,
        )


def _element_bounds(times: np.ndarray, n_elements: int | None) -> np.ndarray:
    if n_elements is None:
        return times
    return np.linspace(times[0], times[-1], n_elements + 1)


def _add_finite_elements(b, times, samples, traj, scheme: Scheme, degree, n_elements) -> None:
    basis = scheme.basis(degree)
    D = differentiation_matrix(basis)
    end_w = interpolation_matrix(basis, np.array([1.0]))[0]
    bounds = _element_bounds(times, n_elements)
    h = np.diff(bounds)
    prev = None  # node indices of the previous element
    for k in range(len(h)):
        local_times = bounds[k] + h[k] * basis
        if prev is None:
            nodes = b.add_nodes(local_times, traj)
            b.initial.append(int(nodes[0]))
        elif scheme.shares_start_node:  # e.g. Radau: the previous element's last node
            nodes = np.concatenate([[prev[-1]], b.add_nodes(local_times[1:], traj)])
        else:
            nodes = b.add_nodes(local_times, traj)
            b.cont.append((int(nodes[0]), prev, end_w))
        for j in range(1, degree + 1):
            b.colloc.append((int(nodes[j]), float(h[k]), nodes, D[j]))
        prev = nodes
    _add_observations(b, times, samples, bounds, basis, scheme, traj)


def _add_observations(b, times, samples, bounds, basis, scheme: Scheme, traj) -> None:
    n_el = len(bounds) - 1
    elem = np.clip(np.searchsorted(bounds, times, side="right") - 1, 0, n_el - 1)
    node_of_elem = _element_node_table(b, traj, n_el, len(basis), scheme)
    for s, tau, k in zip(samples, times, elem):
        local = np.array([(tau - bounds[k]) / (bounds[k + 1] - bounds[k])])
        b.obs[int(s)] = (node_of_elem[k], interpolation_matrix(basis, local)[0])


def _element_node_table(b, traj, n_el, n_basis, scheme: Scheme) -> np.ndarray:
    """Node indices of every element of trajectory ``traj`` (rebuilt from the layout)."""
    first = b.initial[traj]
    table = np.empty((n_el, n_basis), dtype=np.int64)
    step = n_basis - 1 if scheme.shares_start_node else n_basis
    for k in range(n_el):
        table[k] = first + k * step + np.arange(n_basis)
    return table


def _add_global(b, times, samples, traj, scheme: Scheme, n_intervals) -> None:
    basis = scheme.basis(n_intervals)
    D = differentiation_matrix(basis)
    span = times[-1] - times[0]
    nodes = b.add_nodes(times[0] + span * basis, traj)
    b.initial.append(int(nodes[0]))
    for j in range(1, n_intervals + 1):
        b.colloc.append((int(nodes[j]), float(span), nodes, D[j]))
    L = interpolation_matrix(basis, (times - times[0]) / span)
    for s, row in zip(samples, L):
        b.obs[int(s)] = (nodes, row)


def build_discretization(
    times: np.ndarray,
    groups: list[np.ndarray],
    scheme: str,
    degree: int,
    n_elements: int | None,
) -> Discretization:
    """Discretize every trajectory.

    Parameters
    ----------
    times : ndarray of shape (n_samples,)
        Scaled sample times, in the caller's sample order.
    groups : list of int arrays
        Sample indices of each trajectory, in increasing time.
    scheme : {"radau", "legendre", "chebyshev"}
        A key of ``SCHEMES``.
    degree : int
        Collocation points per finite element (ignored by ``"chebyshev"``).
    n_elements : int or None
        Finite elements per trajectory (``None``: one per data interval). For
        ``"chebyshev"``, the degree of the global polynomial (``None``: samples - 1).
    """
    b, row = _Builder(), SCHEMES[scheme]
    for traj, samples in enumerate(groups):
        tr_times = times[samples]
        if row.global_polynomial:
            n_int = len(samples) - 1 if n_elements is None else n_elements
            _add_global(b, tr_times, samples, traj, row, n_int)
        else:
            _add_finite_elements(b, tr_times, samples, traj, row, degree, n_elements)
    return b.finish(len(times))


def collocation_residuals(disc: Discretization, states: np.ndarray, rates: np.ndarray):
    """Residuals of the collocation equations, ``sum_l D x - h f``, with ``rates`` the
    right-hand side at ``disc.colloc_node``; and of the continuity equations (Legendre)."""
    colloc = disc.apply(disc.colloc_idx, disc.colloc_w, states) - disc.colloc_h[:, None] * rates
    if len(disc.cont_node) == 0:
        return colloc, np.zeros((0, states.shape[1]))
    return colloc, states[disc.cont_node] - disc.apply(disc.cont_idx, disc.cont_w, states)
