# cosrecon — developer entry points. `make demo` and `make test` are the Quick start.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint typecheck clean dist

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

# The main job on the embedded local server, from scratch each time: seed the example buckets, then
# validate -> plan -> apply -> plan again, which must report no changes (--detailed-exitcode: 0).
DEMO_ROOT := .cosrecon/demo
COSRECON  := COSRECON_LOCAL_ROOT=$(DEMO_ROOT) $(BIN)/cosrecon

demo: $(STAMP)
	rm -rf $(DEMO_ROOT)
	$(COSRECON) local import examples/images/shop --bucket shop-1250000000
	$(COSRECON) local import examples/images/archive --bucket archive-1250000000
	$(COSRECON) local import examples/images/media --bucket media-1250000000
	@echo; echo '$$ cosrecon validate examples/'
	@$(COSRECON) validate examples/
	@echo; echo '$$ cosrecon plan --local examples/'
	@$(COSRECON) plan --local examples/
	@echo; echo '$$ cosrecon apply --local --yes examples/'
	@$(COSRECON) apply --local --yes examples/
	@echo; echo '$$ cosrecon plan --local --detailed-exitcode examples/'
	@$(COSRECON) plan --local --detailed-exitcode examples/
	@echo; echo "Demo done: outputs are in $(DEMO_ROOT) (serve them with: $(BIN)/cosrecon local serve --root $(DEMO_ROOT))."

test: $(STAMP)
	$(BIN)/python -m mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m benchmarks

# A wheel for `pip install dist/cosrecon-<version>-py3-none-any.whl` on any machine with Python >= 3.11 (pip fetches
# the dependencies). Needs only python3 and network access to a package index (for the build's setuptools).
dist:
	rm -rf dist
	$(PYTHON) -m pip wheel --no-deps --wheel-dir dist .
	@ls dist/*.whl

typecheck: $(STAMP)
	$(BIN)/python -m mypy

clean:
	rm -rf $(VENV) .cosrecon/demo build dist *.egg-info
