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
#
# make bench-postgresql (BENCH_ENGINE=postgresql): the same intake and drain on PostgreSQL, on a throwaway cluster
# this script starts (initdb in .bench/, PostgreSQL's default durability: fsync and synchronous_commit on; listening
# only on a Unix socket there; stopped and removed when the script ends, however it ends): keep-alive intake on one
# node, then on three nodes sharing one database (one wrk, its threads spread over the nodes), then the drain.
# After each intake run it checks that the database holds exactly the events the daemons answered 200 for.
#
# Tunables: BENCH_ENGINE (sqlite, or postgresql), BENCH_STAGES (the stages to run, default all of the engine's:
# sqlite "keep-alive new-connection drain contacts report mcp limits", postgresql "keep-alive three-nodes drain"),
# BENCH_SECONDS (10), BENCH_CONNECTIONS (32, per node), BENCH_THREADS (2; three-nodes uses one wrk thread per node),
# BENCH_PORT (18089; three-nodes also the next two; admin listeners on BENCH_PORT+1000…), and the stages' own below.
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${BENCH_ENGINE:-sqlite}
case $engine in
  sqlite) all_stages="keep-alive new-connection drain contacts report mcp limits" ;;
  postgresql) all_stages="keep-alive three-nodes drain" ;;
  *) echo "BENCH_ENGINE must be sqlite or postgresql, not '$engine'" >&2; exit 2 ;;
esac
stages=" ${BENCH_STAGES:-$all_stages} "
for stage in $stages; do
  [[ " $all_stages " == *" $stage "* ]] || { echo "no stage '$stage' on $engine; its stages: $all_stages" >&2; exit 2; }
done
stage() { [[ "$stages" == *" $1 "* ]]; }
seconds=${BENCH_SECONDS:-10}
connections=${BENCH_CONNECTIONS:-32}
threads=${BENCH_THREADS:-2}
port=${BENCH_PORT:-18089}
work=.bench
failed=0
scripts/ensure-deps.sh wrk $([ "$engine" = postgresql ] && echo postgresql)
products=(hookyard bench-requests bench-drain)
[ "$engine" = sqlite ] && products+=(bench-contacts bench-report bench-mcp)
for product in "${products[@]}"; do swift build -c release --product "$product" >/dev/null; done
bin=$(swift build -c release --show-bin-path)
mkdir -p "$work"
secret="whsec_bench_$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
# Enough unique events for the fastest plausible rate (60k/s) over the run.
count=$(( seconds * 60000 ))

# Daemons this script started, and the PostgreSQL cluster: stopped on any exit.
node_pids=()
pg_dir=
cleanup() {
  local pid
  for pid in "${node_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$pg_dir" ]; then
    as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
  fi
  rm -f "$work/requests.txt" "$work/requests.txt.ready"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# PostgreSQL refuses to run as root: as root, its commands run as the `postgres` user (Debian's package creates it).
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

# A throwaway cluster with PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes on), in .bench/ so that
# its WAL is on the same disk as SQLite's database, listening only on a Unix socket in its directory (no TCP port).
start_postgresql() {
  pg_bin=${HOOKYARD_POSTGRESQL_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}
  [ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL server binaries (initdb) in '$pg_bin'; set HOOKYARD_POSTGRESQL_BIN" >&2; exit 1; }
  pg_dir=$(mktemp -d "$PWD/$work/postgresql.XXXXXX")
  [ "$(id -u)" -eq 0 ] && chown postgres "$pg_dir"
  as_postgres "$pg_bin/initdb" -D "$pg_dir/data" -A trust -U postgres -E UTF8 >"$pg_dir/initdb.log" 2>&1 \
    || { cat "$pg_dir/initdb.log" >&2; exit 1; }
  as_postgres "$pg_bin/pg_ctl" -D "$pg_dir/data" -o "-k $pg_dir -c listen_addresses=''" -l "$pg_dir/server.log" -w start \
    >/dev/null || { cat "$pg_dir/server.log" >&2; exit 1; }
  postgresql_server_url="postgresql:///postgres?host=$pg_dir&user=postgres"
}

# A fresh database for one run: sets database_env (the daemon's and `hookyard stats`'s environment for it).
database_number=0
fresh_database() {
  if [ "$engine" = sqlite ]; then
    rm -f "$work"/bench.db*
    database_env=("HOOKYARD_DATABASE=$work/bench.db")
  else
    database_number=$(( database_number + 1 ))
    "$pg_bin/psql" -qX "$postgresql_server_url" -c "CREATE DATABASE bench_$database_number" >/dev/null
    database_env=("HOOKYARD_DATABASE_URL=postgresql:///bench_$database_number?host=$pg_dir&user=postgres")
  fi
}

# Starts `hookyard serve` number N (0, 1, …) on BENCH_PORT+N, its admin listener on BENCH_PORT+1000+N, on the
# current database; returns once it logs `listening`.
start_node() {
  local number=$1 log="$work/serve-$2.log"
  env "${database_env[@]}" HOOKYARD_LISTEN=127.0.0.1:$(( port + number )) \
    HOOKYARD_ADMIN_LISTEN=127.0.0.1:$(( port + 1000 + number )) STRIPE_WEBHOOK_SECRET=$secret \
    "$bin/hookyard" serve > "$log" 2>&1 &
  node_pids+=($!)
  for _ in $(seq 300); do grep -q '"listening"' "$log" 2>/dev/null && return 0; sleep 0.1; done
  echo "hookyard serve did not start listening within 30 s; $log:" >&2; cat "$log" >&2; exit 1
}

# Stops every node (SIGTERM: each answers what it has taken before exiting).
stop_nodes() {
  local pid
  for pid in "${node_pids[@]}"; do kill -TERM "$pid"; done
  for pid in "${node_pids[@]}"; do wait "$pid" || true; done
  node_pids=()
}

# How many webhooks node N answered 200 (its /metrics, hookyard_webhooks_received_total).
answered_200() {
  curl -fsS "http://127.0.0.1:$(( port + 1000 + $1 ))/metrics" \
    | awk '/^hookyard_webhooks_received_total\{/ && /status="200"/ { sum += $NF } END { printf "%d", sum }'
}

# PostgreSQL's counters for the whole cluster: transactions committed, WAL flushes (pg_stat_wal.wal_sync: each an
# fsync of the WAL by a committing backend or the WAL writer), WAL bytes.
postgresql_counters() {
  "$pg_bin/psql" -qXAt -F ' ' "$postgresql_server_url" -c \
    "SELECT (SELECT sum(xact_commit) FROM pg_stat_database), wal_sync, wal_bytes FROM pg_stat_wal"
}

# A field of `hookyard stats --json` on the current database.
stats_field() {
  env "${database_env[@]}" "$bin/hookyard" stats --json | sed -E "s/.*\"$1\":([0-9]+).*/\\1/"
}

# One keep-alive or new-connection run against NODES daemons on one fresh database (wrk's threads spread over them),
# then the check: the events stored equal the 200s the daemons sent, and wrk saw no more 2xx than that.
run_mode() {
  local mode=$1 close=$2 nodes=$3 wrk_threads=$4
  fresh_database
  "$bin/bench-requests" "$secret" "$count" "$work/requests.txt"
  local addresses="" number
  for (( number = 0; number < nodes; number++ )); do
    start_node "$number" "$mode-$number"
    addresses+="127.0.0.1:$(( port + number )) "
  done
  local spread="" result
  if [ "$nodes" -gt 1 ]; then spread=$addresses; fi
  local before=""
  if [ "$engine" = postgresql ]; then before=$(postgresql_counters); fi
  result=$(BENCH_REQUESTS=$work/requests.txt BENCH_THREADS=$wrk_threads BENCH_CLOSE=$close BENCH_NODES=$spread \
    wrk -t"$wrk_threads" -c"$(( connections * nodes ))" -d"${seconds}s" --latency -s scripts/bench-requests.lua \
      "http://127.0.0.1:$port" | grep '^BENCH')
  local server=""
  if [ "$engine" = postgresql ]; then
    server=$(awk -v before="$before" 'BEGIN { split(before, b, " ") }
      { printf "server (wrk run): commits=%d wal_flushes=%d wal_mb=%.0f", $1 - b[1], $2 - b[2], ($3 - b[3]) / 1048576 }' \
      <<<"$(postgresql_counters)")
  fi
  local rss="" answered=0 per_node="" count_200
  for (( number = 0; number < nodes; number++ )); do
    rss+="$(awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/${node_pids[$number]}/status")/"
  done
  sleep 1  # the requests in flight when wrk stopped are answered (or dropped with their connection) by now
  for (( number = 0; number < nodes; number++ )); do
    count_200=$(answered_200 "$number")
    answered=$(( answered + count_200 ))
    per_node+="$count_200/"
  done
  stop_nodes
  local stored drained
  stored=$(stats_field stripe)
  drained=$(stats_field succeeded)
  printf '%-16s %s stored=%s jobs_done=%s peak_rss_mb=%s\n' "$mode" "${result#BENCH }" "$stored" "$drained" "${rss%/}"
  local requests non2xx
  requests=$(sed -E 's/.* requests=([0-9]+).*/\1/' <<<"$result")
  non2xx=$(sed -E 's/.* non2xx=([0-9]+).*/\1/' <<<"$result")
  local check="OK, no event lost"
  if [ "$stored" -ne "$answered" ] || [ $(( requests - non2xx )) -gt "$answered" ]; then check="MISMATCH"; failed=1; fi
  printf '%-16s answered_200=%s (per node %s) wrk_2xx=%s stored=%s: %s\n' "" "$answered" "${per_node%/}" \
    "$(( requests - non2xx ))" "$stored" "$check"
  if [ -n "$server" ]; then printf '%-16s %s\n' "" "$server"; fi
}

[ "$engine" = postgresql ] && start_postgresql
if stage keep-alive || stage new-connection || stage three-nodes; then
  echo "hookyard ingest benchmark ($engine): ${seconds}s per mode, $connections connections per node, $threads wrk threads, $(nproc) cores"
  echo "(every request: parse, HMAC-SHA256 verify, JSON decode, dedup insert + job insert, group commit with fsync, then 200)"
  if stage keep-alive; then run_mode keep-alive 0 1 "$threads"; fi
  if stage new-connection; then run_mode new-connection 1 1 "$threads"; fi
  if stage three-nodes; then run_mode three-nodes 0 3 3; fi
  rm -f "$work/requests.txt" "$work/requests.txt.ready"
  echo
fi
# Drain: jobs/s through the workers against a local fake Stripe with no limit, then the rate kept under a limit.
# Tunables: DRAIN_EVENTS (2000), DRAIN_WORKERS (4), DRAIN_LIMITED_EVENTS (150), DRAIN_LIMIT_RPS (50).
# On PostgreSQL each of its two runs creates a database of its own on the cluster (and drops it).
if stage drain; then
  drain_engine=()
  [ "$engine" = postgresql ] && drain_engine=(--postgresql "$postgresql_server_url")
  "$bin/bench-drain" "${drain_engine[@]}" "${DRAIN_EVENTS:-2000}" "${DRAIN_WORKERS:-4}" "${DRAIN_LIMITED_EVENTS:-150}" "${DRAIN_LIMIT_RPS:-50}"
  echo
fi
# Contacts: events/s through process_event (each event applied to its contact, 5 segments, no rules) on a database
# seeded with 100,000 contacts (seeding takes about 30 s and is not timed).
# Tunables: CONTACTS_EVENTS (20000), CONTACTS_WORKERS (4), CONTACTS_SEED (100000).
if stage contacts; then
  "$bin/bench-contacts" "${CONTACTS_EVENTS:-20000}" "${CONTACTS_WORKERS:-4}" "${CONTACTS_SEED:-100000}"
  echo
fi
# Report: ReportBuilder (what `hookyard report` and GET /report compute) per attribution model and grouping, on demo
# data of about 1,000,000 events and 100,000 contacts (seeding takes about 20 s and is not timed).
# Tunables: REPORT_CONTACTS (100000), REPORT_RUNS (5).
if stage report; then
  "$bin/bench-report" "${REPORT_CONTACTS:-100000}" "${REPORT_RUNS:-5}"
  echo
fi
# MCP: every read tool (hookyard mcp, POST /mcp) through the tool layer, p50/p99 per tool and variant, on the same
# demo data (about 1,000,000 events, 100,000 contacts; seeding is not timed). Target: every p99 within 200 ms.
# Tunables: MCP_CONTACTS (100000), MCP_RUNS (50).
if stage mcp; then
  "$bin/bench-mcp" "${MCP_CONTACTS:-100000}" "${MCP_RUNS:-50}"
  echo
fi
# Connection limits (docs/security.md, "Connection limits"), with the default http.max_connections (1024):
# genuine signed deliveries, each on a new connection, while hostile sockets (idle, blank-line tricklers, partial
# heads; reopened as soon as the daemon closes them) hold slots: 1,000 of them, then 2,000 (more than the table).
# Then 1,000 clients that pipeline GET /healthz and never read: the daemon's VmRSS before, during, after.
# Tunables: FLOOD_HOSTILE ("1000 2000"), FLOOD_GENUINE (200), FLOOD_CONCURRENCY (10), PIPELINE_CLIENTS (1000),
# PIPELINE_REQUESTS (20000 per client).
if stage limits; then
  command -v python3 >/dev/null 2>&1 || scripts/ensure-deps.sh python3
  ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  for hostile in ${FLOOD_HOSTILE:-1000 2000}; do
    python3 scripts/bench-slot-flood.py "$bin" "$work" "$port" "$hostile" "${FLOOD_GENUINE:-200}" "${FLOOD_CONCURRENCY:-10}"
  done
  python3 scripts/bench-pipelining-rss.py "$bin" "$work" "$port" "${PIPELINE_CLIENTS:-1000}" "${PIPELINE_REQUESTS:-20000}"
fi
[ "$failed" -eq 0 ] || { echo "an intake run stored a different number of events than its daemons answered 200 for" >&2; exit 1; }
