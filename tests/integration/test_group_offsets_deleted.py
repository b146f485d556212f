"""A consumer group whose committed offsets Kafka deleted while its state remains (every
worker stopped longer than the broker's offsets.retention.minutes): the next start reads
the input from its earliest record again. Figures stay right (what was folded comes again
as repeats, or late), and the start says why the dead letters repeat
(streams.worker.changelog_watermark)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from tests.integration.test_ingestion import activity
from tests.support.clock import clear_of_month_start
from tests.support.workers import (
    Cluster,
    delete_group,
    eventually,
    http_get,
    produce,
    read_topic,
    wait_ready,
)


async def test_input_read_again_after_the_groups_offsets_were_deleted_counts_nothing_twice(
    cluster: Cluster,
) -> None:
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = clear_of_month_start(datetime.now(UTC).replace(microsecond=0), timedelta(minutes=10))
    calls = [activity(f"c{n}", "ana", now - timedelta(minutes=n)) for n in range(3)]
    late = activity("old", "ana", now - timedelta(days=10))  # after the others: late
    acts = cluster.topic("activities")
    await produce(cluster.bootstrap, [(acts, b"ana", event) for event in [*calls, late]])

    async def figures() -> dict[str, object]:
        status, body = await http_get(f"{worker.url}/v1/reps/ana/performance")
        assert status == 200 and body["activities"]["total"] == 3, body
        return dict(body["activities"])

    async def dead_letters(count: int) -> None:
        dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
        reasons = [orjson.loads(m.value)["reason"] for m in dead]
        assert reasons == ["late_event"] * count, reasons

    before = await eventually(figures)
    await eventually(lambda: dead_letters(1))
    worker.stop()
    await delete_group(cluster.bootstrap, cluster.name)

    worker = cluster.start_worker(worker.port)
    await wait_ready([worker])
    said = f"consumer group {cluster.name!r} has no committed offsets, but its changelog"
    assert said in worker.log_path.read_text(errors="replace"), worker.log_tail()
    await eventually(lambda: dead_letters(2))  # the input was read again: the late one again
    assert await figures() == before
