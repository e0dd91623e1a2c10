"""The worker-side store of ADMM batch data: budget, eviction order, release, lookup."""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pytest

from skneuralode import _resident
from skneuralode._engines import BatchTask

ENTRY = 800  # bytes of one test entry: np.zeros(100)


@pytest.fixture(autouse=True)
def empty_store(monkeypatch):
    """Each test starts from an empty store, with room for three test entries."""
    monkeypatch.setattr(_resident, "_STORE", OrderedDict())
    monkeypatch.setattr(_resident, "RESIDENT_BYTES", 3 * ENTRY)


def _held():
    return list(_resident._STORE)


def test_nbytes_counts_the_arrays_in_nested_dataclasses():
    @dataclass
    class Inner:
        a: np.ndarray
        label: str

    @dataclass
    class Outer:
        inner: Inner
        pair: tuple
        none: object = None

    obj = Outer(Inner(np.zeros(10), "x"), (np.zeros((2, 3), dtype=np.float32), [np.ones(4)]))
    assert _resident.nbytes(obj) == 80 + 24 + 32


def test_least_recently_used_entries_are_dropped_beyond_the_budget():
    for b in range(3):
        _resident.put(("fit", b), np.zeros(100))
    assert _resident.get(("fit", 0)) is not None  # batch 0 is now the most recent
    _resident.put(("fit", 3), np.zeros(100))
    assert _held() == [("fit", 2), ("fit", 0), ("fit", 3)]  # batch 1 went
    assert _resident.get(("fit", 1)) is None


def test_entries_of_other_fits_are_dropped_first():
    _resident.put(("new", 0), np.zeros(100))
    _resident.put(("old", 0), np.zeros(100))
    _resident.put(("old", 1), np.zeros(100))  # more recent than ("new", 0)
    _resident.put(("new", 1), np.zeros(100))
    assert _held() == [("new", 0), ("old", 1), ("new", 1)]
    _resident.put(("new", 2), np.zeros(100))
    assert _held() == [("new", 0), ("new", 1), ("new", 2)]


def test_the_entry_just_stored_stays_even_above_the_budget():
    _resident.put(("fit", 0), np.zeros(100))
    _resident.put(("fit", 1), np.zeros(1000))
    assert _held() == [("fit", 1)]


def test_storing_a_key_again_replaces_its_entry():
    _resident.put(("fit", 0), np.zeros(100))
    _resident.put(("fit", 0), np.ones(100))
    assert _held() == [("fit", 0)]
    np.testing.assert_array_equal(_resident.get(("fit", 0)), np.ones(100))


def test_release_drops_one_fit_only():
    for key in [("a", 0), ("b", 0), ("a", 1)]:
        _resident.put(key, np.zeros(10))
    _resident.release("a")
    assert _held() == [("b", 0)]
    _resident.release("unknown")
    assert _held() == [("b", 0)]


def _task(key, data):
    return BatchTask(key, data, 1.0, np.zeros(2), np.zeros(2), np.zeros((3, 1)), "numpy",
                     "ctypes", {}, False)  # fmt: skip


def test_a_task_with_data_stores_them_and_a_later_task_without_finds_them():
    data = np.arange(5.0)
    assert _resident.task_data(_task(("fit", 0), data)) is data
    assert _resident.task_data(_task(("fit", 0), None)) is data
    assert _resident.task_data(_task(("fit", 1), None)) is None  # never sent here
