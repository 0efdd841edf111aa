# autoint-tf: `make demo` sets everything up and runs the main job; `make test` runs the tests.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: setup browser demo test bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# The package itself (editable, every extra) and the pinned versions it is tested with.
	$(PY) -m pip install --quiet -r requirements.txt
	# tensorflow-graphics' hard dependencies are unused and tensorflow-addons breaks Keras 3.
	$(PY) -m pip install --quiet --no-deps tensorflow-graphics==2021.12.3
	touch $(STAMP)

setup: $(STAMP)

# The viewer's tests drive a real browser: Debian's chromium (as root; .ci/run does this too).
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
	  { echo "Installing Debian's chromium for the viewer's browser tests"; \
	    apt-get update -qq && apt-get install -y -qq chromium; }

demo: setup
	$(PY) -m train.radiance --workdir=runs/demo
	$(PY) -m serving.export --workdir=runs/demo --export_base=runs/demo/exports --model_name=autoint
	$(PY) -m serving.smoke --workdir=runs/demo --export_base=runs/demo/exports --model_name=autoint
	@echo "See it live: $(PY) -m serving.viewer --workdir=runs/demo   (then open http://localhost:8080)"

test: setup browser
	$(PY) -m pytest tests

bench: setup
	$(PY) -m benchmarks.grad_network
	$(PY) -m benchmarks.ct_lines
	$(PY) -m benchmarks.serving
	$(PY) -m benchmarks.viewer

clean:
	rm -rf runs
