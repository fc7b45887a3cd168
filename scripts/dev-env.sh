#!/usr/bin/env bash
# Creates .hookyard-dev.env with development webhook secrets, once; later runs reuse it.
# These secrets are for local testing only: production secrets come from the environment or systemd credentials.
set -euo pipefail
file=${1:-.hookyard-dev.env}
[ -f "$file" ] && exit 0
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
umask 077
cat > "$file" <<ENV
# Development secrets for 'make run', generated $(date -u +%Y-%m-%dT%H:%M:%SZ). Not for production.
STRIPE_WEBHOOK_SECRET=whsec_$(random_hex 24)
INSTANTLY_WEBHOOK_SECRET=$(random_hex 24)
ENV
echo "Generated development secrets in $file"
