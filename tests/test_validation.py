"""Bad input gets a clear error naming the argument; user arrays are never modified."""

import copy
import time
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skneuralode import CollocationNeuralODE, SolverNotAvailableError, _init, _solver
from skneuralode._init import smooth_trajectory
from skneuralode._simulate import VectorField, simulate
from skneuralode._validation import (
    check_integrator_options,
    check_states,
    check_times,
    check_trajectory,
)
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
        (dict(solver="gurobi"), "'solver' parameter .*'pynumero'"),
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
    "pynumero": (
        False,
        "cyipopt through Pyomo's PyNumero: the `cyipopt` package is not installed",
    ),
    "executable": (False, "`ipopt` executable on PATH: not found"),
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
        'pip install ".[ipopt]" in a clone',
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
    if _solver.available_solvers()["executable"][0]:
        pytest.skip("an ipopt executable is installed here")
    with pytest.raises(
        SolverNotAvailableError, match="(?s)solver='executable'.*`ipopt` executable"
    ):
        CollocationNeuralODE(solver="executable").fit(*data)


def test_numpy_engine_with_the_executable_is_rejected(data):
    with pytest.raises(
        ValueError,
        match="engine='numpy' drives IPOPT itself.*solver='executable' is a route of the pyomo",
    ):
        CollocationNeuralODE(engine="numpy", solver="executable").fit(*data)


ALL = ("numpy", "pynumero", "executable")


@pytest.mark.parametrize(
    "engine,solver,found,expected",
    [
        ("auto", "auto", ALL, ("numpy", "ctypes")),
        ("auto", "pynumero", ALL, ("pyomo", "pynumero")),
        ("auto", "executable", ALL, ("pyomo", "executable")),
        ("auto", "auto", ("executable",), ("pyomo", "executable")),
        ("numpy", "auto", ("numpy",), ("numpy", "ctypes")),
        ("pyomo", "auto", ALL, ("pyomo", "executable")),
        ("pyomo", "auto", ("numpy", "pynumero"), ("pyomo", "pynumero")),
        ("pyomo", "pynumero", ALL, ("pyomo", "pynumero")),
    ],
)
def test_engine_and_route_resolution(monkeypatch, engine, solver, found, expected):
    table = {key: (key in found, key) for key in ALL}
    monkeypatch.setattr(_solver, "available_solvers", lambda: table)
    assert _solver.find_solver(engine, solver) == expected


def test_auto_without_cyipopt_or_executable_does_not_try_pynumero(monkeypatch):
    """PyNumero needs cyipopt too: "auto" falls back to the executable only."""
    table = {"numpy": (False, "a"), "pynumero": (True, "b"), "executable": (False, "c")}
    monkeypatch.setattr(_solver, "available_solvers", lambda: table)
    with pytest.raises(SolverNotAvailableError, match="(?s)  - a\n  - c\n"):
        _solver.find_solver("auto", "auto")


# ------------------------------------------------------- time units and gaps


def _quick(**params):
    """A tiny fit whose IPOPT run may stop early (the tests compare, not judge, it)."""
    return CollocationNeuralODE(width=8, degree=2, max_iter=50, random_state=0, **params)


def _fit_quietly(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


# The smoothing spline runs on standardized times (t - t[0]) / median(diff(t)) (issue 21;
# on times normalized by the span, GCV oversmoothed the paper case), so every unit gives
# the same scaled problem; tests/test_invariance.py checks whole fits.
@pytest.mark.parametrize(
    "t_factor,x_factor", [(1e-5, 1.0), (1e5, 1.0), (1.0, 1e-150), (1.0, 1e150), (1e-100, 1e100)]
)
def test_units_do_not_change_the_scaled_problem(t_factor, x_factor):
    """Spline, scaling, NLP, simulation and score are all in scaled units: multiplying t
    or X by any factor (30 samples over 6e-5 used to fail inside scipy's spline; the
    default atol=1e-9 swamped states of 1e-20) changes nothing else."""
    t, X = van_der_pol(30, (0, 6))
    ref = _fit_quietly(_quick(), t, X)
    est = _fit_quietly(_quick(), t * t_factor, X * x_factor)
    np.testing.assert_allclose(est.t_scale_, ref.t_scale_ * t_factor, rtol=1e-12)
    np.testing.assert_allclose(est.x_scale_, ref.x_scale_ * x_factor, rtol=1e-12)
    np.testing.assert_allclose(est.objective_, ref.objective_, rtol=1e-9)
    pred = est.predict(t * t_factor, X[0] * x_factor) / x_factor
    np.testing.assert_allclose(pred, ref.predict(t, X[0]), rtol=1e-6, atol=1e-7)  # integrator
    np.testing.assert_allclose(est.score(t * t_factor, X * x_factor), ref.score(t, X), atol=1e-8)


@pytest.mark.parametrize("span", [1e-12, 1e-4, 1.0, 1e9])
def test_smoothing_spline_is_invariant_to_the_time_unit(span):
    t = np.linspace(0, 1, 30)
    X = np.c_[np.sin(6 * t), np.cos(6 * t)]
    for smoothing, scaled in [("auto", "auto"), (1e-4, 1e-4 * span**3)]:
        ref = smooth_trajectory(t, X, smoothing)
        spl = smooth_trajectory(t * span, X, scaled)
        for a, b in zip(ref, spl):
            np.testing.assert_allclose(b(t * span), a(t), rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(
                b.derivative()(t * span) * span, a.derivative()(t), rtol=1e-7
            )


def test_failing_spline_falls_back_to_linear_interpolation(monkeypatch):
    def ill_posed(*args, **kwargs):
        raise ValueError("Seems like the problem is ill-posed")

    monkeypatch.setattr(_init, "make_smoothing_spline", ill_posed)
    t = np.linspace(0, 2, 10)
    X = np.c_[t**2]
    with pytest.warns(UserWarning, match=r"spline .* failed \(Seems like .*\) with smoothing="):
        (spl,) = smooth_trajectory(t, X, "auto")
    np.testing.assert_allclose(spl(t), X[:, 0])
    np.testing.assert_allclose(spl.derivative()(t[:-1]), np.diff(X[:, 0]) / np.diff(t))


def test_near_duplicate_times_are_rejected_in_fit():
    t, X = van_der_pol(30, (0, 10))
    t[5] = t[4] + 1e-11
    with pytest.raises(
        ValueError,
        match=r"`t` has samples only 1e-11 apart, t\[4\]=1\.37931.* and t\[5\]=1\.37931.*: less "
        r"than 1e-09 of the trajectory's time span 10.*Merge or drop near-duplicate samples",
    ):
        CollocationNeuralODE().fit(t, X)
    traj = np.r_[np.zeros(15), np.ones(15)]
    with pytest.raises(ValueError, match="samples in trajectory 0.0 only 1e-11 apart"):
        CollocationNeuralODE().fit(t, X, trajectory=traj)


def test_predict_and_score_accept_close_times(small_model, small_data):
    t, X = small_data
    close = np.sort(np.r_[t, t[3] + 1e-12])
    pred = small_model.predict(close, X[0])
    np.testing.assert_allclose(pred[3], pred[4], atol=1e-9)
    assert np.isfinite(small_model.score(close, np.insert(X, 4, X[3], axis=0)))


# --------------------------------------------------------------- datetimes


def test_datetime_times_are_seconds_since_the_epoch():
    t, X = van_der_pol(30, (0, 6))
    stamps = np.datetime64("2026-01-01") + (t * 1e9).astype("timedelta64[ns]")
    np.testing.assert_allclose(check_times(stamps), 1767225600.0 + t, rtol=0, atol=1e-6)
    np.testing.assert_allclose(check_times((t * 1e3).astype("timedelta64[ms]")), t, atol=1e-3)
    ref = _fit_quietly(_quick(), t, X)
    est = _fit_quietly(_quick(), stamps, X)
    # float seconds since 1970 resolve ~0.2 µs: the fits agree to that relative precision
    np.testing.assert_allclose(est.t_scale_, ref.t_scale_, rtol=1e-6)
    np.testing.assert_allclose(est.predict(stamps, X[0]), ref.predict(t, X[0]), atol=1e-4)
    # a few times the times' own round-off, 0.2 µs in a spacing of 0.2 s (1.2e-6)
    np.testing.assert_allclose(est.score(stamps, X), ref.score(t, X), atol=1e-5)


def test_not_a_time_is_rejected():
    stamps = np.array(["2026-01-01T00:00", "NaT", "2026-01-01T00:02"], dtype="datetime64[s]")
    with pytest.raises(ValueError, match=r"`t` contains NaT \(not a time\) at index 1"):
        check_times(stamps)


def test_datetime_states_are_rejected():
    stamps = np.array(["2026-01-01", "2026-01-02"], dtype="datetime64[D]")
    with pytest.raises(TypeError, match=r"`X` holds datetime64\[D\] values; it must hold real"):
        check_states(stamps, 2)


# --------------------------------------------------------------- trajectory ids


class _NotAvailable:
    """pd.NA-like: hashable, and its comparisons have no truth value."""

    def __hash__(self):
        return 0

    def __eq__(self, other):
        raise TypeError("boolean value of NA is ambiguous")

    __ne__ = __eq__

    def __repr__(self):
        return "<NA>"


def _object_ids(*values):
    ids = np.empty(len(values), dtype=object)
    ids[:] = list(values)
    return ids


@pytest.mark.parametrize(
    "ids,error,match",
    [
        ([1, "1", 1, "1", 2, 2], TypeError, r"ids must all have one type; got int \(trajectory"
         r"\[0\]=1\), str \(trajectory\[1\]='1'\)\. Use one type"),
        (_object_ids(0, 0, 0, "a", "a", "a"), TypeError, "one type; got int .*, str"),
        ([0, 0, 0, True, True, True], TypeError, "one type; got int .*, bool"),
        ([None] * 6, ValueError, r"`trajectory` has a missing id at index 0 \(trajectory\[0\]="
         r"None\).*Give those samples an id or drop them"),
        ([0.0, 0.0, 0.0, np.nan, 1.0, 1.0], ValueError, r"missing id at index 3 .*=nan"),
        (np.r_[0.0, 0.0, 1.0, 1.0, 1.0, np.nan], ValueError, r"missing id at index 5"),
        (_object_ids("a", "a", _NotAvailable(), "b", "b", "b"), ValueError, "index 2 .*<NA>"),
        (_object_ids(*[[1]] * 6), TypeError, r"ids must be hashable .* trajectory\[0\]=\[1\] of "
         "type list"),
        ([[0, 1], [2]] * 3, ValueError, "`trajectory` must be 1-D with one id per sample"),
    ],
)  # fmt: skip
def test_bad_trajectory_ids(ids, error, match):
    with pytest.raises(error, match=match):
        check_trajectory(ids, np.arange(6.0))


@pytest.mark.parametrize(
    "ids",
    [
        ["b", "a", "b", "a", "c", "c"],
        np.array(["b", "a", "b", "a", "c", "c"]),
        [5, 2, 5, 2, 0, 0],
        np.array([5.5, -1.0, 5.5, -1.0, 0.0, 0.0]),
        _object_ids("b", "a", "b", "a", "c", "c"),
        _object_ids(5, 2.0, 5.0, 2, 0, 0),  # numbers compare equal across int and float
    ],
)
def test_trajectory_groups_in_order_of_first_appearance(ids):
    groups = check_trajectory(ids, np.arange(6.0))
    assert [g.tolist() for g in groups] == [[0, 2], [1, 3], [4, 5]]


# --------------------------------------------------------------- inputs as functions


@pytest.fixture(scope="module")
def forced_data():
    return van_der_pol(12, (0, 3))


@pytest.fixture(scope="module")
def forced_model(forced_data):
    t, X = forced_data
    return _fit_quietly(CollocationNeuralODE(width=3, max_iter=30), t, X, u=np.cos(t)[:, None])


@pytest.mark.parametrize(
    "u,error,match",
    [
        (lambda s: [1.0, 2.0], ValueError, r"`u` must return an array of shape \(1,\) for each "
         r"time \(the model was fitted with 1 input\(s\)\); u\(0\) returned shape \(2,\)"),
        (lambda s: [[1.0]], ValueError, r"u\(0\) returned shape \(1, 1\)"),
        (lambda s: [np.nan], ValueError, r"`u` must return finite inputs; u\(0\) returned "
         r"\[nan\]"),
        (lambda s: [np.inf] if s > 1 else [0.0], ValueError, r"u\(1\.\d+\) returned \[inf\]"),
        (lambda s: None, TypeError, r"`u` must return 1 number\(s\) .* u\(0\) returned None"),
        (lambda s: ["a"], TypeError, r"u\(0\) returned \['a'\], which is not numeric"),
    ],
)  # fmt: skip
def test_bad_input_functions(forced_model, forced_data, u, error, match):
    t, X = forced_data
    with pytest.raises(error, match=match):
        forced_model.predict(t, X[0], u=u)


def test_input_function_errors_propagate_unchanged(forced_model, forced_data):
    t, X = forced_data

    class Mine(Exception):
        pass

    def u(s):
        if s > 1:
            raise Mine("from the user's function")
        return [np.cos(s)]

    with pytest.raises(Mine, match="from the user's function"):
        forced_model.predict(t, X[0], u=u)


def test_scalar_input_function_for_one_input(forced_model, forced_data):
    t, X = forced_data
    np.testing.assert_array_equal(
        forced_model.predict(t, X[0], u=np.cos),
        forced_model.predict(t, X[0], u=lambda s: [np.cos(s)]),
    )


def _exploding_field(rate=200.0):
    """dx/dt = rate * x: overflows float64 before t = 4."""
    return VectorField(
        [np.array([[rate]])], [np.zeros(1)], "identity", np.zeros(1), np.ones(1), 1.0
    )


@pytest.mark.parametrize("method", ["LSODA", "RK45", "RK23", "DOP853", "Radau", "BDF"])
def test_a_blow_up_is_nan_with_a_warning_and_ends(method):
    """LSODA inside solve_ivp loops for ever on an overflowing state; simulate stops."""
    t = np.linspace(0, 10, 11)
    start = time.perf_counter()
    with pytest.warns(RuntimeWarning, match=r"The learned ODE blew up at t=.*predictions from t="):
        out = simulate(_exploding_field(), t, np.array([1.0]), method=method)
    assert time.perf_counter() - start < 10
    assert out[0] == 1.0 and np.all(np.isnan(out[2:]))


def test_simulation_row_zero_is_x0(small_model, small_data):
    t, X = small_data
    x0 = X[0] + 0.1
    np.testing.assert_array_equal(small_model.predict(t, x0)[0], x0)
    np.testing.assert_array_equal(small_model.predict(t[:1], x0), x0[None, :])


# --------------------------------------------------------------- integrator options


@pytest.mark.parametrize(
    "options,method,error,match",
    [
        ({"t_eval": [0.0]}, "LSODA", ValueError, r"`integrator_options` cannot set 't_eval': the "
         r"states are returned at the times `t` you pass\. Remove it; accepted keys for "
         r"integrator='LSODA': \['atol', 'first_step', 'max_step', 'min_step', 'rtol'\]"),
        ({"method": "RK45"}, "LSODA", ValueError, "cannot set 'method': choose the method with "
         "the `integrator` parameter"),
        ({"jac": None}, "Radau", ValueError, "cannot set 'jac': implicit methods get"),
        ({"events": None}, "RK45", ValueError, "cannot set 'events'"),
        ({"vectorized": True}, "RK45", ValueError, "cannot set 'vectorized'"),
        ({"min_step": 1e-3}, "RK45", ValueError, r"has the key 'min_step', which solve_ivp's "
         r"'RK45' method does not take\. Accepted keys: \['atol', 'first_step', 'max_step', "
         r"'rtol'\]"),
        ({"tolerance": 1e-3}, "BDF", ValueError, "has the key 'tolerance'"),
        ({"rtol": -1e-3}, "LSODA", ValueError, r"`integrator_options\['rtol'\]` must be a finite "
         r"number > 0 or 2 of them \(one per state\); got -0\.001"),
        ({"rtol": "1e-3"}, "LSODA", ValueError, r"\['rtol'\]` must be .* got '1e-3'"),
        ({"atol": np.inf}, "LSODA", ValueError, r"\['atol'\]` must be a finite number >= 0"),
        ({"atol": [1e-6] * 3}, "RK45", ValueError, r"\['atol'\]` .* or 2 of them"),
        ({"max_step": 0.0}, "RK45", ValueError, r"\['max_step'\]` must be a number > 0; got 0\.0"),
        ({"first_step": np.nan}, "RK45", ValueError, r"\['first_step'\]` must be a finite number"),
        ({"lband": 1}, "LSODA", ValueError, "cannot set 'lband': LSODA gets the network's exact "
         "Jacobian as a dense matrix"),
        ([("rtol", 1e-3)], "LSODA", TypeError, "`integrator_options` must be a dict of solve_ivp "
         "keywords or None; got list"),
        (None, "Euler", ValueError, r"`integrator` must be one of \['BDF', "),
    ],
)  # fmt: skip
def test_bad_integrator_options(options, method, error, match):
    with pytest.raises(error, match=match):
        check_integrator_options(options, method, n_states=2)


def test_good_integrator_options_are_copied():
    options = {"rtol": 1e-5, "atol": [1e-8, 1e-6], "max_step": np.inf, "min_step": 0}
    clean = check_integrator_options(options, "LSODA", n_states=2)
    assert clean == {**options, "atol": clean["atol"], "min_step": 0.0}
    np.testing.assert_array_equal(clean["atol"], [1e-8, 1e-6])
    assert check_integrator_options(None, "RK45") == {}


def test_integrator_options_are_checked_before_fitting(data):
    t, X = data
    est = CollocationNeuralODE(integrator_options={"t_eval": t})
    with pytest.raises(ValueError, match="`integrator_options` cannot set 't_eval'"):
        est.fit(t, X)


def test_integrator_options_are_checked_in_predict_and_score(small_model, small_data):
    t, X = small_data
    est = copy.deepcopy(small_model).set_params(
        integrator="RK45", integrator_options={"min_step": 1e-9}
    )
    for call in (lambda: est.predict(t, X[0]), lambda: est.score(t, X)):
        with pytest.raises(ValueError, match="has the key 'min_step', which solve_ivp's 'RK45'"):
            call()
    est.set_params(integrator_options={"first_step": 100.0})
    with pytest.raises(ValueError, match=r"\['first_step'\]`=100\.0 is longer than the simulated"):
        est.predict(t, X[0])


def test_score_names_a_wrong_number_of_states(small_model, small_data):
    t, X = small_data
    with pytest.raises(ValueError, match=r"`X` must have the 2 state column\(s\) of the fitted"):
        small_model.score(t, X[:, :1])


@pytest.mark.parametrize(
    "engine, old, expected",
    [
        ("auto", "cyipopt", ("numpy", {"ctypes", "cyipopt"})),  # it chose the numpy engine
        ("pyomo", "cyipopt", ("pyomo", {"pynumero"})),
        ("auto", "ipopt", ("pyomo", {"executable"})),
        ("pyomo", "ipopt", ("pyomo", {"executable"})),
    ],
)
def test_former_route_names_resolve_as_before_with_a_future_warning(
    monkeypatch, engine, old, expected
):
    table = {key: (True, key) for key in ALL}
    monkeypatch.setattr(_solver, "available_solvers", lambda: table)
    with pytest.warns(FutureWarning, match=f"solver='{old}' is deprecated"):
        name, route = _solver.find_solver(engine, old)
    assert name == expected[0] and route in expected[1]


def test_former_probe_keys_still_read_with_a_future_warning():
    found = _solver.available_solvers()
    for old, new in (("cyipopt", "pynumero"), ("ipopt", "executable")):
        with pytest.warns(FutureWarning, match=rf"available_solvers\(\)\['{old}'\] is now"):
            assert found[old] == found[new]


class _StiffField:
    """dx/dt = -1e6 (x - 1): an explicit integrator needs about a million steps."""

    u_mean = u_scale = None
    x_mean, x_scale, t_scale = np.zeros(1), np.ones(1), 1.0

    def scaled(self, x):
        return x

    def __call__(self, x, u=None):
        return -1e6 * (x - 1.0)

    def jacobian(self, x, u=None):
        return np.array([[-1e6]])

    # simulate integrates scaled states; with mean 0, scale 1 and t_scale 1 they are x
    scaled_rates, scaled_jacobian = __call__, jacobian


def test_a_simulation_stops_after_its_step_budget(monkeypatch):
    """An extremely stiff learned field ends with NaN rows and a warning, not a hang."""
    from skneuralode import _simulate

    monkeypatch.setattr(_simulate, "MIN_MAX_STEPS", 2_000)
    monkeypatch.setattr(_simulate, "MAX_STEPS_PER_OUTPUT", 10)
    t = np.linspace(0.0, 1.0, 11)
    with pytest.warns(RuntimeWarning, match="2000 integrator steps without reaching the end"):
        out = _simulate.simulate(_StiffField(), t, np.array([0.0]), method="RK45")
    assert np.isnan(out[-1, 0]) and out[0, 0] == 0.0
    # an implicit method takes a few steps and finishes
    done = _simulate.simulate(_StiffField(), t, np.array([0.0]), method="Radau")
    np.testing.assert_allclose(done[1:, 0], 1.0, atol=1e-6)
