"""The numpy network: initialization, forward pass, Jacobian, pack/unpack.

This is the only implementation used after ``fit`` (``predict`` integrates it) and the
test oracle for the Pyomo expressions built in ``_pyomo_model``. The activations are the
rows of ``_activations.ACTIVATIONS`` (re-exported here).

Parameters are a flat vector ``theta``; layer ``l`` stores its weight matrix
``W_l`` of shape (n_in, n_out) in row-major order, then its bias ``b_l`` (n_out,).
"""

from __future__ import annotations

import numpy as np

from ._activations import ACTIVATIONS  # re-exported: _init and the engines read it here


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
    act = ACTIVATIONS[activation].value
    h = inputs
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        h = act(h @ W + b)
    return h @ coefs[-1] + intercepts[-1]


def input_jacobian(
    coefs: list[np.ndarray], intercepts: list[np.ndarray], inputs: np.ndarray, activation: str
) -> np.ndarray:
    """d(output)/d(inputs) for a single input vector (n_inputs,) -> (n_outputs, n_inputs)."""
    sigma = ACTIVATIONS[activation]
    h = inputs
    J = np.eye(len(inputs))
    for W, b in zip(coefs[:-1], intercepts[:-1]):
        z = h @ W + b
        J = (sigma.first(z)[:, None] * W.T) @ J
        h = sigma.value(z)
    return coefs[-1].T @ J
