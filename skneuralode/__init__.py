"""skneuralode: neural ODEs trained by simultaneous collocation (Pyomo + IPOPT)."""

from . import callbacks, inspection
from ._admm import ADMMNeuralODE
from ._estimator import CollocationNeuralODE
from ._solver import available_solvers
from .exceptions import (
    DiscretizationWarning,
    SolverError,
    SolverNotAvailableError,
    UndeterminedStatesWarning,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ADMMNeuralODE",
    "CollocationNeuralODE",
    "DiscretizationWarning",
    "SolverError",
    "SolverNotAvailableError",
    "UndeterminedStatesWarning",
    "available_solvers",
    "callbacks",
    "inspection",
    "__version__",
]
