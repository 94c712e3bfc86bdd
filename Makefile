# ferric — the two commands: `make run` and `make test`.
SHELL       := /bin/bash
GO          ?= go
BIN         := bin
DATA        ?= .data
TESTDB_DIR  ?= $(abspath $(DATA))/testdb
MODULE      := github.com/ferric-project/ferric
GOTEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: all build run test vet fmt-check check-imports lint-workflows lint bench clean

all: build

build: $(BIN)/ferric

$(BIN)/ferric: $(shell find . -name '*.go' -not -path './$(DATA)/*') go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $@ ./cmd/ferric

## run: the whole stack in one process (Temporal + UI, private PostgreSQL, API, worker).
run: build
	./$(BIN)/ferric dev -data-dir $(DATA)

## test: every test, with a throwaway PostgreSQL cluster started for the run.
test: fmt-check vet check-imports lint-workflows build
	@set -euo pipefail; \
	url=$$(./$(BIN)/ferric testdb -log-level warn start $(TESTDB_DIR)); \
	trap './$(BIN)/ferric testdb -log-level warn stop $(TESTDB_DIR)' EXIT; \
	FERRIC_TEST_DATABASE_URL="$$url" FERRIC_BIN="$(abspath $(BIN))/ferric" $(GO) test $(GOTEST_FLAGS) ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

## check-imports: the direction of dependencies is checked, not just documented.
check-imports:
	@! $(GO) list -deps ./drivers/... | grep -E '^(go.temporal.io|github.com/gofiber|github.com/jackc)' || (echo "drivers must not import Temporal, Fiber or pgx"; exit 1)
	@! $(GO) list -f '{{join .Imports "\n"}}' ./workflows/... | grep -E '^(github.com/gofiber|github.com/jackc|net/http|os$$|$(MODULE)/(store|api))' || (echo "workflows may not do I/O"; exit 1)
	@! $(GO) list -deps ./api/... | grep -E '^($(MODULE)/drivers/[a-z]+$$|github.com/bougou|golang.org/x/crypto/ssh)' | grep -v '^$(MODULE)/drivers$$' || (echo "api must not reach BMCs"; exit 1)
	@! $(GO) list -deps ./agent/... ./cmd/ferric-agent/... 2>/dev/null | grep -E '^(go.temporal.io|github.com/jackc|github.com/gofiber)' || (echo "the agent must not import Temporal, pgx or Fiber"; exit 1)
	@echo "import rules ok"

## lint-workflows: workflow code must be deterministic.
lint-workflows:
	$(GO) tool workflowcheck -show-pos ./workflows/...

## lint: staticcheck over the module.
lint:
	$(GO) tool staticcheck ./...

bench: build
	@set -euo pipefail; \
	url=$$(./$(BIN)/ferric testdb -log-level warn start $(TESTDB_DIR)); \
	trap './$(BIN)/ferric testdb -log-level warn stop $(TESTDB_DIR)' EXIT; \
	FERRIC_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -bench . -benchtime 3x ./...

clean:
	rm -rf $(BIN)
