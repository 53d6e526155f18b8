# collage: `make demo` runs the main job on bundled examples, `make test` runs the tests.
# Both set everything up on a fresh Debian/Ubuntu machine first (apt packages, a
# virtual environment with the pinned Python dependencies).

VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
COLLAGE := $(VENV)/bin/collage
OUT     ?= out
SUDO    := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PKGS := fluidsynth fluid-soundfont-gm timgm6mb-soundfont musescore-general-soundfont chromium chromium-driver
# only for training the mashability models (extra timbres, an unseen-timbre validation set)
TRAIN_APT_PKGS := opl3-soundfont csound-soundfont

.PHONY: demo test lint install system-deps train-deps bench stats clean

demo: install
	$(COLLAGE) demo -o $(OUT)

test: lint
	OMP_NUM_THREADS=1 $(PY) -m pytest -q

# ruff (pyproject.toml [tool.ruff]) and the import layers (pyproject.toml [tool.importlinter])
lint: install
	$(VENV)/bin/ruff check --no-cache src tests benchmarks scripts
	$(VENV)/bin/lint-imports --no-cache

system-deps:
	@if ! command -v fluidsynth >/dev/null || [ ! -e /usr/share/sounds/sf2/FluidR3_GM.sf2 ] || [ ! -e /usr/share/sounds/sf2/TimGM6mb.sf2 ] || [ ! -e /usr/share/sounds/sf3/MuseScore_General.sf3 ] || [ ! -x /usr/bin/chromium ]; then \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(APT_PKGS); \
	fi

install: system-deps $(VENV)/.installed

train-deps: install
	@if [ ! -e /usr/share/sounds/sf2/OPL-3_FM_128M.sf2 ] || [ ! -e /usr/share/sounds/sf2/sf_GMbank.sf2 ]; then \
	  $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q --no-install-recommends $(TRAIN_APT_PKGS); \
	fi

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

stats: install
	$(COLLAGE) stats --split test --grid ticks --json

bench: install
	$(PY) benchmarks/load.py

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache
