# `make run` reproduces the pipeline, `make test` runs the test suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: run test venv clean

run: $(STAMP)
	dvc repro

test: $(STAMP)
	pytest

venv: $(STAMP)

# Reinstall only when the project's requirements change.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV)
