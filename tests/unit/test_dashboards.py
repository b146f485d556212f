"""The Grafana dashboards: valid JSON, known metrics only, every contract metric shown, and the
conventions of deploy/grafana/build_dashboards.py: a unit on every panel (the base currency's on
revenue), tables of several queries merged, every dashboard variable honoured, every table of
reps linked to the rep drill-down, this-period-vs-previous panels."""

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
PROMTOOL_DASHBOARD_TESTS = ROOT / "deploy" / "prometheus" / "tests" / "dashboards_test.yml"
CONTRACT = ROOT.parent / "shared" / "CONTRACT.md"

EXPECTED_DASHBOARDS = {
    "activity-overview.json",
    "performance-quota.json",
    "activity-vs-performance.json",
    "rep-drill-down.json",
    "pipeline-health.json",
}
REP_DASHBOARD = "rep-drill-down.json"

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
    "sales_kafka_last_contact_timestamp_seconds",
    "sales_store_memory_bytes",
    "sales_worker_busy_seconds_total",
    "sales_target_alerts_total",
    # contract section 8.4
    "sales_pipeline_open_amount",
    "sales_conversion_win_rate",
    "sales_retention_rate",
    "sales_customers_new",
    "sales_target_projected_ratio",
    # pipeline by stage and conversion by source (labels bounded by SALES_METRICS_MAX_BREAKDOWN)
    "sales_pipeline_stage_open_amount",
    "sales_pipeline_stage_open_count",
    "sales_conversion_source_win_rate",
    "sales_conversion_source_created",
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
#: CONTRACT.md section 8.4's gauges, as of this writing (also read from the file)
CONTRACT_SECTION_8_4 = {
    "sales_pipeline_open_amount",
    "sales_conversion_win_rate",
    "sales_retention_rate",
    "sales_customers_new",
    "sales_target_projected_ratio",
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
    "sales_pipeline_open_amount",
    "sales_conversion_win_rate",
    "sales_retention_rate",
    "sales_customers_new",
    "sales_target_projected_ratio",
    *("sales_pipeline_stage_open_amount", "sales_pipeline_stage_open_count"),
    *("sales_conversion_source_win_rate", "sales_conversion_source_created"),
}
#: the breakdown gauges -> their extra label (at most SALES_METRICS_MAX_BREAKDOWN values per
#: scope and period, the rest under "other")
BREAKDOWN_GAUGES = {
    "sales_pipeline_stage_open_amount": "stage",
    "sales_pipeline_stage_open_count": "stage",
    "sales_conversion_source_win_rate": "source",
    "sales_conversion_source_created": "source",
}

#: CONTRACT.md 8.4 gauges (the worker exports them; tests/e2e checks every panel has data)
V2_GAUGES = set(CONTRACT_SECTION_8_4)
#: amounts in the base currency
MONEY_METRICS = {
    "sales_revenue_won",
    "sales_revenue_per_activity",
    "sales_pipeline_open_amount",
    "sales_pipeline_stage_open_amount",
}

#: The labels that decide which dashboard variable applies to a series. {scope, id, period,
#: period_kind} gauges: $team applies to scope="team" (id is a team), $rep to scope="rep";
#: those with a `team` label (the worker exports it on rep-level target, revenue and deal
#: series; for scope="team" team = id) also take $team on scope="rep". The other rep-scope
#: gauges honour $team through $rep, whose values are the reps of $team (checked below).
SCOPED_GAUGES = (PERIOD_GAUGES | V2_GAUGES | {"sales_target_status"}) - {"sales_rep_quadrant"}
TEAM_LABELLED = {
    "sales_target_attainment_ratio",
    "sales_target_pace_ratio",
    "sales_target_projected_ratio",
    "sales_target_status",
    "sales_target_alerts_total",
    "sales_revenue_won",
    "sales_deals",
}
SERIES_LABELS: dict[str, set[str]] = {
    **{
        m: {"scope", "id", "period", "period_kind"}
        | ({"team"} if m in TEAM_LABELLED else set())
        | ({BREAKDOWN_GAUGES[m]} if m in BREAKDOWN_GAUGES else set())
        for m in SCOPED_GAUGES
    },
    "sales_target_alerts_total": {"scope", "id", "team", "metric", "period", "kind"},
    "sales_activities_total": {"team", "rep", "activity"},
    "sales_rep_last_activity_timestamp_seconds": {"team", "rep"},
    "sales_rep_target_active": {"team", "rep"},
    "sales_rep_quadrant": {"id", "team", "period", "period_kind", "quadrant"},  # id: a rep
    "rep:sales_inactive_business_hours": {"team", "rep"},
    "rep:sales_last_activity_timestamp_seconds:max": {"team", "rep"},
    "rep:sales_last_activity:business_seconds": {"team", "rep"},
    "team:sales_activities:rate5m": {"team"},
    "team_activity:sales_activities:rate5m": {"team", "activity"},
    "team_activity:sales_activities:increase1h": {"team", "activity"},
    "team:sales_rep_target_active:sum": {"team"},
    "team_quadrant:sales_reps:count": {"team", "period_kind", "quadrant"},
    "scope_status:sales_targets:count": {"scope", "period_kind", "status"},
}
#: series whose `id` is a rep although they have no scope label
REP_ID_SERIES = {"sales_rep_quadrant"}
#: metrics without business labels (pipeline health): no dashboard variable applies
NO_BUSINESS_LABELS = {
    "up",
    "sales_events_processed_total",
    "sales_events_rejected_total",
    "sales_events_duplicate_total",
    "sales_event_lag_seconds",
    "sales_consumer_lag_records",
    "sales_worker_info",
    "sales_kafka_last_contact_timestamp_seconds",
    "sales_store_memory_bytes",
    "sales_worker_busy_seconds_total",
}
NO_BUSINESS_RULE_LEVELS = ("topic:", "topic_reason:", "salespulse:")

#: (dashboard, panel title, variable) -> why the panel may ignore that variable. Empty: every
#: panel honours every variable that applies to its series. Keep it tiny and justified.
IGNORED_VARIABLES: dict[tuple[str, str, str], str] = {}

JOIN_TRANSFORMATIONS = {"merge", "joinByField", "seriesToColumns", "joinByLabels"}


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
    """The metrics of contract sections 7 and 8.4."""
    known = CONTRACT_SECTION_7 | CONTRACT_SECTION_8_4
    if not CONTRACT.exists():
        return known
    text = CONTRACT.read_text("utf-8")
    found = set()
    for heading in (r"^## 7\.", r"^### 8\.4 "):
        match = re.search(heading + r".*?(?=^##|\Z)", text, re.S | re.M)
        assert match, f"CONTRACT.md has no section {heading}"
        found |= set(re.findall(r"`(sales_\w+)", match.group(0)))
    return found | known


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
    assert {"datasource", "team", "rep", "period_kind", "previous_offset"} <= set(variables)
    assert variables["datasource"]["type"] == "datasource"
    for var in ("team", "rep", "previous_offset"):
        assert variables[var]["type"] == "query"
    for var in ("team", "previous_offset"):
        assert variable_query(variables[var]).startswith("label_values(")
    # every rep with a series of its own: one with only won deals has no activity series
    assert variable_query(variables["rep"]).startswith("query_result(count by (rep) (")
    assert variables["rep"]["regex"] == '/rep="([^"]+)"/'
    for source in ("last_activity_timestamp_seconds", "target_active", "quadrant"):
        assert f'sales_rep_{source}{{team=~"$team"}}' in variable_query(variables["rep"])
    assert variables["period_kind"]["query"] == "day,week,month,quarter"
    # All reps = the reps of the selected teams: that is how `id=~"$rep"` honours $team
    assert "allValue" not in variables["rep"]
    assert '{team=~"$team"}' in variable_query(variables["rep"])
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
    built = builder.build_all("USD")
    assert set(built) == EXPECTED_DASHBOARDS
    for name, board in built.items():
        assert (DASHBOARDS / name).read_text("utf-8") == builder.render(board), (
            f"{name} is out of date: run .venv/bin/python deploy/grafana/build_dashboards.py"
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
        if query.startswith("query_result("):
            used = {base_name(m) for m in panels.metric_names(query[len("query_result(") : -1])}
        else:
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


# ------------------------------------------------------------------ conventions


def variable_query(var: dict) -> str:
    query = var.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    return str(query or var.get("definition", ""))


def boards_to_lint() -> list[tuple[str, str, dict]]:
    """(build, file name, dashboard): the committed JSON, and a build the tests make in memory
    (another base currency)."""
    found = [("committed", name, board) for name, board in dashboards().items()]
    found += [("EUR", name, board) for name, board in builder.build_all("EUR").items()]
    return found


LINTED = boards_to_lint()
LINT_IDS = [f"{build}:{name}" for build, name, _ in LINTED]


def business_panels(board: dict) -> list[dict]:
    return [p for p in panels.iter_panels(board["panels"]) if p["type"] != "row"]


def selectors(expr: str) -> list[tuple[str, str]]:
    """(metric, label matchers) of every vector selector of `expr`."""
    found = []
    for name in panels.metric_names(expr):
        pattern = rf"(?<![\w:$]){re.escape(name)}(?![\w:])\s*(\{{[^}}]*\}})?"
        for match in re.finditer(pattern, expr):
            found.append((base_name(name), match.group(1) or ""))
    return found


def applicable_variables(metric: str, matchers: str) -> set[str]:
    """The dashboard variables that apply to one selector (see SERIES_LABELS)."""
    if metric in NO_BUSINESS_LABELS or metric.startswith(NO_BUSINESS_RULE_LEVELS):
        return set()
    assert metric in SERIES_LABELS, f"add {metric} to SERIES_LABELS or NO_BUSINESS_LABELS"
    labels = SERIES_LABELS[metric]
    need = {"period_kind"} & labels
    if "scope" in labels and "id" in labels:
        scope = re.search(r'\bscope\s*=\s*"(\w+)"', matchers)
        scopes = {scope.group(1)} if scope else {"rep", "team"}
        if "team" in scopes:
            need.add("team")
        if "rep" in scopes:
            need.add("rep")
            if "team" in labels:
                need.add("team")
    else:
        if "team" in labels:
            need.add("team")
        if "rep" in labels or metric in REP_ID_SERIES:
            need.add("rep")
    return need


def referenced_variables(expr: str) -> set[str]:
    return set(re.findall(r"\$\{?(\w+)", expr))


def field_units(panel: dict, ref_id: str, many: bool) -> str:
    """The unit of the values of query `ref_id`: an override of its column or frame, else the
    panel's."""
    names = {f"Value #{ref_id}"} if many else {"Value"}
    for override in panel["fieldConfig"].get("overrides", []):
        matcher = override["matcher"]
        if (matcher["id"] == "byName" and matcher.get("options") in names) or (
            matcher["id"] == "byFrameRefID" and matcher.get("options") == ref_id
        ):
            for prop in override["properties"]:
                if prop["id"] == "unit":
                    return prop["value"]
    return panel["fieldConfig"]["defaults"].get("unit", "")


def grouping_labels(expr: str) -> set[str]:
    return {
        label.strip()
        for group in re.findall(r"\bby\s*\(([^)]*)\)", expr)
        for label in group.split(",")
        if label.strip()
    }


def rep_column(panel: dict) -> str | None:
    """The column holding rep ids when a table lists reps, else None."""
    for target in panel["targets"]:
        expr = target["expr"]
        by = grouping_labels(expr)
        if "rep" in by:
            return "rep"
        sels = selectors(expr)
        scoped_to_reps = any(
            re.search(r'\bscope\s*=\s*"rep"', matchers) or metric in REP_ID_SERIES
            for metric, matchers in sels
        )
        if "id" in by and scoped_to_reps:
            return "id"
    return None


@pytest.mark.parametrize(("build", "name", "board"), LINTED, ids=LINT_IDS)
def test_every_panel_has_a_unit(build: str, name: str, board: dict) -> None:
    for panel in business_panels(board):
        assert panel["fieldConfig"]["defaults"].get("unit"), f"{name}: {panel['title']!r}"


@pytest.mark.parametrize(("build", "name", "board"), LINTED, ids=LINT_IDS)
def test_revenue_is_in_the_base_currency(build: str, name: str, board: dict) -> None:
    code = "EUR" if build == "EUR" else "USD"
    want = builder.currency_unit(code)
    for panel in business_panels(board):
        many = len(panel["targets"]) > 1
        for target in panel["targets"]:
            if {base_name(m) for m in panels.metric_names(target["expr"])} & MONEY_METRICS:
                unit = field_units(panel, target["refId"], many)
                assert unit == want, f"{name}: {panel['title']!r} {target['refId']}: {unit}"
    if code != "USD":
        assert "currencyUSD" not in json.dumps(board), name


def test_currency_units() -> None:
    assert builder.currency_unit("USD") == "currencyUSD"
    assert builder.currency_unit("eur") == "currencyEUR"
    assert builder.currency_unit("CAD") == "currency:CAD "  # no Grafana unit: custom
    with pytest.raises(ValueError):
        builder.currency_unit("EURO")


@pytest.mark.parametrize(("build", "name", "board"), LINTED, ids=LINT_IDS)
def test_tables_of_several_queries_are_joined(build: str, name: str, board: dict) -> None:
    for panel in business_panels(board):
        if panel["type"] == "table" and len(panel["targets"]) > 1:
            ids = {t["id"] for t in panel.get("transformations", [])}
            assert ids & JOIN_TRANSFORMATIONS, f"{name}: {panel['title']!r} is not merged/joined"


@pytest.mark.parametrize(("build", "name", "board"), LINTED, ids=LINT_IDS)
def test_every_panel_honours_the_dashboard_variables(build: str, name: str, board: dict) -> None:
    defined = {v["name"] for v in board["templating"]["list"]}
    for panel in business_panels(board):
        for target in panel["targets"]:
            expr = target["expr"]
            need: set[str] = set()
            for metric, matchers in selectors(expr):
                need |= applicable_variables(metric, matchers)
            missing = (need & defined) - referenced_variables(expr)
            missing = {v for v in missing if (name, panel["title"], v) not in IGNORED_VARIABLES}
            assert not missing, f"{name}: {panel['title']!r} ignores ${sorted(missing)}: {expr}"
            used = referenced_variables(expr) - {"__range", "__rate_interval", "__interval"}
            assert used <= defined, f"{name}: {panel['title']!r} uses undefined {used - defined}"


def test_ignored_variables_are_justified() -> None:
    for (name, title, var), reason in IGNORED_VARIABLES.items():
        assert len(reason) > 20, (name, title, var)
        assert name in EXPECTED_DASHBOARDS and var in {"team", "rep", "period_kind"}


def test_the_lint_sees_a_panel_that_ignores_a_variable() -> None:
    assert applicable_variables("sales_revenue_won", 'scope="rep", period_kind="month"') == {
        "team",
        "rep",
        "period_kind",
    }
    assert applicable_variables("sales_win_rate", 'scope="rep"') == {"rep", "period_kind"}
    assert applicable_variables("sales_win_rate", 'scope="team"') == {"team", "period_kind"}
    assert applicable_variables("sales_target_alerts_total", "") == {"team", "rep"}
    assert applicable_variables("sales_activities_total", 'team=~"$team"') == {"team", "rep"}
    assert applicable_variables("topic:sales_events_applied:rate5m", "") == set()
    expr = 'count by (status) (sales_target_status{scope="rep", period_kind="$period_kind"})'
    need = set().union(*(applicable_variables(m, s) for m, s in selectors(expr)))
    assert need - referenced_variables(expr) == {"team", "rep"}


@pytest.mark.parametrize(("build", "name", "board"), LINTED, ids=LINT_IDS)
def test_rep_tables_link_to_the_rep_drill_down(build: str, name: str, board: dict) -> None:
    if name == REP_DASHBOARD:
        return
    rep_uid = dashboards()[REP_DASHBOARD]["uid"]
    for panel in business_panels(board):
        if panel["type"] != "table":
            continue
        column = rep_column(panel)
        if column is None:
            continue
        urls = [
            link["url"]
            for override in panel["fieldConfig"].get("overrides", [])
            if override["matcher"] == {"id": "byName", "options": column}
            for prop in override["properties"]
            if prop["id"] == "links"
            for link in prop["value"]
        ]
        assert any(
            f"/d/{rep_uid}/" in url and f"var-rep=${{__data.fields.{column}}}" in url
            for url in urls
        ), f"{name}: table {panel['title']!r} of reps has no link to the drill-down: {urls}"


def test_the_business_dashboards_have_rep_tables() -> None:
    # so that test_rep_tables_link_to_the_rep_drill_down has something to check
    with_rep_tables = {
        name
        for name, board in dashboards().items()
        for panel in business_panels(board)
        if panel["type"] == "table" and rep_column(panel)
    }
    assert with_rep_tables == EXPECTED_DASHBOARDS - {"pipeline-health.json"}


def test_rep_drill_down_dashboard() -> None:
    board = dashboards()[REP_DASHBOARD]
    assert board["uid"] == builder.REP_DASHBOARD_UID
    assert builder.REP_DASHBOARD_URL.startswith(f"/d/{board['uid']}/")
    rep = next(v for v in board["templating"]["list"] if v["name"] == "rep")
    assert rep["includeAll"] is False  # opens on one rep; several can be picked
    exprs = [t["expr"] for p in business_panels(board) for t in p["targets"]]
    assert all('"$rep"' in e for e in exprs), "every drill-down query selects the rep"


def test_period_comparison_panels() -> None:
    compared = set()
    for name, board in dashboards().items():
        for panel in business_panels(board):
            for target in panel["targets"]:
                expr = target["expr"]
                if "offset" not in expr:
                    continue
                compared.add(name)
                # this period's series "or" the same series $previous_offset earlier
                this, previous = expr.split(" or ", 1)
                assert previous.count(" offset $previous_offset") == 1, expr
                assert previous.replace(" offset $previous_offset", "") == this, expr
                assert "period" in grouping_labels(expr), "keep each value's period id"
    assert compared == EXPECTED_DASHBOARDS - {"pipeline-health.json"}


def test_previous_offset_follows_the_period_kind() -> None:
    rules = yaml.safe_load(RECORDING_RULES.read_text("utf-8"))
    offsets = {
        rule["labels"]["period_kind"]: rule["labels"]["offset"]
        for group in rules["groups"]
        for rule in group["rules"]
        if rule.get("record") == "salespulse:previous_period_offset"
    }
    assert offsets == {"day": "1d", "week": "1w", "month": "31d", "quarter": "92d"}
    for board in dashboards().values():
        var = next(v for v in board["templating"]["list"] if v["name"] == "previous_offset")
        query = variable_query(var)
        assert "salespulse:previous_period_offset" in query and "$period_kind" in query
        assert var["hide"] == 2
    assert panels.DEFAULT_VARIABLES["previous_offset"] == offsets["month"]


def test_a_comparison_query_is_promtool_tested() -> None:
    # deploy/prometheus/tests/dashboards_test.yml runs this panel's query on synthetic series
    board = dashboards()["performance-quota.json"]
    (panel,) = [
        p
        for p in business_panels(board)
        if p["title"] == "Revenue won: this period vs the previous one, by team"
    ]
    plain = panels.substitute_variables(panel["targets"][0]["expr"])
    tested = [
        case["expr"]
        for test in yaml.safe_load(PROMTOOL_DASHBOARD_TESTS.read_text("utf-8"))["tests"]
        for case in test.get("promql_expr_test", [])
    ]
    assert plain in tested


def test_contract_8_4_panels() -> None:
    """Each 8.4 gauge has a panel per team (Performance and quota) and per rep (a table there,
    and the drill-down); where pipeline is shown, the description says where by stage is."""
    boards = dashboards()
    for name, scopes in (
        ("performance-quota.json", {"team", "rep"}),
        ("rep-drill-down.json", {"rep"}),
    ):
        shown: dict[str, set[str]] = {}
        for panel in business_panels(boards[name]):
            for target in panel["targets"]:
                for metric, matchers in selectors(target["expr"]):
                    scope = re.search(r'\bscope\s*=\s*"(\w+)"', matchers)
                    if metric in V2_GAUGES and scope:
                        shown.setdefault(metric, set()).add(scope.group(1))
            if any("sales_pipeline_open_amount" in t["expr"] for t in panel["targets"]):
                assert "by stage" in panel["description"], (name, panel["title"])
        assert shown == dict.fromkeys(V2_GAUGES, scopes), (name, shown)
        assert "by_stage" in boards[name]["description"], name
        assert "not in Prometheus" not in json.dumps(boards[name]), name


def breakdown_panel(title: str) -> dict:
    (panel,) = [
        p for p in business_panels(dashboards()["performance-quota.json"]) if p["title"] == title
    ]
    return panel


@pytest.mark.parametrize(
    ("title", "label", "units", "names"),
    [
        (
            "Pipeline by stage, by team",
            "stage",
            {"A": "currencyUSD", "B": "short"},
            {"sales_pipeline_stage_open_amount": "A", "sales_pipeline_stage_open_count": "B"},
        ),
        (
            "Conversion win rate by source, by team",
            "source",
            {"A": "percentunit", "B": "short"},
            {"sales_conversion_source_win_rate": "A", "sales_conversion_source_created": "B"},
        ),
    ],
)
def test_breakdown_panels(title: str, label: str, units: dict, names: dict) -> None:
    """Pipeline by stage and conversion by source: per team, one row per (team, stage or
    source), with their units; the description says what "other" is."""
    panel = breakdown_panel(title)
    assert panel["type"] == "table"
    used = {}
    for target in panel["targets"]:
        (metric,) = {base_name(m) for m in panels.metric_names(target["expr"])}
        used[metric] = target["refId"]
        assert grouping_labels(target["expr"]) == {"id", label}, target["expr"]
        ((_, matchers),) = selectors(target["expr"])
        assert 'scope="team"' in matchers and 'id=~"$team"' in matchers, matchers
    assert used == names
    assert {r: field_units(panel, r, True) for r in units} == units
    assert rep_column(panel) is None  # teams, not reps
    description = panel["description"]
    assert '"other"' in description and "SALES_METRICS_MAX_BREAKDOWN" in description
    assert '"unknown"' in description
    # on the pipeline/conversion row of Performance and quota
    board = dashboards()["performance-quota.json"]
    rows = [p for p in board["panels"] if p["type"] == "row"]
    above = [r for r in rows if r["gridPos"]["y"] < panel["gridPos"]["y"]]
    assert above[-1]["title"] == "Pipeline, conversion, retention and new customers"


def test_every_breakdown_gauge_is_shown_and_only_per_team() -> None:
    shown = {}
    for _, expr in panels.all_panel_exprs():
        for metric, matchers in selectors(expr):
            if metric in BREAKDOWN_GAUGES:
                scope = re.search(r'\bscope\s*=\s*"(\w+)"', matchers)
                shown.setdefault(metric, set()).add(scope.group(1) if scope else "")
    assert shown == {metric: {"team"} for metric in BREAKDOWN_GAUGES}


def test_rep_tables_of_8_4_gauges_use_their_units() -> None:
    board = dashboards()["performance-quota.json"]
    (table,) = [
        p
        for p in business_panels(board)
        if p["title"] == "Rep pipeline, conversion, retention and new customers"
    ]
    units = {t["refId"]: field_units(table, t["refId"], True) for t in table["targets"]}
    assert units == {"A": "currencyUSD", "B": "percentunit", "C": "percentunit", "D": "short"}
    assert rep_column(table) == "id"
