"""The fold's state records between checkpoints, written out once per checkpoint, as changelog
frames (streams.worker.changelog_frames): one atomic group per partition and checkpoint.

Written every batch, a team's hour and member records went to the changelog and the local
store once per batch that touched them: 3.7 changelog records per input event on wide data.
Held here until the next checkpoint, a record is written once however many batches changed
it. The fold reads through what is held, so it always sees its own latest state.

The input offsets of the batches a checkpoint covers are acknowledged only after it wrote
their records (streams.worker.delivery), so a crash in between replays those batches against
the previous checkpoint's state: work lost, never a count lost or made twice.

Order inside a checkpoint: the changelog first, then the local store, then the store's
changelog offset. A kill in between leaves the local store behind its changelog, which
Faust's recovery reads forward. The other order could leave a restarted worker with records
no changelog has, which a replay would then find unchanged and never write.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from streams.engine.state import parse_key
from streams.worker.changelog_frames import (
    FRAME_BYTES,
    SNAPSHOT_MIN_BYTES,
    CheckpointFrames,
    checkpoint_frames,
)
from streams.worker.outgoing import PRODUCER_REQUEST_BYTES, Outgoing
from streams.worker.partition_store import PartitionStore, Reader
from streams.worker.rate_limited_log import RateLimitedLog

log = logging.getLogger(__name__)

_ABSENT = object()
_NOTHING: dict[bytes, bytes | None] = {}


class WriteBehind:
    """Changed records per partition since the last checkpoint (None: deleted)."""

    def __init__(
        self,
        store: PartitionStore,
        *,
        max_records: int,
        snapshot_min_bytes: int = SNAPSHOT_MIN_BYTES,
    ) -> None:
        self.store = store
        #: changelog deltas written before a snapshot, at least (changelog_frames)
        self.snapshot_min_bytes = snapshot_min_bytes
        #: a checkpoint is due early once this many records are held
        self.max_records = max_records
        self.staged: dict[int, dict[bytes, bytes | None]] = {}
        #: the records of the checkpoint in flight: sent to the changelog, not yet stored
        self.writing: dict[int, dict[bytes, bytes | None]] = {}

    @property
    def held(self) -> int:
        return sum(len(writes) for writes in self.staged.values())

    @property
    def full(self) -> bool:
        return self.held >= self.max_records

    def reader(self, partition: int) -> Reader:
        """Raw value of a key of `partition`: as last staged, else as the checkpoint in
        flight wrote it, else as in the local store. For one fold: a checkpoint that starts
        or completes afterwards changes where a record is."""
        staged = self.staged.setdefault(partition, {})
        writing = self.writing.get(partition, _NOTHING)
        read = self.store.reader(partition)

        def get(key: bytes) -> bytes | None:
            value: Any = staged.get(key, _ABSENT)
            if value is _ABSENT:
                value = writing.get(key, _ABSENT)
                if value is _ABSENT:
                    return read(key)
            return value  # type: ignore[no-any-return]

        return get

    def stage(self, partition: int, writes: dict[bytes, bytes | None]) -> None:
        self.staged.setdefault(partition, {}).update(writes)

    async def checkpoint(self, producer: Any) -> int:
        """Write every held record to the changelog, then to the local store; returns how
        many. Raises if the changelog refused one: nothing may be acknowledged then."""
        written = self.held
        complete = await self.start_checkpoint(producer)
        if complete is not None:
            await complete()
        return written

    async def start_checkpoint(self, producer: Any) -> Callable[[], Awaitable[None]] | None:
        """Take every held record for a checkpoint; returns what writes them out (None:
        nothing was held). Call it with no checkpoint in flight.

        Taking is all that happens here: the batches go on at once, staging their records
        for the next checkpoint and reading these from `writing`. Building the frames (a
        snapshot reads and encodes the partition's whole state), sending them and waiting
        for the broker all happen in what this returns, which then writes the records to
        the local store, then the store's changelog offset. It raises if the changelog
        refused one: nothing may be acknowledged then.
        """
        staged = {partition: writes for partition, writes in self.staged.items() if writes}
        self.staged = {}
        if not staged:
            return None
        self.writing = staged

        async def complete() -> None:
            out = Outgoing(producer)
            topic = self.store.changelog_topic
            planned: dict[int, CheckpointFrames] = {}
            for partition, writes in sorted(staged.items()):
                meta = self.store.meta(partition)
                # in a thread, so the event loop (batches, the API, the timers) goes on; the
                # local store is written only below, once this checkpoint is in Kafka, and
                # no other checkpoint runs meanwhile: the state read here is stable
                plan = planned[partition] = await asyncio.to_thread(
                    checkpoint_frames,
                    meta,
                    writes,
                    self.store.items(partition),
                    snapshot_min_bytes=self.snapshot_min_bytes,
                )
                if plan.oversized:
                    say_oversized(topic.get_topic_name(), partition, plan.oversized)
                await out.send_batched(topic, partition, plan.records)
            await out.delivered()
            changelog = topic.get_topic_name()
            last: dict[int, int] = {}
            for metadata in out.metadata:
                if metadata.topic == changelog:
                    last[metadata.partition] = max(
                        metadata.offset, last.get(metadata.partition, -1)
                    )
            for partition, writes in sorted(staged.items()):
                self.store.write(partition, writes, planned[partition].meta)
                if partition in last:
                    self.store.persisted(partition, last[partition])
            self.writing = {}

        return complete


#: state records larger than a changelog frame, said with their key and size: if the topic
#: refuses one, the worker stops, and the operator must know which record outgrew what
_oversized_log = RateLimitedLog(
    log, "state records larger than a changelog frame", where="each is one changelog record"
)


def say_oversized(topic: str, partition: int, oversized: list[tuple[bytes, int]]) -> None:
    for key, size in oversized:
        _oversized_log.add(
            "state record %s of partition %d is %d bytes, more than a changelog frame's %d: it "
            "goes alone, in a record %s must take (its max.message.bytes; Kafka's default is "
            "1 MiB, this worker's producer sends at most %d)",
            _readable(key),
            partition,
            size,
            FRAME_BYTES,
            topic,
            PRODUCER_REQUEST_BYTES,
        )


def _readable(key: bytes) -> str:
    """A state key as the operator reads it (scope, kind and the rest), else its bytes."""
    try:
        return repr(parse_key(key))
    except Exception:  # not a state key the fold wrote: said as it is
        return repr(key[:200])
