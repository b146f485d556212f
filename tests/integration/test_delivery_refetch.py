"""Seeking back dropped fetched records, against a real broker and aiokafka's own consumer:
the partition state `rewind_unmoved` reads is aiokafka's, and a Faust topic partition must
find it (tests/unit/worker/test_delivery_refetch.py covers when the consumer calls it)."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from faust.types import TP

from streams.worker.delivery import rewind_unmoved
from tests.support.topics import create_topic


async def fetch_offsets(consumer: AIOKafkaConsumer, tp: TP, until: int) -> list[int]:
    """Offsets of every record handed out, until the one before `until`."""
    offsets: list[int] = []
    for _ in range(50):
        batches = await consumer.getmany(timeout_ms=500)
        offsets += [r.offset for batch in batches.values() for r in batch]
        if offsets and offsets[-1] == until - 1:
            break
    return offsets


async def test_records_handed_out_are_read_again_unless_the_partition_moved(
    kafka_bootstrap: str, unique_name: str
) -> None:
    topic = f"{unique_name}.refetch"
    await create_topic(topic, 1, bootstrap_servers=kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(topic, str(n).encode(), partition=0)
    finally:
        await producer.stop()

    tp = TP(topic, 0)  # Faust's, as the consumer's batch path holds it
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        assert await fetch_offsets(consumer, tp, 10) == list(range(10))
        assert await consumer.position(tp) == 10

        assert rewind_unmoved(consumer, {tp: (3, 10), TP(topic, 7): (0, 1)}) == [tp]
        assert await fetch_offsets(consumer, tp, 10) == list(range(3, 10))

        consumer.seek(tp, 6)  # someone sought it after the fetch: that position stands
        assert rewind_unmoved(consumer, {tp: (0, 10)}) == []
        assert await fetch_offsets(consumer, tp, 10) == list(range(6, 10))
    finally:
        await consumer.stop()
