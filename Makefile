# The two commands: `make demo` and `make test`. Both set up .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install system-packages demo test lint typecheck docs unit bench clean

$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(PY) -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(VENV)/bin/uv pip install --quiet --python $(PY) -r requirements-dev.lock -e .
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# The Debian packages the production-stack e2e needs (postgresql, redis-server), installed only when missing.
system-packages:
	@bash .ci/system-packages

# The documentation (Sphinx, MyST pages, Furo) into docs/_build/html; any warning fails it. -E rereads every page:
# autodoc does not notice a changed docstring, and the whole build takes about 10 s.
docs: $(STAMP)
	$(VENV)/bin/sphinx-build -W --keep-going -E -q -b html docs docs/_build/html

# docs before pytest: tests/unit/test_docs.py reads the HTML just built (it builds its own only when stale).
test: system-packages lint typecheck docs
	$(PY) -m pytest

unit: $(STAMP)
	$(PY) -m pytest tests/unit

bench: $(STAMP)
	$(PY) benchmarks/datasette_rows.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .demo .bench docs/_build
