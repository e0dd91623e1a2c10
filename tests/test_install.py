"""The install a user does: ``pip install "skneuralode[ipopt]"`` into a fresh virtualenv.

With the pip that ``python -m venv`` bundles (no upgrade, no ``--pre``) and nothing else on
the machine — no ``ipopt`` executable, no PyNumero library, an empty ``HOME`` — the default
estimator must fit (the numpy engine needs only the wheels), and the pyomo engine must say
how to get what it lacks.
"""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.install

REPO = Path(__file__).resolve().parents[1]
TIMEOUT = 900  # seconds per subprocess: downloads and a wheel build on a shared machine
# What the source tree holds that a build does not read (and what a build writes into it).
NOT_SOURCE = (
    ".git",
    ".venv",
    "venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "_build",
)
# pip's words for "the registry could not be reached" (urllib3 / requests / OS errors).
NETWORK_FAILURES = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "Network is unreachable",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "Max retries exceeded",
    "Could not fetch URL",
)

SNIPPET = textwrap.dedent(
    """\
    import json

    import skneuralode
    from skneuralode import CollocationNeuralODE, SolverNotAvailableError
    from skneuralode.datasets import van_der_pol

    t, X = van_der_pol(40, (0, 6))
    found = {name: list(v) for name, v in skneuralode.available_solvers().items()}
    est = CollocationNeuralODE(width=8, degree=2, alpha=1e-4, random_state=0).fit(t, X)
    try:
        CollocationNeuralODE(engine="pyomo").fit(t, X)
        pyomo = {"error": None, "message": ""}
    except SolverNotAvailableError as exc:
        pyomo = {"error": type(exc).__name__, "message": str(exc)}
    print("RESULT " + json.dumps({
        "file": skneuralode.__file__,
        "available_solvers": found,
        "status": est.solver_status_,
        "engine": est.engine_,
        "pyomo": pyomo,
    }))
    """
)


def _run(cmd, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kwargs
    )


def _pip_cache_dir() -> str:
    """The outer environment's pip cache, so the fresh venv reuses its downloads."""
    try:
        probe = _run([sys.executable, "-m", "pip", "cache", "dir"])
    except (OSError, subprocess.TimeoutExpired):
        probe = None
    if probe is not None and probe.returncode == 0 and probe.stdout.strip():
        return probe.stdout.strip().splitlines()[-1]
    return str(Path.home() / ".cache" / "pip")


def _path_without_ipopt(venv_bin: Path) -> str:
    """``PATH`` with the venv first and no directory that holds an ``ipopt``."""
    keep = [
        d
        for d in os.environ.get("PATH", os.defpath).split(os.pathsep)
        if d and shutil.which("ipopt", path=d) is None
    ]
    return os.pathsep.join([str(venv_bin), *keep])


def _clean_env(home: Path, **extra: str) -> dict:
    """The outer environment less whatever would point Python, pip or Pyomo elsewhere."""
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYOMO_CONFIG_DIR", "PIP_USER"}
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(HOME=str(home), PIP_NO_INPUT="1", **extra)
    return env


def _create_venv(venv: Path) -> Path:
    made = _run([sys.executable, "-m", "venv", str(venv)])
    if made.returncode != 0:
        text = made.stdout + made.stderr
        if "ensurepip" in text or "No module named venv" in text:
            pytest.skip(f"`{sys.executable} -m venv` is not available here:\n{text}")
        pytest.fail(f"`python -m venv` failed:\n{text}")
    return venv / "bin" / "python"


def _pip_install(python: Path, source: Path, env: dict) -> str:
    pip = _run([str(python), "-m", "pip", "--version"], env=env)
    done = _run([str(python), "-m", "pip", "install", f"{source}[ipopt]"], env=env)
    text = done.stdout + done.stderr
    if done.returncode != 0:
        said = [ln.strip() for ln in text.splitlines() if any(m in ln for m in NETWORK_FAILURES)]
        if said:
            pytest.skip(f"the package registry cannot be reached; pip said: {said[-1]}")
        pytest.fail(f"pip install failed ({pip.stdout.strip()}):\n{text}")
    return pip.stdout.strip()


def test_pip_install_ipopt_extra_fits_without_anything_else(tmp_path):
    """`pip install ".[ipopt]"` (old pip, no --pre); numpy engine fits; pyomo says how."""
    home = tmp_path / "home"
    workdir = tmp_path / "elsewhere"
    for d in (home, workdir):
        d.mkdir()
    # Build from a copy: pip builds in the source tree, which would leave build/ and
    # *.egg-info in the repository (and a stale build/lib could leak into later wheels).
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    venv = tmp_path / "venv"
    python = _create_venv(venv)
    env = _clean_env(home, PIP_CACHE_DIR=_pip_cache_dir(), PATH=_path_without_ipopt(python.parent))

    pip_version = _pip_install(python, source, env)

    ran = _run([str(python), "-c", SNIPPET], env=env, cwd=workdir)
    assert ran.returncode == 0, f"{pip_version}\n{ran.stdout}\n{ran.stderr}"
    lines = [ln for ln in ran.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"no RESULT line:\n{ran.stdout}\n{ran.stderr}"
    result = json.loads(lines[-1].removeprefix("RESULT "))

    assert Path(result["file"]).resolve().is_relative_to(venv.resolve()), result["file"]
    found = result["available_solvers"]
    assert not found["executable"][0] and not found["pynumero"][0], found  # nothing but the wheels
    assert (result["status"], result["engine"]) == ("optimal", "numpy"), result
    assert result["pyomo"]["error"] == "SolverNotAvailableError", result["pyomo"]
    for hint in (
        "libamplsolver-dev",
        "pyomo.contrib.pynumero.build",
        "conda install -c conda-forge ipopt",
    ):
        assert hint in result["pyomo"]["message"], hint
