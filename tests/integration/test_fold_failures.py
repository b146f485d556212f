"""Records the worker cannot fold, against the real broker and worker.

The bad record is put on the internal topic directly (as a corrupted envelope item would
be): the fold raises on it, it reaches sales.deadletter as processing_error, every other
record of its batch is applied, and the committed offsets cover exactly what was handled.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.engine.items import RawEvent, encode_envelope
from streams.worker.hard_stop import EXIT_UNHANDLED
from streams.worker.partitioning import partition_of
from tests.support.workers import (
    Cluster,
    Worker,
    eventually,
    group_commits,
    http_get,
    produce,
    read_topic,
    wait_ready,
)

PARTITIONS = 8


def activity(event_id: str, rep: str, when: datetime) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": when.isoformat(),
        "rep_id": rep,
        "team_id": "west",
        "activity": "demo",
    }


async def committed(bootstrap: str, group: str) -> dict[TopicPartition, int]:
    return {tp: meta.offset for tp, meta in (await group_commits(bootstrap, group)).items()}


async def end_offsets(bootstrap: str, topics: list[str]) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS)]
        return dict(await consumer.end_offsets(tps))
    finally:
        await consumer.stop()


async def test_a_raising_record_is_dead_lettered_and_its_batch_still_applies(
    cluster: Cluster,
) -> None:
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = datetime.now(UTC).replace(microsecond=0)
    scopes = cluster.topic("scopes")
    acts = cluster.topic("activities")
    partition = partition_of("rep:dee", PARTITIONS)
    good = [orjson.dumps(activity(f"g{i}", "dee", now)) for i in range(3)]
    items = [
        RawEvent("rep:dee", "activities", acts, 0, 100 + i, b"dee", payload)
        for i, payload in enumerate(good)
    ]
    broken = RawEvent("rep:dee", "activities", acts, 0, 200, b"dee", b'{"event_id": "b1", ')
    items.insert(2, broken)
    envelope = encode_envelope(items)
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(scopes, envelope, partition=partition)
    finally:
        await producer.stop()
    # and one ordinary input record after it, through ingestion
    await produce(cluster.bootstrap, [(acts, b"dee", orjson.dumps(activity("g9", "dee", now)))])

    async def four_applied() -> None:
        status, body = await http_get(f"{worker.url}/v1/reps/dee/performance")
        assert status == 200 and body["activities"]["total"] == 4, (body, worker.log_tail())

    await eventually(four_applied)

    async def dead_lettered() -> dict[str, Any]:
        dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
        assert dead, worker.log_tail()
        return orjson.loads(dead[0].value)

    doc = await eventually(dead_lettered)
    assert doc["reason"] == "processing_error"
    assert (doc["topic"], doc["partition"], doc["offset"]) == (acts, 0, 200)
    assert doc["payload"] == '{"event_id": "b1", '
    assert "not applied" in doc["detail"]

    async def all_committed() -> None:
        """Every record of the internal and the input topic was handled and committed."""
        offsets = await committed(cluster.bootstrap, cluster.name)
        ends = await end_offsets(cluster.bootstrap, [scopes, acts])
        assert ends[TopicPartition(scopes, partition)] >= 1
        for tp, end in ends.items():
            assert offsets.get(tp, 0) == end, (tp, offsets.get(tp), end)

    await eventually(all_committed)
    assert worker.alive()


async def test_an_internal_record_this_version_cannot_read_stops_the_worker_uncommitted(
    cluster: Cluster,
) -> None:
    """A record on the internal topic written by a version whose items differ (here an item
    kind this version does not know): the worker stops without committing past it, names
    it in its log, and a restarted worker stops on it again instead of skipping it."""
    # a static member: the restarted worker takes the partitions back without waiting out
    # the stopped one's session
    cluster.extra_env = {"SALES_GROUP_INSTANCE_ID": "solo"}
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = datetime.now(UTC).replace(microsecond=0)
    scopes = cluster.topic("scopes")
    acts = cluster.topic("activities")
    partition = partition_of("rep:eve", PARTITIONS)
    await produce(cluster.bootstrap, [(acts, b"eve", orjson.dumps(activity("e1", "eve", now)))])

    async def applied_and_committed() -> None:
        status, body = await http_get(f"{worker.url}/v1/reps/eve/performance")
        assert status == 200 and body["activities"]["total"] == 1, (body, worker.log_tail())
        offsets = await committed(cluster.bootstrap, cluster.name)
        assert offsets.get(TopicPartition(acts, partition)) == 1, offsets

    await eventually(applied_and_committed)
    ends = await end_offsets(cluster.bootstrap, [scopes])
    bad_offset = ends[TopicPartition(scopes, partition)]
    future_item = msgspec.msgpack.encode([[["future_item", "rep:eve", 1]]])
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(scopes, future_item, partition=partition)
    finally:
        await producer.stop()

    bad = TopicPartition(scopes, partition)
    await stops_on(cluster, worker, bad, bad_offset, log_from=0)
    logged = len(worker.log_path.read_bytes())
    # the same port: the same data dir, log file and static member id
    restarted = cluster.start_worker(port=worker.port)
    await stops_on(cluster, restarted, bad, bad_offset, log_from=logged)


async def stops_on(
    cluster: Cluster, worker: Worker, tp: TopicPartition, offset: int, *, log_from: int
) -> None:
    """The worker stopped on the record at `offset` of `tp`, with a log that names it, and
    committed nothing past it."""

    async def stopped() -> None:
        assert not worker.alive(), worker.log_tail()

    await eventually(stopped)
    assert worker.process is not None and worker.process.returncode == EXIT_UNHANDLED
    log = worker.log_path.read_bytes()[log_from:].decode(errors="replace")
    assert "stopping the worker without committing" in log, log
    assert f"offset {offset} of {tp.topic} partition {tp.partition}" in log, log
    assert "future_item" in log and "Upgrading" in log, log
    assert "A restart stops on it again" in log, log
    offsets = await committed(cluster.bootstrap, cluster.name)
    assert offsets.get(tp, 0) <= offset, offsets
