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

## Build and start the daemon on 127.0.0.1:8080 with ./hookyard.db and development secrets.
run: build
	@scripts/dev-env.sh $(DEV_ENV)
	@echo
	@echo "Hookyard is starting on http://127.0.0.1:8080 (database ./hookyard.db). Stop it with Ctrl-C."
	@echo "Send it a correctly signed test webhook from another terminal in this directory:"
	@echo
	@echo "    set -a && . ./$(DEV_ENV) && set +a && .build/debug/hookyard send-test-event stripe"
	@echo
	@set -a && . ./$(DEV_ENV) && set +a && exec .build/debug/hookyard serve

## Run every test (unit and integration).
test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build --disable-swift-testing

## Measure ingest throughput and latency with wrk (see docs/benchmarks.md).
bench: deps
	@scripts/bench.sh

clean:
	rm -rf .build .bench
