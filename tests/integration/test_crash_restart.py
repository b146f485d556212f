"""A worker killed with SIGKILL mid-stream comes back with exactly the right figures.

Nothing lost, nothing counted twice: the figures of every rep and team, in every period, equal
the independent calculation of tests/integration/expected_figures.py after
1. a kill while processing, restarted on the same data dir (RocksDB kept),
2. a kill while processing, restarted with the data dir deleted (state only from the changelog),
3. one of two workers killed while processing: the survivor takes over its partitions.
Records are produced with null keys, in shuffled order, while the worker runs.
"""

from __future__ import annotations

import asyncio
import random
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from tests.integration.expected_figures import Expected, period_ids
from tests.integration.test_scripted_stream import check_figures
from tests.support.workers import Cluster, Worker, eventually, http_get, wait_ready

GRACE = timedelta(days=40)
EXTRA_ENV = {
    "SALES_LATE_GRACE": "P40D",
    # a killed member leaves the group after 10 s instead of Faust's default 60 s
    "SALES_SESSION_TIMEOUT": "10",
}
ACTIVITY_TYPES = ("call", "email", "meeting", "demo", "proposal", "negotiation", "follow_up")
CURRENCIES = ("USD", "EUR", "GBP", "JPY")
DEAL_PATHS = (
    ("won",),
    ("lost",),
    ("won", "reopened"),
    ("won", "reopened", "won"),
    ("lost", "won"),
    ("won", "lost"),
)

Event = tuple[str, dict[str, Any]]


def is_month(period: str) -> bool:
    return len(period) == 7 and "-Q" not in period


def generate(now: datetime, seed: int = 11) -> list[Event]:
    """~3000 events over the last four weeks: 20 reps in 4 teams, some reps moving team."""
    rng = random.Random(seed)
    start = now - timedelta(days=28)
    span = (now - timedelta(minutes=5)) - start
    reps = [f"r{i:02d}" for i in range(20)]
    move_at = start + span / 2

    def team(rep: str, when: datetime) -> str:
        i = int(rep[1:])
        moved = i % 5 == 0 and when >= move_at
        return f"t{(i + moved) % 4}"

    serial = 0

    def base(prefix: str, rep: str, when: datetime) -> dict[str, Any]:
        nonlocal serial
        serial += 1
        return {
            "event_id": f"{prefix}{serial}",
            "occurred_at": when.isoformat(),
            "rep_id": rep,
            "team_id": team(rep, when),
        }

    def moment() -> datetime:
        return start + span * rng.random()

    events: list[Event] = []
    for _ in range(2400):
        rep = rng.choice(reps)
        events.append(
            ("activities", {**base("a", rep, moment()), "activity": rng.choice(ACTIVITY_TYPES)})
        )
    for _ in range(300):
        rep = rng.choice(reps)
        scores: dict[str, int] = {}
        if rng.random() < 0.8:
            scores["csat"] = rng.randint(1, 5)
        if not scores or rng.random() < 0.5:
            scores["nps"] = rng.randint(0, 10)
        events.append(("feedback", {**base("f", rep, moment()), **scores}))
    for d in range(150):
        rep = rng.choice(reps)
        times = sorted(moment() for _ in DEAL_PATHS[d % len(DEAL_PATHS)])
        created = times[0] - timedelta(days=rng.randint(1, 60), hours=rng.randint(0, 23))
        for outcome, when in zip(DEAL_PATHS[d % len(DEAL_PATHS)], times, strict=True):
            body: dict[str, Any] = {"deal_id": f"deal-{d}", "outcome": outcome}
            if outcome == "won":
                body["amount"] = round(rng.uniform(100, 50_000), rng.choice((0, 2, 3)))
                body["currency"] = rng.choice(CURRENCIES)
                if rng.random() < 0.7:
                    body["created_at"] = created.isoformat()
            events.append(("deals", {**base("d", rep, when), **body}))
    rng.shuffle(events)
    # re-sent duplicates, here and there
    for i in rng.sample(range(len(events)), 120):
        events.insert(rng.randrange(i, len(events)), events[i])
    return events


class Feed:
    """Produces events with null keys in small chunks, in the background."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.sent = 0
        self.hurried = False

    def hurry(self) -> None:
        """What is left goes without pauses: the test that paced the feed saw what it waited for."""
        self.hurried = True

    async def run(self, events: list[Event], chunk: int = 50, pause: float = 0.05) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.cluster.bootstrap, linger_ms=5)
        await producer.start()
        try:
            for i in range(0, len(events), chunk):
                futures = []
                for kind, event in events[i : i + chunk]:
                    value = orjson.dumps(event)
                    futures.append(await producer.send(self.cluster.topic(kind), value, key=None))
                await asyncio.gather(*futures)
                self.sent += len(events[i : i + chunk])
                await asyncio.sleep(0 if self.hurried else pause)
        finally:
            await producer.stop()


async def applied_activities(worker: Worker, months: list[str]) -> int:
    """Activities the worker has applied so far (sum over teams of the months' totals)."""
    total = 0
    for month in months:
        status, body = await http_get(
            f"{worker.url}/v1/leaderboard?period={month}&metric=activities_total&scope=team&limit=100"
        )
        assert status == 200, body
        total += sum(e["value"] for e in body["entries"])
    return total


async def kill_mid_stream(worker: Worker, months: list[str], above: int) -> int:
    """SIGKILL the worker as soon as it has applied more than `above` activities."""

    async def progressed() -> int:
        n = await applied_activities(worker, months)
        assert n > above, (n, above, worker.log_tail(15))
        return n

    seen = await eventually(progressed, timeout=90, interval=0.1)
    worker.kill()
    return int(seen)


async def converged(exp: Expected, urls: list[str], *, full: bool) -> None:
    months = tuple({p for r in exp.reps() for p in exp.periods("rep", r) if is_month(p)})
    await eventually(lambda: check_figures(exp, urls, periods=months), timeout=120)
    if full:
        await eventually(lambda: check_figures(exp, urls), timeout=60)


async def test_sigkill_restart_loses_nothing_counts_nothing_twice(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = generate(now)
    exp = Expected(events, late_grace=GRACE)
    assert not exp.late

    def activities(upto: int) -> int:
        e = Expected(events[:upto], late_grace=GRACE)
        return sum(
            e.acc("team", t, p).total
            for t in e.teams()
            for p in e.periods("team", t)
            if is_month(p)
        )

    months = sorted({period_ids(now - timedelta(days=d))["month"] for d in range(0, 30)})
    parts = [events[:900], events[900:1800], events[1800:2500], events[2500:]]
    cluster = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=EXTRA_ENV)
    feed = Feed(cluster)
    try:
        worker = cluster.start_worker()
        port = worker.port
        await wait_ready([worker])

        # 1. killed while processing, restarted on the same data dir
        task = asyncio.create_task(feed.run(parts[0]))
        first = await kill_mid_stream(worker, months, above=0)
        await task
        await Feed(cluster).run(parts[1], chunk=500, pause=0)  # arrives while it is dead
        worker = cluster.start_worker(port)
        await wait_ready([worker])
        await converged(Expected(events[:1800], late_grace=GRACE), [worker.url], full=False)

        # 2. killed while processing, restarted with its data dir deleted
        task = asyncio.create_task(feed.run(parts[2]))
        second = await kill_mid_stream(worker, months, above=activities(1800))
        shutil.rmtree(tmp_path / f"worker-{port}")
        await task
        worker = cluster.start_worker(port)
        await wait_ready([worker])
        exp_so_far = Expected(events[:2500], late_grace=GRACE)
        await converged(exp_so_far, [worker.url], full=True)

        # 3. one of two workers killed while processing: the survivor takes over
        other = cluster.start_worker()
        await wait_ready([worker, other])
        task = asyncio.create_task(feed.run(parts[3], chunk=25))
        third = await kill_mid_stream(other, months, above=activities(2500))
        await task
        await converged(exp, [worker.url], full=True)
        assert worker.alive(), worker.log_tail()
        # the kills happened while the worker was applying records
        assert first > 0 and activities(1800) < second and activities(2500) < third
    finally:
        cluster.stop()


async def test_killed_before_its_first_commit_the_next_worker_starts_from_the_beginning(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """Regression: a worker killed before it ever committed an offset left partitions with
    no committed offset; during the next worker's recovery Faust's fetcher dropped the
    records it had fetched and, with no committed offset to seek back to, skipped them."""
    now = datetime.now(UTC)
    events = generate(now)[:1200]
    exp = Expected(events, late_grace=GRACE)
    months = sorted({period_ids(now - timedelta(days=d))["month"] for d in range(0, 30)})
    first = Cluster(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        extra_env={**EXTRA_ENV, "SALES_COMMIT_INTERVAL": "600"},
    )
    try:
        worker = first.start_worker()
        await wait_ready([worker])
        await Feed(first).run(events, chunk=200, pause=0)
        await kill_mid_stream(worker, months, above=0)  # long before its first commit
    finally:
        first.stop()
    second = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=EXTRA_ENV)
    try:
        worker = second.start_worker(worker.port)
        await wait_ready([worker])
        await converged(exp, [worker.url], full=False)
    finally:
        second.stop()
