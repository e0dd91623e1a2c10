"""Write a fitted network as a ``pyomo.dae`` block: ``dx/dt = f(x, u)``, weights constant.

Components of the returned ``Block`` (all in user units; ``t`` runs over ``time``):

- ``STATES``, ``INPUTS`` (with inputs only), ``HIDDEN``: index sets, ``HIDDEN`` holding
  the ``(layer, unit)`` pairs of the hidden layers; ``STATES`` and ``INPUTS`` are the
  integers ``0, 1, ...`` or, when names are given (a model fitted with names), the names
  in order;
- ``x[t, i]``, ``u[t, j]`` (with inputs only): variables, initialized at the training
  means; ``dxdt[t, i]``: ``DerivativeVar(x, wrt=time)``;
- ``hidden[t, l, j]``: named expression, unit ``j`` of hidden layer ``l`` (shared by all
  outputs, so the NL writer keeps it as one common subexpression);
- ``f[t, i]``: named expression, the learned ``dx_i/dt`` at ``(x[t, :], u[t, :])``;
- ``ode[t, i]``: ``dxdt[t, i] == f[t, i]`` at every ``t`` but ``time.first()``.

With known physics (a grey-box model, ``_greybox``), ``f[t, i]`` is the physics
function's ``dx_i/dt`` in user units, and the block also holds

- ``PARAMS``, ``p[name]``: the physical parameters, a mutable ``Param`` in user units
  (initialized at the fitted values; change them to explore the model);
- ``NETWORK``, ``nn[t, k]`` (with network outputs only): named expression, network
  output ``k`` in the unit the physics reads it in (``nn_unit * g``).

A physics-only model (no network outputs) has no hidden units and no ``nn``.

Every indexed component is declared over ``time`` with a rule, so a ``pyomo.dae``
discretization applied to the enclosing model afterwards builds it at the new points.
Never solves.
"""

from __future__ import annotations

import numpy as np
import pyomo.environ as pyo
from pyomo.dae import ContinuousSet, DerivativeVar

from ._activations import ACTIVATIONS


def fold_scaling(
    coefs: list,
    intercepts: list,
    in_mean: np.ndarray,
    in_scale: np.ndarray,
    out_scale: np.ndarray,
) -> tuple[list, list]:
    """Weights of the same network acting on user units.

    The first layer absorbs the input standardization ``(v - in_mean) / in_scale`` and the
    output layer the factor ``out_scale`` (``x_scale / t_scale``), so that the returned
    network maps ``(x, u)`` to ``dx/dt`` (grey-box: ``nn_unit``, to the outputs ``nn``
    the physics reads).
    """
    coefs = [np.array(W, dtype=float) for W in coefs]
    intercepts = [np.array(b, dtype=float) for b in intercepts]
    W0 = coefs[0] / in_scale[:, None]
    intercepts[0] = intercepts[0] - in_mean @ W0
    coefs[0] = W0
    coefs[-1] = coefs[-1] * out_scale[None, :]
    intercepts[-1] = intercepts[-1] * out_scale
    return coefs, intercepts


def check_time_set(time) -> None:
    """Raise unless ``time`` is a constructed ``pyomo.dae.ContinuousSet``."""
    if not isinstance(time, ContinuousSet):
        raise TypeError(
            f"`time` must be a pyomo.dae.ContinuousSet (the model's time domain, e.g. "
            f"m.t = ContinuousSet(bounds=(0, 10))); got {type(time).__name__} {time!r}. "
            "A plain Set cannot carry the DerivativeVar dx/dt."
        )
    if not time.is_constructed():
        raise ValueError(
            f"`time` ({time.name}) is not constructed yet: declare it on a ConcreteModel "
            "(m.t = ContinuousSet(bounds=(t0, t1))) before calling to_pyomo."
        )


def _affine(W: np.ndarray, b: np.ndarray, inputs: list, j: int):
    return sum(float(W[k, j]) * v for k, v in enumerate(inputs)) + float(b[j])


def build_block(
    time,
    coefs: list,
    intercepts: list,
    activation: str,
    scaling,
    *,
    greybox=None,
    params: np.ndarray | None = None,
    state_names: list | None = None,
    input_names: list | None = None,
) -> pyo.Block:
    """Build the unattached block of the module docstring for one fitted network acting
    on the scaled units of ``scaling`` (``_scaling.Scaling``, latent states included).

    With ``greybox`` (the fitted ``_greybox.GreyBox``) the network gives the physics'
    outputs ``nn`` and ``params`` holds every physical parameter in user units, in the
    order of ``greybox.physics.param_names``. ``state_names``/``input_names`` (strings,
    one per state and input): index ``STATES``/``INPUTS`` by them instead of integers.
    """
    check_time_set(time)
    x_mean, x_scale, u_mean = scaling.mean, scaling.scale, scaling.u_mean
    d = len(x_mean)
    has_u = u_mean is not None
    in_mean = np.r_[x_mean, u_mean] if has_u else x_mean
    in_scale = np.r_[x_scale, scaling.u_scale] if has_u else x_scale
    columns = None if greybox is None else greybox.input_columns
    if columns is not None:  # the network reads some states and inputs only
        in_mean, in_scale = in_mean[columns], in_scale[columns]
    out_scale = x_scale / scaling.t_scale if greybox is None else greybox.nn_unit
    W, c = [], []
    if len(coefs):  # a physics-only model has no network
        W, c = fold_scaling(coefs, intercepts, in_mean, in_scale, out_scale)
    act = ACTIVATIONS[activation].pyomo

    b = pyo.Block(concrete=True)
    b.STATES = _index_set(d, state_names, "state_names")
    where = {key: k for k, key in enumerate(b.STATES)}  # STATES key -> position
    b.x = pyo.Var(time, b.STATES, initialize=lambda _, t, i: float(x_mean[where[i]]))
    b.dxdt = DerivativeVar(b.x, wrt=time)
    if has_u:
        b.INPUTS = _index_set(len(u_mean), input_names, "input_names")
        u_where = {key: k for k, key in enumerate(b.INPUTS)}
        b.u = pyo.Var(time, b.INPUTS, initialize=lambda _, t, j: float(u_mean[u_where[j]]))
    b.HIDDEN = pyo.Set(
        initialize=[(layer, j) for layer in range(len(W) - 1) for j in range(W[layer].shape[1])],
        dimen=2,
        ordered=True,
    )

    def layer_inputs(blk, t, layer):
        if layer > 0:
            return [blk.hidden[t, layer - 1, k] for k in range(W[layer].shape[0])]
        inputs = [blk.x[t, i] for i in blk.STATES]
        inputs = inputs + [blk.u[t, j] for j in blk.INPUTS] if has_u else inputs
        return inputs if columns is None else [inputs[int(k)] for k in columns]

    def hidden_rule(blk, t, layer, j):
        return act(_affine(W[layer], c[layer], layer_inputs(blk, t, layer), j))

    def output_rule(blk, t, k):  # k: the position of the output
        return _affine(W[-1], c[-1], layer_inputs(blk, t, len(W) - 1), k)

    first = time.first()

    def ode_rule(blk, t, i):
        if t == first:
            return pyo.Constraint.Skip
        return blk.dxdt[t, i] == blk.f[t, i]

    b.hidden = pyo.Expression(time, b.HIDDEN, rule=hidden_rule)
    if greybox is None:
        b.f = pyo.Expression(time, b.STATES, rule=lambda blk, t, i: output_rule(blk, t, where[i]))
    else:
        _add_physics(b, time, greybox, params, output_rule, where)
    b.ode = pyo.Constraint(time, b.STATES, rule=ode_rule)
    return b


def _index_set(n: int, names, label: str):
    """``0..n-1`` as a ``RangeSet``, or the ``n`` names (strings) as an ordered ``Set``."""
    if names is None:
        return pyo.RangeSet(0, n - 1)
    names = [str(name) for name in names]
    if len(names) != n or len(set(names)) != n:
        raise ValueError(f"`{label}` must be {n} distinct names; got {names!r}.")
    return pyo.Set(initialize=names, ordered=True)


def _add_physics(b, time, greybox, params, output_rule, where) -> None:
    """``p``, ``nn`` and the field ``f`` of a grey-box block (module docstring)."""
    physics = greybox.physics
    names = physics.param_names
    params = np.asarray(params, dtype=float)
    if params.shape != (len(names),):
        raise ValueError(
            f"`params` must hold the {len(names)} physical parameters {names} in user "
            f"units; got shape {params.shape}."
        )
    b.PARAMS = pyo.Set(initialize=names, ordered=True)
    b.p = pyo.Param(b.PARAMS, mutable=True, initialize=dict(zip(names, params.tolist())))
    if physics.n_network:
        b.NETWORK = pyo.RangeSet(0, physics.n_network - 1)
        b.nn = pyo.Expression(time, b.NETWORK, rule=output_rule)

    def field_rule(blk, t, i):
        x = [blk.x[t, k] for k in blk.STATES]
        u = [blk.u[t, j] for j in blk.INPUTS] if physics.n_inputs else []
        nn = [blk.nn[t, k] for k in range(physics.n_network)]
        return physics.pyomo_expressions(x, u, blk.p, nn)[where[i]]

    b.f = pyo.Expression(time, b.STATES, rule=field_rule)
