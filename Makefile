# Two commands do everything on a fresh machine with Python 3.11: `make test` and `make demo`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Demo settings; override on the command line, e.g. `make demo VIDEO=clip.mp4 PAINTINGS=art/`.
RUN ?= runs/demo
SIZE ?= 72x128
VAE_STEPS ?= 1500
REFINER_STEPS ?= 400
PAINTER_STEPS ?= 600
BATCH ?= 16
STRENGTH ?= 2
DEMO_MINUTES ?= 15
VIDEO ?=
PAINTINGS ?=

.PHONY: setup test lint format demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev,hed,bench]'
	touch $(STAMP)

setup: $(STAMP)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: setup
	$(VENV)/bin/pip install --quiet -e '.[dev,hed,bench]'
	for b in extract train mogrify quality style; do $(PY) bench/$$b.py || exit 1; done

demo: setup
	$(PY) -m vaest.demo --run_dir=$(RUN) --image_size=$(SIZE) --vae_steps=$(VAE_STEPS) \
		--refiner_steps=$(REFINER_STEPS) --painter_steps=$(PAINTER_STEPS) --batch_size=$(BATCH) \
		--strength=$(STRENGTH) \
		--minutes=$(DEMO_MINUTES) \
		$(if $(VIDEO),--video=$(VIDEO)) $(if $(PAINTINGS),--paintings=$(PAINTINGS))

clean:
	rm -rf $(VENV) runs
