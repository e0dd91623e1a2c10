"""User units <-> the scaled units the NLP is solved in: one object, carried by a fitted model.

States are standardized per component, inputs likewise, and time is divided by a time
unit: ``x_scaled = (x - x_mean) / x_scale``, ``u_scaled = (u - u_mean) / u_scale``,
``tau = t / t_scale``. Latent states (no data) live in scaled units already: the full
state's mean and scale are the observed states', then ``(0, 1)`` for each latent state.
A latent state that known physics reads has user units instead (``latent_start`` finite):
mean 0 and scale ``|latent_start|`` (1 if that is 0).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True, eq=False)
class Scaling:
    """The affine maps between user units and scaled units (arrays, plain values only).

    ``x_mean``/``x_scale`` are over the observed states; ``mean``/``scale`` over the full
    state, observed then ``n_latent`` latent ones.
    """

    x_mean: np.ndarray
    x_scale: np.ndarray
    t_scale: float
    u_mean: np.ndarray | None = None
    u_scale: np.ndarray | None = None
    n_latent: int = 0
    #: (n_latent,) start of each latent state in user units where the physics reads it,
    #: NaN for a normalized latent state; None: every latent state is normalized
    latent_start: np.ndarray | None = None

    @property
    def physical_latent(self) -> np.ndarray:
        """(n_latent,) True for a latent state in user units (read by the physics)."""
        if self.latent_start is None:
            return np.zeros(self.n_latent, dtype=bool)
        return np.isfinite(self.latent_start)

    @property
    def mean(self) -> np.ndarray:
        """Mean of the full state: the observed states', then 0 per latent state."""
        return np.concatenate([self.x_mean, np.zeros(self.n_latent)])

    @property
    def scale(self) -> np.ndarray:
        """Scale of the full state: the observed states', then 1 per normalized latent
        state and ``|latent_start|`` (or 1) per latent state in user units."""
        latent = np.ones(self.n_latent)
        if self.latent_start is not None:
            size = np.abs(np.where(self.physical_latent, self.latent_start, 1.0))
            latent = np.where(size > 0, size, 1.0)
        return np.concatenate([self.x_scale, latent])

    @property
    def n_observed(self) -> int:
        return len(self.x_mean)

    def with_latent(self, n_latent: int) -> Scaling:
        return replace(self, n_latent=int(n_latent), latent_start=None)

    def states(self, X: np.ndarray) -> np.ndarray:
        """Observed states (n, n_observed) in scaled units."""
        return (X - self.x_mean) / self.x_scale

    def full_states(self, X: np.ndarray) -> np.ndarray:
        """Full states (n, n_observed + n_latent), user -> scaled units."""
        return (X - self.mean) / self.scale

    def unscale_states(self, Z: np.ndarray) -> np.ndarray:
        """Full states, scaled -> user units."""
        return Z * self.scale + self.mean

    def inputs(self, U: np.ndarray) -> np.ndarray:
        """Inputs, user -> scaled units."""
        return (U - self.u_mean) / self.u_scale

    def unscale_inputs(self, U: np.ndarray) -> np.ndarray:
        """Inputs, scaled -> user units."""
        return U * self.u_scale + self.u_mean


def standardize(A: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column means and standard deviations (1 where a column is constant, i.e. varies by
    less than 1e-14 of its magnitude, about 50 round-off units: a state of standard
    deviation 0.1 on an offset of 1e12 still varies). Any magnitude works: 1e-200 as well
    as 1e200.
    NaN entries (missing samples) are left out; every column needs one finite value."""
    size = np.nanmax(np.abs(A), axis=0)
    size[size == 0] = 1.0
    mean = np.nanmean(A / size, axis=0) * size
    scale = rms((A - mean) / size, axis=0) * size
    scale[~(scale > 1e-14 * size)] = 1.0
    return mean, scale


def rms(a: np.ndarray, axis=None) -> np.ndarray:
    """Root mean square without overflow or underflow in the squares."""
    size = np.nanmax(np.abs(a), axis=axis, keepdims=True)
    size = np.where(np.isfinite(size) & (size > 0), size, 1.0)
    return np.squeeze(np.sqrt(np.nanmean((a / size) ** 2, axis=axis, keepdims=True)) * size, axis)
