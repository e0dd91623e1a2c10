"""The numpy engine evaluates the same NLP as the Pyomo model, with exact derivatives.

Two oracles: central finite differences of the engine's own functions (no Pyomo needed,
so these run where PyNumero's ASL library is absent) and PyNumero's evaluation of
``build_model`` (objective, gradient, constraints, Jacobian and Lagrangian Hessian) at
random points, over every scheme x activation x depth 1-3, with and without inputs,
one or several trajectories, with and without the ADMM proximal term.
"""

import itertools

import numpy as np
import pytest
from _nlp_checks import check_against_pynumero, coo, lagrangian_hessian, relative_error
from sklearn.exceptions import ConvergenceWarning

from skneuralode import CollocationNeuralODE, _mlp
from skneuralode._engines.numpy import FixedThetaNLP, NumpyNLP
from skneuralode._problem import constraint_residuals, latent_residuals, objective
from skneuralode.datasets import van_der_pol

FD_AGREEMENT = 1e-6  # directional central differences, relative
EPS = 1e-6

SCHEMES = ["radau", "legendre", "chebyshev"]
ACTIVATIONS = sorted(_mlp.ACTIVATIONS)
DEPTHS = [1, 2, 3]
# (with_u, n_trajectories, proximal): all eight, rotated through the scheme x activation x
# depth grid so that every option meets every scheme, activation and depth.
VARIANTS = list(itertools.product([False, True], [1, 2], [False, True]))
CASES = [
    (scheme, act, depth, *VARIANTS[k % len(VARIANTS)])
    for k, (scheme, act, depth) in enumerate(itertools.product(SCHEMES, ACTIVATIONS, DEPTHS))
]


# (n_latent, missing samples, network fixed): input-output problems, over every scheme
IO_CASES = [
    (scheme, act, depth, n_latent, missing, fixed)
    for scheme in SCHEMES
    for act, depth, n_latent, missing, fixed in [
        ("tanh", 1, 1, False, False),
        ("sigmoid", 2, 2, True, False),
        ("softplus", 1, 0, True, False),
        ("tanh", 2, 1, True, True),
    ]
]


def _problem(
    scheme, activation, depth, with_u, n_traj, proximal, width=3, n_latent=0, missing=False,
    fixed=False,
):  # fmt: skip
    """A small NLP, its numpy evaluator and a random point (w, multipliers)."""
    n = 9
    parts = [
        van_der_pol(n, (0, 4), x0=(1.0 + k, -0.5 * k), forcing_amplitude=0.5, return_bunch=True)
        for k in range(n_traj)
    ]
    t = np.concatenate([b.t for b in parts])
    X = np.vstack([b.X for b in parts])
    if missing:  # about a third of the entries, never a whole column or trajectory
        X[np.random.RandomState(3).rand(*X.shape) < 0.3] = np.nan
        X[0] = parts[0].X[0]
    u = np.vstack([b.u for b in parts]) if with_u else None
    traj = np.repeat(np.arange(n_traj), n) if n_traj > 1 else None
    est = CollocationNeuralODE(
        width=width, depth=depth, activation=activation, scheme=scheme, degree=2, alpha=0.1,
        n_latent=n_latent,
    )  # fmt: skip
    data, _, _ = est._prepare(t, X, u, traj)
    data.proximal = proximal
    rng = np.random.RandomState(7)
    rho, center = (0.7, rng.normal(size=len(data.theta0))) if proximal else (0.0, None)
    if fixed:
        data.fixed_theta, data.normalize_latent = True, False
        data.theta0 = rng.normal(scale=0.8, size=len(data.theta0))
        nlp = FixedThetaNLP(data)
        return data, nlp, rng.normal(size=nlp.n), rng.normal(size=nlp.m), rho, center
    nlp = NumpyNLP(data, rho, center)
    w = np.concatenate([rng.normal(size=nlp.nx), rng.normal(scale=0.8, size=nlp.p)])
    lam = rng.normal(size=nlp.m)
    return data, nlp, w, lam, rho, center


# -------------------------------------------------------------- no Pyomo needed


@pytest.mark.parametrize("scheme,activation,depth,with_u,n_traj,proximal", CASES)
def test_derivatives_match_finite_differences(scheme, activation, depth, with_u, n_traj, proximal):
    _check_finite_differences(*_problem(scheme, activation, depth, with_u, n_traj, proximal)[1:4])


@pytest.mark.parametrize("scheme,activation,depth,n_latent,missing,fixed", IO_CASES)
def test_io_derivatives_match_finite_differences(
    scheme, activation, depth, n_latent, missing, fixed
):
    """Latent states (normalization rows), missing samples and a fixed network."""
    _, nlp, w, lam, _, _ = _problem(
        scheme, activation, depth, True, 2, False, n_latent=n_latent, missing=missing,
        fixed=fixed,
    )  # fmt: skip
    _check_finite_differences(nlp, w, lam)


def _check_finite_differences(nlp, w, lam):
    rng = np.random.RandomState(11)
    jac = coo((nlp.m, nlp.n), nlp.jacobianstructure(), nlp.jacobian(w))
    H = lagrangian_hessian(nlp, w, lam, 0.6)

    def lagrangian_gradient(x):
        J = coo((nlp.m, nlp.n), nlp.jacobianstructure(), nlp.jacobian(x))
        return 0.6 * nlp.gradient(x) + J.T @ lam

    for _ in range(3):
        v = rng.normal(size=nlp.n)
        fd_obj = (nlp.objective(w + EPS * v) - nlp.objective(w - EPS * v)) / (2 * EPS)
        assert nlp.gradient(w) @ v == pytest.approx(fd_obj, rel=FD_AGREEMENT, abs=1e-9)
        fd_con = (nlp.constraints(w + EPS * v) - nlp.constraints(w - EPS * v)) / (2 * EPS)
        assert relative_error(jac @ v, fd_con) < FD_AGREEMENT
        fd_hess = (lagrangian_gradient(w + EPS * v) - lagrangian_gradient(w - EPS * v)) / (2 * EPS)
        assert relative_error(H @ v, fd_hess) < FD_AGREEMENT


@pytest.mark.parametrize("scheme", SCHEMES)
def test_functions_equal_the_problem_module(scheme):
    """Objective and constraints are the ones every other module evaluates."""
    data, nlp, w, _, _, _ = _problem(scheme, "tanh", 2, True, 2, False)
    states, theta = nlp.split(w)
    assert nlp.objective(w) == pytest.approx(objective(data, theta, states), rel=1e-13)
    colloc, cont = constraint_residuals(data, theta, states)
    np.testing.assert_allclose(nlp.constraints(w), np.r_[colloc.ravel(), cont.ravel()],
                               rtol=1e-13, atol=1e-13)  # fmt: skip


def test_io_functions_equal_the_problem_module():
    """With latent states and missing samples: the objective counts the observed entries
    only, and the constraints end with the latent normalization."""
    data, nlp, w, _, _, _ = _problem("radau", "tanh", 1, True, 2, False, n_latent=2, missing=True)
    states, theta = nlp.split(w)
    assert data.n_observed == np.count_nonzero(data.obs_weight)
    assert data.n_observed < data.targets.size * 2 / 3  # latent columns and missing entries
    assert nlp.objective(w) == pytest.approx(objective(data, theta, states), rel=1e-13)
    colloc, cont = constraint_residuals(data, theta, states)
    latent = latent_residuals(data, states)
    z = states[:, -2:]
    np.testing.assert_allclose(latent, [z[:, 0].mean(), np.mean(z[:, 0] ** 2) - 1,
                                        z[:, 1].mean(), np.mean(z[:, 1] ** 2) - 1])  # fmt: skip
    np.testing.assert_allclose(nlp.constraints(w), np.r_[colloc.ravel(), cont.ravel(), latent],
                               rtol=1e-13, atol=1e-13)  # fmt: skip
    # changing an unobserved entry's target changes nothing
    before = nlp.objective(w)
    data.targets[data.obs_weight == 0] = 123.0
    assert nlp.objective(w) == before


def test_structures_are_unique_lower_and_sized():
    """No duplicate entries, the Hessian in the lower triangle, the theta x theta block
    dense and every x_c theta block present."""
    data, nlp, w, lam, _, _ = _problem("legendre", "tanh", 2, True, 2, True)
    for rows, cols in (nlp.jacobianstructure(), nlp.hessianstructure()):
        assert len(set(zip(rows.tolist(), cols.tolist()))) == len(rows)
    rows, cols = nlp.hessianstructure()
    assert np.all(rows >= cols)
    assert len(nlp.hessian(w, lam, 1.0)) == len(rows)
    assert len(nlp.jacobian(w)) == len(nlp.jacobianstructure()[0])
    n_theta_pairs = np.sum((rows >= nlp.nx) & (cols >= nlp.nx))
    assert n_theta_pairs == nlp.p * (nlp.p + 1) // 2


def test_user_arrays_and_problem_are_not_modified():
    data, nlp, w, lam, _, _ = _problem("radau", "sigmoid", 2, True, 1, True)
    copies = [a.copy() for a in (w, lam, data.theta0, data.states0, data.targets)]
    nlp.objective(w), nlp.gradient(w), nlp.constraints(w), nlp.jacobian(w)
    nlp.hessian(w, lam, 0.3)
    for a, b in zip((w, lam, data.theta0, data.states0, data.targets), copies):
        np.testing.assert_array_equal(a, b)


def test_hessian_blocks_match_a_one_block_evaluation(monkeypatch):
    """Points are processed in blocks to bound memory; the blocking changes nothing."""
    from skneuralode._engines import numpy as _numpy_engine

    _, nlp, w, lam, _, _ = _problem("radau", "tanh", 3, True, 2, False)
    whole = nlp.hessian(w, lam, 0.5)
    monkeypatch.setattr(_numpy_engine, "_BLOCK_ENTRIES", 1)  # one point per block
    np.testing.assert_allclose(nlp.hessian(w, lam, 0.5), whole, rtol=1e-13, atol=1e-13)


# ------------------------------------------------------------ against PyNumero


def _pynumero_available():
    try:
        from pyomo.contrib.pynumero.asl import AmplInterface
    except ImportError:
        return False
    return AmplInterface.available()


@pytest.mark.skipif(not _pynumero_available(), reason="needs PyNumero's ASL library")
@pytest.mark.parametrize("scheme,activation,depth,with_u,n_traj,proximal", CASES)
def test_engine_equals_pynumero_on_build_model(
    scheme, activation, depth, with_u, n_traj, proximal
):
    check_against_pynumero(*_problem(scheme, activation, depth, with_u, n_traj, proximal))


@pytest.mark.skipif(not _pynumero_available(), reason="needs PyNumero's ASL library")
@pytest.mark.parametrize("scheme,activation,depth,n_latent,missing,fixed", IO_CASES)
def test_io_engine_equals_pynumero_on_build_model(
    scheme, activation, depth, n_latent, missing, fixed
):
    problem = _problem(
        scheme, activation, depth, True, 2, False, n_latent=n_latent, missing=missing,
        fixed=fixed,
    )  # fmt: skip
    check_against_pynumero(*problem)


# --------------------------------------------------------------- IPOPT solves


@pytest.mark.skipif(not _pynumero_available(), reason="needs PyNumero's ASL library")
def test_both_engines_reach_the_same_objective_on_the_paper_case(paper_data):
    """Forced VdP, 200 noisy Chebyshev samples, width 32, the default (radau) scheme: from
    the same start, IPOPT takes the same path with either engine."""
    train, _ = paper_data
    fits = {
        engine: CollocationNeuralODE(
            width=32, alpha=1e-3, random_state=0, engine=engine,
            hessian_regularization="ipopt",
        ).fit(train.t, train.X)
        for engine in ("numpy", "pyomo")
    }  # fmt: skip
    numpy_fit, pyomo_fit = fits["numpy"], fits["pyomo"]
    assert numpy_fit.engine_ == "numpy" and pyomo_fit.engine_ == "pyomo"
    assert numpy_fit.solver_status_ == pyomo_fit.solver_status_ == "optimal"
    assert numpy_fit.objective_ == pytest.approx(pyomo_fit.objective_, rel=1e-6)
    assert numpy_fit.n_variables_ == pyomo_fit.n_variables_
    assert numpy_fit.n_constraints_ == pyomo_fit.n_constraints_
    assert abs(numpy_fit.n_iter_ - pyomo_fit.n_iter_) <= 2


def test_store_iterates_and_verbose_on_the_numpy_engine(capfd):
    t, X = van_der_pol(30, (0, 5))
    est = CollocationNeuralODE(width=4, degree=2, random_state=0, engine="numpy",
                               store_iterates=True, verbose=2).fit(t, X)  # fmt: skip
    out = capfd.readouterr().out
    assert "This is Ipopt version" in out and "EXIT: Optimal Solution Found." in out
    assert est.iterates_.shape == (est.n_iter_ + 1, len(est.iterates_[0]))
    np.testing.assert_array_equal(est.iterates_[-1], _mlp.pack(est.coefs_, est.intercepts_))
    assert np.all(np.diff(est.iterate_times_) >= 0)


# ------------------------------------------------------- adaptive Hessian shift


def test_the_adaptive_shift_follows_ipopts_regularization():
    """The shift is IPOPT's last delta_w carried over, decreasing by SHIFT_DECREASE, and
    lands on the whole diagonal of the Hessian (states and network)."""
    from skneuralode._engines import numpy as _numpy_engine

    data, nlp, w, lam, _, _ = _problem("legendre", "tanh", 2, True, 2, False)
    assert nlp.adaptive_shift  # the estimator's default
    data.hessian_regularization = "ipopt"
    assert not NumpyNLP(data).adaptive_shift
    data.hessian_regularization = "adaptive"
    nlp = NumpyNLP(data)
    plain = lagrangian_hessian(nlp, w, lam, 0.5)
    report = (0, 1, 0.0, 0.0, 0.0, 0.1, 1.0)
    nlp.intermediate(*report, 0.9, 1.0, 1.0, 0)  # IPOPT needed delta_w = 0.9
    assert nlp.shift == pytest.approx(0.9 * _numpy_engine.SHIFT_DECREASE)
    shifted = lagrangian_hessian(nlp, w, lam, 0.5)
    np.testing.assert_allclose(shifted - plain, nlp.shift * np.eye(nlp.n), atol=1e-12)
    nlp.intermediate(*report, 0.0, 1.0, 1.0, 0)  # no regularization needed: it decays
    assert nlp.shift == pytest.approx(0.9 * _numpy_engine.SHIFT_DECREASE**2)
    for _ in range(20):
        nlp.intermediate(*report, 0.0, 1.0, 1.0, 0)
    assert nlp.shift == 0.0  # below SHIFT_FLOOR: exactly the exact Hessian again
    np.testing.assert_array_equal(lagrangian_hessian(nlp, w, lam, 0.5), plain)


def test_the_adaptive_shift_reaches_the_same_solution(paper_data):
    """Paper case, radau: a different path to the same minimum, in fewer iterations
    (with IPOPT's own multiplier step, so that only the Hessian rule differs)."""
    train, _ = paper_data
    fits = {
        rule: CollocationNeuralODE(
            width=32,
            alpha=1e-3,
            random_state=0,
            engine="numpy",
            hessian_regularization=rule,
            solver_options={"alpha_for_y": "primal"},
        ).fit(train.t, train.X)
        for rule in ("adaptive", "ipopt")
    }
    assert fits["adaptive"].solver_status_ == fits["ipopt"].solver_status_ == "optimal"
    assert fits["adaptive"].objective_ == pytest.approx(fits["ipopt"].objective_, rel=1e-6)
    assert fits["adaptive"].n_iter_ < fits["ipopt"].n_iter_


def test_the_default_multiplier_step_halves_the_iterations(paper_data):
    """Paper case, radau: the estimators' ``alpha_for_y="min-dual-infeas"`` against
    IPOPT's own ``"primal"``: both converge, the default in at most 60% of the
    iterations, to a minimum at least as low (here another, slightly lower one)."""
    train, _ = paper_data
    fits = {
        step: CollocationNeuralODE(
            width=32, alpha=1e-3, random_state=0, solver_options=options
        ).fit(train.t, train.X)
        for step, options in (("default", None), ("primal", {"alpha_for_y": "primal"}))
    }
    assert fits["default"].solver_status_ == fits["primal"].solver_status_ == "optimal"
    assert fits["default"].n_iter_ <= 0.6 * fits["primal"].n_iter_
    assert fits["default"].objective_ <= fits["primal"].objective_ * (1 + 1e-6)
    assert fits["default"].train_mse_ <= 1.05 * fits["primal"].train_mse_  # free-run fit


def test_solver_options_override_the_default_multiplier_step():
    from skneuralode._spec import ipopt_options

    est = CollocationNeuralODE()
    assert ipopt_options(est.get_params())["alpha_for_y"] == "min-dual-infeas"
    est.set_params(solver_options={"alpha_for_y": "primal"})
    assert ipopt_options(est.get_params())["alpha_for_y"] == "primal"
    assert est.get_params()["solver_options"] == {"alpha_for_y": "primal"}


def test_a_failed_adaptive_solve_is_solved_again_with_ipopts_rule(monkeypatch, small_data):
    """A path that fails with the shift (made to fail here) is retried from the same
    start with IPOPT's own rule; the model comes from the retry, the message says so."""
    from skneuralode._engines import numpy as _numpy_engine

    real = _numpy_engine.solve_numpy
    calls = []

    def first_fails(nlp, options, record=False, progress=None, deadline=None):
        calls.append(nlp.adaptive_shift)
        code, message, x, log, iterates = real(nlp, options, record, progress, deadline)
        return (
            (-3, "Error in step computation", x, log, iterates)
            if nlp.adaptive_shift
            else (code, message, x, log, iterates)
        )

    monkeypatch.setattr(_numpy_engine, "solve_numpy", first_fails)
    t, X = small_data
    est = CollocationNeuralODE(width=8, degree=2, alpha=1e-4, random_state=0).fit(t, X)
    assert calls == [True, False]
    assert est.converged_ and est.solver_status_ == "optimal"
    assert "solved again with IPOPT's own Hessian regularization" in est.solver_message_
    assert "'solverFailure'" in est.solver_message_
    reference = CollocationNeuralODE(
        width=8, degree=2, alpha=1e-4, random_state=0, hessian_regularization="ipopt"
    )
    monkeypatch.setattr(_numpy_engine, "solve_numpy", real)
    np.testing.assert_allclose(est.coefs_[0], reference.fit(t, X).coefs_[0], rtol=1e-9, atol=1e-12)


def test_limits_are_not_retried(monkeypatch, small_data):
    from skneuralode._engines import numpy as _numpy_engine

    real = _numpy_engine.solve_numpy
    calls = []

    def counted(nlp, options, record=False, progress=None, deadline=None):
        calls.append(nlp.adaptive_shift)
        return real(nlp, options, record, progress, deadline)

    monkeypatch.setattr(_numpy_engine, "solve_numpy", counted)
    t, X = small_data
    with pytest.warns(ConvergenceWarning, match="max_iter"):
        CollocationNeuralODE(width=8, max_iter=2, random_state=0).fit(t, X)
    assert calls == [True]
