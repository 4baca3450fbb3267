# Two commands do all set-up on a fresh machine (Python 3.11 with venv; nothing else):
#   make demo   - the whole pipeline on the synthetic demo collection, then the shipped model on a demo song
#   make test   - linter + test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := outputs/demo

.PHONY: demo test lint bench clean-outputs

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-musicnn.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-musicnn.txt
	$(PY) 00_preprocess_music.py --prepare-musicnn
	touch $@

demo: $(VENV)/.installed
	$(PY) 00_preprocess_music.py --demo -o $(DEMO)/features.csv
	$(PY) 01_nn_hyperparam.py $(DEMO)/features.csv -o $(DEMO)/hyperparam --quick
	$(PY) 02_train_model.py $(DEMO)/features.csv -o $(DEMO)/model
	@clip=data/synthetic_demo/$$(head -n 1 $(DEMO)/model/test_files.txt); \
	echo "== A held-out demo clip, classified by the demo model:"; \
	$(PY) 03_launch_classifier.py "$$clip" --model $(DEMO)/model && \
	echo "== The same clip, by the shipped GTZAN model (it never heard synthetic audio; expect nonsense):" && \
	$(PY) 03_launch_classifier.py "$$clip"
	@echo "Done. Real music: python 03_launch_classifier.py SONG_OR_FOLDER_OR_URL, or the window: python 04_interface.py"

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) bench/bench_preprocess.py

clean-outputs:
	rm -rf outputs/demo
