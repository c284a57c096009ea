# The two front-door commands (each sets itself up on a fresh machine):
#   make run    analyse a bundled sample photo and recommend music for the mood
#   make test   install what the tests need and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip -q --disable-pip-version-check
# torch is pinned before the training extra so pip keeps the CPU build instead of pulling CUDA wheels
TORCH  ?= torch==2.13.0

.PHONY: run test setup setup-test serve bench clean

$(VENV)/.runtime: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -e . matplotlib
	touch $@

$(VENV)/.test: $(VENV)/.runtime
	command -v chromium >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q chromium chromium-driver)
	$(PIP) install "$(TORCH)"
	$(PIP) install -e ".[train,test,web]"
	touch $@

setup: $(VENV)/.runtime

setup-test: $(VENV)/.test

run: $(VENV)/.runtime
	$(VENV)/bin/moodtune recommend "$$($(PY) -c 'import matplotlib.cbook as c; print(c.get_sample_data("grace_hopper.jpg", asfileobj=False))')"

test: $(VENV)/.test
	$(PY) -m pytest -q

serve: $(VENV)/.runtime
	$(PIP) install -e ".[web]"
	$(VENV)/bin/moodtune serve

bench: $(VENV)/.test
	$(PY) bench/detectors.py
	$(PY) bench/recommend_latency.py
	$(PY) bench/live_fps.py
	$(PY) bench/api_latency.py
	$(PY) bench/memory_soak.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
