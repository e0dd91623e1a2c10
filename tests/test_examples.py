"""Every script in examples/ runs end to end (the README's demo among them).

Examples that train with torch or JAX need the ``bench`` extra; without it they are
skipped, unless ``SKNEURALODE_REQUIRE_ALL_EXAMPLES=1`` (set by CI), which turns a missing
package into a failure so that every example runs in CI.
"""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
DEMO_LINES = ["fit time", "IPOPT iterations", "train MSE (truth)", "test MSE (truth)", "plot"]
SEQUENTIAL = ["torch", "torchdiffeq", "jax", "diffrax", "optax"]
REQUIRES = {
    "admm_dask.py": ["distributed"],
    "plot_training_curves.py": SEQUENTIAL,
    "plot_pretraining.py": ["jax", "diffrax", "optax"],
}
# What each example must print (besides running without error).
PRINTS = {
    "admm_dask.py": [
        "wall time",
        "init time",
        "ADMM iterations",
        "test MSE",
        "peak RSS of worker",
        "batch data sent",
        "bytes per iteration",
        "single fit (est.)",
        "task latency",
    ],
    "plot_paper_fit.py": DEMO_LINES,
    "plot_training_curves.py": ["collocation (IPOPT)", "diffrax (Adam)", "torchdiffeq (Adam)"],
    "plot_pretraining.py": ["JAX field check", "collocation model", "random start"],
    "plot_optimal_control.py": ["cost ratio", "MPC solve time", "MPC final state"],
    "plot_mpc_casadi.py": ["to_casadi check", "MPC solve time", "MPC cost on [0, 6]"],
    "plot_two_tank.py": [
        "n_latent=0",
        "n_latent=1",
        "latent state vs h1",
        "residual check",
        "plot",
    ],
    "plot_greybox_two_tank.py": ["k1: fitted", "k4: fitted", "grey-box:", "black-box:", "plot"],
    "plot_lotka_volterra_ude.py": ["forecast RMSE", "physics only", "black box", "plot"],
}


def require(modules):
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing and os.environ.get("SKNEURALODE_REQUIRE_ALL_EXAMPLES") == "1":
        pytest.fail(f"missing {missing}: install the extras (pip install -e .[bench])")
    if missing:
        pytest.skip(f"needs {missing} (pip install -e .[bench])")


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    require(["matplotlib", *REQUIRES.get(script.name, [])])
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "an example must report what it did"
    assert all(line in done.stdout for line in PRINTS.get(script.name, [])), done.stdout
    if script.name.startswith("plot_"):  # the gallery's figure, e.g. the README's demo
        assert (tmp_path / script.with_suffix(".png").name).stat().st_size > 10_000
