"""Formulation / IPOPT-option experiment for the collocation NLP (paper's reference case).

Run:  python benchmarks/formulation_experiment.py [--repeats 3] [--only NAME,NAME]
          [--schemes radau,chebyshev]

Prints one JSON line per (scheme, variant): median wall times split into
build (Pyomo model) / nlp (PyomoNLP: NL write + ASL load) / ipopt (cyipopt solve),
total, IPOPT iterations, objective (same definition as ``CollocationNeuralODE.objective_``),
simulation MSE vs noise-free truth on the train span [0, 15] and test span [15, 30],
and ratio of the total to the baseline of the same scheme.

Variants are builders (``base`` = skneuralode's own ``build_model``; ``lift_*`` are lifted
formulations implemented here) combined with IPOPT option sets. Nothing in skneuralode/
is modified.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import pyomo.environ as pyo
from pyomo.core.expr.numeric_expr import LinearExpression

from skneuralode import CollocationNeuralODE, _mlp
from skneuralode._pyomo_model import build_model
from skneuralode._simulate import VectorField, simulate
from skneuralode.datasets import van_der_pol

# ---------------------------------------------------------------- data / reference


def reference_case():
    tr = van_der_pol(
        200,
        (0, 15),
        x0=(0, 1),
        forcing_amplitude=1.0,
        forcing_frequency=1.0,
        grid="chebyshev",
        noise=0.1,
        random_state=0,
        return_bunch=True,
    )
    te = np.linspace(0.0, 30.0, 601)
    truth = van_der_pol(
        t=te, x0=(0, 1), forcing_amplitude=1.0, forcing_frequency=1.0, return_bunch=True
    ).X_true
    return tr, te, truth


def prepare(tr, scheme):
    est = CollocationNeuralODE(width=32, alpha=1e-3, scheme=scheme, random_state=0)
    return est._prepare(tr.t, tr.X, None, None)


def objective_value(theta, states, data):
    disc = data.disc
    fit = disc.apply(disc.obs_idx, disc.obs_w, states) - data.targets
    return float(np.mean(fit**2)) + data.alpha * float(np.sum(theta[data.weight_mask] ** 2))


def simulation_mse(theta, data, info, te, truth):
    coefs, intercepts = _mlp.unpack(theta, data.sizes)
    get = (lambda k: info[k]) if isinstance(info, dict) else (lambda k: getattr(info, k))
    field = VectorField(
        coefs=coefs,
        intercepts=intercepts,
        activation=data.activation,
        x_mean=get("x_mean"),
        x_scale=get("x_scale"),
        t_scale=get("t_scale"),
    )
    pred = simulate(field, te, np.array([0.0, 1.0]))
    err = (pred - truth) ** 2
    return float(np.mean(err[te <= 15])), float(np.mean(err[te >= 15]))


# ---------------------------------------------------------------- lifted builders


def _row_sum(idx, w, var, i):
    return sum(float(wl) * var[int(n), i] for n, wl in zip(idx, w) if wl != 0.0)


def _row_linexpr(idx, w, var, i, extra_coefs=(), extra_vars=()):
    coefs, vs = [], []
    for n, wl in zip(idx, w):
        if wl != 0.0:
            coefs.append(float(wl))
            vs.append(var[int(n), i])
    return LinearExpression(
        constant=0.0, linear_coefs=coefs + list(extra_coefs), linear_vars=vs + list(extra_vars)
    )


def _forward_init(data):
    """Pre-activations z[l] and activations a[l] (n_colloc, width) at (theta0, states0)."""
    disc = data.disc
    coefs, intercepts = _mlp.unpack(data.theta0, data.sizes)
    act = _mlp.ACTIVATIONS[data.activation][0]
    h = data.states0[disc.colloc_node]
    if data.node_inputs is not None:
        h = np.hstack([h, data.node_inputs[disc.colloc_node]])
    zs, as_ = [], []
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        z = h @ W + b
        h = act(z)
        zs.append(z)
        as_.append(h)
    return zs, as_


def build_lifted(data, mode="za", linexpr=False, distribute=False):
    """Lifted collocation NLP.

    mode:
      "za": z[l,c,j] == sum_k W[k,j] in_k + b[j]  and  a[l,c,j] == act(z[l,c,j]);
            collocation uses sum_j W_out[j,i] a[L-1,c,j] + b_out[i]  (all bilinear/univariate)
      "a":  only a[l,c,j] == act(sum_k W in_k + b)
      "z":  only z[l,c,j] == sum_k W in_k + b; act(z) appears inline in the next layer / output
      "inline": no auxiliary variables and no named Expressions (network inlined per constraint)
      "named": hidden units as named Expressions m.hidden[l, c, j] (= skneuralode's formulation)
    distribute: write the collocation constraint as
      lhs + sum_j (-h W_out[j,i]) a_j - h b_out[i] == 0   (top-level sum in the NL file, which
      ASL's partially-separable Hessian (pfgh_read + ASL_findgroups) splits into small groups)
    instead of lhs - h * (sum_j W_out[j,i] a_j + b_out[i]) == 0 (one big group).
    """
    disc, sizes = data.disc, data.sizes
    d, L = sizes[-1], len(sizes) - 2  # L hidden layers
    act = _mlp.ACTIVATIONS[data.activation].pyomo
    m = pyo.ConcreteModel(name="skneuralode_collocation_lifted")
    m.NODES = pyo.RangeSet(0, disc.n_nodes - 1)
    m.STATES = pyo.RangeSet(0, d - 1)
    m.PARAMS = pyo.RangeSet(0, len(data.theta0) - 1)
    nc = len(disc.colloc_node)
    m.COLLOC = pyo.RangeSet(0, nc - 1)
    m.LAYERS = pyo.RangeSet(0, L - 1)
    m.UNITS = pyo.RangeSet(0, sizes[1] - 1)  # equal widths
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
    z0, a0 = _forward_init(data)
    if mode in ("za", "z"):
        m.z = pyo.Var(
            m.LAYERS, m.COLLOC, m.UNITS, initialize=lambda _, l, c, j: float(z0[l][c, j])
        )
    if mode in ("za", "a"):
        m.a = pyo.Var(
            m.LAYERS, m.COLLOC, m.UNITS, initialize=lambda _, l, c, j: float(a0[l][c, j])
        )

    # offsets of each layer in theta
    offs, pos = [], 0
    for a_, b_ in zip(sizes[:-1], sizes[1:]):
        offs.append(pos)
        pos += (a_ + 1) * b_

    def layer_input(l, c):
        if l == 0:
            node = int(disc.colloc_node[c])
            ins = [m.x[node, i] for i in range(d)]
            if data.node_inputs is not None:
                ins += [float(v) for v in data.node_inputs[node]]
            return ins
        if mode == "z":
            return [act(m.z[l - 1, c, j]) for j in range(sizes[l])]
        if mode == "inline":
            return [act(preact(l - 1, c, j)) for j in range(sizes[l])]
        if mode == "named":
            return [m.hidden[l - 1, c, j] for j in range(sizes[l])]
        return [m.a[l - 1, c, j] for j in range(sizes[l])]

    def preact(l, c, j):
        a_, b_ = sizes[l], sizes[l + 1]
        ins = layer_input(l, c)
        w = [m.theta[offs[l] + k * b_ + j] for k in range(a_)]
        terms = [wk * v for wk, v in zip(w, ins)]
        return sum(terms) + m.theta[offs[l] + a_ * b_ + j]

    if mode in ("za", "z"):
        m.preact_def = pyo.Constraint(
            m.LAYERS,
            m.COLLOC,
            m.UNITS,
            rule=lambda _, l, c, j: m.z[l, c, j] - preact(l, c, j) == 0,
        )
    if mode == "za":
        m.act_def = pyo.Constraint(
            m.LAYERS,
            m.COLLOC,
            m.UNITS,
            rule=lambda _, l, c, j: m.a[l, c, j] - act(m.z[l, c, j]) == 0,
        )
    if mode == "a":
        m.act_def = pyo.Constraint(
            m.LAYERS,
            m.COLLOC,
            m.UNITS,
            rule=lambda _, l, c, j: m.a[l, c, j] - act(preact(l, c, j)) == 0,
        )

    if mode == "named":
        m.hidden = pyo.Expression(m.LAYERS, m.COLLOC, m.UNITS)
        for l in range(L):  # layer by layer: layer l reads m.hidden[l-1]
            for c in range(nc):
                for j in range(sizes[l + 1]):
                    m.hidden[l, c, j] = act(preact(l, c, j))

    lo = offs[-1]
    a_, b_ = sizes[-2], sizes[-1]

    def colloc_rule(_, c, i):
        h = float(disc.colloc_h[c])
        if mode == "z":
            last = [act(m.z[L - 1, c, j]) for j in range(a_)]
        elif mode == "inline":
            last = [act(preact(L - 1, c, j)) for j in range(a_)]
        elif mode == "named":
            last = [m.hidden[L - 1, c, j] for j in range(a_)]
        else:
            last = [m.a[L - 1, c, j] for j in range(a_)]
        if distribute:
            lhs = _row_sum(disc.colloc_idx[c], disc.colloc_w[c], m.x, i)
            return (
                lhs
                + sum((-h * m.theta[lo + j * b_ + i]) * last[j] for j in range(a_))
                - h * m.theta[lo + a_ * b_ + i]
                == 0
            )
        out = sum(m.theta[lo + j * b_ + i] * last[j] for j in range(a_))
        if linexpr:
            lhs = _row_linexpr(
                disc.colloc_idx[c], disc.colloc_w[c], m.x, i, [-h], [m.theta[lo + a_ * b_ + i]]
            )
            return lhs - h * out == 0
        lhs = _row_sum(disc.colloc_idx[c], disc.colloc_w[c], m.x, i)
        return lhs - h * (out + m.theta[lo + a_ * b_ + i]) == 0

    m.collocation = pyo.Constraint(m.COLLOC, m.STATES, rule=colloc_rule)

    if len(disc.cont_node):
        m.CONT = pyo.RangeSet(0, len(disc.cont_node) - 1)
        m.continuity = pyo.Constraint(
            m.CONT,
            m.STATES,
            rule=lambda _, k, i: (
                m.x[int(disc.cont_node[k]), i] - _row_sum(disc.cont_idx[k], disc.cont_w[k], m.x, i)
                == 0
            ),
        )

    n = len(data.targets)
    res = (
        _row_sum(disc.obs_idx[s], disc.obs_w[s], m.x, i) - float(data.targets[s, i])
        for s in range(n)
        for i in range(d)
    )
    m.data_fit = pyo.Expression(expr=sum(r**2 for r in res) / (n * d))
    m.alpha = pyo.Param(initialize=float(data.alpha), mutable=True)
    m.regularization = pyo.Expression(
        expr=m.alpha * sum(m.theta[int(p)] ** 2 for p in np.flatnonzero(data.weight_mask))
    )
    m.rho = pyo.Param(initialize=0.0, mutable=True)
    m.prox_center = pyo.Param(m.PARAMS, initialize=0.0, mutable=True)
    m.proximal = pyo.Expression(
        expr=m.rho / 2 * sum((m.theta[p] - m.prox_center[p]) ** 2 for p in m.PARAMS)
    )
    m.obj = pyo.Objective(expr=m.data_fit + m.regularization + m.proximal)
    return m


BUILDERS = {
    "base": build_model,
    "lift_za": lambda d: build_lifted(d, "za"),
    "lift_a": lambda d: build_lifted(d, "a"),
    "lift_z": lambda d: build_lifted(d, "z"),
    "lift_za_lin": lambda d: build_lifted(d, "za", linexpr=True),
    "inline": lambda d: build_lifted(d, "inline"),
    "named": lambda d: build_lifted(d, "named"),
    "named_dist": lambda d: build_lifted(d, "named", distribute=True),
    "inline_dist": lambda d: build_lifted(d, "inline", distribute=True),
    "lift_z_dist": lambda d: build_lifted(d, "z", distribute=True),
    "lift_za_dist": lambda d: build_lifted(d, "za", distribute=True),
    "lift_a_dist": lambda d: build_lifted(d, "a", distribute=True),
}

# ---------------------------------------------------------------- solving


def run(data, info, te, truth, builder, options, tee=False):
    from pyomo.contrib.pynumero.interfaces.cyipopt_interface import CyIpoptNLP
    from pyomo.contrib.pynumero.interfaces.pyomo_nlp import PyomoNLP

    t0 = time.perf_counter()
    m = BUILDERS[builder](data)
    t1 = time.perf_counter()
    nlp = PyomoNLP(m)
    log = []

    def callback(*args):  # one call per iteration (iteration 0 included)
        log.append(args)
        return True

    problem = CyIpoptNLP(nlp, intermediate_callback=callback)
    t2 = time.perf_counter()
    opts = {"tol": 1e-6, "max_iter": 3000, "print_level": 5 if tee else 0, "sb": "yes"}
    opts.update(options)
    for k, v in opts.items():
        problem.add_option(k, v)
    x, sol = problem.solve(problem.x_init())
    problem.close()
    t3 = time.perf_counter()
    nlp.set_primals(x)
    nlp.load_state_into_pyomo()
    theta = np.array([pyo.value(m.theta[p]) for p in m.PARAMS])
    states = np.array([[pyo.value(m.x[n, i]) for i in m.STATES] for n in m.NODES])
    t4 = time.perf_counter()
    return dict(
        build=t1 - t0,
        nlp=t2 - t1,
        ipopt=t3 - t2,
        load=t4 - t3,
        total=t4 - t0,
        status=sol["status"],
        n_iter=len(log) - 1,
        obj_ipopt=float(sol["obj_val"]),
        n_var=nlp.n_primals(),
        n_con=nlp.n_constraints(),
        nnz_jac=nlp.nnz_jacobian(),
        nnz_hess=nlp.nnz_hessian_lag(),
        theta=theta,
        states=states,
    )


# (builder, options) pairs; name -> spec
MUMPS = {"mumps_permuting_scaling": 0, "mumps_scaling": 0}
VARIANTS = {
    "base": ("base", {}),
    "base_lbfgs": ("base", {"hessian_approximation": "limited-memory"}),
    "base_adaptive": ("base", {"mu_strategy": "adaptive"}),
    "base_noscale": ("base", {"nlp_scaling_method": "none"}),
    "base_pivot_amd": ("base", {"mumps_pivot_order": 0}),
    "base_pivot_amf": ("base", {"mumps_pivot_order": 2}),
    "base_pivot_metis": ("base", {"mumps_pivot_order": 5}),
    "base_pivot_pord": ("base", {"mumps_pivot_order": 4}),
    "base_pivot_qamd": ("base", {"mumps_pivot_order": 6}),
    "base_mumps_noscal": ("base", MUMPS),
    "base_dec0.9": ("base", {"perturb_dec_fact": 0.9}),
    "base_dec0.6": ("base", {"perturb_dec_fact": 0.6}),
    "base_negcurv": ("base", {"neg_curv_test_tol": 1e-12}),
    "base_negcurv_reg": ("base", {"neg_curv_test_tol": 1e-12, "neg_curv_test_reg": "no"}),
    "base_mu_init_1e-3": ("base", {"mu_init": 1e-3}),
    "base_mem": ("base", {"mumps_mem_percent": 100}),
    "named_dist": ("named_dist", {}),
    "inline": ("inline", {}),
    "lift_za": ("lift_za", {}),
    "lift_a": ("lift_a", {}),
    "lift_z": ("lift_z", {}),
    "lift_za_lin": ("lift_za_lin", {}),
    "lift_za_adaptive": ("lift_za", {"mu_strategy": "adaptive"}),
    "lift_za_pivot_amd": ("lift_za", {"mumps_pivot_order": 0}),
    "lift_za_pivot_metis": ("lift_za", {"mumps_pivot_order": 5}),
    "lift_za_pivot_pord": ("lift_za", {"mumps_pivot_order": 4}),
    "lift_za_mumps_noscal": ("lift_za", MUMPS),
    "lift_za_noscale": ("lift_za", {"nlp_scaling_method": "none"}),
}


DEFAULT = [
    "base",
    "base_adaptive",
    "base_mu_init_1e-3",
    "base_pivot_metis",
    "base_mumps_noscal",
    "base_lbfgs",
    "named_dist",
    "lift_z",
    "lift_a",
    "lift_za",
]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--only", default=",".join(DEFAULT), help="comma list, or 'all'")
    p.add_argument("--schemes", default="radau,chebyshev")
    p.add_argument("--tee", action="store_true")
    args = p.parse_args(argv)
    names = [n for n in VARIANTS if args.only == "all" or n in args.only.split(",")]
    if "base" not in names:
        names.insert(0, "base")
    tr, te, truth = reference_case()
    for scheme in args.schemes.split(","):
        data, info = prepare(tr, scheme)
        run(data, info, te, truth, "base", {})  # warm-up (first PyomoNLP/ASL load, imports)
        base_total = None
        for name in names:
            builder, options = VARIANTS[name]
            runs = [
                run(data, info, te, truth, builder, options, args.tee) for _ in range(args.repeats)
            ]
            med = {
                k: statistics.median(r[k] for r in runs)
                for k in ("build", "nlp", "ipopt", "load", "total")
            }
            last = runs[-1]
            obj = objective_value(last["theta"], last["states"], data)
            mse_tr, mse_te = simulation_mse(last["theta"], data, info, te, truth)
            if name == "base":
                base_total = med["total"]
            row = dict(
                scheme=scheme,
                variant=name,
                **{k: round(v, 3) for k, v in med.items()},
                ratio=round(med["total"] / base_total, 3),
                n_iter=last["n_iter"],
                status=last["status"],
                objective=round(obj, 6),
                mse_train=round(mse_tr, 4),
                mse_test=round(mse_te, 4),
                n_var=last["n_var"],
                n_con=last["n_con"],
                nnz_jac=last["nnz_jac"],
                nnz_hess=last["nnz_hess"],
            )
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
