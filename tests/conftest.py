import os
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from skneuralode import CollocationNeuralODE, _solver
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


FAKE_IPOPT = Path(__file__).parent / "fake_ipopt" / "fake_ipopt.py"


def forget_found_solvers() -> None:
    """Drop both caches of where `ipopt` is: Pyomo's Executable registry and ours."""
    from pyomo.common import Executable

    Executable("ipopt").rehash()
    _solver.available_solvers.cache_clear()


@pytest.fixture(scope="module")
def fake_ipopt(tmp_path_factory):
    """An `ipopt` on PATH that runs the fake (``tests/fake_ipopt``) with the interpreter
    running pytest.

    The shell wrapper answers the version probe (`ipopt -v`) itself: Pyomo waits for it
    only 2 s, which a Python start-up on a loaded machine can exceed.
    """
    bin_dir = tmp_path_factory.mktemp("fake_ipopt_bin")
    version = subprocess.run(
        [sys.executable, str(FAKE_IPOPT), "-v"], capture_output=True, text=True, timeout=300
    ).stdout.strip()
    exe = bin_dir / "ipopt"
    exe.write_text(
        f'#!/bin/sh\nif [ "$1" = "-v" ]; then echo {shlex.quote(version)}; exit 0; fi\n'
        f'exec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_IPOPT))} "$@"\n'
    )
    exe.chmod(0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        mp.delenv("ipopt_options", raising=False)
        mp.chdir(bin_dir)  # no stray ipopt.opt in the working directory
        forget_found_solvers()
        yield exe
    forget_found_solvers()
