"""The ADMM batch data a worker process holds between iterations.

A batch's ``NLPData`` (discretization rows, targets, inputs) is the bulk of an ADMM
sub-problem task and does not change during a fit; only the consensus, the scaled
duals, ``rho`` and the warm start do. ``ADMMNeuralODE`` therefore sends each batch's
data with its first task only, and a worker keeps what it received here, in a
module-level store keyed by the task key ``(fit token, batch index)``: later tasks
carry no data, and the worker takes it from the store (:func:`task_data`). A worker
that does not hold a batch (a restarted loky worker, a Dask task moved to another
worker, an entry dropped for space) answers with a ``BatchResult`` marked ``missing``,
and the parent sends that task again with its data. This saves the transfer and the
unpickling (which, for a grey-box batch, re-derives its SymPy derivatives).

A :class:`Placement` also writes each batch's data to a file once per fit, and every
task names its file: a worker that shares the parent's filesystem (loky's processes,
a Dask ``LocalCluster``) and does not hold the batch (a new or restarted process, or
another worker than the one that got the data) reads it from there instead of asking
for it again. Only a worker on another machine answers ``missing``.

The store is shared by the threads of a process (Dask workers run threads) and
guarded by a lock. It is bounded: beyond :data:`RESIDENT_BYTES` (the ``nbytes`` of the
entries' arrays) entries are dropped, those of other fits first (a worker process
outlives a fit), then the least recently used; the entry just stored stays. With
``n_jobs=1`` or threads the store lives in the calling process and holds the fit's own
objects (nothing is copied); ``ADMMNeuralODE.fit`` releases them at its end.
"""

from __future__ import annotations

import os
import pickle
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from dataclasses import fields, is_dataclass

import numpy as np

#: Bytes of batch data one process may hold. loky restarts a worker whose memory grows
#: by 300 MB after its first task (it takes that for a leak), which would lose the whole
#: store; staying under that is cheaper than sending the data again each iteration.
RESIDENT_BYTES = 200 * 2**20

#: (fit token, batch) -> (NLPData, its nbytes), least recently used first.
_STORE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def nbytes(obj) -> int:
    """Bytes of the numpy arrays in ``obj``, following dataclass fields, tuples and lists."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if is_dataclass(obj) and not isinstance(obj, type):
        return sum(nbytes(getattr(obj, f.name)) for f in fields(obj))
    if isinstance(obj, (tuple, list)):
        return sum(nbytes(item) for item in obj)
    return 0


def put(key: tuple, data) -> None:
    """Hold ``data`` under ``key`` (most recently used), dropping entries beyond the budget."""
    size = nbytes(data)
    with _LOCK:
        _STORE.pop(key, None)
        _STORE[key] = (data, size)
        _drop_beyond_budget(key)


def get(key: tuple):
    """The data held under ``key`` (now the most recently used), or ``None``."""
    with _LOCK:
        entry = _STORE.get(key)
        if entry is None:
            return None
        _STORE.move_to_end(key)
        return entry[0]


def release(token: str) -> None:
    """Drop every entry of the fit ``token``."""
    with _LOCK:
        for key in [k for k in _STORE if k[0] == token]:
            del _STORE[key]


def task_data(task):
    """The ``NLPData`` a ``BatchTask`` is solved with: the data it carries, which is then
    held for later tasks of its batch; for a data-less task the held entry, or else the
    batch's file (``task.path``) if this process can read it; ``None`` if neither."""
    data = task.data
    if data is None:
        data = get(task.key)
        if data is not None:
            return data
        data = _read(task.path)
        if data is None:
            return None
    put(task.key, data)
    return data


def _read(path: str | None):
    """The data pickled at ``path`` by a :class:`Placement`, or ``None`` if this process
    cannot read it (another machine, or the fit has ended and removed it)."""
    if path is None:
        return None
    try:
        with open(path, "rb") as file:
            return pickle.load(file)
    except OSError:
        return None


class Placement:
    """Where one fit's batch data live: a token for the workers' stores and a folder
    with one file per batch, from ``with Placement(datas) as placement:`` to its end,
    which removes the folder and drops the calling process's entries (with ``n_jobs=1``
    or threads the store is the caller's)."""

    def __init__(self, datas: list):
        self.datas = datas
        self.token = uuid.uuid4().hex
        self.folder = None

    def __enter__(self) -> Placement:
        self.folder = tempfile.mkdtemp(prefix="skneuralode-admm-")
        for b, data in enumerate(self.datas):
            with open(self.path(b), "wb") as file:
                pickle.dump(data, file, protocol=pickle.HIGHEST_PROTOCOL)
        return self

    def __exit__(self, *exc) -> None:
        release(self.token)
        shutil.rmtree(self.folder, ignore_errors=True)

    def key(self, b: int) -> tuple:
        return (self.token, b)

    def path(self, b: int) -> str:
        return os.path.join(self.folder, f"batch-{b}.pkl")


def _drop_beyond_budget(newest: tuple) -> None:
    """Drop entries of other fits, then of this fit, least recently used first, until
    the store fits into ``RESIDENT_BYTES`` or only ``newest`` is left. Hold ``_LOCK``."""
    total = sum(size for _, size in _STORE.values())
    others = [k for k in _STORE if k[0] != newest[0]]
    own = [k for k in _STORE if k[0] == newest[0] and k != newest]
    for key in others + own:
        if total <= RESIDENT_BYTES:
            return
        total -= _STORE.pop(key)[1]
