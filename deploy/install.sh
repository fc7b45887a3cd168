#!/usr/bin/env bash
# Installs Hookyard as a systemd service, or removes it again. Safe to run again: an upgrade is a re-run.
#
#   sudo deploy/install.sh                          build a release binary, then install
#   sudo deploy/install.sh --binary PATH            install a binary built elsewhere
#   sudo deploy/install.sh --uninstall              remove the binary and the units; keep config and database
#   deploy/install.sh --root DIR [...]              install under DIR instead of /, without root and systemctl
#
# Installs:
#   /usr/local/bin/hookyard                         (0755, replaced on every run)
#   /etc/systemd/system/hookyard.{service,socket}   (0644, from systemd/, replaced on every run)
#   /etc/hookyard/hookyard.yaml                     (0644, from deploy/hookyard.example.yaml, only if absent)
#   /etc/hookyard/hookyard.env                      (0600, an empty template for rule variables, only if absent)
#   /etc/hookyard/credentials/                      (0700, for the secrets and API keys)
# The database (/var/lib/hookyard/hookyard.db) is created by the service on its first start and never touched here.
set -euo pipefail

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
}

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
root="${DESTDIR:-}"
binary=""
uninstall=false
while [ $# -gt 0 ]; do
    case "$1" in
        --binary) [ $# -ge 2 ] || { echo "install.sh: --binary needs a path" >&2; exit 2; }; binary="$2"; shift 2 ;;
        --binary=*) binary="${1#*=}"; shift ;;
        --root) [ $# -ge 2 ] || { echo "install.sh: --root needs a directory" >&2; exit 2; }; root="$2"; shift 2 ;;
        --root=*) root="${1#*=}"; shift ;;
        --uninstall) uninstall=true; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
if [ -n "$root" ]; then
    mkdir -p "$root"
    root="$(cd "$root" && pwd)"
    [ "$root" = / ] && root=""
fi

bin_dir="$root/usr/local/bin"
unit_dir="$root/etc/systemd/system"
conf_dir="$root/etc/hookyard"
units=(hookyard.service hookyard.socket)

if [ -z "$root" ] && [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: a real install writes to /usr/local/bin, /etc/systemd/system and /etc/hookyard; run it as root:" >&2
    echo "  sudo $0 $*" >&2
    echo "(or pass --root DIR to install into a staging directory)" >&2
    exit 1
fi

# systemctl only for the real system, and only when systemd runs it (not in a container or chroot without it).
systemd_running() {
    [ -z "$root" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1
}

if $uninstall; then
    if systemd_running; then
        for unit in "${units[@]}"; do
            if [ -e "$unit_dir/$unit" ]; then
                echo "Stopping and disabling $unit"
                systemctl disable --now "$unit" || true
            fi
        done
    fi
    for file in "$bin_dir/hookyard" "${units[@]/#/$unit_dir/}"; do
        if [ -e "$file" ]; then
            rm -f "$file"
            echo "Removed $file"
        fi
    done
    if systemd_running; then
        systemctl daemon-reload
    fi
    cat <<EOF

Hookyard is uninstalled. Kept, on purpose:
  $conf_dir              configuration, rule variables and credentials
  $root/var/lib/hookyard          the database (with DynamicUser=, systemd keeps it in /var/lib/private/hookyard)
Take a last backup if you need one (hookyard backup runs only while the binary is installed), then remove them
yourself when you are sure: rm -rf $conf_dir $root/var/lib/hookyard $root/var/lib/private/hookyard
EOF
    exit 0
fi

if [ -z "$binary" ]; then
    echo "Building a release binary in $repo ..."
    "$repo/scripts/ensure-deps.sh"
    if ! command -v swift >/dev/null 2>&1; then
        echo "install.sh: 'swift' is not in PATH (sudo resets PATH). Build as yourself first, then pass the binary:" >&2
        echo "  swift build -c release && sudo deploy/install.sh --binary .build/release/hookyard" >&2
        exit 1
    fi
    # Build as the user who ran sudo, so .build stays theirs.
    as_user=()
    if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
        as_user=(sudo -u "$SUDO_USER" env "PATH=$PATH")
    fi
    (cd "$repo" && "${as_user[@]}" swift build -c release)
    binary="$(cd "$repo" && "${as_user[@]}" swift build -c release --show-bin-path)/hookyard"
fi
if [ ! -f "$binary" ] || [ ! -x "$binary" ]; then
    echo "install.sh: '$binary' is not an executable file" >&2
    exit 1
fi

install -d -m 0755 "$bin_dir"
install -m 0755 "$binary" "$bin_dir/hookyard"
echo "Installed $bin_dir/hookyard ($("$bin_dir/hookyard" --version 2>/dev/null || echo "version unknown"))"

install -d -m 0755 "$unit_dir"
for unit in "${units[@]}"; do
    if [ -f "$repo/systemd/$unit" ]; then
        install -m 0644 "$repo/systemd/$unit" "$unit_dir/$unit"
        echo "Installed $unit_dir/$unit"
    else
        echo "Note: $repo/systemd/$unit does not exist; not installed. Continuing."
    fi
done

install -d -m 0755 "$conf_dir"
if [ -e "$conf_dir/hookyard.yaml" ]; then
    echo "Kept the existing $conf_dir/hookyard.yaml (compare with deploy/hookyard.example.yaml after an upgrade)"
else
    install -m 0644 "$repo/deploy/hookyard.example.yaml" "$conf_dir/hookyard.yaml"
    echo "Installed $conf_dir/hookyard.yaml from deploy/hookyard.example.yaml"
fi
if [ -e "$conf_dir/hookyard.env" ]; then
    echo "Kept the existing $conf_dir/hookyard.env"
else
    (
        umask 077
        cat >"$conf_dir/hookyard.env" <<'EOF'
# Environment for hookyard.service: the variables your rules use as ${VAR}, one NAME=value per line.
# For the lead-to-sale example (deploy/examples/lead-to-sale.yaml):
# HOOKYARD_PRICE_ID=price_...
# INSTANTLY_OUTREACH_CAMPAIGN_IDS=...
# INSTANTLY_PAYMENT_CAMPAIGN_ID=...
# INSTANTLY_CUSTOMER_CAMPAIGN_ID=...
# Secrets and API keys do not belong here: put them in /etc/hookyard/credentials/ (see docs/deployment.md).
EOF
    )
    chmod 0600 "$conf_dir/hookyard.env"
    echo "Installed $conf_dir/hookyard.env (an empty template for rule variables)"
fi
mkdir -p "$conf_dir/credentials"
chmod 0700 "$conf_dir/credentials"
# The unit's LoadCredential= lines fail the start when a file is missing, so each secret not given yet gets an empty
# file (0600): Hookyard reads an empty credential as unset (an API key left empty runs that provider in dry-run).
for name in STRIPE_WEBHOOK_SECRET INSTANTLY_WEBHOOK_SECRET STRIPE_API_KEY INSTANTLY_API_KEY \
            HOOKYARD_ALERT_WEBHOOK_URL HOOKYARD_ADMIN_TOKEN; do
    if [ ! -e "$conf_dir/credentials/$name" ]; then
        (umask 077 && : > "$conf_dir/credentials/$name")
        echo "Created $conf_dir/credentials/$name (empty: unset until you fill it)"
    fi
done

# With the socket unit, systemd holds the listening socket across restarts; enable it with the service.
start_units=hookyard
[ -f "$unit_dir/hookyard.socket" ] && start_units="hookyard.socket hookyard.service"

if systemd_running; then
    systemctl daemon-reload
    echo "Reloaded systemd"
elif [ -n "$root" ]; then
    echo "Installed under $root: systemctl not called"
else
    echo "systemd is not running here: systemctl not called"
fi

cat <<EOF

Next steps:
  1. Put each secret in its own file $conf_dir/credentials/NAME, mode 0600 (systemd hands it to the service);
     this asks for all six and leaves the ones you answer with Enter empty (unset; the last two are optional:
     where alerts are posted, and the token /metrics and /report require):
       for name in STRIPE_WEBHOOK_SECRET INSTANTLY_WEBHOOK_SECRET STRIPE_API_KEY INSTANTLY_API_KEY \
                   HOOKYARD_ALERT_WEBHOOK_URL HOOKYARD_ADMIN_TOKEN; do
           read -rsp "\$name: " value; echo
           [ -n "\$value" ] && (umask 077 && printf '%s\n' "\$value" > $conf_dir/credentials/\$name)
       done
     or encrypted with the host key, for LoadCredentialEncrypted= (type the value, then Ctrl-D twice):
       systemd-creds encrypt --name=STRIPE_WEBHOOK_SECRET - $conf_dir/credentials/STRIPE_WEBHOOK_SECRET.cred
     Without STRIPE_API_KEY or INSTANTLY_API_KEY, that provider's calls run in dry-run.
  2. Set the variables your rules use in $conf_dir/hookyard.env, and edit $conf_dir/hookyard.yaml.
  3. Check: hookyard check-config (with the rule variables: set -a && . $conf_dir/hookyard.env && set +a)
  4. Start: systemctl enable --now $start_units
  5. Put the reverse proxy in front (deploy/Caddyfile or deploy/nginx.conf) and point Stripe and Instantly at it.
Details: docs/deployment.md
EOF
