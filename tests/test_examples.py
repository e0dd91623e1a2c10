"""Every script in examples/ runs end to end (the README's demo among them)."""

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parent.parent / "examples").glob("*.py"))
DEMO_LINES = ["fit time", "IPOPT iterations", "train MSE (truth)", "test MSE (truth)", "plot"]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    pytest.importorskip("matplotlib")
    if script.name == "admm_dask.py":
        pytest.importorskip("distributed")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "an example must report what it did"
    if script.name == "plot_paper_fit.py":  # the README's `make demo`
        assert all(line in done.stdout for line in DEMO_LINES), done.stdout
        assert (tmp_path / "plot_paper_fit.png").stat().st_size > 10_000
