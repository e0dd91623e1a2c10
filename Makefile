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

.PHONY: bootstrap demo test lint docs benchmarks benchmark-report clean

bootstrap:
	@$(BOOTSTRAP)

# The paper's fit with the numpy engine: pip only (no apt, no PyNumero build).
demo: bootstrap
	cd $(CURDIR) && $(PY) examples/plot_paper_fit.py

# The exit status of pytest itself is also left in $(VENV)/.pytest-status (make
# reports any failing recipe as 2), so that .ci/run can tell "no tests" (5) apart.
# The bootstrap runs here with SKNEURALODE_PYNUMERO=1 (see the top of this file).
# tests/test_install.py pip-installs the project into a fresh virtualenv (about a
# minute); PYTEST_ARGS="-m 'not install'" leaves it out.
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

# Every benchmark, one after the other, each writing benchmarks/results/<name>.jsonl, then
# docs/benchmarks.rst from those files. Takes 40-60 minutes on 2 cores: run it on an
# otherwise idle machine. scaling.py runs a reduced sweep here: widths 8, 32, 128 and a
# 30 s CPU cap per IPOPT run (large cases report time per iteration; the full sweep takes hours).
# The bench extra (torch, torchdiffeq, jax, diffrax) is installed on first use.
benchmarks: bootstrap
	@$(PY) -c "import torch, torchdiffeq, jax, diffrax, equinox, optax" 2>/dev/null \
		|| $(VENV)/bin/pip install -q -e ".[ipopt,bench]"
	$(PY) benchmarks/table1.py
	$(PY) benchmarks/vs_sequential.py
	$(PY) benchmarks/van_der_pol_fits.py
	$(PY) benchmarks/init_strategies.py
	$(PY) benchmarks/admm_paper.py
	$(PY) benchmarks/admm_parallel.py
	$(PY) benchmarks/scaling.py --widths 8 32 128 --max-cpu-time 30 --ipopt-timing
	$(PY) benchmarks/report.py

# docs/benchmarks.rst from the results files already in benchmarks/results/.
benchmark-report: bootstrap
	$(PY) benchmarks/report.py

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache docs/_build docs/gen_modules docs/auto_examples docs/sg_execution_times.rst
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
