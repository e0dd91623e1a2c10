"""The installs a user does, each into a fresh virtualenv.

- From a clone, ``pip install ".[ipopt]"`` (the README's first line; the package is not
  on PyPI yet): with the pip that ``python -m venv`` bundles (no upgrade, no ``--pre``)
  and nothing else on the machine — no ``ipopt`` executable, no PyNumero library, an
  empty ``HOME`` — the default estimator must fit (the numpy engine needs only the
  wheels), and the pyomo engine must say how to get what it lacks.
- A release: ``python -m build`` makes the sdist and, from the sdist, the wheel; both
  pass ``twine check --strict`` and hold what they should; the built wheel (not the
  source tree) installs with the ``ipopt`` extra and fits the default model, run from a
  directory where the checkout is not importable.
"""

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import zipfile
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


def _skip_if_offline(text: str, tool: str) -> None:
    said = [ln.strip() for ln in text.splitlines() if any(m in ln for m in NETWORK_FAILURES)]
    if said:
        pytest.skip(f"the package registry cannot be reached; {tool} said: {said[-1]}")


def _pip_install(python: Path, source: Path, env: dict) -> str:
    """``pip install "SOURCE[ipopt]"``; SOURCE is a source tree or a wheel file."""
    pip = _run([str(python), "-m", "pip", "--version"], env=env)
    done = _run([str(python), "-m", "pip", "install", f"{source}[ipopt]"], env=env)
    text = done.stdout + done.stderr
    if done.returncode != 0:
        _skip_if_offline(text, "pip")
        pytest.fail(f"pip install failed ({pip.stdout.strip()}):\n{text}")
    return pip.stdout.strip()


def _copy_source(dest: Path) -> Path:
    """The checkout without what a build writes or does not read.

    Builds and pip write ``build/`` and ``*.egg-info`` into the source tree, which would
    dirty the repository (and a stale ``build/lib`` could leak into later wheels).
    """
    shutil.copytree(REPO, dest, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    return dest


def test_pip_install_ipopt_extra_fits_without_anything_else(tmp_path):
    """`pip install ".[ipopt]"` (old pip, no --pre); numpy engine fits; pyomo says how."""
    home = tmp_path / "home"
    workdir = tmp_path / "elsewhere"
    for d in (home, workdir):
        d.mkdir()
    source = _copy_source(tmp_path / "source")
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


# --- the release: python -m build, twine check, the built wheel -----------------------

PACKAGE = "skneuralode"
# The sdist's own files besides the package modules.
SDIST_FILES = {
    "PKG-INFO",
    "README.md",
    "CHANGELOG.md",
    "ARCHITECTURE.md",
    "LICENSE",
    "MANIFEST.in",
    "pyproject.toml",
    "setup.cfg",
}
# What setuptools says when the build configuration uses something it will drop.
BUILD_DEPRECATIONS = ("deprecated", "DeprecationWarning", "will no longer be supported")
FORECAST_R2 = 0.95  # R² of the simulation over twice the training span (measured: 0.997)

WHEEL_SNIPPET = textwrap.dedent(
    """\
    import json
    from importlib import metadata

    import skneuralode
    from skneuralode import CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    t, X = van_der_pol(noise=0.05, random_state=0)
    model = CollocationNeuralODE(random_state=0).fit(t, X)
    t_test, X_test = van_der_pol(n_samples=200, t_span=(0, 20))
    print("RESULT " + json.dumps({
        "file": skneuralode.__file__,
        "version": skneuralode.__version__,
        "installed": metadata.version("skneuralode"),
        "license": metadata.metadata("skneuralode")["License-Expression"],
        "status": model.solver_status_,
        "converged": bool(model.converged_),
        "engine": model.engine_,
        "solver": model.solver_,
        "train_r2": model.score(t, X),
        "forecast_r2": model.score(t_test, X_test),
    }))
    """
)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    """``python -m build`` on a clean copy: the sdist, the wheel built from it, the log."""
    for tool in ("build", "twine"):
        if importlib.util.find_spec(tool) is None:
            pytest.fail(f'`{tool}` is not installed: pip install -e ".[test]" brings it')
    root = tmp_path_factory.mktemp("release")
    source = _copy_source(root / "source")
    home = root / "home"
    home.mkdir()
    outdir = root / "dist"
    env = _clean_env(home, PIP_CACHE_DIR=_pip_cache_dir())
    # Without --sdist/--wheel, build makes the sdist and then the wheel from the
    # unpacked sdist: the wheel proves the sdist is enough to build the package.
    built = _run([sys.executable, "-m", "build", "--outdir", str(outdir), str(source)], env=env)
    log = built.stdout + built.stderr
    if built.returncode != 0:
        _skip_if_offline(log, "python -m build")
        pytest.fail(f"python -m build failed:\n{log}")
    sdists = sorted(outdir.glob("*.tar.gz"))
    wheels = sorted(outdir.glob("*.whl"))
    assert len(sdists) == 1 and len(wheels) == 1, sorted(p.name for p in outdir.iterdir())
    modules = {p.relative_to(source).as_posix() for p in (source / PACKAGE).rglob("*.py")}
    return {"sdist": sdists[0], "wheel": wheels[0], "log": log, "env": env, "modules": modules}


def test_build_makes_sdist_and_wheel_that_twine_accepts(release):
    """No deprecated build configuration; twine --strict passes; no module left out."""
    warned = [ln for ln in release["log"].splitlines() if any(w in ln for w in BUILD_DEPRECATIONS)]
    assert not warned, "\n".join(warned)

    checked = _run(
        [
            sys.executable,
            "-m",
            "twine",
            "check",
            "--strict",
            str(release["sdist"]),
            str(release["wheel"]),
        ],
        env=release["env"],
    )
    text = checked.stdout + checked.stderr
    assert checked.returncode == 0, text
    assert text.count("PASSED") == 2, text

    modules = release["modules"]
    assert f"{PACKAGE}/_engines/numpy.py" in modules and f"{PACKAGE}/_ipopt_c.py" in modules

    with zipfile.ZipFile(release["wheel"]) as whl:
        in_wheel = set(whl.namelist())
    dist_info = {n for n in in_wheel if n.split("/")[0].endswith(".dist-info")}
    assert in_wheel - dist_info == modules  # every module, and nothing else (tests, build/)
    assert {n.split("/", 1)[1] for n in dist_info} == {
        "METADATA",
        "WHEEL",
        "RECORD",
        "top_level.txt",
        "licenses/LICENSE",
    }

    with tarfile.open(release["sdist"]) as sdist:
        members = sdist.getmembers()
    top = f"{release['wheel'].name.split('-py3')[0]}/"  # skneuralode-VERSION/
    assert all(m.name.startswith(top) or m.name == top[:-1] for m in members), members[0].name
    in_sdist = {m.name.removeprefix(top) for m in members if m.isfile()}
    in_sdist = {n for n in in_sdist if not n.startswith(f"{PACKAGE}.egg-info/")}
    assert in_sdist == SDIST_FILES | modules, sorted(in_sdist ^ (SDIST_FILES | modules))


def test_built_wheel_installs_and_fits(release, tmp_path):
    """The wheel itself, with the ipopt extra, in a fresh venv: the default model fits."""
    home = tmp_path / "home"
    workdir = tmp_path / "elsewhere"  # outside the checkout: only the install imports
    for d in (home, workdir):
        d.mkdir()
    venv = tmp_path / "venv"
    python = _create_venv(venv)
    env = _clean_env(home, PIP_CACHE_DIR=_pip_cache_dir(), PATH=_path_without_ipopt(python.parent))

    pip_version = _pip_install(python, release["wheel"], env)

    ran = _run([str(python), "-c", WHEEL_SNIPPET], env=env, cwd=workdir)
    assert ran.returncode == 0, f"{pip_version}\n{ran.stdout}\n{ran.stderr}"
    lines = [ln for ln in ran.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"no RESULT line:\n{ran.stdout}\n{ran.stderr}"
    result = json.loads(lines[-1].removeprefix("RESULT "))

    assert Path(result["file"]).resolve().is_relative_to(venv.resolve()), result["file"]
    assert result["installed"] == result["version"], result
    assert result["license"] == "BSD-3-Clause", result
    assert (result["status"], result["converged"]) == ("optimal", True), result
    # The fast driver (IPOPT's C interface through ctypes) finds the wheel's IPOPT.
    assert (result["engine"], result["solver"]) == ("numpy", "ctypes"), result
    assert result["forecast_r2"] > FORECAST_R2, result
