# Two commands do all set-up on a fresh machine (Python 3.11 with venv; nothing else):
#   make demo   - the whole pipeline on the synthetic demo collection, then the shipped model on a demo song
#   make test   - linter + test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := outputs/demo

.PHONY: demo test lint bench clean-outputs

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

demo: $(VENV)/.installed
	$(PY) 00_preprocess_music.py --demo -o $(DEMO)/features.csv
	@if [ -f 01_nn_hyperparam.py ]; then $(PY) 01_nn_hyperparam.py $(DEMO)/features.csv -o $(DEMO)/hyperparam --quick; \
	else echo "Next step (not built yet): 01_nn_hyperparam.py compares the networks on $(DEMO)/features.csv"; fi
	@if [ -f 02_train_model.py ]; then $(PY) 02_train_model.py $(DEMO)/features.csv -o $(DEMO)/model; \
	else echo "Next step (not built yet): 02_train_model.py trains the 85col network"; fi
	@if [ -f $(DEMO)/model/model.json ]; then $(PY) 03_launch_classifier.py data/synthetic_demo/metal/synthetic_metal.000.wav --model $(DEMO)/model; fi
	@if [ -f data/pretrained/model.json ]; then echo "The shipped GTZAN model on the same synthetic clip (it never heard synthetic audio):"; \
	$(PY) 03_launch_classifier.py data/synthetic_demo/metal/synthetic_metal.000.wav; fi

test: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(PY) -m pytest

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed
	$(PY) bench/bench_preprocess.py

clean-outputs:
	rm -rf outputs/demo
