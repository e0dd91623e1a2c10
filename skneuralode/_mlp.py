"""The numpy network: activations, initialization, forward pass, Jacobian, pack/unpack.

This is the only implementation used after ``fit`` (``predict`` integrates it) and the
test oracle for the Pyomo expressions built in ``_pyomo_model``.

Parameters are a flat vector ``theta``; layer ``l`` stores its weight matrix
``W_l`` of shape (n_in, n_out) in row-major order, then its bias ``b_l`` (n_out,).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


def _sigmoid(z):
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def _softplus(z):
    return np.logaddexp(0.0, z)


class Activation(NamedTuple):
    """An activation with its first and second derivatives (numpy, elementwise)."""

    value: Callable
    first: Callable
    second: Callable

    def with_derivatives(self, z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(sigma(z), sigma'(z), sigma''(z)); subclasses share work between the three."""
        return self.value(z), self.first(z), self.second(z)


class _Tanh(Activation):
    def with_derivatives(self, z):
        a = np.tanh(z)
        d1 = 1.0 - a * a
        return a, d1, -2.0 * a * d1


class _Sigmoid(Activation):
    def with_derivatives(self, z):
        a = _sigmoid(z)
        d1 = a * (1.0 - a)
        return a, d1, d1 * (1.0 - 2.0 * a)


class _Softplus(Activation):
    def with_derivatives(self, z):
        s = _sigmoid(z)
        return _softplus(z), s, s * (1.0 - s)


def _tanh_first(z):
    return 1.0 - np.tanh(z) ** 2


def _sigmoid_first(z):
    return _sigmoid(z) * (1.0 - _sigmoid(z))


#: name -> Activation(value, first derivative, second derivative). The Pyomo form of each
#: lives in ``_pyomo_model.ACTIVATIONS`` under the same name.
ACTIVATIONS = {
    "tanh": _Tanh(np.tanh, _tanh_first, lambda z: -2.0 * np.tanh(z) * _tanh_first(z)),
    "sigmoid": _Sigmoid(
        _sigmoid, _sigmoid_first, lambda z: _sigmoid_first(z) * (1.0 - 2.0 * _sigmoid(z))
    ),
    "softplus": _Softplus(_softplus, _sigmoid, _sigmoid_first),
    "identity": Activation(lambda z: z, np.ones_like, np.zeros_like),
}


def layer_sizes(n_inputs: int, n_outputs: int, width: int, depth: int) -> list[int]:
    """Sizes of every layer, input and output included."""
    return [n_inputs] + [width] * depth + [n_outputs]


def n_parameters(sizes: list[int]) -> int:
    return sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))


def weight_mask(sizes: list[int]) -> np.ndarray:
    """Boolean mask over ``theta``: True for weights, False for biases."""
    parts = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        parts += [np.ones(a * b, dtype=bool), np.zeros(b, dtype=bool)]
    return np.concatenate(parts)


def unpack(theta: np.ndarray, sizes: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split ``theta`` into (coefs, intercepts) lists, like scikit-learn's MLP."""
    coefs, intercepts, pos = [], [], 0
    for a, b in zip(sizes[:-1], sizes[1:]):
        coefs.append(theta[pos : pos + a * b].reshape(a, b))
        pos += a * b
        intercepts.append(theta[pos : pos + b])
        pos += b
    return coefs, intercepts


def pack(coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> np.ndarray:
    parts = []
    for W, b in zip(coefs, intercepts):
        parts += [np.ravel(W), np.ravel(b)]
    return np.concatenate(parts)


def init_parameters(sizes: list[int], rng: np.random.RandomState) -> np.ndarray:
    """Glorot/Xavier uniform weights, zero biases."""
    coefs, intercepts = [], []
    for a, b in zip(sizes[:-1], sizes[1:]):
        limit = np.sqrt(6.0 / (a + b))
        coefs.append(rng.uniform(-limit, limit, size=(a, b)))
        intercepts.append(np.zeros(b))
    return pack(coefs, intercepts)


def forward(
    coefs: list[np.ndarray], intercepts: list[np.ndarray], inputs: np.ndarray, activation: str
) -> np.ndarray:
    """Network output for ``inputs`` of shape (n, n_inputs) -> (n, n_outputs)."""
    act = ACTIVATIONS[activation][0]
    h = inputs
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        h = act(h @ W + b)
    return h @ coefs[-1] + intercepts[-1]


def input_jacobian(
    coefs: list[np.ndarray], intercepts: list[np.ndarray], inputs: np.ndarray, activation: str
) -> np.ndarray:
    """d(output)/d(inputs) for a single input vector (n_inputs,) -> (n_outputs, n_inputs)."""
    act, dact = ACTIVATIONS[activation][:2]
    h = inputs
    J = np.eye(len(inputs))
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        z = h @ W + b
        J = (dact(z)[:, None] * W.T) @ J
        h = act(z)
    return coefs[-1].T @ J
