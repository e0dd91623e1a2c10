"""The ``"executable"`` route: an ``ipopt`` executable on PATH, through Pyomo's NL files.

No real executable is needed: ``tests/fake_ipopt/fake_ipopt.py`` speaks the AMPL protocol
(``ipopt -v``, ``ipopt stub.nl -AMPL key=value ...``, ``stub.sol``) and solves the NL file
with the real IPOPT inside cyipopt, so the estimator sees genuine IPOPT results and logs.
"""

import os
import signal
import sys
import tempfile
import threading
import time

import numpy as np
import pytest
from conftest import forget_found_solvers
from sklearn.exceptions import ConvergenceWarning

from skneuralode import CollocationNeuralODE, SolverError, _solver
from skneuralode.datasets import van_der_pol

PARAMS = dict(width=8, degree=2, alpha=1e-4, random_state=0)


def _cyipopt_route_works() -> bool:
    return _solver.available_solvers()["pynumero"][0]


pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="the fake executable is a sh script"),
    pytest.mark.skipif(
        not _cyipopt_route_works(), reason="the fake needs cyipopt and PyNumero's ASL library"
    ),
]


@pytest.fixture(scope="module")
def data():
    return van_der_pol(40, (0, 6))


@pytest.fixture(scope="module")
def executable_fit(fake_ipopt, data):
    return CollocationNeuralODE(solver="executable", **PARAMS).fit(*data)


def test_executable_is_found(fake_ipopt):
    import cyipopt
    import pyomo.environ as pyo

    works, found = _solver.available_solvers()["executable"]
    assert works, found
    assert str(fake_ipopt) in found
    # Pyomo's version probe (`ipopt -v`) reads the IPOPT that cyipopt bundles.
    assert pyo.SolverFactory("ipopt").version()[:3] == tuple(cyipopt.IPOPT_VERSION)


def test_executable_fit_converges(executable_fit):
    assert executable_fit.solver_ == "executable"
    assert executable_fit.solver_status_ == "optimal"
    assert executable_fit.converged_
    assert executable_fit.n_iter_ > 0


def test_executable_matches_cyipopt(fake_ipopt, executable_fit, data):
    reference = CollocationNeuralODE(engine="pyomo", solver="pynumero", **PARAMS).fit(*data)
    assert reference.engine_ == "pyomo" and reference.solver_ == "pynumero"
    # The same IPOPT on the same NL problem: same iterations, same weights.
    assert executable_fit.n_iter_ == reference.n_iter_
    got = executable_fit.coefs_ + executable_fit.intercepts_
    want = reference.coefs_ + reference.intercepts_
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)


def test_pyomo_engine_prefers_the_executable(fake_ipopt, data):
    assert _solver.find_solver("pyomo", "auto") == ("pyomo", "executable")
    model = CollocationNeuralODE(engine="pyomo", solver="auto", **PARAMS).fit(*data)
    assert model.engine_ == "pyomo" and model.solver_ == "executable"
    assert model.solver_status_ == "optimal"


def test_auto_engine_prefers_numpy_over_the_executable(fake_ipopt, data):
    assert _solver.find_solver("auto", "auto") == ("numpy", "ctypes")
    model = CollocationNeuralODE(**PARAMS).fit(*data)
    assert model.engine_ == "numpy" and model.solver_ == "ctypes"


def test_max_iter_through_the_executable(fake_ipopt, data):
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        model = CollocationNeuralODE(solver="executable", max_iter=3, **PARAMS).fit(*data)
    assert model.solver_ == "executable"
    assert model.solver_status_ == "maxIterations"
    assert model.n_iter_ == 3
    assert not model.converged_


def test_store_iterates_needs_cyipopt(fake_ipopt, data):
    model = CollocationNeuralODE(solver="executable", store_iterates=True, **PARAMS)
    with pytest.raises(ValueError, match="store_iterates=True needs IPOPT's per-iteration"):
        model.fit(*data)
    assert not hasattr(model, "coefs_")


def test_ipopt_opt_in_the_working_directory_is_not_read(fake_ipopt, data, tmp_path, monkeypatch):
    (tmp_path / "ipopt.opt").write_text("max_iter 2\n")
    monkeypatch.chdir(tmp_path)
    model = CollocationNeuralODE(solver="executable", **PARAMS).fit(*data)
    assert model.solver_status_ == "optimal" and model.n_iter_ > 2
    named = CollocationNeuralODE(
        solver="executable", solver_options={"option_file_name": "ipopt.opt"}, **PARAMS
    )
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        named.fit(*data)
    assert named.n_iter_ == 2


def test_sigint_stops_the_executable_and_leaves_no_temporary_files(
    fake_ipopt, data, tmp_path, monkeypatch
):
    """Ctrl-C reaches this process; it is forwarded to the `ipopt` child, which stops at
    its next iteration and writes its iterate (IPOPT 3.14's executable does the same)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    iterating = tmp_path / "iterating"
    monkeypatch.setenv("FAKE_IPOPT_ITERATING", str(iterating))

    def interrupt_once_iterating():
        deadline = time.monotonic() + 300
        while not iterating.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGINT)

    sender = threading.Thread(target=interrupt_once_iterating)
    sender.start()
    endless = dict(PARAMS, tol=1e-30, max_iter=100_000)
    endless["solver_options"] = {"acceptable_tol": 1e-30, "acceptable_iter": 1000}
    with pytest.warns(ConvergenceWarning, match=r"interrupted \(Ctrl-C\)"):
        model = CollocationNeuralODE(solver="executable", **endless).fit(*data)
    sender.join()
    assert model.solver_status_ == "userInterrupt"
    assert 0 <= model.n_iter_ < 100_000
    assert np.all(np.isfinite(model.predict(*data[:1], data[1][0])))
    assert list(scratch.iterdir()) == []


def test_a_broken_executable_gets_a_clear_error(data, tmp_path, monkeypatch):
    """An `ipopt` that answers `-v` but writes no solution file."""
    exe = tmp_path / "ipopt"
    exe.write_text("#!/bin/sh\necho 'Ipopt 3.14.0 (broken double)'\necho oops >&2\nexit 0\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}")
    monkeypatch.chdir(tmp_path)  # Pyomo looks in the working directory first
    forget_found_solvers()
    try:
        with pytest.raises(SolverError, match=r"executable .*ipopt\) wrote no solution.*ipopt -v"):
            CollocationNeuralODE(solver="executable", **PARAMS).fit(*data)
    finally:
        forget_found_solvers()
