# segmad — the commands a user types. `make install` then `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test unit bench demo clean browser-deps

install: $(STAMP)

# Re-install when the project's requirements change.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

test: install browser-deps
	$(BIN)/python -m pytest tests

# Debian's Chromium for the Playwright browser tests (`playwright install` cannot download here).
browser-deps:
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium)

unit: install
	$(BIN)/python -m pytest tests/unit

bench: install
	$(BIN)/segmad bench select

demo: install
	$(BIN)/segmad demo

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info services/*.egg-info

# The local stack of real servers, no Docker (data, logs, pids under var/stack/).
.PHONY: up status down
up: install
	$(BIN)/segmad stack up

status:
	$(BIN)/segmad stack status

down:
	$(BIN)/segmad stack down

# Offline validation of the container deployments (also run by tests/unit/test_deploy_manifests.py).
.PHONY: compose-check k8s-check
compose-check: install
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec docker-compose.yml

k8s-check: install
	$(BIN)/kubernetes-validate --strict deploy/k8s/*.yaml
