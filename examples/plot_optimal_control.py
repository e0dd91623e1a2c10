"""
6. Optimal control and MPC with the learned model (forced Van der Pol)
======================================================================

A model is learned to be optimized with. Here the forcing of the Van der Pol oscillator
is a control input,

.. math::

    \\dot x_1 = x_2, \\qquad \\dot x_2 = \\mu (1 - x_1^2) x_2 - x_1 + u,
    \\qquad u(t) \\in [-1, 1], \\quad \\mu = 1,

and the task is to bring the oscillator from its limit cycle to rest at the origin (an
unstable equilibrium), penalizing the effort:

.. math::

    \\min_u \\int_0^T \\left(x_1^2 + x_2^2 + \\rho u^2\\right) dt + \\|x(T)\\|^2,
    \\qquad \\rho = 0.1,\\ T = 6,

with ``u`` piecewise constant on 0.2 s intervals. The script

1. learns ``dx/dt = f(x, u)`` from simulated experiments with random input steps
   (``fit(t, X, u=U, trajectory=...)``);
2. writes the learned ODE into a Pyomo model with
   :meth:`~skneuralode.CollocationNeuralODE.to_pyomo`, discretizes it with
   ``pyomo.dae`` and solves the optimal-control problem with IPOPT;
3. applies the plan to the *true* system (SciPy) and compares its cost with the optimum of
   the same problem written with the true dynamics;
4. closes the loop: model predictive control (MPC) on the true system, re-solving the
   learned-model problem every 0.2 s from the measured state, warm-started.

It prints the costs and the MPC solve times and writes ``plot_optimal_control.png``. The
Pyomo models are solved by an ``ipopt`` executable when one is on ``PATH``, else by
cyipopt through PyNumero, which needs PyNumero's ASL library (:ref:`route-cyipopt`).

For a fast MPC loop that needs only pip-installed packages, see
:ref:`sphx_glr_auto_examples_plot_mpc_casadi.py`: the same model and loop through
:meth:`~skneuralode.CollocationNeuralODE.to_casadi` and CasADi's own IPOPT, the problem
built once, more than ten times faster per step.
"""

import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyomo.environ as pyo  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from pyomo.dae import ContinuousSet, DerivativeVar  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

from skneuralode import CollocationNeuralODE, available_solvers  # noqa: E402

MU, RHO = 1.0, 0.1
X0 = np.array([2.0, 0.0])  # on the limit cycle
HORIZON, STEP = 6.0, 0.2  # optimal-control horizon, control interval
BOX = np.array([[-3.0, -3.5], [3.0, 3.5]])  # state bounds: the region of the experiments
SOLVER = "ipopt" if available_solvers()["executable"][0] else "cyipopt"  # Pyomo solver names
start_script = time.perf_counter()


def true_field(x, u):
    """The true dynamics, dx/dt for one state x (2,) and one input u (float)."""
    return np.array([x[1], MU * (1.0 - x[0] ** 2) * x[1] - x[0] + u])


# %%
# Experiments
# -----------
# Fifteen simulated experiments of 6 s, sampled every 0.2 s. The input is a sequence of
# random levels held for 0.5 to 2 s, joined by smooth 0.3 s ramps (``fit`` interpolates
# ``u`` linearly between samples, so the input should not jump between two samples).
# Every third experiment starts near the origin with small steps (``|u| <= 0.4``): the
# controller will have to hold the state there, so the model must know that region; the
# others start anywhere within radius 3 and use the whole input range.


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

# %%
# Learn f(x, u)
# -------------
# The data are noise-free, so the weight penalty ``alpha`` can be small: it is what limits
# the accuracy of the learned field here (1e-5 gives a field error more than twice as
# large as 1e-6).

model = CollocationNeuralODE(width=16, degree=2, alpha=1e-6, random_state=0)
start = time.perf_counter()
model.fit(t_train, X_train, u=U_train, trajectory=trajectory)
print(f"fit               : {time.perf_counter() - start:.1f} s, {model.n_iter_} IPOPT "
      f"iterations ({model.solver_status_}), {len(t_train)} samples")  # fmt: skip

# %%
# How far can the model be trusted?
# ---------------------------------
# The learned field against the true one, at the training samples and at random
# (state, input) points at least 1 from every training state.

field = model.vector_field()


def field_error(X, U):
    truth = np.array([true_field(x, u) for x, u in zip(X, U[:, 0])])
    return np.linalg.norm(field(X, U) - truth) / np.linalg.norm(truth)


Z = rng.uniform([-5.0, -5.0, -1.0], [5.0, 5.0, 1.0], size=(20000, 3))
far = cKDTree(X_train).query(Z[:, :2])[0] > 1.0
print(f"field error       : {field_error(X_train, U_train):.1%} at the training samples, "
      f"{field_error(Z[far, :2], Z[far, 2:]):.0%} at least 1 away from them")  # fmt: skip

# %%
# The optimal-control problem in Pyomo
# ------------------------------------
# ``model.to_pyomo(m.t)`` returns a block with the states ``x[t, i]``, their derivatives
# ``dxdt[t, i]``, the inputs ``u[t, j]`` and the constraints ``ode[t, i]``: ``dxdt = f(x, u)``
# with the learned weights as constants. The true dynamics are written by hand as a
# block with the same components, so the two problems differ only in the plant. The
# running cost is a quadrature state ``q``; Radau collocation with 3 points per 0.2 s
# element discretizes everything, and ``reduce_collocation_points`` makes ``u`` constant
# on each element. The states are bounded to the region of the experiments.


def true_plant(time_set):
    b = pyo.Block(concrete=True)
    b.STATES, b.INPUTS = pyo.RangeSet(0, 1), pyo.RangeSet(0, 0)
    b.x = pyo.Var(time_set, b.STATES, initialize=0.0)
    b.dxdt = DerivativeVar(b.x, wrt=time_set)
    b.u = pyo.Var(time_set, b.INPUTS, initialize=0.0)

    def ode(b, t, i):
        if t == time_set.first():
            return pyo.Constraint.Skip
        x1, x2 = b.x[t, 0], b.x[t, 1]
        rhs = x2 if i == 0 else MU * (1 - x1**2) * x2 - x1 + b.u[t, 0]
        return b.dxdt[t, i] == rhs

    b.ode = pyo.Constraint(time_set, b.STATES, rule=ode)
    return b


def build_ocp(make_plant, horizon):
    m = pyo.ConcreteModel()
    m.t = ContinuousSet(bounds=(0.0, horizon))
    m.plant = p = make_plant(m.t)
    m.q = pyo.Var(m.t, initialize=0.0)
    m.dqdt = DerivativeVar(m.q, wrt=m.t)

    def running_cost(m, t):
        if t == m.t.first():
            return pyo.Constraint.Skip
        return m.dqdt[t] == p.x[t, 0] ** 2 + p.x[t, 1] ** 2 + RHO * p.u[t, 0] ** 2

    m.running_cost = pyo.Constraint(m.t, rule=running_cost)
    collocation = pyo.TransformationFactory("dae.collocation")
    collocation.apply_to(m, wrt=m.t, nfe=round(horizon / STEP), ncp=3, scheme="LAGRANGE-RADAU")
    collocation.reduce_collocation_points(m, var=p.u, ncp=1, contset=m.t)
    for t in m.t:
        p.u[t, 0].setlb(-1.0), p.u[t, 0].setub(1.0)
        for i in p.STATES:
            p.x[t, i].setlb(BOX[0, i]), p.x[t, i].setub(BOX[1, i])
    m.q[0.0].fix(0.0)
    for i in p.STATES:
        p.x[0.0, i].fix(X0[i])
    m.obj = pyo.Objective(expr=m.q[horizon] + sum(p.x[horizon, i] ** 2 for i in p.STATES))
    return m


def solve(m):
    """Solve with IPOPT, check the termination, then load the solution."""
    result = pyo.SolverFactory(SOLVER).solve(m, load_solutions=False)
    status = result.solver.termination_condition
    if status != pyo.TerminationCondition.optimal:
        raise RuntimeError(f"IPOPT stopped with status {status}: {result.solver.message}")
    m.solutions.load_from(result)


def control_plan(m):
    """The input on each element (constant there) -> array (n_elements,)."""
    ends = m.t.get_finite_elements()[1:]
    return np.array([m.plant.u[t, 0].value for t in ends])


def planned_states(m):
    times = np.array(list(m.t))
    return times, np.array([[m.plant.x[t, i].value for i in m.plant.STATES] for t in times])


# %%
# Plan with each model, apply to the true system
# ----------------------------------------------
# The true system is integrated with SciPy, the input held constant on each element; its
# cost is integrated alongside.


def with_running_cost(s, z, u):
    """The true dynamics and the running cost, for z = (x1, x2, accumulated cost)."""
    return np.r_[true_field(z[:2], u), z[0] ** 2 + z[1] ** 2 + RHO * u**2]


def run_true_system(x0, plan, t0=0.0):
    """Apply ``plan`` (one input per STEP) from ``x0``; -> (times, states, cost)."""
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


plans = {}
for name, make_plant in [("learned", model.to_pyomo), ("true", true_plant)]:
    m = build_ocp(make_plant, HORIZON)
    start = time.perf_counter()
    solve(m)
    plan = control_plan(m)
    t_true, x_true, running = run_true_system(X0, plan)
    cost = running + float(x_true[-1] @ x_true[-1])
    plans[name] = dict(plan=plan, planned=planned_states(m), t=t_true, x=x_true, cost=cost)
    print(f"{name:>7}-model plan: solve {time.perf_counter() - start:.2f} s, Pyomo objective "
          f"{pyo.value(m.obj):.3f}; on the true system cost {cost:.3f} (running {running:.3f}), "
          f"final |x| = {np.linalg.norm(x_true[-1]):.3f}")  # fmt: skip
ratio = plans["learned"]["cost"] / plans["true"]["cost"]
print(f"cost ratio        : {ratio:.3f} (true-system cost of the learned-model plan / "
      "true-model optimum)")  # fmt: skip

# %%
# The learned-model plan is almost the optimal one (the figure below): bang-bang at first,
# leaving the upper bound slightly early. On the true system its running cost is about 5 %
# above the optimum. Its final state is not at rest, though: the origin is unstable (the
# linearization there has eigenvalues 0.5 +- 0.87i), so any mismatch between model and
# plant grows like exp(t/2) while the plan tries to hold the state there, with no
# measurement to correct it. The true-model plan holds only because it has no mismatch.
# Feedback fixes this.

# %%
# Model predictive control on the true system
# -------------------------------------------
# Every 0.2 s: measure the true state, solve the learned-model problem over a 4 s horizon
# from it, apply the first input for 0.2 s. The Pyomo model is built once; each step
# changes the fixed initial state and starts IPOPT from the previous solution shifted by
# one step. Through cyipopt, about a third of the time of a step is IPOPT's; the rest is
# Pyomo writing the problem out for PyNumero again. ``plot_mpc_casadi.py`` runs this loop
# with the same model exported by ``to_casadi``: the problem is compiled once and each
# step only sets the measured state (same closed-loop cost, under a tenth of the time).

MPC_HORIZON, MPC_STEPS = 4.0, 40
mpc = build_ocp(model.to_pyomo, MPC_HORIZON)
mpc_times = np.array(list(mpc.t))
later = np.minimum(mpc_times + STEP, MPC_HORIZON)


def shift(values, from_zero=False):
    """Set the free variables of a time-ordered list to their values one step later."""
    shifted = np.interp(later, mpc_times, [v.value for v in values])
    for v, value in zip(values, shifted - shifted[0] if from_zero else shifted):
        if not v.fixed:
            v.set_value(float(value))


x, solve_times, inputs, costs = X0.copy(), [], [], []
mpc_t, mpc_x = [0.0], [X0.copy()]
for step in range(MPC_STEPS):
    for i in mpc.plant.STATES:
        mpc.plant.x[0.0, i].fix(float(x[i]))
    start = time.perf_counter()
    solve(mpc)
    solve_times.append(time.perf_counter() - start)
    inputs.append(control_plan(mpc)[0])
    t_seg, x_seg, cost = run_true_system(x, inputs[-1:], t0=step * STEP)
    mpc_t, mpc_x, costs = mpc_t + list(t_seg[1:]), mpc_x + list(x_seg[1:]), costs + [cost]
    x = x_seg[-1]
    for i in mpc.plant.STATES:  # warm start: the last solution, one step later
        shift([mpc.plant.x[t, i] for t in mpc.t])
    shift([mpc.plant.u[t, 0] for t in mpc.t])
    shift(list(mpc.q.values()), from_zero=True)
mpc_t, mpc_x = np.array(mpc_t), np.array(mpc_x)
ms = 1e3 * np.array(solve_times)
print(f"MPC solve time    : median {np.median(ms):.0f} ms per step, max {ms.max():.0f} ms, "
      f"first {ms[0]:.0f} ms ({SOLVER}); {MPC_STEPS} steps of {STEP} s")  # fmt: skip
print(f"MPC final state   : |x({MPC_STEPS * STEP:.0f})| = {np.linalg.norm(x):.4f} "
      f"(open-loop learned plan: |x({HORIZON:.0f})| = "
      f"{np.linalg.norm(plans['learned']['x'][-1]):.3f})")  # fmt: skip
x_at_horizon = mpc_x[np.argmin(np.abs(mpc_t - HORIZON))]
mpc_task_cost = sum(costs[: round(HORIZON / STEP)]) + float(x_at_horizon @ x_at_horizon)
print(
    f"MPC cost on [0, 6]: {mpc_task_cost:.3f} (the plans' cost, measured on the closed "
    f"loop; ratio to the true-model optimum {mpc_task_cost / plans['true']['cost']:.3f})"
)

# %%
# Plot
# ----
# Left: the phase plane, shaded by the error of the learned field at u = 0 (log scale),
# with the training states; the learned-model plan as planned (dashed) and as it plays out
# on the true system, the true-model optimum and the MPC closed loop. Right: states and
# inputs over time.

g1, g2 = np.meshgrid(np.linspace(-4, 4, 161), np.linspace(-4.5, 4.5, 181))
grid = np.c_[g1.ravel(), g2.ravel()]
truth = np.array([true_field(z, 0.0) for z in grid])
err = np.linalg.norm(field(grid, np.zeros((len(grid), 1))) - truth, axis=1)

planned_t, planned_x = plans["learned"]["planned"]

fig = plt.figure(figsize=(12, 6.5))
ax = fig.add_subplot(1, 2, 1)
mesh = ax.pcolormesh(
    g1, g2, err.reshape(g1.shape), cmap="Greys", norm=LogNorm(1e-3, 10), shading="auto"
)
fig.colorbar(mesh, ax=ax, label="|learned - true field| at u = 0")
ax.plot(X_train[:, 0], X_train[:, 1], ".", ms=2.5, color="C2", label="training states")
ax.plot(*plans["true"]["x"].T, "k-", lw=2, label="true-model optimum")
ax.plot(*planned_x.T, "C0--", lw=1.5, label="learned-model plan")
ax.plot(*plans["learned"]["x"].T, "C0-", lw=1, label="  ... applied to the true system")
ax.plot(*mpc_x.T, "C3-", lw=1.5, label="MPC (learned model) on the true system")
ax.plot(*X0, "ko")
ax.set(xlabel="$x_1$", ylabel="$x_2$", xlim=(-4, 4), ylim=(-4.5, 4.5))
ax.legend(loc="lower left", fontsize=8)
ax.set_title("Phase plane (shade: field error of the learned model)")

axes = [fig.add_subplot(3, 2, k) for k in (2, 4, 6)]
for i in range(2):
    axes[i].plot(plans["true"]["t"], plans["true"]["x"][:, i], "k-", lw=2)
    axes[i].plot(planned_t, planned_x[:, i], "C0--")
    axes[i].plot(plans["learned"]["t"], plans["learned"]["x"][:, i], "C0-", lw=1)
    axes[i].plot(mpc_t, mpc_x[:, i], "C3-", lw=1.5)
    axes[i].set_ylabel(f"$x_{i + 1}$")
edges = STEP * np.arange(len(plans["true"]["plan"]) + 1)
mpc_edges = STEP * np.arange(MPC_STEPS + 1)
for values, at, style in [
    (plans["true"]["plan"], edges, dict(color="k", lw=2, label="true-model optimum")),
    (plans["learned"]["plan"], edges, dict(color="C0", label="learned-model plan")),
    (inputs, mpc_edges, dict(color="C3", label="MPC")),
]:
    axes[2].stairs(values, at, baseline=None, **style)
axes[2].set(ylabel="u", xlabel="t")
axes[2].legend(fontsize=8, ncol=3)
fig.tight_layout()
fig.savefig("plot_optimal_control.png", dpi=110)
print("plot              : plot_optimal_control.png")
print(f"total time        : {time.perf_counter() - start_script:.0f} s")

# %%
# What this page claims, checked (CI runs it)

if not ratio <= 1.2:
    raise RuntimeError(f"the learned-model plan costs {ratio:.3f} x the optimum (> 1.2)")
if not np.linalg.norm(x) <= 0.05:
    raise RuntimeError(f"MPC ends at |x| = {np.linalg.norm(x):.3f}, not near the origin")

# %%
# Extrapolation and what it means for control
# -------------------------------------------
# Where the experiments went, the learned field is within about 2 % of the truth; one unit
# away from them the error is of the order of the field itself (printed above; the shade of
# the phase plane). The network cannot know the cubic damping ``mu x1^2 x2`` beyond the
# data: its tanh units saturate, so the learned field grows at most linearly. An optimizer
# goes wherever the model promises a low cost, including into regions where the model is
# wrong, so keep the problem inside the data: here the states are bounded to the box of
# the experiments, and the experiments were designed for the task (data near the origin,
# where the controller must hold the state; the full input range). Open loop, even a good
# model cannot hold an unstable state; with feedback (MPC) a few percent of model error
# only costs a few percent of performance.
