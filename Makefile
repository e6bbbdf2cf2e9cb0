# The RdC interoperability function set. `make help` lists the targets.
# Everything runs on real PostgreSQL, Redis and MinIO: given by DATABASE_URL,
# REDIS_URL, S3_ENDPOINT, or started here from the machine's binaries.

GO        ?= go
DEVSTACK  := $(GO) run ./infra/cmd/devstack
# Every package of every module of the workspace.
PACKAGES  := ./shared/... $(patsubst %,./%/...,$(wildcard functions/*)) ./infra/... ./test/...
# The packages tested under the race detector: the shared module, and the
# black-box suite, which serves every function in its own process (so their
# goroutines, workers and caches run under it too). The rest runs without.
RACE      := ./shared/... ./test/...
NORACE    := $(patsubst %,./%/...,$(wildcard functions/*)) ./infra/...
ARGS      ?=
# golangci-lint, pinned in tools/go.mod (a module of its own, outside the
# workspace): built from the Go module proxy into Go's build cache on first
# use, then run over each module of the workspace, as it lints one at a time.
LINT      = $$(GOWORK=off $(GO) -C tools tool -n golangci-lint)
MODULES   = $(shell $(GO) list -m -f '{{.Dir}}')

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: up
up: ## run the whole function set on 127.0.0.1:8080 (Ctrl-C stops it and what it started)
	$(DEVSTACK) up $(ARGS)

.PHONY: test
test: ## run every test (unit, fuzz seeds, black-box through the gateway, template build), shared/ and test/ under -race
	$(GO) vet $(PACKAGES)
	$(DEVSTACK) test -- sh -c "$(GO) test -race -count=1 -timeout 25m $(ARGS) $(RACE); race=\$$?; \
		$(GO) test -count=1 -timeout 25m $(ARGS) $(NORACE) && exit \$$race"

.PHONY: lint
lint: ## run golangci-lint (.golangci.yml) over every module of the workspace
	@lint=$(LINT) || exit 1; failed=; \
	for m in $(MODULES); do \
		echo "golangci-lint $${m#$(CURDIR)/}"; \
		(cd $$m && $$lint run --config $(CURDIR)/.golangci.yml ./...) || failed="$$failed $${m#$(CURDIR)/}"; \
	done; \
	if [ -n "$$failed" ]; then echo "golangci-lint found problems in:$$failed"; exit 1; fi

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
