"""skneuralode._openblas: the kernels of cyipopt's bundled OpenBLAS.

OpenBLAS picks its kernels once, when the library loads, so every check that imports
cyipopt runs in a fresh Python process, with ``OPENBLAS_CORETYPE`` removed from its
environment unless the test sets it. The rule itself (flags -> kernel) is checked in this
process; it loads nothing.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import pytest

from skneuralode._openblas import _cpu_flags, coretype_for_flags

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("cyipopt") is None, reason="cyipopt is not installed"
)

TIMEOUT = 300  # seconds per child; the machines are shared
# OpenBLAS's generic or pre-AVX kernels, the fallbacks of an unrecognised CPU.
GENERIC_KERNELS = {
    "Prescott",
    "Core2",
    "Penryn",
    "Dunnington",
    "Nehalem",
    "Atom",
    "Banias",
    "Katmai",
    "Coppermine",
    "Northwood",
    "Opteron",
    "Opteron_SSE3",
    "Barcelona",
}
SKYLAKEX = frozenset({"avx512f", "avx512bw", "avx512vl", "avx512dq"})
CHOICE = coretype_for_flags(_cpu_flags())
needs_avx2 = pytest.mark.skipif(
    CHOICE is None,
    reason="needs Linux x86_64 with AVX2+FMA or AVX-512 in /proc/cpuinfo, where "
    "import_cyipopt() sets OPENBLAS_CORETYPE",
)

# The child prints what the parent asserts on, as one JSON line.
PROBE = """
import ctypes, json, os, sys
import threadpoolctl
from skneuralode import _openblas
{before}
module = _openblas.import_cyipopt()
info = _openblas.bundled_openblas_info() or {{}}
others = [i["architecture"] for i in threadpoolctl.threadpool_info()
          if i["internal_api"] == "openblas" and i["filepath"] != info.get("filepath")]
getenv = ctypes.CDLL(None).getenv
getenv.restype = ctypes.c_char_p
c_value = getenv(b"OPENBLAS_CORETYPE")
print(json.dumps({{
    "module": module.__name__,
    "same_module": module is sys.modules["cyipopt"],
    "architecture": info.get("architecture"),
    "filepath": info.get("filepath"),
    "other_architectures": others,
    "environ": os.environ.get("OPENBLAS_CORETYPE"),
    "c_environ": None if c_value is None else c_value.decode(),
    "report": _openblas.openblas_report(),
}}))
"""


def run_code(code: str, coretype: str | None = None) -> str:
    """Run ``code`` in a fresh Python, ``OPENBLAS_CORETYPE`` unset or ``coretype`` -> stdout."""
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
    if coretype is not None:
        env["OPENBLAS_CORETYPE"] = coretype
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def run_child(before: str = "", coretype: str | None = None) -> dict:
    """Run PROBE (``before`` first) in a fresh process -> the JSON it printed last."""
    stdout = run_code(PROBE.format(before=textwrap.dedent(before)), coretype)
    return json.loads(stdout.splitlines()[-1])


# The rule, in this process.


@pytest.mark.parametrize(
    "flags, expected",
    [
        ({"sse2", "avx", "avx2", "fma", *SKYLAKEX}, ("SkylakeX", "AVX-512")),
        ({"sse2", "avx", "avx2", "fma"}, ("Haswell", "AVX2")),
        ({"avx2", "fma", "avx512f"}, ("Haswell", "AVX2")),  # AVX-512 in part: not SkylakeX
        ({"sse2", "avx", "avx2"}, None),  # AVX2 without FMA
        ({"sse2", "sse3", "avx"}, None),
        (set(), None),  # not Linux x86_64, or no flags readable
    ],
)
def test_coretype_for_flags(flags, expected):
    assert coretype_for_flags(frozenset(flags)) == expected


# Each import in a fresh process.


@needs_avx2
def test_import_sets_a_vector_kernel_for_the_bundled_openblas():
    kernel, level = CHOICE
    out = run_child()
    assert out["module"] == "cyipopt" and out["same_module"]
    assert "cyipopt" in os.path.basename(os.path.dirname(out["filepath"]))
    assert out["architecture"] not in GENERIC_KERNELS
    assert out["architecture"] == kernel
    assert out["report"].startswith(
        f"OPENBLAS_CORETYPE={kernel} set while loading cyipopt's bundled OpenBLAS "
        f"(CPU has {level}); threadpoolctl reports architecture '{kernel}' (OpenBLAS "
    )
    assert out["filepath"] in out["report"]


@needs_avx2
def test_environment_is_restored_after_the_import():
    out = run_child()
    assert out["environ"] is None
    assert out["c_environ"] is None  # what OpenBLAS and subprocesses read


@needs_avx2
def test_only_the_bundled_openblas_sees_the_variable():
    # A kernel no OpenBLAS would choose here, so that one leaking to numpy's or scipy's
    # OpenBLAS would show.
    out = run_child(before='_openblas.KERNELS = (("Prescott", frozenset(), "SSE3"),)')
    assert out["architecture"] == "Prescott"
    assert out["other_architectures"]  # numpy's and scipy's, loaded before
    assert "Prescott" not in out["other_architectures"]


def test_a_value_set_by_the_user_is_kept():
    out = run_child(coretype="Haswell")
    assert out["environ"] == "Haswell"
    assert out["c_environ"] == "Haswell"
    assert out["report"].startswith("OPENBLAS_CORETYPE=Haswell set by the user: kept; ")
    if CHOICE is not None:  # x86_64 with AVX2: OpenBLAS runs what the user named
        assert out["architecture"] == "Haswell"
        assert "threadpoolctl reports architecture 'Haswell'" in out["report"]


@needs_avx2
def test_an_empty_value_counts_as_unset_and_is_put_back():
    out = run_child(coretype="")
    assert out["environ"] == ""
    assert out["architecture"] == CHOICE[0]
    assert out["report"].startswith(f"OPENBLAS_CORETYPE={CHOICE[0]} set while loading")


def test_cyipopt_imported_before_is_left_alone():
    out = run_child(before="import cyipopt")
    assert out["environ"] is None and out["c_environ"] is None
    assert out["report"].startswith(
        "cyipopt was imported before skneuralode: its OpenBLAS chose by itself; "
    )
    assert f"threadpoolctl reports architecture '{out['architecture']}'" in out["report"]


def test_no_vector_kernel_known_means_a_plain_import():
    # What macOS, Windows, ARM or a CPU without AVX2 see: no flags that name a kernel.
    out = run_child(before="_openblas._cpu_flags = lambda: frozenset()")
    assert out["environ"] is None
    assert out["report"].startswith("OPENBLAS_CORETYPE not needed on this platform (")
    assert f"threadpoolctl reports architecture '{out['architecture']}'" in out["report"]


def test_report_before_the_import_says_so():
    code = "from skneuralode._openblas import openblas_report; print(openblas_report())"
    assert run_code(code) == (
        "import_cyipopt() has not run yet: cyipopt's OpenBLAS untouched by skneuralode"
    )


@needs_avx2
def test_import_error_propagates_and_the_environment_is_restored():
    before = """
    import importlib.abc
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name == "cyipopt":
                raise ImportError("cyipopt blocked by the test")
    sys.meta_path.insert(0, Block())
    try:
        _openblas.import_cyipopt()
    except ImportError as error:
        print(json.dumps({"error": str(error), "environ": os.environ.get("OPENBLAS_CORETYPE"),
                          "report": _openblas.openblas_report()}))
    sys.exit(0)
    """
    out = run_child(before=before)
    assert out == {
        "error": "cyipopt blocked by the test",
        "environ": None,
        "report": "import_cyipopt() has not run yet: cyipopt's OpenBLAS untouched by skneuralode",
    }


@needs_avx2
def test_concurrent_first_calls_import_once():
    before = """
    import threading
    modules = []
    threads = [threading.Thread(target=lambda: modules.append(_openblas.import_cyipopt()))
               for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(modules) == 8 and all(m is sys.modules["cyipopt"] for m in modules)
    """
    out = run_child(before=before)
    assert out["environ"] is None
    assert out["architecture"] == CHOICE[0]
    assert out["report"].startswith(f"OPENBLAS_CORETYPE={CHOICE[0]} set while loading")


FIT_PROBE = """
import json
import joblib
from skneuralode import CollocationNeuralODE, _openblas
from skneuralode.datasets import van_der_pol


def fit_and_report():
    t, X = van_der_pol(30, (0, 5))
    model = CollocationNeuralODE(width=4, degree=2, random_state=0).fit(t, X)
    return model.engine_, _openblas.bundled_openblas_info()["architecture"]


here = fit_and_report()
workers = joblib.Parallel(n_jobs=2, backend="loky")(
    joblib.delayed(fit_and_report)() for _ in range(2)
)
print(json.dumps({"here": here, "workers": workers}))
"""


@needs_avx2
def test_fits_and_joblib_workers_load_the_vector_kernel():
    """The estimator's own import path (and a fresh loky worker's) goes through the fix."""
    kernel, _ = CHOICE
    out = json.loads(run_code(FIT_PROBE).splitlines()[-1])
    assert out["here"] == ["numpy", kernel]
    assert out["workers"] == [["numpy", kernel]] * 2
