"""ADMM scale-out: time per iteration and time to convergence measured with 1 and 2
workers, projected to 4-64 workers on 10 000 and 100 000 samples.

Measured in this run: ``ADMMNeuralODE`` on the 10 000-sample case of ``admm_large.py``
(10 noisy Van der Pol trajectories of 1 000 samples, ``benchmarks/_trajectories.py``; 5
batches by trajectory, width 32, alpha 1e-4, ADMM's defaults otherwise) with ``n_jobs=1``
and ``n_jobs=2`` (loky): the initial fit's time, the first ADMM iteration (which also
carries the client's set-up of the batch data and the data), the mean time of the later
iterations, the time to convergence and the ADMM iterations; with ``--more-batches 10``
also 10 batches (one trajectory each) with ``n_jobs=2``, to see how the iteration count
changes with the number of batches. Read from ``benchmarks/results/admm_dask_100k.jsonl``:
the 100 000-sample run on a Dask ``LocalCluster`` of 2 workers (``admm_dask_scale.py``:
100 trajectories, 10 batches), its per-iteration batch times and bytes, its initial fit's
time and its per-task latency.

Projected for W = 4, 8, 16, 32 and 64 workers on a Dask cluster, from a measured run (the
``n_jobs=1`` run for 10 000 samples, the Dask run for 100 000), each of its ADMM
iterations k replayed with B' batches: B' = max(B, W), at most one per trajectory
(``projected``; 10 at most on 10 000 samples), or B' = B (``projected, B fixed``: W > B
workers idle). The batch times are the measured ones when B' = B; otherwise each batch
takes its samples times the iteration's measured seconds per sample (the sum of the batch
times over all samples: a batch's time taken as linear in its size). The iteration then
lasts the makespan of its batch times on W workers (longest-processing-time-first list
scheduling), plus the client's overhead ``o_k`` (the ADMM updates, objective and
training error over all batches; in iteration 1 also the set-up of the batch data), plus
B' times the per-task latency L of the Dask scheduler, plus the bytes the iteration sent
and received over the client's link at an assumed bandwidth (default 1 Gbit/s; the bytes
are those measured, mostly the batches' node states, which do not depend on B'). ``o_k``
is calibrated on the measured run: its iteration time less the makespan of its batch
times on its own workers, less B L. L is measured: the time per empty task through
joblib's Dask backend (from the Dask run) or loky (this run). The initial fit (about
N/B' samples, on one worker) takes the measured init time times B / B'. The ADMM
iteration count is taken as measured. That is exact for B' = B; for more batches it is
an assumption, and ``--more-batches 10`` shows its risk: with one trajectory per batch
ADMM had not converged after 100 iterations where 5 batches took 7. The model is
checked against this run: it predicts ``n_jobs=2`` from the ``n_jobs=1`` run (with
loky's latency) and the prediction is printed beside the measured ``n_jobs=2`` times.

    python benchmarks/admm_scaleout.py [--trajectories 10] [--batches 5]
        [--more-batches 10] [--bandwidth 1e9] [--workers 4 8 16 32 64]
        [--dask-results benchmarks/results/admm_dask_100k.jsonl]
        [--figure docs/_static/admm_scaleout.png] [--reuse PATH]

``--reuse PATH`` takes the measured 10 000-sample runs from an earlier results file of
this script instead of fitting again (to redraw the figure or change the assumptions);
the summary line then says when and by which command they were measured.
"""

import argparse
import heapq
import json
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import joblib
import numpy as np
from _results import RESULTS, ROOT, ResultsFile, add_output_options, text_table
from _trajectories import ALPHA, SAMPLES_PER_TRAJECTORY, test_mse, training_set
from sklearn.exceptions import ConvergenceWarning

from skneuralode import ADMMNeuralODE, CollocationNeuralODE

COLUMNS = ["samples", "workers", "batches", "", "iterations", "init [s]",
           "1st iteration [s]", "per iteration [s]", "to convergence [s]"]  # fmt: skip


@dataclass
class Run:
    """A measured ADMM fit, as the projection needs it."""

    label: str
    n_samples: int
    trajectories: int
    samples_per_trajectory: int
    batches: int
    workers: int
    latency: float  # seconds per task of the backend (0 in-process)
    init_time: float
    iteration_times: list  # seconds; iteration 1 includes the client's set-up
    batch_times: list  # per iteration, each batch's seconds in its worker
    bytes: list  # per iteration, sent + received
    converged: bool
    test_mse: float | None = None

    @property
    def iterations(self) -> int:
        return len(self.iteration_times)

    @property
    def total(self) -> float:
        return self.init_time + sum(self.iteration_times)

    def overheads(self) -> list:
        """The client's overhead per iteration: what the batch makespan on this run's
        workers and the per-task latency do not explain (at least 0)."""
        return [
            max(t - makespan(b, self.workers) - self.batches * self.latency, 0.0)
            for t, b in zip(self.iteration_times, self.batch_times)
        ]


def makespan(times, workers: int) -> float:
    """Longest processing time first: each job, longest first, to the least loaded worker."""
    loads = [0.0] * workers
    for t in sorted(times, reverse=True):
        heapq.heapreplace(loads, loads[0] + t)
    return max(loads)


def batch_sizes(run: Run, batches: int) -> list:
    """Samples per batch when the run's trajectories are dealt into ``batches`` groups."""
    groups = np.array_split(np.arange(run.trajectories), batches)
    return [len(g) * run.samples_per_trajectory for g in groups]


def project(run: Run, workers: int, latency: float, bandwidth: float, batches=None) -> dict:
    """The run replayed on ``workers`` workers (see the module docstring), in ``batches``
    batches (default: max(B, W), at most one per trajectory)."""
    if batches is None:
        batches = min(max(run.batches, workers), run.trajectories)
    sizes = batch_sizes(run, batches)
    times = []
    for k, (measured, overhead) in enumerate(zip(run.batch_times, run.overheads())):
        if batches == run.batches:
            jobs = measured
        else:
            per_sample = sum(measured) / run.n_samples
            jobs = [per_sample * n for n in sizes]
        network = 8 * run.bytes[k] / bandwidth
        times.append(makespan(jobs, workers) + overhead + batches * latency + network)
    init = run.init_time * run.batches / batches
    return summary_row("projected", run, workers, batches, init, times)


def summary_row(case, run, workers, batches, init, times) -> dict:
    """Time per iteration is the mean of iterations 2 to K (the first also carries the
    client's set-up of the batch data and the data themselves: ``first_iteration``)."""
    steady = times[1:] or times
    return {
        "case": case,
        "n_samples": run.n_samples,
        "workers": workers,
        "batches": batches,
        "iterations": len(times),
        "init_time": round(init, 2),
        "first_iteration": round(times[0], 2),
        "time_per_iteration": round(float(np.mean(steady)), 2),
        "time_to_convergence": round(init + sum(times), 1),
    }


# ---------------------------------------------------------------- measuring


def fit_run(t, X, ids, batches, n_jobs, trajectories) -> Run:
    admm = ADMMNeuralODE(
        CollocationNeuralODE(width=32, alpha=ALPHA, random_state=0),
        n_batches=batches,
        batching="trajectory",
        n_jobs=n_jobs,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        admm.fit(t, X, trajectory=ids)
    h = admm.history_
    wall = [admm.init_time_, *h["wall_time"]]
    return Run(
        label=f"loky n_jobs={n_jobs}",
        n_samples=len(t),
        trajectories=trajectories,
        samples_per_trajectory=SAMPLES_PER_TRAJECTORY,
        batches=batches,
        workers=n_jobs,
        latency=loky_latency(n_jobs) if n_jobs > 1 else 0.0,
        init_time=admm.init_time_,
        iteration_times=list(np.diff(wall)),
        batch_times=h["batch_times"],
        bytes=[s + r for s, r in zip(h["bytes_sent"], h["bytes_received"])],
        converged=bool(admm.converged_),
        test_mse=test_mse(admm),
    )


def loky_latency(n_jobs, n_tasks=40) -> float:
    """Seconds per empty task through loky (one task per call, as ADMM dispatches)."""
    start = time.perf_counter()
    joblib.Parallel(n_jobs=n_jobs, batch_size=1)(joblib.delayed(len)(()) for _ in range(n_tasks))
    return (time.perf_counter() - start) / n_tasks


def read_dask_run(path: Path) -> Run:
    """The Dask run recorded by ``admm_dask_scale.py``."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in lines[1:] if "iteration" in r]
    s = next(r for r in lines[1:] if "summary" in r)
    return Run(
        label="Dask LocalCluster",
        n_samples=s["n_samples"],
        trajectories=s["trajectories"],
        samples_per_trajectory=s["samples_per_trajectory"],
        batches=s["n_batches"],
        workers=s["workers"],
        latency=s["task_latency_ms"] / 1e3,
        init_time=s["init_time"],
        iteration_times=[r["iteration_time"] for r in rows],
        batch_times=[r["batch_times"] for r in rows],
        bytes=[r["bytes_sent"] + r["bytes_received"] for r in rows],
        converged=s["converged"],
        test_mse=s["test_mse_unseen_trajectories"],
    )


def read_measured(path: Path) -> tuple[list, dict]:
    """The measured runs of an earlier results file of this script (``--reuse``), and
    when and how they were measured."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    runs = [Run(**r["run"]) for r in lines[1:] if r.get("case") == "measured" and "run" in r]
    earlier = next((r for r in lines[1:] if "summary" in r), {})
    provenance = {
        "measured_date": earlier.get("measured_date", lines[0]["date"]),
        "measured_command": earlier.get("measured_command", lines[0]["command"]),
    }
    return runs, provenance


def measured_row(run: Run) -> dict:
    row = summary_row("measured", run, run.workers, run.batches, run.init_time,
                      run.iteration_times)  # fmt: skip
    row.update(backend=run.label, converged=run.converged, test_mse=_round(run.test_mse, 5),
               latency_ms=round(1e3 * run.latency, 2))  # fmt: skip
    if run.label != "Dask LocalCluster":  # the Dask run is in its own results file
        row["run"] = {k: _rounded_lists(v) for k, v in asdict(run).items()}
    return row


def _round(value, digits):
    return None if value is None else round(value, digits)


def _rounded_lists(value):
    if isinstance(value, list):
        return [_rounded_lists(v) for v in value]
    return round(value, 4) if isinstance(value, float) else value


# ---------------------------------------------------------------- figure


def draw(rows: list, check: dict, more: dict | None, path: Path) -> None:
    """Time per iteration and to convergence vs workers: measured (filled), projected
    with B = max(B, W) (open circles, dashed) and with B fixed (open squares, dotted),
    the model's 2-worker check (x) and the 10 000 samples in more batches (triangle)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4))
    keys = [("time_per_iteration", "time per ADMM iteration (2nd on) [s]"),
            ("time_to_convergence", "time to convergence, init included [s]")]  # fmt: skip
    for ax, (key, label) in zip(axes, keys):
        for n, color in ((10_000, "C0"), (100_000, "C1")):
            mine = sorted((r for r in rows if r["n_samples"] == n), key=lambda r: r["workers"])
            measured = [r for r in mine if r["case"] == "measured"]
            for case, style, marker in (("projected", "--", "o"),
                                        ("projected, B fixed", ":", "s")):  # fmt: skip
                line = [measured[-1], *[r for r in mine if r["case"] == case]]
                ax.plot([r["workers"] for r in line], [r[key] for r in line], style,
                        color=color, marker=marker, markerfacecolor="white",
                        label=f"{n:,} samples, {_variant(case)}")  # fmt: skip
            ax.plot(
                [r["workers"] for r in measured],
                [r[key] for r in measured],
                "-",
                color=color,
                marker="o",
                markersize=8,
                label=f"{n:,} samples, measured",
            )
        ax.plot([check["workers"]], [check[f"predicted_{key}"]], "kx", markersize=9,
                label="model from the 1-worker run (check)")  # fmt: skip
        if more is not None:
            ax.plot([more["workers"]], [more[key]], "v", color="C3", markersize=8,
                    label=f"10,000 samples in {more['batches']} batches, measured "
                    f"({more['iterations']} iterations"
                    f"{'' if more['converged'] else ', not converged'})")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_yticks(TICKS[key])
        ax.yaxis.set_major_formatter(ScalarFormatter())
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks([1, 2, 4, 8, 16, 32, 64], ["1", "2", "4", "8", "16", "32", "64"])
        ax.set_xlabel("workers")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes[1].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.suptitle("ADMMNeuralODE, width 32, by trajectory: measured and projected")
    fig.tight_layout(rect=(0, 0.16, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"figure written to {path}")


TICKS = {"time_per_iteration": [1, 2, 5, 10, 20, 50],
         "time_to_convergence": [20, 50, 100, 200, 500, 1000]}  # fmt: skip


def _variant(case: str) -> str:
    return {"projected": "projected, B = max(B, W)",
            "projected, B fixed": "projected, B as measured"}[case]  # fmt: skip


# ---------------------------------------------------------------- main


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=10)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--more-batches", type=int, default=0, help="0: not measured")
    parser.add_argument("--bandwidth", type=float, default=1e9, help="bits per second")
    parser.add_argument("--workers", type=int, nargs="+", default=[4, 8, 16, 32, 64])
    parser.add_argument("--dask-results", type=Path, default=RESULTS / "admm_dask_100k.jsonl")
    parser.add_argument("--figure", type=Path, default=ROOT / "docs/_static/admm_scaleout.png")
    parser.add_argument("--reuse", type=Path, default=None, metavar="PATH")
    add_output_options(parser, "admm_scaleout")
    args = parser.parse_args()
    if args.reuse:  # read before the results file (perhaps the same) is written
        runs, provenance = read_measured(args.reuse)
    results = ResultsFile("admm_scaleout", args)
    if not args.reuse:
        t, X, ids = training_set(args.trajectories)
        cases = [(args.batches, 1), (args.batches, 2)]
        if args.more_batches:
            cases.append((args.more_batches, 2))
        runs = [fit_run(t, X, ids, b, n_jobs, args.trajectories) for b, n_jobs in cases]
        provenance = {"measured_date": results.date, "measured_command": results.command}
    one, two, more = runs[0], runs[1], (runs[2] if len(runs) > 2 else None)
    dask = read_dask_run(args.dask_results)
    measured = [measured_row(run) for run in runs]
    checks = [model_check(one, two, args.bandwidth)]
    if more is not None:
        checks.append(batch_check(one, more, args.bandwidth))
    projected = []
    for source in (one, dask):
        for w in args.workers:
            projected.append(project(source, w, dask.latency, args.bandwidth))
            fixed = project(source, w, dask.latency, args.bandwidth, source.batches)
            projected.append({**fixed, "case": "projected, B fixed"})
    rows = [*measured, measured_row(dask), *projected]
    for row in [*rows, *checks]:
        results.emit(row)
    shown = [measured_row(run) for run in (one, two, dask)] + projected
    draw(shown, checks[0], None if more is None else measured_row(more), args.figure)
    summary = {
        "summary": "assumptions",
        "bandwidth_gbit_s": args.bandwidth / 1e9,
        "dask_latency_ms": round(1e3 * dask.latency, 2),
        "loky_latency_ms": round(1e3 * two.latency, 2),
        "dask_results": _shown(args.dask_results),
        "figure": _shown(args.figure),
        **provenance,
    }
    cells = [[str(r["n_samples"]), str(r["workers"]), str(r["batches"]), r["case"],
              str(r["iterations"]), f"{r['init_time']:.1f}", f"{r['first_iteration']:.1f}",
              f"{r['time_per_iteration']:.2f}", f"{r['time_to_convergence']:.1f}"]
             for r in rows]  # fmt: skip
    table = text_table(COLUMNS, cells)
    for c in checks:
        table += f"\n\n{c['check']}:\n" + "\n".join(
            f"  {key}: {value}" for key, value in c.items() if key != "check"
        )
    results.finish([summary], table)


def model_check(one: Run, two: Run, bandwidth: float) -> dict:
    """``n_jobs=2`` predicted from the ``n_jobs=1`` run (with loky's latency) vs measured."""
    predicted = project(one, two.workers, two.latency, bandwidth)
    measured = measured_row(two)
    check = {"check": f"{two.workers} workers: predicted from the 1-worker run vs measured",
             "n_samples": one.n_samples, "workers": two.workers}  # fmt: skip
    for key in ("first_iteration", "time_per_iteration", "time_to_convergence"):
        check[f"predicted_{key}"] = predicted[key]
        check[f"measured_{key}"] = measured[key]
    check["ratio_to_convergence"] = round(
        predicted["time_to_convergence"] / measured["time_to_convergence"], 3
    )
    return check


def batch_check(one: Run, more: Run, bandwidth: float) -> dict:
    """More batches: the per-batch times linear in size? the iteration count?"""
    guess = project(one, more.workers, more.latency, bandwidth, more.batches)
    measured = measured_row(more)
    return {
        "check": f"{more.batches} batches, {more.workers} workers: predicted from the "
        f"1-worker run with {one.batches} batches vs measured",
        "n_samples": more.n_samples,
        "workers": more.workers,
        "predicted_time_per_iteration": guess["time_per_iteration"],
        "measured_time_per_iteration": measured["time_per_iteration"],
        "predicted_init_time": guess["init_time"],
        "measured_init_time": measured["init_time"],
        "assumed_iterations": one.iterations,
        "measured_iterations": more.iterations,
        "measured_converged": more.converged,
    }


def _shown(path: Path) -> str:
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


if __name__ == "__main__":
    main()
