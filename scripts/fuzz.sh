#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/*.swift) into .build-fuzz and runs each for a bounded time.
#
#   make fuzz                                   # each target for FUZZ_SECONDS (default 60)
#   FUZZ_SECONDS=600 make fuzz                  # longer
#   FUZZ_RUNS=10000000 make fuzz                # a number of executions instead of a time
#   FUZZ_RUNS=10000000 FUZZ_SECONDS=3000 make fuzz   # whichever comes first
#   FUZZ_TARGETS=json-differential make fuzz    # one target
#   FUZZ_JOBS=2 make fuzz                       # parallel fuzzing processes per target (libFuzzer -fork)
#
# The targets are compiled with swiftc -sanitize=fuzzer,address straight from the sources they test (one module
# per target), so they are not part of `swift build` or `swift test`. The committed seeds (Fuzz/corpus/<target>)
# are read, never written: what the fuzzer learns goes to .build-fuzz/corpus/<target>. A crash or disagreement
# stops the run, leaves the input in .build-fuzz/artifacts/<target>/ and makes this script exit non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFTC=${SWIFTC:-swiftc}
SECONDS_PER_TARGET=${FUZZ_SECONDS:-60}
RUNS=${FUZZ_RUNS:-}
TARGETS=${FUZZ_TARGETS:-"http-request-parser json-differential"}
JOBS=${FUZZ_JOBS:-1}
OUT=.build-fuzz

sources_for() {
    case "$1" in
        http-request-parser)
            echo Sources/HTTPServer/HTTPRequestParser.swift Sources/HTTPServer/HTTPRequest.swift \
                 Sources/HTTPServer/HTTPHeaders.swift Fuzz/HTTPRequestParserFuzz.swift ;;
        json-differential)
            echo Sources/StrictJSON/*.swift Fuzz/JSONDifferentialFuzz.swift ;;
        *) echo "unknown fuzz target '$1' (known: http-request-parser json-differential)" >&2; exit 2 ;;
    esac
}

command -v "$SWIFTC" >/dev/null || { echo "swiftc not found (set SWIFTC)"; exit 1; }
mkdir -p "$OUT"
status=0
for target in $TARGETS; do
    binary="$OUT/fuzz-$target"
    echo "== $target: building $binary"
    # shellcheck disable=SC2046
    "$SWIFTC" -sanitize=fuzzer,address -parse-as-library -swift-version 6 -O -g -module-name "Fuzz_${target//-/_}" \
        $(sources_for "$target") -o "$binary" 2> "$OUT/build-$target.log" || { cat "$OUT/build-$target.log"; exit 1; }
    mkdir -p "$OUT/corpus/$target" "$OUT/artifacts/$target"
    # FUZZ_RUNS alone: that many executions; with FUZZ_SECONDS too: whichever comes first.
    limit=(-max_total_time="$SECONDS_PER_TARGET")
    if [ -n "$RUNS" ]; then limit=(-runs="$RUNS"); [ -n "${FUZZ_SECONDS:-}" ] && limit+=(-max_total_time="$FUZZ_SECONDS"); fi
    parallel=()
    if [ "$JOBS" -gt 1 ]; then parallel=(-fork="$JOBS" -ignore_crashes=0); fi
    dict=()
    if [ -f "Fuzz/$target.dict" ]; then dict=(-dict="Fuzz/$target.dict"); fi
    log="$OUT/fuzz-$target.log"
    echo "== $target: fuzzing (${limit[*]}), log $log"
    set +e
    "$binary" "${limit[@]}" "${parallel[@]}" "${dict[@]}" -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$OUT/artifacts/$target/" "$OUT/corpus/$target" "Fuzz/corpus/$target" > "$log" 2>&1
    result=$?
    set -e
    runs=$(grep -aEo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1 || true)
    seconds=$(grep -aEo 'Done [0-9]+ runs in [0-9]+ second' "$log" | grep -Eo 'in [0-9]+' | grep -Eo '[0-9]+' | tail -n 1 || true)
    speed=$(grep -aEo 'stat::average_exec_per_sec: *[0-9]+' "$log" | grep -Eo '[0-9]+$' | tail -n 1 || true)
    echo "== $target: exit $result, executions ${runs:-?}, seconds ${seconds:-?}, exec/s ${speed:-?}," \
         "corpus $(ls "$OUT/corpus/$target" | wc -l) + $(ls "Fuzz/corpus/$target" | wc -l) seeds," \
         "artifacts $(ls "$OUT/artifacts/$target" | wc -l)"
    if [ "$result" -ne 0 ]; then
        status=1
        grep -aE 'Fatal error|ERROR: |SUMMARY|Test unit written' "$log" | cut -c1-600 | head -n 20 || true
    fi
done
exit $status
