"""SALES_RETENTION against the real broker: a worker started with it refuses the periods
before its horizon at once, deletes their state at its first Tick, and the deletion is in
the changelog: a worker restored from it without the setting no longer has those counts,
and every kept figure is as before."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from streams.domain.periods import current_period_ids, periods_of
from tests.support.clock import clear_of_month_start
from tests.support.workers import (
    Cluster,
    Worker,
    eventually,
    http_get,
    produce,
    read_topic,
    wait_ready,
)

UTC_ZONE = ZoneInfo("UTC")


def activity(event_id: str, at: datetime) -> tuple[str, bytes, bytes]:
    event = {
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "rep_id": "zed",
        "team_id": "west",
        "activity": "call",
    }
    return ("activities", b"zed", orjson.dumps(event))


async def totals(worker: Worker, *periods: str) -> list[Any]:
    out: list[Any] = []
    for period in periods:
        status, body = await http_get(f"{worker.url}/v1/reps/zed/performance?period={period}")
        out.append(body["activities"]["total"] if status == 200 else status)
    return out


async def test_a_retention_drops_old_periods_from_the_changelog(cluster: Cluster) -> None:
    now = clear_of_month_start(datetime.now(UTC).replace(microsecond=0), timedelta(minutes=15))
    old = now - timedelta(days=200)
    old_month = periods_of(old, UTC_ZONE)[2]
    month = current_period_ids(now, UTC_ZONE)["month"]
    first = cluster.start_worker()
    await wait_ready([first])
    # one rep, one partition, in time order: the old events are on time when they arrive
    records = [activity(f"old-{i}", old + timedelta(minutes=i)) for i in range(3)]
    records += [activity(f"new-{i}", now - timedelta(minutes=10 - i)) for i in range(2)]
    await produce(cluster.bootstrap, [(cluster.topic(k), key, v) for k, key, v in records])

    async def folded() -> None:
        assert await totals(first, old_month, month) == [3, 2], first.log_tail()

    await eventually(folded)
    old_key = f"rep:zed:{old_month}".encode()

    async def old_totals_published() -> list[Any]:
        published = await read_topic(cluster.bootstrap, cluster.topic("performance"))
        return [orjson.loads(r.value)["activities"]["total"] for r in published if r.key == old_key]

    async def published_before() -> None:
        assert (await old_totals_published())[-1:] == [3]

    await eventually(published_before)
    first.stop()  # a clean stop leaves the group and writes its last checkpoint

    cluster.extra_env = {"SALES_RETENTION": "P92D", "SALES_EVALUATION_INTERVAL": "1"}
    cut = cluster.start_worker()
    await wait_ready([cut])
    assert await totals(cut, old_month, month) == [410, 2]

    async def deleted() -> None:
        assert "SALES_RETENTION: deleted" in cut.log_tail(300), cut.log_tail()

    await eventually(deleted)
    await asyncio.sleep(3)  # several runs of the publisher (every 0.5 s here) after the cut
    cut.stop()
    # sales.performance keeps the old month's last real document: no zeros replaced it
    assert (await old_totals_published())[-1] == 3

    cluster.extra_env = {}
    plain = cluster.start_worker()  # a new data dir: its state comes from the changelog
    await wait_ready([plain])
    assert await totals(plain, old_month, month) == [0, 2], plain.log_tail()
