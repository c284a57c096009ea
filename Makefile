# The two front-door commands (each sets itself up on a fresh machine):
#   make run    analyse a bundled sample photo and recommend music for the mood
#   make test   install what the tests need and run the whole suite
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# every install is held to the exact versions in constraints.txt (what the tests ran with)
INSTALL := $(PY) -m pip -q --disable-pip-version-check install -c constraints.txt
# torch is pinned before the training extra so pip keeps the CPU build instead of pulling CUDA wheels
TORCH  ?= torch==2.13.0

.PHONY: run test test-fast lint setup setup-test serve bench clean lock

# ruff checks these; mypy checks the package (pyproject.toml's [tool.mypy] files)
LINT_PATHS ?= src/moodtune bench tests tools

$(VENV)/.runtime: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(INSTALL) -e . matplotlib
	touch $@

$(VENV)/.test: $(VENV)/.runtime
	command -v chromium >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q chromium chromium-driver)
	# the PostgreSQL store tests start their own server: Debian puts initdb in /usr/lib/postgresql/<v>/bin
	command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update -q && apt-get install -y -q postgresql)
	$(INSTALL) "$(TORCH)"
	$(INSTALL) -e ".[train,test,web,postgres,ray]"
	touch $@

setup: $(VENV)/.runtime

setup-test: $(VENV)/.test

run: $(VENV)/.runtime
	$(VENV)/bin/moodtune recommend "$$($(PY) -c 'import matplotlib.cbook as c; print(c.get_sample_data("grace_hopper.jpg", asfileobj=False))')"

test: $(VENV)/.test
	$(PY) -m pytest -q

# everything but the tests marked slow (each over ~10 s)
test-fast: $(VENV)/.test
	$(PY) -m pytest -q -m "not slow"

$(VENV)/.lint: $(VENV)/.test
	$(INSTALL) -e ".[lint]"
	touch $@

lint: $(VENV)/.lint
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/mypy

serve: $(VENV)/.runtime
	$(INSTALL) -e ".[web]"
	$(VENV)/bin/moodtune serve

bench: $(VENV)/.test
	$(PY) bench/detectors.py
	$(PY) bench/recommend_latency.py
	$(PY) bench/live_fps.py
	$(PY) bench/api_latency.py
	$(PY) bench/memory_soak.py
	$(PY) bench/load.py

# re-pin constraints.txt to what the venv holds now (keeps its header; torch without its +cpu label)
lock:
	{ grep '^#' constraints.txt; $(PY) -m pip freeze --exclude-editable | sed -E 's/^(torch==[^+]*)\+.*/\1/'; } > constraints.tmp
	mv constraints.tmp constraints.txt

clean:
	rm -rf $(VENV) .cache .pytest_cache
