"""End to end: Kafka, a worker, Debian's Prometheus and Alertmanager on loopback.

The test plays activities, deals (some with the contract section 8.1 fields: open deals
expected to close today in several stages, deals created today from several sources,
renewals, accounts), feedback, invalid records,
duplicates and targets (one clearly at risk, one achieved, one on a period that has already
ended), then checks through Prometheus' HTTP API that

- every expression of every Grafana panel (deploy/grafana/panels.py) returns data,
- the business series (section 8.4's gauges included, and pipeline by stage and conversion
  by source, label value for label value) equal the worker API's figures,
- SalesTargetAtRisk (and SalesTargetMissed) reach the firing state, and Alertmanager routes
  them to their receivers.

Nothing here depends on the day it runs: every event is today (not in the future), the
expected values come from the worker's API, and the period the at-risk target is checked on
(and the dashboards' $period_kind) is the one the API reports as at risk: early in a month
that starts on a weekend nothing is expected yet, so the quarter or the week is used. Only a
run that straddles midnight UTC can fail (the day's figures start afresh).
"""

from __future__ import annotations

import importlib.util
import math
import sys
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from streams.domain.periods import current_period_ids
from streams.domain.vocabulary import DEADLETTER_REASONS
from tests.e2e.conftest import AlertmanagerServer, PrometheusServer
from tests.support.workers import REPO_ROOT, Cluster, eventually, http_get, produce, wait_ready

pytestmark = pytest.mark.e2e

TARGET_AT_RISK = 1e9  # revenue_won: nobody gets there, so at risk once anything is expected
KINDS = ("day", "week", "month", "quarter")
#: the order in which a period is picked for the at-risk checks (see pick_at_risk_period)
AT_RISK_PREFERENCE = ("month", "quarter", "week")

#: Panel expressions that may legitimately return nothing in this test, with the reason.
#: Every panel has data with the input below, so the list is empty; keep it tiny and justified.
ALLOWED_EMPTY: dict[str, str] = {}


def load_panels() -> ModuleType:
    path = REPO_ROOT / "deploy" / "grafana" / "panels.py"
    spec = importlib.util.spec_from_file_location("salespulse_grafana_panels_e2e", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


panels = load_panels()


# ------------------------------------------------------------------------------- input


class Events:
    """Builds today's events: `at(n)` is n seconds ago, but never before today's midnight."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        self.seq = 0

    def at(self, seconds_ago: int) -> str:
        return max(self.now - timedelta(seconds=seconds_ago), self.midnight).isoformat()

    def base(self, rep: str, team: str, seconds_ago: int) -> dict[str, Any]:
        self.seq += 1
        return {
            "event_id": f"e{self.seq}",
            "occurred_at": self.at(seconds_ago),
            "rep_id": rep,
            "team_id": team,
        }

    def activity(self, rep: str, team: str, kind: str, seconds_ago: int = 60) -> dict[str, Any]:
        return {**self.base(rep, team, seconds_ago), "activity": kind, "duration_s": 120}

    def deal(
        self,
        rep: str,
        team: str,
        deal_id: str,
        outcome: str,
        amount: float | None = None,
        currency: str | None = None,
        seconds_ago: int = 30,
        **extra: Any,
    ) -> dict[str, Any]:
        """A deal event; one with an amount was created 12 days ago unless `extra` says
        otherwise (`extra`: the contract section 8.1 fields)."""
        doc = {**self.base(rep, team, seconds_ago), "deal_id": deal_id, "outcome": outcome}
        if amount is not None:
            doc.update(
                {
                    "amount": amount,
                    "currency": currency,
                    "created_at": (self.now - timedelta(days=12)).isoformat(),
                }
            )
        doc.update(extra)
        return doc

    def feedback(self, rep: str, team: str, **scores: int) -> dict[str, Any]:
        return {**self.base(rep, team, 20), **scores}


def target(scope: str, ident: str, metric: str, period: str, value: float) -> tuple[bytes, Any]:
    key = f"{scope}:{ident}:{metric}:{period}"
    doc = {"scope": scope, "scope_id": ident, "metric": metric, "period": period, "value": value}
    return key.encode(), doc


def previous_month(now: datetime) -> str:
    return (now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


REPS = {"ana": "north", "bo": "north", "cy": "south", "dee": "south"}


Record = tuple[str, Any, Any]


def play(
    cluster: Cluster, ev: Events, current: dict[str, str]
) -> tuple[list[Record], list[Record]]:
    """Two waves of (topic, key, value). The second one comes after Prometheus has scraped the
    first, so that the pipeline counters *increase* between scrapes and rate() has data."""
    acts, deals, feedback, targets = (
        cluster.topic("activities"),
        cluster.topic("deals"),
        cluster.topic("feedback"),
        cluster.topic("targets"),
    )
    activities = [
        ev.activity("ana", "north", "call", 300),
        ev.activity("ana", "north", "call", 240),
        ev.activity("ana", "north", "call", 200),
        ev.activity("ana", "north", "email", 180),
        ev.activity("ana", "north", "email", 170),
        ev.activity("ana", "north", "meeting", 160),
        ev.activity("bo", "north", "call", 150),
        ev.activity("bo", "north", "demo", 140),
        ev.activity("bo", "north", "demo", 130),
        ev.activity("bo", "north", "proposal", 120),
        ev.activity("cy", "south", "email", 110),
        ev.activity("cy", "south", "email", 100),
        ev.activity("cy", "south", "follow_up", 90),
        ev.activity("dee", "south", "negotiation", 80),
        ev.activity("dee", "south", "social", 70),
    ]
    deal_events = [
        ev.deal("ana", "north", "D1", "won", 1000, "USD"),
        ev.deal("ana", "north", "D2", "won", 500, "EUR"),
        ev.deal("ana", "north", "D3", "lost"),
        ev.deal("bo", "north", "D4", "won", 2000, "USD"),
        ev.deal("bo", "north", "D5", "lost"),
        ev.deal("cy", "south", "D6", "won", 300, "EUR"),
        ev.deal("dee", "south", "D7", "lost"),
        # contract section 8.1 fields, so that the section 8.4 gauges (and their panels) have
        # data in every current period: created today (the cohort, with sources), expected to
        # close today (the pipeline, with stages), renewals (retention) and accounts (new
        # customers)
        ev.deal(
            "ana",
            "north",
            "D9",
            "open",
            4000,
            "USD",
            stage="proposal",
            source="website",
            expected_close_at=ev.at(0),
            created_at=ev.at(600),
        ),
        ev.deal(
            "bo",
            "north",
            "D13",
            "open",
            1500,
            "USD",
            stage="negotiation",
            source="referral",
            expected_close_at=ev.at(0),
            created_at=ev.at(600),
        ),
        ev.deal(
            "ana",
            "north",
            "D10",
            "won",
            800,
            "USD",
            kind="renewal",
            account_id="acme",
            source="referral",
            created_at=ev.at(600),
        ),
        ev.deal(
            "cy",
            "south",
            "D11",
            "lost",
            kind="renewal",
            account_id="globex",
            lost_reason="price",
            created_at=ev.at(600),
        ),
        ev.deal(
            "dee",
            "south",
            "D12",
            "open",
            stage="qualification",
            source="webinar",
            expected_close_at=ev.at(0),
            created_at=ev.at(600),
        ),
    ]
    feedback_events = [
        ev.feedback("ana", "north", csat=5, nps=9),
        ev.feedback("bo", "north", csat=3),
        ev.feedback("cy", "south", nps=4),
        ev.feedback("dee", "south", csat=4, nps=10),
    ]
    rejected: list[Record] = [
        (acts, b"ana", b"{not json"),
        (acts, b"bo", orjson.dumps({**ev.activity("bo", "north", "call"), "activity": "lunch"})),
        (deals, b"cy", orjson.dumps(ev.deal("cy", "south", "D8", "won", 10, "XYZ"))),
        (feedback, b"dee", orjson.dumps(ev.base("dee", "south", 10))),  # no csat nor nps
    ]
    # duplicates: the same event_id again (ignored, counted in sales_events_duplicate_total)
    duplicates = [
        (acts, b"ana", activities[0]),
        (acts, b"bo", activities[6]),
        (deals, b"ana", deal_events[0]),
    ]
    period_targets = []
    for kind in AT_RISK_PREFERENCE:
        period_targets.append(target("rep", "ana", "revenue_won", current[kind], TARGET_AT_RISK))
        period_targets.append(target("team", "north", "revenue_won", current[kind], TARGET_AT_RISK))
    period_targets += [
        target("rep", "bo", "deals_won", current["month"], 1),  # achieved by D4
        target("team", "south", "activities_total", current["month"], 1),  # achieved
        target("rep", "cy", "deals_won", previous_month(ev.now), 5),  # its period has ended
    ]
    first: list[Record] = []
    first += [(acts, a["rep_id"].encode(), a) for a in activities]
    first += [(deals, d["rep_id"].encode(), d) for d in deal_events]
    first += [(feedback, f["rep_id"].encode(), f) for f in feedback_events]
    first += [(targets, key, doc) for key, doc in period_targets]
    first += [rejected[0], rejected[2]]
    second = [rejected[1], rejected[3], *duplicates, (acts, None, b"\xff not json either")]
    return first, second


# ------------------------------------------------------------------------------ checks


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


async def single_value(prom: PrometheusServer, expr: str) -> float | None:
    result = await prom.query(expr)
    assert len(result) <= 1, (expr, result)
    return float(result[0]["value"][1]) if result else None


async def api(url: str) -> dict[str, Any]:
    status, body = await http_get(url)
    assert status == 200, (url, status, body)
    return body


async def breakdowns_match(prom: PrometheusServer, sel: str, doc: dict[str, Any]) -> None:
    """Pipeline by stage and conversion by source, for teams: one series per stage (source)
    of the API's document, with its figure (no stage or source here is beyond
    SALES_METRICS_MAX_BREAKDOWN, so nothing is merged into "other"); a null win rate has no
    series. A rep has none (its breakdowns are in the API only)."""
    team = doc["scope"] == "team"
    by_stage = doc["pipeline"]["by_stage"] if team else {}
    by_source = doc["conversion"]["by_source"] if team else {}
    for metric, label, want in (
        (
            "sales_pipeline_stage_open_amount",
            "stage",
            {k: v["amount"] for k, v in by_stage.items()},
        ),
        ("sales_pipeline_stage_open_count", "stage", {k: v["count"] for k, v in by_stage.items()}),
        (
            "sales_conversion_source_created",
            "source",
            {k: v["created"] for k, v in by_source.items()},
        ),
        (
            "sales_conversion_source_win_rate",
            "source",
            {k: v["win_rate"] for k, v in by_source.items() if v["win_rate"] is not None},
        ),
    ):
        expr = f"max by ({label}) ({metric}{{{sel}}})"
        got = {r["metric"][label]: float(r["value"][1]) for r in await prom.query(expr)}
        assert got.keys() == want.keys(), f"{expr}: {got}, the API says {want}"
        assert all(close(got[k], want[k]) for k in want), f"{expr}: {got}, the API says {want}"


async def pick_at_risk_period(base: str, current: dict[str, str]) -> tuple[str, str]:
    """(period kind, period id) of a target of rep ana the worker reports as at_risk.

    Early in a period (a weekend at the start of a month, say) nothing is expected yet and
    the status is not_started, so the month is preferred, then the quarter, then the week.
    """

    async def statuses() -> dict[str, str]:
        found = {}
        for kind in AT_RISK_PREFERENCE:
            doc = await api(f"{base}/v1/reps/ana/performance?period={current[kind]}")
            assert doc["targets"], doc
            found[kind] = doc["targets"][0]["status"]
        return found

    found = await eventually(statuses, timeout=60)
    for kind in AT_RISK_PREFERENCE:
        if found[kind] == "at_risk":
            return kind, current[kind]
    raise AssertionError(f"no target of ana is at risk: {found}")


async def test_dashboards_figures_and_alerts_through_prometheus(
    e2e_cluster: Cluster,
    prometheus: Any,
    alertmanager: Any,
) -> None:
    cluster = e2e_cluster
    worker = cluster.start_worker()
    am: AlertmanagerServer = alertmanager()
    prom: PrometheusServer = prometheus(
        f"127.0.0.1:{worker.port}",
        for_overrides={"SalesTargetAtRisk": "2s"},
        alertmanager=am.address,
    )
    await wait_ready([worker])
    await prom.ready()
    await am.ready()

    now = datetime.now(UTC).replace(microsecond=0)
    tz = ZoneInfo("UTC")  # the cluster's workers run with the default SALES_TIMEZONE
    current: dict[str, str] = {k: v for k, v in current_period_ids(now, tz).items()}
    ev = Events(now)
    first, second = play(cluster, ev, current)
    records = first + second
    inputs = {cluster.topic(k) for k in ("activities", "deals", "feedback", "targets")}

    async def scraped(count: int) -> None:
        assert await single_value(prom, "sum(sales_events_processed_total)") == count

    await produce(cluster.bootstrap, first)
    await eventually(lambda: scraped(len(first)), timeout=60)
    # the worker's last contact with Kafka is fresh (the gauge KafkaUnreachable watches)
    age = await single_value(prom, "time() - sales_kafka_last_contact_timestamp_seconds")
    assert age is not None and -5 < age < 30, age
    await produce(cluster.bootstrap, second)
    base = worker.url

    # ---- the worker has applied everything (figures via its API)
    async def applied() -> None:
        acts = cluster.topic("activities")
        for rep in REPS:
            # duplicates are the same dict again: count distinct event ids
            ids = {
                value["event_id"]
                for topic, _, value in records
                if topic == acts and isinstance(value, dict) and value["rep_id"] == rep
            }
            doc = await api(f"{base}/v1/reps/{rep}/performance?period={current['month']}")
            assert doc["activities"]["total"] == len(ids), (rep, doc)
        bo = await api(f"{base}/v1/reps/bo/performance?period={current['month']}")
        assert bo["deals"]["won"] == 1 and bo["deals"]["lost"] == 1, bo
        north = await api(f"{base}/v1/teams/north/performance?period={current['month']}")
        assert north["pipeline"]["open_amount"] == 5500, north["pipeline"]
        assert set(north["pipeline"]["by_stage"]) == {"proposal", "negotiation"}, north
        assert {"website", "referral"} <= set(north["conversion"]["by_source"]), north
        assert north["retention"]["rate"] == 1 and north["customers"]["new"] == 1, north
        cy = await api(f"{base}/v1/reps/cy/performance?period={current['month']}")
        assert cy["satisfaction"]["nps_count"] == 1, cy

    await eventually(applied, timeout=60)
    kind, period = await pick_at_risk_period(base, current)

    # ---- every panel expression returns data
    exprs = [
        (name, expr, panels.substitute_variables(expr, {"period_kind": kind}))
        for name, expr in panels.all_panel_exprs()
    ]

    async def every_panel_has_data() -> None:
        empty = []
        for name, raw, plain in exprs:
            if raw in ALLOWED_EMPTY:
                continue
            if not await prom.query(plain):
                empty.append(f"{name}: {plain}")
        assert not empty, "panels without data:\n" + "\n".join(empty)

    await eventually(every_panel_has_data, timeout=60, interval=1.0)

    # ---- variable queries find the teams and reps (the rep one: query_result, a regex)
    reps = {
        q: rep
        for dashboard, name, q in panels.all_variable_queries()
        if name == "rep"
        for rep in [q[len("query_result(") : -1]]
    }
    assert len(set(reps)) == 1, reps  # one query on every dashboard
    inner = panels.substitute_variables(next(iter(reps.values())))
    assert {row["metric"]["rep"] for row in await prom.query(inner)} == set(REPS)
    teams = await prom.api("label/team/values", **{"match[]": "sales_activities_total"})
    assert set(teams) == {"north", "south"}

    # ---- the business series equal the API's figures, for every current period
    async def figures_match() -> None:
        for period_kind in KINDS:
            pid = current[period_kind]
            scopes = [("rep", r, f"/v1/reps/{r}") for r in REPS] + [
                ("team", t, f"/v1/teams/{t}") for t in sorted(set(REPS.values()))
            ]
            for scope, ident, path in scopes:
                doc = await api(f"{base}{path}/performance?period={pid}")
                sel = f'scope="{scope}", id="{ident}", period_kind="{period_kind}"'
                pairs = [
                    (f"max(sales_revenue_won{{{sel}}})", doc["deals"]["revenue_won"]),
                    (f'max(sales_deals{{{sel}, outcome="won"}})', doc["deals"]["won"]),
                    (f'max(sales_deals{{{sel}, outcome="lost"}})', doc["deals"]["lost"]),
                    (f"max(sales_activities_period{{{sel}}})", doc["activities"]["total"]),
                    (f"max(sales_win_rate{{{sel}}})", doc["deals"]["win_rate"]),
                    (f"max(sales_csat_avg{{{sel}}})", doc["satisfaction"]["csat_avg"]),
                    (f"max(sales_nps{{{sel}}})", doc["satisfaction"]["nps"]),
                    # contract section 8.4
                    (f"max(sales_pipeline_open_amount{{{sel}}})", doc["pipeline"]["open_amount"]),
                    (f"max(sales_conversion_win_rate{{{sel}}})", doc["conversion"]["win_rate"]),
                    (f"max(sales_retention_rate{{{sel}}})", doc["retention"]["rate"]),
                    (f"max(sales_customers_new{{{sel}}})", doc["customers"]["new"]),
                ]
                for t in doc["targets"]:
                    tsel = f'scope="{scope}", id="{ident}", metric="{t["metric"]}", period="{pid}"'
                    pairs.append((f"max(sales_target_attainment_ratio{{{tsel}}})", t["attainment"]))
                    # projected moves with the clock: present exactly when the API has it
                    got = await single_value(prom, f"max(sales_target_projected_ratio{{{tsel}}})")
                    assert (got is None) == (t["projected"] is None), (tsel, got, t)
                    if t["status"] in ("achieved", "at_risk"):  # stable while the test runs
                        pairs.append(
                            (f'max(sales_target_status{{{tsel}, status="{t["status"]}"}})', 1)
                        )
                for expr, want in pairs:
                    got = await single_value(prom, expr)
                    assert close(got, want), f"{expr} = {got}, the API says {want}"
                await breakdowns_match(prom, sel, doc)
        # the activity counter, summed per rep and per team, equals the API's month totals
        # (every event played is today, so it is in the current month)
        month = current["month"]
        for label, path, names in (
            ("rep", "/v1/reps", REPS),
            ("team", "/v1/teams", set(REPS.values())),
        ):
            for ident in names:
                doc = await api(f"{base}{path}/{ident}/performance?period={month}")
                expr = f'sum(sales_activities_total{{{label}="{ident}"}})'
                got = await single_value(prom, expr)
                assert close(got, doc["activities"]["total"]), (expr, got, doc["activities"])
                by_type = await prom.query(
                    f'sum by (activity) (sales_activities_total{{{label}="{ident}"}})'
                )
                assert {r["metric"]["activity"]: int(float(r["value"][1])) for r in by_type} == doc[
                    "activities"
                ]["by_type"]

    await eventually(figures_match, timeout=30, interval=1.0)

    # ---- pipeline figures: 5 rejects, 3 duplicates, every record read
    async def pipeline_counts() -> None:
        rejected = await prom.query("sum by (reason) (sales_events_rejected_total)")
        # every reason is exported from the start, at 0 until its first reject
        assert {r["metric"]["reason"]: float(r["value"][1]) for r in rejected} == {
            reason: 0.0 for reason in DEADLETTER_REASONS
        } | {"invalid_json": 2, "schema_violation": 2, "unknown_currency": 1}
        assert await single_value(prom, "sum(sales_events_duplicate_total)") == 3
        read = sum(1 for topic, _, _ in records if topic in inputs)
        assert await single_value(prom, "sum(sales_events_processed_total)") == read

    await eventually(pipeline_counts, timeout=30, interval=1.0)

    # ---- the alerts fire in Prometheus ...
    at_risk = {
        "alertname": "SalesTargetAtRisk",
        "scope": "rep",
        "id": "ana",
        "metric": "revenue_won",
        "period": period,
    }
    missed = {
        "alertname": "SalesTargetMissed",
        "scope": "rep",
        "id": "cy",
        "metric": "deals_won",
        "period": previous_month(now),
    }

    def matching(alerts: list[dict[str, Any]], labels: dict[str, str]) -> list[dict[str, Any]]:
        return [a for a in alerts if labels.items() <= a["labels"].items()]

    async def firing() -> None:
        alerts = await prom.alerts()
        for labels in (at_risk, missed):
            found = matching(alerts, labels)
            assert found and all(a["state"] == "firing" for a in found), (labels, alerts)

    await eventually(firing, timeout=60, interval=1.0)
    assert not matching(await prom.alerts(), {"alertname": "SalesTargetAtRisk", "id": "bo"})

    # ---- ... and reach Alertmanager, routed by severity to their webhooks
    async def delivered() -> None:
        held = await am.alerts()
        (am_at_risk,) = matching(held, at_risk)
        assert [r["name"] for r in am_at_risk["receivers"]] == ["ticket"]
        (am_missed,) = matching(held, missed)
        assert [r["name"] for r in am_missed["receivers"]] == ["default"]
        hooks: dict[str, list[dict[str, Any]]] = {}
        for path, body in list(am.webhooks.received):
            if isinstance(body, dict):
                hooks.setdefault(path, []).extend(body.get("alerts", []))
        assert matching(hooks.get("/hooks/salespulse/ticket", []), at_risk), hooks
        assert matching(hooks.get("/hooks/salespulse/default", []), missed), hooks

    await eventually(delivered, timeout=60, interval=1.0)
    assert worker.alive() and prom.alive() and am.alive()
