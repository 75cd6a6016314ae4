# Two commands: `make demo` and `make test`. Both create .venv when it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# the suite runs in this many processes (one torch thread each, see tests/conftest.py); a test
# file stays in one process, so its module fixtures are built once
TEST_WORKERS ?= 2
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
	$(PY) -m sciml bench chaos --preset demo --executor serial --out runs/chaos_demo

test: $(STAMP)
	$(PY) -m ruff check sciml tests examples benchmarks
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile sciml tests

lint: $(STAMP)
	$(PY) -m ruff check sciml tests examples benchmarks
	$(PY) -m ruff format --check sciml tests examples benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache
