"""Batch delivery inside Faust: fetched batches go to one handler, offsets are acknowledged
as ranges at the next checkpoint.

Faust delivers every record through its stream machinery (a conductor callback, an Event, a
queue, an ack per record): about 80 us per record before our code runs. Here the consumer's
fetch loop hands each fetched batch of the topics we fold (input and internal topics) to a
batch handler at once. The handler's state is written out at checkpoints (every commit
interval, or earlier when the handler says so or the input goes idle, and before every
rebalance and stop); only once those writes are in Kafka are the offsets of the batches it
covers acknowledged, so a commit never passes a record whose consequences are not all in
Kafka (idle input is committed right then). Batches go on while a
checkpoint's writes travel. Faust keeps everything else: group membership, rebalances, table
recovery (changelog records still take Faust's own per-record path), commits and the
producer flush before each commit.

A handler may leave a suffix of a partition's records for a later batch (`Held`: the
input that runs ahead of a slower partition by event time, streams.worker.alignment): those
are not acknowledged. They wait here, their partition not read further, until the handler
wants them again (`batch_resumable`) or LEFT_MAX_SECONDS passed; at a rebalance, or when
their partition goes, they are sought back to and fetched again. (Sought back at once, a
catch-up's records ahead came back at every batch, fetched anew, to be left again.)

Each partition stays sequential: the next fetch starts after the handler returned
(faust-streaming issue 606 cannot happen). Fetched records that cannot be delivered now (a
rebalance began, the partition was paused, the handler is not ready) are fetched again:
aiokafka's position has already moved past them, and Faust's own path would drop them. A
rebalance waits for the batch in flight and takes a checkpoint (`wait_empty`); a batch
whose consumer generation changed meanwhile is not acknowledged: the partition's next owner
replays it, and replays are idempotent.
Relies on faust-streaming 0.15.3 internals (pinned in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from time import monotonic
from typing import Any, ClassVar, cast

import faust
from aiokafka.errors import IllegalStateError
from aiokafka.structs import OffsetAndMetadata
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP
from faust.types.tuples import ack_lock
from mode.utils.futures import notify

from streams.worker.group_leave import stop_consumer

log = logging.getLogger(__name__)

#: topic partition -> the records of one fetch, in offset order (aiokafka ConsumerRecord)
Batch = Mapping[TP, Sequence[Any]]
#: the records a handler left for a later batch: per partition, a suffix of what it was given
Held = Mapping[TP, Sequence[Any]]
BatchHandler = Callable[[Batch], Awaitable[Held | None]]
#: finishes a checkpoint: waits for what it wrote to be in Kafka; raises if it could not
Completion = Callable[[], Awaitable[None]]
#: starts writing out everything the handled batches changed; returns how to wait for it
#: (None: already done), and raises if it could not
Checkpoint = Callable[[], Awaitable[Completion | None]]


#: seconds without a fetched record after which the input counts as idle
#: (BatchConsumer.idle_after)
IDLE_AFTER = 0.2

#: how long the broker may hold a fetch that finds no new records (Faust sets 1,500 ms)
FETCH_MAX_WAIT_MS = 100

#: records a handler left for later wait at most this long before they are handed to it
#: again, whatever it says (`BatchConsumer.batch_resumable`)
LEFT_MAX_SECONDS = 5.0
#: the pause when every active partition has records waiting and none is wanted yet (the
#: internal topic, whose records are never left, keeps this rare)
LEFT_POLL_SECONDS = 0.05


def rewind_unmoved(consumer: Any, fetched: Mapping[TP, tuple[int, int]]) -> list[TP]:
    """Seek each partition back to the first of its fetched records `(first, end)` if its
    position is still `end`, where that fetch left it; returns the partitions sought.

    A partition whose position moved since was sought by someone else (recovery seeking a
    changelog, a rebalance seeking to committed offsets): seeking it back would undo that.
    Run on the consumer's own loop, so nothing moves it between the check and the seek.
    """
    rewound = []
    for tp, (first, end) in fetched.items():
        if client_position(consumer, tp) == end:
            consumer.seek(tp, first)
            rewound.append(tp)
    return rewound


def client_position(client: Any, tp: TP) -> int | None:
    """Where an aiokafka client fetches `tp` next, read from its state, not awaited: None
    while the position is being reset, and when `tp` is not assigned (revoked: its next
    owner reads it) or the client has no assignment yet."""
    try:
        state = client._subscription._assigned_state(tp)
    except (IllegalStateError, AssertionError, AttributeError):
        return None
    return int(state.position) if state.has_valid_position else None


def with_metadata(
    offsets: Mapping[Any, OffsetAndMetadata], metadata: Mapping[tuple[str, int], str]
) -> dict[Any, OffsetAndMetadata]:
    """The offsets to commit, each with its partition's metadata where there is one."""
    return {
        tp: OffsetAndMetadata(meta.offset, metadata.get((tp.topic, tp.partition), meta.metadata))
        for tp, meta in offsets.items()
    }


class BatchConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):  # type: ignore[misc]
    """Faust's aiokafka consumer thread, with fetches the broker answers within 100 ms.

    aiokafka keeps one fetch per broker in flight, for the partitions whose fetched records
    are used up. Right after a fetch, the internal topic's records are handled first and
    the input's are still buffered, so the next fetch asks for the internal topic alone: the
    broker held it for Faust's 1,500 ms, as nothing arrives there until the input is folded,
    and the input waited behind it. That was most of the event-to-queryable time under a
    steady load (p50 about 2 s at 1,100 events/s).
    """

    #: (topic, partition) -> the metadata its next commit carries (BatchConsumer._commit)
    commit_metadata: Mapping[tuple[str, int], str] = {}

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._fetch_max_wait_ms = FETCH_MAX_WAIT_MS  # read when the fetcher starts
        commit = consumer.commit

        async def commit_with_metadata(offsets: Any = None) -> None:
            # Faust commits with empty metadata; ours says how far the changelog had reached
            if offsets:
                offsets = with_metadata(offsets, self.commit_metadata)
            await commit(offsets)

        consumer.commit = commit_with_metadata
        return consumer

    async def rewind_unmoved(self, fetched: Mapping[TP, tuple[int, int]]) -> list[TP]:
        return await self.call_thread(self._rewind_unmoved, fetched)  # type: ignore[no-any-return]

    async def committed_metadata(self, tps: set[TP]) -> dict[TP, str | None]:
        return await self.call_thread(self._committed_metadata, tps)  # type: ignore[no-any-return]

    async def _committed_metadata(self, tps: set[TP]) -> dict[TP, str | None]:
        # aiokafka's committed() gives the offset alone; its coordinator has the metadata
        coordinator = self._ensure_consumer()._coordinator
        committed = await coordinator.fetch_committed_offsets(tps)
        return {TP(tp.topic, tp.partition): meta.metadata for tp, meta in committed.items()}

    async def on_thread_stop(self) -> None:
        """Faust's stop of the thread, the consumer leaving its group at once even in a
        rebalance the broker holds (streams.worker.group_leave). The consumer's own stop,
        its last checkpoint and commit, ran before (mode stops a service, then its
        children)."""
        await super(faust_aiokafka.AIOKafkaConsumerThread, self).on_thread_stop()
        if self._consumer is not None:
            await stop_consumer(self._consumer)

    async def _rewind_unmoved(self, fetched: Mapping[TP, tuple[int, int]]) -> list[TP]:
        return rewind_unmoved(self._ensure_consumer(), fetched)


class BatchConsumer(faust_aiokafka.Consumer):  # type: ignore[misc]
    """Faust's aiokafka consumer with a batch path for the topics of `batch_topics`."""

    batch_handler: BatchHandler | None = None
    batch_topics: frozenset[str] = frozenset()
    #: topics whose fetched records are handled before any other topic's (see `_next_records`)
    first_topics: frozenset[str] = frozenset()
    #: False while the handler's state is not ready (tables recovering, views rebuilding)
    batch_ready: Callable[[], bool] = staticmethod(lambda: True)
    batch_checkpoint: Checkpoint | None = None
    #: True when the handler wants a checkpoint before the interval is up
    checkpoint_wanted: Callable[[], bool] = staticmethod(lambda: False)
    #: of the partitions with records the handler left for later, those it wants again now
    #: (None: such records are sought back to and fetched again at once)
    batch_resumable: Callable[[set[TP]], set[TP]] | None = None
    checkpoint_interval: float = 1.0
    #: the metadata the commits of these offsets carry, by (topic, partition)
    #: (streams.worker.commit_metadata; one left out carries none)
    commit_metadata: Callable[[Mapping[TP, int]], Mapping[tuple[str, int], str]] | None = None
    #: how long a fetch may find nothing after a batch before the input counts as idle: the
    #: batches since the last checkpoint are then written out and committed at once
    idle_after: float = IDLE_AFTER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: held while a batch is handled or a checkpoint taken: never both at once
        self._handling = asyncio.Lock()
        #: partition -> (first, last) offsets handled since the last checkpoint
        self._handled: dict[TP, tuple[int, int]] = {}
        self._handled_generation: int | None = None
        self._last_checkpoint = monotonic()
        #: the checkpoint whose writes are still on their way to Kafka, then acknowledged
        self._in_flight: asyncio.Future[None] | None = None
        #: partition -> (since when, the records the handler left for later), in the
        #: consumer generation `_left_generation`; the partition is not read meanwhile, so
        #: its position stays just after them
        self._left: dict[TP, tuple[float, list[Any]]] = {}
        self._left_generation: int | None = None

    async def _commit(self, offsets: Mapping[TP, int]) -> bool:
        """Faust's commit, each offset carrying `commit_metadata` of its partition (read
        here, in the worker's thread, where the store is written)."""
        if self.commit_metadata is not None:
            thread = cast(BatchConsumerThread, self._thread)
            thread.commit_metadata = self.commit_metadata(offsets)
        return await super()._commit(offsets)  # type: ignore[no-any-return]

    async def committed_metadata(self, tps: Iterable[TP]) -> dict[TP, str | None]:
        """The metadata of the group's last commit of each of these partitions (None: no
        commit), asked of the broker."""
        thread = cast(BatchConsumerThread, self._thread)
        return await thread.committed_metadata(set(tps))

    def known_position(self, tp: TP) -> int | None:
        """Where the client fetches `tp` next, read from its state (None: not known now).

        Not asked of the consumer thread (Faust's `position`): aiokafka's answer waits while
        the position is being reset, as through a rebalance, and each waiting call held one
        of the thread's two method workers; the lag gauge asked every few seconds, so both
        could be held, and then no commit reached the thread: the rebalance waited for the
        checkpoint's commit, and the commit for the rebalance."""
        client = getattr(self._thread, "_consumer", None)
        return None if client is None else client_position(client, tp)

    def next_offset(self, tp: TP) -> int:
        """The next offset the batch path reads from `tp` (0 when not known yet)."""
        return self._read_offset.get(tp) or 0

    def _new_consumer_thread(self) -> BatchConsumerThread:
        return BatchConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - needs Kafka
        if self.batch_handler is None:
            await super()._drain_messages(fetcher)
            return
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                records, active = await self._next_records(timeout=self._fetch_timeout())
                await asyncio.sleep(0)
                if not records and self._handled and not self.should_stop:
                    await self._idle_checkpoint()
                if not records or self.should_stop:
                    continue
                if not self.flow_active:
                    await self._refetch(records, "a rebalance began")
                    await self._forget_left("a rebalance began")
                    await self._seek_back()
                    continue
                await self._deliver(records, active)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                return
            raise

    def _fetch_timeout(self) -> float:
        """How long the next fetch may wait for records: `idle_after` while batches wait
        for a checkpoint (finding none then means the input is idle), else a second."""
        return min(self.idle_after, self.checkpoint_interval) if self._handled else 1.0

    async def _idle_checkpoint(self) -> None:
        """The input went idle after batches: write out their state and commit as soon as
        it is in Kafka, instead of at the next interval and Faust's next commit timer.

        Those waited up to two seconds after a burst or the end of a backlog, seconds in
        which the group's committed offsets (the lag Kafka's tools show) and a crash's
        replay still counted the records as unread. A steady load keeps the interval: its
        fetches find records within `idle_after`.
        """
        async with self._handling:  # no batch is waiting to take it after
            await self._checkpoint(commit=True)

    async def _next_records(self, timeout: float) -> tuple[Any, set[TP] | None]:
        """The next fetched records, those of `first_topics` before any other.

        aiokafka hands out a partition's fetched records until they are used up, in the
        order the partitions were fetched; an input partition's fetch holds thousands of
        records, so without a priority the internal topic (what the fold sends on to other
        scopes) waited until every fetched input record was handled: on a backlog, figures
        lagged the committed input by minutes. Handling the internal records first keeps
        that lag to a batch or two, and holds the input back while the fold catches up.
        """
        if not self.first_topics:
            return await self._wait_next_records(timeout)  # type: ignore[no-any-return]
        if not self.flow_active:
            await self.wait(self.can_resume_flow)  # type: ignore[arg-type]
        try:
            self.not_waiting_next_records.set()
            active: set[TP] = self._get_active_partitions()
            if not active:
                await self.sleep(1)
                return {}, active
            first = {tp for tp in active if tp.topic in self.first_topics}
            records = await self._getmany(active_partitions=first, timeout=0) if first else {}
            if records:
                return records, active
            left = await self._take_left(active)
            wanted = active - self._left.keys() - left.keys()
            if wanted:  # (aiokafka's getmany of no partition is of every partition)
                records = await self._getmany(
                    active_partitions=wanted, timeout=0 if left else timeout
                )
            elif not left:
                await asyncio.sleep(LEFT_POLL_SECONDS)
            return {**records, **left}, active
        finally:
            self.not_waiting_next_records.set()

    def _keeps_left(self) -> bool:
        """Whether records left for later wait here (`_next_records` hands them out)."""
        return self.batch_resumable is not None and bool(self.first_topics)

    async def _take_left(self, active: set[TP]) -> dict[TP, list[Any]]:
        """The records left for later that are to be handed out now: of partitions the
        handler wants again, or that waited LEFT_MAX_SECONDS. Those of a partition no longer
        active, or of an earlier generation, are sought back to instead."""
        left = self._left
        if not left:
            return {}
        if self._left_generation != self.app.consumer_generation_id:
            await self._forget_left("a rebalance began")
            return {}
        gone = [tp for tp in left if tp not in active]
        if gone:
            await self._forget_left("their partition was paused or revoked", gone)
        now = monotonic()
        due = {tp for tp, (since, _) in left.items() if now - since > LEFT_MAX_SECONDS}
        if self.batch_resumable is not None and len(due) < len(left):
            due |= self.batch_resumable(set(left) - due)
        return {tp: left.pop(tp)[1] for tp in due}

    async def _forget_left(self, why: str, partitions: Sequence[TP] | None = None) -> None:
        """Records left for later that will not be handed out from here: sought back to."""
        left = self._left
        forgotten = {
            tp: left.pop(tp)[1] for tp in (list(left) if partitions is None else partitions)
        }
        await self._refetch(forgotten, why, quiet=True)

    async def _seek_back(self) -> None:
        try:
            await self.perform_seek()
        except Exception as exc:
            log.warning("seeking back to committed offsets while flow is stopped: %r", exc)

    async def _deliver(self, records: Mapping[TP, list[Any]], active: set[TP] | None) -> None:
        generation = self.app.consumer_generation_id
        fresh: dict[TP, list[Any]] = {}
        paused: dict[TP, list[Any]] = {}
        for tp, batch in records.items():
            if active is not None and tp not in active and tp not in self._buffered_partitions:
                paused[tp] = batch
                continue
            read = self._read_offset.get(tp)
            kept = batch if read is None else [r for r in batch if r.offset >= read]
            if not kept:
                continue
            if tp.topic in self.batch_topics:
                fresh[tp] = kept
            else:
                await self._deliver_one_by_one(tp, kept)
        await self._refetch(paused, "it was paused")
        if not fresh:
            return
        if not (self.batch_ready() and self.app.flow_control.is_active() and self.flow_active):
            await self._refetch(fresh, "recovery or a rebalance is under way")
            return
        assert self.batch_handler is not None
        mark_inbound(self.app, fresh)
        async with self._handling:
            held = await self.batch_handler(fresh) or {}
            if self.app.consumer_generation_id != generation or not (
                self.flow_active or self.app.should_stop
            ):
                log.info("rebalance during a batch: not acknowledged, the new owner replays it")
                return
            taken = {
                tp: records[: len(records) - len(held.get(tp, ()))] for tp, records in fresh.items()
            }
            self._note_handled({tp: rs for tp, rs in taken.items() if rs}, generation)
            if self._keeps_left():
                since = monotonic()
                self._left.update((tp, (since, list(rs))) for tp, rs in held.items() if rs)
                self._left_generation = generation
            else:
                await self._refetch(held, "they ran ahead of a slower input partition", quiet=True)
            if self._checkpoint_due():
                await self._checkpoint()

    def _note_handled(self, batch: Mapping[TP, list[Any]], generation: int) -> None:
        """Remember the batch's offsets until the next checkpoint; each range starts where
        the partition was read from, so offsets Kafka skipped are acknowledged too."""
        if self._handled_generation != generation:
            self._handled = {}
            self._handled_generation = generation
        for tp, records in batch.items():
            if tp in self._handled:  # an earlier batch since the checkpoint started the range
                first = self._handled[tp][0]
            else:
                read = self._read_offset.get(tp)
                first = records[0].offset if read is None else min(read, records[0].offset)
            self._handled[tp] = (first, records[-1].offset)
            self._read_offset[tp] = records[-1].offset + 1

    def _checkpoint_due(self) -> bool:
        """Due once the interval is up, unless the last checkpoint is still travelling: a
        new one would first wait for it, and the batches with it (up to 0.56 s under a
        steady live load, measured). Held state over its bound (`checkpoint_wanted`) waits
        regardless."""
        if self.checkpoint_wanted():
            return True
        if self._in_flight is not None and not self._in_flight.done():
            return False
        return monotonic() - self._last_checkpoint >= self.checkpoint_interval

    async def _checkpoint(self, *, commit: bool = False) -> None:
        """Start writing out the handler's state; every batch it covers is acknowledged once
        its writes are in Kafka (and, with `commit`, committed then). Call with `_handling`
        held.

        Batches go on while the writes travel (they took a fifth of the time under a steady
        load, mostly waiting for the broker); at most one checkpoint is in flight, so a new
        one first waits for the last.
        """
        await self._complete_checkpoint()
        completion = await self.batch_checkpoint() if self.batch_checkpoint is not None else None
        handled, self._handled = self._handled, {}
        generation = self._handled_generation
        self._last_checkpoint = monotonic()
        if completion is None and not commit:
            self._acknowledge(handled, generation)
        else:
            self._in_flight = asyncio.ensure_future(
                self._acknowledge_when(completion, handled, generation, commit=commit)
            )

    async def _acknowledge_when(
        self,
        completion: Completion | None,
        handled: dict[TP, tuple[int, int]],
        generation: int | None,
        *,
        commit: bool = False,
    ) -> None:
        if completion is not None:
            await completion()
        if self._acknowledge(handled, generation) and commit and handled:
            await self._commit_acknowledged()

    async def _commit_acknowledged(self) -> None:
        """Commit what was acknowledged now; a failure here is Faust's commit timer's to
        retry, not the checkpoint's (which succeeded)."""
        try:
            await self.commit()
        except Exception as exc:
            log.warning(
                "committing right after an idle checkpoint failed (%r); nothing is lost: the "
                "offsets stay acknowledged and Faust's commit timer commits them next",
                exc,
            )

    async def _complete_checkpoint(self) -> None:
        """Wait for the checkpoint in flight, if any; raises what it raised."""
        in_flight, self._in_flight = self._in_flight, None
        if in_flight is not None:
            await in_flight

    def _acknowledge(self, handled: dict[TP, tuple[int, int]], generation: int | None) -> bool:
        """Acknowledge the batches' offsets; False if a rebalance came since (not acked)."""
        if self.app.consumer_generation_id != generation:
            if handled:
                log.info("rebalance since the last checkpoint: its batches are replayed")
            return False
        for tp, (first, last) in handled.items():
            self.ack_range(tp, first, last)
        return True

    async def _refetch(
        self, records: Mapping[TP, Sequence[Any]], why: str, *, quiet: bool = False
    ) -> None:
        """Fetched records not delivered are fetched again, where their partition's position
        is still just after them (see `rewind_unmoved`). Without this, a changelog record
        fetched as a rebalance began was not read again, and recovery waited for it until
        the next rebalance. `quiet`: records the handler left for later (`Held`), in every
        batch of a catch-up: not logged."""
        fetched = {tp: (rs[0].offset, rs[-1].offset + 1) for tp, rs in records.items() if rs}
        if not fetched:
            return
        try:
            thread = cast(BatchConsumerThread, self._thread)
            rewound = await thread.rewind_unmoved(fetched)
        except Exception as exc:  # the consumer stopped: nothing is read from it any more
            log.warning(
                "could not seek back to records fetched while %s (%r): if the worker is not "
                "stopping, they are read again at the next rebalance or restart",
                why,
                exc,
            )
            return
        for tp in rewound:
            self._read_offset[tp] = fetched[tp][0] or None
        if rewound and not quiet:
            log.info(
                "fetching again records fetched while %s: %s",
                why,
                ", ".join(f"{tp.topic}[{tp.partition}] from {fetched[tp][0]}" for tp in rewound),
            )

    async def _deliver_one_by_one(self, tp: TP, batch: list[Any]) -> None:
        """Faust's own path, for changelog records during recovery and any other topic. A
        rebalance that begins mid-batch cancels the record in hand: it and the rest of the
        batch are fetched again."""
        for index, record in enumerate(batch):
            delivery = self.callback(self._to_message(tp, record))
            result = await self.wait_first(delivery, self.suspend_flow.wait())
            if result.stopped:
                return
            if delivery not in result.done:
                await self._refetch({tp: batch[index:]}, "a rebalance began")
                return
            # the next offset to read, as the batch path and Faust's seeks keep it (Faust's
            # own loop keeps the last one delivered, which its `>=` filter delivers twice)
            self._read_offset[tp] = record.offset + 1

    def ack_range(self, tp: TP, first: int, last: int) -> None:
        """Acknowledge offsets up to `last`, from where this partition was read.

        Offsets between the read position and `first` are ones Kafka skipped (compaction,
        transaction markers): acknowledging them lets the commit move past them.
        """
        with ack_lock:
            start = self._read_offset.get(tp)
            start = first if start is None else min(start, first)
            committed = self._committed_offset.get(tp)
            if committed is not None:
                start = max(start, committed)
            index = self._acked_index[tp]
            new = [offset for offset in range(start, last + 1) if offset not in index]
            index.update(new)
            self._acked[tp].extend(new)
            self._n_acked += len(new)
        notify(self._waiting_for_ack)

    async def wait_empty(self) -> None:
        """A rebalance or stop first waits for the batch in flight and takes a checkpoint,
        then commits."""
        async with self._handling:
            await self._checkpoint()
            await self._complete_checkpoint()
        await super().wait_empty()


def mark_inbound(app: Any, tps: Iterable[TP]) -> None:
    """Tell Faust's monitor these partitions are being processed, as its streams would: its
    watchdog otherwise logs "Stream has not started processing" for every partition the
    batch path serves. Also when a rebalance ends, for every partition assigned (after
    Faust's own end of the rebalance, which clears the monitor's record; marked at the end
    of recovery, before it, they were wiped at once): the watchdog, which counts from the
    worker's start, logged that error (ERROR level) for partitions still catching up once
    the worker had run 5 minutes."""
    monitor = app.monitor
    if monitor is not None:
        now = monotonic()
        for tp in tps:
            monitor.stream_inbound_time[tp] = now


class BatchTransport(faust_aiokafka.Transport):  # type: ignore[misc]
    Consumer: ClassVar[Any] = BatchConsumer


class BatchApp(faust.App):  # type: ignore[misc]
    """A Faust app whose consumer delivers batches (see the module docstring)."""

    def _new_transport(self) -> Any:
        return BatchTransport(self.conf.broker_consumer, self)

    def on_rebalance_end(self) -> None:
        """Faust's monitor forgets every partition's processing time here: each assigned
        partition is marked anew, so the watchdog counts from now (`mark_inbound`), and
        so does its commit clock (`restart_commit_clock`)."""
        super().on_rebalance_end()
        assigned = self.consumer.assignment()
        mark_inbound(self, assigned)
        restart_commit_clock(self.consumer, assigned)


def restart_commit_clock(consumer: Any, tps: Iterable[TP]) -> None:
    """Faust's watchdog logs "Has not committed ... at all since worker start" (ERROR) for
    a partition with records still to read and no commit yet by this worker, once the
    worker is up past its commit timeout (5 minutes): a partition assigned by a rebalance
    then has it logged before its first commit (seen after rebalances, chaos re-run). Its
    clock starts with the assignment instead; a stall past the timeout is still logged."""
    clock = getattr(getattr(consumer, "_thread", None), "tp_last_committed_at", None)
    if clock is not None:
        now = monotonic()
        for tp in tps:
            clock[tp] = now


def install_batch_handler(
    app: Any,
    topics: frozenset[str],
    handler: BatchHandler,
    ready: Callable[[], bool],
    *,
    first: frozenset[str] = frozenset(),
    checkpoint: Checkpoint | None = None,
    checkpoint_interval: float = 1.0,
    checkpoint_wanted: Callable[[], bool] = lambda: False,
    resumable: Callable[[set[TP]], set[TP]] | None = None,
    commit_metadata: Callable[[Mapping[TP, int]], Mapping[tuple[str, int], str]] | None = None,
) -> None:
    """Route fetched batches of `topics` to `handler` whenever `ready()` says so; records of
    `first` are handled before those of any other topic. `checkpoint` runs every
    `checkpoint_interval` seconds (or when `checkpoint_wanted()`), before each rebalance
    and at stop; offsets are acknowledged after it returned. Records the handler leaves for
    later wait in the worker until `resumable` names their partition."""
    consumer: Any = app.consumer
    if not isinstance(consumer, BatchConsumer):
        raise TypeError(f"the app's consumer is {type(consumer).__name__}, not BatchConsumer")
    consumer.batch_topics = topics
    consumer.first_topics = first
    consumer.batch_ready = ready
    consumer.batch_checkpoint = checkpoint
    consumer.checkpoint_interval = checkpoint_interval
    consumer.checkpoint_wanted = checkpoint_wanted
    consumer.batch_resumable = resumable
    consumer.commit_metadata = commit_metadata
    consumer.batch_handler = handler
