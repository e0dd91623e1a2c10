"""The learned network as an ONNX model for OMLT (``_onnx``, ``to_onnx``)."""

import json
import sys
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode._activations import ACTIVATIONS
from skneuralode.datasets import two_tank, van_der_pol
from skneuralode.exceptions import DiscretizationWarning
from skneuralode.physics import sqrt

onnx = pytest.importorskip("onnx")  # in the test extra: CI runs these
ort = pytest.importorskip("onnxruntime")

from skneuralode._onnx import ONNX_OPERATORS, read_bounds  # noqa: E402

# float64 graph vs the numpy network: the reassociation of folding the scaling (as
# test_export's FIELD_RTOL); float32 weights and arithmetic: about 1e-7 relative per
# operation, a few hundred of them.
FIELD_RTOL = 1e-10
FLOAT32_RTOL = 1e-5
N_POINTS = 9


def run(model, X, U=None):
    """onnxruntime on rows (x, u) -> (n, d)."""
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    dtype = np.float32 if model.graph.input[0].type.tensor_type.elem_type == 1 else np.float64
    rows = X if U is None else np.hstack([X, U])
    return session.run(["dxdt"], {"x": rows.astype(dtype)})[0]


def fit(activation="tanh", n_latent=0, with_u=True, depth=2):
    data = van_der_pol(60, (0, 6), forcing_amplitude=1.0, return_bunch=True)
    model = CollocationNeuralODE(
        width=6, depth=depth, degree=2, alpha=1e-4, random_state=0, activation=activation,
        n_latent=n_latent, max_iter=30,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", DiscretizationWarning)  # any weights export alike
        return model.fit(data.t, data.X, u=data.u if with_u else None), data


@pytest.fixture(scope="module")
def forced_model():
    return fit()


def points(model, seed=1):
    rng = np.random.default_rng(seed)
    lo, hi = model.state_range_
    X = rng.uniform(lo, hi, size=(N_POINTS, len(lo)))
    U = None
    if model.n_inputs_:
        U = rng.uniform(*model.input_range_, size=(N_POINTS, model.n_inputs_))
    return X, U


def test_every_activation_has_an_onnx_operator_omlt_reads():
    assert set(ONNX_OPERATORS) == set(ACTIVATIONS)
    omlt_ops = {"Relu", "Sigmoid", "LogSoftmax", "Tanh", "Softplus"}  # omlt.io.onnx_parser
    assert {op for op in ONNX_OPERATORS.values() if op} <= omlt_ops


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "identity"])
def test_onnxruntime_equals_vector_field(activation):
    model, _ = fit(activation)
    X, U = points(model)
    expected = model.vector_field()(X, U)
    np.testing.assert_allclose(run(model.to_onnx(), X, U), expected, rtol=FIELD_RTOL, atol=1e-12)


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_float32_runs_every_activation_in_onnxruntime(activation):
    """onnxruntime's CPU provider has no double Softplus: float32 runs every activation."""
    model, _ = fit(activation, depth=1)
    X, U = points(model)
    got = run(model.to_onnx(dtype="float32"), X, U)
    assert got.dtype == np.float32
    expected = model.vector_field()(X, U)
    np.testing.assert_allclose(got, expected, rtol=FLOAT32_RTOL, atol=FLOAT32_RTOL)


def test_latent_states_and_no_inputs():
    model, _ = fit(n_latent=1, with_u=False, depth=1)
    X, _ = points(model)
    exported = model.to_onnx()
    assert [d.dim_value for d in exported.graph.input[0].type.tensor_type.shape.dim] == [0, 3]
    np.testing.assert_allclose(run(exported, X), model.vector_field()(X), rtol=FIELD_RTOL,
                               atol=1e-12)  # fmt: skip
    props = {p.key: p.value for p in exported.metadata_props}
    assert json.loads(props["skneuralode.inputs"]) == ["x0", "x1", "z0"]
    assert props["skneuralode.n_latent"] == "1" and props["skneuralode.n_inputs"] == "0"


def test_bounds_are_the_training_range_in_metadata_and_file(forced_model, tmp_path):
    model, data = forced_model
    path = tmp_path / "vdp.onnx"
    exported = model.to_onnx(path)
    bounds = read_bounds(exported)
    # the states: the samples and the collocation states; the input: its samples
    lo = np.minimum(data.X.min(axis=0), model.collocation_states_.min(axis=0))
    hi = np.maximum(data.X.max(axis=0), model.collocation_states_.max(axis=0))
    np.testing.assert_allclose(bounds[:2], np.c_[lo, hi], rtol=1e-12)
    assert data.u.min() <= bounds[2, 0] < bounds[2, 1] <= data.u.max()
    assert bounds[2, 1] - bounds[2, 0] > 0.95 * (data.u.max() - data.u.min())
    rows = json.loads((tmp_path / "vdp.onnx.bounds.json").read_text())
    assert rows == [{"key": i, "lower_bound": a, "upper_bound": b}
                    for i, (a, b) in enumerate(bounds.tolist())]  # fmt: skip
    assert onnx.load(str(path)) == exported
    props = {p.key: p.value for p in exported.metadata_props}
    assert json.loads(props["skneuralode.inputs"]) == ["x0", "x1", "u0"]
    assert json.loads(props["skneuralode.outputs"]) == ["x0", "x1"]
    assert exported.producer_name == "skneuralode"


def test_names_of_a_model_fitted_with_names(forced_model):
    import copy

    model = copy.deepcopy(forced_model[0])
    model.state_names_, model.input_names_ = ["position", "velocity"], ["force"]
    props = {p.key: p.value for p in model.to_onnx().metadata_props}
    assert json.loads(props["skneuralode.inputs"]) == ["position", "velocity", "force"]
    assert json.loads(props["skneuralode.outputs"]) == ["position", "velocity"]


def test_omlt_loads_the_network_with_bounds_and_reproduces_f(forced_model, tmp_path):
    pyo = pytest.importorskip("pyomo.environ")
    omlt = pytest.importorskip("omlt")
    from omlt.io import load_onnx_neural_network_with_bounds
    from omlt.neuralnet import FullSpaceSmoothNNFormulation
    from pyomo.contrib.incidence_analysis import solve_strongly_connected_components

    model, _ = forced_model
    path = tmp_path / "vdp.onnx"
    model.to_onnx(path)
    net = load_onnx_neural_network_with_bounds(str(path))
    bounds = read_bounds(onnx.load(str(path)))
    assert net.scaled_input_bounds == {i: tuple(b) for i, b in enumerate(bounds.tolist())}
    m = pyo.ConcreteModel()
    m.f = omlt.OmltBlock()
    m.f.build_formulation(FullSpaceSmoothNNFormulation(net))
    assert [m.f.inputs[i].bounds for i in range(3)] == [tuple(b) for b in bounds.tolist()]
    X, U = points(model)
    for x, u in zip(X[:3], U[:3]):
        for i, v in enumerate(np.r_[x, u]):
            m.f.inputs[i].fix(float(v))
        # the full-space formulation is triangular: each equation gives one variable
        solve_strongly_connected_components(m)
        got = [pyo.value(m.f.outputs[i]) for i in range(2)]
        expected = model.vector_field()(x[None], u[None])[0]
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


# ------------------------------------------------------------ delegation and errors
def tanks(x, u, p, nn):
    return [p["k4"] * u[0] - p["k1"] * sqrt(x[0]), p["k2"] * sqrt(x[0]) + nn[0]]


def test_grey_box_models_say_what_to_use_instead():
    b = two_tank(n_samples=30, random_state=0, return_bunch=True)
    t, y, u = b.t, b.states, b.u
    model = CollocationNeuralODE(physics=tanks, physics_params={"k1": 0.1, "k2": 0.1, "k4": 0.1},
                                 max_iter=3, width=4)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(t, y, u)
    with pytest.raises(NotImplementedError, match=r"known physics \('tanks'\).*to_casadi\(\)"):
        model.to_onnx()


def test_admm_delegates_to_its_consensus_model(forced_model, tmp_path):
    model, _ = forced_model
    admm = ADMMNeuralODE(CollocationNeuralODE())
    with pytest.raises(NotFittedError):
        admm.to_onnx()
    admm.estimator_ = model  # what ADMMNeuralODE.fit leaves: a fitted single model
    assert admm.to_onnx(tmp_path / "a.onnx") == model.to_onnx()
    assert (tmp_path / "a.onnx.bounds.json").exists()


def test_bad_dtype_and_missing_onnx(forced_model, monkeypatch):
    model, _ = forced_model
    with pytest.raises(ValueError, match=r"`dtype` must be one of \['float32', 'float64'\]"):
        model.to_onnx(dtype="float16")
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx -> ImportError
    with pytest.raises(ImportError, match=r'pip install "skneuralode\[onnx\]"'):
        model.to_onnx()


def test_a_model_without_its_training_range_says_to_refit(forced_model):
    import copy

    model = copy.deepcopy(forced_model[0])
    del model.state_range_  # as a model pickled before the range was kept
    with pytest.raises(AttributeError, match=r"did not keep the training data's range.*fit it"):
        model.to_onnx()
