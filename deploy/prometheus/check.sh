#!/usr/bin/env bash
# Static checks of the monitoring configuration (`make promtool-check`):
#   promtool check config / check rules / test rules   (Prometheus config, rules, unit tests)
#   promtool check rules on every Grafana panel expression (PromQL syntax)
#   amtool check-config + routing checks                 (Alertmanager), when amtool exists
# promtool comes from Debian's `prometheus` package, amtool from `prometheus-alertmanager`
# (.ci/system-deps.sh installs both).
set -euo pipefail

if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool is missing: install Debian's 'prometheus' package (apt-get install prometheus)," \
        "e.g. with 'make system-deps' (.ci/system-deps.sh)" >&2
    exit 1
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
deploy="$(dirname "$here")"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "== promtool check config"
promtool check config "$here/prometheus.yml"

echo "== promtool check rules"
promtool check rules "$here/recording_rules.yml" "$here/alert_rules.yml"

echo "== promtool test rules"
promtool test rules "$here"/tests/*.yml

echo "== Grafana panel expressions (PromQL syntax)"
python3 "$deploy/grafana/build_dashboards.py" --check
python3 "$deploy/grafana/panels.py" --rules-file "$tmp/dashboard_exprs.yml"
promtool check rules "$tmp/dashboard_exprs.yml"

am_config="$deploy/alertmanager/alertmanager.yml"
if command -v amtool >/dev/null 2>&1; then
    echo "== amtool check-config"
    amtool check-config "$am_config"
    echo "== amtool routing"
    route() { # expected receiver, then labels
        local want="$1"
        shift
        amtool config routes test --config.file="$am_config" --verify.receivers="$want" "$@" \
            2>/dev/null >/dev/null || {
            echo "routing: labels '$*' do not reach receiver '$want'" >&2
            exit 1
        }
        echo "  $* -> $want"
    }
    route pager alertname=StreamProcessorDown severity=page
    route ticket alertname=ConsumerLagHigh severity=ticket
    route ticket alertname=SalesTargetAtRisk severity=ticket
    route default alertname=RepInactive severity=info
    route default alertname=Unlabelled
else
    echo "== amtool is missing (Debian package prometheus-alertmanager): Alertmanager config not checked"
fi

echo "all monitoring checks passed"
