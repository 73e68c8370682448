# Two commands for a newcomer: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/pip install -q -c constraints.txt
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export HF_HUB_DISABLE_PROGRESS_BARS := 1
export TRANSFORMERS_VERBOSITY := error

.PHONY: run test build bench eval install dev chromium servers clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

# torch first, pinned by constraints.txt: pip then takes the CPU wheel already on disk.
$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0
	$(PIP) -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

install: $(VENV)/.installed
dev: $(VENV)/.installed-dev

build: install
	$(BIN)/rolebot build

# Serves the chat on http://127.0.0.1:7860 (the index is built first if missing or stale).
run: install
	$(BIN)/rolebot serve

# The browser tests drive Debian's Chromium; never `playwright install` (it downloads a browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# The several-replica test (tests/test_cluster.py) runs real PostgreSQL, Redis and HAProxy
# servers; Debian keeps PostgreSQL's initdb under /usr/lib/postgresql/N/bin (off PATH).
servers:
	@command -v redis-server >/dev/null 2>&1 && command -v haproxy >/dev/null 2>&1 || { \
	  echo "installing Debian's redis-server and haproxy for the cluster test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server haproxy >/dev/null; }
	@command -v initdb >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { \
	  echo "installing Debian's postgresql for the cluster test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; }

test: dev chromium servers
	$(BIN)/python -m pytest -q

eval: install
	$(BIN)/rolebot eval

bench: dev
	$(BIN)/python bench/bench.py

clean:
	rm -rf $(VENV) index/build-* index/CURRENT index/.tmp-* test-artifacts
