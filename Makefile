# d2v_ext: `make test` and `make demo` set up .venv themselves (idempotent: a stamp file
# records a finished install; a second run skips set-up unless setup.py or this file changed).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.d2v_ext-installed
PIP    := $(BIN)/python -m pip
SHELL  := /bin/bash
.SHELLFLAGS := -o pipefail -c
# pip.conf here lists local mirrors that may be absent; their per-package warnings are noise.
QUIET_PIP := 2>&1 | { grep -v '^WARNING: Location' || true; }

# Pins, and why:
# - torch/torchvision/torchaudio: the exact trio of the GPU machines' image; torchvision only works
#   with the torch it was built for ("operator torchvision::nms does not exist" otherwise).
# - fairseq-fixed: fairseq main with Python 3.11+ fixes (imports as `fairseq`); built from source
#   WITHOUT build isolation so its C++ extensions compile against the torch pinned above.
# - cython/numpy upper bounds: the versions fairseq-fixed's extensions were built and tested with
#   here (numpy 2.3.5); fairseq's data utilities are compiled against numpy's C API.
TORCH_PINS   := torch==2.11.0 torchvision==0.26.0 torchaudio==2.11.0
FAIRSEQ_PIN  := fairseq-fixed==0.12.3.1
BUILD_DEPS   := "cython<3.2" "numpy<2.4" setuptools wheel

.PHONY: setup test test-fast demo clean-venv help
help:
	@echo "make test   - set up .venv (first run ~4 min) and run the test suite"
	@echo "make demo   - set up .venv and run the main demo on ../shared/data"
	@echo "make setup  - only set up .venv"

setup: $(STAMP)

$(STAMP): setup.py Makefile
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "[make] setting up .venv (first time: ~4 min, ~5 GB)"
	$(PIP) install -q --upgrade pip $(QUIET_PIP)
	$(PIP) install -q $(TORCH_PINS) $(BUILD_DEPS) $(QUIET_PIP)
	$(PIP) install -q --no-build-isolation $(FAIRSEQ_PIN) $(QUIET_PIP)
	$(PIP) install -q -e ".[test]" $(QUIET_PIP)
	@touch $@
	@echo "[make] .venv ready"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile tests

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 -m "not e2e" tests

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

clean-venv:
	rm -rf $(VENV)
