"""ADMM on a Dask cluster of memory-limited workers: 100 000 samples in 10 batches of
10 000 on two workers limited to 8 GB, where one fit on all the samples would need over
20 GB.

Runs ``examples/admm_dask.py``'s ``main`` (a ``distributed.LocalCluster`` of ``--workers``
processes, one thread and ``--memory-limit`` each; ``ADMMNeuralODE(batching="trajectory")``
with width 32, alpha 1e-4 and ADMM's defaults through ``joblib.parallel_config(backend=
"dask")``) and records what it printed: one row per ADMM iteration from ``history_`` (its
time, iteration 1 including the client's set-up of the batch data; each batch's seconds in
its worker; the bytes sent and received; the tasks that carried data; IPOPT iterations),
and a summary: wall time, initial fit time, ADMM iterations, convergence, the MSE of
free-run simulations on three unseen noise-free trajectories, each worker's peak RSS (the
kernel's high-water mark, read after the fit) and RSS before the fit, the batch data sent
once, the bytes per later iteration, the client's and scheduler's time per task (empty
tasks through joblib's Dask backend), and the memory one fit on all the samples would
need: the workers' RSS before the fit plus the memory per sample (the largest growth of a
worker's peak RSS over the samples of the largest NLP it solved) times all the samples,
an upper bound because a worker's peak also holds what it kept from earlier solves.
``benchmarks/admm_scaleout.py`` reads the per-iteration batch times and bytes.

The results go to ``benchmarks/results/admm_dask_<n>k.jsonl`` (``<n>`` thousand samples)
unless ``--output`` says otherwise. ``admm_dask_50k.jsonl`` is the run with 50
trajectories in 10 batches of 5 000 samples on workers limited to 3 GB (the default
then).

    python benchmarks/admm_dask_scale.py [--trajectories 100] [--samples-per-trajectory 1000]
        [--batches 10] [--workers 2] [--memory-limit 8GB] [--max-iter 100]
        [--scheduler ADDRESS]
"""

import argparse
import sys
from pathlib import Path

from _results import ROOT, ResultsFile, add_output_options, text_table

sys.path.insert(0, str(ROOT / "examples"))  # the workers inherit it (spawned processes)
import admm_dask  # noqa: E402

COLUMNS = ["iteration", "time [s]", "slowest batch [s]", "batch sum [s]", "sent [kB]",
           "received [kB]", "data resent"]  # fmt: skip


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=100)
    parser.add_argument("--samples-per-trajectory", type=int, default=1000)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="8GB")
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--scheduler", default=None)
    add_output_options(parser, "admm_dask_100k")  # the default is the 100k run
    args = parser.parse_args()
    n_samples = args.trajectories * args.samples_per_trajectory
    if args.output == parser.get_default("output"):
        args.output = Path(args.output).with_name(f"admm_dask_{n_samples // 1000}k.jsonl")
    results = ResultsFile(args.output.stem, args)
    argv = [f"--trajectories={args.trajectories}",
            f"--samples-per-trajectory={args.samples_per_trajectory}",
            f"--batches={args.batches}", f"--workers={args.workers}",
            f"--memory-limit={args.memory_limit}", f"--max-iter={args.max_iter}"]  # fmt: skip
    if args.scheduler:
        argv.append(f"--scheduler={args.scheduler}")
    report = admm_dask.main(argv)
    print()
    h = report["history"]
    cells = []
    for k, wall in enumerate(h["wall_time"]):
        previous = h["wall_time"][k - 1] if k else report["init_time"]
        row = {
            "iteration": k + 1,
            "iteration_time": round(wall - previous, 2),
            "wall_time": round(wall, 2),
            "slowest_batch": round(max(h["batch_times"][k]), 2),
            "batch_time_sum": round(sum(h["batch_times"][k]), 2),
            "bytes_sent": h["bytes_sent"][k],
            "bytes_received": h["bytes_received"][k],
            "data_resent": h["data_resent"][k],
            "ipopt_iterations": h["ipopt_iterations"][k],
            "batch_times": [round(b, 3) for b in h["batch_times"][k]],
        }
        results.emit(row)
        cells.append([str(k + 1), f"{row['iteration_time']:.1f}", f"{row['slowest_batch']:.1f}",
                      f"{row['batch_time_sum']:.1f}", f"{row['bytes_sent'] / 1e3:.0f}",
                      f"{row['bytes_received'] / 1e3:.0f}", str(row["data_resent"])])  # fmt: skip
    gb = 1e9
    summary = {
        "summary": "ADMM on a Dask LocalCluster",
        "n_samples": report["n_samples"],
        "trajectories": report["trajectories"],
        "samples_per_trajectory": report["samples_per_trajectory"],
        "n_batches": report["n_batches"],
        "largest_batch": report["largest_batch"],
        "workers": report["workers"],
        "memory_limit_gb": None if report["memory_limit"] is None else report["memory_limit"] / gb,
        "wall_time": round(report["wall_time"], 1),
        "init_time": round(report["init_time"], 1),
        "admm_iterations": report["admm_iterations"],
        "converged": report["converged"],
        "stop_reason": report["stop_reason"],
        "train_mse": round(report["train_mse"], 6),
        "test_mse_unseen_trajectories": round(report["test_mse"], 6),
        "peak_rss_gb": [round(v / gb, 3) for v in report["peak_rss"].values()],
        "rss_before_gb": [round(v / gb, 3) for v in report["rss_before"].values()],
        "rss_after_gb": [round(v / gb, 3) for v in report.get("rss_after", {}).values()],
        "restarted_workers": len(report["restarted_workers"]),
        "data_mb_per_batch": _rounded(report["data_bytes_per_batch"], 1e6, 3),
        "first_iteration_mb_sent": round(report["first_iteration_bytes_sent"] / 1e6, 3),
        "later_iteration_mb_sent": _rounded(report["later_bytes_sent_mean"], 1e6, 3),
        "later_iteration_mb_received": _rounded(report["later_bytes_received_mean"], 1e6, 3),
        "data_resent_later": report["data_resent_later"],
        "kb_per_sample": round(report["bytes_per_sample"] / 1e3, 1),
        "single_fit_gb_estimated": round(report["single_fit_bytes"] / gb, 2),
        "task_latency_ms": round(1e3 * report["task_latency"], 2),
        "cluster_start": round(report["cluster_start"], 1),
    }
    results.finish([summary], text_table(COLUMNS, cells))


def _rounded(value, unit, digits):
    return None if value is None else round(value / unit, digits)


if __name__ == "__main__":
    main()
