"""The parameter validation's fallback for a scikit-learn release that moves its private
helpers (``skneuralode._sklearn_compat``): it accepts and rejects exactly what
scikit-learn's own validation does on every parameter of both estimators, with
scikit-learn's wording, and the estimators run on it."""

import subprocess
import sys
import textwrap
from numbers import Integral, Real

import numpy as np
import pytest
from sklearn.utils._param_validation import HasMethods as SkHasMethods
from sklearn.utils._param_validation import Interval as SkInterval
from sklearn.utils._param_validation import InvalidParameterError as SkInvalidParameterError
from sklearn.utils._param_validation import StrOptions as SkStrOptions
from sklearn.utils._param_validation import validate_parameter_constraints

from skneuralode import ADMMNeuralODE, CollocationNeuralODE, _sklearn_compat
from skneuralode._sklearn_compat import (
    _fallback_validate,
    _FallbackHasMethods,
    _FallbackInterval,
    _FallbackInvalidParameterError,
    _FallbackStrOptions,
)

SUBPROCESS_TIMEOUT = 600  # seconds; the machines are shared

# Values tried on every parameter: numbers at and around the bounds the estimators use,
# strings (option names among them), containers, callables, None, booleans, NaN.
VALUES = [
    -1, 0, 1, 2, 3000, 2**40, -0.5, 0.0, 1e-9, 0.5, 1.0, 2.5, float("nan"), float("inf"),
    np.int64(3), np.float64(0.1), True, False, np.bool_(True), None, "auto", "tanh", "radau",
    "numpy", "pyomo", "lstsq", "none", "linear", "previous", "LSODA", "time", "trajectory",
    "subsample", "estimator", "anderson", "adaptive", "bogus", "", {}, {"a": 1}, [], ["x[0]"],
    (), ("k",), {"k"}, np.zeros(2), [1.0, 2.0], len, np.random.RandomState(0),
    CollocationNeuralODE(), object(),
]  # fmt: skip


def _as_fallback(constraint):
    """The fallback's twin of one of scikit-learn's constraint objects."""
    if isinstance(constraint, SkInterval):
        return _FallbackInterval(
            constraint.type, constraint.left, constraint.right, closed=constraint.closed
        )
    if isinstance(constraint, SkStrOptions):
        return _FallbackStrOptions(constraint.options)
    if isinstance(constraint, SkHasMethods):
        return _FallbackHasMethods(constraint.methods)
    return constraint  # types, None, callable and the strings are shared


def _sklearn_accepts(constraints, name, value) -> bool:
    try:
        validate_parameter_constraints({name: constraints}, {name: value}, "Est")
    except SkInvalidParameterError:
        return False
    return True


def _fallback_accepts(constraints, name, value) -> bool:
    try:
        _fallback_validate({name: [_as_fallback(c) for c in constraints]}, {name: value}, "Est")
    except _FallbackInvalidParameterError:
        return False
    return True


@pytest.mark.parametrize("estimator", [CollocationNeuralODE, ADMMNeuralODE])
def test_fallback_accepts_what_sklearn_accepts(estimator):
    disagreements = []
    for name, constraints in estimator._parameter_constraints.items():
        for value in VALUES:
            ours, theirs = (
                _fallback_accepts(constraints, name, value),
                _sklearn_accepts(constraints, name, value),
            )
            if ours != theirs:
                disagreements.append((name, repr(value), f"fallback {ours}, sklearn {theirs}"))
    assert disagreements == []


def test_fallback_messages_follow_sklearn():
    interval = [_FallbackInterval(Integral, 1, None, closed="left")]
    with pytest.raises(_FallbackInvalidParameterError) as info:
        _fallback_validate({"width": interval}, {"width": 0}, "CollocationNeuralODE")
    assert str(info.value) == (
        "The 'width' parameter of CollocationNeuralODE must be an int in the range "
        "[1, inf). Got 0 instead."
    )
    options = [_FallbackStrOptions({"b", "a"}), None]
    with pytest.raises(ValueError, match=r"must be a str among \{'a', 'b'\} or None\. Got 'c'"):
        _fallback_validate({"p": options}, {"p": "c"}, "Est")
    real = [_FallbackInterval(Real, 0, None, closed="neither")]
    with pytest.raises(TypeError, match=r"must be a float in the range \(0, inf\)\. Got nan"):
        _fallback_validate({"tol": real}, {"tol": float("nan")}, "Est")


def test_this_scikit_learn_provides_the_private_helpers():
    """With the scikit-learn this suite runs on (CI: the newest and the oldest supported),
    the estimators use scikit-learn's own validation, not the fallback."""
    assert not _sklearn_compat.USING_FALLBACK
    assert _sklearn_compat.InvalidParameterError is SkInvalidParameterError


def test_estimators_run_on_the_fallback(tmp_path):
    """A scikit-learn release without ``sklearn.base._fit_context`` and
    ``sklearn.utils._param_validation``: the estimators still validate and fit."""
    fallback = textwrap.dedent(
        """
        import sys
        import sklearn.base, sklearn.metrics, sklearn.utils.parallel  # what skneuralode uses
        del sklearn.base._fit_context                       # moved by a future release
        sys.modules["sklearn.utils._param_validation"] = None  # importing it now fails
        """
    )
    script = textwrap.dedent(
        """
        from skneuralode import ADMMNeuralODE, CollocationNeuralODE, _sklearn_compat
        from skneuralode.datasets import van_der_pol
        print("fallback:", _sklearn_compat.USING_FALLBACK)
        t, X = van_der_pol(n_samples=40, t_span=(0, 4), noise=0.0)
        for bad in (CollocationNeuralODE(width=0), ADMMNeuralODE(n_batches=0)):
            try:
                bad.fit(t, X)
            except ValueError as exc:
                print("error:", exc)
        try:
            CollocationNeuralODE(activation="relu").build_model(t, X)
        except ValueError as exc:
            print("error:", exc)
        model = CollocationNeuralODE(width=4, random_state=0).fit(t, X)
        print("fitted:", model.solver_status_, repr(model.score(t, X)))
        """
    )
    runs = {}
    for name, code in (("fallback", fallback + script), ("sklearn", script)):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=SUBPROCESS_TIMEOUT,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        runs[name] = out.stdout.splitlines()
    lines = runs["fallback"]
    assert lines.pop(0) == "fallback: True"
    assert runs["sklearn"].pop(0) == "fallback: False"
    assert lines[0] == (
        "error: The 'width' parameter of CollocationNeuralODE must be an int in the range "
        "[1, inf). Got 0 instead."
    )
    assert lines[1] == (
        "error: The 'n_batches' parameter of ADMMNeuralODE must be an int in the range "
        "[1, inf). Got 0 instead."
    )
    assert lines[2].startswith("error: The 'activation' parameter of CollocationNeuralODE")
    assert "Got 'relu' instead." in lines[2]
    assert lines[3].startswith("fitted: optimal ")
    # the same fit as with scikit-learn's own validation (in the same kind of fresh
    # process), to the bit; scikit-learn words the messages the same (it lists a
    # StrOptions' options in set order, the fallback sorts them)
    assert lines[:2] + lines[3:] == runs["sklearn"][:2] + runs["sklearn"][3:]
