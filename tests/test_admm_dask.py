"""ADMM sub-problems on a Dask cluster through joblib's Dask backend."""

import warnings

import joblib
import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import van_der_pol

distributed = pytest.importorskip("distributed")


def test_dask_local_cluster_gives_the_loky_weights():
    def held_batches():  # run on each worker (a local function: cloudpickled by value)
        from skneuralode import _resident

        return list(_resident._STORE)

    t, X = van_der_pol(60, (0, 8))
    admm = ADMMNeuralODE(
        CollocationNeuralODE(width=8, degree=2, alpha=1e-4, random_state=0),
        n_batches=2,
        max_iter=4,
        tol=1e-8,  # never met: four iterations
        n_jobs=2,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        loky = admm.fit(t, X).estimator_.coefs_
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster:
            with distributed.Client(cluster) as client:
                with distributed.get_task_stream(client) as stream:
                    with joblib.parallel_config(backend="dask"):
                        dask_fit = admm.fit(t, X)
                held = client.run(held_batches)
    # the sub-problems really ran as tasks on the cluster's workers: the initial fit and
    # 2 batches x 4 iterations, one call per task, plus one per task sent again with its
    # data because its worker did not hold the batch; the data went with the first
    # iteration and with those tasks only
    resent = dask_fit.history_["data_resent"]
    solved = [task for task in stream.data if "solve_batch" in str(task["key"])]
    assert resent[0] == 2
    assert len(solved) == 1 + 2 * 4 + sum(resent[1:])
    assert all(task["status"] == "OK" for task in solved)
    # the workers kept what they received: each batch and the initial subsample (data 2)
    # somewhere, no more than was sent
    keys = [key for worker in held.values() for key in worker]
    assert {b for _, b in keys} == {0, 1, 2} and len(keys) <= 1 + sum(resent)
    for a, b in zip(loky, dask_fit.estimator_.coefs_):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)
