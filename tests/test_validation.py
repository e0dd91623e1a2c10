"""Bad input gets a clear error naming the argument; user arrays are never modified."""

import numpy as np
import pytest

from skneuralode import CollocationNeuralODE, SolverNotAvailableError, _solver
from skneuralode.datasets import van_der_pol


@pytest.fixture
def data():
    return van_der_pol(12, (0, 3))


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda t, X: (np.r_[t[:-1], np.nan], X), "Input t contains NaN"),
        (lambda t, X: (t, np.r_[X[:-1], [[np.inf, 0]]]), "Input X contains infinity"),
        (
            lambda t, X: (np.r_[t[:4], t[3], t[5:]], X),
            r"strictly increasing within each trajectory; got t\[4\]=0.818182 after "
            r"t\[3\]=0.818182\. Sort the samples",
        ),
        (lambda t, X: (t[::-1], X), "strictly increasing"),
        (lambda t, X: (t, X[:, :, None]), r"`X` must be 2-D \(n_samples, n_states\)"),
        (lambda t, X: (t, X[:-1]), "`X` has 11 rows but `t` has 12 samples"),
        (lambda t, X: (np.c_[t, t], X), r"`t` must be a 1-D array .* got shape \(12, 2\)"),
        (lambda t, X: (t[:1], X[:1]), "at least 2 samples; got 1"),
        (lambda t, X: (t, None), "requires y to be passed.*observed states as `X`"),
    ],
)
def test_bad_data_is_rejected_with_a_clear_message(data, mutate, match):
    t, X = mutate(*data)
    with pytest.raises(ValueError, match=match):
        CollocationNeuralODE().fit(t, X)


def test_trajectory_errors(data):
    t, X = data
    est = CollocationNeuralODE()
    with pytest.raises(ValueError, match="`trajectory` must be 1-D with one id per sample"):
        est.fit(t, X, trajectory=np.zeros(5))
    traj = np.r_[np.zeros(11), 1]
    with pytest.raises(ValueError, match="at least 2 samples; got 1 in trajectory 1.0"):
        est.fit(t, X, trajectory=traj)
    with pytest.raises(ValueError, match="`u` has 3 rows but `t` has 12"):
        est.fit(t, X, u=np.zeros((3, 1)))


@pytest.mark.parametrize(
    "params,match",
    [
        (dict(width=0), "'width' parameter .* int in the range \\[1, inf\\)"),
        (dict(degree=0), "'degree' parameter"),
        (dict(depth=1.5), "'depth' parameter"),
        (dict(scheme="euler"), "'scheme' parameter .*'chebyshev'"),
        (dict(activation="relu"), "'activation' parameter .*'tanh'"),
        (dict(solver="gurobi"), "'solver' parameter .*'cyipopt'"),
        (dict(alpha=-1.0), "'alpha' parameter"),
        (dict(smoothing="lowess"), "'smoothing' parameter"),
    ],
)
def test_invalid_parameters(data, params, match):
    with pytest.raises(ValueError, match=match):
        CollocationNeuralODE(**params).fit(*data)


def test_user_arrays_are_not_modified(data):
    t, X = data
    u = np.cos(t)[:, None]
    traj = np.zeros(len(t))
    copies = [a.copy() for a in (t, X, u, traj)]
    est = CollocationNeuralODE(width=3, max_iter=50).fit(t, X, u=u, trajectory=traj)
    est.predict(t, X[0], u=u)
    est.score(t, X, u=u, trajectory=traj)
    for before, after in zip(copies, (t, X, u, traj)):
        np.testing.assert_array_equal(before, after)


def test_predict_errors(small_model, small_data):
    t, X = small_data
    with pytest.raises(ValueError, match=r"`x0` must hold the 2 initial state\(s\).*\(3,\)"):
        small_model.predict(t, [1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="`x0` \\(the state at t\\[0\\]\\) is required"):
        small_model.predict(t)
    with pytest.raises(ValueError, match="fitted without exogenous inputs"):
        small_model.predict(t, X[0], u=np.zeros((len(t), 1)))
    with pytest.raises(ValueError, match="strictly increasing"):
        small_model.predict(t[::-1], X[0])


def test_predict_requires_the_inputs_it_was_fitted_with(data):
    t, X = data
    est = CollocationNeuralODE(width=3, max_iter=30).fit(t, X, u=np.cos(t)[:, None])
    with pytest.raises(ValueError, match="fitted with 1 exogenous input"):
        est.predict(t, X[0])
    with pytest.raises(ValueError, match="`u` must have 1 column"):
        est.predict(t, X[0], u=np.zeros((len(t), 2)))


def test_unfitted_model_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        CollocationNeuralODE().predict([0.0, 1.0], [0.0, 0.0])


NOTHING_INSTALLED = {
    "numpy": (
        False,
        "Python package `cyipopt` (pip install cyipopt-wheels==1.7.0.dev0): not installed",
    ),
    "cyipopt": (False, "cyipopt through Pyomo's PyNumero: the `cyipopt` package is not installed"),
    "ipopt": (False, "`ipopt` executable on PATH: not found"),
}


def test_no_solver_error_lists_what_was_looked_for(data, monkeypatch):
    monkeypatch.setattr(_solver, "available_solvers", lambda: NOTHING_INSTALLED)
    with pytest.raises(SolverNotAvailableError) as err:
        CollocationNeuralODE().fit(*data)
    msg = str(err.value)
    for piece in [
        "engine='auto', solver='auto'",
        "`cyipopt` (pip install cyipopt-wheels==1.7.0.dev0): not installed",
        "`ipopt` executable on PATH: not found",
        'pip install "skneuralode[ipopt]"',
        "apt-get install -y libamplsolver-dev",
        "python -m pyomo.contrib.pynumero.build",
        "conda install -c conda-forge ipopt",
    ]:
        assert piece in msg


def test_pyomo_engine_without_routes_names_both(data, monkeypatch):
    monkeypatch.setattr(_solver, "available_solvers", lambda: NOTHING_INSTALLED)
    with pytest.raises(SolverNotAvailableError) as err:
        CollocationNeuralODE(engine="pyomo").fit(*data)
    msg = str(err.value)
    assert "engine='pyomo'" in msg and "PyNumero" in msg and "`ipopt` executable" in msg
    assert "Python package `cyipopt`" not in msg  # the numpy engine was not asked for


def test_forcing_a_missing_route_names_it(data):
    if _solver.available_solvers()["ipopt"][0]:
        pytest.skip("an ipopt executable is installed here")
    with pytest.raises(SolverNotAvailableError, match="(?s)solver='ipopt'.*`ipopt` executable"):
        CollocationNeuralODE(solver="ipopt").fit(*data)


def test_numpy_engine_with_the_executable_is_rejected(data):
    with pytest.raises(ValueError, match="engine='numpy' drives IPOPT through the cyipopt"):
        CollocationNeuralODE(engine="numpy", solver="ipopt").fit(*data)


@pytest.mark.parametrize(
    "engine,solver,found,expected",
    [
        ("auto", "auto", ("numpy", "cyipopt", "ipopt"), ("numpy", "cyipopt")),
        ("auto", "cyipopt", ("numpy", "cyipopt", "ipopt"), ("numpy", "cyipopt")),
        ("auto", "ipopt", ("numpy", "cyipopt", "ipopt"), ("pyomo", "ipopt")),
        ("auto", "auto", ("ipopt",), ("pyomo", "ipopt")),
        ("numpy", "auto", ("numpy",), ("numpy", "cyipopt")),
        ("pyomo", "auto", ("numpy", "cyipopt", "ipopt"), ("pyomo", "ipopt")),
        ("pyomo", "auto", ("numpy", "cyipopt"), ("pyomo", "cyipopt")),
        ("pyomo", "cyipopt", ("numpy", "cyipopt", "ipopt"), ("pyomo", "cyipopt")),
    ],
)
def test_engine_and_route_resolution(monkeypatch, engine, solver, found, expected):
    table = {key: (key in found, key) for key in ("numpy", "cyipopt", "ipopt")}
    monkeypatch.setattr(_solver, "available_solvers", lambda: table)
    assert _solver.find_solver(engine, solver) == expected


def test_auto_without_cyipopt_or_executable_does_not_try_pynumero(monkeypatch):
    """PyNumero needs cyipopt too: "auto" falls back to the executable only."""
    table = {"numpy": (False, "a"), "cyipopt": (True, "b"), "ipopt": (False, "c")}
    monkeypatch.setattr(_solver, "available_solvers", lambda: table)
    with pytest.raises(SolverNotAvailableError, match="(?s)  - a\n  - c\n"):
        _solver.find_solver("auto", "auto")
