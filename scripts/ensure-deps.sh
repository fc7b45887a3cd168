#!/usr/bin/env bash
# Installs the C libraries Hookyard links against when they are missing (Debian/Ubuntu), and the official MCP
# Python SDK the MCP tests drive the server with (a real client no one here wrote).
# As root it runs apt-get; otherwise it prints the exact command and stops.
set -euo pipefail
# libpq-dev: the PostgreSQL client library (the second storage engine). `make test` also asks for `postgresql`, the
# server the tests start their throwaway cluster with (Tests/TestSupport/PostgreSQLTestServer.swift).
packages=(libsqlite3-dev libssl-dev libcurl4-openssl-dev libpq-dev "$@")
command -v pkg-config >/dev/null 2>&1 || packages+=(pkg-config)
# The MCP client for Tests/HookyardMCPTests lives in the project's own Python environment (.build/test-python), so a
# fresh Debian's externally managed system Python is left alone; Debian ships `venv`'s pip bootstrap separately.
test_python=$(cd "$(dirname "$0")/.." && pwd)/.build/test-python
has_mcp() { "$1" -c "import mcp.client.streamable_http" >/dev/null 2>&1; }
need_mcp=0
if command -v python3 >/dev/null 2>&1 && ! has_mcp "$test_python/bin/python3" && ! has_mcp python3; then
    need_mcp=1
    python3 -c "import ensurepip" >/dev/null 2>&1 || packages+=(python3-venv)
fi
# Version 1.x: its client API is the one Tests/HookyardMCPTests/Fixtures/mcp_client.py uses.
install_mcp() {
    [ "$need_mcp" -eq 1 ] || return 0
    echo "Installing the MCP Python SDK (mcp>=1.20,<2) into $test_python ..."
    { python3 -m venv "$test_python" && "$test_python/bin/python3" -m pip install --quiet --disable-pip-version-check "mcp>=1.20,<2"; } \
        || echo "warning: could not install the MCP Python SDK; the MCP client tests will be skipped" >&2
}
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then install_mcp; exit 0; fi
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
# The tests start their own cluster; Debian's package would otherwise create and start a system-wide one.
if [[ " ${missing[*]} " == *" postgresql "* ]] && [ ! -e /etc/postgresql-common/createcluster.conf ]; then
    mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
fi
apt-get update -qq
# confold: the createcluster.conf written above is kept (no conffile question, which would stop a non-interactive install).
apt-get install -y -qq -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
install_mcp
