"""A changelog topic deleted while the workers were stopped: the next start refuses, saying
so, instead of restoring an empty state and answering for thousands of events that nothing
was seen (the operator audit's finding). Before, the first start stopped on Faust's
ConsistencyError traceback and the second discarded the local state and started empty.

Each commit records, in its offset metadata, how far the changelog had reached
(streams.worker.changelog_watermark); the start compares that with the changelog."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import orjson
from aiokafka.admin import AIOKafkaAdminClient

from streams.worker.commit_metadata import decode
from tests.support.workers import (
    Cluster,
    eventually,
    group_commits,
    http_get,
    produce,
    wait_ready,
)

REFUSAL = "has lost records of the state"


async def committed_metadata(bootstrap: str, group: str) -> list[str]:
    return [meta.metadata for meta in (await group_commits(bootstrap, group)).values()]


async def delete_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([topic])
        for _ in range(100):
            if topic not in await admin.list_topics():
                return
            await asyncio.sleep(0.2)
        raise AssertionError(f"{topic} was not deleted")
    finally:
        await admin.close()


def exits(worker: object, timeout: float = 120.0) -> int:
    process = worker.process  # type: ignore[attr-defined]
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert process.poll() is not None, "the worker did not stop on the lost changelog"
    return int(process.returncode)


async def test_a_start_on_a_changelog_that_lost_records_is_refused(cluster: Cluster) -> None:
    at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    period = at.strftime("%Y-%m-%d")
    calls = [
        (
            cluster.topic("activities"),
            b"ada",
            orjson.dumps(
                {
                    "event_id": f"c{i}",
                    "occurred_at": at.isoformat(),
                    "rep_id": "ada",
                    "team_id": "t1",
                    "activity": "call",
                }
            ),
        )
        for i in range(20)
    ]
    first = cluster.start_worker()
    await wait_ready([first])
    await produce(cluster.bootstrap, calls)

    async def counted() -> None:
        status, body = await http_get(f"{first.url}/v1/reps/ada/performance?period={period}")
        assert status == 200 and body["activities"]["total"] == 20, body

    await eventually(counted, timeout=60)

    async def recorded() -> None:
        metadata = await committed_metadata(cluster.bootstrap, cluster.name)
        assert any(decode(m).changelog_offset is not None for m in metadata), metadata

    await eventually(recorded, timeout=60)  # the commits say how far the changelog reached
    first.stop()
    await delete_topic(cluster.bootstrap, f"{cluster.name}-scopes-changelog")

    for attempt in range(2):  # refused every time, never "restored" empty
        again = cluster.start_worker(first.port)
        assert exits(again) != 0, again.log_tail()
        log = again.log_tail(200)
        assert REFUSAL in log and "Reprocessing" in log, log
        assert "discarding the local state" not in log, (attempt, log)
        assert "Traceback" not in log, log
