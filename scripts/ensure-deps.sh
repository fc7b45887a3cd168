#!/usr/bin/env bash
# Installs the C libraries Hookyard links against when they are missing (Debian/Ubuntu), and the official MCP
# Python SDK the MCP tests drive the server with (a real client no one here wrote).
# As root it runs apt-get; otherwise it prints the exact command and stops.
set -euo pipefail
# The MCP client for Tests/HookyardMCPTests: pip's user install when not root. Version 1.x: its client API is the
# one the test script (Tests/HookyardMCPTests/Fixtures/mcp_client.py) uses.
if command -v python3 >/dev/null 2>&1 && ! python3 -c "import mcp.client.streamable_http" >/dev/null 2>&1; then
    echo "Installing the MCP Python SDK (mcp>=1.20,<2) with pip ..."
    if [ "$(id -u)" -eq 0 ]; then user=(); else user=(--user); fi
    python3 -m pip install --quiet --disable-pip-version-check "${user[@]}" "mcp>=1.20,<2" \
        || echo "warning: could not install the MCP Python SDK; the MCP client tests will be skipped" >&2
fi
packages=(libsqlite3-dev libssl-dev libcurl4-openssl-dev "$@")
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "Missing system packages: ${missing[*]}. Install the equivalents with your package manager." >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "Missing system packages: ${missing[*]}" >&2
    echo "Install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "Installing ${missing[*]} with apt-get ..."
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
