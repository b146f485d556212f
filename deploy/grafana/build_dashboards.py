"""Generate the salespulse Grafana dashboards (dashboards/*.json) with grafana-foundation-sdk.

The JSON files are committed (base currency USD); edit this script and run it to change them:

    .venv/bin/python deploy/grafana/build_dashboards.py           # rewrite dashboards/*.json
    .venv/bin/python deploy/grafana/build_dashboards.py --check   # exit 1 if a file is stale
    .venv/bin/python deploy/grafana/build_dashboards.py --currency EUR --out /srv/dashboards

grafana-foundation-sdk (PyPI; pinned in the `test` extra of pyproject.toml, built for the Grafana
version of deploy/docker-compose.yml) provides the typed builders. Revenue panels use the
Grafana unit of the base currency: --currency, default $SALES_BASE_CURRENCY, else USD (the
committed files).

Pipeline by stage and conversion by source (pipeline.by_stage, conversion.by_source) are on
Performance and quota per team: stages and sources are free text from the input, so the
worker exports at most SALES_METRICS_MAX_BREAKDOWN of them per scope and period
(sales_pipeline_stage_open_*{stage}, sales_conversion_source_*{source}) and sums the rest
under "other" (see streams/worker/metrics.py); the panels' descriptions say so.

Conventions (tests/unit/test_dashboards.py checks them): every panel has a unit; a table with
more than one query merges them; every query references each dashboard variable that applies
to its series ($team, $rep, $period_kind); every table of reps links to the rep drill-down.
Gauges are reduced with `max by (...)` (a scope can be reported by two workers during a
rebalance), counters with `sum by (team, ...)` and `rep=~"${rep}|"` so that the team panels
also work without the rep label (SALES_METRICS_REP_LABEL=false exports rep="").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import bargauge, piechart, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as db
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models import prometheus as pm

OUT = Path(__file__).resolve().parent / "dashboards"
DS = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")

#: selectors (Grafana variables are interpolated by Grafana, not by Python)
TEAM = 'team=~"$team"'
REP = 'rep=~"$rep"'
#: the activity counter of team panels: the selected reps, and rep="" (rep label off)
REP_OR_NONE = 'rep=~"${rep}|"'
PK = 'period_kind="$period_kind"'
TEAM_SCOPE = f'scope="team", id=~"$team", {PK}'
#: rep-scope gauges that carry the rep's `team` label (sales_revenue_won, sales_deals,
#: sales_target_*) and those that do not (filtered through $rep, which lists the reps of $team)
REP_SCOPE = f'scope="rep", {TEAM}, id=~"$rep", {PK}'
REP_SCOPE_NO_TEAM = f'scope="rep", id=~"$rep", {PK}'
PREVIOUS = "offset $previous_offset"
WON = 'outcome="won"'

REP_DASHBOARD_UID = "salespulse-rep"
REP_DASHBOARD_URL = f"/d/{REP_DASHBOARD_UID}/salespulse-rep-drill-down"

#: ISO 4217 codes with a Grafana currency unit (currency<CODE>); others get a custom unit
GRAFANA_CURRENCIES = frozenset(
    {
        *("USD", "GBP", "EUR", "JPY", "RUB", "UAH", "BRL", "DKK", "ISK", "NOK", "SEK", "CZK"),
        *("CHF", "PLN", "ZAR", "INR", "KRW", "IDR", "PHP", "VND", "TRY", "MYR", "XPF", "BGN"),
        *("PYG", "UYU", "ILS"),
    }
)

RATIO_STEPS = [(None, "red"), (0.8, "orange"), (1.0, "green")]

#: where pipeline by stage is, in the description of the dashboards showing pipeline
BY_STAGE = (
    "Pipeline by stage and conversion by source (pipeline.by_stage, conversion.by_source) are "
    "on Performance and quota per team: at most SALES_METRICS_MAX_BREAKDOWN (default 20) "
    'stages or sources per scope and period, the rest merged into "other"; every one of them '
    "is in the API (GET /v1/reps|teams/{id}/performance) and on sales.performance."
)
#: how the breakdown gauges bound their stage and source labels
OTHER_MEANS = (
    "At most SALES_METRICS_MAX_BREAKDOWN (default 20) per team and period: when there are "
    'more, the largest {by} keep a row of their own and the rest are merged into "other" '
    '({merged}); a {what} really named "other" is merged into it too. Every {what} is in the '
    "API (GET /v1/teams/{{id}}/performance)."
)
STAGES = (
    "pipeline.by_stage: per stage, the amount (base currency) and the number of deals whose "
    "current state is open or reopened and whose expected_close_at lies in the current "
    '$period_kind; deals without a stage are under "unknown". '
    + OTHER_MEANS.format(by="by amount", merged="amounts and counts summed", what="stage")
)
SOURCES = (
    "conversion.by_source: per lead source, the deals created in the current $period_kind "
    "and the share of them won (won / created, on their current state); deals without a "
    'source are under "unknown". '
    + OTHER_MEANS.format(
        by="by deals created",
        merged="win rate = their deals won / their deals created",
        what="source",
    )
)
PROJECTED = (
    "projected / target, projected = actual / the elapsed fraction of the period's business "
    "days: the straight-line run rate to the period's end (below 100%: missed at this pace); "
    "no value while nothing of the period has elapsed"
)
PIPELINE = (
    "pipeline.open_amount: deals whose current state is open or reopened and whose "
    "expected_close_at lies in the current $period_kind, in the base currency. " + BY_STAGE
)
CONVERSION = (
    "conversion.win_rate = won / created over the deals created in the current $period_kind "
    "(their current state; open ones count as created, not won); no value while none was created"
)
RETENTION = (
    "retention.rate = renewals won / (won + lost) among the deals of kind renewal closed in the "
    "current $period_kind; no value without such renewals"
)
NEW_CUSTOMERS = (
    "customers.new: accounts whose first win ever (earliest won deal of the account) lies in "
    "the current $period_kind and is a deal of this team or rep"
)


def section_84_gauges(money: str) -> tuple[tuple[str, str, str, str], ...]:
    """(title, gauge without the sales_ prefix, unit, description) of the contract section 8.4
    gauges, for the team panels and the rep drill-down."""
    return (
        ("Open pipeline closing this period", "pipeline_open_amount", money, PIPELINE),
        (
            "Conversion win rate (this period's cohort)",
            "conversion_win_rate",
            "percentunit",
            CONVERSION,
        ),
        ("Renewal retention rate", "retention_rate", "percentunit", RETENTION),
        ("New customers", "customers_new", "short", NEW_CUSTOMERS),
    )


def currency_unit(code: str) -> str:
    """Grafana's unit for an amount in the ISO 4217 currency `code`."""
    code = code.strip().upper()
    if len(code) != 3 or not code.isalpha():
        raise ValueError(f"not an ISO 4217 currency code: {code!r}")
    return f"currency{code}" if code in GRAFANA_CURRENCIES else f"currency:{code} "


def between(template: str, selector: str) -> str:
    """`template` (with {} for the selector) over this period's series and over the same series
    `$previous_offset` ago, the previous period at the same point (each keeps its own `period`
    label, so `or` keeps both)."""
    return f"{template.format(selector)} or {template.format(f'{selector} {PREVIOUS}')}"


class Board:
    """One dashboard: places panels left to right on Grafana's 24-column grid, numbers them."""

    def __init__(self, uid: str, title: str, description: str, currency: str) -> None:
        self.uid = uid
        self.title = title
        self.description = description
        self.money = currency_unit(currency)
        self.x = self.y = self.row_h = 0
        self.next_id = 1
        self.items: list[tuple[str, Any]] = []

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _place(self, w: int, h: int) -> dm.GridPos:
        if self.x + w > 24:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        pos = dm.GridPos(x=self.x, y=self.y, w=w, h=h)
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title: str) -> None:
        if self.x:
            self.x, self.y, self.row_h = 0, self.y + self.row_h, 0
        row = db.Row(title).id(self._id()).grid_pos(dm.GridPos(x=0, y=self.y, w=24, h=1))
        self.items.append(("row", row))
        self.y += 1

    def add(
        self,
        panel: Any,
        targets: list[tuple[str, str]],
        *,
        unit: str,
        w: int = 12,
        h: int = 8,
        description: str = "",
        instant: bool = False,
        table_format: bool = False,
        thresholds: list[tuple[float | None, str]] | None = None,
        transformations: list[tuple[str, dict[str, Any]]] | None = None,
        rep_link: str | None = None,
        units: dict[str, str] | None = None,
        names: dict[str, str] | None = None,
    ) -> None:
        """Add `panel` (an SDK panel builder with its title) with its queries (expr, legend).

        rep_link: the field holding a rep id; its cells link to the rep drill-down.
        units / names: per query refId, a unit / display name overriding the panel's.
        """
        panel = (
            panel.id(self._id())
            .description(description)
            .datasource(DS)
            .grid_pos(self._place(w, h))
            .unit(unit)
        )
        for index, (expr, legend) in enumerate(targets):
            query = (
                prometheus.Dataquery()
                .ref_id(chr(ord("A") + index))
                .datasource(DS)
                .expr(expr)
                .legend_format(legend)
            )
            query = query.instant() if instant else query.range()
            if table_format:
                query = query.format(pm.PromQueryFormat.TABLE)
            panel = panel.with_target(query)
        if thresholds:
            panel = panel.thresholds(
                db.ThresholdsConfig()
                .mode(dm.ThresholdsMode.ABSOLUTE)
                .steps([dm.Threshold(value=v, color=c) for v, c in thresholds])
            )
        for transform_id, options in transformations or []:
            panel = panel.with_transformation(
                dm.DataTransformerConfig(id_val=transform_id, options=options)
            )
        many = len(targets) > 1
        for ref_id in sorted(set(units or {}) | set(names or {})):
            properties = []
            if units and ref_id in units:
                properties.append(dm.DynamicConfigValue(id_val="unit", value=units[ref_id]))
            if names and ref_id in names:
                properties.append(dm.DynamicConfigValue(id_val="displayName", value=names[ref_id]))
            if table_format:  # a table's value columns are "Value #A", ... ("Value" if alone)
                panel = panel.override_by_name(f"Value #{ref_id}" if many else "Value", properties)
            else:
                panel = panel.override_by_query(ref_id, properties)
        if rep_link:
            link = {
                "title": f"Rep drill-down: ${{__data.fields.{rep_link}}}",
                "url": (
                    f"{REP_DASHBOARD_URL}?var-rep=${{__data.fields.{rep_link}}}"
                    "&${team:queryparam}&${period_kind:queryparam}&${datasource:queryparam}"
                    "&${__url_time_range}"
                ),
            }
            panel = panel.override_by_name(
                rep_link,
                [
                    dm.DynamicConfigValue(id_val="links", value=[link]),
                    dm.DynamicConfigValue(id_val="displayName", value="Rep"),
                ],
            )
        self.items.append(("panel", panel))

    # ----------------------------------------------------------------- panel kinds

    def stat(self, title: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        panel = stat.Panel().title(title).graph_mode(common.BigValueGraphMode.NONE)
        self.add(panel, targets, w=kw.pop("w", 6), h=kw.pop("h", 5), instant=True, **kw)

    def bars(self, title: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        mode = kw.pop("mode", common.BarGaugeDisplayMode.GRADIENT)
        panel = (
            bargauge.Panel()
            .title(title)
            .orientation(common.VizOrientation.HORIZONTAL)
            .display_mode(mode)
        )
        self.add(panel, targets, instant=True, **kw)

    def pie(self, title: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        self.add(piechart.Panel().title(title), targets, instant=True, **kw)

    def graph(self, title: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        self.add(timeseries.Panel().title(title), targets, **kw)

    def table(self, title: str, targets: list[tuple[str, str]], **kw: Any) -> None:
        transformations = list(kw.pop("transformations", []))
        if len(targets) > 1:  # one row per key: the queries' value columns side by side
            transformations.insert(0, ("merge", {}))
        transformations.append(("organize", {"excludeByName": {"Time": True}}))
        self.add(
            table.Panel().title(title),
            targets,
            instant=True,
            table_format=True,
            transformations=transformations,
            **kw,
        )

    # ------------------------------------------------------------------------ build

    def build(self, *, hide_business: bool = False, time_from: str = "now-6h") -> dict[str, Any]:
        board = (
            db.Dashboard(self.title)
            .uid(self.uid)
            .description(self.description)
            .tags(["salespulse"])
            .timezone("browser")
            .editable()
            .tooltip(dm.DashboardCursorSync.CROSSHAIR)
            .refresh("30s")
            .version(1)
            .time(time_from, "now")
            .link(
                db.DashboardLink("salespulse")
                .type(dm.DashboardLinkType.DASHBOARDS)
                .tags(["salespulse"])
                .as_dropdown(True)
                .include_vars(True)
                .keep_time(True)
            )
        )
        for variable in variables(hide_business, rep_drill_down=self.uid == REP_DASHBOARD_UID):
            board = board.with_variable(variable)
        for kind, item in self.items:
            board = board.with_row(item) if kind == "row" else board.with_panel(item)
        return json.loads(json.dumps(board.build(), cls=JSONEncoder))


#: one series per rep of the selected teams with anything exported (the rep variable)
REPS_OF_TEAMS = (
    'sales_rep_last_activity_timestamp_seconds{team=~"$team"}'
    ' or sales_rep_target_active{team=~"$team"}'
    ' or label_join(sales_rep_quadrant{team=~"$team"}, "rep", "", "id")'
)


def variables(hide_business: bool, rep_drill_down: bool) -> list[Any]:
    """datasource, team, rep, period_kind and the hidden previous_offset."""
    hide = dm.VariableHide.HIDE_VARIABLE if hide_business else dm.VariableHide.DONT_HIDE
    all_selected = dm.VariableOption(selected=True, text=["All"], value=["$__all"])

    def query_var(name: str, label: str, query: str) -> Any:
        return (
            db.QueryVariable(name)
            .label(label)
            .datasource(DS)
            .query({"query": query, "refId": f"{name}-variable"})
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
            .hide(hide)
        )

    # ".*" also matches series without a rep label (SALES_METRICS_REP_LABEL=false)
    team = (
        query_var("team", "Team", "label_values(sales_activities_total, team)")
        .multi(True)
        .include_all(True)
        .all_value(".*")
        .current(all_selected)
    )
    # no custom "All" value: All means the reps of the selected teams (so `id=~"$rep"` also
    # honours $team on series without a team label). With SALES_METRICS_REP_LABEL=false the
    # list is empty and the per-rep panels stay empty. The drill-down opens on one rep.
    # Every rep with a series: an activity, a target, or figures in a current period (a rep
    # with won deals and no activity has only the last; its quadrant carries its team).
    rep = (
        query_var("rep", "Rep", f"query_result(count by (rep) ({REPS_OF_TEAMS}))")
        .regex('/rep="([^"]+)"/')
        .multi(True)
    )
    rep = rep.include_all(False) if rep_drill_down else rep.include_all(True).current(all_selected)
    period_kind = (
        db.CustomVariable("period_kind")
        .label("Period")
        .values("day,week,month,quarter")
        .current(dm.VariableOption(selected=True, text="month", value="month"))
        .options(
            [
                dm.VariableOption(selected=k == "month", text=k, value=k)
                for k in ("day", "week", "month", "quarter")
            ]
        )
        .multi(False)
        .include_all(False)
        .hide(hide)
    )
    # how far back the previous period's same point is (recording rule, recording_rules.yml)
    previous_offset = (
        db.QueryVariable("previous_offset")
        .label("Previous period offset")
        .datasource(DS)
        .query(
            {
                "query": "label_values(salespulse:previous_period_offset"
                '{period_kind="$period_kind"}, offset)',
                "refId": "previous_offset-variable",
            }
        )
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .hide(dm.VariableHide.HIDE_VARIABLE)
    )
    datasource = (
        db.DatasourceVariable("datasource")
        .label("Data source")
        .type("prometheus")
        .current(dm.VariableOption(selected=True, text="Prometheus", value="prometheus"))
    )
    return [datasource, team, rep, period_kind, previous_offset]


# ------------------------------------------------------------------------- dashboards


def activity_overview(currency: str) -> dict[str, Any]:
    b = Board(
        "salespulse-activity",
        "salespulse / Activity overview",
        "What reps do: calls, emails, meetings, demos, ... by team, rep and type",
        currency,
    )
    acts = f"sales_activities_total{{{TEAM}, {REP_OR_NONE}}}"
    b.row("Activity volume")
    b.stat(
        "Activities in the time range",
        [(f"sum(increase({acts}[$__range]))", "activities")],
        h=6,
        unit="short",
    )
    b.stat(
        "Activity rate (per minute)",
        [(f"sum(rate({acts}[5m])) * 60", "per minute")],
        h=6,
        unit="short",
    )
    b.bars(
        "Activities this period, by team",
        [(f"max by (id) (sales_activities_period{{{TEAM_SCOPE}}})", "{{id}}")],
        h=6,
        unit="short",
        description="activities.total of the current $period_kind per team",
    )
    b.graph(
        "Activity rate by type",
        [(f"sum by (activity) (rate({acts}[$__rate_interval])) * 60", "{{activity}}")],
        unit="short",
        description="Activities per minute by type, selected teams and reps",
    )
    b.graph(
        "Activity rate by team",
        [(f"sum by (team) (rate({acts}[$__rate_interval])) * 60", "{{team}}")],
        unit="short",
        description="Activities per minute per team, selected reps",
    )
    b.bars(
        "Activities: this period vs the previous one, by team",
        [
            (
                between("max by (id, period) ({})", f"sales_activities_period{{{TEAM_SCOPE}}}"),
                "{{id}} {{period}}",
            )
        ],
        unit="short",
        description="activities.total of the current $period_kind and of the previous one at "
        "the same point ($previous_offset earlier; month 31d, quarter 92d)",
    )
    b.table(
        "Activity mix per team, last hour",
        [(f"sum by (team, activity) (increase({acts}[1h]))", "")],
        unit="short",
        transformations=[
            (
                "groupingToMatrix",
                {"columnField": "activity", "rowField": "team", "valueField": "Value"},
            )
        ],
    )
    b.row("Reps")
    b.table(
        "Top reps by activities this period",
        [(f"topk(25, max by (id) (sales_activities_period{{{REP_SCOPE_NO_TEAM}}}))", "")],
        unit="short",
        rep_link="id",
        names={"A": "Activities"},
        description="activities.total of the current $period_kind (needs the rep label)",
    )
    b.graph(
        "Activity rate by rep and type",
        [
            (
                f"sum by (rep, activity) (rate(sales_activities_total{{{TEAM}, {REP}}}"
                "[$__rate_interval])) * 60",
                "{{rep}} {{activity}}",
            )
        ],
        unit="short",
    )
    b.table(
        "Time since last activity",
        [
            (
                "time() - max by (team, rep) "
                f"(sales_rep_last_activity_timestamp_seconds{{{TEAM}, {REP}}})",
                "",
            )
        ],
        unit="s",
        rep_link="rep",
        names={"A": "Since last activity"},
        description="Wall-clock time since each rep's latest applied activity (event time)",
    )
    b.table(
        "Business hours without activity (reps with a target)",
        [
            (
                f"rep:sales_inactive_business_hours{{{TEAM}, {REP}}}"
                f" and on (rep) (max by (rep) (sales_rep_target_active{{{TEAM}, {REP}}}) == 1)",
                "",
            )
        ],
        unit="h",
        rep_link="rep",
        names={"A": "Business hours"},
        description="Mon-Fri 09:00-17:00 UTC; RepInactive fires above "
        "salespulse:rep_inactive_threshold_business_hours",
        thresholds=[(None, "green"), (4, "red")],
    )
    return b.build()


def performance_quota(currency: str) -> dict[str, Any]:
    b = Board(
        "salespulse-performance",
        "salespulse / Performance and quota",
        "Revenue, deals and target attainment, pace and projection per team and rep, current "
        "period vs the previous one; open pipeline, conversion, retention and new customers. "
        + BY_STAGE,
        currency,
    )
    money = b.money
    b.row("Teams")
    b.bars(
        "Revenue won this period, by team",
        [(f"max by (id) (sales_revenue_won{{{TEAM_SCOPE}}})", "{{id}}")],
        unit=money,
        description="deals.revenue_won in the base currency (SALES_BASE_CURRENCY)",
    )
    b.bars(
        "Revenue won: this period vs the previous one, by team",
        [
            (
                between("max by (id, period) ({})", f"sales_revenue_won{{{TEAM_SCOPE}}}"),
                "{{id}} {{period}}",
            )
        ],
        unit=money,
        description="revenue_won of the current $period_kind and of the previous one at the "
        "same point ($previous_offset earlier; month 31d, quarter 92d)",
    )
    b.graph(
        "Deals won and lost, by team",
        [(f"max by (id, outcome) (sales_deals{{{TEAM_SCOPE}}})", "{{id}} {{outcome}}")],
        unit="short",
    )
    b.bars(
        "Target attainment, by team",
        [
            (
                f"max by (id, metric) (sales_target_attainment_ratio{{{TEAM_SCOPE}}})",
                "{{id}} {{metric}}",
            )
        ],
        unit="percentunit",
        mode=common.BarGaugeDisplayMode.LCD,
        thresholds=RATIO_STEPS,
    )
    b.graph(
        "Target pace, by team",
        [(f"max by (id, metric) (sales_target_pace_ratio{{{TEAM_SCOPE}}})", "{{id}} {{metric}}")],
        unit="percentunit",
        description="actual / expected_by_now; below SALES_AT_RISK_PACE (0.8) is at risk",
        thresholds=RATIO_STEPS,
    )
    b.bars(
        "Projected attainment, by team",
        [
            (
                f"max by (id, metric) (sales_target_projected_ratio{{{TEAM_SCOPE}}})",
                "{{id}} {{metric}}",
            )
        ],
        unit="percentunit",
        mode=common.BarGaugeDisplayMode.LCD,
        thresholds=RATIO_STEPS,
        description=PROJECTED,
    )
    b.table(
        "Team targets behind or at risk",
        [
            (
                "max by (id, metric, period, status) (sales_target_status"
                f'{{{TEAM_SCOPE}, status=~"behind|at_risk"}}) == 1',
                "",
            )
        ],
        unit="short",
        transformations=[("organize", {"excludeByName": {"Value": True}})],
    )
    b.row("Reps")
    b.table(
        "Rep attainment, pace and projection",
        [
            (f"max by (id, metric) (sales_target_attainment_ratio{{{REP_SCOPE}}})", "attainment"),
            (f"max by (id, metric) (sales_target_pace_ratio{{{REP_SCOPE}}})", "pace"),
            (f"max by (id, metric) (sales_target_projected_ratio{{{REP_SCOPE}}})", "projected"),
        ],
        w=16,
        unit="percentunit",
        rep_link="id",
        names={"A": "Attainment", "B": "Pace", "C": "Projected"},
        thresholds=RATIO_STEPS,
        description=PROJECTED,
    )
    b.pie(
        "Rep targets by status",
        [
            (
                "count by (status) (max by (id, metric, period, status) "
                f"(sales_target_status{{{REP_SCOPE}}}) == 1)",
                "{{status}}",
            )
        ],
        w=8,
        unit="short",
    )
    b.table(
        "Rep targets behind or at risk",
        [
            (
                "max by (id, metric, period, status) (sales_target_status"
                f'{{{REP_SCOPE}, status=~"behind|at_risk"}}) == 1',
                "",
            )
        ],
        w=16,
        unit="short",
        rep_link="id",
        transformations=[("organize", {"excludeByName": {"Value": True}})],
    )
    b.bars(
        "Reps with an active target, by team",
        [
            (
                f"sum by (team) (max by (team, rep) (sales_rep_target_active{{{TEAM}, {REP}}}))",
                "{{team}}",
            )
        ],
        w=8,
        unit="short",
    )
    b.table(
        "Rep revenue won and deals this period",
        [
            (f"max by (id) (sales_revenue_won{{{REP_SCOPE}}})", "revenue won"),
            (f'max by (id) (sales_deals{{{REP_SCOPE}, outcome="won"}})', "won"),
            (f'max by (id) (sales_deals{{{REP_SCOPE}, outcome="lost"}})', "lost"),
        ],
        w=12,
        unit="short",
        units={"A": money},
        names={"A": "Revenue won", "B": "Deals won", "C": "Deals lost"},
        rep_link="id",
    )
    b.table(
        "Rep revenue won: this period vs the previous one",
        [
            (
                between("max by (id, period) ({})", f"sales_revenue_won{{{REP_SCOPE}}}"),
                "",
            )
        ],
        w=12,
        unit=money,
        rep_link="id",
        names={"A": "Revenue won"},
        description="Two rows per rep: the current $period_kind and the previous one at the "
        "same point ($previous_offset earlier; month 31d, quarter 92d)",
    )
    b.graph(
        "Target statuses over time",
        [
            (
                "count by (scope, status) (max by (scope, id, metric, period, status) "
                f"(sales_target_status{{{REP_SCOPE}}} or sales_target_status{{{TEAM_SCOPE}}}) "
                "== 1)",
                "{{scope}} {{status}}",
            )
        ],
        w=24,
        unit="short",
    )
    pipeline_and_customers(b)
    b.row("Target alerts (sales.alerts)")
    rep_alerts = f'sales_target_alerts_total{{scope="rep", {TEAM}, id=~"$rep"}}'
    team_alerts = 'sales_target_alerts_total{scope="team", id=~"$team"}'
    b.bars(
        "Target alerts emitted, by kind",
        [
            (
                "sum by (kind) (max by (scope, id, metric, period, kind) "
                f"({rep_alerts} or {team_alerts}))",
                "{{kind}}",
            )
        ],
        w=8,
        unit="short",
        description="Alerts the workers emitted on sales.alerts since they started "
        "(sales_target_alerts_total; each is emitted once per target and period)",
    )
    b.table(
        "Rep target alerts emitted",
        [(f"max by (kind, id, metric, period) ({rep_alerts})", "")],
        w=8,
        unit="short",
        rep_link="id",
        names={"A": "Alerts"},
        description="One row per alert on sales.alerts since the workers started; "
        "SalesTargetMissed fires for an hour after a target_missed row appears",
    )
    b.table(
        "Team target alerts emitted",
        [(f"max by (kind, id, metric, period) ({team_alerts})", "")],
        w=8,
        unit="short",
        names={"A": "Alerts"},
    )
    return b.build()


def pipeline_and_customers(b: Board) -> None:
    """The contract section 8.4 gauges per team and per rep (Performance and quota), then
    pipeline by stage and conversion by source per team."""
    money = b.money
    rep = REP_SCOPE_NO_TEAM
    b.row("Pipeline, conversion, retention and new customers")
    for title, metric, unit, description in section_84_gauges(money):
        b.bars(
            title + ", by team",
            [(f"max by (id) (sales_{metric}{{{TEAM_SCOPE}}})", "{{id}}")],
            w=6,
            unit=unit,
            description=description,
        )
    b.graph(
        "Open pipeline vs revenue won, by team",
        [
            (f"max by (id) (sales_pipeline_open_amount{{{TEAM_SCOPE}}})", "{{id}} open pipeline"),
            (f"max by (id) (sales_revenue_won{{{TEAM_SCOPE}}})", "{{id}} revenue won"),
        ],
        w=8,
        unit=money,
        description="What is expected to close in the current $period_kind next to what has "
        "closed; for a revenue_won target the API also reports pipeline_coverage = open "
        "pipeline / gap. " + BY_STAGE,
    )
    b.table(
        "Rep pipeline, conversion, retention and new customers",
        [
            (f"max by (id) (sales_pipeline_open_amount{{{rep}}})", "open pipeline"),
            (f"max by (id) (sales_conversion_win_rate{{{rep}}})", "conversion"),
            (f"max by (id) (sales_retention_rate{{{rep}}})", "retention"),
            (f"max by (id) (sales_customers_new{{{rep}}})", "new customers"),
        ],
        w=16,
        unit="short",
        units={"A": money, "B": "percentunit", "C": "percentunit"},
        names={
            "A": "Open pipeline",
            "B": "Conversion win rate",
            "C": "Retention rate",
            "D": "New customers",
        },
        rep_link="id",
        description="Current $period_kind (needs the rep label). " + PIPELINE,
    )
    stages_and_sources(b)


def stages_and_sources(b: Board) -> None:
    """Pipeline by stage and conversion by source per team (the breakdown gauges, whose stage
    and source labels the worker bounds with SALES_METRICS_MAX_BREAKDOWN)."""
    b.table(
        "Pipeline by stage, by team",
        [
            (f"max by (id, stage) (sales_pipeline_stage_open_amount{{{TEAM_SCOPE}}})", ""),
            (f"max by (id, stage) (sales_pipeline_stage_open_count{{{TEAM_SCOPE}}})", ""),
        ],
        unit=b.money,
        units={"B": "short"},
        names={"A": "Open amount", "B": "Open deals"},
        description=STAGES,
    )
    b.table(
        "Conversion win rate by source, by team",
        [
            (f"max by (id, source) (sales_conversion_source_win_rate{{{TEAM_SCOPE}}})", ""),
            (f"max by (id, source) (sales_conversion_source_created{{{TEAM_SCOPE}}})", ""),
        ],
        unit="percentunit",
        units={"B": "short"},
        names={"A": "Win rate", "B": "Deals created"},
        description=SOURCES,
    )


def activity_vs_performance(currency: str) -> dict[str, Any]:
    b = Board(
        "salespulse-activity-vs-performance",
        "salespulse / Activity vs performance",
        "Efficiency (activities per win, revenue per activity, win rate), satisfaction and "
        "the activity/performance quadrants",
        currency,
    )
    money = b.money
    rep = REP_SCOPE_NO_TEAM
    b.row("Efficiency by team")
    b.bars(
        "Win rate",
        [(f"max by (id) (sales_win_rate{{{TEAM_SCOPE}}})", "{{id}}")],
        w=8,
        unit="percentunit",
    )
    b.bars(
        "Activities per win",
        [(f"max by (id) (sales_activities_per_win{{{TEAM_SCOPE}}})", "{{id}}")],
        w=8,
        unit="short",
    )
    b.bars(
        "Revenue per activity",
        [(f"max by (id) (sales_revenue_per_activity{{{TEAM_SCOPE}}})", "{{id}}")],
        w=8,
        unit=money,
    )
    b.graph(
        "Activities vs revenue won, by team",
        [
            (f"max by (id) (sales_activities_period{{{TEAM_SCOPE}}})", "{{id}} activities"),
            (f"max by (id) (sales_revenue_won{{{TEAM_SCOPE}}})", "{{id}} revenue"),
        ],
        unit="short",
        units={"B": money},
        description="activities.total and revenue_won (base currency) of the current "
        "$period_kind; a team whose activities climb while revenue stays flat converts poorly",
    )
    b.graph(
        "Customer satisfaction",
        [
            (f"max by (id) (sales_csat_avg{{{TEAM_SCOPE}}})", "{{id}} CSAT (1-5)"),
            (f"max by (id) (sales_nps{{{TEAM_SCOPE}}})", "{{id}} NPS (-100..100)"),
        ],
        unit="none",
    )
    b.bars(
        "Win rate: this period vs the previous one, by team",
        [
            (
                between("max by (id, period) ({})", f"sales_win_rate{{{TEAM_SCOPE}}}"),
                "{{id}} {{period}}",
            )
        ],
        w=24,
        h=6,
        unit="percentunit",
        description="win_rate of the current $period_kind and of the previous one at the same "
        "point ($previous_offset earlier)",
    )
    b.row("Quadrants (reps)")
    quadrant = f'sales_rep_quadrant{{{TEAM}, id=~"$rep", {PK}}}'
    b.pie(
        "Reps per quadrant",
        [(f"count by (quadrant) (max by (id, quadrant) ({quadrant}) == 1)", "{{quadrant}}")],
        w=8,
        unit="short",
        description="Activity level vs revenue level against the team median",
    )
    b.table(
        "Rep quadrant",
        [(f"max by (team, id, quadrant) ({quadrant}) == 1", "")],
        w=16,
        unit="short",
        rep_link="id",
        transformations=[("organize", {"excludeByName": {"Value": True}})],
    )
    b.table(
        "Rep efficiency",
        [
            (f"max by (id) (sales_activities_period{{{rep}}})", "activities"),
            (f"max by (id) (sales_revenue_won{{{REP_SCOPE}}})", "revenue won"),
            (f"max by (id) (sales_win_rate{{{rep}}})", "win rate"),
            (f"max by (id) (sales_activities_per_win{{{rep}}})", "activities per win"),
            (f"max by (id) (sales_revenue_per_activity{{{rep}}})", "revenue/activity"),
            (f"max by (id) (sales_csat_avg{{{rep}}})", "CSAT"),
            (f"max by (id) (sales_nps{{{rep}}})", "NPS"),
        ],
        w=24,
        h=10,
        unit="short",
        units={"B": money, "C": "percentunit", "E": money},
        names={
            "A": "Activities",
            "B": "Revenue won",
            "C": "Win rate",
            "D": "Activities per win",
            "E": "Revenue per activity",
            "F": "CSAT",
            "G": "NPS",
        },
        rep_link="id",
    )
    return b.build()


def rep_drill_down(currency: str) -> dict[str, Any]:
    b = Board(
        REP_DASHBOARD_UID,
        "salespulse / Rep drill-down",
        "One rep (or a few): figures of the current period and the previous one (with open "
        "pipeline, conversion, retention and new customers), targets with their projection, "
        "activity, quadrant and alerts. Every table of reps links here. " + BY_STAGE,
        currency,
    )
    money = b.money
    rep = REP_SCOPE_NO_TEAM
    b.row("This period")
    b.stat(
        "Revenue won",
        [(f"max by (id) (sales_revenue_won{{{REP_SCOPE}}})", "{{id}}")],
        w=5,
        unit=money,
    )
    b.stat(
        "Deals won / lost",
        [
            (f'max by (id) (sales_deals{{{REP_SCOPE}, outcome="won"}})', "{{id}} won"),
            (f'max by (id) (sales_deals{{{REP_SCOPE}, outcome="lost"}})', "{{id}} lost"),
        ],
        w=5,
        unit="short",
    )
    b.stat(
        "Win rate",
        [(f"max by (id) (sales_win_rate{{{rep}}})", "{{id}}")],
        w=4,
        unit="percentunit",
    )
    b.stat(
        "Activities",
        [(f"max by (id) (sales_activities_period{{{rep}}})", "{{id}}")],
        w=5,
        unit="short",
    )
    b.stat(
        "CSAT / NPS",
        [
            (f"max by (id) (sales_csat_avg{{{rep}}})", "{{id}} CSAT"),
            (f"max by (id) (sales_nps{{{rep}}})", "{{id}} NPS"),
        ],
        w=5,
        unit="none",
    )
    for title, metric, unit, description in section_84_gauges(money):
        b.stat(
            title,
            [(f"max by (id) (sales_{metric}{{{rep}}})", "{{id}}")],
            unit=unit,
            description=description,
        )
    b.row("This period vs the previous one (same point, $previous_offset earlier)")
    b.bars(
        "Revenue won",
        [
            (
                between("max by (id, period) ({})", f"sales_revenue_won{{{REP_SCOPE}}}"),
                "{{id}} {{period}}",
            )
        ],
        w=8,
        unit=money,
    )
    b.bars(
        "Deals won",
        [
            (
                between("max by (id, period) ({})", f"sales_deals{{{REP_SCOPE}, {WON}}}"),
                "{{id}} {{period}}",
            )
        ],
        w=8,
        unit="short",
    )
    b.bars(
        "Activities",
        [
            (
                between("max by (id, period) ({})", f"sales_activities_period{{{rep}}}"),
                "{{id}} {{period}}",
            )
        ],
        w=8,
        unit="short",
    )
    b.row("Targets")
    b.table(
        "Targets: attainment, pace, projection and status",
        [
            (f"max by (id, metric, period) (sales_target_attainment_ratio{{{REP_SCOPE}}})", ""),
            (f"max by (id, metric, period) (sales_target_pace_ratio{{{REP_SCOPE}}})", ""),
            (
                f"max by (id, metric, period, status) (sales_target_status{{{REP_SCOPE}}}) == 1",
                "",
            ),
            (f"max by (id, metric, period) (sales_target_projected_ratio{{{REP_SCOPE}}})", ""),
        ],
        w=24,
        h=6,
        unit="percentunit",
        units={"C": "short"},
        names={"A": "Attainment", "B": "Pace", "D": "Projected"},
        thresholds=RATIO_STEPS,
        transformations=[("organize", {"excludeByName": {"Value #C": True}})],
        description="Projected: " + PROJECTED,
    )
    b.graph(
        "Attainment over time",
        [
            (
                f"max by (id, metric) (sales_target_attainment_ratio{{{REP_SCOPE}}})",
                "{{id}} {{metric}}",
            )
        ],
        w=8,
        unit="percentunit",
        thresholds=RATIO_STEPS,
    )
    b.graph(
        "Pace over time",
        [(f"max by (id, metric) (sales_target_pace_ratio{{{REP_SCOPE}}})", "{{id}} {{metric}}")],
        w=8,
        unit="percentunit",
        description="actual / expected_by_now; below SALES_AT_RISK_PACE (0.8) is at risk",
        thresholds=RATIO_STEPS,
    )
    b.graph(
        "Projected attainment over time",
        [
            (
                f"max by (id, metric) (sales_target_projected_ratio{{{REP_SCOPE}}})",
                "{{id}} {{metric}}",
            )
        ],
        w=8,
        unit="percentunit",
        description=PROJECTED,
        thresholds=RATIO_STEPS,
    )
    b.row("Activity")
    b.graph(
        "Activity rate by type (per minute)",
        [
            (
                f"sum by (rep, activity) (rate(sales_activities_total{{{TEAM}, {REP}}}"
                "[$__rate_interval])) * 60",
                "{{rep}} {{activity}}",
            )
        ],
        unit="short",
    )
    b.table(
        "Activities by type in the time range",
        [
            (
                "sum by (rep, activity) "
                f"(increase(sales_activities_total{{{TEAM}, {REP}}}[$__range]))",
                "",
            )
        ],
        unit="short",
        transformations=[
            (
                "groupingToMatrix",
                {"columnField": "activity", "rowField": "rep", "valueField": "Value"},
            )
        ],
    )
    b.table(
        "Last activity",
        [
            (
                "time() - max by (team, rep) "
                f"(sales_rep_last_activity_timestamp_seconds{{{TEAM}, {REP}}})",
                "",
            ),
            (f"rep:sales_inactive_business_hours{{{TEAM}, {REP}}}", ""),
        ],
        unit="s",
        units={"B": "h"},
        names={"A": "Since last activity", "B": "Business hours without activity"},
        description="Business hours: Mon-Fri 09:00-17:00 UTC (RepInactive)",
    )
    b.table(
        "Quadrant",
        [(f'max by (id, quadrant) (sales_rep_quadrant{{{TEAM}, id=~"$rep", {PK}}}) == 1', "")],
        unit="short",
        transformations=[("organize", {"excludeByName": {"Value": True}})],
        description="Activity level vs revenue level against the team median",
    )
    b.table(
        "Target alerts emitted",
        [
            (
                "max by (kind, id, metric, period) "
                f'(sales_target_alerts_total{{scope="rep", {TEAM}, id=~"$rep"}})',
                "",
            )
        ],
        unit="short",
        names={"A": "Alerts"},
    )
    return b.build(time_from="now-7d")


def pipeline_health(currency: str) -> dict[str, Any]:
    b = Board(
        "salespulse-pipeline",
        "salespulse / Pipeline health",
        "Throughput, rejects, duplicates, event lag, consumer lag and workers",
        currency,
    )
    b.row("Workers")
    b.stat(
        "Workers up",
        [('sum(up{job="salespulse"})', "up")],
        h=6,
        unit="short",
        thresholds=[(None, "red"), (1, "green")],
    )
    b.table(
        "Workers",
        [
            ('max by (instance) (up{job="salespulse"})', "up"),
            ("max by (instance, worker, version) (sales_worker_info)", "info"),
            (
                "max by (instance) (time() - sales_kafka_last_contact_timestamp_seconds)",
                "kafka",
            ),
        ],
        w=18,
        h=6,
        unit="short",
        names={"A": "Up", "B": "Running", "C": "Seconds since Kafka answered"},
    )
    b.row("Throughput")
    b.graph(
        "Records read per second, by topic (valid, rejected and duplicates)",
        [("sum by (topic) (rate(sales_events_processed_total[$__rate_interval]))", "{{topic}}")],
        unit="ops",
        description="sales_events_processed_total counts every input record read",
    )
    b.graph(
        "Events applied per second, by topic",
        [("topic:sales_events_applied:rate5m", "{{topic}}")],
        unit="ops",
        description="read - rejected - duplicates "
        "(recording rule topic:sales_events_applied:rate5m)",
    )
    b.graph(
        "Rejected (dead-lettered) per second, by reason",
        [
            (
                "sum by (topic, reason) (rate(sales_events_rejected_total[$__rate_interval]))",
                "{{topic}} {{reason}}",
            )
        ],
        unit="ops",
        description="the records themselves, with the reason's detail: `salespulse deadletters "
        "--since 1h`; `--export FILE` writes their payloads to fix and send with "
        "`salespulse publish FILE`",
    )
    b.graph(
        "Reject ratio, by topic",
        [("topic:sales_events_reject_ratio:rate5m", "{{topic}}")],
        unit="percentunit",
        thresholds=[(None, "green"), (0.05, "red")],
    )
    b.graph(
        "Duplicates per second, by topic",
        [("sum by (topic) (rate(sales_events_duplicate_total[$__rate_interval]))", "{{topic}}")],
        unit="ops",
    )
    b.stat(
        "Rejects in the time range, by reason",
        [("sum by (reason) (increase(sales_events_rejected_total[$__range]))", "{{reason}}")],
        w=12,
        h=8,
        unit="short",
    )
    b.row("Lag")
    b.graph(
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
    )
    b.graph(
        "Mean event lag",
        [
            (
                "sum(rate(sales_event_lag_seconds_sum[$__rate_interval])) / "
                "sum(rate(sales_event_lag_seconds_count[$__rate_interval]))",
                "mean",
            )
        ],
        unit="s",
    )
    b.graph(
        "Consumer lag (records), by topic",
        [("topic:sales_consumer_lag_records:sum", "{{topic}}")],
        unit="short",
        thresholds=[(None, "green"), (10000, "red")],
    )
    b.graph(
        "Consumer lag (records), by partition",
        [("max by (topic, partition) (sales_consumer_lag_records)", "{{topic}}[{{partition}}]")],
        unit="short",
    )
    b.row("Load and memory")
    b.graph(
        "Event loop busy, by worker (1 = saturated)",
        [
            (
                "max by (instance) (rate(sales_worker_busy_seconds_total[$__rate_interval]))",
                "{{instance}}",
            )
        ],
        unit="percentunit",
        thresholds=[(None, "green"), (0.9, "red")],
        description="the share of the time a worker's event loop works rather than waits "
        "(sales_worker_busy_seconds_total): near 1 while the consumer lag grows, that worker "
        "takes no more load: add a worker",
    )
    b.graph(
        "RocksDB memory, by worker (block cache and memtables)",
        [("max by (instance) (sales_store_memory_bytes)", "{{instance}}")],
        unit="bytes",
        description="what the worker's RocksDB databases hold together; the budget is "
        "SALES_STORE_MEMORY_BYTES (128 MiB by default), exceeded only while a flush runs",
    )
    return b.build(hide_business=True, time_from="now-3h")


DASHBOARDS: dict[str, Callable[[str], dict[str, Any]]] = {
    "activity-overview.json": activity_overview,
    "performance-quota.json": performance_quota,
    "activity-vs-performance.json": activity_vs_performance,
    "rep-drill-down.json": rep_drill_down,
    "pipeline-health.json": pipeline_health,
}


def build_all(currency: str = "USD") -> dict[str, dict[str, Any]]:
    """Every dashboard as JSON-ready data, keyed by file name."""
    currency_unit(currency)  # validates the code
    return {name: build(currency.upper()) for name, build in DASHBOARDS.items()}


def render(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the salespulse dashboards")
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    parser.add_argument(
        "--currency",
        default=os.environ.get("SALES_BASE_CURRENCY") or "USD",
        help="base currency of the revenue panels (default $SALES_BASE_CURRENCY, else USD; "
        "the committed files are USD)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help=f"directory (default {OUT})")
    args = parser.parse_args(argv)
    try:
        boards = build_all(args.currency)
    except ValueError as exc:
        parser.error(str(exc))
    stale = []
    for name, board in boards.items():
        path = args.out / name
        text = render(board)
        if args.check:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(name)
        else:
            args.out.mkdir(parents=True, exist_ok=True)
            path.write_text(text, "utf-8")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python3 {__file__}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
