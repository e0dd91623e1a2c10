"""What an ADMM fit leaves running and on disk after SIGTERM (issue 21, item 7), and
joblib's memory-mapping folders a 5-iteration ADMM fit leaves until the process ends.

The first part runs the child of ``tests/test_signals.py``'s ADMM SIGTERM test
(``n_jobs=2``, holding in its callback after the first iteration), sends it SIGTERM and
polls ``/proc`` for its worker and tracker processes for up to 20 s. Usage (POSIX with /proc)::

    python scripts/sigterm_leftovers.py
"""

import glob
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from skneuralode import _interrupt

TEST = Path(__file__).resolve().parent.parent / "tests" / "test_signals.py"


def memmapping_folders() -> None:
    import warnings

    from skneuralode import ADMMNeuralODE, CollocationNeuralODE
    from skneuralode.datasets import van_der_pol

    def count() -> int:
        name = f"joblib_memmapping_folder_{os.getpid()}_*"
        places = ("/dev/shm", tempfile.gettempdir())
        return sum(len(glob.glob(os.path.join(place, name))) for place in places)

    t, X = van_der_pol(80, (0, 10))
    est = CollocationNeuralODE(width=6, depth=1, degree=2, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        admm = ADMMNeuralODE(est, n_batches=2, n_jobs=2, max_iter=5, tol=1e-12).fit(t, X)
    print(f"after a {admm.n_iter_}-iteration ADMM fit (n_jobs=2): {count()} joblib folders")


def main() -> None:
    code = textwrap.dedent(TEST.read_text().split('ADMM_CHILD = """')[1].split('"""')[0])
    scratch = tempfile.mkdtemp()
    env = {**os.environ, "TMPDIR": scratch, "JOBLIB_TEMP_FOLDER": scratch}
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, env=env, cwd=scratch,
    )  # fmt: skip
    for line in proc.stdout:
        if line.startswith("FITTING"):
            break
    below = _interrupt.descendants(proc.pid)
    print(f"processes under the fit: {len(below)}; in TMPDIR: {os.listdir(scratch)}")
    start = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    print(f"exit status {proc.returncode} after {time.monotonic() - start:.2f} s")
    while any(_interrupt._alive(p) for p in below) and time.monotonic() < start + 20:
        time.sleep(0.1)
    alive = [p for p in below if _interrupt._alive(p)]
    print(
        f"still running {time.monotonic() - start:.1f} s after SIGTERM: {len(alive)}; "
        f"left in TMPDIR: {os.listdir(scratch)}"
    )
    for pid in alive:
        os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
    memmapping_folders()
