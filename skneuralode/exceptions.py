"""Exceptions raised by skneuralode."""


class SolverNotAvailableError(RuntimeError):
    """No usable IPOPT route was found; the message says what was looked for and how to
    install one."""


class SolverError(RuntimeError):
    """IPOPT failed (infeasible problem, restoration failure, evaluation error, crash).

    Raised instead of leaving a half-fitted model behind.
    """
