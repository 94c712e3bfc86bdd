# ferric — the two commands: `make run` and `make test`.
SHELL       := /bin/bash
GO          ?= go
BIN         := bin
DATA        ?= .data
TESTDB_DIR  ?= $(abspath $(DATA))/testdb
# A Debian 13 root with today's baremetal client and ironic-python-agent (.ci/trixie-root builds it); the tests
# that need it skip when it is absent outside CI.
TRIXIE_DIR  ?= /var/tmp/ferric-trixie
TRIXIE_ENV  := $(if $(wildcard $(TRIXIE_DIR)/root/.ready),FERRIC_TRIXIE_ROOT="$(TRIXIE_DIR)")
MODULE      := github.com/ferric-project/ferric
GOTEST_FLAGS ?= -count=1 -timeout 20m

.PHONY: all build run test vet fmt-check check-imports lint-workflows lint bench fuzz clean

all: build

build: $(BIN)/ferric

$(BIN)/ferric: $(shell find . -name '*.go' -not -path './$(DATA)/*') go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $@ ./cmd/ferric

## temporal: a Temporal server (cmd/temporal-server, the pinned go.temporal.io/server) and the upstream schema tool,
## for the tests and benches that run Temporal as a process of its own (TestSeparateProcesses).
TEMPORAL_BINS := $(BIN)/temporal-server $(BIN)/temporal-sql-tool
.PHONY: temporal
temporal: $(TEMPORAL_BINS)

$(BIN)/temporal-server: cmd/temporal-server/main.go go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $@ ./cmd/temporal-server

$(BIN)/temporal-sql-tool: go.mod go.sum
	@mkdir -p $(BIN)
	$(GO) build -trimpath -o $@ go.temporal.io/server/cmd/tools/sql

## run: the whole stack in one process (Temporal + UI, private PostgreSQL, API, worker).
run: build
	./$(BIN)/ferric dev -data-dir $(DATA)

## test: every test, with a throwaway PostgreSQL cluster started for the run.
test: fmt-check vet lint check-imports lint-workflows build temporal
	@set -euo pipefail; \
	url=$$(./$(BIN)/ferric testdb -log-level warn start $(TESTDB_DIR)); \
	trap './$(BIN)/ferric testdb -log-level warn stop $(TESTDB_DIR)' EXIT; \
	FERRIC_TEST_DATABASE_URL="$$url" FERRIC_BIN="$(abspath $(BIN))/ferric" $(TRIXIE_ENV) \
	FERRIC_TEMPORAL_BIN="$(abspath $(BIN))/temporal-server" FERRIC_TEMPORAL_SQL_TOOL="$(abspath $(BIN))/temporal-sql-tool" $(GO) test $(GOTEST_FLAGS) ./...

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed: $$out"; exit 1; fi

## check-imports: the direction of dependencies is checked, not just documented.
check-imports:
	@! $(GO) list -deps ./drivers/... | grep -E '^(go.temporal.io|github.com/gofiber|github.com/jackc)' || (echo "drivers must not import Temporal, Fiber or pgx"; exit 1)
	@! $(GO) list -f '{{join .Imports "\n"}}' ./workflows/... | grep -E '^(github.com/gofiber|github.com/jackc|net/http|os$$|$(MODULE)/(store|api))' || (echo "workflows may not do I/O"; exit 1)
	@! $(GO) list -deps ./api/... | grep -E '^($(MODULE)/drivers/[a-z]+$$|github.com/bougou|golang.org/x/crypto/ssh)' | grep -vE '^$(MODULE)/drivers(/inventory)?$$' || (echo "api must not reach BMCs"; exit 1)
	@! $(GO) list -deps ./api/... | grep -E '^$(MODULE)/(workflows|activities)$$' || (echo "api talks to the manager through workflows/contract only"; exit 1)
	@! $(GO) list -deps ./workflows/contract | grep -E '^$(MODULE)/' | grep -vE '^$(MODULE)/(node|workflows/contract)$$' || (echo "workflows/contract must stay a leaf"; exit 1)
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

## fuzz: every fuzz target under api/, jsonwire/ and drivers/deploy/dhcp/ for FUZZTIME each, with a throwaway PostgreSQL for those that use one
## (make test runs only their seed corpora, testdata/fuzz/<target>/). A failing input is written there: commit it
## with the fix.
FUZZTIME ?= 60s
fuzz: build
	@set -euo pipefail; \
	url=$$(./$(BIN)/ferric testdb -log-level warn start $(TESTDB_DIR)); \
	trap './$(BIN)/ferric testdb -log-level warn stop $(TESTDB_DIR)' EXIT; \
	for pkg in $$($(GO) list ./api/... ./jsonwire/... ./drivers/deploy/dhcp/...); do \
		for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
			echo "== $$pkg $$t ($(FUZZTIME))"; \
			FERRIC_TEST_DATABASE_URL="$$url" $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -rf $(BIN)

## ramdisk: the deploy ramdisk nodes network-boot into: $(RAMDISK_OUT)/vmlinuz and $(RAMDISK_OUT)/initramfs
## (gzip'd newc cpio: busybox, virtio/e1000 modules, ferric-agent, /init). The Debian .debs are downloaded once into
## $(RAMDISK_CACHE); later builds are offline and reproducible. See deployments/ramdisk/README.md.
RAMDISK_KERNEL_ABI ?= 6.1.0-56
RAMDISK_OUT        ?= ramdisk/out
RAMDISK_CACHE      ?= $(DATA)/ramdisk-cache
RAMDISK_AGENT      ?= $(BIN)/ferric-agent
RAMDISK_KPKG       := linux-image-$(RAMDISK_KERNEL_ABI)-amd64
RAMDISK_SH         := RAMDISK_KERNEL_ABI=$(RAMDISK_KERNEL_ABI) RAMDISK_CACHE=$(RAMDISK_CACHE) RAMDISK_OUT=$(RAMDISK_OUT) \
                      RAMDISK_AGENT=$(RAMDISK_AGENT) GO=$(GO) deployments/ramdisk/build.sh

.PHONY: ramdisk
ramdisk: $(RAMDISK_OUT)/vmlinuz $(RAMDISK_OUT)/initramfs

$(BIN)/ferric-agent: $(shell find . -name '*.go' -not -path './$(DATA)/*') go.mod go.sum
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o $@ ./cmd/ferric-agent

$(RAMDISK_CACHE)/root/%/.done:
	$(RAMDISK_SH) fetch $*

$(RAMDISK_OUT)/vmlinuz: $(RAMDISK_CACHE)/root/$(RAMDISK_KPKG)/.done deployments/ramdisk/build.sh
	$(RAMDISK_SH) vmlinuz

$(RAMDISK_OUT)/initramfs: $(RAMDISK_CACHE)/root/$(RAMDISK_KPKG)/.done $(RAMDISK_CACHE)/root/busybox-static/.done \
		$(RAMDISK_AGENT) deployments/ramdisk/build.sh deployments/ramdisk/init deployments/ramdisk/udhcpc.script \
		$(filter-out %_test.go,$(wildcard deployments/ramdisk/mkinitramfs/*.go))
	$(RAMDISK_SH) initramfs
