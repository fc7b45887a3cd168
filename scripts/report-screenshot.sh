#!/usr/bin/env bash
# Writes docs/images/report.png: the /report page of a demo database as headless Chromium draws it (make
# report-screenshot). Builds Hookyard, seeds a temporary database with `hookyard demo seed`, starts the daemon on
# loopback ports of its own, screenshots /report, stops the daemon and removes the temporary files.
set -euo pipefail
cd "$(dirname "$0")/.."
output=${REPORT_SCREENSHOT:-docs/images/report.png}
size=${REPORT_SCREENSHOT_SIZE:-1280,2400}

scripts/ensure-deps.sh chromium
# SWIFT_BUILD_FLAGS: extra flags for swift build (e.g. --scratch-path DIR).
swift=${SWIFT:-swift}
# shellcheck disable=SC2086
"$swift" build ${SWIFT_BUILD_FLAGS:-} --product hookyard
# shellcheck disable=SC2086
hookyard=$("$swift" build ${SWIFT_BUILD_FLAGS:-} --show-bin-path)/hookyard

work=$(mktemp -d)
daemon=
cleanup() {
    if [ -n "$daemon" ] && kill -0 "$daemon" 2>/dev/null; then
        kill -TERM "$daemon" && wait "$daemon" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$hookyard" demo seed --database "$work/hookyard.db" >/dev/null

# Ephemeral loopback ports; no secrets needed (webhooks are not used), no rules.
HOOKYARD_DATABASE="$work/hookyard.db" HOOKYARD_LISTEN=127.0.0.1:0 HOOKYARD_ADMIN_LISTEN=127.0.0.1:0 \
    "$hookyard" serve >"$work/daemon.log" 2>&1 &
daemon=$!
admin=
for _ in $(seq 1 200); do
    admin=$(sed -n 's/.*"msg":"admin listening".*"address":"\([^"]*\)".*/\1/p; s/.*"address":"\([^"]*\)".*"msg":"admin listening".*/\1/p' \
        "$work/daemon.log" | head -n 1)
    [ -n "$admin" ] && break
    kill -0 "$daemon" 2>/dev/null || { cat "$work/daemon.log" >&2; echo "hookyard exited before listening" >&2; exit 1; }
    sleep 0.05
done
[ -n "$admin" ] || { cat "$work/daemon.log" >&2; echo "hookyard's admin listener did not come up" >&2; exit 1; }

chromium=$(command -v chromium || command -v chromium-browser)
mkdir -p "$(dirname "$output")"
# --no-sandbox: the sandbox refuses to run as root (containers, CI). The profile lives in the temporary directory.
"$chromium" --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars --force-device-scale-factor=1 \
    --user-data-dir="$work/chromium" --window-size="$size" --screenshot="$output" "http://$admin/report" \
    >"$work/chromium.log" 2>&1 || { cat "$work/chromium.log" >&2; exit 1; }
echo "wrote $output ($(wc -c <"$output") bytes) from http://$admin/report"
