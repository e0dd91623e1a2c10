"""Build the collocation NLP of ``_problem.NLPData`` as a Pyomo model. Never solves.

Components of the returned ``ConcreteModel`` (all in scaled units):

- ``x[n, i]``: state component ``i`` at collocation node ``n``;
- ``theta[p]``: the network parameters, flat (``_mlp.Layout``), then with physics the
  scaled free physical parameters ``p_s`` (``NLPData.split_theta``), bounded by
  ``NLPData.weight_bound`` and ``GreyBox.lower``/``upper`` respectively;
- ``hidden[l, c, j]``: named expression, unit ``j`` of hidden layer ``l`` at
  collocation equation ``c`` (shared by all outputs, so the NL writer keeps it
  as one common subexpression);
- ``collocation[c, i]``: ``sum_l D[c, l] x[idx_l, i] = h_c * f_theta(x_c, u_c)[i]``
  (with physics: ``h_c * F(x_c, p_s, g_c)[i]``, ``_greybox``);
- ``continuity[k, i]``: Gauss-Legendre element end values (absent otherwise);
- ``latent_mean[k]``, ``latent_scale[k]``: with latent states (``NLPData.n_latent``), the
  mean of latent state ``k`` over all nodes is 0 and its mean square 1;
- ``data_fit``, ``regularization``: named expressions whose sum is the objective ``obj``;
  ``regularization`` is ``alpha * ||theta_W||^2`` (mutable Param ``alpha``), with physics
  plus ``param_alpha * ||p_s||^2`` (mutable Param ``param_alpha``);
- with ``NLPData.proximal`` (ADMM sub-problems) also ``proximal``,
  ``rho/2 * ||theta - prox_center||^2``, where ``rho`` and ``prox_center`` are variables
  pinned by equal bounds (IPOPT treats them as parameters). Being variables, they can be
  changed between solves in the NL-level problem without writing it again.

With known physics (``NLPData.physics``, a ``_greybox.GreyBox``) also:

- ``PHYSICS_PARAMS``: the names of the physical parameters (``Physics.param_names``);
- ``physics_params[name]``: named expression, the parameter in user units:
  ``param_scale * theta[p]`` for a fitted one, its value (a number) for a fixed one;
- ``NETWORK``, ``network[c, k]`` (with network outputs only): named expression, output
  ``g_k`` of the network (scaled) at collocation equation ``c``; the physics reads
  ``nn_k = nn_unit[k] * network[c, k]``.

With physics alone (no network outputs) the model has no network parameters and no
``hidden`` units.
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
    if data.physics is not None and data.physics.input_columns is not None:
        inputs = [inputs[int(k)] for k in data.physics.input_columns]
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
    disc, d = data.disc, data.n_states
    m = pyo.ConcreteModel(name="skneuralode_collocation")
    m.NODES = pyo.RangeSet(0, disc.n_nodes - 1)
    m.STATES = pyo.RangeSet(0, d - 1)
    m.PARAMS = pyo.RangeSet(0, len(data.theta0) - 1)
    sb = data.state_bound
    x_bounds = (None if sb is None else -sb, sb)
    if data.state_box is not None:
        x_lo, x_hi = data.state_limits()
        x_bounds = lambda _, n, i: (_bound(x_lo[i]), _bound(x_hi[i]))  # noqa: E731
    m.x = pyo.Var(
        m.NODES,
        m.STATES,
        bounds=x_bounds,
        initialize=lambda _, n, i: float(data.states0[n, i]),
    )
    bounds = _theta_bounds(data)
    m.theta = pyo.Var(
        m.PARAMS,
        bounds=lambda _, p: bounds[p],
        initialize=lambda _, p: float(data.theta0[p]),
    )
    m.hidden = pyo.Expression(pyo.Any)
    if data.physics is not None:
        _add_physics_params(m, data)
    _add_collocation(m, data)
    _add_continuity(m, data)
    _add_latent_normalization(m, data)
    _add_objective(m, data)
    if data.fixed_theta:
        m.theta.fix()
    return m


def _theta_bounds(data: NLPData) -> list[tuple]:
    """(lower, upper) of every entry of ``theta``: the weight bound on the network, the
    physics bounds on ``p_s`` (None where infinite)."""
    wb = data.weight_bound
    bounds = [(None if wb is None else -wb, wb)] * data.n_network_params
    if data.physics is not None:
        bounds += [
            (_bound(lo), _bound(hi)) for lo, hi in zip(data.physics.lower, data.physics.upper)
        ]
    return bounds


def _bound(value: float) -> float | None:
    """A bound as Pyomo takes it: a float, or None for +-inf (no bound)."""
    return float(value) if np.isfinite(value) else None


def _add_physics_params(m, data: NLPData) -> None:
    """``physics_params[name]`` in user units: fitted from ``theta``, fixed as numbers."""
    greybox, start = data.physics, data.n_network_params
    position = {int(k): j for j, k in enumerate(greybox.free)}  # name index -> p_s index
    names = greybox.physics.param_names
    m.PHYSICS_PARAMS = pyo.Set(initialize=names, ordered=True)

    def rule(m, name):
        k = names.index(name)
        if k not in position:
            return float(greybox.values[k])
        j = position[k]
        return float(greybox.param_scale[j]) * m.theta[start + j]

    m.physics_params = pyo.Expression(m.PHYSICS_PARAMS, rule=rule)


def _physics_rates(m, data: NLPData, outputs: list) -> list:
    """``F(x_c, p_s, g_c)`` at every collocation equation (``_greybox``), scaled units;
    ``outputs[c]`` are the network's outputs ``g`` at equation ``c``."""
    greybox, disc = data.physics, data.disc
    if greybox.n_network:
        m.NETWORK = pyo.RangeSet(0, greybox.n_network - 1)
        m.network = pyo.Expression(m.COLLOC, m.NETWORK, rule=lambda m, c, k: outputs[c][k])
    mean, scale, unit = greybox.mean, greybox.scale, greybox.nn_unit
    factor = greybox.t_scale / scale
    rates = []
    for c, node in enumerate(disc.colloc_node):
        x = [float(mean[i]) + float(scale[i]) * m.x[int(node), i] for i in m.STATES]
        u = []
        if data.node_inputs is not None:
            u = (greybox.u_mean + greybox.u_scale * data.node_inputs[node]).tolist()
        # the outputs' expressions themselves, not the named m.network[c, k]: the AMPL
        # library's Hessian came out wrong (against finite differences of its own Jacobian)
        # when that shared subexpression entered exp() and products with states
        nn = [float(unit[k]) * outputs[c][k] for k in range(greybox.n_network)]
        f = greybox.physics.pyomo_expressions(x, u, m.physics_params, nn)
        rates.append([float(factor[i]) * f_i for i, f_i in enumerate(f)])
    return rates


def _add_latent_normalization(m, data: NLPData) -> None:
    if not data.n_normalization:
        return
    n = data.disc.n_nodes
    m.LATENT = pyo.Set(initialize=[int(i) for i in data.normalized_latent], ordered=True)
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
        outs = _network_outputs(m, data, layout, c, int(node), hidden) if layout.n_layers else []
        for key, expr in hidden:
            m.hidden[key] = expr
        rhs.append(outs)
    m.COLLOC = pyo.RangeSet(0, len(disc.colloc_node) - 1)
    if data.physics is not None:
        rhs = _physics_rates(m, data, rhs)

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
    disc, d = data.disc, data.n_states
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
    penalty = m.alpha * sum(m.theta[int(p)] ** 2 for p in penalized)
    if data.physics is not None:
        m.param_alpha = pyo.Param(initialize=float(data.param_alpha), mutable=True)
        free = range(data.n_network_params, len(data.theta0))
        penalty = penalty + m.param_alpha * sum(m.theta[p] ** 2 for p in free)
    m.regularization = pyo.Expression(expr=penalty)
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
