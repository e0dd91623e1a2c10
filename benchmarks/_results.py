"""Record a benchmark's JSON lines, with the machine and the date, for ``docs/benchmarks``.

Every benchmark script prints one JSON line per case (and summary lines). With this helper
it also writes them to ``benchmarks/results/<name>.jsonl``, after a header line::

    {"benchmark": name, "date": ISO-8601 UTC start, "command": "python benchmarks/...",
     "elapsed": seconds, "machine": {...}}

The file is written once, when the run finishes (temp file + rename), so an interrupted
run leaves the previous results in place. ``benchmarks/report.py`` turns the files into
``docs/benchmarks.rst``. In a script::

    add_output_options(parser, "admm_paper")
    args = parser.parse_args()
    results = ResultsFile("admm_paper", args)
    results.emit(row)  # prints the JSON line, as before, and keeps it
    results.save()
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent
ROOT = BENCHMARKS.parent
RESULTS = BENCHMARKS / "results"
# Distribution names (importlib.metadata reads them without importing anything).
PACKAGES = (
    "skneuralode",
    "numpy",
    "scipy",
    "pyomo",
    "scikit-learn",
    "joblib",
    "threadpoolctl",
    "cyipopt-wheels",
    "cyipopt",
    "torch",
    "torchdiffeq",
    "jax",
    "jaxlib",
    "diffrax",
    "optax",
)


def add_output_options(parser: argparse.ArgumentParser, name: str) -> None:
    """``--output PATH`` (default ``benchmarks/results/<name>.jsonl``) and ``--no-save``."""
    default = RESULTS / f"{name}.jsonl"
    group = parser.add_argument_group("results file")
    group.add_argument(
        "--output",
        type=Path,
        default=default,
        metavar="PATH",
        help=f"where to write the JSON lines after a header (default {default.relative_to(ROOT)})",
    )
    group.add_argument(
        "--no-save", action="store_true", help="only print the JSON lines; write no file"
    )


class ResultsFile:
    """Print JSON records as before, keep them, and write them with a header at the end."""

    def __init__(self, name: str, args: argparse.Namespace):
        self.name = name
        self.path = None if args.no_save else Path(args.output)
        self.date = datetime.now(timezone.utc).isoformat(timespec="seconds")
        self.command = _command_line()
        self.records: list[dict] = []
        self._start = time.perf_counter()

    def emit(self, record: dict | str) -> None:
        """Print ``record`` as one JSON line (a string is printed as it is) and keep it."""
        line = record if isinstance(record, str) else json.dumps(record)
        print(line, flush=True)
        self.records.append(json.loads(line))

    def finish(self, summaries: list[dict], table: str) -> Path | None:
        """Emit the summary lines, print ``table`` after a blank line, and save."""
        for line in summaries:
            self.emit(line)
        print()
        print(table)
        return self.save()

    def save(self) -> Path | None:
        """Write the header and the records to ``self.path`` atomically -> the path."""
        if self.path is None:
            return None
        header = {
            "benchmark": self.name,
            "date": self.date,
            "command": self.command,
            "elapsed": round(time.perf_counter() - self._start, 1),
            "machine": machine_info(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                for record in [header, *self.records]:
                    f.write(json.dumps(record) + "\n")
            os.chmod(tmp, 0o644)  # mkstemp creates it 0600
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise
        print(f"results written to {_shown(self.path)}", file=sys.stderr)
        return self.path


def machine_info() -> dict:
    """CPU, cores, memory, OS, Python and package versions of this machine."""
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "ipopt": _ipopt_version(),
        **({"ipopt_executable": exe} if (exe := _ipopt_executable()) else {}),
        "packages": {name: version for name in PACKAGES if (version := _version(name))},
    }


def blas_kernels() -> list[str]:
    """The BLAS/OpenMP libraries threadpoolctl finds loaded, one short string each:
    ``"<folder>/<library> <version> <kernel> x<threads>"`` (the kernel is OpenBLAS's
    ``architecture``, e.g. the one MUMPS runs in cyipopt's bundled OpenBLAS). Call it after
    the fits, when cyipopt and its OpenBLAS are loaded."""
    import threadpoolctl

    out = []
    for info in threadpoolctl.threadpool_info():
        path = Path(info["filepath"])
        name = f"{path.parent.name}/{path.name.split('-')[0].split('.so')[0]}"
        kernel = info.get("architecture") or info.get("threading_layer") or ""
        version = info.get("version") or ""
        out.append(" ".join(filter(None, [name, version, kernel, f"x{info['num_threads']}"])))
    return out


def _command_line() -> str:
    argv = [_shown(Path(sys.argv[0]).resolve()), *sys.argv[1:]]
    return "python " + shlex.join(argv)


def _shown(path: Path) -> str:
    """``path`` relative to the repository when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_gb() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)  # kB -> GiB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _ipopt_version() -> str | None:
    """From cyipopt (imported by the fits anyway; called after the run)."""
    try:
        import cyipopt
    except ImportError:
        return None
    version = getattr(cyipopt, "IPOPT_VERSION", None)
    return ".".join(map(str, version)) if version else None


def _ipopt_executable() -> str | None:
    """First line of ``ipopt -v`` when an ``ipopt`` executable is on PATH (solver="auto"
    prefers it to cyipopt)."""
    path = shutil.which("ipopt")
    if path is None:
        return None
    try:
        probe = subprocess.run([path, "-v"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return f"{path} (ipopt -v failed)"
    lines = probe.stdout.strip().splitlines()
    return f"{path}: {lines[0] if lines else '?'}"


def text_table(columns: list[str], cells: list[list[str]]) -> str:
    """``cells`` under the headings ``columns`` as aligned plain text: the first column
    left-aligned (names), the others right-aligned (numbers), a rule under the headings."""
    widths = [max(len(line[i]) for line in [columns, *cells]) for i in range(len(columns))]
    lines = [
        "  ".join([line[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(line[1:], widths[1:]))])
        for line in [columns, *cells]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
