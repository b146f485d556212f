"""Once-only alerts wait for their status to hold (SALES_ALERT_SETTLE, 5 s by default),
against the real broker: a target sent just before the deal that meets it alerts
`target_achieved` only (at first sight it alerted `target_missed` with an actual of 0, an
audit's finding), and a target that is really missed alerts once it has settled, through
the worker's own re-evaluation."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.worker.partitioning import partition_of
from tests.support.workers import Cluster, eventually, produce, read_topic, wait_ready

PARTITIONS = 8  # the workers' default SALES_TOPIC_PARTITIONS


def target(cluster: Cluster, rep: str, period: str) -> tuple[str, bytes, dict[str, Any]]:
    body = {"scope": "rep", "scope_id": rep, "metric": "deals_won", "period": period, "value": 1}
    return (cluster.topic("targets"), f"rep:{rep}:deals_won:{period}".encode(), body)


async def test_a_target_sent_before_the_deal_that_meets_it_alerts_achieved_only(
    cluster: Cluster,
) -> None:
    month_start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    closed_at = month_start - timedelta(hours=12)  # last month: its targets are decided
    period = closed_at.strftime("%Y-%m")
    # a deal folded on another partition than its rep's: it reaches the rep a batch later
    deal_id = next(
        f"D{i}"
        for i in range(100)
        if partition_of(f"deal:D{i}", PARTITIONS) != partition_of("rep:ona", PARTITIONS)
    )
    deal = {
        "event_id": "won-1",
        "occurred_at": closed_at.isoformat(),
        "rep_id": "ona",
        "team_id": "north",
        "deal_id": deal_id,
        "outcome": "won",
        "amount": 1200,
        "currency": "USD",
    }
    worker = cluster.start_worker()
    await wait_ready([worker])
    await produce(
        cluster.bootstrap,
        [
            target(cluster, "ona", period),
            target(cluster, "pia", period),  # no deal: really missed
            (cluster.topic("deals"), b"ona", deal),
        ],
    )

    async def alerts() -> dict[str, list[tuple[str, Any]]]:
        by_rep: dict[str, list[tuple[str, Any]]] = defaultdict(list)
        for record in await read_topic(cluster.bootstrap, cluster.topic("alerts")):
            alert = orjson.loads(record.value)
            by_rep[alert["scope_id"]].append((alert["kind"], alert["actual"]))
        return by_rep

    async def both_alerted() -> dict[str, list[tuple[str, Any]]]:
        found = await alerts()
        assert found["ona"] and found["pia"], (found, worker.log_tail())
        return found

    await eventually(both_alerted, timeout=60)
    await asyncio.sleep(8)  # past the settle time and a re-evaluation: nothing more comes
    found = await alerts()
    assert found["ona"] == [("target_achieved", 1)], found
    assert found["pia"] == [("target_missed", 0)], found
    assert worker.alive(), worker.log_tail()
