# The RdC interoperability function set. `make help` lists the targets.
# Everything runs on real PostgreSQL, Redis and MinIO: given by DATABASE_URL,
# REDIS_URL, S3_ENDPOINT, or started here from the machine's binaries.

GO        ?= go
DEVSTACK  := $(GO) run ./infra/cmd/devstack
# Every package of every module of the workspace.
PACKAGES  := ./shared/... $(patsubst %,./%/...,$(wildcard functions/*)) ./infra/... ./test/...
ARGS      ?=

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: up
up: ## run the whole function set on 127.0.0.1:8080 (Ctrl-C stops it and what it started)
	$(DEVSTACK) up $(ARGS)

.PHONY: test
test: ## run every test (unit, fuzz seeds, black-box through the gateway, template build)
	$(GO) vet $(PACKAGES)
	$(DEVSTACK) test -- $(GO) test -count=1 -timeout 25m $(ARGS) $(PACKAGES)

.PHONY: bench
bench: ## run the benchmarks; each prints ratios against a baseline measured in the same run
	$(DEVSTACK) test -- $(GO) run ./test/cmd/bench $(ARGS)

.PHONY: migrate
migrate: ## apply the database migrations to $$DATABASE_URL
	$(DEVSTACK) migrate

.PHONY: synth
synth: ## load synthetic data into $$DATABASE_URL (ARGS='-persons 1000000')
	$(GO) run ./infra/cmd/synth $(ARGS)

.PHONY: fuzz
fuzz: ## run each fuzz test for FUZZTIME (default 30s)
	$(GO) run ./infra/cmd/devstack test -- sh -c 'for p in $$($(GO) list $(PACKAGES)); do for f in $$($(GO) test -list "^Fuzz" $$p | grep ^Fuzz); do $(GO) test -run=^$$ -fuzz=^$$f$$ -fuzztime=$${FUZZTIME:-30s} $$p || exit 1; done; done'
