# Two commands: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0 -c constraints.txt
	$(PY) -m pip install --quiet -e ".[test]" -c constraints.txt
	touch $(STAMP)

demo: $(STAMP)
	$(PY) examples/quickstart.py --out runs/quickstart

test: $(STAMP)
	$(PY) -m ruff check sciml tests examples benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest sciml tests

lint: $(STAMP)
	$(PY) -m ruff check sciml tests examples benchmarks
	$(PY) -m ruff format --check sciml tests examples benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
