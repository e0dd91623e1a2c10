"""Write ``tests/pinned/fits.npz``: the weights, iteration counts and statuses of a few fits,
as the code computed them before the architecture refactor (issue 17, 2026-12-05: commit
f6d4d17, the parent of the refactor).

Regenerated once since (issue 21, 2026-12-06): the smoothing spline now works on standardized
times ``(t - t[0]) / median(diff(t))``, which resolves the GCV penalty better than on raw
times (scipy searches it on the fixed interval 0..n to an absolute 1e-5), so the time scale
moved by ~5e-5 relative and the weights by up to 2e-3 (non-identifiable weights of the
depth-2 softplus and the weight-bounded sigmoid case by up to 3, their trajectories by
3e-6 and 5e-2); the latent cases (unit spacing from 0) are unchanged.
``tests/test_pinned.py`` fits the same cases and compares. Run this again only when a
change of behaviour is intended, and say so in the commit:

    .venv/bin/python tests/pinned/make_pinned.py

``--out DIR`` writes the same two files into DIR instead (what the test does, in a fresh
process like the recording: OpenBLAS's AVX-512 kernels round differently with the heap
state of a long test session, and 26 IPOPT iterations amplify that to 1e-8). ``--skip-pyomo``
leaves out the pyomo engine's cases (no PyNumero ASL library).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

from skneuralode import ADMMNeuralODE, CollocationNeuralODE
from skneuralode.datasets import two_tank, van_der_pol

HERE = Path(__file__).parent
PAPER = dict(x0=(0.0, 1.0), mu=1.0, forcing_amplitude=1.0, forcing_frequency=1.0)


def paper_case():
    t, X = van_der_pol(200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, **PAPER)
    return (t, X), {}


def latent_case():
    """Two tanks, the lower level measured with 10% of its samples missing, one latent state."""
    t, y, u = two_tank(n_samples=60, noise=0.01, random_state=0)
    y = y.copy()
    y[np.random.RandomState(1).choice(np.arange(1, 60), 6, replace=False)] = np.nan
    return (t, y), {"u": u}


def van_der_pol_small():
    t, X = van_der_pol(50, (0, 6), noise=0.02, random_state=2)
    return (t, X), {}


def admm_case():
    t, X = van_der_pol(60, (0, 6), noise=0.02, random_state=0)
    return (t, X), {}


def fits():
    """(name, make_estimator, data) of every pinned case."""
    cases = []
    for engine in ("numpy", "pyomo"):
        cases.append(
            (
                f"paper_{engine}",
                lambda e=engine: CollocationNeuralODE(
                    width=32, alpha=1e-3, random_state=0, engine=e
                ),
                paper_case,
            )
        )
        cases.append(
            (
                f"latent_{engine}",
                lambda e=engine: CollocationNeuralODE(
                    width=8,
                    n_latent=1,
                    alpha=1e-4,
                    u_interpolation="previous",
                    random_state=0,
                    engine=e,
                ),
                latent_case,
            )
        )
        cases.append(
            (
                f"admm_{engine}",
                lambda e=engine: ADMMNeuralODE(
                    CollocationNeuralODE(width=8, degree=2, alpha=1e-4, engine=e),
                    n_batches=2,
                    max_iter=3,
                    random_state=0,
                    # plain ADMM as it was pinned (issue 19 changed the defaults): the
                    # estimator's start, no acceleration, residual balancing, and the
                    # old penalty 1 on the summed objective: rho per observed entry
                    # times 60 entries (30 samples x 2 states) per batch
                    init="estimator",
                    acceleration=None,
                    adaptive_rho=True,
                    rho=1 / 60,
                ),
                admm_case,
            )
        )
    # one case per other row of the tables the refactor introduced (schemes, activations,
    # bounds); small, so they take about a second each
    small = van_der_pol_small
    variants = {
        "legendre": dict(scheme="legendre", degree=2),
        "chebyshev": dict(scheme="chebyshev"),
        "depth2_softplus": dict(depth=2, activation="softplus"),
        "sigmoid_bounded": dict(activation="sigmoid", state_bound=3.0, weight_bound=5.0),
        "identity_lbfgs": dict(
            activation="identity", solver_options={"hessian_approximation": "limited-memory"}
        ),
    }
    for key, params in variants.items():
        cases.append(
            (
                f"{key}_numpy",
                lambda p=params: CollocationNeuralODE(width=8, alpha=1e-4, random_state=0, **p),
                small,
            )
        )
    cases.append(
        (
            "chebyshev_pyomo",
            lambda: CollocationNeuralODE(
                width=8, alpha=1e-4, random_state=0, scheme="chebyshev", engine="pyomo"
            ),
            small,
        )
    )
    return cases  # fmt: skip


def run(make, data):
    (t, X), kw = data()
    est = make()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(t, X, **kw)
    inner = getattr(est, "estimator_", est)
    theta = np.concatenate([np.ravel(a) for pair in zip(inner.coefs_, inner.intercepts_)
                            for a in pair])  # fmt: skip
    return {
        "theta": theta,
        "states": inner.collocation_states_,
        "n_iter": inner.n_iter_,
        "status": inner.solver_status_,
    }


def main() -> None:
    import argparse

    from threadpoolctl import threadpool_info

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=HERE)
    parser.add_argument("--skip-pyomo", action="store_true")
    args = parser.parse_args()
    arrays, meta = {}, {}
    for name, make, data in fits():
        if args.skip_pyomo and name.endswith("pyomo"):
            continue
        out = run(make, data)
        arrays[f"{name}_theta"], arrays[f"{name}_states"] = out["theta"], out["states"]
        meta[name] = {"n_iter": int(out["n_iter"]), "status": out["status"]}
        print(name, meta[name], file=sys.stderr)
    kernels = sorted({str(i.get("architecture")) for i in threadpool_info()})
    meta["_blas_kernels"] = kernels
    np.savez_compressed(args.out / "fits.npz", **arrays)
    (args.out / "fits.json").write_text(json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
