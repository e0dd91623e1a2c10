"""Fit time, IPOPT iterations and MSEs of CollocationNeuralODE on the two Van der Pol
settings of the test suite (median wall time of --repeats fits per case).

- unforced: mu=1, x0=(2, 0), 200 uniform noise-free points on [0, 10], width 32,
  alpha=1e-5; test span (10, 20].
- paper: forced (A=1, omega=1), x0=(0, 1), 200 Chebyshev points on [0, 15], noise 0.1,
  width 32, alpha=1e-3, schemes chebyshev and radau, and chebyshev with u = cos(t) as an
  input; MSEs against the noise-free truth on [0, 15] and (15, 30].

    python benchmarks/van_der_pol_fits.py [--repeats 3]
"""

import argparse
import statistics
import time

import numpy as np
from _results import ResultsFile, add_output_options

from skneuralode import CollocationNeuralODE
from skneuralode.datasets import van_der_pol

FORCED = dict(x0=(0.0, 1.0), forcing_amplitude=1.0, forcing_frequency=1.0)


def cases():
    t, X = van_der_pol(200, (0, 10), x0=(2.0, 0.0))
    t_all, X_all = van_der_pol(401, (0, 20), x0=(2.0, 0.0))
    yield "unforced_radau", dict(alpha=1e-5), (t, X, None), (t_all, X_all, None), 10.0
    train = van_der_pol(
        200, (0, 15), grid="chebyshev", noise=0.1, random_state=0, return_bunch=True, **FORCED
    )
    truth = van_der_pol(t=np.linspace(0, 30, 601), return_bunch=True, **FORCED)
    for scheme in ("chebyshev", "radau"):
        params = dict(alpha=1e-3, scheme=scheme)
        yield (
            f"paper_{scheme}",
            params,
            (train.t, train.X, None),
            (truth.t, truth.X_true, None),
            15.0,
        )
    params = dict(alpha=1e-3, scheme="chebyshev")
    yield (
        "paper_chebyshev_with_u",
        params,
        (train.t, train.X, train.u),
        (truth.t, truth.X_true, truth.u),
        15.0,
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    add_output_options(parser, "van_der_pol_fits")
    args = parser.parse_args()
    results = ResultsFile("van_der_pol_fits", args)
    for name, params, (t, X, u), (tt, XX, uu), split in cases():
        walls = []
        for _ in range(args.repeats):
            est = CollocationNeuralODE(width=32, random_state=0, **params)
            start = time.perf_counter()
            est.fit(t, X, u=u)
            walls.append(time.perf_counter() - start)
        pred = est.predict(tt, XX[0], u=uu)
        test = tt > split
        results.emit(
            {
                "case": name,
                "median_fit_time": round(statistics.median(walls), 2),
                "fit_times": [round(w, 2) for w in walls],
                "build_time": round(est.build_time_, 2),
                "solve_time": round(est.solve_time_, 2),
                "n_iter": est.n_iter_,
                "status": est.solver_status_,
                "train_mse_collocation_vs_data": round(est.train_mse_, 6),
                "train_span_mse_simulation": round(
                    float(np.mean((pred[~test] - XX[~test]) ** 2)), 6
                ),
                "test_span_mse_simulation": round(float(np.mean((pred[test] - XX[test]) ** 2)), 6),
            }
        )
    results.save()


if __name__ == "__main__":
    main()
