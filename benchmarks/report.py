"""Write ``docs/benchmarks.rst`` from the recorded results in ``benchmarks/results/*.jsonl``.

Each results file (written by a benchmark script through ``_results.py``) holds a header
line (benchmark, date, command, machine) and the JSON lines the script printed. Every file
becomes one section: the script's description (the prose that opens its module
docstring), the command, the date, the machine, a table of the per-case lines and a table
of the summary lines. Bulky fields (training traces, warning texts, nested dicts, long
lists) are left out; numbers keep 4 significant digits. The output depends only on the
files, so the same results give the same page.

    python benchmarks/report.py [--results benchmarks/results] [--output docs/benchmarks.rst]
"""

from __future__ import annotations

import argparse
import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent


@dataclass(frozen=True)
class Section:
    """How one benchmark's records become tables."""

    title: str
    row_key: str  # records with this key are cases; the others are summary lines
    columns: tuple[str, ...]  # shown first, in this order, when present
    more_columns: bool = True  # then the other plain fields, in order of appearance
    labels: dict = field(default_factory=dict)  # column headings other than the key
    # (title, key): the other records with this key get a table of their own, between
    # the cases and the summary lines
    tables: tuple[tuple[str, str], ...] = ()
    figure: str = ""  # an image in docs/ the benchmark draws, shown after the command


REMEDY_COLUMNS = (
    "model",
    "leak_rate",
    "alpha",
    "data_seed",
    "status",
    "n_iter",
    "discretization_error",
    "eig_positive",
    "train_fit_percent",
    "test_fit_percent",
    "test_fit_percent_truth",
    "lam_min",
    "lam0",
    "lam1",
    "bound_sd",
    "fit_time",
)


def _dask_section(size: str) -> Section:
    """``admm_dask_scale.py``'s results at one size."""
    return Section(
        f"ADMM on a Dask cluster of memory-limited workers: {size}",
        "iteration",
        (
            "iteration",
            "iteration_time",
            "wall_time",
            "slowest_batch",
            "batch_time_sum",
            "bytes_sent",
            "bytes_received",
            "data_resent",
            "ipopt_iterations",
        ),
        more_columns=False,
    )


#: The columns of both input-interpolation sections (default and fixed pivot tolerance).
_INTERPOLATION_COLUMNS = (
    "case", "run", "interpolation", "n_variables", "jacobian_nnz", "hessian_nnz", "status",
    "n_iter", "cpu_per_iter", "wall_per_iter", "factorizations_per_iter",
    "max_factor_doubles", "pivtol_increases", "restoration_iterations",
)  # fmt: skip

SECTIONS = {
    "table1": Section(
        "Table 1: the paper's case, every method",
        "method",
        ("method", "time", "iterations", "train_mse", "test_mse", "status", "compile_time"),
        more_columns=False,
        labels={
            "time": "wall time [s]",
            "iterations": "iterations/epochs",
            "train_mse": "train MSE",
            "test_mse": "test MSE",
            "compile_time": "JIT compile [s]",
        },
    ),
    "vs_sequential": Section(
        "Time to a training MSE: collocation vs sequential training",
        "method",
        ("method", "run", "time", "time_to_target", "iterations", "train_mse", "test_mse"),
    ),
    "van_der_pol_fits": Section(
        "Van der Pol fits: time, iterations, accuracy", "case", ("case", "median_fit_time")
    ),
    "init_strategies": Section(
        "Initial point: least squares vs random",
        "case",
        ("case", "init", "seed", "fit_time", "n_iter"),
        labels={"summary": "case"},
    ),
    "authors_code": Section(
        "The authors' own code vs skneuralode on the paper's case",
        "method",
        (
            "method",
            "repeat",
            "total",
            "build_solve",
            "prep",
            "n_iter",
            "status",
            "mse_train_span",
            "mse_test_span",
        ),
        labels={"summary": "method"},
    ),
    "multiplier_step": Section(
        "IPOPT's multiplier step: alpha_for_y primal vs min-dual-infeas",
        "case",
        ("case", "rule", "seed", "n_iter", "fit_time", "status", "objective", "test"),
        labels={"summary": "case"},
    ),
    "engines": Section(
        "Numpy engine vs pyomo engine on the paper's case",
        "engine",
        ("case", "engine", "median_fit_time", "build_time", "solve_time", "n_iter", "status"),
        labels={"summary": "case"},
    ),
    "scaling_trajectories_numpy": Section(
        "Numpy engine: 1, 5 and 10 trajectories of 1 000 samples",
        "n",
        (
            "n",
            "status",
            "n_iter",
            "n_variables",
            "build_time",
            "ipopt_time",
            "fit_time",
            "ipopt_s_per_iter",
            "peak_rss_mb",
            "share_PDSystemSolverTotal",
            "share_Function_Evaluations",
            "train_mse",
            "test_mse",
        ),
        more_columns=False,
    ),
    "admm_large": Section(
        "ADMM by trajectory vs one model on 10 000 samples", "method", ("method", "wall_time")
    ),
    "admm_paper": Section(
        "ADMM on the paper's case: two batches vs one model", "method", ("method", "wall_time")
    ),
    "admm_parallel": Section(
        "ADMM in parallel: n_jobs=2 vs n_jobs=1", "case", ("case", "n_jobs", "wall_time")
    ),
    "admm_transfer": Section(
        "ADMM: bytes sent to the workers per iteration, before vs after",
        "iteration",
        ("iteration", "bytes_before", "bytes_after", "data_resent", "bytes_received"),
    ),
    "admm_dask_100k": _dask_section("100 000 samples"),
    "admm_dask_50k": _dask_section("50 000 samples"),
    "admm_scaleout": Section(
        "ADMM scale-out: 1 and 2 workers measured, 4 to 64 projected",
        "case",
        (
            "case",
            "n_samples",
            "workers",
            "batches",
            "backend",
            "iterations",
            "init_time",
            "first_iteration",
            "time_per_iteration",
            "time_to_convergence",
            "converged",
            "test_mse",
            "latency_ms",
        ),
        more_columns=False,
        tables=(("Model checks", "check"),),
        figure="_static/admm_scaleout.png",
    ),
    "latent_states": Section(
        "Input-output data: cascaded tanks with 0, 1 and 2 latent states vs ARX",
        "model",
        ("model", "random_state", "fit_percent", "fit_percent_truth", "fit_time", "n_iter"),
    ),
    "free_run_stability": Section(
        "Free-run stability: a converged fit whose learned ODE is unstable",
        "data_seed",
        (
            "alpha",
            "data_seed",
            "status",
            "n_iter",
            "discretization_error",
            "eig_dt_median",
            "eig_positive",
            "train_fit_percent",
            "test_fit_percent",
            "test_fit_percent_truth",
        ),
    ),  # fmt: skip
    "greybox_two_tank": Section(
        "Grey-box vs black-box on the cascaded tanks: parameters and free-run test fit",
        "data_seed",
        (
            "model",
            "noise",
            "data_seed",
            "k1_error",
            "k4_error",
            "test_r2",
            "test_fit_percent",
            "test_fit_percent_truth",
            "noise_floor_fit_percent",
            "test_outside",
            "h1_max_error",
            "fit_time",
            "n_iter",
            "status",
        ),
        more_columns=False,
    ),
    "param_estimation": Section(
        "Physics-only parameter estimation: collocation vs single shooting",
        "method",
        (
            "case",
            "guess",
            "method",
            "repeat",
            "time",
            "solve_time",
            "n_iter",
            "nfev",
            "njev",
            "n_simulations",
            "cost",
            "max_abs_error",
            "status",
        ),
        more_columns=False,
        tables=(("Estimates (first run of each)", "parameter"),),
    ),
    "free_run_remedy": Section(
        "Free-run stability: a leak with a bounded-below rate vs the black box",
        "data_seed",
        REMEDY_COLUMNS,
        more_columns=False,
    ),
    "free_run_remedy_rates": Section(
        "Free-run stability: the leak's lower bound, 0.3 and 3 over the time scale",
        "data_seed",
        REMEDY_COLUMNS,
        more_columns=False,
    ),
    "latent_init": Section(
        "How latent states start: derivatives of the smoothed outputs vs zeros vs random",
        "start",
        ("case", "start", "seed", "ipopt_iterations", "fit_time", "test_fit_percent"),
    ),
    "input_interpolation": Section(
        "Cost per IPOPT iteration: linear input interpolation vs zero-order hold",
        "interpolation",
        _INTERPOLATION_COLUMNS,
        more_columns=False,
    ),
    "input_interpolation_pivtol": Section(
        "Cost per IPOPT iteration at a fixed MUMPS pivot tolerance: linear vs zero-order hold",
        "interpolation",
        _INTERPOLATION_COLUMNS,
        more_columns=False,
    ),
    "ude_selection": Section(
        "Lotka-Volterra UDE: choosing the networks inside the training window",
        "model",
        (
            "model",
            "width",
            "activation",
            "alpha",
            "median_val_rmse",
            "val_rmse",
            "median_a",
            "median_d",
            "converged",
            "median_n_iter",
            "median_fit_time",
        ),
        more_columns=False,
    ),
    "covariance_coverage": Section(
        "Standard errors of physical parameters: Monte-Carlo coverage",
        "parameter",
        (
            "case",
            "parameter",
            "true",
            "coverage",
            "coverage_sandwich",
            "std_ratio",
            "std_ratio_sandwich",
            "bias_in_std",
            "empirical_std",
        ),
        labels={
            "coverage": "95% coverage",
            "coverage_sandwich": "coverage (sandwich)",
            "std_ratio": "mean std / empirical std",
            "std_ratio_sandwich": "ratio (sandwich)",
        },
        tables=(("Time of the covariance vs the fit", "timing"),),
    ),
    "ude_forecast": Section(
        "Lotka-Volterra UDE: forecasts of grey box, black box and physics only",
        "seed",
        (
            "model",
            "alpha",
            "seed",
            "status",
            "n_iter",
            "fit_time",
            "rmse_train",
            "rmse_3_6",
            "rmse_3_horizon",
            "peak_ratio",
            "a_error",
            "d_error",
            "b_error",
            "c_error",
            "nn_rmse",
        ),
        more_columns=False,
    ),
    "scaling": Section(
        "Scaling with the number of samples and the width",
        "scheme",
        (
            "scheme",
            "n",
            "width",
            "sweeps",
            "status",
            "n_iter",
            "n_variables",
            "jac_nnz",
            "build_time",
            "nl_time",
            "ipopt_time",
            "fit_time",
            "ipopt_s_per_iter",
            "peak_rss_mb",
            "fit_times",
            "share_Function_Evaluations",
            "share_PDSystemSolverTotal",
        ),
        more_columns=False,
    ),
}
DROPPED = {"trace", "warnings"}
NOTES = ("skipped", "error")  # long texts: listed under the table, not in it
MAX_LIST = 4  # longer lists are left out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=BENCHMARKS / "results")
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "benchmarks.rst")
    args = parser.parse_args()
    files = list(args.results.glob("*.jsonl"))
    results = sorted(
        (read_results(path) for path in files), key=lambda r: _order(r[0]["benchmark"])
    )
    text = render_page(results)
    args.output.write_text(text)
    print(f"{args.output} written from {len(files)} results file(s)")


def _order(name: str) -> tuple:
    """The fixed order of SECTIONS, then any other benchmark by name (the header's)."""
    names = list(SECTIONS)
    return (names.index(name) if name in names else len(names), name)


def read_results(path: Path) -> tuple[dict, list[dict]]:
    """A results file -> (header, records)."""
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not lines or "benchmark" not in lines[0]:
        raise ValueError(f"{path}: the first line must be the header written by _results.py")
    return lines[0], lines[1:]


# ---------------------------------------------------------------- page


def render_page(results: list[tuple[dict, list[dict]]]) -> str:
    out = [
        ".. Generated by benchmarks/report.py (make benchmark-report); do not edit.",
        "",
        "Benchmarks",
        "==========",
        "",
        "This page is generated by ``make benchmark-report`` from the results files",
        "``benchmarks/results/*.jsonl``; it must not be edited by hand. ``make benchmarks``",
        "reruns seven of the scripts (``table1``, ``vs_sequential``, ``van_der_pol_fits``,",
        "``init_strategies``, ``admm_paper``, ``admm_parallel``, ``scaling``; about 25",
        "minutes on 2 cores), and",
        "``make benchmarks-all`` every script (about two hours; ``authors_code`` only with",
        "``AUTHORS_REPO=PATH``), each with the command recorded in its section below",
        "(``admm_scaleout`` measures again, ``--more-batches 10``, where the recorded run",
        "reused earlier measurements); both then render this page. Each section gives the",
        "command, when and on which machine it ran, and the JSON lines the script printed:",
        "one table of cases and one of summary lines. Column names are the JSON keys; times",
        "are wall-clock seconds. Each script's module docstring says exactly what it",
        "measures.",
        "",
    ]
    if not results:
        out += ["No results are recorded yet: run ``make benchmarks``.", ""]
    for header, records in results:
        out += render_section(header, records)
    return "\n".join(out).rstrip("\n") + "\n"


def script_of(header: dict) -> str:
    """The script that wrote a results file: the first ``benchmarks/*.py`` of its command
    (a file may be named after a sweep, e.g. scaling.py writes
    ``scaling_trajectories_numpy.jsonl``), else the one named after the benchmark."""
    for word in header.get("command", "").split():
        if word.startswith("benchmarks/") and word.endswith(".py"):
            return word
    return f"benchmarks/{header['benchmark']}.py"


def render_section(header: dict, records: list[dict]) -> list[str]:
    name = header["benchmark"]
    spec = SECTIONS.get(name) or Section(escape(name), _first_key(records), ())
    script = script_of(header)
    out = [spec.title, "-" * len(spec.title), ""]
    for paragraph in description(ROOT / script):
        out += [paragraph, ""]
    elapsed = header.get("elapsed")
    took = f" (took {_duration(elapsed)})" if elapsed is not None else ""
    out += [
        f":Script: ``{script}``",
        f":Command: ``{header['command']}``",
        f":Date: {header['date']}{took}",
        f":Machine: {escape(machine_line(header.get('machine', {})))}",
        "",
    ]
    if spec.figure:
        out += [f".. image:: {spec.figure}", f"   :alt: {spec.title}", ""]
    rows = [r for r in records if spec.row_key in r]
    rest = [r for r in records if spec.row_key not in r]
    if rows:
        out += cases_table(rows, spec)
    for title, key in spec.tables:
        group = [r for r in rest if key in r]
        rest = [r for r in rest if key not in r]
        if group:
            out += list_table(title, group, columns(group, (), True), spec.labels)
    summaries = rest
    if len(summaries) == 1:
        out += summary_table(summaries[0], spec)
    elif summaries:
        out += list_table(
            "Summary", summaries, columns(summaries, ("summary",), True), spec.labels
        )
    return out


def description(script: Path) -> list[str]:
    """The prose paragraphs that open the script's module docstring (not imported)."""
    if not script.exists():
        return []
    doc = ast.get_docstring(ast.parse(script.read_text())) or ""
    paragraphs = []
    for block in re.split(r"\n\s*\n", doc.strip()):
        is_list = re.match(r"(\s|[-*+]\s|\d+\.\s)", block)
        if is_list or block.rstrip().endswith(":"):
            break
        paragraphs.append(" ".join(block.split()))
    return paragraphs


def machine_line(machine: dict) -> str:
    parts = [
        machine.get("cpu") or "unknown CPU",
        f"{machine.get('logical_cpus', '?')} logical CPUs",
        f"{machine.get('memory_gb', '?')} GB memory",
        machine.get("platform", "unknown OS"),
        f"Python {machine.get('python', '?')}",
    ]
    if machine.get("ipopt"):
        parts.append(f"IPOPT {machine['ipopt']}")
    if machine.get("ipopt_executable"):
        parts.append(f"ipopt executable {machine['ipopt_executable']}")
    packages = machine.get("packages", {})
    if packages:
        parts.append(", ".join(f"{name} {version}" for name, version in packages.items()))
    return "; ".join(parts)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _first_key(records: list[dict]) -> str:
    return next(iter(records[0]), "") if records else ""


# ---------------------------------------------------------------- tables


def cases_table(rows: list[dict], spec: Section) -> list[str]:
    """The cases; a skipped or failed case says so in its status and in a note below."""
    noted = {i: key for i, row in enumerate(rows) for key in NOTES if key in row}
    marked = [{"status": noted[i], **row} if i in noted else row for i, row in enumerate(rows)]
    keys = columns(marked, spec.columns, spec.more_columns)
    out = list_table("", marked, keys, spec.labels)
    for i, key in noted.items():
        out.append(f"- {escape(f'{identify(rows[i], spec)}: {key} — {rows[i][key]}')}")
    return out + ([""] if noted else [])


def summary_table(record: dict, spec: Section) -> list[str]:
    """One summary line as a two-column table: quantity, value."""
    title = "Summary" + (f": {record['summary']}" if "summary" in record else "")
    keys = [k for k in record if k not in DROPPED and k != "summary" and shown(record[k])]
    table = [{"quantity": spec.labels.get(k, k), "value": record[k]} for k in keys]
    return list_table(title, table, ["quantity", "value"], {})


def columns(records: list[dict], first: tuple, more: bool) -> list[str]:
    """``first`` (those present), then, if ``more``, every other plain field in order."""
    present = {k for r in records for k, v in r.items() if k not in DROPPED and shown(v)}
    keys = [k for k in first if k in present]
    if more:
        for record in records:
            keys += [k for k in record if k in present and k not in keys and k not in NOTES]
    return keys


def shown(value) -> bool:
    """Scalars and short lists of scalars go in tables; dicts and long lists do not."""
    if isinstance(value, dict):
        return False
    if isinstance(value, list):
        return len(value) <= MAX_LIST and not any(isinstance(v, list | dict) for v in value)
    return True


def identify(row: dict, spec: Section) -> str:
    return ", ".join(f"{k}={row[k]}" for k in spec.columns[:3] if k in row)


def list_table(title: str, records: list[dict], keys: list[str], labels: dict) -> list[str]:
    out = [f".. list-table:: {escape(title)}".rstrip(), "   :header-rows: 1", ""]
    header = [escape(labels.get(k, k)) for k in keys]
    body = [[cell_text(r[k]) if k in r else "" for k in keys] for r in records]
    for cells in [header, *body]:
        for i, text in enumerate(cells):
            out.append(f"   {'* -' if i == 0 else '  -'} {text}".rstrip())
    return out + [""]


def cell_text(value) -> str:
    if value is None:  # JSON null: not reached, not measured
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return ", ".join(cell_text(v) for v in value)
    return escape(str(value))


def number(value: float) -> str:
    """4 significant digits; no exponent for values from 1e4 up to 1e9."""
    if 1e4 <= abs(value) < 1e9:
        return f"{value:.0f}"
    return f"{value:.4g}"


def escape(text: str) -> str:
    """Plain text for reStructuredText: no markup, no list or field starts."""
    text = " ".join(text.split())
    text = re.sub(r"([\\`*_|])", r"\\\1", text)
    return "\\" + text if re.match(r"[-+*#:(\d]", text) and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    main()
