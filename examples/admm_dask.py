"""
Consensus ADMM on a Dask cluster: more data than one worker's memory
====================================================================

:class:`~skneuralode.ADMMNeuralODE` splits the training data into batches, gives each
batch its own collocation NLP with its own copy of the network weights, and drives the
copies to a consensus by ADMM. The batch sub-problems of one iteration are independent;
they run through joblib, and ``joblib.parallel_config(backend="dask")`` sends them to the
workers of a Dask cluster. Each worker then needs only the memory of one batch's NLP,
not that of the whole problem.

This script starts a ``distributed.LocalCluster`` of memory-limited worker processes
(``memory_limit``, one thread each), fits ``ADMMNeuralODE(batching="trajectory")`` on
noisy Van der Pol trajectories through the Dask backend, and reports:

- the wall time of the fit, the time of the initial fit (``init_time_``), the ADMM
  iterations and whether ADMM converged;
- the mean squared error of free-run simulations on three unseen noise-free
  trajectories;
- the peak resident memory (max RSS) of every worker process, read from the operating
  system's high-water mark after the fit (``getrusage``; on Windows ``psutil``'s peak
  working set), and the RSS before the fit;
- what crossed the network: each batch's data once, then per iteration the bytes sent to
  and received from the workers (``history_``);
- the memory a single :class:`~skneuralode.CollocationNeuralODE` fit on all the samples
  would need, estimated from the workers' measurement, against the per-worker limit.

By default it is small (4 trajectories of 200 samples, 2 batches, 2 workers; about 20 s).
The full run is 100 trajectories of 1 000 samples (100 000 samples) in 10 batches of
10 000 samples on two workers limited to 8 GB, where one fit on all the samples would
need over 20 GB (``benchmarks/admm_dask_scale.py`` records it; on 2 cores it took 10
minutes, and each worker peaked at 5-6 GB)::

    python examples/admm_dask.py --trajectories 100 --samples-per-trajectory 1000 \\
        --batches 10 --workers 2 --memory-limit 8GB

Smaller batches need less memory per worker but more batches; with 20 batches of 5 000
samples the initial consensus is fitted on 50 samples per trajectory, and that fit had
not finished after 14 minutes (with 10 batches, 100 per trajectory, it took 99 s).

Options: ``--trajectories N --samples-per-trajectory M --batches B --workers W
--memory-limit 3GB --max-iter K --scheduler ADDRESS``. It needs ``dask[distributed]``
(``pip install "dask[distributed]"``, which brings ``psutil``) besides skneuralode and an
IPOPT route. The work starts under ``if __name__ == "__main__":``, which process-based
clusters require: their worker processes import this file again.
"""

import argparse
import sys
import time
from contextlib import contextmanager

import joblib
import numpy as np

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import van_der_pol

GB = 1e9
MB = 1e6

# %%
# The data
# --------
# ``N`` trajectories of the unforced Van der Pol oscillator (mu=1) on [0, 20], each with
# its own initial state drawn uniformly in [-2.5, 2.5]^2, with noise 0.05; and three
# noise-free trajectories from other initial states as a test set. (These are the
# trajectories of ``benchmarks/_trajectories.py`` with 1 000 samples each.)

SPAN = (0.0, 20.0)
NOISE = 0.05


def initial_states(n, seed):
    return np.random.RandomState(seed).uniform(-2.5, 2.5, size=(n, 2))


def training_set(n_trajectories, samples_per_trajectory):
    """(t, X, trajectory ids) of the noisy training trajectories."""
    parts = [
        van_der_pol(samples_per_trajectory, SPAN, x0=tuple(x0), noise=NOISE, random_state=k)
        for k, x0 in enumerate(initial_states(n_trajectories, 0))
    ]
    t = np.concatenate([p[0] for p in parts])
    X = np.vstack([p[1] for p in parts])
    return t, X, np.repeat(np.arange(n_trajectories), samples_per_trajectory)


def test_mse(model, n=3):
    """Mean squared error of free-run simulations of ``n`` unseen noise-free trajectories."""
    errors = []
    for x0 in initial_states(n, 1000):
        t, X = van_der_pol(401, SPAN, x0=tuple(x0))
        errors.append(np.mean((model.predict(t, X[0]) - X) ** 2))
    return float(np.mean(errors))


# %%
# The model
# ---------
# A [2, 32, 2] tanh network with radau collocation; ADMM at its defaults (initial
# consensus fitted on a 1/B subsample, Anderson acceleration, ``rho`` per observed entry,
# ``tol=1e-2``), with whole trajectories dealt into the batches. Under the Dask backend
# any ``n_jobs`` other than 1 uses all the cluster's worker threads.


def make_model(n_batches, max_iter):
    return ADMMNeuralODE(
        CollocationNeuralODE(width=32, alpha=1e-4, random_state=0),
        n_batches=n_batches,
        batching="trajectory",
        max_iter=max_iter,
        n_jobs=-1,
    )


# %%
# The cluster
# -----------
# Without ``--scheduler`` the script starts a ``LocalCluster`` of ``--workers`` worker
# processes with one thread each and ``--memory-limit`` each (Dask's nanny pauses a
# worker at 80% of it and restarts it at 95%). With ``--scheduler tcp://host:8786`` it
# connects to a running cluster instead, e.g. one started with ``dask scheduler`` and,
# on every machine, ``dask worker tcp://host:8786 --nthreads 1 --memory-limit 3GB``.
#
# What a real cluster needs:
#
# - every worker has skneuralode and its IPOPT route installed (the same versions as the
#   client: ``pip install ".[ipopt]" "dask[distributed]"`` in the same clone, or the same
#   built wheel with ``[ipopt]``), because the workers import skneuralode and solve with
#   their own IPOPT;
# - the client (this process) builds the batch data (each batch's discretization,
#   targets and inputs, a few hundred bytes per sample), runs the ADMM updates, which
#   are vector means, and simulates the result; it never solves a large NLP. Only the
#   initial consensus is a fit, and it too runs on a worker;
# - ``ADMMNeuralODE`` also writes each batch's data to a file in the client's temporary
#   folder, and a worker that does not hold a batch reads it from there instead of
#   asking for it again. That fallback only applies to workers that share the client's
#   filesystem (a ``LocalCluster``); a worker on another machine answers that it lacks
#   the data, and the task is sent again with them (``history_["data_resent"]``).


@contextmanager
def connect(scheduler, n_workers, memory_limit):
    """A ``distributed.Client`` of the cluster at ``scheduler``, or of a new LocalCluster."""
    from distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    with LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        processes=True,
        memory_limit=memory_limit,
        dashboard_address=None,
    ) as cluster:
        with Client(cluster) as client:
            yield client


def worker_memory():
    """(current RSS, peak RSS since the process started) of this process, in bytes; run
    on every worker with ``client.run``. The peak is the kernel's high-water mark, so it
    misses nothing between samples."""
    import psutil

    info = psutil.Process().memory_info()
    if sys.platform == "win32":
        return info.rss, info.peak_wset
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB; bytes on macOS
    return info.rss, peak * (1 if sys.platform == "darwin" else 1024)


def task_latency(n_tasks=40):
    """Seconds per empty task through joblib's Dask backend (one task per call, as ADMM
    dispatches them): the client's and the scheduler's cost of a task, which every
    iteration pays once per batch."""
    start = time.perf_counter()
    with joblib.parallel_config(backend="dask"):
        joblib.Parallel(n_jobs=-1, batch_size=1)(joblib.delayed(len)(()) for _ in range(n_tasks))
    return (time.perf_counter() - start) / n_tasks


def import_solver():
    """Import what a batch solve imports, so that the RSS before the fit includes it."""
    import skneuralode._admm  # noqa: F401
    from skneuralode._solver import find_solver

    find_solver("numpy", "auto")


# %%
# What crosses the network
# ------------------------
# A batch's data travel with its first task only; the worker keeps them. Later tasks
# carry ``rho``, the proximal center ``z - u_b``, the warm start (``theta_b`` and the
# batch's node states) and the IPOPT options; the results carry ``theta_b``, the node
# states, the IPOPT status and timings. ``history_`` counts the pickled bytes per
# iteration (``bytes_sent``, ``bytes_received``) and the tasks that carried data
# (``data_resent``): all batches in iteration 1. The data per batch are the first
# iteration's bytes less those of a later iteration without re-sends, per batch.
#
# Measured on the full run (100 000 samples, 10 batches): 3.7 MB of data per batch of
# 10 000 samples, sent once (iteration 1 sent 41.6 MB in all); then 4.8 MB per iteration
# to the workers (0.48 MB per task, almost all of it the batch's node states; ``rho``,
# the center and ``theta_b`` are 162 numbers each) and 4.8 MB back. No task was sent
# again: a worker without a batch read it from the batch's file.


def transfer(history, n_batches):
    """Bytes per iteration from ``history_`` -> dict."""
    sent, received = history["bytes_sent"], history["bytes_received"]
    resent = history["data_resent"]
    if not sent:  # no iteration completed (Ctrl-C)
        sent, received, resent = [0], [0], [0]
    clean = [k for k in range(1, len(sent)) if resent[k] == 0]
    later = float(np.mean([sent[k] for k in clean])) if clean else None
    return {
        "first_iteration_bytes_sent": sent[0],
        "data_bytes_per_batch": None if later is None else (sent[0] - later) / n_batches,
        "later_bytes_sent_mean": None if len(sent) < 2 else float(np.mean(sent[1:])),
        "later_bytes_received_mean": None if len(sent) < 2 else float(np.mean(received[1:])),
        "data_resent_later": sum(resent[1:]),
    }


# %%
# The memory one fit would need
# -----------------------------
# A collocation NLP's memory (IPOPT's sparse Jacobian, Hessian and MUMPS factors) grows
# linearly with the number of samples at a fixed width (``benchmarks/scaling.py``: a
# single fit's peak RSS is 0.35 GB at 1 000 samples, 1.1 GB at 5 000 and 2.1 GB at
# 10 000). The workers measure it: the largest increase of a worker's peak RSS over its
# RSS before the fit, divided by the samples of the largest NLP it solved (a batch, or
# the initial subsample fit of about as many samples), is the memory per sample; a
# single fit needs the worker's RSS before the fit plus that times all the samples.
# This is an upper bound: a worker solves one batch after another, and its peak also
# holds what the allocator kept of earlier solves (each worker collects a solve's
# reference cycles when it ends; its RSS after the fit is printed beside the peak).


def single_fit_memory(memory, largest_nlp, n_samples):
    """(bytes per sample, estimated bytes of one fit on ``n_samples``) from the workers'
    {address: (rss before, (rss after, peak))}."""
    grown = {a: peak - before for a, (before, (_, peak)) in memory.items()}
    worker = max(grown, key=grown.get)
    per_sample = grown[worker] / largest_nlp
    return per_sample, memory[worker][0] + per_sample * n_samples


# %%
# Run and report
# --------------


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description="ADMMNeuralODE on a Dask cluster")
    parser.add_argument("--trajectories", type=int, default=4)
    parser.add_argument("--samples-per-trajectory", type=int, default=200)
    parser.add_argument("--batches", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster workers")
    parser.add_argument("--memory-limit", default="3GB", help="per LocalCluster worker")
    parser.add_argument("--max-iter", type=int, default=100, help="ADMM's max_iter")
    parser.add_argument("--scheduler", default=None, help="e.g. tcp://host:8786")
    return parser.parse_args(argv)


def main(argv=None):
    """Fit on the cluster, print the report, and return it as a dict."""
    args = parse_args(argv)
    t, X, ids = training_set(args.trajectories, args.samples_per_trajectory)
    largest_batch = -(-args.trajectories // args.batches) * args.samples_per_trajectory
    admm = make_model(args.batches, args.max_iter)
    start = time.perf_counter()
    with connect(args.scheduler, args.workers, args.memory_limit) as client:
        workers = client.scheduler_info(n_workers=-1)["workers"]
        started = time.perf_counter() - start
        client.run(import_solver)
        before = {a: rss for a, (rss, _) in client.run(worker_memory).items()}
        with joblib.parallel_config(backend="dask"):
            admm.fit(t, X, trajectory=ids)
        after = client.run(worker_memory)
        latency = task_latency()
    # a worker restarted during the fit (new address) has no RSS before it
    memory = {a: (before[a], after[a]) for a in after if a in before}
    limit = min(w["memory_limit"] for w in workers.values()) or None  # 0: no limit
    per_sample, single = single_fit_memory(memory, largest_batch, len(t))
    report = {
        "n_samples": len(t),
        "trajectories": args.trajectories,
        "samples_per_trajectory": args.samples_per_trajectory,
        "n_batches": args.batches,
        "largest_batch": largest_batch,
        "workers": len(workers),
        "memory_limit": limit,
        "scheduler": args.scheduler or "LocalCluster",
        "cluster_start": started,
        "task_latency": latency,
        "wall_time": admm.fit_time_,
        "init_time": admm.init_time_,
        "admm_iterations": admm.n_iter_,
        "converged": bool(admm.converged_),
        "stop_reason": admm.stop_reason_,
        "train_mse": float(admm.estimator_.train_mse_),
        "test_mse": test_mse(admm),
        "rss_before": before,
        "peak_rss": {a: peak for a, (_, peak) in after.items()},
        "rss_after": {a: rss for a, (rss, _) in after.items()},
        "restarted_workers": sorted(set(before) ^ set(after)),
        "bytes_per_sample": per_sample,
        "single_fit_bytes": single,
        **transfer(admm.history_, args.batches),
        "history": {k: admm.history_[k] for k in HISTORY_KEYS},
    }
    print_report(report)
    return report


HISTORY_KEYS = (
    "wall_time",
    "batch_times",
    "bytes_sent",
    "bytes_received",
    "data_resent",
    "ipopt_iterations",
    "solve_time",
    "primal_residual",
    "dual_residual",
)


def print_report(r):
    limit = "no limit" if r["memory_limit"] is None else f"{r['memory_limit'] / GB:.2f} GB"
    print(
        f"cluster            : {r['workers']} workers ({r['scheduler']}), {limit} each, "
        f"started in {r['cluster_start']:.1f} s"
    )
    print(
        f"data               : {r['trajectories']} trajectories x "
        f"{r['samples_per_trajectory']} samples = {r['n_samples']} samples, "
        f"{r['n_batches']} batches (up to {r['largest_batch']} samples each)"
    )
    print(f"wall time          : {r['wall_time']:.1f} s")
    print(
        f"init time          : {r['init_time']:.1f} s (initial fit on a 1/{r['n_batches']} "
        "subsample)"
    )
    print(
        f"ADMM iterations    : {r['admm_iterations']}, converged={r['converged']} "
        f"({r['stop_reason']})"
    )
    print(f"test MSE           : {r['test_mse']:.4f} (3 unseen noise-free trajectories)")
    for a, peak in r["peak_rss"].items():
        rss = r["rss_before"].get(a)
        was = "started during the fit" if rss is None else f"{rss / GB:.2f} GB before the fit"
        print(
            f"peak RSS of worker : {peak / GB:.2f} GB ({was}, "
            f"{r['rss_after'][a] / GB:.2f} GB after), {a}"
        )
    per_batch = r["data_bytes_per_batch"]
    shown = "?" if per_batch is None else f"{per_batch / MB:.2f} MB"
    print(
        f"batch data sent    : {shown} per batch, once "
        f"(iteration 1 sent {r['first_iteration_bytes_sent'] / MB:.2f} MB)"
    )
    if r["later_bytes_sent_mean"] is not None:
        print(
            f"bytes per iteration: {r['later_bytes_sent_mean'] / MB:.3f} MB sent, "
            f"{r['later_bytes_received_mean'] / MB:.3f} MB received (mean of iterations "
            f"2-{r['admm_iterations']}); tasks re-sent with data: "
            f"{r['data_resent_later']}"
        )
    if r["memory_limit"] is None:
        fits = "(the workers have no memory limit)"
    elif r["single_fit_bytes"] < r["memory_limit"]:
        fits = f"fits in a worker's {limit}"
    else:
        fits = f"does not fit in a worker's {limit}"
    print(
        f"single fit (est.)  : {r['single_fit_bytes'] / GB:.2f} GB for {r['n_samples']} "
        f"samples (at most {r['bytes_per_sample'] / 1e3:.0f} kB per sample, measured on "
        f"the workers), {fits}"
    )
    print(f"task latency       : {1e3 * r['task_latency']:.1f} ms per task (empty tasks)")
    print_history(r["history"])


def print_history(h):
    print("\n iter  wall [s]  slowest batch [s]  sent [kB]  received [kB]  data resent  IPOPT its")
    for k in range(len(h["wall_time"])):
        print(
            f"{k + 1:5d}  {h['wall_time'][k]:8.1f}  {max(h['batch_times'][k]):17.2f}  "
            f"{h['bytes_sent'][k] / 1e3:9.1f}  {h['bytes_received'][k] / 1e3:13.1f}  "
            f"{h['data_resent'][k]:11d}  {h['ipopt_iterations'][k]:9d}"
        )


if __name__ == "__main__":
    main()
