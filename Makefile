# Hookyard: the two commands a newcomer needs are `make run` and `make test`.
SWIFT ?= swift
DEV_ENV := .hookyard-dev.env

.PHONY: all deps build release run test bench clean

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
	@echo
	@set -a && . ./$(DEV_ENV) && set +a && exec .build/debug/hookyard serve --config deploy/examples/lead-to-sale.yaml

## Run every test (unit and integration).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

## Measure ingest throughput and latency with wrk (see docs/benchmarks.md).
bench: deps
	@scripts/bench.sh

clean:
	rm -rf .build .bench
