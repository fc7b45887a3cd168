#!/usr/bin/env bash
# Creates .hookyard-dev.env for 'make run': development webhook secrets and the ids the lead-to-sale example
# (deploy/examples/lead-to-sale.yaml) needs. Values already in the file are kept; missing ones are added.
# No API keys: the daemon runs its workflows in dry-run, recording the requests it would send.
# These values are for local testing only: production secrets come from the environment or systemd credentials.
set -euo pipefail
file=${1:-.hookyard-dev.env}
random_hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }
umask 077
if [ ! -f "$file" ]; then
  echo "# Development settings for 'make run', generated $(date -u +%Y-%m-%dT%H:%M:%SZ). Not for production." > "$file"
  echo "Generated development settings in $file"
fi
add() {  # add NAME VALUE [comment], unless NAME is already set in the file
  grep -q "^$1=" "$file" && return 0
  [ -n "${3:-}" ] && echo "# $3" >> "$file"
  echo "$1=$2" >> "$file"
}
add STRIPE_WEBHOOK_SECRET "whsec_$(random_hex 24)"
add INSTANTLY_WEBHOOK_SECRET "$(random_hex 24)"
add HOOKYARD_PRICE_ID price_dry_run_demo "Dry-run demo ids for deploy/examples/lead-to-sale.yaml; 'send-test-event instantly' uses the outreach id."
add INSTANTLY_OUTREACH_CAMPAIGN_IDS 00000000-0000-4000-8000-000000000002
add INSTANTLY_PAYMENT_CAMPAIGN_ID 00000000-0000-4000-8000-000000000003
add INSTANTLY_CUSTOMER_CAMPAIGN_ID 00000000-0000-4000-8000-000000000004
# Dry-run demo settings for the other examples. 'hookyard trigger instantly …' sends to campaign …0002 unless told
# otherwise, so that is also their announcement campaign.
add INSTANTLY_ANNOUNCEMENT_CAMPAIGN_ID 00000000-0000-4000-8000-000000000002 "Demo ids for deploy/examples/product-launch.yaml and event-registration.yaml."
add INSTANTLY_OFFER_CAMPAIGN_ID 00000000-0000-4000-8000-000000000005
add INSTANTLY_LAUNCH_UPSELL_CAMPAIGN_ID 00000000-0000-4000-8000-000000000006
add FULFILMENT_URL https://fulfilment.invalid/hooks/hookyard
add FULFILMENT_SECRET "$(random_hex 24)"
add EVENT_STARTS_AT "$(date -u -d '+30 days' +%Y-%m-%dT17:00:00Z)" "The demo event starts 30 days after this file was made; its early bird ends after 14."
add EVENT_EARLY_BIRD_UNTIL "$(date -u -d '+14 days' +%Y-%m-%dT00:00:00Z)"
add INSTANTLY_REMINDER_CAMPAIGN_ID 00000000-0000-4000-8000-000000000007
add INSTANTLY_LAST_CALL_CAMPAIGN_ID 00000000-0000-4000-8000-000000000008
add INSTANTLY_PRE_EVENT_CAMPAIGN_ID 00000000-0000-4000-8000-000000000009
add INSTANTLY_PREPARATION_CAMPAIGN_ID 00000000-0000-4000-8000-00000000000a
add INSTANTLY_FOLLOW_UP_CAMPAIGN_ID 00000000-0000-4000-8000-00000000000b
add INSTANTLY_ONBOARDING_CAMPAIGN_ID 00000000-0000-4000-8000-00000000000c "Demo ids for deploy/examples/subscription-lifecycle.yaml; 'hookyard trigger stripe …' uses product prod_HookyardDemo01."
add INSTANTLY_DUNNING_CAMPAIGN_ID 00000000-0000-4000-8000-00000000000d
add INSTANTLY_RENEWAL_CAMPAIGN_ID 00000000-0000-4000-8000-00000000000e
add INSTANTLY_UPSELL_CAMPAIGN_ID 00000000-0000-4000-8000-00000000000f
add INSTANTLY_CANCELLATION_CAMPAIGN_ID 00000000-0000-4000-8000-000000000010
add INSTANTLY_WINBACK_CAMPAIGN_ID 00000000-0000-4000-8000-000000000011
add STRIPE_STARTER_PRODUCT_IDS prod_dry_run_starter
add STRIPE_PRO_PRODUCT_IDS prod_HookyardDemo01
