# `make run` reproduces the pipeline, `make test` runs the test suite; both set up .venv first.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export DVC_NO_ANALYTICS := 1

.PHONY: run test venv clean

TEMPLATE := .dvc/plots/offline.html

run: $(STAMP) $(TEMPLATE)
	dvc repro

test: $(STAMP) $(TEMPLATE)
	pytest

venv: $(STAMP)

# `dvc plots show/diff` pages that draw offline: vega inlined, fetched once with npm.
$(TEMPLATE): src/featuremaps/report/plots_template.py $(STAMP)
	python -m featuremaps.report.plots_template $@ || echo "warning: no offline plots template; dvc plots pages will load vega from a CDN"

# Reinstall only when the project's requirements change.
$(STAMP): pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

clean:
	rm -rf $(VENV)
