"""CollocationNeuralODE: parameters, constraints, fit / predict / score. No mathematics here:
it validates (``_validation``), describes the NLP (``_spec``), builds it (``_problem``),
solves it (``_solver`` -> ``_engines``), writes the fitted attributes (``_fitted``,
``_diagnostics``) and simulates (``_simulate``), by calling the modules that do each step."""

from __future__ import annotations

import time
from dataclasses import replace
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.validation import check_is_fitted

from . import _mlp, _names, _summary
from ._collocation import SCHEMES
from ._diagnostics import observed_r2, simulate_trajectories
from ._fitted import check_result, store_fit, store_iterates
from ._greybox import GreyBoxField, check_physics_pickles, make_greybox, param_scale
from ._greybox import prepare as prepare_physics
from ._init import fit_scaling
from ._limits import check_deadline, check_memory
from ._names import state_names, uses_names
from ._problem import build_problem
from ._progress import Progress, check_callback_pickles
from ._scaling import Scaling
from ._simulate import VectorField, simulate
from ._sklearn_compat import Interval, StrOptions, fit_context, validate_params
from ._solver import ENGINES, SOLVERS, find_solver, records_iterates, solve
from ._spec import ProblemSpec, ipopt_options
from ._validation import (
    check_columns,
    check_fit_data,
    check_fit_names,
    check_inputs,
    check_integrator_options,
    check_observations,
    check_times,
    check_trajectory,
    check_x0,
    check_x0_names,
    index_names,
)
from .exceptions import warn_user

INTEGRATORS = {"RK45", "RK23", "DOP853", "Radau", "BDF", "LSODA"}
#: The grey-box parameters at their defaults (a model pickled before they existed).
_GREYBOX_DEFAULTS = {
    "physics": None,
    "physics_params": None,
    "physics_bounds": None,
    "physics_fixed": None,
    "physics_alpha": 0.0,
    "latent_start": None,
    "network_inputs": None,
    "state_bounds": None,
}
#: The names parameters at their defaults (a model pickled before they existed).
_NAMES_DEFAULTS = {"state_names": None, "input_names": None}


class CollocationNeuralODE(RegressorMixin, BaseEstimator):
    """Neural ODE ``dx/dt = f_theta(x, u)`` trained as one collocation NLP solved by IPOPT.

    The states of every trajectory are discretized by direct collocation and become
    decision variables next to the network weights; the whole training problem is one
    nonlinear program solved by IPOPT (simultaneous approach, Shapovalova & Tsay 2025),
    evaluated by a numpy engine or as a Pyomo model (``engine``). ``predict`` integrates
    the learned ODE with :func:`scipy.integrate.solve_ivp` and needs neither Pyomo nor
    IPOPT.

    Following scikit-learn's naming, the times ``t`` play the role of ``X`` and the
    observed states play the role of ``y``: ``fit(t, X)`` and ``GridSearchCV(...).fit(t, X)``
    split samples consistently.

    Parameters
    ----------
    width : int, default=32
        Units in each hidden layer of ``f_theta``.
    depth : int, default=1
        Number of hidden layers.
    activation : {"tanh", "sigmoid", "softplus", "identity"}, default="tanh"
        Hidden-layer activation. ``"identity"`` makes ``f_theta`` affine (a linear ODE).
    degree : int, default=3
        Collocation points per finite element (``"radau"``, ``"legendre"``); ignored by
        ``"chebyshev"``.
    scheme : {"radau", "legendre", "chebyshev"}, default="radau"
        - ``"radau"``: finite elements with Radau IIA points (right end included);
        - ``"legendre"``: finite elements with Gauss-Legendre points plus continuity
          equations for the element end values;
        - ``"chebyshev"``: one global polynomial per trajectory on Chebyshev-Gauss-Lobatto
          nodes (the paper's scheme; dense Jacobian, meant for a few hundred samples).
    n_elements : int, default=None
        Finite elements per trajectory, spread uniformly over its span; ``None`` puts one
        element on every interval between samples. For ``"chebyshev"``, the degree of the
        global polynomial (``None``: samples - 1, i.e. nodes = samples). Data are always
        matched at their own times through the collocation polynomial.
    alpha : float, default=1e-3
        L2 penalty on the network weights (biases are not penalized), in scaled units.
    tol : float, default=1e-6
        IPOPT's convergence tolerance (``tol``).
    max_iter : int, default=3000
        IPOPT's iteration limit. Reaching it raises a ``ConvergenceWarning`` and keeps
        the last iterate.
    max_cpu_time : float, default=None
        IPOPT's CPU-time limit in seconds (``None``: no limit). It counts IPOPT alone,
        and CPU time, which on a busy machine runs slower than the clock.
    max_time : float, default=None
        Wall-clock limit in seconds for the whole ``fit``: validation, smoothing and
        building the NLP count, and IPOPT gets the time left as its ``max_wall_time``
        (``None``: no limit). Reaching it keeps the last iterate with a
        ``ConvergenceWarning`` (status ``"maxTimeLimit"``); the numpy engine also checks
        it in every evaluation IPOPT asks for, and on Linux runs IPOPT in a child
        process that is stopped 0.5 s after the limit if it is still running (in a MUMPS
        factorization, which takes no callback); see the user guide, "Size and time
        limits". Reaching it before
        IPOPT starts (while smoothing or building) raises a ``TimeoutError`` that names
        the phase: there is no model to keep. A fit interrupted with Ctrl-C
        ends the same way, at the next IPOPT iteration (status ``"userInterrupt"``); a
        second Ctrl-C raises ``KeyboardInterrupt``.
    engine : {"auto", "numpy", "pyomo"}, default="auto"
        How the NLP is evaluated for IPOPT (the NLP is the same; see Notes):

        - ``"auto"``: ``"numpy"`` when the ``cyipopt`` package imports (unless ``solver``
          names a route of the pyomo engine), else ``"pyomo"`` with an ``ipopt`` executable;
        - ``"numpy"``: exact vectorized derivatives in numpy, handed to IPOPT directly.
          Needs only the ``ipopt`` extra (``pip install ".[ipopt]"`` in a clone); the
          fast default;
        - ``"pyomo"``: the Pyomo model of :meth:`build_model`, solved by ``solver``.
    solver : {"auto", "pynumero", "executable"}, default="auto"
        The IPOPT route of the pyomo engine:

        - ``"auto"``: an ``ipopt`` executable on PATH if present, else PyNumero;
        - ``"executable"``: force the executable (Pyomo's NL-file interface);
        - ``"pynumero"``: force cyipopt through Pyomo's PyNumero interface (needs
          PyNumero's ASL library, see the installation notes).

        The numpy engine reaches IPOPT itself (``solver_`` says how); a pyomo route with
        ``engine="numpy"`` is an error. The former names ``"ipopt"`` (the executable) and
        ``"cyipopt"`` (PyNumero with ``engine="pyomo"``, the numpy engine with
        ``engine="auto"``) still work as they did, with a ``FutureWarning``.
    hessian_regularization : {"adaptive", "ipopt"}, default="adaptive"
        How the numpy engine keeps IPOPT's Newton steps well defined where the Hessian of
        the Lagrangian is indefinite (the pyomo engine always uses ``"ipopt"``):

        - ``"adaptive"``: the shift ``delta_w I`` that IPOPT's inertia correction added
          in one iteration is carried over to the next Hessian, decreased by a factor 3
          each iteration (and dropped below 1e-6), so IPOPT's first factorization usually
          has the right inertia: about one factorization per iteration instead of two or
          three, with the same exact derivatives and the same solutions;
        - ``"ipopt"``: IPOPT's own rule, which tries every iteration without a shift
          first; the numpy and pyomo engines then take the same iterates.

        A solve that fails with ``"adaptive"`` (not a limit or an interrupt) is solved
        again from the same start with ``"ipopt"``; ``solver_message_`` then says so.
    solver_options : dict, default=None
        Any other IPOPT options, e.g. ``{"hessian_approximation": "limited-memory",
        "linear_solver": "ma57"}``. They override the options above and the one IPOPT
        option the estimator changes from IPOPT's default, ``"alpha_for_y":
        "min-dual-infeas"`` (the multipliers' step minimizes the dual infeasibility
        instead of following the primal step length: about half the iterations on most
        fits; pass ``{"alpha_for_y": "primal"}`` for IPOPT's rule). Each is checked by
        IPOPT before anything is built; one it rejects raises a ``ValueError`` with
        IPOPT's reason. IPOPT reads no options file (not even an ``ipopt.opt`` in the
        working directory) unless one is named here as ``"option_file_name"``.
    smoothing : {"auto", "none"} or float, default="auto"
        How the initial states are obtained from the data: ``"auto"`` fits a cubic
        smoothing spline per state with its penalty chosen by generalized
        cross-validation (on about 2 000 evenly strided samples of a longer trajectory);
        a float fixes that penalty; ``"none"`` interpolates linearly. Smoothing also sets
        the time scale.
    init : {"lstsq", "random"}, default="lstsq"
        Initial network weights (the initial states always come from ``smoothing``):

        - ``"lstsq"``: Glorot-random hidden layers (seeded by ``random_state``), then
          the output layer by ridge least squares so that the network reproduces the
          smoothed data's rates at the collocation nodes. The start nearly satisfies the
          collocation equations, which keeps IPOPT away from long stretches of
          inertia-corrected steps (``benchmarks/init_strategies.py``);
        - ``"random"``: Glorot-random weights in every layer, zero biases.
    state_bound : float, default=None
        If set, every scaled (standardized) state is bounded to ``[-state_bound, state_bound]``.
    weight_bound : float, default=None
        If set, every network parameter is bounded to ``[-weight_bound, weight_bound]``.
    n_latent : int, default=0
        Latent (unmeasured) states added to the observed ones: the network maps the full
        state ``(x, z)`` (and the inputs) to its derivative, and ``z`` has no data term.
        Their origin and scale are fixed by constraints (mean 0 and mean square 1 over all
        collocation nodes, scaled units), and they start from the smoothed data's time
        derivatives (see Notes). ``predict`` then needs the full initial state, which
        :meth:`estimate_initial_state` estimates from observations.
    u_interpolation : {"linear", "previous"}, default="linear"
        How the input samples ``u`` are held between samples, in ``fit``, ``predict``,
        ``score`` and :meth:`estimate_initial_state`:

        - ``"linear"``: linear interpolation;
        - ``"previous"``: zero-order hold, each sample's value until the next sample
          (piecewise-constant inputs, e.g. a valve or pump set by a digital controller).
          Exact for finite elements aligned with the samples (``n_elements=None``); the
          integrator restarts at every change of the input.

        Both give the same NLP (size and sparsity); an IPOPT iteration can still cost
        several times more in one fit than in another when IPOPT raises MUMPS's pivot
        tolerance, whichever the interpolation (user guide, "Inputs held between
        samples"; ``solver_options={"mumps_pivtolmax": 1e-3}`` limits it).
    integrator : {"LSODA", "RK45", "RK23", "DOP853", "Radau", "BDF"}, default="LSODA"
        :func:`scipy.integrate.solve_ivp` method used by ``predict`` and ``score``
        (implicit methods get the network's exact Jacobian).
    integrator_options : dict, default=None
        Extra ``solve_ivp`` keywords. The integrator runs in scaled coordinates (states
        ``(x - x_mean_) / x_scale_``, time ``t / t_scale_``), so any unit or offset of
        the data integrates alike. Unless given, ``rtol=1e-7`` and ``atol=1e-9`` on the
        scaled states (``1e-9 * x_scale_`` in the units of the states); a given ``atol``
        is in the units of the states (converted to ``atol / x_scale_``), a given
        ``rtol`` applies to the scaled states (relative to a state's standard deviation
        in the training data, not to its offset); ``max_step``/``first_step``/
        ``min_step`` are in the units of ``t``. A simulation setting, like
        ``integrator`` and ``u_interpolation``: it may be changed after ``fit`` and
        applies to the next ``predict``/``score`` (the fitted network is unchanged).
    random_state : int, RandomState instance or None, default=None
        Seeds the Glorot initialization of the weights.
    verbose : int, default=0
        What ``fit`` prints while IPOPT runs:

        - ``0``: nothing;
        - ``1``: a header, one line per IPOPT iteration (``iter``, ``objective``,
          ``inf_pr``, ``inf_du``, ``lg(mu)``, ``||d||``, ``lg(rg)``, ``alpha_pr``, ``ls``
          in IPOPT's meaning, see :class:`~skneuralode.callbacks.IterationInfo`, and the
          seconds since ``fit`` started) and a last line with IPOPT's status, the
          iterations and the time. The lines are written from Python with
          ``print(..., flush=True)`` to ``sys.stdout`` as it stands at each line, so
          ``contextlib.redirect_stdout``, notebooks and pytest's ``capsys`` capture them;
          to send them to ``logging`` instead, use
          ``callback=skneuralode.callbacks.log_progress(logger)`` with ``verbose=0``.
          The ``"executable"`` route has no per-iteration callback: its lines, read from
          IPOPT's log, come when IPOPT has finished, without times;
        - ``>= 2``: IPOPT's own log (``print_level`` 5), which IPOPT's C code writes to
          file descriptor 1, below Python (a terminal shows it; ``redirect_stdout`` and
          notebooks do not capture it).

        ``estimate_initial_state`` and ``score`` solve silently.
    callback : callable, default=None
        Called after every IPOPT iteration of ``fit`` as ``callback(info)`` with an
        :class:`~skneuralode.callbacks.IterationInfo` (the values of one ``verbose=1``
        line; its ``iteration`` counts from 0, the initial point). Returning ``False``
        stops IPOPT as a Ctrl-C does: the model keeps the last iterate, with
        ``solver_status_="userInterrupt"`` and a ``ConvergenceWarning``; ``None``,
        ``True`` or anything else continues. An exception raised in it stops IPOPT and
        then reaches the caller of ``fit`` unchanged (no model is stored). Needs a route
        with IPOPT's per-iteration callback (the numpy engine, or ``solver="pynumero"``);
        with the ``ipopt`` executable ``fit`` raises a ``ValueError``. Not called by
        ``estimate_initial_state``, ``score``, or in the sub-problems of
        :class:`ADMMNeuralODE` (which has a ``callback`` of its own). Pickling the
        model pickles it, like every parameter: a lambda cannot be pickled (set
        ``callback=None`` first).
    warm_start : bool, default=False
        Start the next ``fit`` from this fit's weights (and its collocation states when the
        discretization has the same size).
    store_iterates : bool, default=False
        Record the network weights at every IPOPT iteration (``iterates_``,
        ``iterate_times_``), e.g. to draw a training curve with :meth:`staged_predict`.
        Needs a route whose per-iteration callback reports the iterate (the numpy engine,
        or ``solver="pynumero"``); the ``ipopt`` executable does not, and ``fit`` then
        raises a ``ValueError``.
    physics : callable, default=None
        Known physics (a grey-box model): ``physics(x, u, p, nn)`` returns the list of
        time derivatives ``dx/dt`` of all states (observed, then latent) in user units,
        from the states ``x``, the inputs ``u``, the physical parameters ``p`` (a mapping
        keyed by the names of ``physics_params``) and the network's outputs ``nn``, e.g.
        ``[p["k4"] * u[0] - p["k1"] * sqrt(h1), p["k2"] * sqrt(h1) + nn[0]]``. Inside, use
        ``+ - * / **`` and the functions of :mod:`skneuralode.physics`; it is traced once
        with SymPy and differentiated exactly, and anything else is an error at ``fit``,
        before IPOPT starts. The network has as many outputs as the largest ``nn`` index
        read plus one (none: a physics-only model, classic parameter estimation), reads
        the scaled states and inputs (``network_inputs``) and its outputs enter in the
        units of the rates they are added to. ``None``: the network is the whole
        right-hand side (today's model, exactly). Define it with ``def`` at the top level
        of a module, so that a fitted model pickles (a lambda fits, but pickling then
        raises an error that says what to do). See the user guide, "Known physics and
        grey-box models".
    physics_params : dict, default=None
        Initial values ``{name: value}`` of the physical parameters, user units; every name
        the physics reads, and no other. Each is fitted (an NLP variable scaled by
        ``|value|``, or 1 if it is 0) unless it is in ``physics_fixed``.
    physics_bounds : dict, default=None
        ``{name: (lower, upper)}``, user units, ``None`` for no bound (e.g.
        ``{"k1": (0, None)}`` keeps ``k1`` non-negative).
    physics_fixed : list of str, default=None
        Names of physical parameters held at their ``physics_params`` value.
    physics_alpha : float, default=0.0
        L2 penalty ``physics_alpha * sum((p / |p_initial|)^2)`` on the fitted physical
        parameters. ``alpha`` does not shrink them; note, though, that ``alpha`` shrinks the
        network's share of the rates, which the physics then takes over: when the
        parameters matter, use a small ``alpha`` (e.g. 1e-5).
    latent_start : array-like of shape (n_latent,), default=None
        With ``physics``: the start (user units) of each latent state the physics reads,
        e.g. a typical level of a tank that is not measured; ``None`` entries for latent
        states it does not read. A latent state the physics reads has user units (no
        normalization); it starts from this value integrated along the nodes by the
        physics (network outputs at zero), or constant where that integration fails.
    network_inputs : list of str, default=None
        With ``physics``: the states and inputs the network reads, by name, e.g.
        ``["x[0]", "u[0]"]`` (states ``x[i]``, latent ones included, then inputs
        ``u[j]``); ``None``: all of them. A model fitted with names (``state_names``,
        ``input_names`` or DataFrame columns) also takes the names, e.g.
        ``["h2", "pump"]``. Restricting them is what makes the physical
        parameters identifiable when the network could otherwise absorb the known terms
        (a network of the lower tank's level for its outflow, not of the upper tank's).
    state_bounds : dict, default=None
        Bounds on the collocation states in user units, ``{"x[i]": (lower, upper)}``
        (``None`` for no bound; states ``x[i]`` observed then latent), e.g.
        ``{"x[1]": (0, None)}`` keeps a level non-negative where the physics takes its
        square root. The keys may also be the state names of a model fitted with names
        (``{"h2": (0, None)}``). They apply to the NLP (with or without physics; with
        ``state_bound`` too), not to ``predict``'s simulation.
    state_names : list of str, default=None
        Names of the observed states (the columns of ``X``), e.g. ``["h1", "h2"]``; the
        column names of a DataFrame ``X`` name them too (the two must then agree).
        Latent states are always called ``z0, z1, ...``. A model fitted with names keeps
        them as ``state_names_``, returns DataFrames from :meth:`predict` and checks the
        columns of the DataFrames it is given. See the user guide, "Names and DataFrames".
    input_names : list of str, default=None
        Names of the exogenous inputs (the columns of ``u``), or a DataFrame ``u``'s
        column names; kept as ``input_names_``.

    Attributes
    ----------
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[l]`` of shape (n_in, n_out), acting on *scaled*
        coordinates: inputs ``(x - x_mean_) / x_scale_`` (then ``(u - u_mean_) / u_scale_``),
        output ``dx_scaled/dtau`` with ``tau = t / t_scale_``. :meth:`vector_field` returns
        ``dx/dt`` in user units.
    intercepts_ : list of ndarray
        Bias vectors, ``intercepts_[l]`` of shape (n_out,), scaled coordinates as above.
    activation_ : str
        The hidden-layer activation the network was fitted with: ``predict``, the exports
        and ``summary`` use it, so changing the ``activation`` parameter after ``fit``
        changes nothing until the next ``fit``.
    x_mean_, x_scale_ : ndarray of shape (n_states + n_latent,)
        State standardization (0 and 1 for the latent states, which live in scaled units).
    u_mean_, u_scale_ : ndarray of shape (n_inputs,) or None
        Input standardization (None without inputs).
    t_scale_ : float
        Time unit of the scaled problem.
    scaling_ : object
        The one scaling object (user units <-> scaled units, latent states included) that
        ``predict``, ``score``, :meth:`estimate_initial_state`, :meth:`vector_field` and
        :meth:`to_pyomo` use; ``x_mean_``, ``x_scale_``, ``t_scale_``, ``u_mean_`` and
        ``u_scale_`` are read-only views of it.
    n_features_in_ : int
        Always 1 (the time column).
    n_states_ : int
        Number of observed state variables (columns of ``X``); the model has
        ``n_states_ + n_latent`` states.
    n_inputs_ : int
        Number of exogenous inputs (0 without ``u``).
    state_names_ : ndarray of shape (n_states\\_ + n_latent,), dtype=object
        Only when the states were named (``state_names``, or a DataFrame ``X`` whose column
        names are all strings): the observed states' names, then ``z0, z1, ...`` for the
        latent states.
    input_names_ : ndarray of shape (n_inputs\\_,), dtype=object
        Only when the inputs were named (``input_names``, or a DataFrame ``u``).
    initial_states_ : ndarray of shape (n_trajectories, n_states + n_latent)
        Fitted initial state of each training trajectory (user units), observed then latent.
    collocation_times_ : ndarray of shape (n_nodes,)
        Times of all collocation nodes (user units).
    collocation_states_ : ndarray of shape (n_nodes, n_states + n_latent)
        Fitted states at the nodes (user units), observed then latent.
    collocation_trajectory_ : ndarray of shape (n_nodes,)
        Trajectory number (order of first appearance) of each node.
    state_range_ : ndarray of shape (2, n_states + n_latent)
        Minimum (row 0) and maximum (row 1) of each state over the observed samples and
        the collocation states (latent ones included), user units: the region the
        model was fitted on (:meth:`to_onnx` writes it as the input bounds).
    input_range_ : ndarray of shape (2, n_inputs) or None
        Minimum and maximum of each input at the collocation nodes (None without
        inputs).
    n_iter_ : int
        IPOPT iterations.
    engine_ : str
        Engine that evaluated the NLP, ``"numpy"`` or ``"pyomo"``.
    solver_ : str
        The route that reached IPOPT: ``"ctypes"`` (IPOPT's C interface) or ``"cyipopt"``
        (``cyipopt.Problem``) for the numpy engine; ``"pynumero"`` or ``"executable"`` for
        the pyomo engine.
    solver_status_ : str
        Pyomo termination condition: ``"optimal"``, ``"maxIterations"``, ...
    solver_message_ : str
        IPOPT's own exit message.
    converged_ : bool
        Whether IPOPT met its tolerances.
    objective_ : float
        Final objective (scaled data misfit + penalty).
    train_mse_ : float
        Mean squared error between the fitted collocation trajectory and the observed
        data (missing samples left out), in user units (a simulation from
        ``initial_states_`` reproduces it up to the discretization error).
    constraint_violation_ : float
        Largest absolute collocation/continuity residual at the solution, scaled units.
    discretization_error_ : float
        How far the learned ODE, simulated (``integrator``) from the first node of every
        collocation chain, departs from the collocation states: RMS over all nodes and
        states in standardized units (a fraction of each state's standard deviation in
        the data; ``inf`` if the simulation diverges). Above 0.1, a converged ``fit`` raises a
        :class:`~skneuralode.DiscretizationWarning`: the collocation solution is then not
        a solution of the learned ODE, and ``n_elements`` or ``degree`` should grow.
    n_variables_, n_constraints_ : int
        Size of the NLP.
    timings_ : dict
        Wall-clock seconds of the fit by stage: ``"setup"`` (everything before IPOPT
        starts, = ``build_time_``), ``"nl_write"`` (writing the NL problem through PyNumero;
        0 otherwise), ``"ipopt"`` (IPOPT's run, the evaluations it asks for included),
        ``"evaluation"`` (time inside the numpy engine's evaluation callbacks; NaN with the
        pyomo engine) and ``"total"`` (= ``fit_time_``).
    fit_time_, build_time_, solve_time_ : float
        Wall-clock seconds: the whole fit; everything before IPOPT starts (validation,
        smoothing, discretization, and the Pyomo model or the numpy engine's sparsity
        structures); IPOPT (with the pyomo engine also writing the NL problem).
    iterates_ : ndarray of shape (n_iter\\_ + 1, n_weights)
        Only with ``store_iterates=True``: the network parameters at IPOPT's initial
        point and after every iteration, packed layer by layer (``coefs_[l]`` flattened
        row-major, then ``intercepts_[l]``; scaled coordinates). The last row equals the
        fitted weights.
    iterate_times_ : ndarray of shape (n_iter\\_ + 1,)
        Only with ``store_iterates=True``: wall-clock seconds from the start of ``fit``
        (model building and NL writing included) at which IPOPT reported each iterate.
    iterate_objectives_ : ndarray of shape (n_iter\\_ + 1,)
        Only with ``store_iterates=True``: the NLP objective at each iterate (the
        collocation trajectory's scaled misfit plus penalty; not feasible before the end).
        With ``physics``, each row ends with the scaled fitted physical parameters.
    physics_params_ : dict
        Only with ``physics``: every physical parameter (fitted and fixed), user units.
    greybox_ : object
        Only with ``physics``: the traced physics with the fitted parameters and its
        units (what ``predict``, :meth:`vector_field` and :meth:`to_pyomo` use; it keeps
        the expressions, not the function). ``greybox_.physics.formulas()`` lists them.
    physics_covariance_ : ndarray of shape (n_fitted, n_fitted)
        Only with fitted physical parameters: their covariance (user units; rows and
        columns in the order of the fitted names of ``physics_params``, see
        ``physics_covariance_info_["names"]``), from the reduced Hessian of the NLP at
        the solution, ``2 s^2 / N`` times the parameters' block of its inverse, with the
        residual variance ``s^2`` over the observed entries less the effective number of
        parameters (the network's included). NaN where it cannot be computed (a singular
        or indefinite reduced Hessian, a parameter at its bound, ADMM); the reason is in
        ``physics_covariance_info_``.
    physics_std_ : dict
        Only with fitted physical parameters: their standard errors, ``{name: std}``
        (the square roots of the diagonal of ``physics_covariance_``).
    physics_covariance_info_ : dict
        How the covariance was computed: ``status`` ("ok", "at_bound", "singular",
        "indefinite", "no_dof", "failed", "not_computed"), ``message``, ``names``,
        ``dof`` (effective parameters), ``s2`` (residual variance, scaled),
        ``cov_sandwich`` (the sandwich form, with a noise variance per state; the one to
        trust when the states' noise levels differ from their scales' proportions), ...

    See Also
    --------
    ADMMNeuralODE : the same model trained by consensus ADMM over data batches.

    Notes
    -----
    With states standardized per component and time scaled by ``t_scale_``, the NLP is

    .. math::

        \\min_{\\theta, x}\\; \\frac{1}{n d} \\sum_{i=1}^{n} \\lVert \\hat x(t_i) - x_i \\rVert^2
        + \\alpha \\lVert W \\rVert^2

    subject to, at every collocation point ``j`` of every element ``k`` of length ``h_k``,
    ``sum_l D[j, l] x_{k,l} = h_k f_theta(x_{k,j}, u_{k,j})``, and continuity between
    elements. ``x_hat(t_i)`` is the collocation polynomial evaluated at the sample time.
    Exogenous inputs ``u`` are interpolated linearly between samples, or held
    (``u_interpolation="previous"``), at collocation nodes and during simulation. Missing
    samples (NaN in ``X``) are left out of the sum, whose ``n d`` then counts the observed
    entries. With ``n_latent > 0`` the state is ``(x, z)``; the latent ``z`` has no data
    term, and ``mean(z_k) = 0``, ``mean(z_k^2) = 1`` over all nodes fix its origin and
    scale (otherwise any affine map of ``z`` would fit equally well). Latent state ``k``
    starts as the time derivative of order ``1 + k // n_states`` of the smoothed observed
    state ``k % n_states``, standardized: for an observable system, outputs and their
    derivatives are valid state coordinates.

    Both engines solve exactly this NLP from the same start. The numpy engine evaluates
    it in vectorized numpy with exact first and second derivatives (the Hessian of the
    Lagrangian by second-order back-propagation through the network) and passes them to
    IPOPT's C interface through ``ctypes`` (``solver_ == "ctypes"``), or through
    ``cyipopt.Problem`` where that library is not found (``solver_ == "cyipopt"``); the
    pyomo engine builds the model of :meth:`build_model` and lets the AMPL library
    differentiate it. They agree to round-off (tested against PyNumero).

    References
    ----------
    .. [1] M. Shapovalova and C. Tsay, "Training Neural ODEs Using Fully Discretized
       Simultaneous Optimization", arXiv:2502.15642, 2025.

    Examples
    --------
    >>> from skneuralode import CollocationNeuralODE
    >>> from skneuralode.datasets import van_der_pol
    >>> t, X = van_der_pol(n_samples=100, t_span=(0, 10))
    >>> model = CollocationNeuralODE(width=16, random_state=0).fit(t, X)
    >>> X_sim = model.predict(t, X[0])
    """

    _parameter_constraints: dict = {
        "width": [Interval(Integral, 1, None, closed="left")],
        "depth": [Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions(set(_mlp.ACTIVATIONS))],
        "degree": [Interval(Integral, 1, None, closed="left")],
        "scheme": [StrOptions(set(SCHEMES))],
        "n_elements": [Interval(Integral, 1, None, closed="left"), None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 0, None, closed="left")],
        "max_cpu_time": [Interval(Real, 0, None, closed="neither"), None],
        "max_time": [Interval(Real, 0, None, closed="neither"), None],
        "engine": [StrOptions(set(ENGINES))],
        "solver": [StrOptions(set(SOLVERS))],
        "hessian_regularization": [StrOptions({"adaptive", "ipopt"})],
        "solver_options": [dict, None],
        "smoothing": [StrOptions({"auto", "none"}), Interval(Real, 0, None, closed="left")],
        "init": [StrOptions({"lstsq", "random"})],
        "state_bound": [Interval(Real, 0, None, closed="neither"), None],
        "weight_bound": [Interval(Real, 0, None, closed="neither"), None],
        "n_latent": [Interval(Integral, 0, None, closed="left")],
        "u_interpolation": [StrOptions({"linear", "previous"})],
        "integrator": [StrOptions(INTEGRATORS)],
        "integrator_options": [dict, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callback": [callable, None],
        "warm_start": ["boolean"],
        "store_iterates": ["boolean"],
        "physics": [callable, None],
        "physics_params": [dict, None],
        "physics_bounds": [dict, None],
        "physics_fixed": [list, tuple, set, None],
        "physics_alpha": [Interval(Real, 0, None, closed="left")],
        "latent_start": ["array-like", None],
        "network_inputs": [list, tuple, None],
        "state_bounds": [dict, None],
        "state_names": ["array-like", None],
        "input_names": ["array-like", None],
    }

    def __init__(
        self,
        *,
        width=32,
        depth=1,
        activation="tanh",
        degree=3,
        scheme="radau",
        n_elements=None,
        alpha=1e-3,
        tol=1e-6,
        max_iter=3000,
        max_cpu_time=None,
        max_time=None,
        engine="auto",
        solver="auto",
        hessian_regularization="adaptive",
        solver_options=None,
        smoothing="auto",
        init="lstsq",
        state_bound=None,
        weight_bound=None,
        n_latent=0,
        u_interpolation="linear",
        integrator="LSODA",
        integrator_options=None,
        random_state=None,
        verbose=0,
        callback=None,
        warm_start=False,
        store_iterates=False,
        physics=None,
        physics_params=None,
        physics_bounds=None,
        physics_fixed=None,
        physics_alpha=0.0,
        latent_start=None,
        network_inputs=None,
        state_bounds=None,
        state_names=None,
        input_names=None,
    ):
        self.width = width
        self.depth = depth
        self.activation = activation
        self.degree = degree
        self.scheme = scheme
        self.n_elements = n_elements
        self.alpha = alpha
        self.tol = tol
        self.max_iter = max_iter
        self.max_cpu_time = max_cpu_time
        self.max_time = max_time
        self.engine = engine
        self.solver = solver
        self.hessian_regularization = hessian_regularization
        self.solver_options = solver_options
        self.smoothing = smoothing
        self.init = init
        self.state_bound = state_bound
        self.weight_bound = weight_bound
        self.n_latent = n_latent
        self.u_interpolation = u_interpolation
        self.integrator = integrator
        self.integrator_options = integrator_options
        self.random_state = random_state
        self.verbose = verbose
        self.callback = callback
        self.warm_start = warm_start
        self.store_iterates = store_iterates
        self.physics = physics
        self.physics_params = physics_params
        self.physics_bounds = physics_bounds
        self.physics_fixed = physics_fixed
        self.physics_alpha = physics_alpha
        self.latent_start = latent_start
        self.network_inputs = network_inputs
        self.state_bounds = state_bounds
        self.state_names = state_names
        self.input_names = input_names

    # ------------------------------------------------------------------ fit
    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, t, X, u=None, trajectory=None):
        """Train the network and the collocation states on trajectory data.

        Parameters
        ----------
        t : array-like of shape (n_samples,)
            Sample times (a pandas Series or Index too); strictly increasing within each
            trajectory, any spacing. The times come first: ``fit(X, t)`` (pysindy's order)
            is an error that says so.
        X : array-like or DataFrame of shape (n_samples, n_states)
            Observed states; NaN marks an entry that was not observed (a missing sample),
            which the objective skips. Every column and trajectory needs one observation.
            A DataFrame whose column names are all strings names the states
            (``state_names_``); then ``predict`` returns DataFrames and the DataFrames
            given to ``score`` and :meth:`estimate_initial_state` must have these columns.
        u : array-like or DataFrame of shape (n_samples, n_inputs), default=None
            Exogenous inputs sampled with the states; they become extra network inputs,
            interpolated linearly in time between samples or held (``u_interpolation``).
            A DataFrame's string column names name the inputs (``input_names_``).
        trajectory : array-like of shape (n_samples,), default=None
            Trajectory id of each sample. Each trajectory gets its own free initial state
            and collocation chain; the network is shared. ``None``: one trajectory.

        Returns
        -------
        self : CollocationNeuralODE
            The fitted estimator.
        """
        start = time.perf_counter()
        engine, route = find_solver(self.engine, self.solver)
        self._check_store_iterates(engine, route)
        options = ipopt_options(self.get_params(deep=False))
        deadline = None if self.max_time is None else start + self.max_time
        data, scaling, names = self._prepare(t, X, u, trajectory, deadline)
        progress = Progress.of(self.verbose, self.callback, start)
        result = solve(
            data, engine, route, options, self.verbose >= 2, self.store_iterates,
            deadline=deadline, progress=progress,
        )  # fmt: skip
        check_result(result)
        store_fit(self, scaling, result.theta, [(data, result.theta, result.states)], [result],
                  build_time=time.perf_counter() - start - result.solve_time,
                  names=names)  # fmt: skip
        store_iterates(self, result, start, self.store_iterates)
        self.fit_time_ = self.timings_["total"] = time.perf_counter() - start
        return self

    def build_model(self, t, X, u=None, trajectory=None):
        """The Pyomo model that :meth:`fit` would solve, built but not solved.

        Add constraints or inspect it, then solve it with any Pyomo solver. Its variables
        are in scaled units: ``x[n, i]`` states at the nodes (observed, then latent),
        ``theta[p]`` the flat network parameters (layout of ``coefs_``/``intercepts_``
        layer by layer, weights row-major then biases; with ``physics``, then the scaled
        fitted physical parameters, whose user values are the named expressions
        ``physics_params[name]``); the Params ``x_mean``, ``x_scale`` and ``t_scale``
        convert.

        Parameters
        ----------
        t, X, u, trajectory
            As in :meth:`fit`.

        Returns
        -------
        model : pyomo.environ.ConcreteModel
        """
        validate_params(self)
        import pyomo.environ as pyo

        from ._pyomo_model import build_model

        data, scaling, _ = self._prepare(t, X, u, trajectory)
        model = build_model(data)
        d = range(scaling.n_observed)  # the observed states (latent ones are scaled already)
        model.x_mean = pyo.Param(d, initialize=dict(enumerate(scaling.x_mean)))
        model.x_scale = pyo.Param(d, initialize=dict(enumerate(scaling.x_scale)))
        model.t_scale = pyo.Param(initialize=scaling.t_scale)
        return model

    def _prepare(self, t, X, u, trajectory, deadline=None):
        """Validate, check the memory it needs, scale, discretize and pick the initial point
        -> (NLPData, Scaling, the user's names of the states and inputs (``check_fit_names``));
        ``TimeoutError`` after a phase that ends past ``deadline``."""
        spec = ProblemSpec.from_params(self.get_params(deep=False))
        frames = X, u
        t, X, u, groups = check_fit_data(t, X, u, trajectory, self.integrator,
                                         self.integrator_options, spec.n_latent)  # fmt: skip
        n_inputs = 0 if u is None else u.shape[1]
        names = check_fit_names(*frames, self.state_names, self.input_names, X.shape[1],
                                n_inputs, spec.n_latent)  # fmt: skip
        if spec.network_inputs is not None or spec.state_bounds is not None:
            spec = index_names(spec, *names)  # "h1" -> "x[0]", as the grey-box code reads
        physics, start = prepare_physics(spec, X.shape[1], n_inputs)
        check_memory([len(g) for g in groups], X.shape[1], n_inputs, spec)
        check_deadline(deadline, "validating the data")
        scaling, smoothers = fit_scaling(t, X, u, groups, spec.smoothing, spec.n_latent, start)
        check_deadline(deadline, "smoothing the data")
        greybox = None if physics is None else make_greybox(spec, physics, scaling)
        theta0, states0 = self._warm_start(X.shape[1] + spec.n_latent, n_inputs)
        if states0 is not None:
            states0 = scaling.full_states(states0)
        data = build_problem(t, X, u, groups, scaling, spec, smoothers=smoothers,
                             theta0=theta0, states0=states0, physics=greybox)  # fmt: skip
        check_deadline(deadline, "building the NLP")
        return data, scaling, names

    def _warm_start(self, n_states: int, n_inputs: int):
        """With ``warm_start``, this fit's weights and collocation states (user units), when
        the network has the layer sizes of the next fit; else (None, None)."""
        if not (self.warm_start and hasattr(self, "coefs_")):
            return None, None
        if self.physics is not None or hasattr(self, "greybox_"):
            return self._warm_start_physics(n_states, n_inputs)
        sizes = _mlp.layer_sizes(n_states + n_inputs, n_states, self.width, self.depth)
        if [c.shape for c in self.coefs_] != list(zip(sizes[:-1], sizes[1:])):
            return None, None
        return _mlp.pack(self.coefs_, self.intercepts_), self.collocation_states_

    def _warm_start_physics(self, n_states: int, n_inputs: int):
        """The warm start of a grey-box model: the same physics function, parameter names
        and fixed parameters, and a network of the same shape; else (None, None)."""
        greybox = getattr(self, "greybox_", None)
        if greybox is None or self.physics is None:
            return None, None
        names = tuple(self.physics_params or {})
        fixed = set(self.physics_fixed or ())
        free = [n for n in names if n not in fixed]
        if names != greybox.physics.param_names or free != [names[k] for k in greybox.free]:
            return None, None
        n_out = greybox.n_network
        shapes = []
        if n_out:
            n_read = greybox.network_input_count(n_inputs)
            sizes = _mlp.layer_sizes(n_read, n_out, self.width, self.depth)
            shapes = list(zip(sizes[:-1], sizes[1:]))
        if [c.shape for c in self.coefs_] != shapes or n_states != greybox.n_states:
            return None, None
        scale = param_scale([self.physics_params[n] for n in free])
        fitted = greybox.values[greybox.free] / scale
        return np.concatenate([self._network_theta(), fitted]), self.collocation_states_

    def _network_theta(self) -> np.ndarray:
        return _mlp.pack(self.coefs_, self.intercepts_) if self.coefs_ else np.zeros(0)

    def _fitted_theta(self) -> np.ndarray:
        """The fitted ``theta`` of the NLP: the network, then (with physics) the scaled
        physical parameters."""
        theta = self._network_theta()
        if hasattr(self, "greybox_"):
            theta = np.concatenate([theta, self.greybox_.scaled_params()])
        return theta

    def _check_store_iterates(self, engine: str, route: str) -> None:
        """``store_iterates`` and ``callback`` need IPOPT's per-iteration callback."""
        asks = (
            (self.store_iterates, "store_iterates=True", "store_iterates=False"),
            (self.callback is not None, "callback", "callback=None"),
        )
        for asked, name, off in asks:
            if asked and not records_iterates(engine, route):
                raise ValueError(
                    f"{name} needs IPOPT's per-iteration callback; "
                    f"engine={self.engine!r}, solver={self.solver!r} resolved to the {engine} "
                    f"engine's {route!r} route, which does not report its iterates. "
                    f"Use engine='numpy' (pip install cyipopt-wheels) or {off}."
                )

    # ------------------------------------------------------- scaling (views)
    @property
    def x_mean_(self) -> np.ndarray:
        """Mean of the full state (``scaling_``): observed states, then 0 per latent one."""
        return self.scaling_.mean

    @property
    def x_scale_(self) -> np.ndarray:
        """Scale of the full state (``scaling_``): observed states, then 1 per latent one."""
        return self.scaling_.scale

    @property
    def t_scale_(self) -> float:
        """Time unit of the scaled problem (``scaling_``)."""
        return self.scaling_.t_scale

    @property
    def u_mean_(self) -> np.ndarray | None:
        """Input means (``scaling_``), None without inputs."""
        return self.scaling_.u_mean

    @property
    def u_scale_(self) -> np.ndarray | None:
        """Input scales (``scaling_``), None without inputs."""
        return self.scaling_.u_scale

    # ------------------------------------------------------------ predict
    @property
    def _n_latent_fitted(self) -> int:
        """Latent states of the fitted model."""
        return self.scaling_.n_latent

    def vector_field(self):
        """The learned right-hand side ``f(x, u) -> dx/dt`` in user units (numpy only).

        Returns
        -------
        field : callable
            ``field(X)`` or ``field(X, U)`` with ``X`` of shape (n, n_states + n_latent)
            returns the time derivatives, same shape; ``field.jacobian(x)`` gives d f / d x.
        """
        check_is_fitted(self)
        return self._vector_field(self._fitted_theta())

    def _fitted_layers(self) -> dict:
        """``width`` and ``depth`` of the fitted network (not the parameters, which may
        have been changed since ``fit``); empty without a network."""
        if not self.coefs_:
            return {}
        return {"width": self.coefs_[0].shape[1], "depth": len(self.coefs_) - 1}

    def _vector_field(self, theta):
        """The field of ``theta`` (network, then scaled physical parameters)."""
        n_net = len(self._network_theta())
        coefs, intercepts = self.coefs_, self.intercepts_
        if coefs:
            coefs, intercepts = _mlp.Layout.from_coefs(coefs).unpack(theta[:n_net])
        if not hasattr(self, "greybox_"):
            return VectorField.from_network(coefs, intercepts, self.activation_, self.scaling_)
        greybox = self.greybox_
        ps = theta[n_net:] if len(theta) > n_net else greybox.scaled_params()
        params = greybox.user_params(ps)
        return GreyBoxField.from_greybox(greybox, coefs, intercepts, self.activation_, params)

    def to_pyomo(self, time):
        """The learned ODE as a ``pyomo.dae`` block, to optimize with (control, design).

        The fitted weights become constants, with the state, input and time scaling
        folded in, so the block is in user units. Attach it to your model, then apply a
        ``pyomo.dae`` discretization (``"dae.collocation"`` or ``"dae.finite_difference"``)
        to the model: every component is built at the new points of ``time``.

        Parameters
        ----------
        time : pyomo.dae.ContinuousSet
            The time domain, declared on your (concrete) model.

        Returns
        -------
        block : pyomo.environ.Block
            A new block, not yet attached (``m.plant = model.to_pyomo(m.t)``), with

            - ``STATES``, ``INPUTS``: the index sets of the states (observed, then
              latent) and the inputs: the integers ``0, 1, ...``, or, for a model fitted
              with names (DataFrame columns, ``state_names``/``input_names``), the names
              (strings) in order, e.g. ``x[t, "x1"]``;
            - ``x[t, i]``: the states, ``i`` in ``STATES``;
            - ``dxdt[t, i]``: ``DerivativeVar(x, wrt=time)``;
            - ``u[t, j]``: the exogenous inputs, ``j`` in ``INPUTS`` (only for a model
              fitted with ``u``);
            - ``hidden[t, l, j]``: named expressions, unit ``j`` of hidden layer ``l``,
              shared by all outputs;
            - ``f[t, i]``: named expressions, the learned ``dx_i/dt`` at ``x[t, :]``,
              ``u[t, :]`` (equal to :meth:`vector_field`);
            - ``ode[t, i]``: ``dxdt[t, i] == f[t, i]`` at every ``t`` except
              ``time.first()``.

            ``x`` and ``u`` start at the means of the training data; fix or constrain
            ``x[time.first(), :]`` for an initial-value problem.

        See Also
        --------
        to_casadi : The same right-hand side as a CasADi function (IPOPT included in
            CasADi's wheel).
        to_onnx : The network as an ONNX model for OMLT.

        Notes
        -----
        **Which IPOPT solves the exported model.** Pyomo reaches IPOPT by one of two
        routes (``skneuralode.available_solvers()`` says which exist here):

        - ``pyo.SolverFactory("ipopt")`` runs an ``ipopt`` executable found on ``PATH``
          (conda-forge's ``ipopt`` package, ``idaes get-extensions``, or a system
          package); it works with any Pyomo installation.
        - ``pyo.SolverFactory("cyipopt")`` calls cyipopt (the ``ipopt`` extra) through
          PyNumero, which also needs PyNumero's compiled ASL library
          (``pyomo build-extensions``, a C compiler and network access). A pip-only
          install (``pip install "skneuralode[ipopt]"``) does not have it, so this route
          fails there although ``fit`` works.

        With neither, use :meth:`to_casadi`: ``pip install "skneuralode[casadi]"``
        brings CasADi with its own IPOPT, and ``casadi.Opti`` or ``casadi.nlpsol`` solve
        the same optimal-control problems (``examples/plot_mpc_casadi.py``: an MPC loop,
        built once and re-solved in tens of milliseconds per step).

        The first point of ``time`` has no ``ode`` constraint: backward differences and
        Radau or Legendre collocation do not use ``dxdt`` there. Forward differences
        (``scheme="FORWARD"``) do; add it for them, with ``b = m.plant`` and
        ``t0 = m.t.first()``:
        ``m.ode0 = pyo.Constraint(b.STATES, rule=lambda m, i: b.dxdt[t0, i] == b.f[t0, i])``.
        The learned field is only trustworthy where the training data were
        (``state_range_``, ``input_range_``): bound ``x`` (and ``u``) to that region. A
        long simulation solved as a square system needs a reasonable initial guess for
        ``x`` (e.g. :meth:`predict` on a coarse grid).

        Examples
        --------
        Simulate the learned ODE from ``x0`` in Pyomo (``model`` fitted without inputs;
        an ``ipopt`` executable on ``PATH``):

        >>> import pyomo.environ as pyo
        >>> from pyomo.dae import ContinuousSet
        >>> m = pyo.ConcreteModel()
        >>> m.t = ContinuousSet(bounds=(0.0, 5.0))
        >>> m.plant = model.to_pyomo(m.t)
        >>> pyo.TransformationFactory("dae.collocation").apply_to(m, nfe=20, ncp=3)
        >>> for i, value in zip(m.plant.STATES, x0):
        ...     m.plant.x[0.0, i].fix(value)
        >>> m.obj = pyo.Objective(expr=0.0)
        >>> pyo.SolverFactory("ipopt").solve(m)
        """
        check_is_fitted(self)
        from ._export import build_block

        greybox = getattr(self, "greybox_", None)
        params = None if greybox is None else greybox.values
        names = {}
        if _names.uses_names(self):
            names["state_names"] = _names.state_names(self)
            names["input_names"] = _names.input_names(self) if self.n_inputs_ else None
        return build_block(time, self.coefs_, self.intercepts_, self.activation_, self.scaling_,
                           greybox=greybox, params=params, **names)  # fmt: skip

    def to_casadi(self):
        """The learned right-hand side as a CasADi function ``f(x, u) -> dxdt``.

        The fitted weights become constants, the scaling folded in, so ``f`` acts in
        user units and equals :meth:`vector_field` (to round-off). It is a function of
        CasADi's scalar graph (``SX``): call it on numbers, on ``SX`` or ``MX`` symbols
        (``casadi.Opti``, ``casadi.integrator``, do-mpc), and differentiate it with
        CasADi's algorithmic differentiation (``casadi.jacobian``). With known physics
        (``physics``) the traced physics function is part of the graph, its parameters
        constants at ``physics_params_``.

        Returns
        -------
        f : casadi.Function
            Inputs ``"x"`` (``n_states_ + n_latent``, the states in the order of
            ``state_names_`` or ``x0, x1, ..., z0, ...``) and, for a model fitted with
            inputs, ``"u"`` (``n_inputs_``); output ``"dxdt"`` (``n_states_ +
            n_latent``). Called on a number array it returns a ``casadi.DM``.

        Raises
        ------
        ImportError
            CasADi is not installed: ``pip install "skneuralode[casadi]"``.

        See Also
        --------
        to_pyomo : The learned ODE as a ``pyomo.dae`` block.
        to_onnx : The network as an ONNX model for OMLT.

        Notes
        -----
        CasADi's wheel ships IPOPT (``casadi.nlpsol("S", "ipopt", ...)``,
        ``opti.solver("ipopt")``), so optimal control with the exported model needs
        nothing beyond ``pip install "skneuralode[casadi]"``.
        ``examples/plot_mpc_casadi.py`` builds a multiple-shooting MPC problem once and
        re-solves it every step. Keep the optimizer inside the region of the training
        data (``state_range_``, ``input_range_``), where the learned field is trustworthy.

        Examples
        --------
        >>> f = model.to_casadi()              # model fitted with one input
        >>> f(x=[1.0, 0.5], u=[0.2])["dxdt"]   # DM, equal to model.vector_field()
        >>> import casadi
        >>> x, u = casadi.SX.sym("x", 2), casadi.SX.sym("u", 1)
        >>> J = casadi.Function("J", [x, u], [casadi.jacobian(f(x, u), x)])
        """
        check_is_fitted(self)
        from ._casadi import build_function

        greybox = getattr(self, "greybox_", None)
        params = None if greybox is None else greybox.values
        return build_function(self.coefs_, self.intercepts_, self.activation_, self.scaling_,
                              greybox=greybox, params=params)  # fmt: skip

    def to_onnx(self, path=None, dtype="float64"):
        """The learned network as an ONNX model that OMLT can load, with input bounds.

        The graph maps ``"x"``, rows of the states then the inputs, to ``"dxdt"`` in
        user units: the input standardization and the output scaling are folded into
        the first and last ``Gemm`` layer; the hidden activations are ONNX's ``Tanh``,
        ``Sigmoid`` or ``Softplus`` (``"identity"``: no operator). The training data's
        range of every input (``state_range_`` for the states, latent collocation states
        included, then ``input_range_``) is kept as the input bounds, with the names of
        the states and inputs, in the model's ``metadata_props``.

        Parameters
        ----------
        path : str or path-like, default=None
            Also write the model to ``path`` and its input bounds to
            ``<path>.bounds.json``, the two files of OMLT's
            ``write_onnx_model_with_bounds``: ``load_onnx_neural_network_with_bounds(path)``
            loads the network with its bounds.
        dtype : {"float64", "float32"}, default="float64"
            Element type of the weights and of ``"x"``/``"dxdt"``. ``"float64"`` keeps
            the fitted weights exactly (what OMLT reads into Pyomo); onnxruntime's CPU
            provider has no double-precision ``Softplus``, so to run a
            ``activation="softplus"`` model there use ``"float32"``.

        Returns
        -------
        model : onnx.ModelProto
            Input ``"x"`` of shape ``(N, n_states_ + n_latent + n_inputs_)``, output
            ``"dxdt"`` of shape ``(N, n_states_ + n_latent)``. ``metadata_props``:
            ``"skneuralode.inputs"`` (column names of ``"x"``), ``"skneuralode.outputs"``
            (the states), ``"skneuralode.input_bounds"`` (``[[lower, upper], ...]``),
            ``"skneuralode.n_states"``, ``"skneuralode.n_latent"``,
            ``"skneuralode.n_inputs"``, ``"skneuralode.activation"`` (JSON strings).

        Raises
        ------
        ImportError
            onnx is not installed: ``pip install "skneuralode[onnx]"``.
        NotImplementedError
            The model has known physics (``physics``): its right-hand side is the physics
            function of the network's outputs, which is not a chain of dense layers that
            OMLT reads. Use :meth:`to_pyomo` or :meth:`to_casadi`, which carry the
            physics.

        See Also
        --------
        to_pyomo : The learned ODE as a ``pyomo.dae`` block.
        to_casadi : The right-hand side as a CasADi function.

        Examples
        --------
        >>> model.to_onnx("vdp.onnx")  # also writes vdp.onnx.bounds.json
        >>> from omlt import OmltBlock
        >>> from omlt.io import load_onnx_neural_network_with_bounds
        >>> from omlt.neuralnet import FullSpaceSmoothNNFormulation
        >>> net = load_onnx_neural_network_with_bounds("vdp.onnx")
        >>> m = pyo.ConcreteModel()
        >>> m.f = OmltBlock()
        >>> m.f.build_formulation(FullSpaceSmoothNNFormulation(net))
        """
        check_is_fitted(self)
        from ._onnx import DTYPES, build_model, save

        if dtype not in DTYPES:
            raise ValueError(f"`dtype` must be one of {sorted(DTYPES)}; got {dtype!r}.")
        if hasattr(self, "greybox_"):
            raise NotImplementedError(
                f"to_onnx exports a network that is the whole right-hand side; this model "
                f"has known physics ({self.greybox_.physics.name!r}), whose rates are a "
                "function of the network's outputs, not a chain of dense layers that ONNX "
                "readers such as OMLT load. Use to_pyomo() or to_casadi(), which carry the "
                "physics."
            )
        if not hasattr(self, "state_range_"):
            raise AttributeError(
                "this model was fitted by a version of skneuralode that did not keep the "
                "training data's range (state_range_, input_range_), which to_onnx writes "
                "as the input bounds; fit it again."
            )
        from . import __version__

        bounds = self.state_range_ if self.input_range_ is None else np.hstack(
            [self.state_range_, self.input_range_])  # fmt: skip
        states, inputs = _names.state_names(self), _names.input_names(self)
        model = build_model(self.coefs_, self.intercepts_, self.activation_, self.scaling_,
                            bounds=bounds.T, input_names=states + inputs, output_names=states,
                            dtype=dtype, producer_version=__version__)  # fmt: skip
        if path is not None:
            save(model, path, bounds.T)
        return model

    def predict(self, t, x0=None, u=None, return_latent=False, as_frame=None):
        """Simulate the learned ODE from ``x0`` at ``t[0]``.

        Parameters
        ----------
        t : array-like of shape (n_times,)
            Strictly increasing output times (a pandas Series or Index too); the
            simulation starts at ``t[0]``.
        x0 : array-like of shape (n_states + n_latent,)
            Required: the state at ``t[0]``, the observed states, then (with
            ``n_latent > 0``) the latent ones, e.g. from :meth:`estimate_initial_state` or
            ``initial_states_``. A pandas Series (e.g. ``X.iloc[0]``) or one-row DataFrame
            given to a model fitted with names must have all of ``state_names_`` as its
            index or columns, in order. The default ``None`` only exists to raise an error
            that says so: scikit-learn's scorers and meta-estimators such as
            ``TransformedTargetRegressor`` call ``predict(t)`` and cannot simulate; score
            with :meth:`score` or :func:`skneuralode.metrics.make_simulation_scorer`.
        u : array-like of shape (n_times, n_inputs) or callable, default=None
            Exogenous inputs, required when the model was fitted with ``u``: samples at
            ``t`` (held between samples as in ``u_interpolation``; a DataFrame with the
            input names of ``fit`` if it had them) or a function ``u(time) -> (n_inputs,)``.
        return_latent : bool, default=False
            Also return the latent states.
        as_frame : bool, default=None
            Return pandas DataFrames indexed by time (index named ``"t"``, or the name of
            a Series ``t``) with the state names as columns. ``None``: when the model was
            fitted with names (a DataFrame, or ``state_names``); ``False``: always arrays.
            Needs pandas.

        Returns
        -------
        X : ndarray or DataFrame of shape (n_times, n_states)
            Simulated observed states. Rows after an integration failure are NaN (with a
            warning).
        Z : ndarray or DataFrame of shape (n_times, n_latent)
            Only with ``return_latent=True``: the simulated latent states (scaled units).
        """
        check_is_fitted(self)
        times = t
        t, x0, u = self._check_simulation_inputs(t, x0, u)
        states = self._simulate(self.vector_field(), t, x0, u)
        if as_frame or (as_frame is None and uses_names(self)):
            return self._frames(states, times, t, return_latent)
        return self._split_states(states, return_latent)

    def _frames(self, states, times, t, return_latent: bool):
        """``predict``'s DataFrames: the observed (and latent) states indexed by time."""
        try:
            import pandas as pd
        except ImportError as err:
            raise ImportError(
                "predict returns DataFrames for a model fitted with names (or with "
                "as_frame=True), which needs pandas: pip install pandas, or pass "
                "as_frame=False for arrays."
            ) from err
        if isinstance(times, (pd.Series, pd.Index)):
            index = pd.Index(times, name="t" if times.name is None else times.name)
        else:
            index = pd.Index(t, name="t")
        names, d = state_names(self), self.n_states_
        frames = [pd.DataFrame(states[:, :d], index=index, columns=names[:d])]
        if return_latent:
            frames.append(pd.DataFrame(states[:, d:], index=index, columns=names[d:]))
        return tuple(frames) if return_latent else frames[0]

    def _simulate(self, field, t, x0, u):
        return simulate(
            field, t, x0, u, self.integrator, self.integrator_options, self.u_interpolation
        )

    def _split_states(self, states, return_latent: bool):
        observed = states[:, : self.n_states_]
        return (observed, states[:, self.n_states_ :]) if return_latent else observed

    def _check_simulation_inputs(self, t, x0, u):
        t = check_times(t)
        check_trajectory(None, t, min_samples=1, min_gap=0.0)
        n_full = self.n_states_ + self._n_latent_fitted
        check_integrator_options(self.integrator_options, self.integrator, n_full)
        if x0 is None:
            raise ValueError(
                "`x0` (the state at t[0]) is required: predict(t, x0) simulates the learned "
                "ODE from it. `initial_states_` holds the fitted initial states"
                + (", `estimate_initial_state` estimates one" if self._n_latent_fitted else "")
                + ". scikit-learn's scorers and meta-estimators (e.g. "
                "TransformedTargetRegressor) call predict(t) without x0: to score, use "
                "`model.score`, or `skneuralode.metrics.make_simulation_scorer(...)` as "
                "`scoring=` in GridSearchCV and cross_val_score; the states need no target "
                "transform (the model standardizes them)."
            )
        check_x0_names(x0, getattr(self, "state_names_", None))
        x0 = check_x0(x0, self.n_states_, self._n_latent_fitted)
        u = self._check_u(u, len(t))
        return t, x0, u

    def _check_u(self, u, n_samples: int):
        if not callable(u):
            check_columns(u, getattr(self, "input_names_", None), "u")
            return check_inputs(u, n_samples, self.n_inputs_)
        if self.n_inputs_ == 0:
            raise ValueError("This model was fitted without exogenous inputs; got a callable `u`.")
        return u

    def estimate_initial_state(self, t, X, u=None):
        """The full initial state of a trajectory that best explains observations of it.

        With the network fixed at the fitted weights, solves the collocation NLP of the
        samples ``(t, X)`` over the states alone (same engine, scheme and discretization
        as ``fit``): the trajectory of the learned ODE closest to the observed entries in
        the least-squares sense. The latent states start at their training mean.

        Parameters
        ----------
        t : array-like of shape (n_samples,)
            Strictly increasing sample times, at least 2.
        X : array-like or DataFrame of shape (n_samples, n_states)
            Observed states; NaN marks a missing entry. A DataFrame given to a model
            fitted with names must have the columns of ``fit``, in order.
        u : array-like or DataFrame of shape (n_samples, n_inputs), default=None
            Exogenous inputs at ``t``, required when the model was fitted with ``u``.

        Returns
        -------
        x0 : ndarray of shape (n_states + n_latent,)
            The state at ``t[0]``, observed then latent, for :meth:`predict`.
        """
        check_is_fitted(self)
        t, X, u, groups = check_observations(t, X, u, None, self, min_samples=2)
        d, n_latent = self.n_states_, self._n_latent_fitted
        spec = replace(ProblemSpec.from_params(self.get_params(deep=False)), n_latent=n_latent,
                       activation=self.activation_, **self._fitted_layers())  # fmt: skip
        spec = index_names(spec, getattr(self, "state_names_", None),
                           getattr(self, "input_names_", None))  # fmt: skip
        greybox = getattr(self, "greybox_", None)
        data = build_problem(t, X, u, groups, self.scaling_, spec, theta0=self._fitted_theta(),
                             fixed_theta=True, physics=greybox)  # fmt: skip
        if n_latent:  # the training mean of the latent states (0 where normalized)
            latent = np.zeros(n_latent)
            physical = self.scaling_.physical_latent
            if physical.any():
                trained = self.scaling_.full_states(self.collocation_states_)[:, d:]
                latent[physical] = trained[:, physical].mean(axis=0)
            data.states0[:, d:] = latent
        options = {**ipopt_options(self.get_params(deep=False)), "print_level": 0}
        # the fitted engine's route, if this process has it (else SolverNotAvailableError)
        engine, route = find_solver(
            self.engine_, self.solver_ if self.engine_ == "pyomo" else "auto"
        )
        result = solve(data, engine, route, options)
        if not result.converged:
            warn_user(
                f"estimate_initial_state: IPOPT stopped with status {result.status!r} "
                f"({result.message}); the estimate is its last iterate.",
                ConvergenceWarning,
            )
        return self.scaling_.unscale_states(result.states[data.disc.initial_nodes[0]])

    def staged_predict(self, t, x0=None, u=None):
        """Simulate the network of every stored IPOPT iterate, in order.

        Needs a fit with ``store_iterates=True``. With ``iterate_times_`` this gives a
        training curve: the error of the learned ODE against the wall time of training.

        Parameters
        ----------
        t, x0, u
            As in :meth:`predict`.

        Yields
        ------
        X : ndarray of shape (n_times, n_states)
            The simulation with the weights of ``iterates_[k]``, for ``k = 0 .. n_iter_``;
            the last equals ``predict(t, x0, u)``. Early iterates may diverge (NaN rows,
            with a warning).
        """
        check_is_fitted(self)
        if not hasattr(self, "iterates_"):
            raise ValueError(
                "staged_predict needs the weights of every IPOPT iterate: fit with "
                "store_iterates=True (with the numpy engine or solver='pynumero')."
            )
        t, x0, u = self._check_simulation_inputs(t, x0, u)
        for theta in self.iterates_:
            field = self._vector_field(theta)
            yield self._simulate(field, t, x0, u)[:, : self.n_states_]

    def score(self, t, X, u=None, trajectory=None):
        """R² of every trajectory simulated from its start, over all observed states.

        Each trajectory is simulated from its first sample. When that sample is not
        fully observed, or the model has latent states, its initial state is instead
        estimated (:meth:`estimate_initial_state`) from a warm-up window at its start,
        the first ``max(ceil(0.1 n), 2 (n_states + n_latent) + 1)`` of its ``n`` samples
        (at most ``n - 1``), and only the samples after the window are scored, as
        system-identification benchmarks do. Missing entries (NaN) are left out.

        ``GridSearchCV`` and ``cross_val_score`` use this score when ``scoring`` is not
        given. scikit-learn's named scorers (``scoring="r2"``, ...) call ``predict(t)``
        and cannot simulate; for another metric, or several, use
        :func:`skneuralode.metrics.make_simulation_scorer`, which simulates the same way.

        Parameters
        ----------
        t, X, u, trajectory
            As in :meth:`fit` (DataFrames given to a model fitted with names must have
            the columns of ``fit``, in order).

        Returns
        -------
        score : float
            :func:`sklearn.metrics.r2_score` (uniform average over states); ``-inf`` when
            a simulation diverges.

        See Also
        --------
        skneuralode.metrics.make_simulation_scorer : other metrics of the same simulations.
        """
        check_is_fitted(self)
        t, X, u, groups = check_observations(t, X, u, trajectory, self)
        pred, scored = simulate_trajectories(self, t, X, u, groups)
        return observed_r2(X, pred, np.isfinite(X) & scored[:, None], self.scaling_)

    def summary(self):
        """A text summary of the fit: model, discretization, NLP size, solver, fit quality.

        Returns
        -------
        text : str
            Sections of aligned ``key  value`` lines (``print(model.summary())``): the
            states, inputs and network (with ``physics``, the fitted parameters and their
            standard errors), the collocation scheme and its elements and nodes, the
            NLP's variables and constraints, IPOPT's status, message, iterations and
            timings, and ``train_mse_``, ``discretization_error_`` (against its warning
            threshold 0.1) and ``constraint_violation_``.
        """
        return _summary.summary(self)

    def __setstate__(self, state):
        """Unpickle; a model pickled before ``scaling_`` existed (0.1.0.dev0 until 2026-12-05 kept
        ``x_mean_``, ``x_scale_``, ``t_scale_``, ``u_mean_``, ``u_scale_`` as arrays) gets
        its scaling object rebuilt from them, so it predicts as before."""
        if "scaling_" not in state and "x_mean_" in state:
            state = dict(state)
            n_observed = state["n_states_"]
            mean, scale = state.pop("x_mean_"), state.pop("x_scale_")
            state["scaling_"] = Scaling(
                mean[:n_observed], scale[:n_observed], float(state.pop("t_scale_")),
                state.pop("u_mean_", None), state.pop("u_scale_", None),
                n_latent=len(mean) - n_observed,
            )  # fmt: skip
        if "coefs_" in state and "activation_" not in state:  # pickled before activation_
            state = {**state, "activation_": state.get("activation", "tanh")}
        defaults = {**_GREYBOX_DEFAULTS, **_NAMES_DEFAULTS, "callback": None}
        missing = {k: v for k, v in defaults.items() if k not in state}
        if missing:  # pickled before grey-box models, names or `callback`: no such parameters
            state = {**state, **missing}
        super().__setstate__(state)

    def __getstate__(self):
        """Pickle; a ``physics`` function that pickle cannot store by reference (a lambda,
        a nested function) is a clear error here (``copy.deepcopy`` and cloudpickle, which
        joblib and Dask use, store it by value and are let through)."""
        state = super().__getstate__()
        check_physics_pickles(self.physics)
        check_callback_pickles(getattr(self, "callback", None))
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        tags.target_tags.multi_output = True
        tags.regressor_tags.poor_score = True
        return tags
