"""The numpy network: parameter layout, initialization, forward pass, input Jacobian.

This is the only implementation used after ``fit`` (``predict`` integrates it) and the
test oracle for the Pyomo expressions built in ``_pyomo_model``. The activations are the
rows of ``_activations.ACTIVATIONS`` (re-exported here).

Parameters are a flat vector ``theta``; layer ``l`` stores its weight matrix
``W_l`` of shape (n_in, n_out) in row-major order, then its bias ``b_l`` (n_out,).
:class:`Layout` is the one place that knows it.
"""

from __future__ import annotations

import numpy as np

from ._activations import ACTIVATIONS  # re-exported: _init and the engines read it here


class Layout:
    """Where each parameter of a network with layer sizes ``sizes`` sits in ``theta``.

    Layers are numbered from 1 (layer 1 maps the inputs), as in the derivative notes of
    the numpy engine: layer ``l`` maps ``sizes[l - 1]`` inputs to ``sizes[l]`` outputs and
    its parameters are ``W_l`` (row-major), then ``b_l``.

    Parameters
    ----------
    sizes : list of int
        Sizes of every layer, input and output included (see :func:`layer_sizes`).
    """

    def __init__(self, sizes: list[int]):
        self.sizes = list(sizes)
        self.n_layers = len(self.sizes) - 1
        self.offsets = np.cumsum([0] + [(a + 1) * b for a, b in zip(sizes[:-1], sizes[1:])])
        self.n_params = int(self.offsets[-1])

    @classmethod
    def from_coefs(cls, coefs: list[np.ndarray]) -> Layout:
        """The layout of a network given by its weight matrices."""
        return cls([np.shape(coefs[0])[0]] + [np.shape(W)[1] for W in coefs])

    def layer(self, l: int) -> slice:  # noqa: E741 - l is the layer index, as in the notes
        """Parameters of layer ``l``: ``W_l`` then ``b_l``."""
        return slice(int(self.offsets[l - 1]), int(self.offsets[l]))

    def before(self, l: int) -> int:  # noqa: E741
        """Number of parameters of the layers before ``l``."""
        return int(self.offsets[l - 1])

    def weights(self, l: int) -> slice:  # noqa: E741
        """The entries of ``W_l``."""
        start = self.before(l)
        return slice(start, start + self.sizes[l - 1] * self.sizes[l])

    def biases(self, l: int) -> slice:  # noqa: E741
        """The entries of ``b_l``."""
        return slice(self.weights(l).stop, int(self.offsets[l]))

    def weight(self, l: int, k, j):  # noqa: E741
        """Flat index of ``W_l[k, j]`` (integers or broadcasting integer arrays)."""
        return self.before(l) + k * self.sizes[l] + j

    def bias(self, l: int, j):  # noqa: E741
        """Flat index of ``b_l[j]`` (an integer or an integer array)."""
        return self.weights(l).stop + j

    def unpack(self, theta: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Split ``theta`` into (coefs, intercepts) lists of views, like scikit-learn's MLP."""
        coefs, intercepts = [], []
        for l in range(1, self.n_layers + 1):  # noqa: E741
            coefs.append(theta[self.weights(l)].reshape(self.sizes[l - 1], self.sizes[l]))
            intercepts.append(theta[self.biases(l)])
        return coefs, intercepts

    def pack(self, coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> np.ndarray:
        """The flat ``theta`` of (coefs, intercepts) (the inverse of :meth:`unpack`)."""
        parts = []
        for W, b in zip(coefs, intercepts):
            parts += [np.ravel(W), np.ravel(b)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def weight_mask(self) -> np.ndarray:
        """Boolean mask over ``theta``: True for weights, False for biases."""
        mask = np.zeros(self.n_params, dtype=bool)
        for l in range(1, self.n_layers + 1):  # noqa: E741
            mask[self.weights(l)] = True
        return mask


def layer_sizes(n_inputs: int, n_outputs: int, width: int, depth: int) -> list[int]:
    """Sizes of every layer, input and output included."""
    return [n_inputs] + [width] * depth + [n_outputs]


def n_parameters(sizes: list[int]) -> int:
    return Layout(sizes).n_params


def weight_mask(sizes: list[int]) -> np.ndarray:
    """Boolean mask over ``theta``: True for weights, False for biases."""
    return Layout(sizes).weight_mask()


def unpack(theta: np.ndarray, sizes: list[int]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Split ``theta`` into (coefs, intercepts) lists, like scikit-learn's MLP."""
    return Layout(sizes).unpack(theta)


def pack(coefs: list[np.ndarray], intercepts: list[np.ndarray]) -> np.ndarray:
    return Layout.from_coefs(coefs).pack(coefs, intercepts)


def init_parameters(sizes: list[int], rng: np.random.RandomState) -> np.ndarray:
    """Glorot/Xavier uniform weights, zero biases."""
    layout = Layout(sizes)
    coefs, intercepts = [], []
    for a, b in zip(layout.sizes[:-1], layout.sizes[1:]):
        limit = np.sqrt(6.0 / (a + b))
        coefs.append(rng.uniform(-limit, limit, size=(a, b)))
        intercepts.append(np.zeros(b))
    return layout.pack(coefs, intercepts)


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
