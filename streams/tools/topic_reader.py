"""Read a whole topic, or what it took in since a moment, up to the end it had when asked.

The commands that look at what Kafka holds (`targets list`, `deadletters`) read this way: no
consumer group (nothing committed, no other reader disturbed), every partition, and a clear
end, so a command finishes even while producers keep writing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError

from streams.tools.producer import topic_partitions, unreachable
from streams.worker.kafka_options import kafka_options
from streams.worker.settings import Settings


async def read_to_end(
    settings: Settings, topic: str, *, since_ms: int | None = None
) -> AsyncIterator[list[Any]]:
    """The topic's records, batch by batch (each in partition order), from the beginning or
    from the first record appended at or after `since_ms` (epoch ms), to the end offsets it
    had when the read began. Nothing when the topic does not exist. KafkaUnavailable when
    the broker cannot be reached."""
    partitions = await topic_partitions(settings, topic)
    if not partitions:
        return
    async with _consumer(settings) as consumer:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        remaining = await _start(consumer, partitions, ends, since_ms)
        while remaining:
            fetched = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in fetched.items():
                yield [record for record in records if record.offset < ends[tp]]
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)


@asynccontextmanager
async def _consumer(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A started consumer with no group (nothing committed, no reader disturbed), stopped
    after. KafkaUnavailable when the broker cannot be reached."""
    consumer = AIOKafkaConsumer(
        **kafka_options(settings), enable_auto_commit=False, auto_offset_reset="earliest"
    )
    try:
        await consumer.start()
    except KafkaConnectionError:
        await consumer.stop()
        raise await unreachable(settings) from None
    await asyncio.sleep(0)  # let aiokafka's no-group task start, or stop() raises CancelledError
    try:
        yield consumer
    finally:
        await consumer.stop()


async def _start(
    consumer: AIOKafkaConsumer,
    partitions: list[TopicPartition],
    ends: dict[TopicPartition, int],
    since_ms: int | None,
) -> set[TopicPartition]:
    """Seek each partition to where the read starts; returns those with records to read."""
    if since_ms is None:
        await consumer.seek_to_beginning(*partitions)
        return {tp for tp in partitions if ends[tp] > 0}
    found = await consumer.offsets_for_times(dict.fromkeys(partitions, since_ms))
    remaining = set()
    for tp in partitions:
        at = found.get(tp)
        if at is None:  # nothing appended since then
            continue
        consumer.seek(tp, at.offset)
        if at.offset < ends[tp]:
            remaining.add(tp)
    return remaining


async def records_held(settings: Settings, topics: list[str]) -> int:
    """How many records the topics hold now (end minus beginning offsets; 0 for a topic
    that does not exist). KafkaUnavailable when the broker cannot be reached."""
    partitions = [tp for topic in topics for tp in await topic_partitions(settings, topic)]
    if not partitions:
        return 0
    async with _consumer(settings) as consumer:
        ends = await consumer.end_offsets(partitions)
        starts = await consumer.beginning_offsets(partitions)
    return sum(ends[tp] - starts[tp] for tp in partitions)
