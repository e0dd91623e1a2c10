"""Build the collocation NLP of ``_problem.NLPData`` as a Pyomo model. Never solves.

Components of the returned ``ConcreteModel`` (all in scaled units):

- ``x[n, i]``: state component ``i`` at collocation node ``n``;
- ``theta[p]``: the network parameters, flat (``_mlp.Layout``);
- ``hidden[l, c, j]``: named expression, unit ``j`` of hidden layer ``l`` at
  collocation equation ``c`` (shared by all outputs, so the NL writer keeps it
  as one common subexpression);
- ``collocation[c, i]``: ``sum_l D[c, l] x[idx_l, i] = h_c * f_theta(x_c, u_c)[i]``;
- ``continuity[k, i]``: Gauss-Legendre element end values (absent otherwise);
- ``latent_mean[k]``, ``latent_scale[k]``: with latent states (``NLPData.n_latent``), the
  mean of latent state ``k`` over all nodes is 0 and its mean square 1;
- ``data_fit``, ``regularization``: named expressions whose sum is the objective ``obj``;
- with ``NLPData.proximal`` (ADMM sub-problems) also ``proximal``,
  ``rho/2 * ||theta - prox_center||^2``, where ``rho`` and ``prox_center`` are variables
  pinned by equal bounds (IPOPT treats them as parameters). Being variables, they can be
  changed between solves in the NL-level problem without writing it again.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo

from ._activations import ACTIVATIONS
from ._mlp import Layout
from ._problem import NLPData


def _row_sum(idx, w, var, i):
    return sum(float(wl) * var[int(n), i] for n, wl in zip(idx, w) if wl != 0.0)


def _network_outputs(m, data: NLPData, layout: Layout, c: int, node: int, hidden_exprs: list):
    """Pyomo expressions of f_theta at one collocation equation (one per state)."""
    sigma = ACTIVATIONS[data.activation].pyomo
    inputs = [m.x[node, i] for i in range(data.n_states)]
    if data.node_inputs is not None:
        inputs += [float(v) for v in data.node_inputs[node]]
    for l in range(1, layout.n_layers + 1):  # noqa: E741 - l is the layer index
        outs = []
        for j in range(layout.sizes[l]):
            z = sum(m.theta[layout.weight(l, k, j)] * v for k, v in enumerate(inputs))
            outs.append(z + m.theta[layout.bias(l, j)])
        if l == layout.n_layers:
            return outs
        for j, z in enumerate(outs):
            hidden_exprs.append(((l - 1, c, j), sigma(z)))
        inputs = [m.hidden[l - 1, c, j] for j in range(len(outs))]


def build_model(data: NLPData) -> pyo.ConcreteModel:
    """Build the collocation NLP (see the module docstring for its components)."""
    disc, d = data.disc, data.sizes[-1]
    m = pyo.ConcreteModel(name="skneuralode_collocation")
    m.NODES = pyo.RangeSet(0, disc.n_nodes - 1)
    m.STATES = pyo.RangeSet(0, d - 1)
    m.PARAMS = pyo.RangeSet(0, len(data.theta0) - 1)
    sb, wb = data.state_bound, data.weight_bound
    m.x = pyo.Var(
        m.NODES,
        m.STATES,
        bounds=(None if sb is None else -sb, sb),
        initialize=lambda _, n, i: float(data.states0[n, i]),
    )
    m.theta = pyo.Var(
        m.PARAMS,
        bounds=(None if wb is None else -wb, wb),
        initialize=lambda _, p: float(data.theta0[p]),
    )
    m.hidden = pyo.Expression(pyo.Any)
    _add_collocation(m, data)
    _add_continuity(m, data)
    _add_latent_normalization(m, data)
    _add_objective(m, data)
    if data.fixed_theta:
        m.theta.fix()
    return m


def _add_latent_normalization(m, data: NLPData) -> None:
    if not data.n_normalization:
        return
    d, n = data.n_states, data.disc.n_nodes
    m.LATENT = pyo.RangeSet(d - data.n_latent, d - 1)
    m.latent_mean = pyo.Constraint(
        m.LATENT, rule=lambda m, i: sum(m.x[k, i] for k in m.NODES) / n == 0
    )
    m.latent_scale = pyo.Constraint(
        m.LATENT, rule=lambda m, i: sum(m.x[k, i] ** 2 for k in m.NODES) / n == 1
    )


def _add_collocation(m, data: NLPData) -> None:
    disc, layout = data.disc, Layout(data.sizes)
    rhs = []
    for c, node in enumerate(disc.colloc_node):
        hidden = []
        outs = _network_outputs(m, data, layout, c, int(node), hidden)
        for key, expr in hidden:
            m.hidden[key] = expr
        rhs.append(outs)
    m.COLLOC = pyo.RangeSet(0, len(disc.colloc_node) - 1)

    def rule(m, c, i):
        lhs = _row_sum(disc.colloc_idx[c], disc.colloc_w[c], m.x, i)
        return lhs - float(disc.colloc_h[c]) * rhs[c][i] == 0

    m.collocation = pyo.Constraint(m.COLLOC, m.STATES, rule=rule)


def _add_continuity(m, data: NLPData) -> None:
    disc = data.disc
    if len(disc.cont_node) == 0:
        return
    m.CONT = pyo.RangeSet(0, len(disc.cont_node) - 1)

    def rule(m, k, i):
        end = _row_sum(disc.cont_idx[k], disc.cont_w[k], m.x, i)
        return m.x[int(disc.cont_node[k]), i] - end == 0

    m.continuity = pyo.Constraint(m.CONT, m.STATES, rule=rule)


def _add_objective(m, data: NLPData) -> None:
    disc, d = data.disc, data.sizes[-1]
    n = len(data.targets)
    weight = data.obs_weight
    residuals = (
        _row_sum(disc.obs_idx[s], disc.obs_w[s], m.x, i) - float(data.targets[s, i])
        for s in range(n)
        for i in range(d)
        if weight is None or weight[s, i]
    )
    m.data_fit = pyo.Expression(expr=sum(r**2 for r in residuals) / data.n_observed)
    penalized = np.flatnonzero(data.weight_mask)
    m.alpha = pyo.Param(initialize=float(data.alpha), mutable=True)
    m.regularization = pyo.Expression(expr=m.alpha * sum(m.theta[int(p)] ** 2 for p in penalized))
    if not data.proximal:
        m.obj = pyo.Objective(expr=m.data_fit + m.regularization)
        return
    m.rho = pyo.Var(bounds=(0.0, 0.0), initialize=0.0)
    m.prox_center = pyo.Var(m.PARAMS, bounds=(0.0, 0.0), initialize=0.0)
    m.proximal = pyo.Expression(
        expr=m.rho / 2 * sum((m.theta[p] - m.prox_center[p]) ** 2 for p in m.PARAMS)
    )
    m.obj = pyo.Objective(expr=m.data_fit + m.regularization + m.proximal)


def set_proximal(m, rho: float, center: np.ndarray) -> None:
    """Pin the proximal term's ``rho`` and ``prox_center`` (by equal bounds)."""
    m.rho.setlb(rho), m.rho.setub(rho), m.rho.set_value(rho)
    for p in m.PARAMS:
        value = float(center[p])
        m.prox_center[p].setlb(value), m.prox_center[p].setub(value)
        m.prox_center[p].set_value(value)


def read_solution(m) -> tuple[np.ndarray, np.ndarray]:
    """Return (theta, states) from a solved model as numpy arrays."""
    theta = np.array([pyo.value(m.theta[p]) for p in m.PARAMS])
    states = np.array([[pyo.value(m.x[n, i]) for i in m.STATES] for n in m.NODES])
    return theta, states
