"""Contract section 8.2 through real Kafka: two workers in one group, every figure exact.

A seeded stream of ~1,500 events over the previous and the current month (all within the
late grace, none in the future): 20 reps in 4 teams, 120 deals with histories (opened in a
stage with an expected close and an amount in USD or EUR, moved between stages, won or lost
with a reason, reopened and won again, corrected, some handed to another rep), kinds, sources
(some absent), 30 accounts with several deals each, created_at on most deals, activities of
which ~60% carry a deal_id (touches), and re-sent duplicates. Records are keyed by rep_id, so
a deal's scope, its account's, its reps' and teams' and the activities touching it live on
different partitions, and the two workers exchange them through the scopes topic.

The expected values come from the independent Oracle of tests/unit/engine/scope_harness.py,
fed the very payloads produced here. Deal events never tie on occurred_at within a deal, so
the processing order (which Kafka does not fix across partitions) decides nothing. Both
workers are asked for every rep and team, for both months and the current quarter (each
answers for any key by forwarding), until the section 8.2 groups equal the Oracle's; then
the leaderboards of the four new metrics equal the Oracle's ranking.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from streams.domain.money import FxRates
from tests.integration.expected_figures import period_bounds, period_ids
from tests.integration.test_scripted_stream import get_all
from tests.support.workers import Cluster, eventually, local_status, wait_ready
from tests.unit.engine.scope_harness import FX_PATH, Oracle, close, raw_event
from tests.unit.engine.test_deal_breakdowns import differences, groups_82

EXTRA_ENV = {"SALES_LATE_GRACE": "P70D"}
SEED = 8202
REPS = tuple(f"r{i:02d}" for i in range(20))
TEAM = {rep: f"t{i % 4}" for i, rep in enumerate(REPS)}
TEAMS = tuple(sorted(set(TEAM.values())))
ACCOUNTS = tuple(f"acc{i:02d}" for i in range(30))
DEALS = 120
ACTIVITIES = 1_100
DUPLICATES = 40
ACTIVITY_TYPES = ("call", "email", "meeting", "demo", "proposal", "negotiation", "follow_up")
SOURCES = ("referral", "web", "event", "partner", "outbound")
STAGES = ("qualification", "discovery", "proposal", "negotiation")
REASONS = ("price", "competitor", "timing", "no_budget")
KINDS = ("new_business", "renewal", "expansion")
#: a deal's outcomes, in time order
PATHS: tuple[tuple[str, ...], ...] = (
    ("open", "open", "won"),
    ("open", "lost"),
    ("open", "open"),  # still in the pipeline
    ("open", "won", "reopened"),  # back in the pipeline
    ("open", "won", "reopened", "won"),  # won again
    ("open", "lost", "reopened", "won"),
    ("won",),
    ("lost",),
    ("open", "won", "won"),  # a corrected win
    ("open", "won", "lost"),  # a win corrected to lost
)
#: leaderboard metric -> (group, field) of the performance document
NEW_METRICS = {
    "conversion_win_rate": ("conversion", "win_rate"),
    "retention_rate": ("retention", "rate"),
    "pipeline_open_amount": ("pipeline", "open_amount"),
    "customers_new": ("customers", "new"),
}

Event = tuple[str, dict[str, Any]]


@dataclass
class Stream:
    """The seeded stream, with event times in the previous or the current month."""

    now: datetime
    rng: random.Random = field(default_factory=lambda: random.Random(SEED))
    serial: int = 0

    def __post_init__(self) -> None:
        self.month_start = period_bounds(period_ids(self.now)["month"])[0]
        prev = period_ids(self.month_start - timedelta(days=1))["month"]
        self.prev_start = period_bounds(prev)[0]
        month_end = period_bounds(period_ids(self.now)["month"])[1]
        self.next_end = period_bounds(period_ids(month_end + timedelta(hours=1))["month"])[1]

    def in_prev(self) -> datetime:
        lo, hi = self.prev_start + timedelta(minutes=1), self.month_start - timedelta(minutes=1)
        return lo + (hi - lo) * self.rng.random()

    def in_cur(self) -> datetime:
        lo, hi = self.month_start + timedelta(minutes=1), self.now - timedelta(minutes=5)
        return lo + (hi - lo) * self.rng.random()

    def moment(self) -> datetime:
        """Either month, half and half (the current one may be only hours old)."""
        return self.in_prev() if self.rng.random() < 0.5 else self.in_cur()

    def base(self, prefix: str, rep: str, when: datetime) -> dict[str, Any]:
        self.serial += 1
        return {
            "event_id": f"{prefix}{self.serial}",
            "occurred_at": when.isoformat(),
            "rep_id": rep,
            "team_id": TEAM[rep],
        }

    def money(self) -> dict[str, Any]:
        amount = round(self.rng.uniform(200, 60_000), self.rng.choice((0, 2, 2, 3)))
        return {"amount": amount, "currency": self.rng.choice(("USD", "USD", "EUR"))}

    def opening(self, body: dict[str, Any], chance: float = 1.0) -> None:
        """Stage, expected close and expected value of an open (or reopened) deal."""
        rng = self.rng
        if rng.random() < 0.9 * chance:
            body["stage"] = rng.choice(STAGES)
        if rng.random() < 0.85 * chance:
            close_at = self.prev_start + (self.next_end - self.prev_start) * rng.random()
            body["expected_close_at"] = close_at.isoformat()
        if rng.random() < 0.8 * chance:
            body.update(self.money())

    def deal(self, index: int) -> list[Event]:
        rng = self.rng
        deal_id = f"D{index:03d}"
        path = PATHS[index % len(PATHS)]
        times = sorted(self.moment() for _ in path)
        assert len(set(times)) == len(times)  # no tie within a deal: order decides nothing
        rep = rng.choice(REPS)
        # a few deals move to another rep (often of another team) from some event on
        moved_from = rng.randrange(1, len(path)) if len(path) > 1 and rng.random() < 0.2 else None
        other = rng.choice([r for r in REPS if r != rep])
        fixed: dict[str, Any] = {"deal_id": deal_id}
        if rng.random() < 0.9:
            fixed["account_id"] = rng.choice(ACCOUNTS)
        if rng.random() < 0.8:
            fixed["kind"] = rng.choice(KINDS)
        if rng.random() < 0.75:
            fixed["source"] = rng.choice(SOURCES)
        if rng.random() < 0.85:
            # hours before the first event, or up to 25 days (the month before, at times)
            span = timedelta(hours=12) if rng.random() < 0.4 else timedelta(days=25)
            created = times[0] - span * rng.random()
            fixed["created_at"] = created.isoformat()
        events: list[Event] = []
        for i, (outcome, when) in enumerate(zip(path, times, strict=True)):
            owner = other if moved_from is not None and i >= moved_from else rep
            body: dict[str, Any] = {**fixed, "outcome": outcome}
            if i > 0 and rng.random() < 0.1:  # a correction of the deal's fields
                body["source"] = rng.choice(SOURCES)
            if i > 0 and rng.random() < 0.05:
                body.pop("created_at", None)
            if outcome == "open":
                self.opening(body)
            elif outcome == "reopened":
                self.opening(body, chance=0.7)
            elif outcome == "won":
                body.update(self.money())
            else:
                if rng.random() < 0.8:
                    body["lost_reason"] = rng.choice(REASONS)
                if rng.random() < 0.3:
                    body.update(self.money())
            events.append(("deals", {**self.base("d", owner, when), **body}))
        return events

    def activity(self, rep: str, when: datetime) -> Event:
        rng = self.rng
        body: dict[str, Any] = {"activity": rng.choice(ACTIVITY_TYPES)}
        if rng.random() < 0.6:
            body["deal_id"] = f"D{rng.randrange(DEALS):03d}"
        if rng.random() < 0.3:
            body["account_id"] = rng.choice(ACCOUNTS)
        return ("activities", {**self.base("a", rep, when), **body})

    def build(self) -> list[Event]:
        rng = self.rng
        events: list[Event] = []
        for index in range(DEALS):
            events.extend(self.deal(index))
        for rep in REPS:  # every rep has data in both months (so in every leaderboard)
            events.append(self.activity(rep, self.in_prev()))
            events.append(self.activity(rep, self.in_cur()))
        for _ in range(ACTIVITIES - 2 * len(REPS)):
            events.append(self.activity(rng.choice(REPS), self.moment()))
        rng.shuffle(events)
        for i in rng.sample(range(len(events)), DUPLICATES):  # re-sent, later on
            events.insert(rng.randrange(i, len(events)), events[i])
        return events


async def produce_by_rep(cluster: Cluster, events: list[Event], chunk: int = 200) -> None:
    """Every event to its topic, keyed by rep_id (deals too), in order, in chunks."""
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, linger_ms=5)
    await producer.start()
    try:
        for i in range(0, len(events), chunk):
            futures = [
                await producer.send(
                    cluster.topic(kind), orjson.dumps(event), key=event["rep_id"].encode()
                )
                for kind, event in events[i : i + chunk]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


def scope_path(scope: str) -> str:
    kind, ident = scope.split(":", 1)
    return f"/v1/{kind}s/{ident}/performance"


def checked_groups(doc: dict[str, Any]) -> dict[str, Any]:
    """The section 8.2 groups, and the section 4 counts that show every event arrived."""
    return {
        **groups_82(doc),
        "activities.total": doc["activities"]["total"],
        "deals.won": doc["deals"]["won"],
        "deals.lost": doc["deals"]["lost"],
        "deals.revenue_won": doc["deals"]["revenue_won"],
    }


async def check_documents(want: dict[tuple[str, str], dict[str, Any]], urls: list[str]) -> None:
    asks = [(scope, period, url) for (scope, period) in want for url in urls]
    answers = await get_all([f"{url}{scope_path(s)}?period={p}" for s, p, url in asks])
    problems: list[str] = []
    for (scope, period, url), (status, body) in zip(asks, answers, strict=True):
        if status != 200:
            problems.append(f"{url} {scope} {period}: {status} {body}")
            continue
        diff = differences(checked_groups(body), want[(scope, period)])
        problems.extend(
            f"{url} {scope} {period} {k}: got {g!r}, want {w!r}" for k, (g, w) in diff.items()
        )
    assert not problems, "\n".join(problems[:30]) + f"\n({len(problems)} differences)"


def expected_leaderboard(
    want: dict[tuple[str, str], dict[str, Any]], metric: str, scope: str, period: str
) -> list[dict[str, Any]]:
    group, name = NEW_METRICS[metric]
    idents = REPS if scope == "rep" else TEAMS
    entries = []
    for ident in idents:
        value = want[(f"{scope}:{ident}", period)][group][name]
        if value is None:
            continue
        entries.append(
            {"id": ident, "team_id": TEAM[ident] if scope == "rep" else ident, "value": value}
        )
    entries.sort(key=lambda e: (-e["value"], e["id"]))
    return [{"rank": rank, **e} for rank, e in enumerate(entries, start=1)]


async def check_leaderboards(
    want: dict[tuple[str, str], dict[str, Any]], urls: list[str], periods: list[str]
) -> None:
    asks = [
        (metric, scope, period, url)
        for metric in NEW_METRICS
        for scope in ("rep", "team")
        for period in periods
        for url in urls
    ]
    answers = await get_all(
        [
            f"{url}/v1/leaderboard?period={period}&metric={metric}&scope={scope}&limit=1000"
            for metric, scope, period, url in asks
        ]
    )
    problems: list[str] = []
    for (metric, scope, period, url), (status, body) in zip(asks, answers, strict=True):
        expected = expected_leaderboard(want, metric, scope, period)
        if status != 200 or not close(body["entries"], expected):
            problems.append(f"{url} {metric} {scope} {period}: got {body}, want {expected}")
    assert not problems, "\n".join(problems[:8])


def assert_scenario_covers(
    oracle: Oracle, want: dict[tuple[str, str], dict[str, Any]], cur: str, prev: str
) -> None:
    """The stream exercises what this test claims (so a pass means something)."""
    states = Counter(x["outcome"] for x in oracle.current.values())
    assert min(states[o] for o in ("won", "lost", "open", "reopened")) >= 5, states
    teams = [want[(f"team:{t}", p)] for t in TEAMS for p in (prev, cur)]
    assert sum(w["customers"]["repeat"] for w in teams) >= 3
    assert sum(w["customers"]["new"] for w in teams) >= 10
    assert sum(w["retention"]["renewals_won"] + w["retention"]["renewals_lost"] for w in teams) >= 5
    assert sum(w["pipeline"]["open_count"] for w in teams) >= 5
    assert sum(w["conversion"]["created"] for w in teams) >= 20
    assert any("unknown" in w["deals.by_source"] for w in teams)
    assert any("unspecified" in w["deals.lost_by_reason"] for w in teams)
    assert any("unknown" in w["pipeline"]["by_stage"] for w in teams)
    assert any(w["efficiency.touches_by_type_per_won_deal"] for w in teams)
    assert any(w["deals.revenue_by_kind"].get("renewal") for w in teams)


async def test_section8_figures_two_workers(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    stream = Stream(now)
    if now - stream.month_start < timedelta(minutes=30):
        pytest.skip("the first half hour of a month leaves no room for 'earlier this month'")
    events = stream.build()
    assert 1_300 <= len(events) <= 1_700, len(events)
    cur, quarter = period_ids(now)["month"], period_ids(now)["quarter"]
    prev = period_ids(stream.month_start - timedelta(days=1))["month"]
    periods = [prev, cur, quarter]

    oracle = Oracle(
        [raw_event(kind, event) for kind, event in events],
        ZoneInfo("UTC"),
        FxRates.load(FX_PATH, "USD"),
    )
    scopes = [f"rep:{r}" for r in REPS] + [f"team:{t}" for t in TEAMS]
    want = {(s, p): checked_groups(oracle.figures(s, p)) for s in scopes for p in periods}
    assert_scenario_covers(oracle, want, cur, prev)
    # some deals were handed to another rep: earlier events name a rep that no longer counts
    owners = {deal: data["rep_id"] for deal, data in oracle.current.items()}
    assert (
        sum(1 for kind, e in events if kind == "deals" and owners[e["deal_id"]] != e["rep_id"]) >= 5
    )

    cluster = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=EXTRA_ENV)
    try:
        workers = [cluster.start_worker(), cluster.start_worker()]
        await wait_ready(workers)
        urls = [w.url for w in workers]
        await produce_by_rep(cluster, events)

        # the figures converge after several hops between the workers: first on one, then
        # on both (each answers for every key, forwarding to the owner)
        await eventually(lambda: check_documents(want, urls[:1]), timeout=90)
        await eventually(lambda: check_documents(want, urls), timeout=30)
        await eventually(lambda: check_leaderboards(want, urls, periods), timeout=30)

        # both workers own some of the keys: the answers above crossed workers
        owned: Counter[str] = Counter()
        for scope in scopes:
            path = f"{scope_path(scope)}?period={cur}"
            statuses = [await local_status(url + path) for url in urls]
            assert sorted(statuses) == [200, 503], (scope, statuses)
            owned[urls[statuses.index(200)]] += 1
        assert set(owned) == set(urls), owned
        assert all(w.alive() for w in workers), [w.log_tail() for w in workers]
    finally:
        cluster.stop()
