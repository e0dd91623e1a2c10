"""Property-based tests (hypothesis) of the validation layer and of fit/predict/score on
tiny problems. Every input either works or raises a ValueError/TypeError whose message
names the argument; no NaN output comes without a warning; user arrays are never modified.

Derandomized, so CI sees the same examples every run (see SKNEURALODE_PROPERTY_SCALE).
"""

import os
import pickle
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from skneuralode import CollocationNeuralODE
from skneuralode._simulate import VectorField, simulate
from skneuralode._validation import (
    INTEGRATOR_KEYWORDS,
    check_inputs,
    check_integrator_options,
    check_states,
    check_times,
    check_trajectory,
    check_x0,
)
from skneuralode.datasets import van_der_pol

# SKNEURALODE_PROPERTY_SCALE=20: 20 times more (random, not derandomized) examples, to hunt
_SCALE = float(os.environ.get("SKNEURALODE_PROPERTY_SCALE", "1"))
COMMON = dict(derandomize=_SCALE == 1, deadline=None, suppress_health_check=list(HealthCheck))
MANY = settings(max_examples=int(150 * _SCALE), **COMMON)  # validation: milliseconds each
FEW = settings(max_examples=int(40 * _SCALE), **COMMON)  # an IPOPT solve each


# ------------------------------------------------------------------ helpers


def names_argument(err: Exception, *arguments: str) -> bool:
    """The message names one of ``arguments`` as `name`, `name[...]` or scikit-learn's
    "Input name ..."."""
    return any(re.search(rf"`{a}(`|\[)|\bInput {a}\b", str(err)) for a in arguments)


def outcome(call, *arguments):
    """``call()``'s result, or None after a ValueError/TypeError naming an argument; any
    other exception, or an error that names none of them, fails the test."""
    try:
        result = call()
        event("works")
        return result
    except (ValueError, TypeError) as err:
        event(f"{type(err).__name__}: {str(err)[:40]}")
        assert names_argument(err, *arguments), (
            f"{type(err).__name__} names none of {arguments}: {err}"
        )
        return None


def snapshot(*objects) -> list[bytes]:
    return [pickle.dumps(obj) for obj in objects]


def quietly(call):
    """Run ``call`` recording warnings: (result, list of warning categories)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    return result, [w.category for w in caught]


def assert_nan_is_warned(pred, categories):
    if pred is not None and not np.all(np.isfinite(pred)):
        assert RuntimeWarning in categories, "NaN predictions without a RuntimeWarning"


# ------------------------------------------------------------------ strategies

floats = st.floats(allow_nan=True, allow_infinity=True)
scalars = st.one_of(
    floats, st.integers(), st.booleans(), st.none(), st.text(max_size=2), st.complex_numbers()
)
dtypes = st.sampled_from(
    [
        np.float64, np.float32, np.int64, np.int8, np.uint8, np.bool_, np.complex128,
        "datetime64[s]", "timedelta64[ms]", "U2",
    ]
)  # fmt: skip


def arrays(max_dims=3, max_side=6):
    """Arrays of any common dtype and shape (NaN/inf included), object arrays of mixed
    scalars, and nested lists."""
    shapes = hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=0, max_side=max_side)
    typed = dtypes.flatmap(lambda dt: hnp.arrays(dt, shapes))
    objects = hnp.arrays(object, shapes, elements=scalars)
    lists = st.lists(st.one_of(floats, st.integers(-5, 5), st.none()), max_size=max_side)
    return st.one_of(typed, objects, lists, st.lists(lists, max_size=3))


def numeric_arrays(shape, nan_inf=True):
    """Mostly valid float data of ``shape`` in dtypes a user might pass."""
    elements = st.floats(-10, 10) if not nan_inf else st.one_of(st.floats(-10, 10), floats)
    return st.sampled_from([np.float64, np.float32, np.int64, np.bool_, object]).flatmap(
        lambda dt: hnp.arrays(np.float64, shape, elements=elements).map(lambda a: a.astype(dt))
    )


id_values = st.one_of(
    st.integers(-3, 3),
    st.sampled_from(["a", "b", "1"]),
    st.sampled_from([0.0, 1.5, np.nan]),
    st.none(),
    st.booleans(),
)


def trajectory_ids(n):
    """Lists and arrays of ids: ints, strs, floats, NaN, None, bools, mixed."""
    ids = st.lists(id_values, min_size=n, max_size=n)
    return st.one_of(
        ids,
        ids.map(lambda v: np.array(v, dtype=object)),
        st.lists(st.integers(0, 2), min_size=n, max_size=n).map(np.array),
        st.lists(st.sampled_from(["x", "y"]), min_size=n, max_size=n).map(np.array),
        st.lists(st.sampled_from([0.5, 2.0, np.nan]), min_size=n, max_size=n).map(np.array),
    )


# ------------------------------------------------------------------ validation layer


@MANY
@given(arrays())
def test_check_times(t):
    before = snapshot(t)
    out = outcome(lambda: check_times(t), "t")
    if out is not None:
        assert out.dtype == np.float64 and out.ndim == 1 and np.all(np.isfinite(out))
        assert not np.shares_memory(out, np.asarray(t))
    assert snapshot(t) == before


@MANY
@given(arrays(), st.integers(0, 6))
def test_check_states_and_inputs(X, n):
    before = snapshot(X)
    for name, call in [
        ("X", lambda: check_states(X, n)),
        ("u", lambda: check_inputs(X, n, None)),
        ("u", lambda: check_inputs(X, n, 1)),
    ]:
        out = outcome(call, name, "t")
        if out is not None:
            assert out.dtype == np.float64 and out.shape[0] == n and out.ndim == 2
            assert np.all(np.isfinite(out)) and not np.shares_memory(out, np.asarray(X))
    assert snapshot(X) == before


@MANY
@given(arrays(), st.integers(1, 3))
def test_check_x0(x0, n_states):
    before = snapshot(x0)
    out = outcome(lambda: check_x0(x0, n_states), "x0")
    if out is not None:
        assert out.shape == (n_states,) and np.all(np.isfinite(out))
    assert snapshot(x0) == before


def _is_missing(value):
    return value is None or value != value


def _kind(value):
    return "bool" if isinstance(value, bool) else "str" if isinstance(value, str) else "number"


@MANY
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.tuples(
            st.one_of(
                st.just(np.arange(n, dtype=float)),
                hnp.arrays(np.float64, n, elements=st.floats(-5, 5)),  # unsorted, ties
            ),
            trajectory_ids(n),
        )
    ),
    st.integers(1, 2),
)
def test_check_trajectory(times_and_ids, min_samples):
    t, ids = times_and_ids
    before = snapshot(t, ids)
    groups = outcome(lambda: check_trajectory(ids, t, min_samples), "trajectory", "t")
    assert snapshot(t, ids) == before
    if isinstance(ids, list):  # the first offending id is named, whatever follows it
        missing = [i for i, v in enumerate(ids) if _is_missing(v)]
        if missing:
            with pytest.raises(ValueError, match=rf"missing id at index {missing[0]} "):
                check_trajectory(ids, t, min_samples)
        elif len({_kind(v) for v in ids}) > 1:
            with pytest.raises(TypeError, match="`trajectory` ids must all have one type"):
                check_trajectory(ids, t, min_samples)
    if groups is None:
        return
    flat = np.concatenate(groups)
    assert sorted(flat.tolist()) == list(range(len(t)))  # a partition of the samples
    assert [g[0] for g in groups] == sorted(g[0] for g in groups)  # order of first appearance
    for g in groups:
        assert len(g) >= min_samples and np.all(np.diff(g) > 0) and np.all(np.diff(t[g]) > 0)
        assert len({ids[i] for i in g}) == 1  # one label per group
    assert len({ids[g[0]] for g in groups}) == len(groups)  # different labels per group


option_keys = st.one_of(
    st.sampled_from(sorted(set().union(*INTEGRATOR_KEYWORDS.values()))),
    st.sampled_from(sorted(set().union(*INTEGRATOR_KEYWORDS.values()))),
    st.sampled_from(["t_eval", "jac", "method", "events", "vectorized", "dense_output", "y0"]),
    st.text(max_size=4),
)
option_values = st.one_of(
    st.floats(1e-10, 1.0),  # mostly valid
    st.integers(0, 3),
    floats,
    st.integers(-2, 10**400),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.floats(1e-9, 1.0), max_size=3),
)
integrator_options = st.sampled_from(["dict"] * 8 + ["other"]).flatmap(
    lambda kind: (
        st.dictionaries(option_keys, option_values, max_size=3)
        if kind == "dict"
        else st.one_of(st.none(), scalars, st.just([("rtol", 1e-3)]))
    )
)


@MANY
@given(integrator_options, st.sampled_from(sorted(INTEGRATOR_KEYWORDS)))
def test_check_integrator_options(options, method):
    before = snapshot(options)
    clean = outcome(lambda: check_integrator_options(options, method, 2), "integrator_options")
    assert snapshot(options) == before
    if clean is None:
        return
    assert set(clean) <= INTEGRATOR_KEYWORDS[method]
    # accepted options integrate (bounded step counts only: max_step=1e-300 is valid, slow)
    assume(clean.get("max_step", 1.0) >= 1e-2)
    field = VectorField(
        [np.array([[-1.0, 0.5], [0.0, -1.0]])], [np.zeros(2)], "identity",
        np.zeros(2), np.ones(2), 1.0,
    )  # fmt: skip
    t = np.linspace(0, 1, 5)
    pred, categories = quietly(
        lambda: outcome(
            lambda: simulate(field, t, np.ones(2), None, method, options), "integrator_options"
        )
    )
    if pred is not None:
        assert pred.shape == (5, 2) and np.array_equal(pred[0], np.ones(2))
    assert_nan_is_warned(pred, categories)
    assert snapshot(options) == before


# ------------------------------------------------------------------ fit / predict / score


def _tiny(**params):
    return CollocationNeuralODE(
        **{"width": 3, "degree": 1, "max_iter": 15, "engine": "numpy", "random_state": 0, **params}
    )


@pytest.fixture(scope="module")
def fitted():
    t, X = van_der_pol(10, (0, 3))
    plain, _ = quietly(lambda: _tiny().fit(t, X))
    forced, _ = quietly(lambda: _tiny().fit(t, X, u=np.cos(t)[:, None]))
    return plain, forced


class UsersOwnError(Exception):
    pass


def _raises_later(s):
    if s > 1.0:
        raise UsersOwnError("inside u")
    return [0.0]


INPUT_FUNCTIONS = [
    lambda s: [np.cos(s)],
    np.cos,  # a scalar for the single input
    lambda s: np.array([np.sin(s)], dtype=np.float32),
    lambda s: [1.0, 2.0],
    lambda s: [[1.0]],
    lambda s: [np.nan],
    lambda s: [np.inf] if s > 1.5 else [0.0],
    lambda s: None,
    lambda s: "a",
    _raises_later,
]


def perturbed(draw, a: np.ndarray, kinds: list[str]):
    """``a`` as it is (half the time) or with one of ``kinds`` of damage."""
    kind = draw(st.sampled_from(["none"] * len(kinds) + kinds))
    n = len(a)
    i = draw(st.integers(0, n - 1))
    a = np.array(a, copy=True)
    if kind == "nan" or kind == "inf":
        a = a.astype(float)
        a[i] = np.nan if kind == "nan" else np.inf
    elif kind == "shuffle":
        a = a[draw(st.permutations(range(n)))]
    elif kind == "duplicate":
        a[i] = a[i - 1]
    elif kind == "nearly":
        a = a.astype(float)
        a[i] = a[i - 1] + 1e-12 * (a[-1] - a[0]) if i else a[i]
    elif kind == "short":
        a = a[:-1]
    elif kind == "column":
        a = a.reshape(n, -1)
    elif kind == "3d":
        a = a.reshape(n, -1, 1)
    elif kind in ("int", "float32", "bool", "object", "complex", "str"):
        a = a.astype({"int": np.int64, "str": "U8"}.get(kind, kind))
    elif kind == "datetime":
        a = np.datetime64("2026-01-01") + (a * 1e9).astype("timedelta64[ns]")
    elif kind == "timedelta":
        a = (a * 1e3).astype("timedelta64[ms]")
    elif kind == "list":
        a = a.tolist()
    return a


T_DAMAGE = [
    "nan", "inf", "shuffle", "duplicate", "nearly", "short", "column", "3d", "int", "float32",
    "bool", "object", "complex", "str", "datetime", "timedelta", "list",
]  # fmt: skip
STATE_DAMAGE = ["nan", "inf", "short", "3d", "int", "float32", "bool", "object", "complex", "list"]


def draw_ids(draw, n: int):
    kind = draw(st.sampled_from(["none", "none", "two", "two", "labels"]))
    if kind == "none":
        return None
    if kind == "two":
        labels = draw(st.sampled_from([[0, 1], ["a", "b"], [0.5, 2.5], [1, "1"], [0, None]]))
        ids = [labels[0]] * (n // 2) + [labels[1]] * (n - n // 2)
        return draw(st.sampled_from([ids, np.array(ids, dtype=object)]))
    return draw(trajectory_ids(n))


@FEW
@given(st.data(), st.booleans())
def test_predict(fitted, data, forced):
    model = fitted[1] if forced else fitted[0]
    m = data.draw(st.integers(1, 8))
    t = perturbed(data.draw, np.linspace(0, 4, m), T_DAMAGE)
    x0 = data.draw(st.sampled_from(["ok", "ok", "other"]))
    if x0 == "ok":
        x0 = perturbed(data.draw, np.array([2.0, 0.0]), STATE_DAMAGE)
    else:
        x0 = data.draw(st.one_of(st.none(), arrays(max_side=3), numeric_arrays(2)))
    u = data.draw(
        st.one_of(
            st.none(),
            st.sampled_from(INPUT_FUNCTIONS),
            st.just(np.cos(np.linspace(0, 4, m))[:, None]).map(
                lambda a: perturbed(data.draw, a, STATE_DAMAGE)
            ),
        )
    )
    before = snapshot(t, x0, None if callable(u) else u)
    try:
        pred, categories = quietly(
            lambda: outcome(lambda: model.predict(t, x0, u), "t", "x0", "u")
        )
    except UsersOwnError:
        assert u is _raises_later and forced  # the user's own exception, unchanged
        return
    assert snapshot(t, x0, None if callable(u) else u) == before
    if pred is not None:
        assert pred.shape == (len(check_times(t)), 2)
        np.testing.assert_array_equal(pred[0], check_x0(x0, 2))
    assert_nan_is_warned(pred, categories)


@FEW
@given(st.data())
def test_fit_predict_score(data):
    n = data.draw(st.integers(6, 12))
    t0, X0 = van_der_pol(n, (0, 3))
    t = perturbed(data.draw, t0, T_DAMAGE)
    X = perturbed(data.draw, X0[:, : data.draw(st.integers(1, 2))], STATE_DAMAGE)
    u = data.draw(st.sampled_from([None, np.cos(t0)[:, None]]))
    u = None if u is None else perturbed(data.draw, u, STATE_DAMAGE)
    trajectory = draw_ids(data.draw, n)
    est = _tiny(
        width=data.draw(st.integers(2, 4)),
        degree=data.draw(st.integers(1, 2)),
        scheme=data.draw(st.sampled_from(["radau", "legendre", "chebyshev"])),
    )
    before = snapshot(t, X, u, trajectory)
    fit, _ = quietly(
        lambda: outcome(
            lambda: est.fit(t, X, u=u, trajectory=trajectory), "t", "X", "u", "trajectory"
        )
    )
    assert snapshot(t, X, u, trajectory) == before
    if fit is None:
        return
    t_ok = check_times(t)
    X_ok = check_states(X, len(t_ok), allow_nan=True)  # NaN: a missing sample
    u_ok = None if u is None else check_inputs(u, len(t_ok))
    first = check_trajectory(trajectory, t_ok)[0]
    x0 = X_ok[first[0]] if np.all(np.isfinite(X_ok[first[0]])) else est.initial_states_[0]
    pred, categories = quietly(
        lambda: est.predict(t_ok[first], x0, None if u_ok is None else u_ok[first])
    )
    assert pred.shape == (len(first), X_ok.shape[1])
    assert_nan_is_warned(pred, categories)
    score, _ = quietly(lambda: est.score(t, X, u=u, trajectory=trajectory))
    assert isinstance(score, float) and (np.isfinite(score) or score == -np.inf)
    assert snapshot(t, X, u, trajectory) == before
