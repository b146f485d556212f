#!/usr/bin/env bash
# Static checks of the monitoring configuration (`make promtool-check`):
#   promtool check config / check rules / test rules   (Prometheus config, rules, unit tests)
#   promtool check rules on every Grafana panel expression (PromQL syntax)
#   promtool check config on the Kubernetes scrape example (deploy/kubernetes/monitoring/)
#   amtool check-config, routing checks, template rendering (Alertmanager)
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

echo "== Grafana dashboards: committed JSON = generator output (USD)"
# build_dashboards.py needs grafana-foundation-sdk (the `test` extra of pyproject.toml: the venv)
py="$(dirname "$deploy")/.venv/bin/python"
[[ -x "$py" ]] || py=python3
if "$py" -c "import grafana_foundation_sdk" 2>/dev/null; then
    "$py" "$deploy/grafana/build_dashboards.py" --check --currency USD
else
    echo "  skipped: grafana-foundation-sdk is not installed for $py (make install);" \
        "tests/unit/test_dashboards.py makes the same check"
fi

echo "== Grafana panel expressions (PromQL syntax)"
python3 "$deploy/grafana/panels.py" --rules-file "$tmp/dashboard_exprs.yml"
promtool check rules "$tmp/dashboard_exprs.yml"

echo "== promtool check config (Kubernetes scrape example)"
k8s_prom="$deploy/kubernetes/monitoring/prometheus-kubernetes-sd.yml"
if promtool check config "$k8s_prom" >"$tmp/k8s_prom.log" 2>&1; then
    cat "$tmp/k8s_prom.log"
elif grep -q "field kubernetes_sd_configs not found" "$tmp/k8s_prom.log"; then
    # Debian builds Prometheus without Kubernetes service discovery: check everything else
    # (relabelling included) with the kubernetes_sd_configs block replaced by a static target.
    echo "  this promtool has no kubernetes_sd_configs (Debian's build):" \
        "checking the rest with a static target in its place"
    awk '
        skip && match($0, /^ */) && RLENGTH > indent { next }
        { skip = 0 }
        /^ *kubernetes_sd_configs:/ {
            match($0, /^ */); indent = RLENGTH; skip = 1
            printf "%*sstatic_configs:\n%*s  - targets: [\"salespulse-0:6066\"]\n", indent, "", indent, ""
            next
        }
        { print }
    ' "$k8s_prom" >"$tmp/prometheus-kubernetes-sd.yml"
    grep -q "static_configs" "$tmp/prometheus-kubernetes-sd.yml"
    promtool check config "$tmp/prometheus-kubernetes-sd.yml"
else
    cat "$tmp/k8s_prom.log" >&2
    exit 1
fi

if ! command -v amtool >/dev/null 2>&1; then
    echo "amtool is missing: install Debian's 'prometheus-alertmanager' package," \
        "e.g. with 'make system-deps' (.ci/system-deps.sh)" >&2
    exit 1
fi
am_dir="$deploy/alertmanager"
am_config="$am_dir/alertmanager.yml"

echo "== amtool check-config (configuration and templates/*.tmpl)"
amtool check-config "$am_config"

echo "== amtool routing"
route() { # expected receiver(s), comma-separated, then labels
    local want="$1"
    shift
    amtool config routes test --config.file="$am_config" --verify.receivers="$want" "$@" \
        2>/dev/null >/dev/null || {
        echo "routing: labels '$*' do not reach exactly '$want'" >&2
        exit 1
    }
    echo "  $* -> $want"
}
# the stream processor: by severity
route pager alertname=StreamProcessorDown category=pipeline severity=page
route pager alertname=KafkaUnreachable category=pipeline severity=page instance=w1:6066
route ticket alertname=ConsumerLagHigh category=pipeline severity=ticket
route ticket alertname=DeadLetterRateHigh category=pipeline severity=ticket
route default alertname=SomePipelineInfo category=pipeline severity=info
# sales performance: the listed teams get Slack or e-mail, the others by severity
route sales-slack alertname=SalesTargetAtRisk category=business severity=ticket team=t-enterprise
route sales-slack alertname=RepInactive category=business severity=info team=t-midmarket rep=r1
route sales-email alertname=SalesTargetMissed category=business severity=info team=t-emea
route sales-email alertname=SalesTargetAtRisk category=business severity=ticket team=t-apac
route ticket alertname=SalesTargetAtRisk category=business severity=ticket team=north
route default alertname=SalesTargetMissed category=business severity=info team=south
route default alertname=RepInactive category=business severity=info team=north rep=r2
route ticket alertname=SalesTargetAtRisk category=business severity=ticket
# the team routes are anchored regular expressions: no partial matches
route ticket alertname=SalesTargetAtRisk category=business severity=ticket team=t-enterprise2
# no category: by severity
route pager alertname=Uncategorised severity=page
route ticket alertname=Uncategorised severity=ticket
route default alertname=Unlabelled

echo "== amtool template render (templates/*.tmpl with tests/*.json)"
render() { # template type, template name, data file -> the text on stdout
    amtool template render --template.type="$1" --template.glob="$am_dir/templates/*.tmpl" \
        --template.data="$3" --template.text="{{ template \"$2\" . }}"
}
for data in "$am_dir"/tests/*.json; do
    for name in salespulse.slack.title salespulse.slack.title_link salespulse.slack.text \
        salespulse.slack.color salespulse.email.to salespulse.email.subject salespulse.email.text; do
        render text "$name" "$data" >"$tmp/rendered.txt" || {
            echo "template $name fails on $(basename "$data")" >&2
            exit 1
        }
        [[ -s "$tmp/rendered.txt" ]] || {
            echo "template $name renders nothing for $(basename "$data")" >&2
            exit 1
        }
    done
    render html salespulse.email.html "$data" >"$tmp/rendered.html"
    echo "  $(basename "$data"): every template renders"
done
# A rep's at-risk notification names the rep, the team, the target metric, attainment and pace,
# and links to the rep's drill-down dashboard and to the runbook.
at_risk="$am_dir/tests/at_risk.json"
for name in salespulse.slack.text salespulse.email.text; do
    text="$(render text "$name" "$at_risk")"
    for want in 'ana lee' 'enterprise' 'revenue_won' 'Attainment' '25%' 'pace 50%' \
        '/d/salespulse-rep/salespulse-rep-drill-down?var-rep=ana+lee&var-team=enterprise' \
        'README.md#salestargetatrisk'; do
        [[ "$text" == *"$want"* ]] || {
            echo "$name of $(basename "$at_risk") lacks '$want':" >&2
            echo "$text" >&2
            exit 1
        }
    done
    echo "  $name names the rep, metric, attainment, dashboard and runbook"
done

echo "all monitoring checks passed"
