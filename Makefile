# Meridian: two commands matter to a new user, `make up` and `make test`; the rest are their parts.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

ENV ?= dev
UV_VERSION := $(shell python3 -c "import tomllib; print(next(t['pin'] for t in tomllib.load(open('tools/tools.toml','rb'))['tool'] if t['name'] == 'uv'))")
UV := .meridian/uv/bin/uv
RUN := $(UV) run --frozen --quiet
MERIDIAN := $(RUN) meridian
export PATH := $(CURDIR)/bin:$(PATH)

.PHONY: help tools up test lint typecheck test-python schema render clean test-go proto bench-apps test-policy bench-policy bench-preview bench-admission dashboards
# No tools-% here: make skips pattern rules for phony targets (no file of that name exists anyway).

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV): tools/tools.toml
	python3 -m venv .meridian/uv
	.meridian/uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	@touch $(UV)

.venv/.synced: $(UV) uv.lock pyproject.toml infra/pyproject.toml
	$(UV) sync --frozen --all-packages --quiet
	@touch $@

tools: .venv/.synced ## install every pinned tool that is missing (idempotent; `meridian tools needs` lists the groups per target)
	$(MERIDIAN) tools install

# tools-NAME installs only the groups tools/tools.toml [needs] lists for NAME.
tools-%: .venv/.synced
	$(MERIDIAN) tools install --for $*

# A kind cluster where a container engine answers (`cluster.type: auto`), else the local control plane.
KIND_GROUP = $(shell timeout 10 docker info >/dev/null 2>&1 && echo --group kind)
# GITOPS=1: on the local control plane, Argo CD's controllers run beside it and sync the apps
# (`meridian up ENV --gitops`); they need the argocd group and Redis from the apt group.
GITOPS ?=
GITOPS_ON = $(filter 1 yes true,$(GITOPS))

up: .venv/.synced ## pulumi up for ENV (default dev) on the local defaults; GITOPS=1 also runs Argo CD
	$(MERIDIAN) tools install --for up $(KIND_GROUP) $(if $(GITOPS_ON),--group argocd --group apt)
	$(MERIDIAN) up $(ENV) $(if $(GITOPS_ON),--gitops)

test: tools-test lint typecheck test-policy test-python test-go ## every test suite of the repository

lint: tools-lint ## ruff, formatting, the import contract, shell scripts and workflows
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) lint-imports
	git ls-files -z '*.sh' .ci/run | xargs -0 shellcheck
	actionlint

typecheck: tools-typecheck ## mypy, strict on the CLI, the platform program, the shared basics and the inventory service
	$(RUN) mypy
	cd apps/inventory && ../../$(UV) run --frozen --quiet mypy

# --durations=20: every run ends with the suite's 20 slowest tests, where time goes first.
test-python: tools-test ## pytest: CLI, platform program (Pulumi mocks), apps, policies, end to end
	$(RUN) pytest --durations=20

schema: ## regenerate environments/platform.schema.json and apps/app.schema.json from the spec models
	$(MERIDIAN) dev schema

test-go: tools-test-go ## go vet and go test for the orders service (integration tests start PostgreSQL)
	cd apps/orders && go vet ./... && go test ./...

proto: tools-proto ## regenerate the Go and Python code from apps/proto
	bash apps/proto/generate.sh

bench-apps: tools-bench-apps ## benchmark both services beside bare baselines (figures, not a test)
	$(RUN) python apps/bench/bench.py

test-policy: tools-test-policy ## Rego unit tests of the policy gate, coverage printed (fails under 90%)
	$(MERIDIAN) dev rego-tests --threshold 90

bench-policy: tools-bench-policy ## time the policy gate: environments, synthetic repos, overhead over conftest (figures, not a test)
	$(RUN) python benchmarks/policy/bench.py

bench-preview: tools-bench-preview ## time pulumi preview of the three stacks: fixed cost and cost per resource (figures, not a test)
	$(RUN) python benchmarks/preview/bench.py

bench-admission: tools-bench-admission ## time what the policy webhook adds to each request on the local API server (figures, not a test)
	$(RUN) python benchmarks/admission/bench.py

dashboards: ## regenerate apps/*/dashboards/*.json from infra/meridian_infra/observability/dashboards.py (never edit them)
	$(MERIDIAN) dev dashboards

render: tools-render ## render ENV's manifests into build/ENV
	$(MERIDIAN) render $(ENV)

.PHONY: cluster-up cluster-down
cluster-up: tools-cluster ## start the local control plane (docs/local-cluster.md)
	$(MERIDIAN) cluster up --local

cluster-down: ## stop the local control plane (keeps its data)
	$(MERIDIAN) cluster down --local

clean: ## remove render output (keeps tools and local state)
	rm -rf build
