"""Faust agents and timers: ingestion, the scope processor, and periodic duties.

Ingestion agents (one per input topic) validate records in batches and route each valid one
to the partition of the scope that owns it; rejects go to the dead-letter topic with the
original bytes. The scopes agent folds one envelope at a time into the table. Every agent
runs with concurrency 1 (faust-streaming issue #606: with more, offsets can be committed
past in-flight messages). Offsets are committed only after the producer is flushed, so what
a batch sends is durable before its input is acknowledged.
"""

from __future__ import annotations

import logging
import os
import weakref
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NoReturn

import orjson
from faust.streams import _current_event

from streams.domain.deadletter import deadletter_record
from streams.domain.events import Activity, Deal, Feedback, TargetCommand
from streams.domain.periods import PeriodError, parse_period
from streams.domain.validation import Rejection
from streams.domain.vocabulary import PROCESSING_ERROR
from streams.engine.items import Item, RawEvent, TargetItem, Tick, decode_envelope, encode_envelope
from streams.engine.processor import BatchResult
from streams.worker.medians import performance_for
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

#: Bigger batches mean fewer, larger envelopes downstream and fewer table writes per event;
#: `within` bounds the latency they add.
INGEST_BATCH = 10000
INGEST_WITHIN = 0.25
SCOPES_BATCH = 500
SCOPES_WITHIN = 0.1
#: exit status of a worker that stopped rather than commit past a batch it did not handle
EXIT_UNHANDLED = 70
#: envelopes stay well below Kafka's default 1 MiB message limit
ENVELOPE_MAX_BYTES = 512 * 1024


def register(rt: Runtime) -> None:
    for kind, topic in rt.inputs.items():
        _ingest_agent(rt, kind, topic)
    _scopes_agent(rt)
    _timers(rt)


# -- ingestion ------------------------------------------------------------------------


def _ingest_agent(rt: Runtime, kind: str, topic: Any) -> None:
    async def ingest(stream: Any) -> AsyncIterator[None]:
        async for events in stream.take_events(INGEST_BATCH, within=INGEST_WITHIN):
            try:
                await ingest_batch(rt, kind, events)
            except Exception as exc:
                stop_without_commit(f"ingesting a batch of {len(events)} {kind} records", exc)
            yield None

    rt.app.agent(topic, name=f"ingest-{kind}", concurrency=1)(ingest)


def scope_item(kind: str, decoded: Any, msg: Any) -> Item:
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
    return RawEvent(scope, kind, msg.topic, msg.partition, msg.offset, msg.key, msg.value)


def route(rt: Runtime, kind: str, msg: Any, now: datetime) -> Item | Rejection:
    """The item carrying a valid record to its scope, or why the record is rejected.

    Never raises: a record that makes validation raise is rejected as processing_error,
    so one record can never take its batch down with it.
    """
    try:
        decoded = rt.decoder.decode(kind, msg.key, msg.value, now)
        return decoded if isinstance(decoded, Rejection) else scope_item(kind, decoded, msg)
    except Exception as exc:
        return Rejection(PROCESSING_ERROR, f"validation raised {type(exc).__name__}: {exc}")


async def ingest_batch(rt: Runtime, kind: str, events: Sequence[Any]) -> None:
    now = datetime.now(UTC)
    routed: list[Item] = []
    processed: Counter[str] = Counter()
    for event in events:
        msg = event.message
        processed[msg.topic] += 1
        rt.positions[(msg.topic, msg.partition)] = msg.offset + 1
        outcome = route(rt, kind, msg, now)
        if isinstance(outcome, Rejection):
            await send_deadletter(
                rt, outcome, msg.topic, msg.partition, msg.offset, msg.key, msg.value, now
            )
            continue
        routed.append(outcome)
    await send_items(rt, routed)
    for topic, n in processed.items():
        rt.metrics.processed.labels(topic=topic).inc(n)


async def send_deadletter(
    rt: Runtime,
    rejection: Rejection,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    payload: bytes | None,
    now: datetime,
) -> None:
    rt.metrics.rejected.labels(topic=topic, reason=rejection.reason).inc()
    log.warning(
        "rejected %s[%s]@%s: %s: %s (sent to %s)",
        topic,
        partition,
        offset,
        rejection.reason,
        rejection.detail,
        rt.settings.topics.deadletter,
    )
    record = deadletter_record(
        rejection=rejection,
        topic=topic,
        partition=partition,
        offset=offset,
        key=key,
        payload=payload,
        received_at=now,
    )
    await rt.deadletter_topic.send(key=key, value=record)


def _chunks(items: list[Item], sizes: Iterable[int]) -> Iterable[list[Item]]:
    chunk: list[Item] = []
    total = 0
    for item, size in zip(items, sizes, strict=True):
        if chunk and total + size > ENVELOPE_MAX_BYTES:
            yield chunk
            chunk, total = [], 0
        chunk.append(item)
        total += size
    if chunk:
        yield chunk


def _size(item: Item) -> int:
    if isinstance(item, RawEvent):
        return len(item.payload) + len(item.key or b"") + 64
    return 256


async def send_items(rt: Runtime, items: list[Item]) -> None:
    """Send items to their scopes' partitions: one envelope per partition (and size)."""
    groups: dict[int, list[Item]] = defaultdict(list)
    for item in items:
        groups[rt.partition_of(item.scope)].append(item)
    for partition, group in sorted(groups.items()):
        for chunk in _chunks(group, map(_size, group)):
            await rt.scopes_topic.send(value=encode_envelope(chunk), partition=partition)


# -- scopes ---------------------------------------------------------------------------


def _scopes_agent(rt: Runtime) -> None:
    async def scopes(stream: Any) -> AsyncIterator[None]:
        async for events in stream.take_events(SCOPES_BATCH, within=SCOPES_WITHIN):
            by_partition: dict[int, list[Any]] = defaultdict(list)
            for event in events:
                msg = event.message
                rt.positions[(msg.topic, msg.partition)] = msg.offset + 1
                by_partition[msg.partition].append(event)
            try:
                for partition, group in sorted(by_partition.items()):
                    # Table writes go to the store and changelog partition of the current
                    # event; every envelope of the group comes from this partition. Only
                    # this task's context changes: the stream's buffering task is left alone.
                    _current_event.set(weakref.ref(group[-1]))
                    items = [item for event in group for item in decode_envelope(event.value)]
                    await process_items(rt, partition, items)
            except Exception as exc:
                stop_without_commit(f"folding a batch of {len(events)} envelopes", exc)
            _current_event.set(None)
            yield None

    rt.app.agent(rt.scopes_topic, name="scopes", concurrency=1)(scopes)


async def process_items(rt: Runtime, partition: int, items: list[Item]) -> None:
    """Fold the items of one partition's envelopes as one batch: each key written once."""
    now = datetime.now(UTC)
    table: Any = rt.table
    result = rt.processor.process(partition, items, table.get, now)
    for key, record in result.writes.items():
        if record is None:
            del table[key]
        else:
            table[key] = record
    await send_items(rt, result.outbox)
    for dead in result.deadletters:
        raw = dead.raw
        await send_deadletter(
            rt,
            Rejection(dead.reason, dead.detail),
            raw.topic,
            raw.partition,
            raw.offset,
            raw.key,
            raw.payload,
            now,
        )
    for alert in result.alerts:
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
        await rt.alerts_topic.send(key=target.encode(), value=orjson.dumps(alert))
    record_metrics(rt, result)
    rt.dirty |= {(scope, period) for scope, period in result.changed if ":" in scope}


def alert_team(rt: Runtime, alert: dict[str, Any]) -> str:
    """The `team` label of an alert: the rep's team in the period, or the team itself."""
    if alert["scope"] == "team":
        return str(alert["scope_id"])
    view = rt.views.get("rep:" + alert["scope_id"])
    return (view.latest_part(alert["period"]) if view is not None else None) or ""


def stop_without_commit(what: str, exc: BaseException) -> NoReturn:
    """End the process at once, so the batch's offsets are never committed.

    Faust's `take_events` acknowledges a whole batch when its handler raises and the
    supervisor restarts the agent: the batch would be committed, never applied. A hard exit
    is the crash every state record is built to survive: a restarted worker replays from
    the last committed offset, and replays are idempotent.
    """
    log.critical(
        "stopping the worker without committing: %s failed: %s: %s. Nothing is lost; "
        "restart the worker to replay from the last committed offset (if this repeats, the "
        "logs above name the record; report it with this message)",
        what,
        type(exc).__name__,
        exc,
        exc_info=exc,
    )
    logging.shutdown()
    os._exit(EXIT_UNHANDLED)


def record_metrics(rt: Runtime, result: BatchResult) -> None:
    m = rt.metrics
    for topic, n in result.duplicates.items():
        m.duplicates.labels(topic=topic).inc(n)
    rep_label = rt.settings.metrics_rep_label
    for (team, rep, activity), n in result.activities.items():
        m.activities.labels(team=team, rep=rep if rep_label else "", activity=activity).inc(n)
    for lag in result.lags:
        m.event_lag.observe(max(lag, 0.0))
    if rep_label:
        for (team, rep), latest in result.last_activity.items():
            key = (team, rep)
            if latest > rt.last_activity.get(key, 0.0):
                rt.last_activity[key] = latest
                m.last_activity.labels(team=team, rep=rep).set(latest)


# -- timers ---------------------------------------------------------------------------


def _timers(rt: Runtime) -> None:
    app = rt.app

    @app.timer(rt.settings.evaluation_interval, name="evaluate-targets")
    async def tick() -> None:
        """At least once a minute every target is evaluated, even with no traffic."""
        if not rt.ready:
            return
        topic = rt.settings.topics.scopes
        for tp in app.consumer.assignment():
            if tp.topic == topic:
                await rt.scopes_topic.send(value=encode_envelope([Tick()]), partition=tp.partition)

    @app.timer(rt.settings.performance_min_interval, name="publish-performance")
    async def publish_performance() -> None:
        """Publish changed figures, at most once per scope and period per interval."""
        if not rt.dirty or not rt.ready:
            return
        dirty, rt.dirty = rt.dirty, set()
        now = datetime.now(UTC)
        for scope, period_id in sorted(dirty):
            view = rt.views.get(scope)
            if view is None or view.kind not in ("rep", "team"):
                continue
            try:
                period = parse_period(period_id, rt.settings.tz)
            except PeriodError:
                continue
            doc = await performance_for(rt, view, period, now)
            key = f"{view.kind}:{view.id}:{period_id}".encode()
            await rt.performance_topic.send(key=key, value=orjson.dumps(doc))

    @app.timer(5.0, name="consumer-lag")
    async def consumer_lag() -> None:
        """Records each assigned partition still has to process; unassigned ones vanish."""
        gauge = rt.metrics.consumer_lag
        watched = {*rt.settings.topics.inputs(), rt.settings.topics.scopes}
        exported: set[tuple[str, str]] = set()
        for tp in app.consumer.assignment():
            if tp.topic not in watched:
                continue
            highwater = app.consumer.highwater(tp)
            position = rt.positions.get((tp.topic, tp.partition))
            if highwater is None or highwater < 0:
                continue
            if position is None:
                position = await app.consumer.position(tp)
                if position is None:
                    continue
            labels = (tp.topic, str(tp.partition))
            gauge.labels(*labels).set(max(highwater - position, 0))
            exported.add(labels)
        for labels in rt.lag_series - exported:
            gauge.remove(*labels)
        rt.lag_series = exported
