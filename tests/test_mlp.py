"""The numpy network: layout, activations and Jacobian."""

import numpy as np
import pytest

from skneuralode import _mlp


def test_pack_unpack_round_trip_and_mask():
    sizes = _mlp.layer_sizes(3, 2, 5, 2)
    assert sizes == [3, 5, 5, 2]
    theta = np.arange(_mlp.n_parameters(sizes), dtype=float)
    coefs, intercepts = _mlp.unpack(theta, sizes)
    assert [c.shape for c in coefs] == [(3, 5), (5, 5), (5, 2)]
    np.testing.assert_array_equal(_mlp.pack(coefs, intercepts), theta)
    mask = _mlp.weight_mask(sizes)
    assert mask.sum() == 15 + 25 + 10
    np.testing.assert_array_equal(theta[~mask], np.concatenate(intercepts))


def test_init_is_seeded_glorot():
    sizes = [2, 32, 2]
    a = _mlp.init_parameters(sizes, np.random.RandomState(0))
    b = _mlp.init_parameters(sizes, np.random.RandomState(0))
    np.testing.assert_array_equal(a, b)
    coefs, intercepts = _mlp.unpack(a, sizes)
    assert np.abs(coefs[0]).max() <= np.sqrt(6 / 34)
    assert not np.any(intercepts[0])


def test_known_values():
    np.testing.assert_allclose(_mlp.ACTIVATIONS["sigmoid"][0](np.array([0.0])), [0.5])
    np.testing.assert_allclose(_mlp.ACTIVATIONS["softplus"][0](np.array([0.0])), [np.log(2)])
    assert np.isfinite(_mlp.ACTIVATIONS["softplus"][0](np.array([1000.0]))).all()


@pytest.mark.parametrize("name", sorted(_mlp.ACTIVATIONS))
def test_input_jacobian_matches_finite_differences(name):
    rng = np.random.RandomState(1)
    sizes = [3, 6, 6, 2]
    coefs, intercepts = _mlp.unpack(rng.normal(size=_mlp.n_parameters(sizes)), sizes)
    x = rng.normal(size=3)
    J = _mlp.input_jacobian(coefs, intercepts, x, name)
    eps = 1e-6
    fd = np.column_stack(
        [
            (
                _mlp.forward(coefs, intercepts, (x + eps * e)[None], name)
                - _mlp.forward(coefs, intercepts, (x - eps * e)[None], name)
            )[0]
            / (2 * eps)
            for e in np.eye(3)
        ]
    )
    np.testing.assert_allclose(J, fd, atol=1e-7)
