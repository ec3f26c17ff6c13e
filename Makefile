# rltheory: two commands do everything on a fresh machine with Python >= 3.11.
#   make figures   regenerate the paper figures (quick mode; FULL=1 for the papers' scale, into paper_figures/full/)
#   make test      run the whole test suite (notebooks included, executed in quick mode)
# Each creates the virtual environment it needs on first use (.venv) and is idempotent.
# Also: make bench (benchmarks against peer libraries, in their own .venv-bench), make lint,
#       make notebooks (execute the notebooks in quick mode and store their outputs).

PYTHON ?= python3
VENV   := .venv
BENCH  := .venv-bench
FIGURES ?=
PYTEST_ARGS ?=

.PHONY: figures test bench lint clean notebooks

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "rltheory needs Python >= 3.11"'
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -e ".[dev,notebooks,gym]"
	@touch $@

figures: $(VENV)/.installed
	MPLBACKEND=Agg $(VENV)/bin/rltheory reproduce $(FIGURES) $(if $(FULL),--full)

notebooks: $(VENV)/.installed
	MPLBACKEND=Agg $(VENV)/bin/python notebooks/store_outputs.py

test: $(VENV)/.installed
	MPLBACKEND=Agg $(VENV)/bin/python -m pytest -q $(PYTEST_ARGS)

$(BENCH)/.installed: pyproject.toml
	$(PYTHON) -m venv $(BENCH)
	$(BENCH)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH)/bin/python -m pip install --quiet -e ".[bench,gym]"
	@touch $@

bench: $(BENCH)/.installed
	$(BENCH)/bin/python benchmarks/run.py $(ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check rltheory algorithms mdps bounds paper_figures tests benchmarks

clean:
	rm -rf $(VENV) $(BENCH) .rltheory-cache .pytest_cache .hypothesis
