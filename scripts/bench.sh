#!/usr/bin/env bash
# make bench: ingest throughput and latency of the release binary, measured with wrk on unique, validly signed
# Stripe events (each verified, deduplicated and committed with fsync before its 200), in two modes:
# keep-alive, and a new connection per request. Prints requests/s, p50/p99 latency and the daemon's peak RSS.
# Then the drain benchmark (Benchmarks/BenchDrain): jobs/s through the workers, and the rate kept under a limit.
# Then the contacts benchmark (Benchmarks/BenchContacts): events/s through the contact job with 100,000 contacts.
# Then the report benchmark (Benchmarks/BenchReport): hookyard report's computation on 1,000,000 events.
# Then the MCP benchmark (Benchmarks/BenchMCP): every read tool of the MCP server on the same database, p50/p99.
# Then the connection-limit measurements (scripts/bench-slot-flood.py, scripts/bench-pipelining-rss.py): genuine
# deliveries under a slot flood, and the daemon's RSS with 1,000 pipelining clients that never read.
# Tunables: BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_THREADS (2), BENCH_PORT (18089).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
port=${BENCH_PORT:-18089}
work=.bench
scripts/ensure-deps.sh wrk
swift build -c release --product hookyard >/dev/null
swift build -c release --product bench-requests >/dev/null
swift build -c release --product bench-drain >/dev/null
swift build -c release --product bench-contacts >/dev/null
swift build -c release --product bench-report >/dev/null
swift build -c release --product bench-mcp >/dev/null
bin=$(swift build -c release --show-bin-path)
mkdir -p "$work"
secret="whsec_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Enough unique events for the fastest plausible rate (60k/s) over the run.
count=$(( seconds * 60000 ))

run_mode() {
  local mode=$1 close=$2
  rm -f "$work"/bench.db*
  "$bin/bench-requests" "$secret" "$count" "$work/requests.txt"
  HOOKYARD_LISTEN=127.0.0.1:$port HOOKYARD_DATABASE=$work/bench.db STRIPE_WEBHOOK_SECRET=$secret \
    "$bin/hookyard" serve > "$work/serve-$mode.log" 2>&1 &
  local pid=$!
  for _ in $(seq 100); do grep -q '"listening"' "$work/serve-$mode.log" 2>/dev/null && break; sleep 0.1; done
  local result
  result=$(BENCH_REQUESTS=$work/requests.txt BENCH_THREADS=$threads BENCH_CLOSE=$close \
    wrk -t"$threads" -c"$connections" -d"${seconds}s" --latency -s scripts/bench-requests.lua "http://127.0.0.1:$port" \
    | grep '^BENCH')
  local rss
  rss=$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$pid/status")
  kill -TERM "$pid"; wait "$pid" || true
  local stored
  stored=$(HOOKYARD_DATABASE=$work/bench.db "$bin/hookyard" stats --json | sed -E 's/.*"stripe":([0-9]+).*/\1/')
  local drained
  drained=$(HOOKYARD_DATABASE=$work/bench.db "$bin/hookyard" stats --json | sed -E 's/.*"succeeded":([0-9]+).*/\1/')
  printf '%-16s %s stored=%s jobs_done=%s peak_rss_mb=%s\n' "$mode" "${result#BENCH }" "$stored" "$drained" "$rss"
}

echo "hookyard ingest benchmark: ${seconds}s per mode, $connections connections, $threads wrk threads, $(nproc) cores"
echo "(every request: parse, HMAC-SHA256 verify, JSON decode, dedup insert + job insert, group commit with fsync, then 200)"
run_mode keep-alive 0
run_mode new-connection 1
rm -f "$work/requests.txt"
echo
# Drain: jobs/s through the workers against a local fake Stripe with no limit, then the rate kept under a limit.
# Tunables: DRAIN_EVENTS (2000), DRAIN_WORKERS (4), DRAIN_LIMITED_EVENTS (150), DRAIN_LIMIT_RPS (50).
"$bin/bench-drain" "${DRAIN_EVENTS:-2000}" "${DRAIN_WORKERS:-4}" "${DRAIN_LIMITED_EVENTS:-150}" "${DRAIN_LIMIT_RPS:-50}"
echo
# Contacts: events/s through process_event (each event applied to its contact, 5 segments, no rules) on a database
# seeded with 100,000 contacts (seeding takes about 30 s and is not timed).
# Tunables: CONTACTS_EVENTS (20000), CONTACTS_WORKERS (4), CONTACTS_SEED (100000).
"$bin/bench-contacts" "${CONTACTS_EVENTS:-20000}" "${CONTACTS_WORKERS:-4}" "${CONTACTS_SEED:-100000}"
echo
# Report: ReportBuilder (what `hookyard report` and GET /report compute) per attribution model and grouping, on demo
# data of about 1,000,000 events and 100,000 contacts (seeding takes about 20 s and is not timed).
# Tunables: REPORT_CONTACTS (100000), REPORT_RUNS (5).
"$bin/bench-report" "${REPORT_CONTACTS:-100000}" "${REPORT_RUNS:-5}"
echo
# MCP: every read tool (hookyard mcp, POST /mcp) through the tool layer, p50/p99 per tool and variant, on the same
# demo data (about 1,000,000 events, 100,000 contacts; seeding is not timed). Target: every p99 within 200 ms.
# Tunables: MCP_CONTACTS (100000), MCP_RUNS (50).
"$bin/bench-mcp" "${MCP_CONTACTS:-100000}" "${MCP_RUNS:-50}"
echo
# Connection limits (docs/security.md, "Connection limits"), with the default http.max_connections (1024):
# genuine signed deliveries, each on a new connection, while hostile sockets (idle, blank-line tricklers, partial
# heads; reopened as soon as the daemon closes them) hold slots: 1,000 of them, then 2,000 (more than the table).
# Then 1,000 clients that pipeline GET /healthz and never read: the daemon's VmRSS before, during, after.
# Tunables: FLOOD_HOSTILE ("1000 2000"), FLOOD_GENUINE (200), FLOOD_CONCURRENCY (10), PIPELINE_CLIENTS (1000),
# PIPELINE_REQUESTS (20000 per client).
command -v python3 >/dev/null 2>&1 || scripts/ensure-deps.sh python3
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
for hostile in ${FLOOD_HOSTILE:-1000 2000}; do
  python3 scripts/bench-slot-flood.py "$bin" "$work" "$port" "$hostile" "${FLOOD_GENUINE:-200}" "${FLOOD_CONCURRENCY:-10}"
done
python3 scripts/bench-pipelining-rss.py "$bin" "$work" "$port" "${PIPELINE_CLIENTS:-1000}" "${PIPELINE_REQUESTS:-20000}"
