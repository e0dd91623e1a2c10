"""IPOPT options, option files, route probing and failure messages (``_solver``)."""

import os
import sys

import pytest
from sklearn.exceptions import ConvergenceWarning

from skneuralode import CollocationNeuralODE, SolverError, _solver
from skneuralode._fitted import check_result
from skneuralode._solver import SolveResult, check_ipopt_options, failure_advice
from skneuralode.datasets import van_der_pol

PARAMS = dict(width=8, degree=2, alpha=1e-4, random_state=0)


def _routes():
    """(engine, solver) pairs of the cyipopt package available here."""
    routes = [("numpy", "auto")]
    if _solver.available_solvers()["pynumero"][0]:
        routes.append(("pyomo", "pynumero"))
    return routes


@pytest.fixture
def data():
    return van_der_pol(40, (0, 6))


@pytest.mark.parametrize("engine, solver", _routes())
def test_ipopt_opt_in_the_working_directory_is_not_read(
    engine, solver, data, tmp_path, monkeypatch
):
    (tmp_path / "ipopt.opt").write_text("max_iter 2\n")
    monkeypatch.chdir(tmp_path)
    model = CollocationNeuralODE(engine=engine, solver=solver, **PARAMS).fit(*data)
    assert model.solver_status_ == "optimal" and model.n_iter_ > 2


@pytest.mark.parametrize("engine, solver", _routes())
def test_an_options_file_named_in_solver_options_is_read(engine, solver, data, tmp_path):
    path = tmp_path / "my.opt"
    path.write_text("max_iter 2\n")
    model = CollocationNeuralODE(
        engine=engine, solver=solver, solver_options={"option_file_name": str(path)}, **PARAMS
    )
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        model.fit(*data)
    assert model.solver_status_ == "maxIterations" and model.n_iter_ == 2


@pytest.mark.parametrize(
    "options, match",
    [
        ({"max_iter": 10.0}, r"max_iter=10\.0: .*of type\s+Integer"),
        ({"not_an_option": 1}, r"not_an_option=1: .*not a valid option"),
        ({"mu_strategy": "fastest"}, r"mu_strategy='fastest': .*not a valid setting"),
        ({"max_wall_time": 0.0}, r"max_wall_time=0\.0: .*not a valid setting"),
    ],
)
def test_invalid_solver_options_raise_before_anything_is_built(options, match, data, monkeypatch):
    def must_not_run(*args, **kwargs):
        raise AssertionError("the NLP was built before the options were checked")

    monkeypatch.setattr(CollocationNeuralODE, "_prepare", must_not_run)
    with pytest.raises(ValueError, match=r"`solver_options`: IPOPT rejects " + match):
        CollocationNeuralODE(solver_options=options).fit(*data)


def test_solver_option_types_are_checked():
    import numpy as np

    assert check_ipopt_options({"max_iter": np.int64(5), "tol": np.float32(0.5)}) == {
        "max_iter": 5,
        "tol": 0.5,
    }
    with pytest.raises(TypeError, match=r"`solver_options`\['tol'\] must be an int, float or str"):
        check_ipopt_options({"tol": [1e-6]})
    with pytest.raises(TypeError, match="keys must be IPOPT option names"):
        check_ipopt_options({3: 1})


def test_a_solve_time_option_error_names_the_cause(data):
    """An HSL solver is a valid option name that this IPOPT cannot load."""
    est = CollocationNeuralODE(width=4, solver_options={"linear_solver": "ma57"})
    with pytest.raises(SolverError, match=r"status 'error'.*HSL `linear_solver`.*MUMPS only"):
        est.fit(*data)
    assert not hasattr(est, "coefs_")


@pytest.mark.parametrize(
    "status, advice",
    [
        ("infeasible", "state_bound"),
        ("noSolution", "restoration phase"),
        ("internalSolverError", "NaN or inf"),
        ("resourceInterrupt", "ADMMNeuralODE"),
        ("unbounded", "diverged"),
    ],
)
def test_failures_get_advice_that_fits_the_cause(status, advice):
    result = SolveResult(
        solver="ctypes", status=status, message="IPOPT's words.", n_iter=3, solve_time=0.0
    )
    with pytest.raises(
        SolverError, match=rf"status '{status}': IPOPT's words\. No model .*{advice}"
    ):
        check_result(result)
    assert advice in failure_advice(status)


@pytest.mark.skipif(sys.platform == "win32", reason="the probe double is a sh script")
@pytest.mark.parametrize(
    "engine, solver", [("numpy", "auto"), ("auto", "auto"), ("pyomo", "pynumero")]
)
def test_only_the_requested_route_is_probed(engine, solver, tmp_path, monkeypatch):
    """No `ipopt -v` subprocess when the route resolved to does not use the executable."""
    if engine == "pyomo" and not _solver.available_solvers()["pynumero"][0]:
        pytest.skip("needs Pyomo's PyNumero ASL library")
    marker = tmp_path / "probed"
    exe = tmp_path / "ipopt"
    exe.write_text(f"#!/bin/sh\ntouch {marker}\necho 'Ipopt 3.14.0 (probe double)'\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    _solver.available_solvers.cache_clear()
    try:
        assert _solver.find_solver(engine, solver)[0] in {"numpy", "pyomo"}
        assert not marker.exists()
        assert _solver.available_solvers()["executable"][0]  # reading the route probes it
        assert marker.exists()
    finally:
        _solver.available_solvers.cache_clear()
