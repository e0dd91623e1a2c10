"""The many-trajectory Van der Pol data of the large benchmarks (scaling, ADMM).

``k`` trajectories of 1 000 samples each of the unforced oscillator (mu=1) on [0, 20],
with noise 0.05, from initial states drawn uniformly in [-2.5, 2.5]^2 (seeded), and
three further noise-free trajectories from other initial states as a test set.
"""

import numpy as np

from skneuralode.datasets import van_der_pol

SAMPLES_PER_TRAJECTORY = 1000
SPAN = (0.0, 20.0)
NOISE = 0.05
ALPHA = 1e-4


def initial_states(n, seed):
    return np.random.RandomState(seed).uniform(-2.5, 2.5, size=(n, 2))


def training_set(n_trajectories, seed=0):
    """(t, X, trajectory ids) of ``n_trajectories`` noisy trajectories."""
    parts = [
        van_der_pol(SAMPLES_PER_TRAJECTORY, SPAN, x0=tuple(x0), noise=NOISE, random_state=k)
        for k, x0 in enumerate(initial_states(n_trajectories, seed))
    ]
    t = np.concatenate([p[0] for p in parts])
    X = np.vstack([p[1] for p in parts])
    ids = np.repeat(np.arange(n_trajectories), SAMPLES_PER_TRAJECTORY)
    return t, X, ids


def test_mse(model, seed=1000, n=3):
    """Mean squared error of free-run simulations on ``n`` unseen noise-free trajectories."""
    errors = []
    for x0 in initial_states(n, seed):
        t, X = van_der_pol(401, SPAN, x0=tuple(x0))
        errors.append(np.mean((model.predict(t, X[0]) - X) ** 2))
    return float(np.mean(errors))
