"""
10. Fast MPC with the CasADi export (forced Van der Pol)
========================================================

The model predictive control of :ref:`sphx_glr_auto_examples_plot_optimal_control.py`,
after a pip-only install (``pip install "skneuralode[ipopt,casadi]"``): the learned
model leaves skneuralode as a CasADi function
(:meth:`~skneuralode.CollocationNeuralODE.to_casadi`), and CasADi's own IPOPT solves the
control problem. The task is the same: bring the forced Van der Pol oscillator

.. math::

    \\dot x_1 = x_2, \\qquad \\dot x_2 = \\mu (1 - x_1^2) x_2 - x_1 + u,
    \\qquad u(t) \\in [-1, 1], \\quad \\mu = 1,

from its limit cycle to rest at the origin, minimizing
:math:`\\int (x_1^2 + x_2^2 + \\rho u^2) dt + \\|x(T)\\|^2` with :math:`\\rho = 0.1` and
``u`` piecewise constant on 0.2 s intervals.

The problem is built **once**, by multiple shooting: the states at the 0.2 s grid points
and the inputs are the variables, each interval is integrated by one Runge-Kutta 4 step
of the learned field, and the measured state is a *parameter*. Every MPC step only sets
that parameter and the previous solution shifted by one interval as the start, and calls
the compiled solver: no model is rewritten between steps. The script prints the solve
time per step and the closed-loop cost, and writes ``plot_mpc_casadi.png``.
"""

import time

import matplotlib

matplotlib.use("Agg")
import casadi  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from skneuralode import CollocationNeuralODE  # noqa: E402

MU, RHO = 1.0, 0.1
X0 = np.array([2.0, 0.0])  # on the limit cycle
STEP, RK4_STEPS = 0.2, 1  # control interval; RK4 steps per interval
HORIZON, MPC_HORIZON, MPC_STEPS = 6.0, 4.0, 40
BOX = np.array([[-3.0, -3.5], [3.0, 3.5]])  # state bounds: the region of the experiments
start_script = time.perf_counter()


def true_field(x, u):
    """The true dynamics, dx/dt for one state x (2,) and one input u (float)."""
    return np.array([x[1], MU * (1.0 - x[0] ** 2) * x[1] - x[0] + u])


# %%
# Experiments and the learned model
# ---------------------------------
# The experiments and the model of the optimal-control example, so that the two MPC
# loops can be compared: fifteen simulated experiments of 6 s sampled every 0.2 s,
# random input levels joined by smooth ramps, every third one near the origin with small
# inputs (where the controller must hold the state).


def random_steps(rng, duration, amplitude, hold=(0.5, 2.0), ramp=0.3):
    edges = np.cumsum(rng.uniform(*hold, size=int(duration / hold[0]) + 2))
    levels = amplitude * rng.uniform(-1.0, 1.0, size=len(edges) + 1)

    def u(s):
        out = np.full(np.shape(s), levels[0])
        for edge, a, b in zip(edges, levels[:-1], levels[1:]):
            w = np.clip((np.asarray(s) - edge) / ramp + 0.5, 0.0, 1.0)
            out = out + (b - a) * (0.5 - 0.5 * np.cos(np.pi * w))
        return out

    return u


def experiment(rng, near_origin):
    u = random_steps(rng, 6.0, 0.4 if near_origin else 1.0)
    radius = rng.uniform(0.0, 0.5) if near_origin else rng.uniform(0.5, 3.0)
    angle = rng.uniform(0.0, 2 * np.pi)
    x0 = radius * np.array([np.cos(angle), np.sin(angle)])
    t = np.linspace(0.0, 6.0, 31)
    sol = solve_ivp(
        lambda s, x: true_field(x, u(s)), (0.0, 6.0), x0, t_eval=t, rtol=1e-10, atol=1e-12,
        max_step=0.05,
    )  # fmt: skip
    return t, sol.y.T, u(t)[:, None]


rng = np.random.default_rng(0)
runs = [experiment(rng, near_origin=k % 3 == 0) for k in range(15)]
t_train = np.concatenate([r[0] for r in runs])
X_train = np.concatenate([r[1] for r in runs])
U_train = np.concatenate([r[2] for r in runs])
trajectory = np.repeat(np.arange(len(runs)), 31)

model = CollocationNeuralODE(width=16, degree=2, alpha=1e-6, random_state=0)
start = time.perf_counter()
model.fit(t_train, X_train, u=U_train, trajectory=trajectory)
print(f"fit               : {time.perf_counter() - start:.1f} s, {model.n_iter_} IPOPT "
      f"iterations ({model.solver_status_}, {model.engine_} engine, route "
      f"{model.solver_!r}), {len(t_train)} samples")  # fmt: skip

# %%
# The model as a CasADi function
# ------------------------------
# ``f = model.to_casadi()`` is a ``casadi.Function`` ``f(x, u) -> dxdt`` in user units,
# the fitted weights constants and the scaling folded in; it equals
# ``model.vector_field()`` and CasADi differentiates it exactly. The true dynamics are
# written as a CasADi function too, for the reference optimum.

f_learned = model.to_casadi()
x_sym, u_sym = casadi.SX.sym("x", 2), casadi.SX.sym("u", 1)
f_true = casadi.Function(
    "f_true", [x_sym, u_sym],
    [casadi.vertcat(x_sym[1], MU * (1 - x_sym[0] ** 2) * x_sym[1] - x_sym[0] + u_sym)],
    ["x", "u"], ["dxdt"],
)  # fmt: skip
Z = rng.uniform([-2.0, -2.5, -1.0], [2.0, 2.5, 1.0], size=(5, 3))
gap = np.abs(
    np.array(f_learned(Z[:, :2].T, Z[:, 2:].T)).T - model.vector_field()(Z[:, :2], Z[:, 2:])
)
print(f"to_casadi check   : max |f_casadi - vector_field| = {gap.max():.1e} at 5 random points")

# %%
# The control problem, built once
# -------------------------------
# Multiple shooting on the 0.2 s grid: states ``X[:, k]`` at the grid points, inputs
# ``U[k]`` on the intervals, and continuity ``X[:, k+1] = Phi(X[:, k], U[k])`` with
# ``Phi`` one RK4 step of ``f`` (two change neither the control nor the cost here); the
# running cost is integrated alongside the states. ``x0`` is an ``Opti`` parameter.
# IPOPT starts from a small barrier parameter (``mu_init=1e-3``): each start is the
# previous solution, close to the new one, and the default (0.1) pushes it away from its
# bounds first. ``expand=True`` turns the graph into CasADi's scalar form, whose
# derivatives are the fastest to evaluate. ``opti.to_function`` compiles the NLP and its IPOPT
# solver into one function ``(x0, X_guess, U_guess) -> (X, U, cost)``, so that a step of
# MPC is one call.


def interval_map(f):
    """Phi(x, u) -> (x after STEP, running cost over it): RK4_STEPS RK4 steps of f and of
    the cost rate x1^2 + x2^2 + rho u^2."""
    x, u = casadi.MX.sym("x", 2), casadi.MX.sym("u", 1)
    h = STEP / RK4_STEPS

    def rates(z):
        return casadi.vertcat(f(z[:2], u), z[0] ** 2 + z[1] ** 2 + RHO * u**2)

    z = casadi.vertcat(x, 0.0)
    for _ in range(RK4_STEPS):
        k1 = rates(z)
        k2 = rates(z + h / 2 * k1)
        k3 = rates(z + h / 2 * k2)
        k4 = rates(z + h * k3)
        z = z + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return casadi.Function("Phi", [x, u], [z[:2], z[2]])


def build_ocp(f, horizon):
    """The optimal-control problem over ``horizon`` as one compiled function."""
    n = round(horizon / STEP)
    phi = interval_map(f)
    opti = casadi.Opti()
    X, U, x0 = opti.variable(2, n + 1), opti.variable(1, n), opti.parameter(2)
    cost = 0
    for k in range(n):
        x_next, running = phi(X[:, k], U[k])
        opti.subject_to(X[:, k + 1] == x_next)
        cost += running
    cost += casadi.sumsqr(X[:, n])
    opti.minimize(cost)
    opti.subject_to(X[:, 0] == x0)
    opti.subject_to(opti.bounded(-1.0, U, 1.0))
    opti.subject_to(opti.bounded(BOX[0], X[:, 1:], BOX[1]))
    options = {"expand": True, "print_time": False, "error_on_fail": True}
    opti.solver("ipopt", options, {"print_level": 0, "sb": "yes", "tol": 1e-6, "mu_init": 1e-3})
    return opti.to_function("ocp", [x0, X, U], [X, U, cost], ["x0", "X_guess", "U_guess"],
                            ["X", "U", "cost"])  # fmt: skip


# %%
# The true system
# ---------------
# Integrated with SciPy, the input held on each interval, the running cost alongside.


def with_running_cost(s, z, u):
    return np.r_[true_field(z[:2], u), z[0] ** 2 + z[1] ** 2 + RHO * u**2]


def run_true_system(x0, plan, t0=0.0):
    """Apply ``plan`` (one input per STEP) from ``x0``; -> (times, states, running cost)."""
    times, states, x, cost = [t0], [np.array(x0, float)], np.array(x0, float), 0.0
    for k, u in enumerate(plan):
        span = (t0 + k * STEP, t0 + (k + 1) * STEP)
        sol = solve_ivp(
            with_running_cost, span, np.r_[x, 0.0], args=(u,), rtol=1e-10, atol=1e-12,
            dense_output=True,
        )  # fmt: skip
        fine = np.linspace(*span, 6)[1:]
        times += list(fine)
        states += list(sol.sol(fine)[:2].T)
        x, cost = sol.y[:2, -1], cost + sol.y[2, -1]
    return np.array(times), np.array(states), cost


# %%
# The reference: the optimum with the true dynamics
# -------------------------------------------------
# The same problem over 6 s with the true field, solved once, then played on the true
# system: the cost the closed loop is compared with.

n_task = round(HORIZON / STEP)
true_ocp = build_ocp(f_true, HORIZON)
guess_X = np.tile(X0[:, None], (1, n_task + 1))
X_opt, U_opt, _ = true_ocp(X0, guess_X, np.zeros((1, n_task)))
plan_true = np.array(U_opt).ravel()
t_opt, x_opt, running = run_true_system(X0, plan_true)
cost_true = running + float(x_opt[-1] @ x_opt[-1])
print(f"true-model optimum: cost {cost_true:.3f} on the true system")

# %%
# Model predictive control on the true system
# -------------------------------------------
# Every 0.2 s: measure the true state, solve the learned-model problem over 4 s from it,
# apply the first input. The start of each solve is the previous solution shifted by one
# interval (the last interval repeated).

mpc = build_ocp(f_learned, MPC_HORIZON)
n_mpc = round(MPC_HORIZON / STEP)
X_guess, U_guess = np.tile(X0[:, None], (1, n_mpc + 1)), np.zeros((1, n_mpc))
x, solve_times, inputs, costs = X0.copy(), [], [], []
mpc_t, mpc_x = [0.0], [X0.copy()]
for step in range(MPC_STEPS):
    start = time.perf_counter()
    X_sol, U_sol, _ = mpc(x, X_guess, U_guess)
    solve_times.append(time.perf_counter() - start)
    X_sol, U_sol = np.array(X_sol), np.array(U_sol)
    inputs.append(float(U_sol[0, 0]))
    t_seg, x_seg, cost = run_true_system(x, inputs[-1:], t0=step * STEP)
    mpc_t, mpc_x, costs = mpc_t + list(t_seg[1:]), mpc_x + list(x_seg[1:]), costs + [cost]
    x = x_seg[-1]
    X_guess = np.c_[X_sol[:, 1:], X_sol[:, -1:]]  # warm start: one interval later
    U_guess = np.c_[U_sol[:, 1:], U_sol[:, -1:]]
mpc_t, mpc_x = np.array(mpc_t), np.array(mpc_x)
ms = 1e3 * np.array(solve_times)
print(f"MPC solve time    : median {np.median(ms):.1f} ms per step, max {ms.max():.1f} ms, "
      f"first {ms[0]:.1f} ms (CasADi's IPOPT); {MPC_STEPS} steps of {STEP} s")  # fmt: skip
x_at_horizon = mpc_x[np.argmin(np.abs(mpc_t - HORIZON))]
mpc_cost = sum(costs[:n_task]) + float(x_at_horizon @ x_at_horizon)
print(f"MPC cost on [0, 6]: {mpc_cost:.3f} (closed loop on the true system; ratio to the "
      f"true-model optimum {mpc_cost / cost_true:.3f})")  # fmt: skip
print(f"MPC final state   : |x({MPC_STEPS * STEP:.0f})| = {np.linalg.norm(x):.4f}")

# %%
# Plot
# ----
# Left: the phase plane with the training states, the true-model optimum and the MPC
# closed loop. Right: states and inputs over time, and the solve time of each MPC step.

fig = plt.figure(figsize=(12, 6.5))
ax = fig.add_subplot(1, 2, 1)
ax.plot(X_train[:, 0], X_train[:, 1], ".", ms=2.5, color="C2", label="training states")
ax.plot(*x_opt.T, "k-", lw=2, label="true-model optimum")
ax.plot(*mpc_x.T, "C3-", lw=1.5, label="MPC (learned model, CasADi) on the true system")
ax.plot(*X0, "ko")
ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-4, 4), ylim=(-4.5, 4.5))
ax.legend(loc="lower left", fontsize=8)
ax.set_title("Phase plane")
axes = [fig.add_subplot(4, 2, k) for k in (2, 4, 6, 8)]
for i in range(2):
    axes[i].plot(t_opt, x_opt[:, i], "k-", lw=2)
    axes[i].plot(mpc_t, mpc_x[:, i], "C3-", lw=1.5)
    axes[i].set_ylabel(f"$x_{i + 1}$")
axes[2].stairs(plan_true, STEP * np.arange(n_task + 1), baseline=None, color="k", lw=2,
               label="true-model optimum")  # fmt: skip
axes[2].stairs(inputs, STEP * np.arange(MPC_STEPS + 1), baseline=None, color="C3", label="MPC")
axes[2].set_ylabel("u")
axes[2].legend(fontsize=8, ncol=2)
axes[3].bar(STEP * np.arange(MPC_STEPS), ms, width=0.8 * STEP, align="edge", color="C3")
axes[3].set(ylabel="solve [ms]", xlabel="t")
fig.tight_layout()
fig.savefig("plot_mpc_casadi.png", dpi=110)
print("plot              : plot_mpc_casadi.png")
print(f"total time        : {time.perf_counter() - start_script:.0f} s")

# %%
# What this page claims, checked (CI runs it)

if not gap.max() < 1e-10:
    raise RuntimeError(f"to_casadi differs from vector_field by {gap.max():.1e}")
if not np.linalg.norm(x) <= 0.05:
    raise RuntimeError(f"MPC ends at |x| = {np.linalg.norm(x):.3f}, not near the origin")
if not np.median(ms) <= 60.0:
    raise RuntimeError(f"the median MPC step took {np.median(ms):.0f} ms (> 60 ms)")
