"""Functions to call inside a physics function (known physics in the right-hand side).

A physics function ``func(x, u, p, nn)`` returns the time derivatives of the states in
user units, from the states ``x``, the exogenous inputs ``u``, the physical parameters
``p`` (a mapping keyed by name) and the network's outputs ``nn``::

    from skneuralode.physics import sqrt

    def tanks(x, u, p, nn):
        h1, h2 = x
        return [p["k4"] * u[0] - p["k1"] * sqrt(h1), p["k2"] * sqrt(h1) + nn[0]]

skneuralode calls it once with SymPy symbols and differentiates the result exactly, so
inside it use only:

- ``+``, ``-``, ``*``, ``/`` and ``**`` (any power, e.g. ``h ** 1.5`` or ``x ** p["n"]``),
  with numbers and the arguments;
- the functions of this module: :func:`sqrt`, :func:`exp`, :func:`log`, :func:`tanh`,
  :func:`sin`, :func:`cos`, :func:`sigmoid` and :func:`softplus`.

``math.sqrt``, ``numpy.sqrt`` and other functions that need numbers raise an error when
traced, and so do Python branches on the arguments (``if h > 0``, ``min``, ``max``,
``abs``). Each function here also works on numbers and numpy arrays, so a physics
function can be called directly to check it.

Pass the function as ``physics`` to :class:`~skneuralode.CollocationNeuralODE` (with
``physics_params`` and, optionally, ``physics_bounds``, ``physics_fixed``,
``network_inputs`` and ``latent_start``; see the user guide, "Known physics and grey-box
models"). A fitted model that keeps its physics function pickles it by reference: define
it with ``def`` at the top level of an importable module (a lambda or a nested function
cannot be pickled that way; the error says so).
"""

from ._physics import apply_function

__all__ = ["cos", "exp", "log", "sigmoid", "sin", "softplus", "sqrt", "tanh"]


def sqrt(z):
    """Square root, ``z ** (1/2)``; defined for ``z >= 0``, its slope for ``z > 0``."""
    return apply_function("sqrt", z)


def exp(z):
    """Exponential, ``e ** z``."""
    return apply_function("exp", z)


def log(z):
    """Natural logarithm; defined for ``z > 0``."""
    return apply_function("log", z)


def tanh(z):
    """Hyperbolic tangent."""
    return apply_function("tanh", z)


def sin(z):
    """Sine (radians)."""
    return apply_function("sin", z)


def cos(z):
    """Cosine (radians)."""
    return apply_function("cos", z)


def sigmoid(z):
    """Logistic function ``1 / (1 + exp(-z))``, the same as the ``"sigmoid"`` activation."""
    return apply_function("sigmoid", z)


def softplus(z):
    """``log(1 + exp(z))``, the same as the ``"softplus"`` activation; its slope is
    :func:`sigmoid`."""
    return apply_function("softplus", z)
