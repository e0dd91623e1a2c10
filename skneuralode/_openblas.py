"""Load cyipopt so that its bundled OpenBLAS uses the CPU's vector kernels.

PyPI's ``cyipopt-wheels`` bundles IPOPT, MUMPS and an old OpenBLAS (0.3.15, in
``site-packages/cyipopt_wheels.libs``) that picks its kernels once, when the library is
loaded. Its CPU table predates recent processors: on an unrecognised CPU it falls back to
the generic ``Prescott`` kernels (SSE3), and MUMPS's dense factorizations run several times
slower. OpenBLAS reads ``OPENBLAS_CORETYPE`` at that moment to force a kernel instead.

Rule implemented by :func:`import_cyipopt`, on its first call:

- cyipopt (or its top-level extension ``ipopt_wrapper``) already imported: nothing to do,
  its OpenBLAS has chosen already.
- ``OPENBLAS_CORETYPE`` set to a non-empty value: the user's choice, kept as it is. An empty
  value counts as unset (OpenBLAS 0.3.15 silently falls back to ``Prescott`` on it) and is
  put back afterwards.
- Linux x86_64 whose ``/proc/cpuinfo`` flags include avx512f, avx512bw, avx512vl and
  avx512dq: ``SkylakeX``; else avx2 and fma: ``Haswell``. The variable is set only for the
  import of cyipopt, after numpy and scipy have loaded their own OpenBLAS, and restored
  right after (``try``/``finally``).
- Anything else (macOS, Windows, ARM, an x86_64 CPU without AVX2, unreadable flags): a
  plain import.

The kernel is chosen from the instruction-set flags alone, never from the CPU model: a
forced kernel is not checked by OpenBLAS 0.3.15, and ``SkylakeX`` on an AVX2-only CPU dies
with an illegal instruction at the first matrix product. The variable is set even when the
bundled OpenBLAS would recognise the CPU by itself, because there the forced kernel is the
one it would pick or an equivalent: on AMD Zen 1-3 it picks ``Zen``, whose build
(``KERNEL.ZEN``) uses the ``Haswell`` AVX2+FMA dgemm kernel and copy routines (on one
core of an EPYC of family 25 both ran dgemm at 34 GFLOP/s, against 6 for ``Prescott``, and
IPOPT on a MUMPS-bound QP within 1% of each other, ``benchmarks/openblas.py``); on
AVX-512 CPUs it picks ``SkylakeX`` or ``Cooperlake``, which adds bfloat16 kernels only.
Setting it therefore costs nothing where the CPU is known and avoids the fallback where it
is not.

The environment is process-wide: while cyipopt loads (well under a second, under a module
lock), another thread that starts a subprocess would pass the variable on to it.
"""

from __future__ import annotations

import importlib
import os
import platform
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import threadpoolctl

CORETYPE_VARIABLE = "OPENBLAS_CORETYPE"
# OpenBLAS kernel for each instruction-set level, best first: (kernel, flags, level).
KERNELS = (
    ("SkylakeX", frozenset({"avx512f", "avx512bw", "avx512vl", "avx512dq"}), "AVX-512"),
    ("Haswell", frozenset({"avx2", "fma"}), "AVX2"),
)
# Modules whose import loads the bundled OpenBLAS (cyipopt-wheels installs both).
CYIPOPT_MODULES = ("cyipopt", "ipopt_wrapper")


@dataclass(frozen=True)
class _Outcome:
    """What the first :func:`import_cyipopt` did, as the start of a report sentence."""

    text: str


_LOCK = threading.Lock()
_outcome: _Outcome | None = None


def import_cyipopt() -> ModuleType:
    """Import ``cyipopt``, letting its bundled OpenBLAS use the CPU's vector kernels.

    On the first call, sets ``OPENBLAS_CORETYPE`` for the duration of the import when
    the variable is unset and the CPU supports AVX-512 (``"SkylakeX"``) or AVX2 with FMA
    (``"Haswell"``), then restores the environment; see the module docstring for the rule.
    Later calls return the imported module.

    Returns
    -------
    cyipopt : module
        The ``cyipopt`` package.

    Raises
    ------
    ImportError
        cyipopt is not installed (raised unchanged; the environment is restored).

    See Also
    --------
    openblas_report : What was done, and the kernels the bundled OpenBLAS runs.
    """
    global _outcome
    with _LOCK:
        if _outcome is None:
            _outcome = _load_cyipopt()
    return importlib.import_module("cyipopt")


def openblas_report() -> str:
    """One sentence: what :func:`import_cyipopt` did and what the bundled OpenBLAS runs.

    Returns
    -------
    report : str
        For example ``"OPENBLAS_CORETYPE=Haswell set while loading cyipopt's bundled
        OpenBLAS (CPU has AVX2); threadpoolctl reports architecture 'Haswell' (OpenBLAS
        0.3.15, .../cyipopt_wheels.libs/libopenblas-r0-11edc3fa.3.15.so)"``.
    """
    with _LOCK:
        outcome = _outcome
    if outcome is None:
        return "import_cyipopt() has not run yet: cyipopt's OpenBLAS untouched by skneuralode"
    return f"{outcome.text}; {_describe(bundled_openblas_info())}"


def bundled_openblas_info() -> dict | None:
    """threadpoolctl's record of the OpenBLAS inside the cyipopt wheel, if it is loaded.

    Returns
    -------
    info : dict or None
        The entry of :func:`threadpoolctl.threadpool_info` (``filepath``, ``version``,
        ``architecture``, ``num_threads``, ...) whose library lives in a ``cyipopt*.libs``
        folder next to the ``cyipopt`` package; None when cyipopt is not imported or links
        an OpenBLAS of its own elsewhere (conda, a system library).
    """
    folders = _bundled_lib_folders()
    for info in threadpoolctl.threadpool_info():
        if info.get("internal_api") == "openblas" and _inside(info["filepath"], folders):
            return info
    return None


def coretype_for_flags(flags: frozenset[str]) -> tuple[str, str] | None:
    """The OpenBLAS kernel for a set of CPU flags -> ``(kernel, level)`` or None.

    Parameters
    ----------
    flags : frozenset of str
        The ``flags`` of ``/proc/cpuinfo``, e.g. ``{"avx2", "fma", ...}``.

    Returns
    -------
    choice : tuple of (str, str) or None
        ``("SkylakeX", "AVX-512")``, ``("Haswell", "AVX2")``, or None when the CPU has
        neither level (then OpenBLAS is left to choose).
    """
    for kernel, needed, level in KERNELS:
        if needed <= flags:
            return kernel, level
    return None


def _load_cyipopt() -> _Outcome:
    """Import cyipopt once, by the module docstring's rule -> what was done."""
    if any(sys.modules.get(name) is not None for name in CYIPOPT_MODULES):
        return _Outcome("cyipopt was imported before skneuralode: its OpenBLAS chose by itself")
    previous = os.environ.get(CORETYPE_VARIABLE)
    if previous:
        importlib.import_module("cyipopt")
        return _Outcome(f"{CORETYPE_VARIABLE}={previous} set by the user: kept")
    choice = coretype_for_flags(_cpu_flags())
    if choice is None:
        importlib.import_module("cyipopt")
        return _Outcome(f"{CORETYPE_VARIABLE} not needed on this platform ({_platform()})")
    _import_with_coretype(choice[0], previous)
    return _Outcome(
        f"{CORETYPE_VARIABLE}={choice[0]} set while loading cyipopt's bundled OpenBLAS "
        f"(CPU has {choice[1]})"
    )


def _import_with_coretype(kernel: str, previous: str | None) -> None:
    """Import cyipopt with ``OPENBLAS_CORETYPE=kernel``, then put back ``previous``."""
    # Load numpy's and scipy's own OpenBLAS first, so that only cyipopt's sees the variable
    # (cyipopt imports scipy.optimize and scipy.sparse itself).
    importlib.import_module("numpy")
    for name in ("scipy.linalg", "scipy.sparse", "scipy.optimize"):
        importlib.import_module(name)
    os.environ[CORETYPE_VARIABLE] = kernel
    try:
        importlib.import_module("cyipopt")
    finally:
        if previous is None:
            del os.environ[CORETYPE_VARIABLE]
        else:
            os.environ[CORETYPE_VARIABLE] = previous


def _cpu_flags() -> frozenset[str]:
    """The CPU flags of Linux x86_64 (``/proc/cpuinfo``); empty anywhere else."""
    if sys.platform != "linux" or platform.machine().lower() not in ("x86_64", "amd64"):
        return frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def _platform() -> str:
    """``"Linux x86_64 without AVX2"``, ``"Darwin arm64"``, ..."""
    name = f"{platform.system()} {platform.machine()}"
    return f"{name} without AVX2" if _cpu_flags() else name


def _bundled_lib_folders() -> list[str]:
    """The ``cyipopt*.libs`` folders next to the imported ``cyipopt`` package."""
    module = sys.modules.get("cyipopt")
    if module is None or module.__file__ is None:
        return []
    site = Path(module.__file__).resolve().parent.parent
    return [os.path.realpath(folder) for folder in site.glob("cyipopt*.libs")]


def _inside(filepath: str, folders: list[str]) -> bool:
    """Whether ``filepath`` lies directly in one of ``folders``."""
    return os.path.dirname(os.path.realpath(filepath)) in folders


def _describe(info: dict | None) -> str:
    """The report's second half, from :func:`bundled_openblas_info`."""
    if info is None:
        return "threadpoolctl finds no OpenBLAS inside the cyipopt wheel"
    return (
        f"threadpoolctl reports architecture {info.get('architecture')!r} "
        f"(OpenBLAS {info.get('version')}, {info['filepath']})"
    )
