"""
Consensus ADMM over batches, locally and on a Dask cluster
==========================================================

:class:`~skneuralode.ADMMNeuralODE` splits the training data into batches, gives each
batch its own collocation NLP with its own copy of the network weights, and drives the
copies to a consensus by ADMM. The batch sub-problems of one iteration are independent;
they run through joblib, so local processes or a Dask cluster can execute them.

This script fits the same model twice on 120 noisy samples of the Van der Pol oscillator
on [0, 12], cut into two time windows (``n_batches=2``):

1. locally, with joblib's default process backend (loky) and ``n_jobs=2``;
2. on a Dask cluster through ``joblib.parallel_config(backend="dask")``. The cluster here
   is a ``distributed.LocalCluster`` of two worker processes; on a real cluster the only
   change is the scheduler address given to ``distributed.Client``.

Both fits start from the same point and run the same arithmetic, so they must end with
the same weights. The script prints the final residuals, iteration counts, wall times,
whether the weights agree, and the per-iteration history (``history_``) of the Dask fit.

Run it with ``python examples/admm_dask.py``. It needs ``dask[distributed]``
(``pip install "dask[distributed]"``) besides skneuralode and an IPOPT route. The work
starts under ``if __name__ == "__main__":``, which process-based clusters require: their
worker processes import this file again.
"""

import time

import joblib
import numpy as np

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import van_der_pol

# %%
# The model
# ---------
# A [2, 16, 2] tanh network; the IPOPT settings of each sub-problem are those of the
# wrapped :class:`~skneuralode.CollocationNeuralODE`. ``tol`` is ADMM's relative
# tolerance on the primal and dual residuals (Boyd et al. 2011, §3.3.1; absolute tol/10).


def make_model():
    return ADMMNeuralODE(
        CollocationNeuralODE(width=16, alpha=1e-3, random_state=0),
        n_batches=2,
        max_iter=20,
        tol=1e-2,
        n_jobs=2,
    )


def fit(t, X):
    return make_model().fit(t, X)


# %%
# On a Dask cluster
# -----------------
# The sub-problem tasks carry numpy arrays and plain options only. A batch's data go with
# its first task; a worker keeps them, and later tasks carry only the iterate (a task on
# a worker without its batch is sent again with the data: ``history_["data_resent"]``).
# (With ``engine="pyomo"`` a worker builds the Pyomo model of the batch it solves, keeps
# it, and reuses it when the same batch comes back, counted in
# ``history_["models_reused"]``.)
# The workers need skneuralode and cyipopt installed, like the client.


def fit_on_dask(t, X):
    from distributed import Client, LocalCluster

    start = time.perf_counter()
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        # On a real cluster this is the only change: connect to its scheduler,
        # Client("tcp://scheduler:8786"), instead of starting a LocalCluster.
        with Client(cluster) as client:
            n_workers = len(client.scheduler_info()["workers"])
            print(
                f"cluster start     : {n_workers} workers in {time.perf_counter() - start:.1f} s"
            )
            with joblib.parallel_config(backend="dask"):
                return fit(t, X)


# %%
# Reporting
# ---------


def summary(name, admm):
    h = admm.history_
    print(
        f"{name:<18}: {admm.n_iter_} iterations, converged={admm.converged_}, "
        f"primal residual {h['primal_residual'][-1]:.2e}, "
        f"dual residual {h['dual_residual'][-1]:.2e}, "
        f"wall time {admm.fit_time_:.1f} s"
    )


def same_weights(a, b):
    ea, eb = a.estimator_, b.estimator_
    return all(
        np.allclose(wa, wb)
        for wa, wb in zip(ea.coefs_ + ea.intercepts_, eb.coefs_ + eb.intercepts_)
    )


def print_history(admm):
    h = admm.history_
    print(" iter    primal      dual     rho  train_mse  IPOPT its  models reused  wall [s]")
    for k in range(admm.n_iter_):
        print(
            f"{k + 1:5d}  {h['primal_residual'][k]:8.2e}  {h['dual_residual'][k]:8.2e}"
            f"  {h['rho'][k]:6.3g}  {h['train_mse'][k]:9.5f}  {h['ipopt_iterations'][k]:9d}"
            f"  {h['models_reused'][k]:13d}  {h['wall_time'][k]:8.2f}"
        )


def main():
    t, X = van_der_pol(n_samples=120, t_span=(0, 12), noise=0.05, random_state=0)

    local = fit(t, X)
    summary("local (loky)", local)

    dask = fit_on_dask(t, X)
    summary("Dask cluster", dask)

    print(f"same weights      : {same_weights(local, dask)}")
    print(f"R^2 (simulation)  : {dask.score(t, X):.4f}")
    print("\nhistory_ of the Dask fit (the local fit's differs only in timings and reuse):")
    print_history(dask)


if __name__ == "__main__":
    main()
