"""The numpy engine's ctypes driver of IPOPT's C interface (``skneuralode._ipopt_c``)
against ``cyipopt.Problem``: same library, same callbacks, the same iterates."""

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skneuralode import CollocationNeuralODE, SolverError, _ipopt_c, _solver
from skneuralode._engines import numpy as _numpy_engine


@pytest.fixture
def driver(monkeypatch):
    def use(name):
        monkeypatch.setattr(_numpy_engine, "DRIVER", name)

    return use


def test_the_c_library_is_found_next_to_cyipopt():
    """On these machines (cyipopt-wheels) the ctypes driver is what the engine uses."""
    lib = _ipopt_c.ipopt_library()
    assert lib is not None
    assert _numpy_engine.problem_class() is _ipopt_c.Problem


def _fit(driver, name, data, **params):
    driver(name)
    t, X = data
    return CollocationNeuralODE(width=8, random_state=0, **params).fit(t, X)


@pytest.mark.parametrize("params", [{}, {"hessian_regularization": "ipopt"}, {"state_bound": 5.0}])
def test_both_drivers_take_the_same_iterates(driver, small_data, params):
    fits = {
        name: _fit(driver, name, small_data, store_iterates=True, **params)
        for name in ("cyipopt", "ctypes")
    }
    a, b = fits["cyipopt"], fits["ctypes"]
    assert a.solver_status_ == b.solver_status_ == "optimal"
    assert a.n_iter_ == b.n_iter_ > 3
    for ca, cb in zip(a.coefs_ + a.intercepts_, b.coefs_ + b.intercepts_):
        np.testing.assert_array_equal(ca, cb)
    np.testing.assert_array_equal(a.collocation_states_, b.collocation_states_)
    assert a.solver_message_ == b.solver_message_
    assert len(a.iterates_) == len(b.iterates_)
    np.testing.assert_array_equal(a.iterates_[-1][1], b.iterates_[-1][1])


def test_limits_and_messages_match(driver, small_data):
    fits = {}
    for name in ("cyipopt", "ctypes"):
        with pytest.warns(ConvergenceWarning, match="maxIterations"):
            fits[name] = _fit(driver, name, small_data, max_iter=2)
    for fit in fits.values():
        assert fit.solver_status_ == "maxIterations"
        assert "Maximum number of iterations exceeded" in fit.solver_message_
    np.testing.assert_array_equal(fits["cyipopt"].coefs_[0], fits["ctypes"].coefs_[0])


def test_estimate_initial_state_through_the_c_driver(driver, small_data):
    t, X = small_data
    est = _fit(driver, "ctypes", small_data)
    x0 = est.estimate_initial_state(t, X)
    driver("cyipopt")
    np.testing.assert_array_equal(x0, est.estimate_initial_state(t, X))


class _Broken(_ipopt_c._SelfTest):
    """The driver's self-test QP, min |x - 1|^2 on x_0 + x_1 = 1, whose Hessian raises
    on its third call."""

    def __init__(self):
        self.calls = 0

    def hessian(self, x, lagrange, obj_factor):
        self.calls += 1
        if self.calls == 3:
            raise ZeroDivisionError("broken on purpose")
        return super().hessian(x, lagrange, obj_factor)


def _problem(obj):
    return _ipopt_c.Problem(
        n=2, m=1, problem_obj=obj, lb=[-10.0, -10.0], ub=[10.0, 10.0], cl=[0.0], cu=[0.0]
    )


def test_a_small_problem_is_solved_exactly():
    obj = _Broken()
    obj.calls = -100  # never reaches 3
    problem = _problem(obj)
    problem.add_option("print_level", 0)
    problem.add_option("tol", 1e-12)
    x, info = problem.solve([0.0, 0.0])
    problem.close()
    assert info["status"] == 0 and "successfully" in info["status_msg"]
    np.testing.assert_allclose(x, [0.5, 0.5], atol=1e-10)  # min |x - 1|^2 on x0 + x1 = 1


def test_an_exception_in_a_callback_is_raised_from_solve():
    problem = _problem(_Broken())
    problem.add_option("print_level", 0)
    problem.add_option("max_iter", 50)
    with pytest.raises(ZeroDivisionError, match="broken on purpose"):
        problem.solve([3.0, -4.0])
    problem.close()


def test_a_rejected_option_raises_type_error():
    problem = _problem(_Broken())
    with pytest.raises(TypeError, match="no_such_option"):
        problem.add_option("no_such_option", 1.0)
    with pytest.raises(TypeError):
        problem.add_option("tol", "not a number")
    problem.close()


def test_wrong_sized_callback_output_is_an_error():
    class Short(_Broken):
        def jacobian(self, x):
            return np.ones(1)

    problem = _problem(Short())
    problem.add_option("print_level", 0)
    with pytest.raises(ValueError, match="jacobian returned 1 values; IPOPT expects 2"):
        problem.solve([0.0, 0.0])
    problem.close()


def test_an_engine_callback_error_becomes_a_solver_error(driver, small_data, monkeypatch):
    def boom(self, *args):
        raise FloatingPointError("evaluation failed")

    monkeypatch.setattr(_numpy_engine.NumpyNLP, "hessian", boom)
    with pytest.raises(SolverError, match="evaluation failed"):
        _fit(driver, "ctypes", small_data)


def test_available_solvers_names_the_driver():
    works, text = _solver.available_solvers()["numpy"]
    assert works
    assert "the numpy engine calls IPOPT's C interface in " in text
    assert "ipopt" in text.split("C interface in ")[1].split(";")[0].lower()


def test_the_self_test_rejects_what_is_not_ipopt():
    """A library whose functions do not behave as declared is not used (here: an object
    with no IPOPT functions at all); the real library passes the same check."""
    assert not _ipopt_c._answers_correctly(object())
    assert _ipopt_c._answers_correctly(_ipopt_c.ipopt_library())


def test_without_the_c_library_the_engine_uses_cyipopt(monkeypatch, small_data):
    import cyipopt

    monkeypatch.setattr(_ipopt_c, "ipopt_library", lambda: None)
    assert _numpy_engine.problem_class() is cyipopt.Problem
    t, X = small_data
    assert CollocationNeuralODE(width=8, random_state=0).fit(t, X).converged_
    monkeypatch.setattr(_numpy_engine, "DRIVER", "ctypes")
    with pytest.raises(RuntimeError, match="C library was not found"):
        _numpy_engine.problem_class()
