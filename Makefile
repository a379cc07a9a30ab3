# Two set-up commands that work on a fresh machine with Python 3.11:
#   make demo   install, then run the main job on the embedded default data
#   make test   install the test dependencies, then run the fast tests
# Inside an activated virtualenv that environment is used; otherwise one is made in .venv.
# Both environments install with `-c constraints.txt`: exactly the torch and MONAI we test with
# (setup.py asks only for ranges, for users' environments).
PYTHON3 ?= python3
VENV_PY := $(if $(VIRTUAL_ENV),$(VIRTUAL_ENV)/bin/python,.venv/bin/python)
STAMP := $(dir $(VENV_PY)).monai-rmisr-installed

.PHONY: demo test test-integration test-slow lint install notebook clean monailabel-env test-monailabel

.venv/bin/python:
	$(PYTHON3) -m venv .venv

$(STAMP): $(VENV_PY) setup.py pyproject.toml constraints.txt
	$(VENV_PY) -m pip install --upgrade pip
	$(VENV_PY) -m pip install -c constraints.txt -e ".[dev]"
	touch $@

install: $(STAMP)

# run again, the demo's training (runs/rmisr) is resumed: it has nothing left to train and says so
demo: $(STAMP)
	$(VENV_PY) -m monai.bundle run training --config_file bundles/rmisr/configs/train.json \
		$$(test -d runs/rmisr/checkpoints && echo --resume true)
	$(VENV_PY) -m monai_rmisr.demo

# the quickstart notebook in JupyterLab (the "notebook" extra: Jupyter is not needed by anything else)
notebook: $(STAMP)
	$(VENV_PY) -m pip install -c constraints.txt -e ".[notebook]"
	$(VENV_PY) -m jupyter lab notebooks/quickstart.ipynb

# two tiers: `make test` the fast one (in-process), `make test-integration` the tests that start other processes,
# servers, the wheel build or the notebook; CI (.ci/run) runs both
test: $(STAMP)
	$(VENV_PY) -m pytest -q

test-integration: $(STAMP)
	$(VENV_PY) -m pytest -q -m integration

test-slow: $(STAMP)
	$(VENV_PY) -m pytest -q -m "slow or not slow or integration"

lint: $(STAMP)
	$(VENV_PY) -m ruff check .
	$(VENV_PY) -m ruff format --check .

# MONAI Label in its own environment (docs/monailabel.md): its dependency set clashes with the main one
ML_PY := .venv-monailabel/bin/python
ML_STAMP := .venv-monailabel/.monai-rmisr-installed

$(ML_PY):
	$(PYTHON3) -m venv .venv-monailabel

$(ML_STAMP): $(ML_PY) setup.py pyproject.toml constraints.txt apps/monailabel/requirements.txt
	$(ML_PY) -m pip install --upgrade pip
	$(ML_PY) -m pip install -c constraints.txt -e . -r apps/monailabel/requirements.txt
	$(ML_PY) -m pip install --no-deps monailabel==0.8.5 pydicom-seg==0.4.1
	touch $@

monailabel-env: $(ML_STAMP)

test-monailabel: $(ML_STAMP)
	$(ML_PY) -m pytest -q tests/monailabel

clean:
	rm -rf .venv .venv-monailabel build dist *.egg-info .pytest_cache .ruff_cache
