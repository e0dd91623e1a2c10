"""A fitted network as an ONNX model that OMLT can load: ``dxdt = f(x, u)`` in user units.

The graph has one input ``"x"`` of shape ``(N, n_states + n_latent + n_inputs)`` (the
states, then the inputs, one row per point) and one output ``"dxdt"`` of shape
``(N, n_states + n_latent)``. Each layer is a ``Gemm`` (``alpha = beta = 1``, ``B`` not
transposed) with the scaling folded into the first and the last layer
(``_export.fold_scaling``), each hidden layer followed by its activation's ONNX operator
(``ONNX_OPERATORS``; ``"identity"`` has none): the chain of dense layers that OMLT's ONNX
reader (``omlt.io.onnx_parser.NetworkParser``) turns into a ``NetworkDefinition``.

The bounds of the network's inputs, the training data's range (``state_range_``,
``input_range_``), are kept twice: in the model's ``metadata_props`` and, when the model is
saved, in ``<path>.bounds.json`` in the format of OMLT's ``write_onnx_model_with_bounds``
(a list of ``{"key": i, "lower_bound": lo, "upper_bound": hi}``), which
``load_onnx_neural_network_with_bounds`` reads. The ``metadata_props`` (strings, JSON
values) are

- ``"skneuralode.inputs"``: the names of the columns of ``"x"`` (states, then inputs);
- ``"skneuralode.outputs"``: the names of the states whose derivatives ``"dxdt"`` holds;
- ``"skneuralode.input_bounds"``: ``[[lower, upper], ...]``, one pair per column of ``"x"``;
- ``"skneuralode.n_states"``, ``"skneuralode.n_latent"``, ``"skneuralode.n_inputs"``;
- ``"skneuralode.activation"``.

onnx is an optional dependency (``pip install "skneuralode[onnx]"``), imported inside the
functions here only.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

INSTALL_HINT = 'pip install "skneuralode[onnx]"  (or: pip install onnx)'
#: ONNX operator of each activation of ``_activations.ACTIVATIONS`` (same keys; None: no
#: node). These are among the activations OMLT's ONNX reader knows.
ONNX_OPERATORS = {"tanh": "Tanh", "sigmoid": "Sigmoid", "softplus": "Softplus", "identity": None}
#: dtype option -> (numpy dtype, ONNX element type name)
DTYPES = {"float64": (np.float64, "DOUBLE"), "float32": (np.float32, "FLOAT")}
#: ONNX operator set and IR version written (onnx >= 1.16 and onnxruntime read them).
OPSET, IR_VERSION = 17, 8


def import_onnx():
    """``onnx``, or an ImportError that says how to install it."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(f"to_onnx needs onnx, which is not installed: {INSTALL_HINT}.") from exc
    return onnx


def build_model(coefs, intercepts, activation: str, scaling, *, bounds: np.ndarray,
                input_names: list, output_names: list, dtype: str = "float64",
                producer_version: str = ""):  # fmt: skip
    """The ``onnx.ModelProto`` of the module docstring for a network acting on the scaled
    units of ``scaling`` (``_scaling.Scaling``); ``bounds`` (n_in, 2) in user units."""
    onnx = import_onnx()
    from onnx import helper, numpy_helper

    from ._export import fold_scaling  # imports Pyomo: not at import time

    np_dtype, onnx_type = DTYPES[dtype]
    elem = getattr(onnx.TensorProto, onnx_type)
    has_u = scaling.u_mean is not None
    in_mean = np.r_[scaling.mean, scaling.u_mean] if has_u else scaling.mean
    in_scale = np.r_[scaling.scale, scaling.u_scale] if has_u else scaling.scale
    W, c = fold_scaling(coefs, intercepts, in_mean, in_scale, scaling.scale / scaling.t_scale)
    op = ONNX_OPERATORS[activation]
    nodes, weights, previous = [], [], "x"
    for layer, (Wl, cl) in enumerate(zip(W, c)):
        last = layer == len(W) - 1
        weights += [numpy_helper.from_array(Wl.astype(np_dtype), f"W{layer}"),
                    numpy_helper.from_array(cl.astype(np_dtype), f"b{layer}")]  # fmt: skip
        out = "dxdt" if last else f"z{layer}"
        nodes.append(helper.make_node("Gemm", [previous, f"W{layer}", f"b{layer}"], [out],
                                      name=f"dense{layer}", alpha=1.0, beta=1.0, transA=0,
                                      transB=0))  # fmt: skip
        previous = out
        if not last and op is not None:
            previous = f"a{layer}"
            nodes.append(helper.make_node(op, [out], [previous], name=f"{op.lower()}{layer}"))
    graph = helper.make_graph(
        nodes,
        "skneuralode_vector_field",
        [helper.make_tensor_value_info("x", elem, ["N", len(in_mean)])],
        [helper.make_tensor_value_info("dxdt", elem, ["N", len(scaling.mean)])],
        weights,
        doc_string="dx/dt = f(x, u) in user units; input x = (states, inputs) per row",
    )
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="skneuralode",
                              producer_version=producer_version)  # fmt: skip
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {
        "skneuralode.inputs": json.dumps(list(input_names)),
        "skneuralode.outputs": json.dumps(list(output_names)),
        "skneuralode.input_bounds": json.dumps(np.asarray(bounds, float).tolist()),
        "skneuralode.n_states": str(scaling.n_observed),
        "skneuralode.n_latent": str(scaling.n_latent),
        "skneuralode.n_inputs": str(0 if not has_u else len(scaling.u_mean)),
        "skneuralode.activation": activation,
    })  # fmt: skip
    onnx.checker.check_model(model)
    return model


def save(model, path, bounds: np.ndarray) -> None:
    """Write ``model`` to ``path`` and its input bounds to ``<path>.bounds.json`` (the
    files of OMLT's ``write_onnx_model_with_bounds``)."""
    path = Path(path)
    path.write_bytes(model.SerializeToString())
    rows = [{"key": i, "lower_bound": float(lo), "upper_bound": float(hi)}
            for i, (lo, hi) in enumerate(np.asarray(bounds, float))]  # fmt: skip
    Path(f"{path}.bounds.json").write_text(json.dumps(rows))


def read_bounds(model) -> np.ndarray:
    """The input bounds kept in a model written by :func:`build_model`, (n_in, 2)."""
    props = {p.key: p.value for p in model.metadata_props}
    return np.array(json.loads(props["skneuralode.input_bounds"]), dtype=float)
