"""Generate the salespulse Grafana dashboards (dashboards/*.json).

The JSON files are committed; edit this script and run it to change them:

    python3 deploy/grafana/build_dashboards.py          # rewrite dashboards/*.json
    python3 deploy/grafana/build_dashboards.py --check  # exit 1 if a file is out of date

Every panel's PromQL is in targets[].expr. Gauges are reduced with `max by (...)` (a scope can
be reported by two workers during a rebalance), counters with `sum by (team, ...)` so that the
panels work with and without the rep label (SALES_METRICS_REP_LABEL=false).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent / "dashboards"
DS = {"type": "prometheus", "uid": "${datasource}"}
TEAM = 'team=~"$team"'
REP = 'rep=~"$rep"'
PK = 'period_kind="$period_kind"'


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self) -> None:
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, w: int, h: int) -> dict[str, int]:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title: str) -> dict[str, Any]:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        panel = {
            "id": self._id(),
            "type": "row",
            "title": title,
            "collapsed": False,
            "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1},
            "panels": [],
        }
        self.y += 1
        return panel

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def panel(
        self,
        kind: str,
        title: str,
        targets: list[tuple[str, str]],
        *,
        w: int = 12,
        h: int = 8,
        unit: str | None = None,
        description: str = "",
        instant: bool = False,
        options: dict[str, Any] | None = None,
        transformations: list[dict[str, Any]] | None = None,
        thresholds: list[tuple[float | None, str]] | None = None,
    ) -> dict[str, Any]:
        defaults: dict[str, Any] = {}
        if unit:
            defaults["unit"] = unit
        if thresholds:
            defaults["thresholds"] = {
                "mode": "absolute",
                "steps": [{"value": v, "color": c} for v, c in thresholds],
            }
        panel: dict[str, Any] = {
            "id": self._id(),
            "type": kind,
            "title": title,
            "description": description,
            "datasource": DS,
            "gridPos": self.place(w, h),
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": options or {},
            "targets": [
                {
                    "refId": chr(ord("A") + i),
                    "datasource": DS,
                    "expr": expr,
                    "legendFormat": legend,
                    "instant": instant or kind in ("table", "bargauge", "piechart"),
                    "range": not (instant or kind in ("table", "bargauge", "piechart")),
                    **({"format": "table"} if kind == "table" else {}),
                }
                for i, (expr, legend) in enumerate(targets)
            ],
        }
        if transformations:
            panel["transformations"] = transformations
        return panel


def variables(hide_business: bool = False) -> list[dict[str, Any]]:
    hide = 2 if hide_business else 0

    def query_var(name: str, label: str, query: str, all_value: str | None) -> dict[str, Any]:
        var: dict[str, Any] = {
            "type": "query",
            "name": name,
            "label": label,
            "datasource": DS,
            "definition": query,
            "query": {"query": query, "refId": f"{name}-variable"},
            "refresh": 2,
            "multi": True,
            "includeAll": True,
            "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
            "sort": 1,
            "hide": hide,
            "regex": "",
        }
        if all_value is not None:
            var["allValue"] = all_value
        return var

    return [
        {
            "type": "datasource",
            "name": "datasource",
            "label": "Data source",
            "query": "prometheus",
            "current": {"selected": True, "text": "Prometheus", "value": "prometheus"},
            "hide": 0,
            "regex": "",
        },
        # ".*" also matches series without a rep label (SALES_METRICS_REP_LABEL=false)
        query_var("team", "Team", "label_values(sales_activities_total, team)", ".*"),
        # no custom "All" value: All means the reps of the selected teams. With
        # SALES_METRICS_REP_LABEL=false the worker exports no per-rep series at all, so this
        # list is empty and the rep panels stay empty (team panels are unaffected).
        query_var(
            "rep",
            "Rep",
            'label_values(sales_rep_last_activity_timestamp_seconds{team=~"$team"}, rep)',
            None,
        ),
        {
            "type": "custom",
            "name": "period_kind",
            "label": "Period",
            "query": "day,week,month,quarter",
            "current": {"selected": True, "text": "month", "value": "month"},
            "options": [
                {"text": k, "value": k, "selected": k == "month"}
                for k in ("day", "week", "month", "quarter")
            ],
            "multi": False,
            "includeAll": False,
            "hide": hide,
        },
    ]


def dashboard(
    uid: str, title: str, description: str, panels: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["salespulse"],
        "timezone": "browser",
        "editable": True,
        "graphTooltip": 1,
        "refresh": "30s",
        "schemaVersion": 39,
        "version": 1,
        "time": {"from": kw.get("time_from", "now-6h"), "to": "now"},
        "templating": {"list": variables(kw.get("hide_business", False))},
        "annotations": {"list": []},
        "links": [
            {
                "type": "dashboards",
                "tags": ["salespulse"],
                "asDropdown": True,
                "title": "salespulse",
                "includeVars": True,
                "keepTime": True,
            }
        ],
        "panels": panels,
    }


def activity_overview() -> dict[str, Any]:
    lay = Layout()
    p = [
        lay.row("Activity volume"),
        lay.panel(
            "stat",
            "Activities in the time range",
            [(f"sum(increase(sales_activities_total{{{TEAM}}}[$__range]))", "activities")],
            w=6,
            h=6,
            instant=True,
            unit="short",
        ),
        lay.panel(
            "stat",
            "Activity rate (per minute)",
            [(f"sum(team:sales_activities:rate5m{{{TEAM}}}) * 60", "per minute")],
            w=6,
            h=6,
            unit="short",
        ),
        lay.panel(
            "bargauge",
            "Activities this period, by team",
            [
                (
                    f'max by (id) (sales_activities_period{{scope="team", id=~"$team", {PK}}})',
                    "{{id}}",
                )
            ],
            w=12,
            h=6,
            description="activities.total of the current $period_kind per team",
            options={"orientation": "horizontal", "displayMode": "gradient"},
        ),
        lay.panel(
            "timeseries",
            "Activity rate by type",
            [
                (
                    f"sum by (activity) (rate(sales_activities_total{{{TEAM}}}[$__rate_interval]))"
                    " * 60",
                    "{{activity}}",
                )
            ],
            unit="short",
            description="Activities per minute by type, selected teams",
        ),
        lay.panel(
            "timeseries",
            "Activity rate by team",
            [(f"sum by (team) (team:sales_activities:rate5m{{{TEAM}}}) * 60", "{{team}}")],
            unit="short",
            description="Activities per minute (recording rule team:sales_activities:rate5m)",
        ),
        lay.panel(
            "table",
            "Activity mix per team, last hour",
            [
                (
                    "sum by (team, activity) "
                    f"(team_activity:sales_activities:increase1h{{{TEAM}}})",
                    "",
                )
            ],
            w=24,
            transformations=[
                {
                    "id": "groupingToMatrix",
                    "options": {
                        "columnField": "activity",
                        "rowField": "team",
                        "valueField": "Value",
                    },
                }
            ],
        ),
        lay.row("Reps"),
        lay.panel(
            "table",
            "Top reps by activities this period",
            [
                (
                    f'topk(25, max by (id) (sales_activities_period{{scope="rep", id=~"$rep", '
                    f"{PK}}}))",
                    "",
                )
            ],
            description="activities.total of the current $period_kind (needs the rep label)",
        ),
        lay.panel(
            "timeseries",
            "Activity rate by rep and type",
            [
                (
                    f"sum by (rep, activity) (rate(sales_activities_total{{{TEAM}, {REP}}}"
                    "[$__rate_interval])) * 60",
                    "{{rep}} {{activity}}",
                )
            ],
            unit="short",
        ),
        lay.panel(
            "table",
            "Time since last activity",
            [
                (
                    "time() - max by (team, rep) "
                    f"(sales_rep_last_activity_timestamp_seconds{{{TEAM}, {REP}}})",
                    "",
                )
            ],
            unit="s",
            description="Wall-clock time since each rep's latest applied activity (event time)",
        ),
        lay.panel(
            "table",
            "Business hours without activity (reps with a target)",
            [
                (
                    f"rep:sales_inactive_business_hours{{{TEAM}, {REP}}}"
                    " and on (rep) (max by (rep) (sales_rep_target_active) == 1)",
                    "",
                )
            ],
            unit="h",
            description="Mon-Fri 09:00-17:00 UTC; RepInactive fires above "
            "salespulse:rep_inactive_threshold_business_hours",
            thresholds=[(None, "green"), (4, "red")],
        ),
    ]
    return dashboard(
        "salespulse-activity",
        "salespulse / Activity overview",
        "What reps do: calls, emails, meetings, demos, ... by team, rep and type",
        p,
    )


def performance_quota() -> dict[str, Any]:
    lay = Layout()
    team_sel = f'scope="team", id=~"$team", {PK}'
    rep_sel = f'scope="rep", id=~"$rep", {PK}'
    p = [
        lay.row("Teams"),
        lay.panel(
            "bargauge",
            "Revenue won this period, by team",
            [(f"max by (id) (sales_revenue_won{{{team_sel}}})", "{{id}}")],
            unit="currencyUSD",
            description="deals.revenue_won in the base currency (SALES_BASE_CURRENCY)",
            options={"orientation": "horizontal", "displayMode": "gradient"},
        ),
        lay.panel(
            "timeseries",
            "Deals won and lost, by team",
            [(f"max by (id, outcome) (sales_deals{{{team_sel}}})", "{{id}} {{outcome}}")],
            unit="short",
        ),
        lay.panel(
            "bargauge",
            "Target attainment, by team",
            [
                (
                    f"max by (id, metric) (sales_target_attainment_ratio{{{team_sel}}})",
                    "{{id}} {{metric}}",
                )
            ],
            unit="percentunit",
            options={"orientation": "horizontal", "displayMode": "lcd"},
            thresholds=[(None, "red"), (0.8, "orange"), (1, "green")],
        ),
        lay.panel(
            "timeseries",
            "Target pace, by team",
            [
                (
                    f"max by (id, metric) (sales_target_pace_ratio{{{team_sel}}})",
                    "{{id}} {{metric}}",
                )
            ],
            unit="percentunit",
            description="actual / expected_by_now; below SALES_AT_RISK_PACE (0.8) is at risk",
            thresholds=[(None, "red"), (0.8, "orange"), (1, "green")],
        ),
        lay.row("Reps"),
        lay.panel(
            "table",
            "Rep attainment and pace",
            [
                (f"max by (id, metric) (sales_target_attainment_ratio{{{rep_sel}}})", "attainment"),
                (f"max by (id, metric) (sales_target_pace_ratio{{{rep_sel}}})", "pace"),
            ],
            w=16,
            unit="percentunit",
            transformations=[{"id": "merge", "options": {}}],
            thresholds=[(None, "red"), (0.8, "orange"), (1, "green")],
        ),
        lay.panel(
            "piechart",
            "Rep targets by status",
            [
                (
                    f'count by (status) (sales_target_status{{scope="rep", {PK}}} == 1)',
                    "{{status}}",
                )
            ],
            w=8,
        ),
        lay.panel(
            "table",
            "Targets behind or at risk",
            [
                (
                    "max by (scope, id, metric, period) "
                    f'(sales_target_status{{status=~"behind|at_risk", {PK}}}) == 1',
                    "",
                )
            ],
            w=16,
        ),
        lay.panel(
            "bargauge",
            "Reps with an active target, by team",
            [(f"team:sales_rep_target_active:sum{{{TEAM}}}", "{{team}}")],
            w=8,
            options={"orientation": "horizontal"},
        ),
        lay.panel(
            "table",
            "Rep revenue won and deals this period",
            [
                (f"max by (id) (sales_revenue_won{{{rep_sel}}})", "revenue"),
                (f"max by (id, outcome) (sales_deals{{{rep_sel}}})", "{{outcome}}"),
            ],
            w=24,
        ),
        lay.panel(
            "timeseries",
            "Target statuses over time",
            [(f"scope_status:sales_targets:count{{{PK}}}", "{{scope}} {{status}}")],
            w=24,
        ),
        lay.row("Target alerts (sales.alerts)"),
        lay.panel(
            "bargauge",
            "Target alerts emitted, by kind",
            [
                (
                    "sum by (kind) "
                    "(max by (scope, id, metric, period, kind) (sales_target_alerts_total))",
                    "{{kind}}",
                )
            ],
            w=8,
            description="Alerts the workers emitted on sales.alerts since they started "
            "(sales_target_alerts_total; each is emitted once per target and period)",
            options={"orientation": "horizontal"},
        ),
        lay.panel(
            "table",
            "Target alerts emitted",
            [
                (
                    "max by (kind, scope, id, metric, period) (sales_target_alerts_total)",
                    "",
                )
            ],
            w=16,
            description="One row per alert on sales.alerts since the workers started; "
            "SalesTargetMissed fires for an hour after a target_missed row appears",
        ),
    ]
    return dashboard(
        "salespulse-performance",
        "salespulse / Performance and quota",
        "Revenue, deals and target attainment/pace per team and rep, current period",
        p,
    )


def activity_vs_performance() -> dict[str, Any]:
    lay = Layout()
    team_sel = f'scope="team", id=~"$team", {PK}'
    rep_sel = f'scope="rep", id=~"$rep", {PK}'
    p = [
        lay.row("Efficiency by team"),
        lay.panel(
            "bargauge",
            "Win rate",
            [(f"max by (id) (sales_win_rate{{{team_sel}}})", "{{id}}")],
            w=8,
            unit="percentunit",
            options={"orientation": "horizontal"},
        ),
        lay.panel(
            "bargauge",
            "Activities per win",
            [(f"max by (id) (sales_activities_per_win{{{team_sel}}})", "{{id}}")],
            w=8,
            options={"orientation": "horizontal"},
        ),
        lay.panel(
            "bargauge",
            "Revenue per activity",
            [(f"max by (id) (sales_revenue_per_activity{{{team_sel}}})", "{{id}}")],
            w=8,
            unit="currencyUSD",
            options={"orientation": "horizontal"},
        ),
        lay.panel(
            "timeseries",
            "Activities vs revenue won, by team",
            [
                (f"max by (id) (sales_activities_period{{{team_sel}}})", "{{id}} activities"),
                (f"max by (id) (sales_revenue_won{{{team_sel}}})", "{{id}} revenue"),
            ],
            description="activities.total and revenue_won (base currency) of the current "
            "$period_kind; a team whose activities climb while revenue stays flat converts poorly",
        ),
        lay.panel(
            "timeseries",
            "Customer satisfaction",
            [
                (f"max by (id) (sales_csat_avg{{{team_sel}}})", "{{id}} CSAT (1-5)"),
                (f"max by (id) (sales_nps{{{team_sel}}})", "{{id}} NPS (-100..100)"),
            ],
        ),
        lay.row("Quadrants (reps)"),
        lay.panel(
            "piechart",
            "Reps per quadrant",
            [
                (
                    f"sum by (quadrant) (team_quadrant:sales_reps:count{{{TEAM}, {PK}}})",
                    "{{quadrant}}",
                )
            ],
            w=8,
            description="Activity level vs revenue level against the team median",
        ),
        lay.panel(
            "table",
            "Rep quadrant",
            [
                (
                    "max by (team, id, quadrant) "
                    f'(sales_rep_quadrant{{{TEAM}, id=~"$rep", {PK}}}) == 1',
                    "",
                )
            ],
            w=16,
        ),
        lay.panel(
            "table",
            "Rep efficiency",
            [
                (f"max by (id) (sales_activities_period{{{rep_sel}}})", "activities"),
                (f"max by (id) (sales_revenue_won{{{rep_sel}}})", "revenue won"),
                (f"max by (id) (sales_win_rate{{{rep_sel}}})", "win rate"),
                (f"max by (id) (sales_activities_per_win{{{rep_sel}}})", "activities per win"),
                (f"max by (id) (sales_revenue_per_activity{{{rep_sel}}})", "revenue/activity"),
                (f"max by (id) (sales_csat_avg{{{rep_sel}}})", "CSAT"),
                (f"max by (id) (sales_nps{{{rep_sel}}})", "NPS"),
            ],
            w=24,
            h=10,
            transformations=[{"id": "merge", "options": {}}],
        ),
    ]
    return dashboard(
        "salespulse-activity-vs-performance",
        "salespulse / Activity vs performance",
        "Efficiency (activities per win, revenue per activity, win rate), satisfaction and "
        "the activity/performance quadrants",
        p,
    )


def pipeline_health() -> dict[str, Any]:
    lay = Layout()
    p = [
        lay.row("Workers"),
        lay.panel(
            "stat",
            "Workers up",
            [('sum(up{job="salespulse"})', "up")],
            w=6,
            h=6,
            thresholds=[(None, "red"), (1, "green")],
        ),
        lay.panel(
            "table",
            "Workers",
            [
                ('max by (instance) (up{job="salespulse"})', "up"),
                ("max by (instance, worker, version) (sales_worker_info)", "info"),
            ],
            w=18,
            h=6,
        ),
        lay.row("Throughput"),
        lay.panel(
            "timeseries",
            "Records read per second, by topic (valid, rejected and duplicates)",
            [
                (
                    "sum by (topic) (rate(sales_events_processed_total[$__rate_interval]))",
                    "{{topic}}",
                )
            ],
            unit="ops",
            description="sales_events_processed_total counts every input record read",
        ),
        lay.panel(
            "timeseries",
            "Events applied per second, by topic",
            [("topic:sales_events_applied:rate5m", "{{topic}}")],
            unit="ops",
            description="read - rejected - duplicates "
            "(recording rule topic:sales_events_applied:rate5m)",
        ),
        lay.panel(
            "timeseries",
            "Rejected (dead-lettered) per second, by reason",
            [
                (
                    "sum by (topic, reason) (rate(sales_events_rejected_total[$__rate_interval]))",
                    "{{topic}} {{reason}}",
                )
            ],
            unit="ops",
        ),
        lay.panel(
            "timeseries",
            "Reject ratio, by topic",
            [("topic:sales_events_reject_ratio:rate5m", "{{topic}}")],
            unit="percentunit",
            thresholds=[(None, "green"), (0.05, "red")],
        ),
        lay.panel(
            "timeseries",
            "Duplicates per second, by topic",
            [
                (
                    "sum by (topic) (rate(sales_events_duplicate_total[$__rate_interval]))",
                    "{{topic}}",
                )
            ],
            unit="ops",
        ),
        lay.panel(
            "stat",
            "Rejects in the time range, by reason",
            [
                (
                    "sum by (reason) (increase(sales_events_rejected_total[$__range]))",
                    "{{reason}}",
                )
            ],
            instant=True,
        ),
        lay.row("Lag"),
        lay.panel(
            "timeseries",
            "Event lag quantiles (applied time - event time)",
            [
                (
                    f"histogram_quantile({q}, sum by (le) "
                    "(rate(sales_event_lag_seconds_bucket[$__rate_interval])))",
                    f"p{int(q * 100)}",
                )
                for q in (0.5, 0.9, 0.99)
            ],
            unit="s",
        ),
        lay.panel(
            "timeseries",
            "Mean event lag",
            [
                (
                    "sum(rate(sales_event_lag_seconds_sum[$__rate_interval])) / "
                    "sum(rate(sales_event_lag_seconds_count[$__rate_interval]))",
                    "mean",
                )
            ],
            unit="s",
        ),
        lay.panel(
            "timeseries",
            "Consumer lag (records), by topic",
            [("topic:sales_consumer_lag_records:sum", "{{topic}}")],
            unit="short",
            thresholds=[(None, "green"), (10000, "red")],
        ),
        lay.panel(
            "timeseries",
            "Consumer lag (records), by partition",
            [
                (
                    "max by (topic, partition) (sales_consumer_lag_records)",
                    "{{topic}}[{{partition}}]",
                )
            ],
            unit="short",
        ),
    ]
    return dashboard(
        "salespulse-pipeline",
        "salespulse / Pipeline health",
        "Throughput, rejects, duplicates, event lag, consumer lag and workers",
        p,
        time_from="now-3h",
        hide_business=True,
    )


DASHBOARDS = {
    "activity-overview.json": activity_overview,
    "performance-quota.json": performance_quota,
    "activity-vs-performance.json": activity_vs_performance,
    "pipeline-health.json": pipeline_health,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the salespulse dashboards")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = []
    for name, build in DASHBOARDS.items():
        path = OUT / name
        text = render(build)
        if args.check:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, "utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python3 {__file__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
