# Hookyard: the two commands a newcomer needs are `make run` and `make test`.
SWIFT ?= swift
DEV_ENV := .hookyard-dev.env

.PHONY: all deps build release run test bench check-systemd clean

all: build

deps:
	@scripts/ensure-deps.sh

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

## Build and start the daemon on 127.0.0.1:8080 with ./hookyard.db, development secrets and the lead-to-sale
## rules in dry-run (no API keys: the requests each step would send are recorded in its output).
run: build
	@scripts/dev-env.sh $(DEV_ENV)
	@echo
	@echo "Hookyard is starting on http://127.0.0.1:8080 (database ./hookyard.db, rules deploy/examples/lead-to-sale.yaml,"
	@echo "dry-run). Stop it with Ctrl-C. From another terminal in this directory, send an interested lead and watch the flow:"
	@echo
	@echo "    set -a && . ./$(DEV_ENV) && set +a"
	@echo "    .build/debug/hookyard send-test-event instantly"
	@echo "    .build/debug/hookyard jobs list"
	@echo "    .build/debug/hookyard jobs show 3"
	@echo "    .build/debug/hookyard contacts list"
	@echo "    .build/debug/hookyard segments list --config deploy/examples/lead-to-sale.yaml"
	@echo
	@set -a && . ./$(DEV_ENV) && set +a && exec .build/debug/hookyard serve --config deploy/examples/lead-to-sale.yaml

## Run every test (unit and integration).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

## Measure ingest throughput and latency with wrk (see docs/benchmarks.md).
bench: deps
	@scripts/bench.sh

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
	rm -rf .build .bench
