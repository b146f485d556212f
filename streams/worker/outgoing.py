"""What one batch or checkpoint sends, and waiting until the broker has all of it.

Records go to the producer directly (Faust's transport producer, over aiokafka's batching
producer), not through Faust's Topic.send: its per-message channel machinery cost about an
eighth of the worker's time, for nothing this path uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from aiokafka.errors import MessageSizeTooLargeError, RecordTooLargeError

log = logging.getLogger(__name__)

#: the most the worker's producer sends in one request (runtime.py): no record can be larger
PRODUCER_REQUEST_BYTES = 4 * 1024 * 1024


def too_large(outcome: object) -> bool:
    """Was a send refused for its size, by the producer (past PRODUCER_REQUEST_BYTES) or the
    broker (past the topic's max.message.bytes)? Faust wraps the client's error in a
    ProducerSendError of its own."""
    while isinstance(outcome, BaseException):
        if isinstance(outcome, MessageSizeTooLargeError | RecordTooLargeError):
            return True
        outcome = outcome.__cause__
    return False


class Outgoing:
    """Sends whose delivery the caller waits for before it acknowledges what caused them."""

    def __init__(self, producer: Any) -> None:
        self.producer = producer
        self.pending: list[Any] = []
        #: records in each pending record batch (the broker reports a batch's first offset)
        self.batch_records: dict[Any, int] = {}
        #: the broker's record metadata of everything delivered so far
        self.metadata: list[Any] = []
        #: where each pending send goes, for the operator when one fails
        self.destinations: dict[Any, str] = {}

    async def send(
        self,
        topic: Any,
        *,
        key: bytes | None = None,
        value: bytes | None = None,
        partition: int | None = None,
    ) -> None:
        name = topic.get_topic_name()
        future = await self.producer.send(name, key, value, partition, None, None)
        self.pending.append(future)
        self.destinations[future] = name if partition is None else f"{name}[{partition}]"

    async def send_batched(
        self, topic: Any, partition: int, records: Iterable[tuple[bytes, bytes | None]]
    ) -> None:
        """Many records for one partition as whole record batches (aiokafka's batch API):
        one call per batch instead of one per record, which cost a fifth of the fold's time
        for the changelog. Relies on Faust's aiokafka producer (pinned faust-streaming)."""
        producer = self.producer._ensure_producer()
        name = topic.get_topic_name()
        batch = producer.create_batch()
        for key, value in records:
            if batch.append(key=key, value=value, timestamp=None) is None:  # full
                await self._submit(producer, batch, name, partition)
                batch = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)  # a batch takes one always
        if batch.record_count():
            await self._submit(producer, batch, name, partition)

    async def _submit(self, producer: Any, batch: Any, name: str, partition: int) -> None:
        count = batch.record_count()
        future = await producer.send_batch(batch, name, partition=partition)
        self.pending.append(future)
        self.batch_records[future] = count
        self.destinations[future] = f"{name}[{partition}]"

    async def delivered(self) -> None:
        """Wait for the broker's acknowledgement of every send; raises if one failed."""
        pending, self.pending = self.pending, []
        results: list[Any] = await asyncio.gather(*pending, return_exceptions=True)
        where = [self.destinations.pop(future, "?") for future in pending]
        for failed, destination in zip(results, where, strict=True):
            if isinstance(failed, BaseException):
                for future in pending:
                    self.batch_records.pop(future, None)
                log.error("a send to %s failed: %s: %s", destination, type(failed).__name__, failed)
                raise failed
        for future, metadata in zip(pending, results, strict=True):
            count = self.batch_records.pop(future, 1)
            if count > 1:  # the metadata of the batch's last record
                metadata = SimpleNamespace(
                    topic=metadata.topic,
                    partition=metadata.partition,
                    offset=metadata.offset + count - 1,
                )
            self.metadata.append(metadata)
