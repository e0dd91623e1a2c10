import numpy as np
import pytest

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import van_der_pol

# Accuracy targets, named once.
VDP_TRAIN_MSE = 1e-3
VDP_TEST_MSE = 1e-2
PAPER_TRAIN_MSE = 0.05
PAPER_TEST_MSE = 1.0
PAPER_TEST_MSE_WITH_U = 0.1

PAPER = dict(x0=(0.0, 1.0), mu=1.0, forcing_amplitude=1.0, forcing_frequency=1.0)


@pytest.fixture(scope="session")
def paper_data():
    """The paper's setting: forced VdP, 200 Chebyshev points on [0, 15], noise 0.1,
    plus the noise-free truth on a uniform grid over [0, 30]."""
    train = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **PAPER
    )
    truth = van_der_pol(t=np.linspace(0, 30, 601), return_bunch=True, **PAPER)
    return train, truth


@pytest.fixture(scope="session")
def small_data():
    """Unforced VdP, 40 samples on [0, 6]: seconds to fit."""
    return van_der_pol(40, (0, 6))


@pytest.fixture(scope="session")
def small_model(small_data):
    t, X = small_data
    return CollocationNeuralODE(width=8, degree=2, alpha=1e-4, random_state=0).fit(t, X)


def span_mse(pred, truth, mask):
    return float(np.mean((pred[mask] - truth[mask]) ** 2))
