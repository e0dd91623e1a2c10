"""A fitted model's right-hand side as a CasADi function: ``f(x, u) -> dxdt`` in user units.

The network is written with the scaling folded into its first and last layer
(``_export.fold_scaling``), as ``to_pyomo`` does, in CasADi's scalar graph (``SX``), so
CasADi's algorithmic differentiation gives exact Jacobians and Hessians, and the function
can be called on ``MX`` symbols inside an ``Opti`` problem or an integrator. With known
physics the traced SymPy rates are walked into the same graph
(``_physics.Physics.casadi_expressions``), the physical parameters constants at their
fitted values.

CasADi is an optional dependency (``pip install "skneuralode[casadi]"``); it is imported
inside the functions here only.
"""

from __future__ import annotations

import numpy as np

INSTALL_HINT = 'pip install "skneuralode[casadi]"  (or: pip install casadi)'


def import_casadi():
    """``casadi``, or an ImportError that says how to install it."""
    try:
        import casadi
    except ImportError as exc:
        raise ImportError(
            f"to_casadi needs CasADi, which is not installed: {INSTALL_HINT}. CasADi's "
            "wheel ships IPOPT, so the exported function can be optimized with no other "
            "solver installed."
        ) from exc
    return casadi


# ------------------------------------------ activations (keys: _activations.ACTIVATIONS)
def _sigmoid(z):
    import casadi

    return 1.0 / (1.0 + casadi.exp(-z))


def _softplus(z):
    import casadi

    return casadi.log1p(casadi.exp(z))


def _identity(z):
    return z


def _tanh(z):
    import casadi

    return casadi.tanh(z)


#: name -> CasADi form of each activation of ``_activations.ACTIVATIONS`` (same keys;
#: ``tests/test_casadi.py`` checks that every activation has one and that it matches).
CASADI_ACTIVATIONS = {
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "softplus": _softplus,
    "identity": _identity,
}


def network_expression(coefs: list, intercepts: list, activation: str, inputs):
    """The network of ``coefs``/``intercepts`` (acting on rows) on the CasADi column
    ``inputs``: hidden layers with ``activation``, linear output layer."""
    import casadi

    act = CASADI_ACTIVATIONS[activation]
    v = inputs
    for layer, (W, b) in enumerate(zip(coefs, intercepts)):
        v = casadi.mtimes(casadi.DM(np.asarray(W).T), v) + casadi.DM(np.asarray(b))
        if layer < len(coefs) - 1:
            v = act(v)
    return v


def build_function(coefs, intercepts, activation: str, scaling, *, greybox=None,
                   params=None, name: str = "f"):  # fmt: skip
    """The ``casadi.Function`` ``name(x[, u]) -> dxdt`` of a fitted network acting on the
    scaled units of ``scaling`` (``_scaling.Scaling``, latent states included); with
    ``greybox`` (``_greybox.GreyBox``) the physics' rates of the network's outputs, the
    physical parameters ``params`` (user units, in ``greybox.physics.param_names`` order)
    as constants."""
    casadi = import_casadi()
    d = len(scaling.mean)
    from ._export import fold_scaling  # imports Pyomo: not at import time

    has_u = scaling.u_mean is not None
    x = casadi.SX.sym("x", d)
    u = casadi.SX.sym("u", len(scaling.u_mean)) if has_u else None
    in_mean = np.r_[scaling.mean, scaling.u_mean] if has_u else scaling.mean
    in_scale = np.r_[scaling.scale, scaling.u_scale] if has_u else scaling.scale
    v = casadi.vertcat(x, u) if has_u else x
    if greybox is None:
        W, c = fold_scaling(coefs, intercepts, in_mean, in_scale, scaling.scale / scaling.t_scale)
        rates = network_expression(W, c, activation, v)
    else:
        rates = _greybox_rates(greybox, coefs, intercepts, activation, params, x, u, v,
                               in_mean, in_scale)  # fmt: skip
    inputs, names = ([x, u], ["x", "u"]) if has_u else ([x], ["x"])
    return casadi.Function(name, inputs, [rates], names, ["dxdt"])


def _greybox_rates(greybox, coefs, intercepts, activation, params, x, u, v, in_mean, in_scale):
    import casadi

    from ._export import fold_scaling

    physics = greybox.physics
    nn = []
    if physics.n_network:
        columns = greybox.input_columns
        if columns is not None:  # the network reads some states and inputs only
            v = casadi.vertcat(*[v[int(k)] for k in columns])
            in_mean, in_scale = in_mean[columns], in_scale[columns]
        W, c = fold_scaling(coefs, intercepts, in_mean, in_scale, greybox.nn_unit)
        out = network_expression(W, c, activation, v)
        nn = [out[k] for k in range(physics.n_network)]
    xs = [x[i] for i in range(physics.n_states)]
    us = [u[j] for j in range(physics.n_inputs)] if physics.n_inputs else []
    p = [float(value) for value in np.asarray(params, dtype=float)]
    return casadi.vertcat(*physics.casadi_expressions(xs, us, p, nn))
