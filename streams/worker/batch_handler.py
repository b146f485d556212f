"""What the worker does with each fetched batch: validate, route, fold, send.

Batches arrive through streams.worker.delivery, below Faust's per-record streams. Input
records are validated and routed to the partition of the scope that owns them (rejects go
to the dead-letter topic with the original bytes); records of the internal topic are folded
into the table, one partition at a time, and so is what the fold makes for scopes this
worker owns when its order means nothing. What a batch sends is handed to the producer and
the next batch goes on; the next checkpoint first waits until all of it was delivered, then
writes out the state the batches changed, and only then are their offsets acknowledged, so a
commit never passes a record whose consequences are not all in Kafka.

For crash safety, alerts are written with the table records that mark them sent and sent
once those are in Kafka (streams.worker.alert_outbox): a kill before then loses both, and
the replay decides again; a kill after, and whoever rebuilds the partition sends them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from time import monotonic
from typing import Any, cast

import msgspec
import orjson
from faust.types import TP

from streams.domain.deadletter import deadletter_key, deadletter_record
from streams.domain.events import Activity, Deal, Feedback, TargetCommand
from streams.domain.periods import rfc3339
from streams.domain.validation import Rejection
from streams.domain.vocabulary import PROCESSING_ERROR
from streams.engine.items import (
    ORDER_FREE,
    DecodedEvent,
    Foldable,
    Item,
    RawEvent,
    Republish,
    TargetItem,
    UnreadableEnvelope,
    decode_envelope,
    encode_envelope,
)
from streams.engine.processor import BatchResult
from streams.worker import commit_metadata
from streams.worker.delivery import Batch, Completion, Held, install_batch_handler
from streams.worker.garbage_collection import collections_held
from streams.worker.hard_stop import stop_without_commit
from streams.worker.held_decodes import Entries, item_kept
from streams.worker.message_limits import ENVELOPE_BYTES
from streams.worker.outgoing import Outgoing
from streams.worker.rate_limited_log import RateLimitedLog
from streams.worker.runtime import MAX_POLL_RECORDS, PRODUCER_BATCH_BYTES, Runtime
from streams.worker.stream_times import (
    BEFORE_EVERY_EVENT,
    advance_stream_times,
    checkpointed,
    input_stream_time,
)

log = logging.getLogger(__name__)

SCOPES = "scopes"
#: the input kinds whose records carry an event time
TIMED_KINDS = frozenset({"activities", "deals", "feedback"})
#: said with the count of rejected records not logged one by one
REJECTS_WHERE = (
    "all are on the dead-letter topic; sales_events_rejected_total counts them by reason"
)
#: input waiting longer than this in Kafka means the worker is behind (folding comes first).
#: At 1 s the publisher kept its quarter of the time under a steady load near the limit, and
#: the figures waited for it: p99 event-to-queryable 1.29 s at 4,221 events/s, 1.08 s at
#: 0.3 s (one latency run each; sales.performance then got 5.7 s of each minute, not 10.4)
BACKLOG_SECONDS = 0.3


def register(rt: Runtime) -> None:
    """Subscribe the input and internal topics and route their fetched batches here."""
    for topic in (*rt.inputs.values(), rt.scopes_topic):
        rt.app.topics.add(topic)
    kinds = {rt.settings.topics.scopes: SCOPES} | {
        getattr(rt.settings.topics, kind): kind for kind in rt.inputs
    }
    rejects = RateLimitedLog(log, "rejected input records", where=REJECTS_WHERE)

    async def handler(batch: Batch) -> Held:
        try:
            with collections_held():
                return await handle_batch(rt, kinds, batch, rejects)
        except Exception as exc:
            records = sum(len(records) for records in batch.values())
            stop_without_commit(f"handling a fetched batch of {records} records", exc)

    # every topic is created with the table's partition count (streams.worker.topics); Faust
    # checks it against the consumer's metadata, which may not know the changelog yet
    rt.table._verified_source_topics_for_partitions.add(rt.settings.topics.scopes)

    install_batch_handler(
        rt.app,
        frozenset(kinds),
        handler,
        lambda: rt.ready,
        # what the fold sent on to other scopes is folded before more input is taken
        first=frozenset({rt.settings.topics.scopes}),
        checkpoint=lambda: start_checkpoint(rt),
        checkpoint_interval=rt.settings.commit_interval,
        checkpoint_wanted=lambda: rt.state.full,
        resumable=lambda left: resumable(rt, kinds, left),
        commit_metadata=lambda offsets: metadata_of_commits(rt, offsets),
    )


def metadata_of_commits(rt: Runtime, offsets: Mapping[TP, int]) -> dict[tuple[str, int], str]:
    """What the commits of these offsets record (streams.worker.commit_metadata): where the
    state of each owned partition number was written to in the changelog, and each input
    partition's stream time as of its records before the offset committed."""
    owned = owned_partitions(rt)
    inputs = set(rt.settings.topics.inputs())
    times = rt.committable_stream_times
    metadata = {}
    for tp, committed in offsets.items():
        offset = rt.state.store.persisted_offset(tp.partition) if tp.partition in owned else None
        time = times.at((tp.topic, tp.partition), committed) if tp.topic in inputs else None
        if text := commit_metadata.encode(offset, time):
            metadata[(tp.topic, tp.partition)] = text
    return metadata


async def handle_batch(
    rt: Runtime, kinds: dict[str, str], batch: Batch, rejects: RateLimitedLog
) -> Held:
    """Validate and route input records, fold them with the internal topic's records,
    partition by partition; the input records in event-time order (`event_time`), and
    those that run ahead of a slower input partition left for a later batch: returned, for
    the delivery path to hand back when `resumable` names their partition (`ingest_inputs`).

    Under a steady load what the batch sends is awaited by the next checkpoint
    (`delivered`), not here: waiting for the broker batch by batch left the worker idle for
    a linger and a round trip each time (p50 0.47 s, p99 1.14 s event to queryable at 2,396
    events/s, against 0.30 s and 0.91 s). Draining a backlog it waits (`hand_over`).

    A valid input record whose scope lives on a partition this worker owns is folded here,
    in this batch (a record keyed by its rep lands on its rep's partition); the others
    travel through the internal topic. So do the fold's contributions to other scopes,
    except the order-free ones (a rep's part of a team hour, a touch of a deal) bound for a
    scope this worker owns: those are folded in a second round of the same batch
    (`fold_here`). A team hour's part came back through Kafka as often as an input event
    arrived; what skipping that trip saves is measured in bench/HISTORY.md.

    For crash safety, what the fold sends on to other scopes is delivered before the
    table records that say it was folded (alerts wait for those: alert_outbox): those are
    only staged here and written out at the next checkpoint (streams.worker.write_behind),
    once everything sent before was delivered. A kill before then replays the batch, and
    the replay sends the same absolute values again instead of skipping them as duplicates.
    """
    now = datetime.now(UTC)
    out = Outgoing(rt.app.producer)
    owned = owned_partitions(rt)
    local: dict[int, list[Foldable]] = defaultdict(list)  # envelopes first, in topic order
    sent: dict[int, float] = {}  # partition -> when its earliest envelope was sent
    inputs = [records for tp, records in batch.items() if kinds[tp.topic] != SCOPES]
    if inputs:
        rt.backlogged = is_backlogged(batch, inputs, now)
        rt.processor.draining = is_full(batch)
    for tp, records in sorted(batch.items()):
        if kinds[tp.topic] == SCOPES:
            rt.positions[(tp.topic, tp.partition)] = records[-1].offset + 1
            local[tp.partition].extend(internal_items(tp, records))
            sent[tp.partition] = earliest_sent(records, now)
    seen: dict[int, float] = {}
    routed, held = await ingest_inputs(rt, out, kinds, batch, now, rejects, seen=seen)
    fresh, remote = split_by_owner(rt, routed, owned)
    for partition, items in fresh.items():
        local[partition].extend(items)
    await send_items(rt, out, remote)
    stamps: dict[int, float] = sent
    while local:  # a second round folds what the first sent on to owned scopes
        local = await fold_round(rt, out, local, stamps, owned, now, rejects)
        stamps = {}
    advance_stream_times(rt, seen, owned)
    await hand_over(rt, out)
    rejects.flush()
    return held


async def fold_round(
    rt: Runtime,
    out: Outgoing,
    local: dict[int, list[Foldable]],
    sent: dict[int, float],
    owned: set[int],
    now: datetime,
    rejects: RateLimitedLog,
) -> dict[int, list[Foldable]]:
    """Fold each owned partition's items and send on what they made; returns the order-free
    items bound for owned partitions (items.ORDER_FREE), folded by the caller next.

    Each partition's state is staged as soon as it is folded: a later round reads it.
    Staging writes nothing; the checkpoint writes it once everything sent was delivered.
    """
    folded: list[tuple[int, BatchResult]] = []
    for partition, items in sorted(local.items()):
        read = rt.state.reader(partition)
        result = rt.processor.process(partition, items, read, now, sent.get(partition))
        rt.state.stage(partition, result.writes)
        folded.append((partition, result))
        await asyncio.sleep(0)  # the fold is CPU-bound: let the API and commits run
    for partition, result in folded:  # sent once the state marking them is in Kafka
        rt.alert_outbox.add(partition, [orjson.dumps(alert) for alert in result.alerts])
    outbox = [item for _, result in folded for item in result.outbox]
    onward, remote = fold_here(rt, republish_here(rt, outbox, owned), owned)
    # one envelope per target partition for the whole round, not one per folded partition
    await send_items(rt, out, remote)
    for partition, result in folded:
        await apply_result(rt, out, partition, result, now, rejects)
    return onward


def fold_here(
    rt: Runtime, items: list[Item], owned: set[int]
) -> tuple[dict[int, list[Foldable]], list[Item]]:
    """The order-free items bound for partitions this worker owns, per partition (folded in
    this batch: no trip through Kafka), and the items to send through the internal topic.

    The others replace what their scope held: on the topic they keep the order they were
    made in, across rebalances, so an older one never overtakes a newer one. An order-free
    item may be overtaken: a team keeps the part counting the most events, a deal its
    touches by event id. A kill before the checkpoint, or during one that wrote some
    partitions' records and not the others', loses nothing: no offset was committed, and the
    replay makes the same absolute items again (a replayed duplicate touches its hour and its
    deal as a new event does).
    """
    return split_by_owner(rt, items, owned, only=ORDER_FREE)


async def hand_over(rt: Runtime, out: Outgoing) -> None:
    """Leave what a batch sent to the next checkpoint, or, draining a backlog, wait for
    what the batches before it sent.

    Draining a backlog (the last input fetch came back full), the internal topic's records
    are taken before more input only if they are in Kafka by the next fetch: without a
    wait the fold ran ahead on input and the teams lagged (wide, 120,000 events: 6,152
    events/s against 7,425). Waiting whenever the input was older than BACKLOG_SECONDS
    instead fed back on itself under a steady load near the limit: p99 1.70 s at 2,939
    events/s. The batch waits for its predecessors' sends, not its own: those travelled
    while it folded, so the wait is mostly over, where waiting for its own left the
    worker idle for a linger and a round trip per batch (4 % of a wide drain's batch
    time). The internal topic then lags the input by two batches at most, not one.
    """
    earlier = take_sends(rt) if rt.processor.draining else []
    rt.undelivered.append(out)
    await delivered(earlier)


async def start_checkpoint(rt: Runtime) -> Completion | None:
    """Take what the batches since the last checkpoint sent and the state they changed;
    returns what completes the checkpoint (None: they sent and changed nothing).

    Nothing is awaited here, so the batches go on while the checkpoint travels: held inline,
    waiting for the broker and building the changelog frames stopped them a tenth of the
    time draining live input, and up to 0.82 s at a time under a steady load (the slowest
    event-to-queryable samples came then). What this returns first waits until
    everything those batches sent is in Kafka, and only then writes the state, so a kill in
    between never leaves state claiming a send that was lost; the delivery layer
    acknowledges the batches' offsets once it returned.
    """
    sends = take_sends(rt)
    if rt.is_ready():  # the documents still owed, kept with the state (worker.unpublished)
        pending = rt.pending
        added = pending.take_added()
        for partition, writes in rt.unpublished.writes(
            added, pending.owed_count(), pending.owed, rt.partition_of, owned_partitions(rt)
        ).items():
            rt.state.stage(partition, writes)
    alerts, kept = rt.alert_outbox.take()  # written with the state that marks them sent
    for partition, writes in kept.items():
        rt.state.stage(partition, writes)
    held = rt.state.held
    stream_times = checkpointed(rt, input_partitions(rt), owned_partitions(rt))
    write = await rt.state.start_checkpoint(rt.app.producer)
    if write is None and not sends and not alerts:
        rt.committable_stream_times.add(stream_times)
        return None

    async def completed() -> None:
        try:
            await delivered(sends)
        except Exception as exc:
            stop_without_commit(f"delivering what {len(sends)} batches sent", exc)
        if write is not None:
            try:
                await write()
            except Exception as exc:
                stop_without_commit(f"writing out {held} state records", exc)
        rt.committable_stream_times.add(stream_times)  # for the commits of these offsets
        if alerts:
            await send_alerts(rt, alerts)

    return completed


def take_sends(rt: Runtime) -> list[Outgoing]:
    """What the batches sent since the last take, not yet known to be in Kafka: each send
    is waited for by the one caller that took it (a checkpoint, or a batch draining)."""
    sends, rt.undelivered = rt.undelivered, []
    return sends


async def delivered(sends: list[Outgoing]) -> None:
    """Wait until all of these are in Kafka; raises if a send failed (the caller must then
    stop without committing)."""
    for out in sends:
        await out.delivered()


def internal_items(tp: Any, records: Sequence[Any]) -> list[Item]:
    """The items of the internal topic's records, or an error that names the record this
    version cannot read (the batch handler then stops without committing: skipping it
    would drop contributions, and a wrong figure is worse than a stopped worker)."""
    items: list[Item] = []
    for record in records:
        try:
            items.extend(decode_envelope(record.value))
        except UnreadableEnvelope as exc:
            raise UnreadableEnvelope(
                f"the record at offset {record.offset} of {tp.topic} partition {tp.partition} "
                f"is not an envelope this version of salespulse reads ({exc}). Workers of "
                "versions whose internal items differ must not share a consumer group, and "
                "nothing else may write to this topic: run one version (README, Upgrading)"
            ) from exc
    return items


def earliest_sent(records: Sequence[Any], now: datetime) -> float:
    """When the earliest of these internal records was sent (epoch seconds): their Kafka
    timestamp, CreateTime by the sending worker's clock (LogAppendTime, if the topic is so
    configured, is later by a moment); a record without one (None or -1 in formats before
    v2) counts as sent now."""
    stamps = [r.timestamp for r in records if r.timestamp is not None and r.timestamp >= 0]
    return min(stamps) / 1000 if stamps else now.timestamp()


def is_full(batch: Batch) -> bool:
    """Did the fetch come back with as many records as one may hold?"""
    return sum(len(records) for records in batch.values()) >= MAX_POLL_RECORDS


def is_backlogged(batch: Batch, inputs: list[Sequence[Any]], now: datetime) -> bool:
    """Is the input behind? Its fetch came back full, or its oldest record was appended to
    Kafka more than BACKLOG_SECONDS ago (the record timestamp: CreateTime unless the topic
    says LogAppendTime; a producer whose clock runs late makes the input look behind, which
    only slows sales.performance down)."""
    if is_full(batch):
        return True
    oldest_ms = min(records[0].timestamp for records in inputs)
    return now.timestamp() - oldest_ms / 1000 > BACKLOG_SECONDS


def republish_here(rt: Runtime, items: list[Item], owned: set[int]) -> list[Item]:
    """Mark the republishes of reps this worker owns pending here; return the other items.

    A Republish (a team's medians moved) changes no state, only asks for a document, so it
    needs no order and no trip through Kafka. A kill before the document is out loses the
    mark as it loses the pending set, and the restarted owner republishes every period an
    event can still reach (Runtime.rebuild_views).
    """
    rest: list[Item] = []
    here: list[tuple[str, str]] = []
    for item in items:
        if type(item) is Republish and rt.partition_of(item.scope) in owned:
            here.append((item.scope, item.period))
        else:
            rest.append(item)
    rt.pending.add(here)
    return rest


async def announce_medians(rt: Runtime) -> None:
    """Announce the team medians that a partition's last batches left unannounced: an idle
    partition has no next batch to do it (ScopeProcessor.announce_due). Run by a timer,
    between batches."""
    if not rt.ready:
        return
    owned = owned_partitions(rt)
    now = datetime.now(UTC).timestamp()
    items: list[Item] = [
        item for partition in sorted(owned) for item in rt.processor.announce_due(partition, now)
    ]
    if items:
        out = Outgoing(rt.app.producer)
        await send_items(rt, out, republish_here(rt, items, owned))
        rt.undelivered.append(out)  # the next checkpoint waits for it


def input_partitions(rt: Runtime) -> list[tuple[str, int]]:
    """The input topics' partitions assigned to this worker."""
    inputs = set(rt.settings.topics.inputs())
    return [(tp.topic, tp.partition) for tp in rt.app.consumer.assignment() if tp.topic in inputs]


def owned_partitions(rt: Runtime) -> set[int]:
    """The internal topic's partitions assigned to this worker: the scopes it owns."""
    topic = rt.settings.topics.scopes
    return {tp.partition for tp in rt.app.consumer.assignment() if tp.topic == topic}


def split_by_owner(
    rt: Runtime, items: Sequence[Foldable], owned: set[int], only: tuple[type, ...] = (object,)
) -> tuple[dict[int, list[Foldable]], list[Item]]:
    """Items per partition this worker owns (in order; of the kinds `only` names, the others
    all go on), and the items to send through the internal topic (a decoded record travels
    as its RawEvent, with the event time before it, decoded again where it is folded)."""
    local: dict[int, list[Foldable]] = defaultdict(list)
    remote: list[Item] = []
    for item in items:
        if isinstance(item, only):
            partition = rt.partition_of(item.scope)
            if partition in owned:
                local[partition].append(item)
                continue
        if isinstance(item, DecodedEvent):
            remote.append(msgspec.structs.replace(item.raw, ahead=item.ahead))
        else:
            remote.append(item)
    return local, remote


# -- ingestion --------------------------------------------------------------------------------


def scope_item(kind: str, decoded: Any, msg: Any) -> TargetItem | DecodedEvent:
    """The item that carries a valid record to the scope owning it."""
    if isinstance(decoded, TargetCommand):
        return TargetItem(
            f"{decoded.scope}:{decoded.scope_id}", decoded.metric, decoded.period, decoded.value
        )
    if isinstance(decoded, Deal):
        scope = "deal:" + decoded.deal_id
    elif isinstance(decoded, Activity | Feedback):
        scope = "rep:" + decoded.rep_id
    else:  # pragma: no cover - the decoder returns nothing else
        raise TypeError(f"unexpected decoded record {decoded!r}")
    raw = RawEvent(scope, kind, msg.topic, msg.partition, msg.offset, msg.key, msg.value)
    return DecodedEvent(raw, decoded)


def event_time(item: Foldable | Rejection) -> float | None:
    """An input item's event time (None: a target or a rejected record, which have none)."""
    if type(item) is DecodedEvent:
        return item.event.occurred_at.timestamp()
    return None


def behind_partitions(rt: Runtime, kinds: dict[str, str], batch: Batch) -> list[TP]:
    """The event partitions (activities, deals, feedback) assigned here with records past
    this batch (or past what was handled of them) below their high watermark, or not
    fetched yet."""
    consumer: Any = rt.app.consumer  # a BatchConsumer (streams.worker.delivery)
    behind = []
    for tp in consumer.assignment():
        if kinds.get(tp.topic) not in TIMED_KINDS:
            continue
        records = batch.get(tp)
        if records:
            position = records[-1].offset + 1
        else:
            position = rt.positions.get((tp.topic, tp.partition)) or consumer.next_offset(tp)
        highwater = consumer.highwater(tp)
        # no fetch answered for it yet: as good as behind (a catch-up's first batches)
        if highwater is None or position < highwater:
            behind.append(tp)
    return behind


def alignment_slack(rt: Runtime) -> float:
    """How far (seconds of event time) a partition may run ahead of the slowest one still
    behind: half the grace, so that what it leaves for later is never late when taken."""
    return rt.settings.late_grace.total_seconds() / 2


def resumable(rt: Runtime, kinds: dict[str, str], left: set[TP]) -> set[TP]:
    """Of the partitions with records left for later, those the alignment would now fold
    from (streams.worker.alignment: `PartitionClock.due`)."""
    behind = behind_partitions(rt, kinds, {})
    return rt.partition_clock.due(left, behind, monotonic(), alignment_slack(rt))


def route(rt: Runtime, kind: str, msg: Any, now: datetime) -> Foldable | Rejection:
    """The item carrying a valid record to its scope, or why the record is rejected.

    Never raises: a record that makes validation raise is rejected as processing_error,
    so one record can never take its batch down with it.
    """
    try:
        decoded = rt.decoder.decode(kind, msg.key, msg.value, now)
        return decoded if isinstance(decoded, Rejection) else scope_item(kind, decoded, msg)
    except Exception as exc:
        return Rejection(PROCESSING_ERROR, f"validation raised {type(exc).__name__}: {exc}")


def routed(
    rt: Runtime, kind: str, records: Sequence[Any], kept: Entries, now: datetime
) -> list[Foldable | Rejection]:
    """`route` of each record, or the item it was decoded to when it was handed back before
    (a catch-up hands such records back, often several times: streams.worker.held_decodes)."""
    if not kept:
        return [route(rt, kind, record, now) for record in records]
    outs: list[Foldable | Rejection] = []
    for record in records:
        item = item_kept(kept, record)
        outs.append(route(rt, kind, record, now) if item is None else item)
    return outs


def keep_held(
    rt: Runtime,
    tp: TP,
    records: Sequence[Any],
    cut: int,
    outs: Sequence[Foldable | Rejection],
    kept: Entries,
) -> None:
    """Keep the items of the records handed back (`records[cut:]`; not rejections), and
    those kept before for records past this batch's."""
    entries: Entries = {
        record.offset: (record.key, record.value, outcome)
        for record, outcome in zip(records[cut:], outs[cut:], strict=True)
        if not isinstance(outcome, Rejection)
    }
    if kept:
        last = records[-1].offset if records else -1
        entries.update((offset, entry) for offset, entry in kept.items() if offset > last)
    rt.held_decodes.keep((tp.topic, tp.partition), entries)


async def ingest_inputs(
    rt: Runtime,
    out: Outgoing,
    kinds: dict[str, str],
    batch: Batch,
    now: datetime,
    rejects: RateLimitedLog,
    *,
    seen: dict[int, float] | None = None,
) -> tuple[list[Foldable], Held]:
    """The items of the batch's input records to fold now, in event-time order, and the
    records left for a later batch (streams.worker.alignment). Rejects of the records taken
    go to the dead-letter topic; those left are rejected when they come again.

    In event-time order, and stable: a catch-up's deals of later days (a sparse topic,
    fetched days ahead) made the same batch's feedback of earlier days late when folded
    topic by topic; of two deal events at one instant, the later record still wins. Targets
    carry no event time and fold the same anywhere in a batch: they go first, in order.
    Each event carries the latest event time before it in its partition, this batch's
    records and the partition's stream time before them (`DecodedEvent.ahead`), so
    reordering never makes an old event that arrived behind newer ones count: it is late as
    it would be one batch at a time, wherever its key sends it. `seen` gets the latest
    event time taken from each partition (advance_stream_times).
    """
    seen = {} if seen is None else seen
    owned = owned_partitions(rt)
    bases: dict[int, float] = {}  # partition -> its stream time before this batch
    taking = len(rt.held_decodes) > 0  # most batches were handed nothing back before
    kept: dict[TP, Entries] = {}
    outcomes = {}
    for tp, records in sorted(batch.items()):
        if kinds[tp.topic] == SCOPES:
            continue
        entries = kept[tp] = rt.held_decodes.take((tp.topic, tp.partition)) if taking else {}
        outcomes[tp] = routed(rt, kinds[tp.topic], records, entries, now)
    times = {tp: [event_time(outcome) for outcome in outs] for tp, outs in outcomes.items()}
    behind = behind_partitions(rt, kinds, batch)
    cuts = rt.partition_clock.cuts(times, behind, monotonic(), alignment_slack(rt))
    timed: list[tuple[float, Foldable]] = []
    held: dict[TP, Sequence[Any]] = {}
    for tp, outs in outcomes.items():
        records, cut = batch[tp], cuts[tp]
        if cut < len(records):
            held[tp] = records[cut:]
        if cut < len(records) or kept[tp]:
            keep_held(rt, tp, records, cut, outs, kept[tp])
        if not cut:
            continue
        rt.positions[(tp.topic, tp.partition)] = records[cut - 1].offset + 1
        rt.metrics.processed.labels(topic=tp.topic).inc(cut)
        if tp.partition not in bases:
            bases[tp.partition] = input_stream_time(rt, tp.partition, owned)
        taken = zip(records[:cut], outs[:cut], times[tp][:cut], strict=True)
        latest = await take(rt, out, taken, bases[tp.partition], timed, now, rejects)
        seen[tp.partition] = max(latest, seen.get(tp.partition, BEFORE_EVERY_EVENT))
    timed.sort(key=itemgetter(0))
    return [item for _, item in timed], held


async def take(
    rt: Runtime,
    out: Outgoing,
    taken: Iterable[tuple[Any, Foldable | Rejection, float | None]],
    latest: float,
    timed: list[tuple[float, Foldable]],
    now: datetime,
    rejects: RateLimitedLog,
) -> float:
    """Dead-letter the rejected records of one partition's taken records, add the others to
    `timed`, each event with the latest event time before it there (`latest` to begin
    with: the partition's stream time; another topic's records of the batch are not before
    it, the fold interleaves topics by event time); returns the latest after them."""
    for record, outcome, stamp in taken:
        if isinstance(outcome, Rejection):
            await send_deadletter(rt, out, outcome, record, now, rejects)
        elif stamp is None:
            timed.append((BEFORE_EVERY_EVENT, outcome))
        else:
            cast(DecodedEvent, outcome).ahead = latest
            if stamp > latest:
                latest = stamp
            timed.append((stamp, outcome))
    return latest


async def send_deadletter(
    rt: Runtime,
    out: Outgoing,
    rejection: Rejection,
    record: Any,
    now: datetime,
    rejects: RateLimitedLog,
) -> None:
    """`record` is anything with topic, partition, offset, key and the value (`value` or
    `payload`): an input record, or the RawEvent that carried it to the fold."""
    topic, partition, offset = record.topic, record.partition, record.offset
    rt.metrics.rejected.labels(topic=topic, reason=rejection.reason).inc()
    rejects.add(
        "%s[%s]@%s: %s: %s (sent to %s)",
        topic,
        partition,
        offset,
        rejection.reason,
        rejection.detail,
        rt.settings.topics.deadletter,
    )
    value = record.payload if isinstance(record, RawEvent) else record.value
    limit = rt.settings.deadletter_max_bytes
    key = deadletter_key(record.key, limit)  # the key counts toward the limit too
    dead = deadletter_record(
        rejection=rejection,
        topic=topic,
        partition=partition,
        offset=offset,
        key=record.key,
        payload=value,
        received_at=now,
        max_bytes=limit - (len(key) if key is not None else 0),
    )
    await out.send(rt.deadletter_topic, key=key, value=dead)
    if rt.settings.deadletter_max_bytes < 2 * PRODUCER_BATCH_BYTES:
        # each dead letter fits the topic's small max.message.bytes, but the producer would
        # gather several into one record batch that does not: each goes alone
        await out.delivered()


def _chunks(items: list[Item], sizes: Iterable[int]) -> Iterable[list[Item]]:
    chunk: list[Item] = []
    total = 0
    for item, size in zip(items, sizes, strict=True):
        if chunk and total + size > ENVELOPE_BYTES:
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += size
    if chunk:
        yield chunk


def _size(item: Item) -> int:
    """A guess, cheap to make: `envelopes` checks what it encoded."""
    if isinstance(item, RawEvent):
        return len(item.payload) + len(item.key or b"") + 64
    return 256


def envelopes(items: list[Item]) -> Iterator[bytes]:
    """The items' envelopes in order, each of at most ENVELOPE_BYTES (an item alone may be
    larger: a forwarded record of SALES_MAX_PAYLOAD_BYTES with as long a key). Chunked by
    `_size`'s guess, then halved while the encoding is larger: a contribution carries
    names and an account id of any length (the guess said 256 bytes of one with a 60 KB
    account id, and a few hundred of them made an envelope Kafka refused, at every start)."""
    for chunk in _chunks(items, map(_size, items)):
        yield from _fitted(chunk)


def _fitted(chunk: list[Item]) -> Iterator[bytes]:
    encoded = encode_envelope(chunk)
    if len(encoded) <= ENVELOPE_BYTES or len(chunk) == 1:
        yield encoded
        return
    half = len(chunk) // 2
    yield from _fitted(chunk[:half])
    yield from _fitted(chunk[half:])


async def send_items(rt: Runtime, out: Outgoing, items: list[Item]) -> None:
    """Send items to their scopes' partitions: one envelope per partition (and size)."""
    groups: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        groups[rt.partition_of(item.scope)].append(item)
    for partition, group in sorted(groups.items()):
        for envelope in envelopes(group):
            await out.send(rt.scopes_topic, value=envelope, partition=partition)


# -- the fold ---------------------------------------------------------------------------------


async def apply_result(
    rt: Runtime,
    out: Outgoing,
    partition: int,
    result: BatchResult,
    now: datetime,
    rejects: RateLimitedLog,
) -> None:
    """Dead-letter what the fold refused, count what it did, and mark its scopes for
    sales.performance (its state was staged as it was folded: `fold_round`)."""
    for dead in result.deadletters:
        await send_deadletter(rt, out, Rejection(dead.reason, dead.detail), dead.raw, now, rejects)
    record_metrics(rt, result)
    rt.pending.add(result.changed_pairs())  # every scope there is "kind:id" (the fold's views)
    if result.dropped_records:
        log.info(
            "SALES_RETENTION: deleted %d state records of periods before %s on partition %d;"
            " the API answers 410 for those periods",
            result.dropped_records,
            rfc3339(datetime.fromtimestamp(result.dropped_before, UTC), utc_z=True),
            partition,
        )


async def send_alerts(rt: Runtime, alerts: dict[int, list[bytes]]) -> None:
    """Send the alerts a checkpoint wrote to the table (streams.worker.alert_outbox), and
    once they are in Kafka stage their removal from it, on partitions still owned (a new
    owner sends them again: at least once)."""
    out = Outgoing(rt.app.producer)
    for raw in (raw for partition in sorted(alerts) for raw in alerts[partition]):
        alert = orjson.loads(raw)
        target = f"{alert['scope']}:{alert['scope_id']}:{alert['metric']}:{alert['period']}"
        log.info("alert %s %s", alert["kind"], target)
        rt.metrics.alerts.labels(
            scope=alert["scope"],
            id=alert["scope_id"],
            metric=alert["metric"],
            period=alert["period"],
            kind=alert["kind"],
            team=alert_team(rt, alert),
        ).inc()
        await out.send(rt.alerts_topic, key=target.encode(), value=raw)
    try:
        await out.delivered()
    except Exception as exc:
        stop_without_commit(f"sending {sum(map(len, alerts.values()))} alerts", exc)
    owned = owned_partitions(rt)
    for partition, writes in rt.alert_outbox.delivered(alerts).items():
        if partition in owned:
            rt.state.stage(partition, writes)


def alert_team(rt: Runtime, alert: dict[str, Any]) -> str:
    """The `team` label of an alert: the rep's team in the period, or the team itself."""
    if alert["scope"] == "team":
        return str(alert["scope_id"])
    view = rt.views.get("rep:" + alert["scope_id"])
    return (view.latest_part(alert["period"]) if view is not None else None) or ""


def record_metrics(rt: Runtime, result: BatchResult) -> None:
    m = rt.metrics
    for topic, n in result.duplicates.items():
        m.duplicates.labels(topic=topic).inc(n)
    rep_label = rt.settings.metrics_rep_label
    for (team, rep, activity), n in result.activities.items():
        m.activities.labels(team=team, rep=rep if rep_label else "", activity=activity).inc(n)
    m.event_lag.observe_many(lag if lag > 0.0 else 0.0 for lag in result.lags)
    if rep_label:
        for (team, rep), latest in result.last_activity.items():
            rt.last_activity.applied(rep, team, latest)
