"""Acceptance: two workers in one group, a scripted stream, every answer checked.

The expected figures come from tests/integration/expected_figures.py, an independent
calculator written from docs/contract.md only. The stream has out-of-order, late and duplicate
events, null and wrong keys, a deal won, reopened and won again in another month, a tie
between two events of one deal, deals in EUR and GBP, feedback, and targets that are set,
changed and deleted. Both workers are asked every question (any worker answers).
"""

from __future__ import annotations

import asyncio
import random
import urllib.parse
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.integration.expected_figures import (
    Expected,
    business_fraction,
    parse_time,
    period_bounds,
    period_ids,
    same,
)
from tests.support.workers import Cluster, eventually, http_get, produce, read_topic, wait_ready

GRACE = timedelta(days=40)
AT_RISK_PACE = 0.8
EXTRA_ENV = {"SALES_LATE_GRACE": "P40D", "SALES_EVALUATION_INTERVAL": "1"}
TEAMS = {"ana": "north", "bo": "north", "cy": "north", "dee": "south", "eli": "south"}
TEAMS |= {"fay": "west", "gus": "south"}  # gus moves to west half-way through the month
ACTIVITY_TYPES = ("call", "email", "meeting", "demo", "proposal", "follow_up", "social")

Event = tuple[str, dict[str, Any]]
Record = tuple[str, bytes | None, Any]


class Script:
    """The scripted stream, with event times chosen relative to now and period starts."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.month_start = period_bounds(period_ids(now)["month"])[0]
        self.rng = random.Random(20261127)
        self.serial = 0
        self.phase_a: list[Event] = []
        self.keys: dict[int, bytes | None] = {}

    def cur(self, f: float) -> datetime:
        """A time this month: f=0 just after the month began, f=1 ten minutes ago."""
        lo, hi = self.month_start + timedelta(minutes=1), self.now - timedelta(minutes=10)
        return lo + (hi - lo) * f

    def prev(self, f: float) -> datetime:
        """A time in the last week of the previous month (well within the grace)."""
        lo, hi = self.month_start - timedelta(days=7), self.month_start - timedelta(hours=1)
        return lo + (hi - lo) * f

    def base(self, prefix: str, rep: str, when: datetime, team: str | None = None) -> dict:
        self.serial += 1
        return {
            "event_id": f"{prefix}-{self.serial}",
            "occurred_at": when.isoformat(),
            "rep_id": rep,
            "team_id": team or TEAMS[rep],
            "source": "scripted",
        }

    def activity(self, rep: str, when: datetime, kind: str, team: str | None = None) -> Event:
        return ("activities", {**self.base("a", rep, when, team), "activity": kind})

    def deal(
        self,
        rep: str,
        when: datetime,
        deal_id: str,
        outcome: str,
        team: str | None = None,
        **extra: Any,
    ) -> Event:
        body = {"deal_id": deal_id, "outcome": outcome, **extra}
        return ("deals", {**self.base("d", rep, when, team), **body})

    def feedback(self, rep: str, when: datetime, **scores: int) -> Event:
        return ("feedback", {**self.base("f", rep, when), **scores})


def gus_team(f: float) -> str:
    return "south" if f < 0.5 else "west"


def key_for(event: dict[str, Any], rng: random.Random) -> bytes | None:
    """Mostly rep_id, some null keys, some wrong keys."""
    roll = rng.random()
    if roll < 0.55:
        return event["rep_id"].encode()
    if roll < 0.8:
        return None
    return rng.choice([b"zzz", event["team_id"].encode(), b"not-the-rep"])


def build(now: datetime) -> dict[str, Any]:
    s = Script(now)
    rng = s.rng
    a: list[Event] = []
    for rep, count in (("ana", 14), ("bo", 9), ("cy", 6), ("dee", 11), ("eli", 4), ("fay", 8)):
        for _ in range(count):
            a.append(s.activity(rep, s.cur(rng.random()), rng.choice(ACTIVITY_TYPES)))
        for _ in range(3):
            a.append(s.activity(rep, s.prev(rng.random()), rng.choice(ACTIVITY_TYPES)))
    for f in (0.05, 0.2, 0.3, 0.45, 0.6, 0.75, 0.9, 0.98):
        a.append(s.activity("gus", s.cur(f), rng.choice(ACTIVITY_TYPES), team=gus_team(f)))
    # deals
    a.append(
        s.deal(
            "ana",
            s.cur(0.3),
            "D1",
            "won",
            amount=1234.125,
            currency="USD",
            created_at=(s.cur(0.3) - timedelta(days=12, hours=12)).isoformat(),
        )
    )
    a.append(s.deal("ana", s.cur(0.4), "D2", "lost"))
    a.append(
        s.deal(
            "bo",
            s.cur(0.45),
            "D3",
            "won",
            amount=1000,
            currency="EUR",
            created_at=(s.cur(0.45) - timedelta(days=20)).isoformat(),
        )
    )
    a.append(s.deal("bo", s.cur(0.62), "D4", "won", amount=500, currency="GBP"))
    a.append(s.deal("dee", s.prev(0.5), "D5", "won", amount=2000, currency="USD"))
    d6_won_prev = s.deal(
        "dee",
        s.prev(0.3),
        "D6",
        "won",
        amount=3000,
        currency="USD",
        created_at=(s.prev(0.3) - timedelta(days=5)).isoformat(),
    )
    a.append(d6_won_prev)
    a.append(s.deal("dee", s.cur(0.1), "D6", "reopened"))
    a.append(
        s.deal(
            "fay",
            s.cur(0.7),
            "D8",
            "won",
            amount=450.5,
            currency="USD",
            created_at=(s.cur(0.7) - timedelta(days=3)).isoformat(),
        )
    )
    a.append(s.deal("gus", s.cur(0.55), "D9", "won", team="west", amount=900, currency="USD"))
    a.append(s.deal("cy", s.prev(0.6), "D10", "lost"))
    # feedback
    a.append(s.feedback("ana", s.cur(0.2), csat=5, nps=10))
    a.append(s.feedback("ana", s.cur(0.5), csat=3))
    a.append(s.feedback("ana", s.cur(0.8), nps=6))
    a.append(s.feedback("bo", s.cur(0.35), csat=4, nps=9))
    a.append(s.feedback("dee", s.cur(0.65), csat=2, nps=0))
    a.append(s.feedback("fay", s.cur(0.15), csat=5))
    a.append(("feedback", {**s.base("f", "gus", s.cur(0.25), "south"), "nps": 7}))
    a.append(s.feedback("cy", s.prev(0.4), csat=4))
    rng.shuffle(a)  # out of order: older events arrive after newer ones (within the grace)
    # duplicates inside the first phase
    a.extend([a[3], a[10], next(e for e in a if e[0] == "feedback")])
    # a tie between two events of one deal: the one processed later wins. Same (wrong) key,
    # so the same input partition keeps their order.
    tie_time = s.cur(0.35)
    tie_won = s.deal("eli", tie_time, "D7", "won", amount=700, currency="USD")
    tie_lost = s.deal("eli", tie_time, "D7", "lost")
    records_a: list[Record] = []
    for kind, event in a:
        records_a.append((kind, key_for(event, rng), event))
    records_a.append(("deals", b"D7", tie_won[1]))
    records_a.append(("deals", b"D7", tie_lost[1]))
    events_a = [*a, tie_won, tie_lost]

    # second phase: late events, re-sent duplicates, the deal won again, older stragglers
    late = [
        s.activity("ana", now - timedelta(days=60), "call"),
        s.feedback("bo", now - timedelta(days=50), csat=1),
        s.deal("ana", now - timedelta(days=60), "D2", "won", amount=99, currency="USD"),
    ]
    won_again = s.deal(
        "dee",
        s.cur(0.5),
        "D6",
        "won",
        amount=3100,
        currency="USD",
        created_at=(s.prev(0.3) - timedelta(days=5)).isoformat(),
    )
    stragglers = [
        s.activity(rep, s.prev(0.05 * i), "email")
        for i, rep in enumerate(("ana", "dee", "fay", "cy"), start=1)
    ]
    dup_acts = [e for e in a if e[0] == "activities"][:3]
    dup_feedback = [e for e in a if e[0] == "feedback"][-1]
    events_b: list[Event] = [
        *late,
        won_again,
        *stragglers,
        *dup_acts,
        d6_won_prev,
        tie_won,
        dup_feedback,
    ]
    records_b: list[Record] = [(k, key_for(e, rng), e) for k, e in events_b]
    return {
        "script": s,
        "events_a": events_a,
        "records_a": records_a,
        "events_b": events_b,
        "records_b": records_b,
        "late": late,
    }


def q(value: datetime) -> str:
    return urllib.parse.quote(value.isoformat(), safe="")


async def get_all(urls: list[str]) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    for i in range(0, len(urls), 16):
        out.extend(await asyncio.gather(*(http_get(u) for u in urls[i : i + 16])))
    return out


def figure_diffs(exp: Expected, scope: str, ident: str, period: str, doc: Any) -> list[str]:
    want = exp.figures(scope, ident, period)
    return [f"{scope}:{ident}:{period} {d}" for d in same(doc, want)]


async def check_figures(
    exp: Expected, workers: list[str], *, periods: tuple[str, ...] | None = None
) -> None:
    """Every rep and team, every period with data (or only `periods`), on every worker."""
    asks: list[tuple[str, str, str, str]] = []
    for scope, idents in (("rep", exp.reps()), ("team", exp.teams())):
        for ident in idents:
            for period in exp.periods(scope, ident):
                if periods is not None and period not in periods:
                    continue
                for url in workers:
                    asks.append((scope, ident, period, url))
    answers = await get_all(
        [f"{url}/v1/{scope}s/{ident}/performance?period={p}" for scope, ident, p, url in asks]
    )
    diffs: list[str] = []
    for (scope, ident, period, url), (status, body) in zip(asks, answers, strict=True):
        if status != 200:
            diffs.append(f"{url} {scope}:{ident}:{period}: {status} {body}")
            continue
        diffs.extend(figure_diffs(exp, scope, ident, period, body))
    assert not diffs, "\n".join(diffs[:40])


async def late_dead_letters(cluster: Cluster, expected: int) -> list[dict[str, Any]]:
    dead = [
        orjson.loads(m.value)
        for m in await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
    ]
    assert len(dead) >= expected, dead
    return dead


def alert_key(alert: dict[str, Any]) -> tuple[str, str, str, str, str]:
    return (alert["kind"], alert["scope"], alert["scope_id"], alert["metric"], alert["period"])


async def test_scripted_stream_two_workers(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    month_start = period_bounds(period_ids(now)["month"])[0]
    if now - month_start < timedelta(minutes=30):
        pytest.skip("the first half hour of a month leaves no room for 'earlier this month'")
    plan = build(now)
    script: Script = plan["script"]
    cluster = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=EXTRA_ENV)
    try:
        workers = [cluster.start_worker(), cluster.start_worker()]
        await wait_ready(workers)
        urls = [w.url for w in workers]
        topic = {k: cluster.topic(k) for k in ("activities", "deals", "feedback", "targets")}

        def to_topics(records: list[Record]) -> list[Record]:
            return [(topic[kind], key, value) for kind, key, value in records]

        cur_month = period_ids(now)["month"]
        prev_month = period_ids(month_start - timedelta(days=1))["month"]
        next_month = period_ids(period_bounds(cur_month)[1] + timedelta(hours=1))["month"]
        months = (cur_month, prev_month)

        # -- phase A: the bulk, shuffled, with duplicates and a tie ----------------------------
        await produce(kafka_bootstrap, to_topics(plan["records_a"]))
        exp_a = Expected(plan["events_a"], late_grace=GRACE)
        assert not exp_a.late
        # D6 won last month then reopened this month: it counts nowhere
        assert exp_a.acc("rep", "dee", prev_month).won == 1
        # D7: won and lost at the same instant, lost processed later wins
        assert exp_a.acc("rep", "eli", cur_month).lost == 1
        await eventually(lambda: check_figures(exp_a, urls[:1], periods=months), timeout=120)

        # -- phase B: late events, re-sent duplicates, the deal won again ----------------------
        await produce(kafka_bootstrap, to_topics(plan["records_b"]))
        exp = Expected([*plan["events_a"], *plan["events_b"]], late_grace=GRACE)
        assert [e for _, e in exp.late] == [e for _, e in plan["late"]]
        assert exp.acc("rep", "dee", cur_month).won == 1  # D6 won again, this month
        dead = await eventually(lambda: late_dead_letters(cluster, 3), timeout=60)
        await eventually(lambda: check_figures(exp, urls[:1], periods=months), timeout=120)
        assert sorted(d["reason"] for d in dead) == ["late_event"] * 3, dead
        assert sorted(orjson.loads(d["payload"])["event_id"] for d in dead) == sorted(
            e["event_id"] for _, e in plan["late"]
        )

        # -- phase C: targets set, changed and deleted -----------------------------------------
        bo_total = exp.acc("rep", "bo", cur_month).total
        north_won = exp.acc("team", "north", cur_month).won
        assert north_won >= 2
        targets: dict[tuple[str, str, str, str], float] = {
            ("rep", "ana", "revenue_won", cur_month): 1e9,
            ("rep", "bo", "activities_total", cur_month): float(bo_total - 1),
            ("rep", "dee", "revenue_won", prev_month): 1e9,
            ("team", "north", "deals_won", cur_month): 2.0,
            ("rep", "cy", "activities.call", next_month): 20.0,
        }
        target_records: list[Record] = []

        def target(scope: str, ident: str, metric: str, period: str, value: float | None) -> None:
            key = f"{scope}:{ident}:{metric}:{period}".encode()
            body = None
            if value is not None:
                body = {
                    "scope": scope,
                    "scope_id": ident,
                    "metric": metric,
                    "period": period,
                    "value": value,
                }
            target_records.append((topic["targets"], key, body))

        target("rep", "cy", "activities.call", next_month, 10.0)
        target("rep", "eli", "deals_won", next_month, 5.0)
        for (scope, ident, metric, period), value in targets.items():
            target(scope, ident, metric, period, value)
        target("rep", "eli", "deals_won", next_month, None)  # deleted
        await produce(kafka_bootstrap, target_records)

        expected_alerts = {
            ("target_achieved", "rep", "bo", "activities_total", cur_month),
            ("target_missed", "rep", "dee", "revenue_won", prev_month),
            ("target_achieved", "team", "north", "deals_won", cur_month),
        }
        if business_fraction(cur_month, datetime.now(UTC)) > 1e-6:
            expected_alerts.add(("target_at_risk", "rep", "ana", "revenue_won", cur_month))

        async def alerts_arrived() -> list[dict[str, Any]]:
            msgs = await read_topic(kafka_bootstrap, cluster.topic("alerts"))
            alerts = [orjson.loads(m.value) for m in msgs]
            assert {alert_key(x) for x in alerts} >= expected_alerts, alerts
            return alerts

        await eventually(alerts_arrived, timeout=60)

        # -- every figure, on both workers -------------------------------------------------------
        await eventually(lambda: check_figures(exp, urls), timeout=60)
        await check_targets(exp, urls, targets, next_month)
        await check_activity(exp, urls, script)
        await check_leaderboards(exp, urls, cur_month, prev_month)
        await check_errors(urls)

        # -- alerts: exactly once each, also after more evaluations -------------------------------
        alerts = await alerts_arrived()
        check_alerts(exp, alerts, expected_alerts, targets)
        await asyncio.sleep(3)  # three more evaluation rounds (SALES_EVALUATION_INTERVAL=1)
        alerts = await alerts_arrived()
        check_alerts(exp, alerts, expected_alerts, targets)

        # -- sales.performance: the latest record per key equals the figures -------------------
        await eventually(lambda: check_performance_topic(cluster, exp, targets, urls), timeout=60)
        for worker in workers:
            assert worker.alive(), worker.log_tail()
    finally:
        cluster.stop()


async def check_targets(
    exp: Expected,
    urls: list[str],
    targets: dict[tuple[str, str, str, str], float],
    next_month: str,
) -> None:
    by_doc: dict[tuple[str, str, str], dict[str, float]] = {}
    for (scope, ident, metric, period), value in targets.items():
        by_doc.setdefault((scope, ident, period), {})[metric] = value
    by_doc.setdefault(("rep", "eli", next_month), {})  # its only target was deleted

    async def check() -> None:
        for (scope, ident, period), wanted in by_doc.items():
            for url in urls:
                before = datetime.now(UTC)
                status, doc = await http_get(
                    f"{url}/v1/{scope}s/{ident}/performance?period={period}"
                )
                after = datetime.now(UTC)
                assert status == 200, doc
                diffs = figure_diffs(exp, scope, ident, period, doc)
                assert not diffs, diffs
                got = {t["metric"]: t for t in doc["targets"]}
                assert set(got) == set(wanted), (scope, ident, period, doc["targets"])
                for metric, value in wanted.items():
                    t = got[metric]
                    actual = exp.actual(scope, ident, metric, period)
                    early = exp.evaluate(value, actual, period, before, AT_RISK_PACE)
                    late = exp.evaluate(value, actual, period, after, AT_RISK_PACE)
                    assert t["target"] == value
                    assert t["actual"] == pytest.approx(float(actual), rel=1e-12), t
                    assert t["attainment"] == pytest.approx(float(actual) / value, rel=1e-9), t
                    lo, hi = early.expected_by_now, late.expected_by_now
                    assert lo - 1e-6 * value <= t["expected_by_now"] <= hi + 1e-6 * value, t
                    if early.pace is None or late.pace is None:
                        assert t["pace"] is None or early.pace is not None or late.pace is not None
                    else:
                        assert late.pace * (1 - 1e-6) <= t["pace"] <= early.pace * (1 + 1e-6), t
                    if early.status == late.status:
                        assert t["status"] == early.status, (t, early)

    await eventually(check, timeout=30)


async def check_activity(exp: Expected, urls: list[str], script: Script) -> None:
    start = script.now - timedelta(days=70)
    end = script.now + timedelta(hours=1)

    def normal(buckets: list[dict[str, Any]]) -> list[tuple[datetime, int, dict[str, int]]]:
        out = []
        for b in buckets:
            start_at = b["start"]
            if isinstance(start_at, str):
                start_at = parse_time(start_at)
            out.append((start_at, b["total"], b["counts"]))
        return out

    for rep in exp.reps():
        for granularity in ("hour", "day"):
            want = exp.activity(rep, granularity, start, end)
            windows = [(start, end)]
            if len(want) >= 4:  # from inclusive, to exclusive, on exact bucket starts
                windows.append((want[1]["start"], want[3]["start"]))
            for lo, hi in windows:
                expected = normal(exp.activity(rep, granularity, lo, hi))
                for url in urls:
                    status, body = await http_get(
                        f"{url}/v1/reps/{rep}/activity?granularity={granularity}"
                        f"&from={q(lo)}&to={q(hi)}"
                    )
                    assert status == 200, body
                    assert body["rep_id"] == rep and body["granularity"] == granularity
                    for b in body["buckets"]:
                        assert parse_time(b["start"]).utcoffset() is not None
                    assert normal(body["buckets"]) == expected, (rep, granularity, lo, hi)


async def check_leaderboards(
    exp: Expected, urls: list[str], cur_month: str, prev_month: str
) -> None:
    cases = [
        (cur_month, "revenue_won", "rep", None, 10),
        (cur_month, "activities_total", "rep", "north", 2),
        (cur_month, "activities_total", "rep", "west", 10),
        (cur_month, "win_rate", "rep", None, 10),
        (cur_month, "avg_deal_size", "rep", None, 3),
        (cur_month, "csat_avg", "team", None, 10),
        (cur_month, "deals_won", "team", None, 10),
        (cur_month, "revenue_won", "team", None, 1),
        (prev_month, "revenue_won", "rep", None, 10),
        (prev_month, "activities_total", "team", None, 10),
    ]
    for period, metric, scope, team, limit in cases:
        want = exp.leaderboard(period, metric, scope, team, limit)
        query = f"period={period}&metric={metric}&scope={scope}&limit={limit}"
        if team:
            query += f"&team={team}"
        for url in urls:
            status, body = await http_get(f"{url}/v1/leaderboard?{query}")
            assert status == 200, body
            assert (body["period"], body["metric"], body["scope"]) == (period, metric, scope)
            diffs = same(body["entries"], want, loose=metric == "avg_deal_size")
            assert not diffs, (query, diffs, body["entries"])


async def check_errors(urls: list[str]) -> None:
    not_found = [
        "/v1/reps/nobody/performance",
        "/v1/teams/nobody/performance?period=2026-Q1",
        "/v1/reps/nobody/activity?granularity=hour",
    ]
    bad = [
        "/v1/reps/ana/performance?period=2026-13",
        "/v1/reps/ana/performance?period=last-month",
        "/v1/teams/north/performance?period=2026-W60",
        "/v1/leaderboard?metric=happiness",
        "/v1/leaderboard?metric=revenue_won&limit=0",
        "/v1/leaderboard?scope=galaxy",
        "/v1/leaderboard?period=2026-Q5",
        "/v1/reps/ana/activity?granularity=minute",
        "/v1/reps/ana/activity?granularity=hour&from=yesterday",
    ]
    for url in urls:
        for path, code in [*((p, 404) for p in not_found), *((p, 400) for p in bad)]:
            status, body = await http_get(url + path)
            assert status == code, (path, status, body)
            assert isinstance(body, dict) and isinstance(body.get("error"), str), (path, body)


def check_alerts(
    exp: Expected,
    alerts: list[dict[str, Any]],
    expected: set[tuple[str, str, str, str, str]],
    targets: dict[tuple[str, str, str, str], float],
) -> None:
    counts = Counter(alert_key(a) for a in alerts)
    assert set(counts) == expected, counts
    assert all(n == 1 for n in counts.values()), counts
    assert len({a["alert_id"] for a in alerts}) == len(alerts)
    fields = {
        "alert_id",
        "kind",
        "scope",
        "scope_id",
        "metric",
        "period",
        "target",
        "actual",
        "attainment",
        "expected_by_now",
        "emitted_at",
    }
    for alert in alerts:
        assert fields <= set(alert), alert
        kind, scope, ident, metric, period = alert_key(alert)
        value = targets[(scope, ident, metric, period)]
        actual = exp.actual(scope, ident, metric, period)
        emitted = parse_time(alert["emitted_at"])
        assert alert["target"] == value
        assert alert["actual"] == pytest.approx(float(actual), rel=1e-12), alert
        assert alert["attainment"] == pytest.approx(float(actual) / value, rel=1e-9), alert
        assert alert["expected_by_now"] == pytest.approx(
            value * business_fraction(period, emitted), rel=1e-6, abs=1e-6
        ), alert
        status = exp.evaluate(value, actual, period, emitted, AT_RISK_PACE).status
        assert kind == "target_" + status, (alert, status)


async def check_performance_topic(
    cluster: Cluster,
    exp: Expected,
    targets: dict[tuple[str, str, str, str], float],
    urls: list[str],
) -> None:
    latest: dict[str, dict[str, Any]] = {}
    for message in await read_topic(cluster.bootstrap, cluster.topic("performance")):
        latest[message.key.decode()] = orjson.loads(message.value)
    diffs: list[str] = []
    for scope, idents in (("rep", exp.reps()), ("team", exp.teams())):
        for ident in idents:
            for period in exp.periods(scope, ident):
                key = f"{scope}:{ident}:{period}"
                if key not in latest:
                    diffs.append(f"{key}: no record on sales.performance")
                    continue
                doc = latest[key]
                diffs.extend(figure_diffs(exp, scope, ident, period, doc))
                wanted = {
                    m: v
                    for (s, i, m, p), v in targets.items()
                    if (s, i, p) == (scope, ident, period)
                }
                got = {t["metric"]: t for t in doc.get("targets", [])}
                if set(got) != set(wanted):
                    diffs.append(f"{key}: targets {sorted(got)} != {sorted(wanted)}")
                    continue
                for metric, value in wanted.items():
                    actual = float(exp.actual(scope, ident, metric, period))
                    t = got[metric]
                    if t["target"] != value or t["actual"] != pytest.approx(actual, rel=1e-12):
                        diffs.append(f"{key}: target {t} != {value}/{actual}")
                    if t["status"] in ("achieved", "missed"):
                        continue
                    if actual >= value:
                        diffs.append(f"{key}: target {t} should be achieved")
    # the record for a rep and month equals what the API answers now
    for rep in exp.reps():
        for period in exp.periods("rep", rep):
            key = f"rep:{rep}:{period}"
            if key not in latest or len(period) != 7 or "-Q" in period:
                continue
            status, api = await http_get(f"{urls[0]}/v1/reps/{rep}/performance?period={period}")
            assert status == 200, api
            strip = {k: v for k, v in api.items() if k != "targets"}
            doc = {k: v for k, v in latest[key].items() if k != "targets"}
            if doc != strip:
                diffs.append(f"{key}: topic {doc} != API {strip}")
    assert not diffs, "\n".join(diffs[:40])
