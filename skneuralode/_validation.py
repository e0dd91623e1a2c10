"""check_* functions: return clean (copied) arrays or raise with a message that names the
argument, shows the offending value and says the fix."""

from __future__ import annotations

import math
import pickle
import sys
from numbers import Number, Real

import numpy as np
from sklearn.utils.validation import check_array

# Samples of one trajectory closer than this fraction of its time span are rejected in fit:
# no smoother or collocation element can resolve them.
MIN_RELATIVE_GAP = 1e-9


def _float_array(a, name: str, **kwargs) -> np.ndarray:
    """``check_array(a, dtype=float64, copy=True)`` whose errors all name ``name``."""
    kind = getattr(getattr(a, "dtype", None), "kind", None)
    if kind in ("M", "m"):
        raise TypeError(
            f"`{name}` holds {a.dtype} values; it must hold real numbers. Convert them "
            "first, e.g. to seconds with `values / np.timedelta64(1, 's')`."
        )
    try:
        # C order: a DataFrame's values are column-major, and the fit must not depend on
        # the memory layout of its data (bit-identical weights for a DataFrame and an array)
        return check_array(
            a, ensure_2d=False, dtype=np.float64, order="C", input_name=name, copy=True,
            **kwargs,
        )  # fmt: skip
    except (TypeError, ValueError, OverflowError) as err:
        if f"Input {name} " in str(err):  # scikit-learn's NaN/inf messages name it
            raise
        raise (TypeError if isinstance(err, TypeError) else ValueError)(
            f"`{name}` must be a non-empty array of real numbers (int, float or bool); {err}"
        ) from err


def _seconds(t, name: str):
    """``datetime64`` times -> float seconds since the Unix epoch, ``timedelta64`` ->
    float seconds; anything else is returned unchanged."""
    dtype = getattr(t, "dtype", None)
    if dtype is None and isinstance(t, (list, tuple)):
        try:
            dtype = np.asarray(t).dtype
        except (TypeError, ValueError):
            return t
    if getattr(dtype, "kind", None) not in ("M", "m"):
        return t
    arr = np.asarray(t)
    if arr.dtype.kind == "O":  # time-zone aware pandas data: their UTC instants
        arr = np.asarray(t, dtype="datetime64[ns]")
    bad = np.flatnonzero(np.isnat(arr))
    if len(bad):
        raise ValueError(
            f"`{name}` contains NaT (not a time) at index {bad[0]}; every sample needs a "
            "time. Drop those samples."
        )
    try:
        if arr.dtype.kind == "M":
            return (arr - np.datetime64(0, "s")) / np.timedelta64(1, "s")
        return arr / np.timedelta64(1, "s")
    except (TypeError, ValueError, OverflowError) as err:
        raise TypeError(
            f"`{name}` of dtype {arr.dtype} cannot be converted to seconds ({err}). Use a "
            "fixed unit such as timedelta64[s] or [ns]."
        ) from err


def check_times(t, name: str = "t") -> np.ndarray:
    """Times as a float array of shape (n_samples,); (n_samples, 1) is accepted.

    ``datetime64`` times (numpy arrays, pandas ``DatetimeIndex``/``Series``) become
    seconds since the Unix epoch (1970-01-01T00:00 UTC) and ``timedelta64`` times become
    seconds, so a model fitted on timestamps has ``t_scale_`` in seconds and ``predict``/
    ``score`` on timestamps use the same origin. The float seconds resolve about 0.2 µs
    at present-day epoch times. NaT raises a ``ValueError``.
    """
    if t is None:
        raise ValueError(f"`{name}` (the sample times) is required; got None.")
    arr = _float_array(_seconds(t, name), name)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"`{name}` must be a 1-D array of sample times (or one column); got shape "
            f"{np.shape(arr)}."
        )
    return arr


def check_target_given(X, name: str = "X") -> None:
    """The states are scikit-learn's ``y``: say so in scikit-learn's words when missing."""
    if X is None:
        raise ValueError(
            f"CollocationNeuralODE requires y to be passed, but the target y is None: pass "
            f"the observed states as `{name}`."
        )


def check_states(X, n_samples: int, name: str = "X", allow_nan: bool = False) -> np.ndarray:
    """States as a float array of shape (n_samples, n_states); 1-D means one state.
    ``allow_nan``: NaN entries (missing samples) pass; infinity never does."""
    check_target_given(X, name)
    kwargs = {"ensure_all_finite": "allow-nan"} if allow_nan else {}
    arr = _float_array(X, name, allow_nd=True, **kwargs)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be 2-D (n_samples, n_states); got shape {np.shape(arr)}.")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"`{name}` has {arr.shape[0]} rows but `t` has {n_samples} samples; they must "
            "match row for row."
        )
    return arr


def check_inputs(u, n_samples: int, n_inputs: int | None = None, name: str = "u"):
    """Exogenous inputs as (n_samples, n_inputs) or None."""
    if u is None:
        if n_inputs:
            raise ValueError(
                f"This model was fitted with {n_inputs} exogenous input(s); pass `{name}`."
            )
        return None
    arr = check_states(u, n_samples, name=name)
    if n_inputs is not None and arr.shape[1] != n_inputs:
        if n_inputs == 0:
            raise ValueError(
                f"This model was fitted without exogenous inputs; got `{name}` with "
                f"{arr.shape[1]} column(s). Refit with `u` or drop it."
            )
        raise ValueError(f"`{name}` must have {n_inputs} column(s) as in fit; got {arr.shape[1]}.")
    return arr


def check_trajectory(
    trajectory, t: np.ndarray, min_samples: int = 2, min_gap: float = MIN_RELATIVE_GAP
) -> list[np.ndarray]:
    """Sample indices of each trajectory (in order of first appearance), validated.

    Trajectory ids are labels compared by equality (``1 == 1.0``), of one type: numbers,
    strings, ... Missing ids (None, NaN, NaT, ``pd.NA``) raise a ``ValueError``, mixed
    types (``1`` and ``"1"``) or unhashable ids a ``TypeError``. Within each trajectory
    the times must be strictly increasing in sample order, and (``min_gap > 0``)
    consecutive samples at least ``min_gap`` times the trajectory's span apart.
    """
    n = len(t)
    if trajectory is None:
        labels, groups = [None], [np.arange(n)]
    else:
        labels, groups = _trajectory_groups(trajectory, n)
    for label, idx in zip(labels, groups):
        where = "" if label is None else f" in trajectory {label!r}"
        if len(idx) < min_samples:
            fix = (
                "Pass more samples in `t` and `X`."
                if label is None
                else "Add samples to it or merge it with another (its `trajectory` id)."
            )
            raise ValueError(
                f"Each trajectory needs at least {min_samples} samples; got {len(idx)}{where}. "
                + fix
            )
        _check_increasing(t, idx, where, min_gap)
    return groups


def _check_increasing(t: np.ndarray, idx: np.ndarray, where: str, min_gap: float) -> None:
    dt = np.diff(t[idx])
    bad = np.flatnonzero(dt <= 0)
    if len(bad):
        i, j = idx[bad[0]], idx[bad[0] + 1]
        raise ValueError(
            f"`t` must be strictly increasing within each trajectory{where}; got "
            f"t[{j}]={t[j]:g} after t[{i}]={t[i]:g}. Sort the samples or drop duplicates."
        )
    span = t[idx[-1]] - t[idx[0]] if len(idx) else 0.0
    tiny = np.flatnonzero(dt < min_gap * span)
    if len(tiny):
        i, j = idx[tiny[0]], idx[tiny[0] + 1]
        raise ValueError(
            f"`t` has samples{where} only {dt[tiny[0]]:.3g} apart, t[{i}]={float(t[i])!r} and "
            f"t[{j}]={float(t[j])!r}: less than {min_gap:g} of the trajectory's time span "
            f"{span:.6g}, too close to tell apart. Merge or drop near-duplicate samples."
        )


def _trajectory_groups(trajectory, n: int) -> tuple[list, list[np.ndarray]]:
    """(labels, sample indices of each label), in order of first appearance."""
    try:
        ids = np.asarray(trajectory)
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"`trajectory` must be 1-D with one id per sample ({n}); it is not an array: {err}"
        ) from err
    if ids.ndim != 1 or len(ids) != n:
        raise ValueError(
            f"`trajectory` must be 1-D with one id per sample ({n}); got shape {ids.shape}."
        )
    if not hasattr(trajectory, "dtype"):  # a list: numpy would turn [1, "1"] into strings
        ids = np.empty(n, dtype=object)
        ids[:] = list(trajectory)
    if ids.dtype.kind in "fcmM":
        missing = np.flatnonzero(np.isnat(ids) if ids.dtype.kind in "mM" else np.isnan(ids))
        if len(missing):
            _raise_missing_id(missing[0], ids[missing[0]])
    if ids.dtype.kind in "biufcmMUS":
        uniq, first, codes = np.unique(ids, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        labels, codes = uniq[order].tolist(), rank[codes.ravel()]
    else:
        labels, codes = _object_id_codes(ids)
    sorter = np.argsort(codes, kind="stable")
    return labels, np.split(sorter, np.cumsum(np.bincount(codes))[:-1])


def _object_id_codes(ids: np.ndarray) -> tuple[list, np.ndarray]:
    """Labels and per-sample label numbers of an object array of ids, checked."""
    seen: dict = {}
    kinds: dict = {}
    codes = np.empty(len(ids), dtype=np.int64)
    for i, value in enumerate(ids.tolist()):
        try:
            hash(value)
        except TypeError:
            raise TypeError(
                f"`trajectory` ids must be hashable labels such as int or str; got "
                f"trajectory[{i}]={value!r} of type {type(value).__name__}. Give each "
                "sample one int or str id."
            ) from None
        if _is_missing(value):
            _raise_missing_id(i, value)
        kinds.setdefault(_id_kind(value), (i, value))
        codes[i] = seen.setdefault(value, len(seen))
    if len(kinds) > 1:
        found = ", ".join(f"{type(v).__name__} (trajectory[{i}]={v!r})" for i, v in kinds.values())
        raise TypeError(
            f"`trajectory` ids must all have one type; got {found}. Use one type, e.g. all "
            "int or all str (`np.asarray(trajectory, dtype=str)`)."
        )
    return [v.item() if isinstance(v, np.generic) else v for v in seen], codes


def _is_missing(value) -> bool:
    """None, NaN, NaT and pd.NA-like objects (not equal to themselves)."""
    if value is None:
        return True
    try:
        return bool(value != value)
    except (TypeError, ValueError):  # pd.NA: its truth value is ambiguous
        return True


def _id_kind(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "bool"
    if isinstance(value, Number):
        return "number"
    if isinstance(value, str):
        return "str"
    return type(value).__name__


def _raise_missing_id(i, value) -> None:
    if isinstance(value, np.generic) and not isinstance(value, (np.datetime64, np.timedelta64)):
        value = value.item()
    raise ValueError(
        f"`trajectory` has a missing id at index {i} (trajectory[{i}]={value!r}); every "
        "sample needs a trajectory id. Give those samples an id or drop them."
    )


def check_observed(X: np.ndarray, groups: list[np.ndarray], name: str = "X") -> None:
    """Missing samples (NaN) are allowed, but every state column and every trajectory
    needs at least one observed value."""
    observed = np.isfinite(X)
    empty = np.flatnonzero(~observed.any(axis=0))
    if len(empty):
        raise ValueError(
            f"`{name}` column {empty[0]} has no observed value (all NaN). Drop the column; "
            "to model a state that is never measured, use `n_latent`."
        )
    for k, g in enumerate(groups):
        if not observed[g].any():
            where = "" if len(groups) == 1 else f" of trajectory number {k} (order of appearance)"
            raise ValueError(
                f"Every sample{where} in `{name}` is missing (NaN); a trajectory needs at least "
                "one observed value. Drop it."
            )


def check_x0(x0, n_states: int, n_latent: int = 0) -> np.ndarray:
    arr = np.ravel(_float_array(x0, "x0", allow_nd=True))
    if arr.shape != (n_states + n_latent,):
        what = (
            f"the {n_states} initial state(s) of the fitted model"
            if not n_latent
            else f"the full initial state of the fitted model: {n_states} observed then "
            f"{n_latent} latent, {n_states + n_latent} values (`estimate_initial_state` "
            "estimates it from observations)"
        )
        raise ValueError(f"`x0` must hold {what}; got shape {np.shape(x0)}.")
    return arr


# ------------------------------------------------------------ solve_ivp keywords

_STEP_KEYWORDS = {"rtol", "atol", "max_step", "first_step"}
INTEGRATOR_KEYWORDS = {
    "RK45": _STEP_KEYWORDS,
    "RK23": _STEP_KEYWORDS,
    "DOP853": _STEP_KEYWORDS,
    "Radau": _STEP_KEYWORDS,
    "BDF": _STEP_KEYWORDS,
    "LSODA": _STEP_KEYWORDS | {"min_step"},
}
_SET_BY_SKNEURALODE = {
    "fun": "the right-hand side is the learned vector field",
    "t_span": "the simulation runs from t[0] to t[-1] of the times you pass",
    "y0": "the initial state is `x0`",
    "method": "choose the method with the `integrator` parameter",
    "t_eval": "the states are returned at the times `t` you pass",
    "jac": "implicit methods get the network's exact Jacobian",
    "jac_sparsity": "implicit methods get the network's exact (dense) Jacobian",
    "lband": "LSODA gets the network's exact Jacobian as a dense matrix, not a banded one",
    "uband": "LSODA gets the network's exact Jacobian as a dense matrix, not a banded one",
    "args": "the right-hand side takes no extra arguments",
    "events": "the simulation always runs to t[-1]",
    "dense_output": "only the states at `t` are returned",
    "vectorized": "the right-hand side is evaluated one state at a time",
}


def check_integrator_options(options, method: str, n_states: int | None = None) -> dict:
    """``integrator_options`` as a new dict of valid ``solve_ivp`` keywords for ``method``.

    Keywords skneuralode sets itself (``t_eval``, ``jac``, ...) and keywords ``method``
    does not use are rejected; ``rtol > 0`` and ``atol >= 0`` (finite; scalars or one value
    per state), ``max_step > 0``, ``first_step > 0`` and (LSODA) ``min_step >= 0``.
    """
    if method not in INTEGRATOR_KEYWORDS:
        raise ValueError(
            f"`integrator` must be one of {sorted(INTEGRATOR_KEYWORDS)}; got {method!r}."
        )
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise TypeError(
            "`integrator_options` must be a dict of solve_ivp keywords or None; got "
            f"{type(options).__name__} {options!r}."
        )
    accepted = INTEGRATOR_KEYWORDS[method]
    for key in options:
        if key in _SET_BY_SKNEURALODE:
            raise ValueError(
                f"`integrator_options` cannot set {key!r}: {_SET_BY_SKNEURALODE[key]}. "
                f"Remove it; accepted keys for integrator={method!r}: {sorted(accepted)}."
            )
        if key not in accepted:
            raise ValueError(
                f"`integrator_options` has the key {key!r}, which solve_ivp's {method!r} "
                f"method does not take. Accepted keys: {sorted(accepted)}."
            )
    clean = dict(options)
    for key in ("rtol", "atol"):
        if key in clean:
            clean[key] = _check_tolerance(clean[key], key, n_states)
    for key, low, closed, inf_ok in [
        ("max_step", 0.0, False, True),
        ("first_step", 0.0, False, False),
        ("min_step", 0.0, True, False),
    ]:
        if key in clean and not (key == "first_step" and clean[key] is None):
            clean[key] = _check_number(clean[key], key, low, closed, inf_ok)
    return clean


def _check_number(value, key: str, low: float, closed: bool, inf_ok: bool) -> float:
    try:
        number = float(value) if isinstance(value, Real) and not isinstance(value, bool) else None
    except OverflowError:
        number = None
    ok = number is not None and not math.isnan(number) and (inf_ok or math.isfinite(number))
    if not ok or not (number >= low if closed else number > low):
        bound = ">= 0" if closed else "> 0"
        kind = "number" if inf_ok else "finite number"
        raise ValueError(f"`integrator_options[{key!r}]` must be a {kind} {bound}; got {value!r}.")
    return number


def _check_tolerance(value, key: str, n_states: int | None):
    positive = key == "rtol"
    try:
        arr = None if isinstance(value, (str, bytes)) else np.asarray(value, dtype=float)
    except (TypeError, ValueError, OverflowError):
        arr = None
    shape_ok = arr is not None and (
        arr.ndim == 0 or (arr.ndim == 1 and (n_states is None or arr.shape == (n_states,)))
    )
    if (
        isinstance(value, (bool, np.bool_))
        or not shape_ok
        or not np.all(np.isfinite(arr))
        or not np.all(arr > 0 if positive else arr >= 0)
    ):
        per_state = "" if n_states is None else f" or {n_states} of them (one per state)"
        bound = "> 0" if positive else ">= 0"
        raise ValueError(
            f"`integrator_options[{key!r}]` must be a finite number {bound}{per_state}; "
            f"got {value!r}."
        )
    return float(arr) if arr.ndim == 0 else arr.copy()


def check_fit_data(t, X, u, trajectory, integrator: str, integrator_options, n_latent=0):
    """Validated ``(t, X, u, groups)`` for ``fit``: times, states (NaN allowed, every
    column and trajectory observed once), inputs and trajectories of at least
    ``_spec.MIN_SAMPLES`` samples each; ``n_latent`` against the data
    (:func:`check_n_latent`) and the integrator options against the full state
    (observed and latent) are checked too, before any solve."""
    from ._spec import MIN_SAMPLES

    check_target_given(X)
    check_not_swapped(t, X, "fit")
    frame_names(X, "X"), frame_names(u, "u")  # duplicate or mixed column names first
    t = check_times(t)
    X = check_states(X, len(t), allow_nan=True)
    u = check_inputs(u, len(t))
    groups = check_trajectory(trajectory, t, MIN_SAMPLES)
    check_observed(X, groups)
    check_n_latent(n_latent, X.shape[1], len(t))
    check_integrator_options(integrator_options, integrator, X.shape[1] + n_latent)
    return t, X, u, groups


#: Derivatives of the smoothed states a latent state can start from: latent state ``k``
#: starts as the derivative of order ``1 + k // n_states`` (``_init.latent_start``), and
#: a cubic smoothing spline has three.
MAX_LATENT_ORDER = 3


def check_n_latent(n_latent, n_states: int, n_samples: int) -> None:
    """``n_latent``: an int (not a bool), at most ``MAX_LATENT_ORDER * n_states``, and
    (when > 0) at least 3 samples."""
    if isinstance(n_latent, (bool, np.bool_)):
        raise TypeError(
            f"`n_latent` must be an int >= 0, the number of unmeasured states; got "
            f"{n_latent!r} (a bool). Pass the number as an int, e.g. "
            f"n_latent={int(n_latent)}."
        )
    if n_latent > MAX_LATENT_ORDER * n_states:
        raise ValueError(
            f"`n_latent`={n_latent} is more than {MAX_LATENT_ORDER} x the {n_states} "
            f"observed state(s) (at most {MAX_LATENT_ORDER * n_states}): latent state k "
            "starts as the time derivative of order 1 + k // n_states of a smoothed "
            f"observed state, and a cubic spline has only {MAX_LATENT_ORDER} derivatives. "
            f"Use n_latent <= {MAX_LATENT_ORDER * n_states} or observe more states."
        )
    if n_latent and n_samples < 3:
        raise ValueError(
            f"Too few samples for `n_latent`={n_latent}: got {n_samples} samples, latent "
            "states need at least 3 (with 2 samples the collocation NLP with latent states "
            "has no feasible point). Give more samples or set n_latent=0."
        )


def check_observations(t, X, u, trajectory, model, min_samples: int = 1):
    """Validated ``(t, X, u, groups)`` of observations for the fitted ``model`` (``score``,
    :meth:`estimate_initial_state`, the simulation scorer): ``X`` with the model's state
    columns, ``u`` with its inputs, and DataFrame columns named as in ``fit``."""
    check_target_given(X)
    check_not_swapped(t, X, "score")
    check_columns(X, getattr(model, "state_names_", None), "X", model.n_states_)
    check_columns(u, getattr(model, "input_names_", None), "u")
    t = check_times(t)
    X = check_states(X, len(t), allow_nan=True)
    if X.shape[1] != model.n_states_:
        raise ValueError(
            f"`X` must have the {model.n_states_} state column(s) of the fitted model; "
            f"got {X.shape[1]}."
        )
    if not np.isfinite(X).any():
        raise ValueError(
            f"`X` has no observed entry: all its {X.size} values are NaN, so there is "
            "nothing to score or to estimate a state from. Pass samples with at least one "
            "observed (finite) entry."
        )
    u = check_inputs(u, len(t), model.n_inputs_)
    groups = check_trajectory(trajectory, t, min_samples=min_samples, min_gap=0.0)
    return t, X, u, groups


# ------------------------------------------------------------ swapped arguments


def _increasing_vector(a) -> bool:
    """Whether ``a`` is a 1-D (or one-column) vector of at least 2 finite, strictly
    increasing real numbers: what sample times look like."""
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError):
        return False
    if arr.dtype.kind not in "iuf":
        return False
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    return (
        arr.ndim == 1
        and len(arr) >= 2
        and bool(np.all(np.isfinite(arr)))
        and bool(np.all(np.diff(arr) > 0))
    )


def check_not_swapped(t, X, method: str) -> None:
    """A ``ValueError`` with the hint "did you swap t and X?" when ``t`` cannot be sample
    times but ``X`` looks like them (pysindy's ``fit(x, t)`` order): ``X`` a strictly
    increasing vector and ``t`` as many rows of states; or ``t`` a 2-D array of states and
    ``X`` one number (pysindy's ``fit(x, t=dt)``)."""
    if t is None or X is None or _increasing_vector(t):
        return
    try:
        shape = np.shape(t)
    except (TypeError, ValueError):
        return
    hint = (
        f"did you swap t and X? {method}(t, X) takes the times first, then the states "
        "(pysindy's fit(x, t) takes them the other way round)."
    )
    if isinstance(X, Real) and len(shape) == 2 and shape[1] > 1:
        raise ValueError(
            f"`t` has shape {shape} and `X` is the number {X!r}: {hint} For samples "
            f"every {X!r} time units, pass t = {X!r} * np.arange({shape[0]})."
        )
    if len(shape) in (1, 2) and _increasing_vector(X) and shape[0] == len(np.ravel(X)):
        raise ValueError(
            f"`t` (shape {shape}) is not increasing, so it cannot be sample times, but `X` "
            f"(shape {np.shape(X)}) is: {hint}"
        )


# ------------------------------------------------------------ names


def _is_frame(obj) -> bool:
    """A pandas (or pandas-like) DataFrame, by duck typing: pandas is not imported."""
    return hasattr(obj, "columns") and hasattr(obj, "iloc") and hasattr(obj, "dtypes")


def frame_names(obj, name: str) -> list[str] | None:
    """The column names of a DataFrame, scikit-learn's rule for ``feature_names_in_``:
    all strings -> the names; none a string -> None (no names); a mix -> ``TypeError``.
    Not a DataFrame -> None. Duplicate names -> ``ValueError``."""
    if not _is_frame(obj):
        return None
    columns = list(obj.columns)
    strings = [isinstance(c, str) for c in columns]
    if not any(strings):
        return None
    if not all(strings):
        kinds = sorted({type(c).__name__ for c in columns})
        raise TypeError(
            f"`{name}`'s column names must all be strings to name the "
            f"{'inputs' if name == 'u' else 'states'}; got a mix of {kinds}: {columns!r}. "
            f"Convert them, e.g. `{name}.columns = {name}.columns.astype(str)`."
        )
    check_unique(columns, f"`{name}`'s columns")
    return columns


def check_unique(names, what: str) -> None:
    seen: set = set()
    duplicates = [n for n in names if n in seen or seen.add(n)]
    if duplicates:
        raise ValueError(
            f"{what} must be unique names; {sorted(set(duplicates))!r} appear more than once "
            f"in {list(names)!r}. Rename them."
        )


def _name_list(names, what: str, count: int) -> list[str]:
    """A parameter ``state_names``/``input_names``: ``count`` unique strings."""
    names = [names] if isinstance(names, str) else list(names)
    if not all(isinstance(n, str) for n in names):
        raise TypeError(f"`{what}` must be a list of str; got {names!r}.")
    if len(names) != count:
        raise ValueError(
            f"`{what}` must hold {count} name(s), one per column of "
            f"`{'u' if what == 'input_names' else 'X'}`; got {len(names)}: {names!r}."
        )
    check_unique(names, f"`{what}`")
    return names


def _names_of(data, param, param_name: str, data_name: str, count: int):
    columns = frame_names(data, data_name)
    if param is None:
        return columns
    names = _name_list(param, param_name, count)
    if columns is not None and columns != names:
        raise ValueError(
            f"`{param_name}`={names!r} differ from the column names of the DataFrame "
            f"`{data_name}`, {columns!r}. Pass one of them: drop `{param_name}` or rename "
            "the columns."
        )
    return names


def check_fit_names(X, u, state_names, input_names, n_states: int, n_inputs: int,
                    n_latent: int):  # fmt: skip
    """``(state_names_, input_names_)`` of a fit, each an object array or None (no user
    names): from a DataFrame's string columns or the parameters ``state_names`` /
    ``input_names``. The state names get the latent states' default names ``z0, z1, ...``
    appended."""
    from ._names import default_state_names

    states = _names_of(X, state_names, "state_names", "X", n_states)
    if u is None and input_names is not None:
        raise ValueError(
            f"`input_names`={list(input_names)!r} names inputs, but fit got no `u`. Pass "
            "`u` or drop `input_names`."
        )
    inputs = None if u is None else _names_of(u, input_names, "input_names", "u", n_inputs)
    if states is not None:
        latent = default_state_names(0, n_latent)
        clash = sorted(set(states) & set(latent))
        if clash:
            raise ValueError(
                f"State name(s) {clash!r} are the default names of the latent states "
                f"({latent!r}); rename the observed state(s)."
            )
        states = np.array(states + latent, dtype=object)
    if inputs is not None:
        inputs = np.array(inputs, dtype=object)
    return states, inputs


def check_columns(data, expected, name: str, count: int | None = None) -> None:
    """A DataFrame given to a model fitted with names must have exactly the fitted names,
    in the fitted order (scikit-learn's rule for ``feature_names_in_``). ``expected``: the
    fitted names (None: the model has no names, nothing to check); ``count``: how many of
    them the DataFrame holds (the observed states of ``state_names_``)."""
    if expected is None or not _is_frame(data):
        return
    _check_labels(list(data.columns), expected[:count], f"columns of `{name}`",
                  f"Reorder them: `{name}[{{}}]`.")  # fmt: skip


def check_x0_names(x0, expected) -> None:
    """``x0`` given to a model fitted with names (``expected``: all its states, observed
    then latent; None: no names, nothing to check) as a pandas Series must have them as
    its index, as a one-row DataFrame as its columns, in the fitted order."""
    if expected is None:
        return
    check_columns(x0, expected, "x0")
    if hasattr(x0, "index") and hasattr(x0, "iloc") and getattr(x0, "ndim", None) == 1:
        _check_labels(list(x0.index), expected, "index of `x0`", "Reorder it: `x0[{}]`.")


def _check_labels(labels: list, expected, what: str, reorder: str) -> None:
    """``labels`` must be the fitted names ``expected``, in order (``check_columns``)."""
    expected = [str(n) for n in expected]
    if labels == expected:
        return
    if sorted(map(str, labels)) == sorted(expected):
        raise ValueError(
            f"The {what} must be in the order of fit, {expected!r}; got {labels!r}. "
            + reorder.format(repr(expected))
        )
    missing = [c for c in expected if c not in labels]
    extra = [c for c in labels if c not in expected]
    raise ValueError(
        f"The {what} must be the names seen in fit, {expected!r}; got "
        f"{labels!r} (missing {missing!r}, unexpected {extra!r})."
    )


def index_names(spec, state_names, input_names):
    """``spec`` with the state and input names in ``network_inputs`` and ``state_bounds``
    replaced by their positions ``"x[i]"`` / ``"u[j]"`` (the grey-box parameters'
    notation, which stays accepted). ``state_names``: the fitted ``state_names_``
    (observed, then latent) or None; ``input_names``: ``input_names_`` or None."""
    from dataclasses import replace

    lookup = {}
    if state_names is not None:
        lookup.update({str(n): f"x[{i}]" for i, n in enumerate(state_names)})
    if input_names is not None:
        lookup.update({str(n): f"u[{j}]" for j, n in enumerate(input_names)})
    if not lookup:
        return spec
    changes = {}
    if isinstance(spec.network_inputs, (list, tuple)):
        changes["network_inputs"] = [lookup.get(n, n) if isinstance(n, str) else n
                                     for n in spec.network_inputs]  # fmt: skip
    if isinstance(spec.state_bounds, dict):
        keys = [lookup.get(k, k) if isinstance(k, str) else k for k in spec.state_bounds]
        if len(set(keys)) < len(keys):
            raise ValueError(
                f"`state_bounds` bounds a state twice, by name and by position: "
                f"{list(spec.state_bounds)!r}. Keep one of each."
            )
        changes["state_bounds"] = dict(zip(keys, spec.state_bounds.values()))
    return replace(spec, **changes)


# ------------------------------------------------------------ functions as parameters
#: Modules whose pickling stores functions by value (or copies them): a lambda is fine there.
BY_VALUE_PICKLERS = ("copy", "cloudpickle", "joblib", "loky", "dask", "distributed")


def check_function_pickles(func, what: str, fix: str) -> None:
    """Raise a clear ``pickle.PicklingError`` when the function parameter ``func`` (``what``,
    e.g. "physics function") cannot be pickled by reference (a lambda, a nested function)
    and no by-value pickler (:data:`BY_VALUE_PICKLERS`) is on the call stack; ``fix`` says
    what to do instead."""
    if func is None:
        return
    try:
        pickle.dumps(func)
    except Exception as exc:  # PicklingError, AttributeError (a lambda in __main__), ...
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_globals.get("__name__", "").split(".")[0] in BY_VALUE_PICKLERS:
                return
            frame = frame.f_back
        name = getattr(func, "__qualname__", repr(func))
        raise pickle.PicklingError(
            f"this model's {what} {name!r} cannot be pickled: pickle stores a function by "
            "reference (module and name), and a lambda or a function defined inside another "
            f"cannot be found that way. {fix}"
        ) from exc
