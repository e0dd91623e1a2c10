"""Known physics in the NLP's scaled units: the grey-box right-hand side and its vector field.

A grey-box model (``physics`` of the estimators) has the right-hand side, in user units,

    dx/dt = f(x, u, p, nn),   nn = kappa * g_theta(x_s, u_s)

with ``f`` the user's physics function (traced once, ``_physics.Physics``), ``p`` the
physical parameters and ``g_theta`` the network acting on scaled states and inputs as in
the black-box model; ``kappa`` (``nn_unit``) gives each network output the unit of the
rates it enters, so that ``g`` is O(1) like the black-box network's output. In the NLP's
scaled units (``x = mean + scale * x_s``, ``t = t_scale * tau``, ``p = param_scale * p_s``
for the fitted parameters) the collocation equations use

    F(x_s, p_s, g) = (t_scale / scale) * f(mean + scale x_s, u, p(p_s), kappa g).

:class:`GreyBox` evaluates ``F`` with its first and second derivatives over the local
variables ``z = (x_s, p_s, g)`` of one collocation point, dense per point (a handful of
entries); the numpy engine chains them with the network's derivatives
(``_engines.numpy.GreyBoxNLP``). :class:`GreyBoxField` is the same right-hand side in user
units for ``predict``. :func:`make_greybox` checks the estimator's physics parameters and
builds a :class:`GreyBox`. Everything here pickles (arrays, numbers and the traced
``Physics``, which keeps its expressions as strings).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

import numpy as np

from ._mlp import forward, input_jacobian
from ._physics import Physics, trace_physics
from ._simulate import VectorField
from ._validation import check_function_pickles

#: Network outputs a physics function is traced with to find how many it reads.
MAX_NETWORK = 64


@dataclass(frozen=True, eq=False)
class GreyBox:
    """The grey-box right-hand side ``F`` in scaled units (module docstring).

    ``values`` holds every physical parameter in user units (the fixed ones at their
    value, the fitted ones at their initial value); ``free`` the positions of the fitted
    ones in ``physics.param_names``, whose scaled values ``p_s`` are NLP variables with
    ``user = param_scale * p_s`` and scaled bounds ``lower``/``upper`` (+-inf: none).
    """

    physics: Physics
    values: np.ndarray
    free: np.ndarray
    param_scale: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    nn_unit: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    t_scale: float
    u_mean: np.ndarray | None = None
    u_scale: np.ndarray | None = None
    #: the network's inputs: sorted positions in ``(x_s, u_s)``; None: all of them
    input_columns: np.ndarray | None = None

    @property
    def n_states(self) -> int:
        return self.physics.n_states

    @property
    def n_network(self) -> int:
        return self.physics.n_network

    def network_input_count(self, n_inputs: int) -> int:
        """How many inputs the network reads (of ``n_states + n_inputs``)."""
        if self.input_columns is None:
            return self.n_states + n_inputs
        return len(self.input_columns)

    def select_inputs(self, Z: np.ndarray) -> np.ndarray:
        """The network's inputs of ``Z = (x_s, u_s)`` rows."""
        return Z if self.input_columns is None else Z[..., self.input_columns]

    def state_inputs(self) -> np.ndarray:
        """The states the network reads, in the order of its first inputs."""
        if self.input_columns is None:
            return np.arange(self.n_states)
        return self.input_columns[self.input_columns < self.n_states]

    @property
    def n_free(self) -> int:
        return len(self.free)

    @property
    def n_local(self) -> int:
        """Length of ``z = (x_s, p_s, g)``."""
        return self.n_states + self.n_free + self.n_network

    # ------------------------------------------------------------ parameters
    def user_params(self, ps: np.ndarray) -> np.ndarray:
        """Every physical parameter in user units, the fitted ones from ``p_s``."""
        values = self.values.copy()
        values[self.free] = self.param_scale * np.asarray(ps, dtype=float)
        return values

    def scaled_params(self) -> np.ndarray:
        """``p_s`` of the initial (or stored) values."""
        return self.values[self.free] / self.param_scale

    def params_dict(self, ps: np.ndarray) -> dict:
        """``{name: value}`` in user units."""
        return dict(zip(self.physics.param_names, self.user_params(ps).tolist()))

    # ------------------------------------------------------------ the local map
    def _user(self, Xs, Us, G):
        X = self.mean + self.scale * Xs
        U = None if Us is None else self.u_mean + self.u_scale * Us
        NN = None if not self.n_network else self.nn_unit * G
        return X, U, NN

    def _local_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """Positions in ``w = (x, u, p, nn)`` of the entries of ``z`` and d w / d z."""
        groups = self.physics.groups
        cols = np.concatenate(
            [
                np.arange(groups["x"].start, groups["x"].stop),
                groups["p"].start + self.free,
                np.arange(groups["nn"].start, groups["nn"].stop),
            ]
        ).astype(np.intp)
        factor = np.concatenate([self.scale, self.param_scale, self.nn_unit])
        return cols, factor

    def rates(self, Xs, Us, ps, G) -> np.ndarray:
        """``F`` at every point, (n, n_states)."""
        X, U, NN = self._user(Xs, Us, G)
        f = self.physics.value(X, U, self.user_params(ps), NN)
        return f * (self.t_scale / self.scale)

    def jacobian(self, Xs, Us, ps, G) -> np.ndarray:
        """``dF/dz`` at every point, (n, n_states, n_local)."""
        X, U, NN = self._user(Xs, Us, G)
        J = self.physics.jacobian(X, U, self.user_params(ps), NN)
        cols, factor = self._local_columns()
        return J[:, :, cols] * factor * (self.t_scale / self.scale)[:, None]

    def hessian(self, Xs, Us, ps, G, V) -> np.ndarray:
        """Hessian of ``sum_i V_i F_i`` over ``z`` at every point, (n, n_local, n_local)."""
        X, U, NN = self._user(Xs, Us, G)
        H = self.physics.hessian(X, U, self.user_params(ps), NN, V * (self.t_scale / self.scale))
        cols, factor = self._local_columns()
        return H[:, cols[:, None], cols[None, :]] * factor[:, None] * factor[None, :]

    def local_hessian_pattern(self) -> np.ndarray:
        """Boolean (n_local, n_local): where :meth:`hessian` can be nonzero."""
        rows, cols = self.physics.hessian_structure
        full = np.zeros((self.physics.n_w, self.physics.n_w), dtype=bool)
        full[rows, cols] = full[cols, rows] = True
        local, _ = self._local_columns()
        return full[local[:, None], local[None, :]]

    def local_jacobian_pattern(self) -> np.ndarray:
        """Boolean (n_states, n_local): where :meth:`jacobian` can be nonzero."""
        rows, cols = self.physics.jacobian_structure
        full = np.zeros((self.n_states, self.physics.n_w), dtype=bool)
        full[rows, cols] = True
        local, _ = self._local_columns()
        return full[:, local]

    def check_finite(self, Xs, Us, ps, G) -> None:
        """A clear error where the physics or its slope is not finite (user units)."""
        X, U, NN = self._user(Xs, Us, G)
        self.physics.check_finite(X, U, self.user_params(ps), NN)


@dataclass
class GreyBoxField(VectorField):
    """``dx/dt`` in user units of a fitted grey-box model: a ``VectorField`` (the scaling
    and the network's inputs) whose rates are the physics' (:meth:`from_greybox`)."""

    greybox: GreyBox | None = None
    params: np.ndarray | None = None  # every physical parameter, user units

    @classmethod
    def from_greybox(cls, greybox: GreyBox, coefs, intercepts, activation: str, params):
        return cls(coefs, intercepts, activation, greybox.mean, greybox.scale,
                   greybox.t_scale, greybox.u_mean, greybox.u_scale, greybox, params)  # fmt: skip

    def _inputs(self, x, u):
        return self.greybox.select_inputs(super()._inputs(x, u))

    def _network(self, x, u):
        if not self.greybox.n_network:
            return None
        g = forward(self.coefs, self.intercepts, self._inputs(x, u), self.activation)
        return g * self.greybox.nn_unit

    def __call__(self, x: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        x = np.atleast_2d(x)
        u = None if u is None else np.atleast_2d(u)
        return self.greybox.physics.value(x, u, self.params, self._network(x, u))

    def jacobian(self, x: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """d f / d x for one state vector (d,) -> (d, d)."""
        x2 = np.atleast_2d(x)
        u2 = None if u is None else np.atleast_2d(u)
        physics, d = self.greybox.physics, len(x)
        J = physics.jacobian(x2, u2, self.params, self._network(x2, u2))[0]
        groups = physics.groups
        out = J[:, groups["x"]]
        if self.greybox.n_network:
            Jg = input_jacobian(self.coefs, self.intercepts, self._inputs(x, u), self.activation)
            read = self.greybox.state_inputs()
            dnn_dx = np.zeros((self.greybox.n_network, d))
            dnn_dx[:, read] = Jg[:, : len(read)] * self.greybox.nn_unit[:, None]
            out = out + J[:, groups["nn"]] @ (dnn_dx / self.x_scale[None, :])
        return out

    def scaled_rates(self, z: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """``dz/dtau`` in scaled units: the physics' rates (user units) rescaled."""
        return self(z * self.x_scale + self.x_mean, u) * self.t_scale / self.x_scale

    def scaled_jacobian(self, z: np.ndarray, u: np.ndarray | None = None) -> np.ndarray:
        """d (dz/dtau) / d z for one scaled state vector (d,) -> (d, d)."""
        J = self.jacobian(z * self.x_scale + self.x_mean, u)
        return J * (self.x_scale[None, :] / self.x_scale[:, None]) * self.t_scale


# ----------------------------------------------------------------- pickling
def check_physics_pickles(func) -> None:
    """A clear ``pickle.PicklingError`` for a ``physics`` function pickle cannot store."""
    check_function_pickles(
        func,
        "physics function",
        "Define it with def at the top level of a module that the loading side can import, "
        "or set model.physics = None before pickling: the fitted model keeps its traced "
        "physics (greybox_) and predicts without it, but cannot be refitted.",
    )


# ----------------------------------------------------------------- building
def trace(spec, n_states: int, n_inputs: int) -> Physics:
    """``spec.physics`` traced once, with as many network outputs as it reads (the largest
    ``nn`` index used, plus 1); ``spec.physics_params`` checked for their form. Raises a
    ValueError or TypeError naming the argument for anything that does not fit."""
    func = spec.physics
    if not callable(func):
        raise TypeError(
            f"`physics` must be a function physics(x, u, p, nn) returning dx/dt; got {func!r}."
        )
    params = spec.physics_params
    if params is None:
        params = {}
    if not isinstance(params, Mapping):
        raise TypeError(
            "`physics_params` must be a dict {name: initial value} of the physical "
            f"parameters; got {type(params).__name__}."
        )
    for name, value in params.items():
        if not isinstance(name, str):
            raise TypeError(f"`physics_params` keys must be parameter names; got {name!r}.")
        if not isinstance(value, Real) or isinstance(value, bool) or not np.isfinite(value):
            raise ValueError(
                f"`physics_params[{name!r}]` must be a finite number (its initial value); "
                f"got {value!r}."
            )
    names = tuple(params)
    try:
        probe = trace_physics(func, n_states, n_inputs, names, MAX_NETWORK)
    except ValueError as exc:  # say what the estimator's sizes are, not the probe's
        message = str(exc).replace(
            f"n_network={MAX_NETWORK}",
            "any number of network outputs (the model's states: the columns of X, then "
            "n_latent latent ones; its inputs: the columns of u)",
        )
        raise ValueError(message) from exc.__cause__
    used = set().union(*(e.free_symbols for e in probe.expressions))
    nn = probe.symbols[probe.groups["nn"]]
    indices = [k for k, s in enumerate(nn) if s in used]
    n_network = max(indices) + 1 if indices else 0
    # the same expressions (they name only the nn symbols they read), the exact size
    return Physics(probe.name, n_states, n_inputs, names, n_network, probe.rates)


def prepare(spec, n_observed: int, n_inputs: int) -> tuple[Physics | None, np.ndarray | None]:
    """What a fit needs of its physics before the scaling: the traced physics (None
    without) and ``Scaling.latent_start`` (:func:`latent_start_values`). Traced once per
    fit; :func:`make_greybox` then gives the ``GreyBox`` in the fit's units."""
    physics = None
    if spec.physics is not None:
        physics = trace(spec, n_observed + spec.n_latent, n_inputs)
    return physics, latent_start_values(spec, physics, n_observed)


def param_scale(values: np.ndarray) -> np.ndarray:
    """The unit of each fitted physical parameter: its initial magnitude (1 if it is 0)."""
    scale = np.abs(np.asarray(values, dtype=float))
    return np.where(scale > 0, scale, 1.0)


def make_greybox(spec, physics: Physics, scaling) -> GreyBox:
    """The ``GreyBox`` of the traced ``physics`` (:func:`trace`), with
    ``spec.physics_params``/``_bounds``/``_fixed``/``network_inputs`` checked against it;
    ``scaling`` (``_scaling.Scaling``) gives the units."""
    names, params = physics.param_names, spec.physics_params or {}
    n_states, n_inputs, n_network = physics.n_states, physics.n_inputs, physics.n_network
    used = set().union(*(e.free_symbols for e in physics.expressions))
    p_symbols = physics.symbols[physics.groups["p"]]
    unused = [n for n, s in zip(names, p_symbols) if s not in used]
    if unused:
        raise ValueError(
            f"`physics_params` names {unused[0]!r}, which the physics function "
            f"{physics.name!r} does not use; remove it or fix the spelling."
        )
    fixed = _check_fixed(spec.physics_fixed, names)
    values = np.array([float(params[n]) for n in names])
    free = np.array([k for k, n in enumerate(names) if n not in fixed], dtype=np.intp)
    lower, upper = _check_bounds(spec.physics_bounds, names, fixed, values)
    scale = param_scale(values[free])
    return GreyBox(
        physics=physics,
        values=values,
        free=free,
        param_scale=scale,
        lower=lower[free] / scale,
        upper=upper[free] / scale,
        nn_unit=_network_units(physics, scaling),
        mean=scaling.mean,
        scale=scaling.scale,
        t_scale=float(scaling.t_scale),
        u_mean=scaling.u_mean,
        u_scale=scaling.u_scale,
        input_columns=_input_columns(spec.network_inputs, n_states, n_inputs, n_network),
    )


def _input_columns(names, n_states: int, n_inputs: int, n_network: int) -> np.ndarray | None:
    """``network_inputs`` (``["x[0]", "u[0]"]``) as sorted positions in ``(x, u)``."""
    if names is None:
        return None
    if isinstance(names, str):
        raise TypeError(
            f"`network_inputs` must be a list of names such as ['x[0]', 'u[0]']; got the "
            f"string {names!r}. Write [{names!r}] for one."
        )
    if not n_network:
        raise ValueError(
            "`network_inputs` chooses what the network reads, but the physics function "
            "reads no network output (nn): leave network_inputs=None."
        )
    known = [f"x[{i}]" for i in range(n_states)] + [f"u[{j}]" for j in range(n_inputs)]
    columns = []
    for name in names:
        key = name.replace(" ", "") if isinstance(name, str) else name
        if key not in known:
            raise ValueError(
                f"`network_inputs` names {name!r}; the network can read {', '.join(known)} "
                "(the states x[i], latent ones included, then the inputs u[j])."
            )
        columns.append(known.index(key))
    if not columns:
        raise ValueError("`network_inputs` is empty: the network needs one input.")
    if len(set(columns)) != len(columns):
        raise ValueError(f"`network_inputs` names an input twice: {list(names)!r}.")
    return np.array(sorted(columns), dtype=np.intp)


def latent_start_values(spec, physics: Physics | None, n_observed: int) -> np.ndarray | None:
    """``Scaling.latent_start`` from ``spec.latent_start``: the user-unit start of each
    latent state the traced ``physics`` reads, NaN for the others (normalized latent
    states); None when it reads no latent state. Raises a ValueError naming what is
    missing."""
    given, n_latent = spec.latent_start, spec.n_latent
    if spec.physics is None or not n_latent:
        if given is not None:
            raise ValueError(
                "`latent_start` gives the start of latent states that known physics reads "
                f"(physics=..., n_latent > 0); with physics={spec.physics!r} and "
                f"n_latent={n_latent} there is none. Leave latent_start=None."
            )
        return None
    n_states = n_observed + n_latent
    used = set().union(*(e.free_symbols for e in physics.expressions))
    x = physics.symbols[physics.groups["x"]]
    physical = np.array([x[j] in used for j in range(n_observed, n_states)])
    values = np.full(n_latent, np.nan)
    if given is not None:
        try:
            raw = [np.nan if v is None else float(v) for v in np.ravel(np.asarray(given, object))]
        except (TypeError, ValueError):
            raw = None
        if raw is None or len(raw) != n_latent or any(np.isinf(raw)):
            raise ValueError(
                f"`latent_start` must hold {n_latent} number(s), one per latent state (None "
                f"or NaN for a latent state the physics does not read); got {given!r}."
            )
        values[:] = raw
    for k in range(n_latent):
        j = n_observed + k
        if physical[k] and not np.isfinite(values[k]):
            raise ValueError(
                f"the physics function {physics.name!r} reads the latent state x[{j}], so "
                "that state has user units and needs a start value: give it with "
                f"latent_start (length {n_latent}, e.g. a typical level), None for latent "
                "states the physics does not read."
            )
        if not physical[k] and np.isfinite(values[k]):
            raise ValueError(
                f"latent_start[{k}] = {float(values[k])!r} is given for the latent state x[{j}], "
                f"which the physics function {physics.name!r} does not read: such a latent "
                "state is normalized (mean 0, mean square 1) and starts from the data. Use "
                "None for it."
            )
    return values if physical.any() else None


def _check_fixed(fixed, names) -> set:
    if fixed is None:
        return set()
    if isinstance(fixed, str):
        raise TypeError(
            f"`physics_fixed` must be a list of parameter names; got the string {fixed!r}. "
            f"Write [{fixed!r}] for one parameter."
        )
    fixed = list(fixed)
    for name in fixed:
        if name not in names:
            raise ValueError(
                f"`physics_fixed` names {name!r}, which is not in `physics_params` "
                f"({', '.join(map(repr, names)) or 'empty'})."
            )
    return set(fixed)


def _check_bounds(bounds, names, fixed, values) -> tuple[np.ndarray, np.ndarray]:
    lower, upper = np.full(len(names), -np.inf), np.full(len(names), np.inf)
    if bounds is None:
        return lower, upper
    if not isinstance(bounds, Mapping):
        raise TypeError(
            "`physics_bounds` must be a dict {name: (lower, upper)} (None for no bound); "
            f"got {type(bounds).__name__}."
        )
    for name, pair in bounds.items():
        if name not in names:
            raise ValueError(
                f"`physics_bounds` names {name!r}, which is not in `physics_params` "
                f"({', '.join(map(repr, names)) or 'empty'})."
            )
        try:
            lo, hi = pair
        except (TypeError, ValueError):
            raise ValueError(
                f"`physics_bounds[{name!r}]` must be a pair (lower, upper), None for no "
                f"bound; got {pair!r}."
            ) from None
        k = names.index(name)
        lower[k] = -np.inf if lo is None else float(lo)
        upper[k] = np.inf if hi is None else float(hi)
        if np.isnan(lower[k]) or np.isnan(upper[k]) or lower[k] > upper[k]:
            raise ValueError(f"`physics_bounds[{name!r}]` = {pair!r} is not an interval.")
        if not lower[k] <= values[k] <= upper[k] and name not in fixed:
            raise ValueError(
                f"the initial value physics_params[{name!r}] = {values[k]!r} is outside "
                f"physics_bounds[{name!r}] = {pair!r}; start inside the bounds."
            )
    return lower, upper


def _network_units(physics: Physics, scaling) -> np.ndarray:
    """``kappa``: each network output in the unit of the rates it enters,
    ``scale_i / t_scale`` (geometric mean over the rates ``i`` that read it)."""
    rows, cols = physics.jacobian_structure
    nn = physics.groups["nn"]
    rate_unit = scaling.scale / scaling.t_scale
    units = np.ones(physics.n_network)
    for k in range(physics.n_network):
        readers = np.unique(rows[cols == nn.start + k])
        if len(readers):
            units[k] = float(np.exp(np.mean(np.log(rate_unit[readers]))))
    return units


def network_targets(greybox: GreyBox, Xs, Us, ps, rates) -> np.ndarray:
    """Network outputs ``g`` that make ``F`` reproduce ``rates`` (scaled) at each point, to
    first order around ``g = 0`` (least squares per point; exact when ``f`` is affine in
    ``nn``, e.g. the additive case). For the initial output layer."""
    G0 = np.zeros((len(Xs), greybox.n_network))
    F0 = greybox.rates(Xs, Us, ps, G0)
    J = greybox.jacobian(Xs, Us, ps, G0)[:, :, greybox.n_states + greybox.n_free :]
    target = np.einsum("cki,ci->ck", np.linalg.pinv(J), rates - F0)
    return np.where(np.isfinite(target), target, 0.0)
