"""The activations, in one table: each row holds everything the library needs of one.

``ACTIVATIONS[name]`` is an :class:`Activation`: its value, first and second derivative
(numpy, elementwise; ``predict`` and the numpy engine use these), the three at once
sharing work (the numpy engine's Hessian), and its Pyomo expression (the Pyomo model and
``to_pyomo``). Adding an activation is adding a row; ``tests/test_tables.py`` checks that
every row is complete and consistent.

Pyomo is imported inside the Pyomo forms only, so that ``predict`` never needs it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Activation(NamedTuple):
    """One activation ``sigma``: numpy value and derivatives, and its Pyomo form."""

    value: Callable[[np.ndarray], np.ndarray]  # sigma(z)
    first: Callable[[np.ndarray], np.ndarray]  # sigma'(z)
    second: Callable[[np.ndarray], np.ndarray]  # sigma''(z)
    #: ``z -> (sigma(z), sigma'(z), sigma''(z))``, sharing work between the three
    with_derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]
    #: a Pyomo expression -> the Pyomo expression of ``sigma`` of it
    pyomo: Callable


# --------------------------------------------------------------------- tanh
def _tanh_first(z):
    return 1.0 - np.tanh(z) ** 2


def _tanh_second(z):
    return -2.0 * np.tanh(z) * _tanh_first(z)


def _tanh_all(z):
    a = np.tanh(z)
    d1 = 1.0 - a * a
    return a, d1, -2.0 * a * d1


def _tanh_pyomo(z):
    from pyomo.environ import tanh

    return tanh(z)


# ------------------------------------------------------------------ sigmoid
def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _sigmoid_first(z):
    return _sigmoid(z) * (1.0 - _sigmoid(z))


def _sigmoid_second(z):
    return _sigmoid_first(z) * (1.0 - 2.0 * _sigmoid(z))


def _sigmoid_all(z):
    a = _sigmoid(z)
    d1 = a * (1.0 - a)
    return a, d1, d1 * (1.0 - 2.0 * a)


def _sigmoid_pyomo(z):
    from pyomo.environ import exp

    return 1.0 / (1.0 + exp(-z))


# ----------------------------------------------------------------- softplus
def _softplus(z):
    return np.logaddexp(0.0, z)


def _softplus_all(z):
    s = _sigmoid(z)
    return _softplus(z), s, s * (1.0 - s)


def _softplus_pyomo(z):
    from pyomo.environ import exp, log

    return log(1.0 + exp(z))


# ----------------------------------------------------------------- identity
def _identity(z):
    return z


def _identity_all(z):
    return z, np.ones_like(z), np.zeros_like(z)


#: name -> Activation; the names are the estimators' ``activation`` options.
ACTIVATIONS = {
    "tanh": Activation(np.tanh, _tanh_first, _tanh_second, _tanh_all, _tanh_pyomo),
    "sigmoid": Activation(_sigmoid, _sigmoid_first, _sigmoid_second, _sigmoid_all, _sigmoid_pyomo),
    "softplus": Activation(_softplus, _sigmoid, _sigmoid_first, _softplus_all, _softplus_pyomo),
    "identity": Activation(_identity, np.ones_like, np.zeros_like, _identity_all, _identity),
}
