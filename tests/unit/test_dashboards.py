"""The Grafana dashboards: valid JSON, known metrics only, every contract metric shown."""

from __future__ import annotations

import importlib.util
import json
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = GRAFANA / "dashboards"
RECORDING_RULES = ROOT / "deploy" / "prometheus" / "recording_rules.yml"
CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"

EXPECTED_DASHBOARDS = {
    "activity-overview.json",
    "performance-quota.json",
    "activity-vs-performance.json",
    "pipeline-health.json",
}

#: what the worker exports (the metrics brief); histograms also as _bucket/_sum/_count
EXPORTED_METRICS = {
    "sales_activities_total",
    "sales_revenue_won",
    "sales_deals",
    "sales_target_attainment_ratio",
    "sales_target_pace_ratio",
    "sales_target_status",
    "sales_activities_period",
    "sales_win_rate",
    "sales_activities_per_win",
    "sales_revenue_per_activity",
    "sales_csat_avg",
    "sales_nps",
    "sales_rep_quadrant",
    "sales_rep_last_activity_timestamp_seconds",
    "sales_rep_target_active",
    "sales_events_processed_total",
    "sales_events_rejected_total",
    "sales_events_duplicate_total",
    "sales_event_lag_seconds",
    "sales_consumer_lag_records",
    "sales_worker_info",
    "sales_target_alerts_total",
}
HISTOGRAMS = {"sales_event_lag_seconds"}

#: CONTRACT.md section 7, as of this writing (the test also reads the file when it is there)
CONTRACT_SECTION_7 = {
    "sales_activities_total",
    "sales_revenue_won",
    "sales_deals",
    "sales_target_attainment_ratio",
    "sales_target_pace_ratio",
    "sales_target_status",
    "sales_events_processed_total",
    "sales_events_rejected_total",
    "sales_events_duplicate_total",
    "sales_event_lag_seconds",
    "sales_consumer_lag_records",
}

#: period gauges: a panel must pick one period kind, or day/week/month/quarter would mix
PERIOD_GAUGES = {
    "sales_revenue_won",
    "sales_deals",
    "sales_target_attainment_ratio",
    "sales_target_pace_ratio",
    "sales_activities_period",
    "sales_win_rate",
    "sales_activities_per_win",
    "sales_revenue_per_activity",
    "sales_csat_avg",
    "sales_nps",
    "sales_rep_quadrant",
}


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


panels = _load("salespulse_grafana_panels", GRAFANA / "panels.py")
builder = _load("salespulse_grafana_build", GRAFANA / "build_dashboards.py")


def recording_rule_names() -> set[str]:
    doc = yaml.safe_load(RECORDING_RULES.read_text("utf-8"))
    return {rule["record"] for group in doc["groups"] for rule in group["rules"]}


def base_name(metric: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        stem = metric.removesuffix(suffix)
        if stem != metric and stem in HISTOGRAMS:
            return stem
    return metric


def allowed_names() -> set[str]:
    return EXPORTED_METRICS | recording_rule_names() | {"up"}


def contract_metrics() -> set[str]:
    if not CONTRACT.exists():
        return set(CONTRACT_SECTION_7)
    text = CONTRACT.read_text("utf-8")
    match = re.search(r"^## 7\..*?(?=^## |\Z)", text, re.S | re.M)
    assert match, "CONTRACT.md has no section 7"
    return set(re.findall(r"`(sales_\w+)", match.group(0))) | CONTRACT_SECTION_7


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text("utf-8")) for p in sorted(DASHBOARDS.glob("*.json"))}


def test_the_four_dashboards_exist() -> None:
    assert set(dashboards()) == EXPECTED_DASHBOARDS


@pytest.mark.parametrize("name", sorted(EXPECTED_DASHBOARDS))
def test_dashboard_structure(name: str) -> None:
    board = json.loads((DASHBOARDS / name).read_text("utf-8"))
    assert board["uid"] and len(board["uid"]) <= 40
    assert board["title"]
    assert board["panels"]
    ids = [p["id"] for p in panels.iter_panels(board["panels"])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert {"datasource", "team", "rep", "period_kind"} <= set(variables)
    assert variables["datasource"]["type"] == "datasource"
    for var in ("team", "rep"):
        assert variables[var]["type"] == "query"
        assert variables[var]["definition"].startswith("label_values(")
    assert variables["period_kind"]["query"] == "day,week,month,quarter"
    for panel in panels.iter_panels(board["panels"]):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], f"panel {panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == "${datasource}"


def test_dashboard_uids_are_unique() -> None:
    uids = [board["uid"] for board in dashboards().values()]
    assert len(uids) == len(set(uids))


def test_dashboards_match_their_generator() -> None:
    for name, build in builder.DASHBOARDS.items():
        assert (DASHBOARDS / name).read_text("utf-8") == builder.render(build), (
            f"{name} is out of date: run python3 deploy/grafana/build_dashboards.py"
        )


def test_all_panel_exprs_lists_every_target() -> None:
    exprs = panels.all_panel_exprs()
    assert {name for name, _ in exprs} == EXPECTED_DASHBOARDS
    count = sum(
        len(p.get("targets", []))
        for board in dashboards().values()
        for p in panels.iter_panels(board["panels"])
    )
    assert len(exprs) == count
    assert all(isinstance(e, str) and e for _, e in exprs)


def test_exprs_reference_only_known_metrics() -> None:
    allowed = allowed_names()
    for name, expr in panels.all_panel_exprs():
        used = {base_name(m) for m in panels.metric_names(expr)}
        assert used, f"{name}: no metric in {expr!r}"
        unknown = used - allowed
        assert not unknown, f"{name}: unknown metric(s) {sorted(unknown)} in {expr!r}"


def test_variable_queries_reference_known_metrics() -> None:
    allowed = allowed_names()
    for name, var, query in panels.all_variable_queries():
        used = set(re.findall(r"label_values\(\s*([A-Za-z_:][\w:]*)", query))
        assert used and used <= allowed, f"{name} ${var}: {query!r}"


def test_every_contract_metric_is_on_a_dashboard() -> None:
    shown = {base_name(m) for _, e in panels.all_panel_exprs() for m in panels.metric_names(e)}
    missing = contract_metrics() - shown
    assert not missing, f"CONTRACT section 7 metrics without a panel: {sorted(missing)}"


def test_every_exported_metric_is_on_a_dashboard() -> None:
    shown = {base_name(m) for _, e in panels.all_panel_exprs() for m in panels.metric_names(e)}
    assert EXPORTED_METRICS - shown == set()
    assert "up" in shown


def test_period_gauges_select_a_period_kind() -> None:
    for name, expr in panels.all_panel_exprs():
        if panels.metric_names(expr) & PERIOD_GAUGES:
            assert 'period_kind="$period_kind"' in expr, f"{name}: {expr!r}"


def test_activity_counter_is_aggregated_by_team_not_rep_only() -> None:
    # works with SALES_METRICS_REP_LABEL=false: rep filters only where a rep panel needs them
    for name, expr in panels.all_panel_exprs():
        if "sales_activities_total" in panels.metric_names(expr):
            assert re.search(r"\b(sum|count)\b", expr), f"{name}: {expr!r}"


def test_substitute_variables_yields_plain_promql() -> None:
    for _, expr in panels.all_panel_exprs():
        plain = panels.substitute_variables(expr)
        assert "$" not in plain, plain
    assert panels.substitute_variables('x{team=~"$team"}[$__rate_interval]') == (
        'x{team=~".*"}[5m]'
    )
    assert panels.substitute_variables("${period_kind}", {"period_kind": "day"}) == "day"


def test_metric_names_lexer() -> None:
    expr = (
        'sum by (team) (rate(a_total{x="y(z)"}[5m] offset 1h)) / on (team) group_left (b) '
        "b:rule:rate5m > bool 1e3 and histogram_quantile(0.9, c_bucket) unless nan"
    )
    assert panels.metric_names(expr) == {"a_total", "b:rule:rate5m", "c_bucket"}


def test_datasource_provisioning_matches_dashboards() -> None:
    doc = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text("utf-8")
    )
    (source,) = doc["datasources"]
    assert source["type"] == "prometheus"
    for board in dashboards().values():
        var = next(v for v in board["templating"]["list"] if v["name"] == "datasource")
        assert var["current"]["value"] == source["uid"]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "dashboards.yml").read_text("utf-8")
    )["providers"][0]
    assert provider["type"] == "file"
    assert provider["options"]["path"]
