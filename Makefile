# Project-local virtual environment; everything the project needs is installed from here.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: test demo device-env dev-env bench clean cross-compiler wheel

# The optional compiled accelerators (setup.py): a change to their C sources reinstalls.
EXT_SRC := setup.py $(wildcard firmware_bridge/codec/*.c firmware_bridge/c/*.c firmware_bridge/c/*.h \
                               edge/frontend/*.c edge/frontend/c/*.c edge/frontend/c/*.h)

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip "setuptools>=64" wheel

# Device install (numpy, scipy, pyserial, ai-edge-litert) plus matplotlib for the demo's
# timeline PNG. No TensorFlow.
$(VENV)/.device-stamp: $(PY) setup.cfg pyproject.toml $(EXT_SRC)
	$(PIP) install -e ".[demo]"
	touch $@

# Everything: device + training (TensorFlow) + tests + the MQTT fleet output.
$(VENV)/.dev-stamp: $(PY) setup.cfg pyproject.toml $(EXT_SRC)
	$(PIP) install -e ".[train,test,demo,fleet,io,sweep]"
	touch $@

device-env: $(VENV)/.device-stamp
dev-env: $(VENV)/.dev-stamp

# EMG_REQUIRE_EXTENSIONS=1: an accelerator that failed to build fails the tests instead of
# silently falling back to the Python/numpy code.
test: $(VENV)/.dev-stamp
	EMG_REQUIRE_EXTENSIONS=1 $(PY) -m pytest -q $(PYTEST_ARGS)

demo: $(VENV)/.device-stamp
	$(PY) -m edge.demo $(DEMO_ARGS)

# The aarch64 cross-compiler for tests/test_packaging.py (the extensions' C sources built for a
# Raspberry Pi). Debian/Ubuntu packages, about 44 MB; only as root with apt-get, otherwise it
# says how and the test skips with the same hint.
CROSS_PACKAGES := gcc-aarch64-linux-gnu libc6-dev-arm64-cross
cross-compiler:
	@if command -v aarch64-linux-gnu-gcc >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(CROSS_PACKAGES) \
		|| { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(CROSS_PACKAGES); }; \
	else echo "cross-compiler: not root or no apt-get; install $(CROSS_PACKAGES) to run the aarch64 build test"; fi

# The wheel for this machine (wheelhouse/); cibuildwheel (pyproject.toml) builds the
# manylinux x86_64 and aarch64 ones.
wheel: $(PY)
	rm -rf build
	$(PY) -m pip wheel . --no-deps -w wheelhouse

bench: $(VENV)/.dev-stamp
	$(PY) benchmarks/frontend.py
	$(PY) benchmarks/bridge.py
	$(PY) benchmarks/runtime.py
	$(PY) benchmarks/detection.py
	$(PY) benchmarks/altsim.py --seeds 1 2 3
	$(PY) benchmarks/holdoutsim.py --seeds 1 2 3

clean:
	rm -rf $(VENV) build wheelhouse *.egg-info .pytest_cache
	find edge firmware_bridge -name "*.so" -delete
