"""scikit-learn's parameter validation: its private helpers, or a fallback of our own.

The estimators declare ``_parameter_constraints`` and validate them in ``fit`` the way
scikit-learn's own estimators do, with ``sklearn.base._fit_context`` and the constraint
classes of ``sklearn.utils._param_validation``. Both are private: a scikit-learn release
may move or change them without notice. This module is the one place that imports them.
When the import fails, the estimators use the fallback below instead, which understands
the constraints they declare (``Interval``, ``StrOptions``, ``HasMethods``, types,
``None``, ``callable`` and the strings ``"boolean"``, ``"verbose"``, ``"random_state"``,
``"array-like"``) and raises :class:`InvalidParameterError` (a ``ValueError`` and a
``TypeError``, as scikit-learn's) with scikit-learn's wording: "The 'width' parameter of
CollocationNeuralODE must be an int in the range [1, inf). Got 0 instead."

CI runs the test suite with the newest scikit-learn and again with the oldest supported
one (``.ci/run``); ``tests/test_sklearn_compat.py`` runs the estimators on the fallback.
"""

from __future__ import annotations

import functools
from numbers import Integral

import numpy as np

__all__ = [
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "StrOptions",
    "USING_FALLBACK",
    "fit_context",
    "validate_params",
]


class _FallbackInvalidParameterError(ValueError, TypeError):
    """A parameter of an estimator has a value its constraints do not allow."""


class _FallbackInterval:
    """Numbers of ``type`` between ``left`` and ``right`` (``None``: unbounded)."""

    def __init__(self, type, left, right, *, closed):
        if closed not in {"left", "right", "both", "neither"}:
            raise ValueError(f"closed must be left, right, both or neither; got {closed!r}")
        self.type, self.left, self.right, self.closed = type, left, right, closed

    def is_satisfied_by(self, value) -> bool:
        """As scikit-learn: an unbounded side is +-inf, open unless ``closed`` includes it
        (so ``inf`` fails ``Interval(Real, 0, None, closed="left")``); NaN never passes;
        booleans pass as the integers they are."""
        if not isinstance(value, self.type):
            return False
        lo = -np.inf if self.left is None else self.left
        hi = np.inf if self.right is None else self.right
        above = value >= lo if self.closed in {"left", "both"} else value > lo
        below = value <= hi if self.closed in {"right", "both"} else value < hi
        return bool(above and below)

    def __str__(self) -> str:
        kind = "an int" if self.type is Integral else "a float"
        lo = "-inf" if self.left is None else self.left
        hi = "inf" if self.right is None else self.right
        left = "[" if self.closed in {"left", "both"} and self.left is not None else "("
        right = "]" if self.closed in {"right", "both"} and self.right is not None else ")"
        return f"{kind} in the range {left}{lo}, {hi}{right}"


class _FallbackStrOptions:
    """One of a set of strings."""

    def __init__(self, options, *, deprecated=None):
        self.options = set(options)

    def is_satisfied_by(self, value) -> bool:
        return isinstance(value, str) and value in self.options

    def __str__(self) -> str:
        return "a str among {" + ", ".join(repr(o) for o in sorted(self.options)) + "}"


class _FallbackHasMethods:
    """An object with the named methods."""

    def __init__(self, methods):
        self.methods = [methods] if isinstance(methods, str) else list(methods)

    def is_satisfied_by(self, value) -> bool:
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def __str__(self) -> str:
        return "an object implementing " + " and ".join(repr(m) for m in self.methods)


def _is_array_like(value) -> bool:
    return (
        hasattr(value, "__len__") or hasattr(value, "shape") or hasattr(value, "__array__")
    ) and not np.isscalar(value)


_STRING_CONSTRAINTS = {
    "boolean": (lambda v: isinstance(v, bool | np.bool_), "an instance of 'bool'"),
    "verbose": (
        lambda v: isinstance(v, bool | np.bool_) or (isinstance(v, Integral) and v >= 0),
        "an int in the range [0, inf) or a bool",
    ),
    "random_state": (
        lambda v: (
            v is None
            or isinstance(v, np.random.RandomState)
            or (isinstance(v, Integral) and 0 <= v <= 2**32 - 1)
        ),
        "an int in the range [0, 4294967295], a numpy.random.RandomState instance or None",
    ),
    "array-like": (_is_array_like, "an array-like"),
}


def _check(constraint, value) -> tuple[bool, str]:
    """(whether ``value`` satisfies ``constraint``, a description of the constraint)."""
    if constraint is None:
        return value is None, "None"
    if constraint is callable:
        return callable(value), "a callable"
    if isinstance(constraint, str):
        test, text = _STRING_CONSTRAINTS[constraint]
        return bool(test(value)), text
    if isinstance(constraint, type):
        return isinstance(value, constraint), f"an instance of {constraint.__name__!r}"
    return constraint.is_satisfied_by(value), str(constraint)


def _fallback_validate(constraints: dict, params: dict, caller: str) -> None:
    for name, value in params.items():
        if name not in constraints:
            continue
        outcomes = [_check(c, value) for c in constraints[name]]
        if any(ok for ok, _ in outcomes):
            continue
        texts = [text for _, text in outcomes]
        must = texts[0] if len(texts) == 1 else ", ".join(texts[:-1]) + " or " + texts[-1]
        raise _FallbackInvalidParameterError(
            f"The {name!r} parameter of {caller} must be {must}. Got {value!r} instead."
        )


def _fallback_fit_context(*, prefer_skip_nested_validation: bool):
    """Validate the estimator's parameters before its ``fit`` runs."""

    def decorator(fit):
        @functools.wraps(fit)
        def wrapper(estimator, *args, **kwargs):
            _fallback_validate_params(estimator)
            return fit(estimator, *args, **kwargs)

        return wrapper

    return decorator


def _fallback_validate_params(estimator) -> None:
    _fallback_validate(
        estimator._parameter_constraints,
        estimator.get_params(deep=False),
        type(estimator).__name__,
    )


try:
    from sklearn.base import _fit_context as fit_context
    from sklearn.utils._param_validation import (
        HasMethods,
        Interval,
        InvalidParameterError,
        StrOptions,
    )

    def validate_params(estimator) -> None:
        """Check ``estimator``'s parameters against its ``_parameter_constraints``."""
        estimator._validate_params()

    USING_FALLBACK = False
except ImportError:  # a scikit-learn release moved its private helpers
    fit_context = _fallback_fit_context
    HasMethods = _FallbackHasMethods
    Interval = _FallbackInterval
    InvalidParameterError = _FallbackInvalidParameterError
    StrOptions = _FallbackStrOptions
    validate_params = _fallback_validate_params
    USING_FALLBACK = True
