# The two commands of the README: `make demo` and `make test`. Both set up what they need first and are
# safe to run again. Nothing here downloads anything but packages from the package registries.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.frontage-installed
# Offline ultralytics: no hub, no pip auto-install, config (and the font it wants) inside the project.
export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := False
export YOLO_CONFIG_DIR := $(CURDIR)/var/ultralytics
export MPLCONFIGDIR := $(CURDIR)/var/matplotlib
export PYTHONUNBUFFERED := 1

.PHONY: demo test setup system-deps lint bench clean

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip setuptools wheel
	# torch/torchvision pinned to the builds that import together on this kind of machine
	$(PY) -m pip install -q -e '.[server,train,openvino,dev]'
	touch $(STAMP)

setup: $(STAMP)
	@$(PY) -m detector.training.offline_assets >/dev/null 2>&1 || true

system-deps:
	bash scripts/install-system-deps.sh

demo: setup
	$(PY) scripts/demo.py

# Two workers, whole files each (module-scoped servers stay in one process; every PostgreSQL test has its
# own schema): much of the suite waits (real-time clips, RTSP, Chromium, uvicorn), so two workers on two
# cores took the suite from 22:46 to 11:13 on an Intel Xeon box. TEST_WORKERS=0 runs it in one process.
TEST_WORKERS ?= 2

test: setup system-deps
	$(PY) -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadfile)

lint: setup
	$(VENV)/bin/ruff check detector api tests bench scripts

bench: setup
	$(PY) bench/run.py --quick

clean:
	rm -rf var/demo var/test runs .pytest_cache
