"""Names of a model's states and inputs: the one place that says what they are called.

A model fitted with names (a DataFrame's columns, or the ``state_names`` /
``input_names`` parameters) keeps them as ``state_names_`` (observed states, then latent
ones) and ``input_names_`` (exogenous inputs); like scikit-learn's ``feature_names_in_``,
these attributes exist only then (:func:`uses_names`). Every other model, and a model
pickled before names existed, gets the defaults below. ``predict`` (DataFrame output),
``to_pyomo``, the CasADi and ONNX exports, the plots and the summary all read the names
through :func:`state_names` and :func:`input_names`.
"""

from __future__ import annotations


def default_state_names(n_observed: int, n_latent: int = 0) -> list[str]:
    """``["x0", "x1", ..., "z0", "z1", ...]``: observed states, then latent ones."""
    return [f"x{i}" for i in range(n_observed)] + [f"z{k}" for k in range(n_latent)]


def default_input_names(n_inputs: int) -> list[str]:
    """``["u0", "u1", ...]``."""
    return [f"u{j}" for j in range(n_inputs)]


def state_names(model) -> list[str]:
    """The names of a fitted model's states, observed then latent (length
    ``n_states_ + n_latent``)."""
    names = getattr(model, "state_names_", None)
    if names is not None:
        return [str(n) for n in names]
    return default_state_names(model.n_states_, model.scaling_.n_latent)


def input_names(model) -> list[str]:
    """The names of a fitted model's exogenous inputs (length ``n_inputs_``)."""
    names = getattr(model, "input_names_", None)
    if names is not None:
        return [str(n) for n in names]
    return default_input_names(model.n_inputs_)


def uses_names(model) -> bool:
    """Whether the model was fitted with user-given names (then ``to_pyomo`` indexes by
    name and ``predict`` returns a DataFrame by default)."""
    return getattr(model, "state_names_", None) is not None
