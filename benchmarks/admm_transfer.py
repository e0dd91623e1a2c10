"""Bytes sent to the ADMM workers per iteration: every task with its batch's data (before)
vs the data once, kept on the workers (after).

The 10 000-sample case of ``admm_large.py``: ``--trajectories`` (default 10) noisy Van der
Pol trajectories of 1 000 samples (``benchmarks/_trajectories.py``), ``--batches`` (default
5) batches by trajectory, width 32, the numpy engine, ``--n-jobs`` (default 2) loky
workers. One row per ADMM iteration of a real fit: ``bytes_before``, what the former design
sent in that iteration (each of the iteration's tasks with its batch's data, pickled with
protocol 5), and from ``history_`` what was sent (``bytes_sent``; tasks sent again with
their data to a worker that did not hold them included), how many tasks had to carry data
(``data_resent``) and the results' bytes (``bytes_received``). The sizes, not the timings,
are the result: a few iterations (``--max-iter``, default 3) show them. Also per
iteration: the time the fit spent pickling tasks and results to count the bytes
(``pickle_ms``); and in the summary the pickled size of each batch's data and what
unpickling one data-carrying task costs (what a worker paid per batch and iteration
before).

    python benchmarks/admm_transfer.py [--trajectories 10] [--batches 5] [--n-jobs 2]
        [--max-iter 3]
"""

import argparse
import pickle
import statistics
import time
import warnings
from dataclasses import replace

from _results import ResultsFile, add_output_options, text_table
from _trajectories import ALPHA, training_set
from sklearn.exceptions import ConvergenceWarning

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode import _admm as admm_module

COLUMNS = ["iteration", "before [MB]", "after [MB]", "data resent", "received [kB]",
           "pickling [ms]"]  # fmt: skip


class Recorder:
    """Wraps ADMM's byte counting: per iteration, the bytes the former design would have
    sent and the time spent pickling to count; and one data-carrying task per batch."""

    def __init__(self):
        self.before, self.pickle_s, self.full_tasks = [], [], {}
        self.init_pickle_s = [0.0]  # the initial subsample fit's task (not an iteration)
        self._solve_batches = ADMMNeuralODE._solve_batches
        self._pickled_size = admm_module._pickled_size

    def install(self):
        admm_module._pickled_size = self.pickled_size
        ADMMNeuralODE._solve_batches = self.solve_batches_of()

    def remove(self):
        admm_module._pickled_size = self._pickled_size
        ADMMNeuralODE._solve_batches = self._solve_batches

    def pickled_size(self, obj):
        start = time.perf_counter()
        size = self._pickled_size(obj)
        self._bucket[-1] += time.perf_counter() - start
        return size

    def solve_batches_of(self):
        def solve_batches(estimator, dispatch):
            if len(dispatch.tasks) == 1 and dispatch.tasks[0].rho == 0.0:  # init="subsample"
                self._bucket = self.init_pickle_s
                return self._solve_batches(estimator, dispatch)
            full = [replace(task, data=dispatch.datas[task.key[1]]) for task in dispatch.tasks]
            self.full_tasks = dict(enumerate(full))
            self.before.append(sum(len(pickle.dumps(task, protocol=5)) for task in full))
            self.pickle_s.append(0.0)
            self._bucket = self.pickle_s
            return self._solve_batches(estimator, dispatch)

        return solve_batches


def unpickle_ms(task, repeats=5) -> float:
    """Median milliseconds to unpickle ``task`` (what a worker pays on receiving it)."""
    payload = pickle.dumps(task, protocol=5)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        pickle.loads(payload)
        times.append(time.perf_counter() - start)
    return 1e3 * statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=10)
    parser.add_argument("--batches", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--max-iter", type=int, default=3)
    add_output_options(parser, "admm_transfer")
    args = parser.parse_args()
    results = ResultsFile("admm_transfer", args)
    t, X, ids = training_set(args.trajectories)
    admm = ADMMNeuralODE(
        CollocationNeuralODE(width=32, alpha=ALPHA, random_state=0),
        n_batches=args.batches,
        batching="trajectory",
        n_jobs=args.n_jobs,
        max_iter=args.max_iter,
        tol=1e-8,  # not met: --max-iter iterations
    )
    recorder = Recorder()
    recorder.install()
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            admm.fit(t, X, trajectory=ids)
    finally:
        recorder.remove()
    wall = time.perf_counter() - start
    h = admm.history_
    cells = []
    for k in range(admm.n_iter_):
        row = {
            "iteration": k + 1,
            "bytes_before": recorder.before[k],
            "bytes_after": h["bytes_sent"][k],
            "data_resent": h["data_resent"][k],
            "bytes_received": h["bytes_received"][k],
            "pickle_ms": round(1e3 * recorder.pickle_s[k], 2),
        }
        results.emit(row)
        cells.append([str(k + 1), f"{row['bytes_before'] / 1e6:.3f}",
                      f"{row['bytes_after'] / 1e6:.3f}", str(row["data_resent"]),
                      f"{row['bytes_received'] / 1e3:.1f}",
                      f"{row['pickle_ms']:.2f}"])  # fmt: skip
    tasks = recorder.full_tasks.values()
    data_bytes = [len(pickle.dumps(task.data, protocol=5)) for task in tasks]
    later = h["bytes_sent"][1:]
    summary = {
        "summary": "bytes per iteration, before vs after",
        "n_samples": len(t),
        "n_batches": args.batches,
        "n_jobs": args.n_jobs,
        "admm_iterations": admm.n_iter_,
        "data_bytes_per_batch": data_bytes,
        "bytes_before_per_iteration": round(statistics.mean(recorder.before)),
        "bytes_after_first_iteration": h["bytes_sent"][0],
        "bytes_after_later_iterations_mean": round(statistics.mean(later)) if later else None,
        "data_resent_later_iterations": h["data_resent"][1:],
        "pickle_ms_in_fit": round(1e3 * sum(recorder.pickle_s), 2),
        "pickle_ms_initial_fit": round(1e3 * recorder.init_pickle_s[0], 2),
        "unpickle_ms_per_data_task": [round(unpickle_ms(task), 2) for task in tasks],
        "fit_wall_time": round(wall, 1),
    }
    results.finish([summary], text_table(COLUMNS, cells))


if __name__ == "__main__":
    main()
