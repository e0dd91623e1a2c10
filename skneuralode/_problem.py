"""The collocation NLP as arrays: its description, its assembly from data, and its numpy
objective and residuals (the one copy that estimators, tests and benchmarks use).

Nothing here knows about Pyomo or IPOPT. Both engines read a :class:`NLPData`: the numpy
engine (``_engines.numpy``) evaluates it directly, ``_pyomo_model.build_model`` turns it
into a Pyomo model. All values are in scaled units (see ``_init.Scaling``).

The NLP, with ``x`` the states at the nodes and ``theta`` the network parameters::

    min   1/N sum_(s,i) observed (O_s x_i - y_si)^2 + alpha ||theta_W||^2 [+ rho/2 ||theta - c||^2]
    s.t.  sum_l D[c, l] x_l - h_c f_theta(x_{node(c)}, u_c) = 0     (collocation)
          x_{start(k)} - sum_l E[k, l] x_l = 0                      (continuity, Legendre)
          mean_n z_{n,k} = 0,  mean_n z_{n,k}^2 = 1                 (latent normalization)

``O_s`` is the row of the collocation polynomial that reproduces sample ``s`` at its own
time; the sum runs over the observed entries only (``N`` of them; missing samples and
latent states have none); the bracketed proximal term exists only in ADMM sub-problems.
The state ``x = (observed, z)`` ends with ``n_latent`` latent components ``z`` whose
origin and scale the last constraints fix (mean over all nodes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.utils import check_random_state

from . import _mlp
from ._collocation import Discretization, build_discretization, collocation_residuals
from ._greybox import GreyBox, make_greybox, network_targets, trace
from ._init import (
    evaluate_smoothers,
    fit_output_layer,
    interpolate_inputs,
    latent_start,
    smooth_trajectory,
)
from ._scaling import Scaling
from ._spec import ProblemSpec


@dataclass
class NLPData:
    """Everything either engine needs, as arrays and plain values."""

    disc: Discretization
    targets: np.ndarray  # (n_samples, d) scaled observations
    node_inputs: np.ndarray | None  # (n_nodes, m) scaled exogenous inputs at nodes
    sizes: list[int]
    activation: str
    alpha: float
    weight_mask: np.ndarray  # (n_params,) True where alpha applies
    theta0: np.ndarray
    states0: np.ndarray  # (n_nodes, d)
    state_bound: float | None = None
    #: per-state (lower, upper) arrays in scaled units from ``state_bounds`` (+-inf: none)
    state_box: tuple | None = None
    weight_bound: float | None = None
    proximal: bool = False  # ADMM sub-problem: the objective has a proximal term
    #: (n_samples, n_states) 1.0 where ``targets`` is observed, 0.0 where it is missing
    #: or latent; None: every entry observed
    obs_weight: np.ndarray | None = None
    n_latent: int = 0  # the last n_latent state components have no observations
    #: (n_latent,) True for a latent state in user units (read by the physics), which the
    #: latent normalization leaves out; None: all latent states are normalized
    physical_latent: np.ndarray | None = None
    normalize_latent: bool = True  # impose the latent normalization constraints
    fixed_theta: bool = False  # the network is fixed at theta0; only the states are free
    #: how the numpy engine regularizes the Hessian: "ipopt" (IPOPT's own inertia
    #: correction, every iteration from zero) or "adaptive" (it carries over; see
    #: ``_engines.numpy.SHIFT_DECREASE``). Not part of the NLP; the pyomo engine ignores it.
    hessian_regularization: str = "ipopt"
    #: known physics (``_greybox``): the rates are ``F(x, p, g_theta)``, ``theta0`` ends
    #: with the scaled physical parameters. None: the network alone (``sizes[-1]`` states)
    physics: GreyBox | None = None
    param_alpha: float = 0.0  # L2 penalty on the scaled physical parameters

    @property
    def n_states(self) -> int:
        return self.sizes[-1] if self.physics is None else self.physics.n_states

    def state_limits(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-state (lower, upper) bounds, scaled units: ``state_bound`` and
        ``state_bounds`` together (+-inf where there is none)."""
        sb = np.inf if self.state_bound is None else self.state_bound
        lo, hi = np.full(self.n_states, -sb), np.full(self.n_states, sb)
        if self.state_box is not None:
            lo, hi = np.maximum(lo, self.state_box[0]), np.minimum(hi, self.state_box[1])
        return lo, hi

    @property
    def n_network_params(self) -> int:
        """Length of the network's part of ``theta`` (the rest: physical parameters)."""
        return _mlp.Layout(self.sizes).n_params

    def split_theta(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``theta`` -> (network parameters, scaled physical parameters)."""
        n = self.n_network_params
        return theta[:n], theta[n:]

    @property
    def n_observed(self) -> int:
        """Number of observed entries, the ``N`` of the objective."""
        if self.obs_weight is None:
            return self.targets.size
        return int(np.count_nonzero(self.obs_weight))

    @property
    def n_normalization(self) -> int:
        """Latent normalization constraints (two per latent state, or none)."""
        return 2 * len(self.normalized_latent) if self.normalize_latent else 0

    @property
    def normalized_latent(self) -> np.ndarray:
        """State indices of the latent states the normalization applies to."""
        cols = np.arange(self.n_states - self.n_latent, self.n_states)
        return cols if self.physical_latent is None else cols[~self.physical_latent]

    def colloc_inputs(self, states: np.ndarray) -> np.ndarray:
        """Network inputs ``(x, u)`` at every collocation point, (n_colloc, n_in)."""
        inputs = states[self.disc.colloc_node]
        if self.node_inputs is not None:
            inputs = np.hstack([inputs, self.node_inputs[self.disc.colloc_node]])
        return inputs if self.physics is None else self.physics.select_inputs(inputs)


def build_problem(
    t: np.ndarray,
    X: np.ndarray,
    u: np.ndarray | None,
    groups: list[np.ndarray],
    scaling: Scaling,
    spec: ProblemSpec,
    *,
    smoothers: list | None = None,
    theta0: np.ndarray | None = None,
    states0: np.ndarray | None = None,
    normalize_latent: bool = True,
    fixed_theta: bool = False,
    physics: GreyBox | None = None,
) -> NLPData:
    """Discretize validated data in ``scaling`` and choose the initial point.

    ``spec`` fixes the discretization, the network and the start (``_spec.ProblemSpec``).
    ``X`` holds the observed states (NaN: not observed); the NLP's state has
    ``spec.n_latent`` more components with no observations (``_init.latent_start`` gives
    their start).
    ``smoothers`` are the per-trajectory smoothed (scaled) states when the caller has
    them already (``_init.fit_scaling``), so the data are smoothed once per fit.
    ``theta0``/``states0`` (scaled, all components) replace the initial weights/states,
    e.g. for a warm start; otherwise the weights are drawn (``spec.init``) and the states
    are the smoothed data. The initial point is clipped into the state and weight bounds,
    so both engines start from the same feasible point. ``normalize_latent=False`` leaves
    out the latent normalization (ADMM imposes it in one batch only). ``fixed_theta``: the
    network is fixed at ``theta0`` (e.g. to estimate initial states with a fitted model).
    With ``spec.physics``, the physics is traced and checked here (``_greybox``), unless
    ``physics`` gives the ``GreyBox`` to use (a fitted model's); ``theta0`` then ends with
    the scaled physical parameters.
    """
    Xs = scaling.states(X)
    disc = build_discretization(
        t / scaling.t_scale, groups, spec.scheme, spec.degree, spec.n_elements
    )
    node_t = disc.node_times * scaling.t_scale
    if smoothers is None:
        smoothers = [smooth_trajectory(t[g], Xs[g], spec.smoothing) for g in groups]
    smoothed = evaluate_smoothers(smoothers, node_t, disc.node_trajectory)
    if spec.n_latent:
        latent = latent_start(smoothers, node_t, disc.node_trajectory, spec.n_latent)
        physical = scaling.physical_latent
        if physical.any():  # a constant start in user units, scaled (+-1 or 0)
            start = scaling.latent_start / scaling.scale[-spec.n_latent :]
            latent[:, physical] = start[physical]
        smoothed = np.hstack([smoothed, latent])
    if states0 is None or states0.shape != smoothed.shape:
        states0 = smoothed
    states0 = _into_bounds(states0, spec.state_bound)
    box = _state_box(spec.state_bounds, X.shape[1] + spec.n_latent, scaling)
    if box is not None:  # inside, by IPOPT's bound push, so the physics is defined there
        lo, hi = box
        push = np.minimum(1e-2 * np.maximum(1.0, np.abs(np.where(np.isfinite(lo), lo, hi))),
                          0.5 * (hi - lo))  # fmt: skip
        # no push at an infinite bound (it is inf there: -inf + inf would warn)
        states0 = np.clip(states0, lo + np.where(np.isfinite(lo), push, 0.0),
                          hi - np.where(np.isfinite(hi), push, 0.0))  # fmt: skip
    node_u = None
    if u is not None:
        node_u = interpolate_inputs(
            t, scaling.inputs(u), groups, disc, node_t, spec.u_interpolation
        )
    n_inputs = 0 if u is None else u.shape[1]
    d = X.shape[1] + spec.n_latent
    greybox = physics
    if spec.physics is None and spec.network_inputs is not None and physics is None:
        raise ValueError(
            "`network_inputs` chooses what the network reads of known physics (physics=...); "
            "without physics the network reads every state and input. Leave "
            "network_inputs=None."
        )
    if greybox is None and spec.physics is not None:
        greybox = make_greybox(spec, trace(spec, d, n_inputs), scaling)
    n_outputs = d if greybox is None else greybox.n_network
    n_read = d + n_inputs if greybox is None else greybox.network_input_count(n_inputs)
    sizes = _mlp.layer_sizes(n_read, n_outputs, spec.width, spec.depth)
    if not n_outputs:  # physics alone: no network
        sizes = sizes[:1]
    weight_mask = _mlp.weight_mask(sizes)
    if greybox is not None:
        weight_mask = np.concatenate([weight_mask, np.zeros(greybox.n_free, dtype=bool)])
    observed = np.hstack([np.isfinite(Xs), np.zeros((len(Xs), spec.n_latent), dtype=bool)])
    targets = np.zeros(observed.shape)
    targets[:, : X.shape[1]] = np.where(observed[:, : X.shape[1]], Xs, 0.0)
    data = NLPData(
        disc=disc,
        targets=targets,
        node_inputs=node_u,
        sizes=sizes,
        activation=spec.activation,
        alpha=spec.alpha,
        weight_mask=weight_mask,
        theta0=theta0,
        states0=states0,
        state_bound=spec.state_bound,
        state_box=box,
        weight_bound=spec.weight_bound,
        obs_weight=None if observed.all() else observed.astype(float),
        n_latent=spec.n_latent,
        physical_latent=scaling.physical_latent if scaling.physical_latent.any() else None,
        normalize_latent=normalize_latent and not fixed_theta,
        fixed_theta=fixed_theta,
        hessian_regularization=spec.hessian_regularization,
        physics=greybox,
        param_alpha=float(spec.physics_alpha),
    )
    if greybox is not None and data.physical_latent is not None and not fixed_theta:
        if states0 is smoothed:  # no warm start: the physical latent states follow the physics
            data.states0 = _physics_latent_start(data, greybox)
    if theta0 is None:
        data.theta0 = _initial_weights(data, spec, smoothers, node_t, scaling.t_scale)
        if greybox is not None:
            data.theta0 = np.concatenate([data.theta0, greybox.scaled_params()])
    net, ps = data.split_theta(data.theta0)
    data.theta0 = np.concatenate([_into_bounds(net, spec.weight_bound), ps])
    if greybox is not None:
        data.theta0[len(net) :] = np.clip(ps, greybox.lower, greybox.upper)
        _check_physics_start(data)
    return data


def _physics_latent_start(data: NLPData, greybox: GreyBox) -> np.ndarray:
    """The start of the latent states the physics reads: from ``latent_start`` at each
    trajectory's first node, the physics integrated along the nodes (one RK4 step per
    interval) with the other states at their start, the inputs held and the network's
    outputs at zero. A trajectory whose integration leaves the physics' domain keeps the
    constant start."""
    states = data.states0.copy()
    cols = np.flatnonzero(
        np.r_[np.zeros(data.n_states - data.n_latent, bool), data.physical_latent]
    )
    mean, scale = greybox.mean, greybox.scale
    rest = [*greybox.user_params(greybox.scaled_params()), *np.zeros(greybox.n_network)]
    value_at = greybox.physics.value_at
    rate_unit = (greybox.t_scale / scale)[cols]

    def rate(x, u, z):  # d z / d tau of the physical latent states, scaled units
        x = x.copy()
        x[cols] = z
        return np.array(value_at([*(mean + scale * x), *u, *rest]))[cols] * rate_unit

    disc = data.disc
    for k in range(len(disc.initial_nodes)):
        nodes = np.flatnonzero(disc.node_trajectory == k)
        times, first, back = np.unique(disc.node_times[nodes], return_index=True,
                                       return_inverse=True)  # fmt: skip
        chain = nodes[first]
        path = states[chain].copy()
        with np.errstate(all="ignore"):
            for n in range(1, len(chain)):
                u = []
                if data.node_inputs is not None:  # a node holds the input of its interval
                    u = greybox.u_mean + greybox.u_scale * data.node_inputs[chain[n]]
                x0, x1, z = path[n - 1], states[chain[n]], path[n - 1, cols]
                h, mid = times[n] - times[n - 1], 0.5 * (path[n - 1] + states[chain[n]])
                k1 = rate(x0, u, z)
                k2 = rate(mid, u, z + 0.5 * h * k1)
                k3 = rate(mid, u, z + 0.5 * h * k2)
                k4 = rate(x1, u, z + h * k3)
                path[n, cols] = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if np.all(np.isfinite(path[:, cols])) and np.abs(path[:, cols]).max() < 1e3:
            states[nodes[:, None], cols[None, :]] = path[back][:, cols]
    return states


def _state_box(bounds, n_states: int, scaling: Scaling):
    """``state_bounds`` ({"x[i]": (lower, upper)}, user units) as scaled (lower, upper)
    arrays, or None."""
    if bounds is None:
        return None
    names = [f"x[{i}]" for i in range(n_states)]
    lo, hi = np.full(n_states, -np.inf), np.full(n_states, np.inf)
    for name, pair in bounds.items():
        key = name.replace(" ", "") if isinstance(name, str) else name
        if key not in names:
            raise ValueError(
                f"`state_bounds` names {name!r}; the states are {', '.join(names)} (observed, "
                "then latent)."
            )
        try:
            low, high = pair
            low = -np.inf if low is None else float(low)
            high = np.inf if high is None else float(high)
        except (TypeError, ValueError):
            raise ValueError(
                f"`state_bounds[{name!r}]` must be a pair (lower, upper) of numbers, None for "
                f"no bound; got {pair!r}."
            ) from None
        if np.isnan(low) or np.isnan(high) or not low < high:
            raise ValueError(f"`state_bounds[{name!r}]` = {pair!r} is not an interval.")
        i = names.index(key)
        mean, scale = scaling.mean[i], scaling.scale[i]
        lo[i], hi[i] = (low - mean) / scale, (high - mean) / scale
    return lo, hi


def _check_physics_start(data: NLPData) -> None:
    """A clear error, before IPOPT starts, where the physics is not finite at the start."""
    net, ps = data.split_theta(data.theta0)
    states = data.states0[data.disc.colloc_node]
    U = None if data.node_inputs is None else data.node_inputs[data.disc.colloc_node]
    G = network_outputs(data, net, data.states0)
    data.physics.check_finite(states, U, ps, G)


def _initial_weights(data: NLPData, spec: ProblemSpec, smoothers, node_t, t_scale) -> np.ndarray:
    """Glorot-random weights (``spec.random_state``); with ``spec.init == "lstsq"`` the
    output layer then fitted to the smoothed data's rates at the collocation points."""
    theta = _mlp.init_parameters(data.sizes, check_random_state(spec.random_state))
    if spec.init != "lstsq" or not len(theta):
        return theta
    disc = data.disc
    rates = evaluate_smoothers(smoothers, node_t, disc.node_trajectory, True)
    if spec.n_latent:  # finite differences of the latent start along each chain
        latent = data.states0[:, -spec.n_latent :]
        rates = np.hstack([rates, _chain_rates(disc, latent, node_t)])
    target = rates[disc.colloc_node] * t_scale
    inputs = data.colloc_inputs(data.states0)
    if data.physics is not None:  # the network's share of the rates, to first order
        states = data.states0[disc.colloc_node]
        U = None if data.node_inputs is None else data.node_inputs[disc.colloc_node]
        target = network_targets(data.physics, states, U, data.physics.scaled_params(), target)
    return fit_output_layer(theta, data.sizes, spec.activation, inputs, target)


def _chain_rates(disc: Discretization, values: np.ndarray, node_t: np.ndarray) -> np.ndarray:
    """d values / dt at the nodes by finite differences along each trajectory's nodes
    (nodes at a repeated time, Legendre element ends, share the value of the first)."""
    out = np.zeros_like(values)
    for k in range(len(disc.initial_nodes)):
        nodes = np.flatnonzero(disc.node_trajectory == k)
        times, first, back = np.unique(node_t[nodes], return_index=True, return_inverse=True)
        if len(times) > 1:
            out[nodes] = np.gradient(values[nodes[first]], times, axis=0)[back]
    return out


def _into_bounds(values: np.ndarray, bound: float | None) -> np.ndarray:
    """``values`` clipped into ``[-bound, bound]`` (a copy), or as they are without a bound."""
    return values if bound is None else np.clip(values, -bound, bound)


# ------------------------------------------------------------ numpy evaluation


def observation_residuals(data: NLPData, states: np.ndarray) -> np.ndarray:
    """Collocation polynomial at the sample times minus the data, (n_samples, d), scaled;
    zero where nothing is observed (missing samples, latent states)."""
    disc = data.disc
    residuals = disc.apply(disc.obs_idx, disc.obs_w, states) - data.targets
    return residuals if data.obs_weight is None else residuals * data.obs_weight


def data_misfit(data: NLPData, states: np.ndarray) -> float:
    """Mean squared (scaled) misfit over the observed entries, the objective's data term."""
    return float(np.sum(observation_residuals(data, states) ** 2)) / data.n_observed


def penalty(data: NLPData, theta: np.ndarray) -> float:
    """``alpha ||W||^2`` over the weights (biases are not penalized), plus
    ``param_alpha ||p_s||^2`` over the scaled physical parameters."""
    value = data.alpha * float(np.sum(theta[data.weight_mask] ** 2))
    if data.physics is not None and data.param_alpha:
        value += data.param_alpha * float(np.sum(data.split_theta(theta)[1] ** 2))
    return value


def objective(data: NLPData, theta: np.ndarray, states: np.ndarray) -> float:
    """The training objective without any proximal term: misfit + penalty."""
    return data_misfit(data, states) + penalty(data, theta)


def network_outputs(data: NLPData, theta: np.ndarray, states: np.ndarray) -> np.ndarray:
    """The network's outputs at every collocation point, (n_colloc, n_outputs), scaled
    (``theta`` the network's parameters alone)."""
    if len(data.sizes) == 1:  # physics alone
        return np.zeros((len(data.disc.colloc_node), 0))
    coefs, intercepts = _mlp.unpack(theta, data.sizes)
    return _mlp.forward(coefs, intercepts, data.colloc_inputs(states), data.activation)


def network_rates(data: NLPData, theta: np.ndarray, states: np.ndarray) -> np.ndarray:
    """The rates ``f_theta(x, u)`` (with physics: ``F(x, p, g_theta)``) at every
    collocation point, (n_colloc, d), scaled."""
    if data.physics is None:
        return network_outputs(data, theta, states)
    net, ps = data.split_theta(theta)
    nodes = states[data.disc.colloc_node]
    U = None if data.node_inputs is None else data.node_inputs[data.disc.colloc_node]
    return data.physics.rates(nodes, U, ps, network_outputs(data, net, states))


def constraint_residuals(data: NLPData, theta: np.ndarray, states: np.ndarray):
    """(collocation residuals (n_colloc, d), continuity residuals (n_cont, d))."""
    return collocation_residuals(data.disc, states, network_rates(data, theta, states))


def latent_residuals(data: NLPData, states: np.ndarray) -> np.ndarray:
    """Residuals of the latent normalization, ``(mean z_k, mean z_k^2 - 1)`` for each
    latent state ``k`` over all nodes, flat (2 n_latent,); empty when not imposed."""
    if not data.n_normalization:
        return np.zeros(0)
    z = states[:, data.normalized_latent]
    return np.column_stack([z.mean(axis=0), np.mean(z**2, axis=0) - 1.0]).ravel()


def constraint_violation(data: NLPData, theta: np.ndarray, states: np.ndarray) -> float:
    """Largest |residual| of the collocation, continuity and latent normalization
    equations (scaled units)."""
    colloc, cont = constraint_residuals(data, theta, states)
    latent = latent_residuals(data, states)
    return float(
        max(np.abs(colloc).max(), np.abs(cont).max(initial=0.0), np.abs(latent).max(initial=0.0))
    )
