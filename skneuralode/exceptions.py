"""Exceptions and warnings raised by skneuralode."""

from __future__ import annotations

import os
import sys
import warnings


class SolverNotAvailableError(RuntimeError):
    """No usable IPOPT route was found; the message says what was looked for and how to
    install one."""


class SolverError(RuntimeError):
    """IPOPT failed (infeasible problem, restoration failure, evaluation error, crash).

    Raised instead of leaving a half-fitted model behind.
    """


class DiscretizationWarning(UserWarning):
    """The fitted collocation trajectory is not a solution of the learned ODE.

    Raised after a fit when the learned ODE, simulated from ``initial_states_``, departs
    from the collocation trajectory by more than a tenth of the data's spread: the
    discretization (``n_elements``, ``degree``) is too coarse for the learned dynamics,
    so the collocation fit says little about how the model predicts.
    """


class UndeterminedStatesWarning(UserWarning):
    """The data do not determine the fitted states.

    Raised after a fit whose collocation states (``collocation_states_``, hence
    ``initial_states_``) of an observed state lie more than ten data ranges outside the
    range of its observed samples: too few observations (many missing entries) or too
    many latent states leave the states free, and IPOPT's optimum says nothing about
    them.
    """


def warn_user(message: str, category: type[Warning]) -> None:
    """``warnings.warn`` attributed to the first caller outside skneuralode and
    scikit-learn: the user's ``fit`` line, whichever wrappers (``_fit_context``,
    meta-estimators, ADMM) lie between."""
    import sklearn

    inside = (os.path.dirname(__file__), os.path.dirname(sklearn.__file__))
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(inside):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
