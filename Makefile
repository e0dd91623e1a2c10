# Developer entry points. Every target (except clean) first runs
# scripts/bootstrap.sh, which sets up .venv and is quick when nothing changed.
# It installs only what pip can (the numpy engine, the default, needs nothing else);
# `make test` also gives the pyomo engine an IPOPT route (SKNEURALODE_PYNUMERO=1: an
# `ipopt` executable if one answers, else Pyomo's PyNumero ASL library, built once with
# apt's libamplsolver-dev; root and a compiler), so both engines are tested here and in CI.

VENV := .venv
PY := $(VENV)/bin/python
BOOTSTRAP := bash scripts/bootstrap.sh
LINT_PATHS := $(wildcard skneuralode tests examples benchmarks)
PYTEST_ARGS ?=

.PHONY: bootstrap demo test lint docs benchmarks benchmarks-all benchmark-report clean

bootstrap:
	@$(BOOTSTRAP)

# The paper's fit with the numpy engine: pip only (no apt, no PyNumero build).
demo: bootstrap
	cd $(CURDIR) && $(PY) examples/plot_paper_fit.py

# The exit status of pytest itself is also left in $(VENV)/.pytest-status (make
# reports any failing recipe as 2), so that .ci/run can tell "no tests" (5) apart.
# The bootstrap runs here with SKNEURALODE_PYNUMERO=1 (see the top of this file).
# tests/test_install.py pip-installs the project into a fresh virtualenv, builds the
# sdist and wheel (python -m build, twine check) and installs the wheel into another
# (81-178 s on 2 cores); PYTEST_ARGS="-m 'not install'" leaves it out.
test:
	@SKNEURALODE_PYNUMERO=1 $(BOOTSTRAP)
	@rm -f $(VENV)/.pytest-status
	@$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; echo $$rc > $(VENV)/.pytest-status; exit $$rc

lint: bootstrap
	@$(VENV)/bin/ruff --version >/dev/null 2>&1 || $(VENV)/bin/pip install -q ruff
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)

# HTML site in docs/_build/html; warnings are errors. The docs extra, and the bench
# extra that the gallery's sequential-training examples need, are installed on first
# use (bootstrap.sh installs only ipopt,test,examples unless SKNEURALODE_EXTRAS says more).
docs: bootstrap
	@$(PY) -c "import sphinx, numpydoc, sphinx_gallery, pydata_sphinx_theme, myst_parser, torch, torchdiffeq, jax, diffrax, optax" 2>/dev/null \
		|| $(VENV)/bin/pip install -q -e ".[docs,bench]"
	$(VENV)/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

# Benchmarks. Each script writes benchmarks/results/<name>.jsonl (with the machine, the
# date, the command and the elapsed time), and benchmarks/report.py then regenerates
# docs/benchmarks.rst from all the files there. The commands below are the ones recorded
# in those files. The bench extra (torch, torchdiffeq, jax, diffrax) is installed on first
# use. Run them on an otherwise idle machine: the figures are wall times.
BENCH_EXTRA = @$(PY) -c "import torch, torchdiffeq, jax, diffrax, equinox, optax" 2>/dev/null \
	|| $(VENV)/bin/pip install -q -e ".[ipopt,bench]"

# `make benchmarks`: 7 of the 27 scripts, about 25 minutes on 2 cores (their recorded
# elapsed times). scaling.py runs a reduced sweep here: widths 8, 32, 128 and a 30 s CPU
# cap per IPOPT run.
define PAPER_BENCHMARKS
	$(PY) benchmarks/table1.py
	$(PY) benchmarks/vs_sequential.py --repeats 1
	$(PY) benchmarks/van_der_pol_fits.py --repeats 1
	$(PY) benchmarks/init_strategies.py
	$(PY) benchmarks/admm_paper.py
	$(PY) benchmarks/admm_parallel.py
	$(PY) benchmarks/scaling.py --widths 8 32 128 --max-cpu-time 30 --ipopt-timing
endef

benchmarks: bootstrap
	$(BENCH_EXTRA)
	$(PAPER_BENCHMARKS)
	$(PY) benchmarks/report.py

# `make benchmarks-all`: every script in benchmarks/, the 7 above and the other 21 (memory_estimate.py, smoothing_time.py and max_time.py print without recording), about
# two hours on 2 cores (their recorded elapsed times; the longest are free_run_remedy.py
# 28 min, scaling.py 15 min, admm_dask_scale.py 10 min for 100 000 samples with two 8 GB
# workers, openblas.py 9 min). engines.py runs the pyomo engine through PyNumero, so the
# bootstrap builds it as for `make test`. authors_code.py needs a clone of the authors'
# code (github.com/mariashapo/NODE): AUTHORS_REPO=PATH; without it that one is skipped.
AUTHORS_REPO ?=

benchmarks-all:
	@SKNEURALODE_PYNUMERO=1 $(BOOTSTRAP)
	$(BENCH_EXTRA)
	$(PAPER_BENCHMARKS)
	$(PY) benchmarks/engines.py --repeats 3 --ipopt-timing
	$(PY) benchmarks/multiplier_step.py --seeds 0 1 2
	$(PY) benchmarks/openblas.py --repeats 3
	$(PY) benchmarks/scaling.py --sweep trajectories --max-points 10000
	$(PY) benchmarks/admm_large.py
	$(PY) benchmarks/admm_transfer.py
	$(PY) benchmarks/admm_dask_scale.py --trajectories 50 --batches 10
	$(PY) benchmarks/admm_dask_scale.py --trajectories 100 --batches 10 --memory-limit 8GB
	$(PY) benchmarks/admm_scaleout.py --more-batches 10
	$(PY) benchmarks/latent_states.py --repeats 3
	$(PY) benchmarks/latent_init.py
	$(PY) benchmarks/free_run_stability.py
	$(PY) benchmarks/free_run_remedy.py
	$(PY) benchmarks/free_run_remedy.py --models leak --leak-rates 0.3 3 --alphas 1e-5 1e-4 1e-3 1e-2 --output benchmarks/results/free_run_remedy_rates.jsonl
	$(PY) benchmarks/greybox_two_tank.py
	$(PY) benchmarks/param_estimation.py
	$(PY) benchmarks/covariance_coverage.py
	$(PY) benchmarks/ude_selection.py
	$(PY) benchmarks/ude_forecast.py
	$(PY) benchmarks/input_interpolation.py
	$(PY) benchmarks/input_interpolation.py --cases held --no-default --pivtols 0.001 0.01 --output benchmarks/results/input_interpolation_pivtol.jsonl
	$(PY) benchmarks/memory_estimate.py
	$(PY) benchmarks/smoothing_time.py
	$(PY) benchmarks/max_time.py
	$(PY) benchmarks/max_time.py --overhead
	@if [ -n "$(AUTHORS_REPO)" ]; then \
		$(PY) benchmarks/authors_code.py --authors-repo "$(AUTHORS_REPO)" --repeats 3; \
	else \
		echo "[benchmarks] authors_code.py skipped: AUTHORS_REPO=PATH (a clone of github.com/mariashapo/NODE) runs it"; \
	fi
	$(PY) benchmarks/report.py

# docs/benchmarks.rst from the results files already in benchmarks/results/.
benchmark-report: bootstrap
	$(PY) benchmarks/report.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache docs/_build docs/gen_modules docs/auto_examples docs/sg_execution_times.rst
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
