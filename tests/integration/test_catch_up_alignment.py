"""A catch-up of a time-ordered backlog longer than SALES_LATE_GRACE loses nothing as late.

Why: the input topics are fetched partition by partition, and a sparse topic's fetch (deals,
feedback) reaches days further than a dense one's (activities). Folded as fetched, the
worker's stream time ran to the present while the activities were weeks behind: a 30-day
backlog lost 92 % of a month's activities as late_event with the default 7-day grace. The
worker now folds its input partitions in step by event time (streams.worker.alignment).
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from tests.support.workers import Cluster, eventually, http_get, read_topic, wait_ready

pytestmark = pytest.mark.integration

REPS = [f"r{i:02d}" for i in range(40)]
TEAM = {rep: f"t{i % 4}" for i, rep in enumerate(REPS)}


def backlog(now: datetime, events: int, days: int) -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, rep, event) in event-time order over `days`: mostly activities, 5 % deals
    and 3 % feedback, as a CRM, a dialer and a survey tool would have sent them."""
    rng = random.Random(7)
    start = now - timedelta(days=days)
    step = timedelta(days=days) / events
    out = []
    for i in range(events):
        rep = rng.choice(REPS)
        base = {"occurred_at": (start + i * step).isoformat(), "rep_id": rep}
        base["team_id"] = TEAM[rep]
        draw = rng.random()
        if draw < 0.05:
            deal = {"deal_id": f"deal-{i}", "outcome": "won", "amount": 100, "currency": "USD"}
            out.append(("deals", rep, {"event_id": f"d{i}", **base, **deal}))
        elif draw < 0.08:
            out.append(("feedback", rep, {"event_id": f"f{i}", **base, "csat": 4}))
        else:
            out.append(("activities", rep, {"event_id": f"a{i}", **base, "activity": "call"}))
    return out


async def send_all(cluster: Cluster, records: list[tuple[str, str, dict[str, Any]]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap, linger_ms=20)
    await producer.start()
    try:
        for kind, rep, event in records:
            await producer.send(cluster.topic(kind), orjson.dumps(event), key=rep.encode())
        await producer.flush()
    finally:
        await producer.stop()


async def produced_backlog(cluster: Cluster, events: int) -> dict[str, Counter[str]]:
    """Create the topics (a worker started and stopped), send a 30-day backlog of `events`,
    and return its activities per month and team."""
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    first = cluster.start_worker()  # creates the topics with the partitions the table wants
    await wait_ready([first])
    first.stop()
    records = backlog(now, events, days=30)
    await send_all(cluster, records)
    produced: dict[str, Counter[str]] = {}
    for kind, rep, event in records:
        if kind == "activities":
            produced.setdefault(event["occurred_at"][:7], Counter())[TEAM[rep]] += 1
    return produced


async def team_totals(url: str, month: str) -> dict[str, float]:
    query = f"period={month}&metric=activities_total&scope=team&limit=100"
    status, body = await http_get(f"{url}/v1/leaderboard?{query}")
    assert status == 200, body
    return {entry["id"]: float(entry["value"]) for entry in body["entries"] if entry["value"]}


async def test_a_backlog_of_30_days_is_folded_without_late_events(cluster: Cluster) -> None:
    expected = await produced_backlog(cluster, 12_000)
    worker = cluster.start_worker()
    await wait_ready([worker])

    async def caught_up() -> None:
        for month, per_team in expected.items():
            got = await team_totals(worker.url, month)
            assert got == {team: float(n) for team, n in per_team.items()}, (month, got)

    try:
        await eventually(caught_up, timeout=180, interval=2)
    finally:
        dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
        reasons = Counter(orjson.loads(record.value)["reason"] for record in dead)
        assert reasons == Counter(), reasons


async def test_a_worker_joining_mid_catch_up_loses_and_repeats_nothing(cluster: Cluster) -> None:
    """Records a catch-up leaves for later wait in the worker (streams.worker.delivery), not
    acknowledged: a rebalance must leave none of them unread and none read twice. A second
    worker joins while the first folds a 30-day backlog: every activity is counted once or
    dead-lettered once (with two workers each aligns only its own partitions, so some may
    come out late: README, Decisions, Stream time), nothing else."""
    produced = await produced_backlog(cluster, 30_000)
    one = cluster.start_worker()
    await wait_ready([one])
    two = cluster.start_worker()  # joins while the first is catching up

    async def every_activity_accounted_for() -> None:
        dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
        late: dict[str, Counter[str]] = {}
        for record in dead:
            letter = orjson.loads(record.value)
            assert letter["reason"] == "late_event", letter
            event = orjson.loads(letter["payload"])
            if letter["topic"] == cluster.topic("activities"):
                late.setdefault(event["occurred_at"][:7], Counter())[event["team_id"]] += 1
        for month, per_team in produced.items():
            got = await team_totals(two.url, month)
            counted = {
                team: got.get(team, 0.0) + late.get(month, {}).get(team, 0) for team in per_team
            }
            assert counted == {team: float(n) for team, n in per_team.items()}, (month, got)

    await wait_ready([one, two])
    await eventually(every_activity_accounted_for, timeout=240, interval=3)
