"""The ``"ipopt"`` route: an ``ipopt`` executable on PATH, driven by Pyomo's NL-file interface.

No real executable is needed: ``tests/fake_ipopt/fake_ipopt.py`` speaks the AMPL protocol
(``ipopt -v``, ``ipopt stub.nl -AMPL key=value ...``, ``stub.sol``) and solves the NL file
with the real IPOPT inside cyipopt, so the estimator sees genuine IPOPT results and logs.
"""

import os
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skneuralode import CollocationNeuralODE, _solver
from skneuralode.datasets import van_der_pol

FAKE_IPOPT = Path(__file__).parent / "fake_ipopt" / "fake_ipopt.py"
PARAMS = dict(width=8, degree=2, alpha=1e-4, random_state=0)


def _cyipopt_route_works() -> bool:
    return _solver.available_solvers()["cyipopt"][0]


pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="the fake executable is a sh script"),
    pytest.mark.skipif(
        not _cyipopt_route_works(), reason="the fake needs cyipopt and PyNumero's ASL library"
    ),
]


def _forget_found_solvers() -> None:
    """Drop both caches of where `ipopt` is: Pyomo's Executable registry and ours."""
    from pyomo.common import Executable

    Executable("ipopt").rehash()
    _solver.available_solvers.cache_clear()


@pytest.fixture(scope="module")
def fake_ipopt(tmp_path_factory):
    """An `ipopt` on PATH that runs the fake with the interpreter running pytest."""
    bin_dir = tmp_path_factory.mktemp("fake_ipopt_bin")
    exe = bin_dir / "ipopt"
    exe.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(FAKE_IPOPT))} "$@"\n'
    )
    exe.chmod(0o755)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
        mp.delenv("ipopt_options", raising=False)
        mp.chdir(bin_dir)  # no stray ipopt.opt in the working directory
        _forget_found_solvers()
        yield exe
    _forget_found_solvers()


@pytest.fixture(scope="module")
def data():
    return van_der_pol(40, (0, 6))


@pytest.fixture(scope="module")
def executable_fit(fake_ipopt, data):
    return CollocationNeuralODE(solver="ipopt", **PARAMS).fit(*data)


def test_executable_is_found(fake_ipopt):
    import cyipopt
    import pyomo.environ as pyo

    works, found = _solver.available_solvers()["ipopt"]
    assert works, found
    assert str(fake_ipopt) in found
    # Pyomo's version probe (`ipopt -v`) reads the IPOPT that cyipopt bundles.
    assert pyo.SolverFactory("ipopt").version()[:3] == tuple(cyipopt.IPOPT_VERSION)


def test_executable_fit_converges(executable_fit):
    assert executable_fit.solver_ == "ipopt"
    assert executable_fit.solver_status_ == "optimal"
    assert executable_fit.converged_
    assert executable_fit.n_iter_ > 0


def test_executable_matches_cyipopt(fake_ipopt, executable_fit, data):
    reference = CollocationNeuralODE(engine="pyomo", solver="cyipopt", **PARAMS).fit(*data)
    assert reference.engine_ == "pyomo" and reference.solver_ == "cyipopt"
    # The same IPOPT on the same NL problem: same iterations, same weights.
    assert executable_fit.n_iter_ == reference.n_iter_
    got = executable_fit.coefs_ + executable_fit.intercepts_
    want = reference.coefs_ + reference.intercepts_
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_pyomo_engine_prefers_the_executable(fake_ipopt, data):
    assert _solver.find_solver("pyomo", "auto") == ("pyomo", "ipopt")
    model = CollocationNeuralODE(engine="pyomo", solver="auto", **PARAMS).fit(*data)
    assert model.engine_ == "pyomo" and model.solver_ == "ipopt"
    assert model.solver_status_ == "optimal"


def test_auto_engine_prefers_numpy_over_the_executable(fake_ipopt, data):
    assert _solver.find_solver("auto", "auto") == ("numpy", "cyipopt")
    model = CollocationNeuralODE(**PARAMS).fit(*data)
    assert model.engine_ == "numpy" and model.solver_ == "cyipopt"


def test_max_iter_through_the_executable(fake_ipopt, data):
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        model = CollocationNeuralODE(solver="ipopt", max_iter=3, **PARAMS).fit(*data)
    assert model.solver_ == "ipopt"
    assert model.solver_status_ == "maxIterations"
    assert model.n_iter_ == 3
    assert not model.converged_


def test_store_iterates_needs_cyipopt(fake_ipopt, data):
    model = CollocationNeuralODE(solver="ipopt", store_iterates=True, **PARAMS)
    with pytest.raises(ValueError, match="store_iterates=True needs IPOPT's per-iteration"):
        model.fit(*data)
    assert not hasattr(model, "coefs_")
