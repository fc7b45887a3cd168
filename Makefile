# Hookyard: the two commands a newcomer needs are `make run` and `make test`.
SWIFT ?= swift
DEV_ENV := .hookyard-dev.env

.PHONY: all deps build release run banner test bench bench-postgresql check-systemd report-screenshot clean fuzz

all: build

deps:
	@scripts/ensure-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Build and start the daemon on 127.0.0.1:8080 with development secrets and the rules of one example in dry-run
## (no API keys: the requests each step would send are recorded in its output). The example is lead-to-sale unless
## EXAMPLE names another file of deploy/examples: make run EXAMPLE=product-launch. Each example has a database of its
## own, ./hookyard-<example>.db (DATABASE=… for another), so one example's jobs and waiting steps never mix with
## another's. The banner prints the commands of deploy/examples/<example>.walkthrough, which walk that example's flow
## (docs/workflows/<example>.md shows the same file).
EXAMPLE ?= lead-to-sale
EXAMPLE_CONFIG := deploy/examples/$(EXAMPLE).yaml
DATABASE ?= ./hookyard-$(EXAMPLE).db

run: build
	@$(MAKE) --no-print-directory banner EXAMPLE=$(EXAMPLE) DATABASE=$(DATABASE)
	@set -a && . ./$(DEV_ENV) && HOOKYARD_DATABASE=$(DATABASE) && set +a && exec .build/debug/hookyard serve --config $(EXAMPLE_CONFIG)

## What `make run` prints before it starts the daemon (also creates .hookyard-dev.env); tested by WalkthroughTests.
banner:
	@test -f $(EXAMPLE_CONFIG) || { echo "no example $(EXAMPLE_CONFIG); the examples are: $$(ls deploy/examples/*.yaml | sed 's|.*/||; s/\.yaml$$//' | tr '\n' ' ')"; exit 2; }
	@scripts/dev-env.sh $(DEV_ENV)
	@echo
	@echo "Hookyard is starting on http://127.0.0.1:8080 (database $(DATABASE), rules $(EXAMPLE_CONFIG), dry-run)."
	@echo "Admin listener: http://127.0.0.1:9090 (/report: the success-metrics page; /metrics; /healthz)."
	@echo "Stop it with Ctrl-C. From another terminal in this directory, walk the $(EXAMPLE) flow:"
	@echo
	@echo "    set -a && . ./$(DEV_ENV) && HOOKYARD_DATABASE=$(DATABASE) && set +a"
	@sed 's/^/    /' deploy/examples/$(EXAMPLE).walkthrough
	@echo "    .build/debug/hookyard segments list"
	@echo
	@echo "The walk-through of this example, step by step: docs/workflows/$(EXAMPLE).md"
	@echo

## Run every test (unit and integration); the PostgreSQL tests start a throwaway server of Debian's postgresql.
test:
	@scripts/ensure-deps.sh postgresql
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

## Measure ingest throughput and latency with wrk (see docs/benchmarks.md).
bench: deps
	@scripts/bench.sh

## The intake (one node, then three nodes on one database) and the drain on PostgreSQL, on a throwaway cluster with
## PostgreSQL's default durability that scripts/bench.sh starts and removes (see docs/benchmarks.md).
bench-postgresql: deps
	@BENCH_ENGINE=postgresql scripts/bench.sh

## Write docs/images/report.png: /report of a `hookyard demo seed` database, drawn by headless Chromium (installed
## with apt when missing). See docs/report-page.md.
report-screenshot: deps
	@SWIFT="$(SWIFT)" scripts/report-screenshot.sh

## Check systemd/hookyard.service and hookyard.socket: `systemd-analyze verify` (on a copy whose ExecStart is
## /bin/true, since /usr/local/bin/hookyard need not exist here) and `systemd-analyze security --offline=yes`,
## which must rate the service 2.0 or lower. `make test` runs the same checks (SystemdUnitTests). See docs/systemd.md.
check-systemd:
	@command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (needs systemd 252 or newer)"; exit 1; }
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	sed 's|^ExecStart=/usr/local/bin/hookyard |ExecStart=/bin/true |' systemd/hookyard.service > "$$dir/hookyard.service" && \
	cp systemd/hookyard.socket "$$dir/hookyard.socket" && \
	echo "systemd-analyze verify systemd/hookyard.service systemd/hookyard.socket" && \
	out=$$(systemd-analyze verify "$$dir/hookyard.service" "$$dir/hookyard.socket" 2>&1); status=$$?; \
	if [ -n "$$out" ]; then echo "$$out"; fi; \
	if [ $$status -ne 0 ] || echo "$$out" | grep -q hookyard; then echo "verify: FAILED"; exit 1; fi; \
	echo "verify: OK" && \
	out=$$(systemd-analyze security --offline=yes --threshold=20 --no-pager "$$dir/hookyard.service" 2>&1); status=$$?; \
	echo "$$out" | tail -n 1; \
	if [ $$status -ne 0 ]; then echo "$$out"; echo "security: FAILED (exposure above 2.0)"; exit 1; fi; \
	echo "security: OK (exposure at most 2.0)"

clean:
	rm -rf .build .bench .build-fuzz

## Fuzz the two parsers that take outside bytes (HTTP requests, JSON bodies) with libFuzzer, each for FUZZ_SECONDS
## (default 60) or FUZZ_RUNS executions; builds into .build-fuzz. See docs/security.md, "Fuzzing".
fuzz:
	@scripts/fuzz.sh
