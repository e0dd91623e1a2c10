"""check_* functions: return clean (copied) arrays or raise with a message that names the
argument, shows the offending value and says the fix."""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_array


def check_times(t, name: str = "t") -> np.ndarray:
    """Times as a float array of shape (n_samples,); (n_samples, 1) is accepted."""
    arr = check_array(t, ensure_2d=False, dtype=np.float64, input_name=name, copy=True)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"`{name}` must be a 1-D array of sample times (or one column); got shape "
            f"{np.shape(t)}."
        )
    return arr


def check_target_given(X, name: str = "X") -> None:
    """The states are scikit-learn's ``y``: say so in scikit-learn's words when missing."""
    if X is None:
        raise ValueError(
            f"CollocationNeuralODE requires y to be passed, but the target y is None: pass "
            f"the observed states as `{name}`."
        )


def check_states(X, n_samples: int, name: str = "X") -> np.ndarray:
    """States as a float array of shape (n_samples, n_states); 1-D means one state."""
    check_target_given(X, name)
    if np.ndim(X) > 2:
        raise ValueError(f"`{name}` must be 2-D (n_samples, n_states); got shape {np.shape(X)}.")
    arr = check_array(X, ensure_2d=False, dtype=np.float64, input_name=name, copy=True)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"`{name}` must be 2-D (n_samples, n_states); got shape {np.shape(X)}.")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"`{name}` has {arr.shape[0]} rows but `t` has {n_samples} samples; they must "
            "match row for row."
        )
    return arr


def check_inputs(u, n_samples: int, n_inputs: int | None = None, name: str = "u"):
    """Exogenous inputs as (n_samples, n_inputs) or None."""
    if u is None:
        if n_inputs:
            raise ValueError(
                f"This model was fitted with {n_inputs} exogenous input(s); pass `{name}`."
            )
        return None
    arr = check_states(u, n_samples, name=name)
    if n_inputs is not None and arr.shape[1] != n_inputs:
        if n_inputs == 0:
            raise ValueError(
                f"This model was fitted without exogenous inputs; got `{name}` with "
                f"{arr.shape[1]} column(s). Refit with `u` or drop it."
            )
        raise ValueError(f"`{name}` must have {n_inputs} column(s) as in fit; got {arr.shape[1]}.")
    return arr


def check_trajectory(trajectory, t: np.ndarray, min_samples: int = 2) -> list[np.ndarray]:
    """Sample indices of each trajectory (in order of first appearance), validated.

    Within each trajectory the times must be strictly increasing in sample order.
    """
    n = len(t)
    if trajectory is None:
        groups = [np.arange(n)]
        labels = [None]
    else:
        ids = np.asarray(trajectory)
        if ids.ndim != 1 or len(ids) != n:
            raise ValueError(
                f"`trajectory` must be 1-D with one id per sample ({n}); got shape {ids.shape}."
            )
        labels, first = np.unique(ids, return_index=True)
        order = np.argsort(first)
        labels = labels[order]
        groups = [np.flatnonzero(ids == lab) for lab in labels]
    for lab, idx in zip(labels, groups):
        label = lab.item() if isinstance(lab, np.generic) else lab
        where = "" if lab is None else f" in trajectory {label!r}"
        if len(idx) < min_samples:
            raise ValueError(
                f"Each trajectory needs at least {min_samples} samples; got {len(idx)}{where}."
            )
        dt = np.diff(t[idx])
        bad = np.flatnonzero(dt <= 0)
        if len(bad):
            i, j = idx[bad[0]], idx[bad[0] + 1]
            raise ValueError(
                f"`t` must be strictly increasing within each trajectory{where}; got "
                f"t[{j}]={t[j]:g} after t[{i}]={t[i]:g}. Sort the samples or drop duplicates."
            )
    return groups


def check_x0(x0, n_states: int) -> np.ndarray:
    arr = check_array(x0, ensure_2d=False, dtype=np.float64, input_name="x0", copy=True)
    arr = np.ravel(arr)
    if arr.shape != (n_states,):
        raise ValueError(
            f"`x0` must hold the {n_states} initial state(s) of the fitted model; got shape "
            f"{np.shape(x0)}."
        )
    return arr
