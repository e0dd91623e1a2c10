"""What a ``callback`` receives, and ready-made callbacks.

:class:`~skneuralode.CollocationNeuralODE` calls its ``callback`` after every IPOPT
iteration with an :class:`IterationInfo`; :class:`~skneuralode.ADMMNeuralODE` calls its
own after every ADMM iteration with a dict (``"iteration"`` and the latest value of every
``history_`` key). Returning ``False`` stops the fit as a Ctrl-C does.
"""

from __future__ import annotations

import logging

from ._progress import (
    IterationInfo,
    admm_header,
    admm_line,
    iteration_header,
    iteration_line,
)

__all__ = ["IterationInfo", "log_progress"]


def log_progress(logger=None, level=logging.INFO):
    """A callback that writes the ``verbose=1`` table to ``logging``.

    Each call logs one line (after a header before the first iteration): for
    :class:`~skneuralode.CollocationNeuralODE`, an IPOPT iteration in the columns of
    ``verbose=1``; for :class:`~skneuralode.ADMMNeuralODE`, an ADMM iteration in the
    columns of its ``verbose=1``. It never stops the fit. The returned object pickles
    (a logger pickles by its name), so a model fitted with it can be saved.

    Parameters
    ----------
    logger : logging.Logger or str, default=None
        The logger, or its name; ``None``: ``logging.getLogger("skneuralode")``.
    level : int, default=logging.INFO
        The level of every line.

    Returns
    -------
    callback : callable
        ``callback(info)`` for the estimators' ``callback`` parameter.

    Examples
    --------
    >>> import logging
    >>> from skneuralode import CollocationNeuralODE
    >>> from skneuralode.callbacks import log_progress
    >>> logging.basicConfig(level=logging.INFO)
    >>> model = CollocationNeuralODE(callback=log_progress("training"))
    """
    if logger is None or isinstance(logger, str):
        logger = logging.getLogger(logger or "skneuralode")
    return _LogProgress(logger, int(level))


class _LogProgress:
    """The callable :func:`log_progress` returns (a class, so that it pickles)."""

    def __init__(self, logger: logging.Logger, level: int):
        self.logger = logger
        self.level = level

    def __call__(self, info) -> None:
        if isinstance(info, IterationInfo):  # CollocationNeuralODE: an IPOPT iteration
            first, header, line = info.iteration == 0, iteration_header, iteration_line
        else:  # ADMMNeuralODE: an ADMM iteration
            first, header, line = info["iteration"] == 1, admm_header, admm_line
        if first:
            self.logger.log(self.level, header())
        self.logger.log(self.level, line(info))

    def __repr__(self) -> str:
        return f"log_progress({self.logger.name!r}, level={self.level})"
