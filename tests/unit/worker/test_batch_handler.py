"""The batch handler's order of sends, over a real processor and recording fake topics.

Two properties keep figures exact across crashes and rebalances (both were broken once and
found by the fault-injection suite):
- what the fold sends on to other scopes (contributions, alerts) is delivered before the
  table records that say it was folded: a kill in between must replay the sends, never skip
  them because the state already holds the events;
- the fold's absolute contributions always travel through the internal topic, even to a
  partition this worker owns: a shortcut could overtake an older contribution still on the
  topic, which would then replace the newer one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import msgspec
import orjson
import pytest
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.domain.money import FxRates
from streams.domain.validation import EventDecoder
from streams.engine import state
from streams.engine.items import (
    DealContribution,
    RawEvent,
    Republish,
    TeamHourItem,
    Tick,
    decode_envelope,
    encode_envelope,
)
from streams.engine.processor import ScopeProcessor
from streams.engine.rollups import Views
from streams.engine.state import HOUR, decode_value, parse_key
from streams.worker import batch_handler, write_behind
from streams.worker.alert_outbox import AlertOutbox
from streams.worker.alignment import PartitionClock
from streams.worker.changelog_frames import DELTA, SNAPSHOT, Frame, LogMeta
from streams.worker.commit_metadata import decode
from streams.worker.held_decodes import HeldDecodes
from streams.worker.last_activity import LastActivities
from streams.worker.metrics import PipelineMetrics
from streams.worker.outgoing import Outgoing
from streams.worker.partition_store import PartitionStore
from streams.worker.partitioning import partition_of
from streams.worker.performance_publisher import PendingPublishes
from streams.worker.rate_limited_log import RateLimitedLog
from streams.worker.settings import Settings
from streams.worker.stream_times import CommittableStreamTimes, recall
from streams.worker.timers import written_tick
from streams.worker.unpublished import UnpublishedRecords
from streams.worker.write_behind import WriteBehind
from tests.unit.engine.scope_harness import FX_PATH

PARTITIONS = 4


class Sent(list[tuple[str, int, Any, Any]]):
    """Every send of every fake topic, in the order the handler made them."""


class FakeTopic:
    def __init__(self, name: str) -> None:
        self.name = name

    def get_topic_name(self) -> str:
        return self.name


class FakeProducer:
    """Faust's transport producer: send() schedules a record, its future is the metadata."""

    def __init__(self, sent: Sent) -> None:
        self.sent = sent
        self.offsets: dict[tuple[str, int], int] = defaultdict(int)
        #: topics whose every record the broker refuses
        self.refused: set[str] = set()

    async def send(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        partition: int | None,
        timestamp: float | None,
        headers: Any,
    ) -> Any:
        p = partition if partition is not None else 0
        self.sent.append((topic, p, key, value))
        self.offsets[(topic, p)] += 1
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if topic in self.refused:
            done.set_exception(ValueError("The message is 1048700 bytes when serialized"))
        else:
            done.set_result(
                SimpleNamespace(topic=topic, partition=p, offset=self.offsets[(topic, p)])
            )
        return done


class FakeBatch(list[tuple[bytes | None, bytes | None]]):
    """aiokafka's BatchBuilder: records appended until it is full (here: 3 records)."""

    def append(  # type: ignore[override]
        self, *, key: bytes | None, value: bytes | None, timestamp: float | None
    ) -> Any:
        if len(self) == 3:
            return None
        super().append((key, value))
        return SimpleNamespace(offset=len(self) - 1)

    def record_count(self) -> int:
        return len(self)


class FakeBatchProducer(FakeProducer):
    """Faust's producer with the aiokafka producer under it (`_ensure_producer`)."""

    def _ensure_producer(self) -> Any:
        return self

    def create_batch(self) -> FakeBatch:
        return FakeBatch()

    async def send_batch(self, batch: FakeBatch, topic: str, *, partition: int) -> Any:
        first = self.offsets[(topic, partition)] + 1
        for key, value in batch:
            self.sent.append((topic, partition, key, value))
        self.offsets[(topic, partition)] += len(batch)
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(SimpleNamespace(topic=topic, partition=partition, offset=first))
        return done


class FakeStore(dict[bytes, bytes]):
    """The local store; each write is journalled in `sent` as ("store", -1, key, value)."""

    def __init__(self, sent: Sent) -> None:
        super().__init__()
        self.sent = sent
        self.persisted: dict[TP, int] = {}
        self.owner: dict[bytes, int] = {}
        self.metas: dict[int, LogMeta] = {}

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self.sent.append(("store", -1, key, value))
        super().__setitem__(key, value)

    def set_persisted_offset(self, tp: TP, offset: int) -> None:
        self.persisted[tp] = offset

    def partition(self, partition: int) -> FakePartition:
        return FakePartition(self, partition)


class FakePartition:
    """One partition of FakeStore, as streams.worker.framed_store's partitions are."""

    def __init__(self, store: FakeStore, partition: int) -> None:
        self.store = store
        self.partition = partition

    def get(self, key: bytes) -> bytes | None:
        return self.store.get(key)

    def reader(self) -> Any:
        return self.get

    def state_items(self) -> Iterator[tuple[bytes, bytes]]:
        owner = self.store.owner
        return ((k, v) for k, v in list(self.store.items()) if owner[k] == self.partition)

    def meta(self) -> LogMeta:
        return self.store.metas.get(self.partition, LogMeta())

    def write(self, writes: dict[bytes, bytes | None], meta: LogMeta | None) -> None:
        for key, value in writes.items():
            if value is None:
                self.store.pop(key, None)
            else:
                self.store[key] = value
                self.store.owner[key] = self.partition
        if meta is not None:
            self.store.metas[self.partition] = meta


def runtime(
    sent: Sent, announce_seconds: float = 0.0, owned: Iterable[int] = range(PARTITIONS)
) -> Any:
    """A worker owning every partition (or those `owned`): anything could be folded
    locally. Its team medians are announced after every batch unless `announce_seconds`
    says otherwise."""
    settings = Settings.from_env({"SALES_TOPIC_PARTITIONS": str(PARTITIONS)})
    fx = FxRates.load(FX_PATH, settings.base_currency)
    store = FakeStore(sent)
    t = settings.topics
    rt = SimpleNamespace(
        settings=settings,
        app=SimpleNamespace(producer=FakeBatchProducer(sent)),
        positions={},
        partition_clock=PartitionClock(),
        read_stream_times={},
        committable_stream_times=CommittableStreamTimes(),
        held_decodes=HeldDecodes(),
        ready=True,
        is_ready=lambda: True,
        undelivered=[],
        draining=False,
        pending=PendingPublishes(),
        unpublished=UnpublishedRecords(),
        alert_outbox=AlertOutbox(),
        decoder=EventDecoder(
            known_currencies=fx.known,
            max_payload_bytes=settings.max_payload_bytes,
            max_clock_skew=settings.max_clock_skew,
        ),
        views=(views := Views(settings.tz)),
        processor=ScopeProcessor(
            views=views,
            fx=fx,
            tz=settings.tz,
            late_grace_seconds=settings.late_grace.total_seconds(),
            at_risk_pace=settings.at_risk_pace,
            announce_seconds=announce_seconds,
        ),
        metrics=PipelineMetrics(CollectorRegistry(), "test"),
        partition_of=lambda scope: partition_of(scope, PARTITIONS),
        table=(
            table := SimpleNamespace(
                get=store.get, data=store, changelog_topic=FakeTopic("changelog")
            )
        ),
        state=WriteBehind(PartitionStore(table), max_records=1_000_000),
        scopes_topic=FakeTopic(t.scopes),
        alerts_topic=FakeTopic(t.alerts),
        deadletter_topic=FakeTopic(t.deadletter),
    )
    rt.last_activity = LastActivities(rt.views, rt.metrics.budget, lambda: True, enabled=True)
    own(rt, owned)
    return rt


def own(rt: Any, partitions: Iterable[int], inputs: Iterable[TP] = ()) -> None:
    """Give the worker these partitions of the internal topic (a rebalance), and these of
    the input topics."""
    scopes = {TP(rt.settings.topics.scopes, p) for p in partitions} | set(inputs)
    rt.app.consumer = SimpleNamespace(
        assignment=lambda: scopes, highwater=lambda tp: None, next_offset=lambda tp: 0
    )


def record(topic: str, offset: int, key: str, event: dict[str, Any], *, waited: float = 0.0) -> Any:
    """An input record appended to Kafka `waited` seconds ago."""
    return SimpleNamespace(
        topic=topic,
        partition=partition_of("rep:" + key, PARTITIONS),
        offset=offset,
        key=key.encode(),
        value=orjson.dumps(event),
        timestamp=int((time.time() - waited) * 1000),
    )


def internal_records(rt: Any, sent: Sent, at: float) -> list[Any]:
    """The envelopes sent to the internal topic, as records appended at `at` (epoch s)."""
    return [
        SimpleNamespace(
            topic=name, partition=p, offset=i, key=key, value=value, timestamp=int(at * 1000)
        )
        for i, (name, p, key, value) in enumerate(sent)
        if name == rt.settings.topics.scopes
    ]


async def handle(rt: Any, records: list[Any], *, checkpoint: bool = True) -> None:
    """Handle one fetched batch, then take a checkpoint as the consumer would (or not)."""
    kinds = {rt.settings.topics.scopes: batch_handler.SCOPES} | {
        getattr(rt.settings.topics, kind): kind
        for kind in ("activities", "deals", "feedback", "targets")
    }
    batch: dict[TP, list[Any]] = defaultdict(list)
    for r in records:
        batch[TP(r.topic, r.partition)].append(r)
    log = RateLimitedLog(
        batch_handler.log, "rejected input records", where=batch_handler.REJECTS_WHERE
    )
    await batch_handler.handle_batch(rt, kinds, batch, log)
    if checkpoint:
        await rt.state.checkpoint(rt.app.producer)


def events_of_one_rep(rt: Any, team: str = "t1") -> list[Any]:
    """Three calls and a won deal of rep r1, all in one hour (the half hour before the last
    hour's half past: minutes before now could straddle an hour and make two team hours)."""
    now = datetime.now(UTC).replace(minute=30, second=0, microsecond=0) - timedelta(hours=1)
    topic = rt.settings.topics
    acts = [
        record(
            topic.activities,
            i,
            "r1",
            {
                "event_id": f"a{i}",
                "occurred_at": (now - timedelta(minutes=i)).isoformat(),
                "rep_id": "r1",
                "team_id": team,
                "activity": "call",
            },
        )
        for i in range(3)
    ]
    won = {
        "event_id": "d1-won",
        "occurred_at": now.isoformat(),
        "rep_id": "r1",
        "team_id": team,
        "deal_id": "d1",
        "outcome": "won",
        "amount": 1200.0,
        "currency": "USD",
    }
    return [*acts, record(topic.deals, 0, "r1", won)]


@pytest.fixture
def sent() -> Sent:
    return Sent()


async def test_what_the_fold_sends_on_is_delivered_before_the_state_that_marks_it_folded(
    sent: Sent,
) -> None:
    rt = runtime(sent)
    await handle(rt, events_of_one_rep(rt))
    kinds = [name for name, *_ in sent]
    assert "changelog" in kinds
    first_state = kinds.index("changelog")
    scopes_sends = [i for i, name in enumerate(kinds) if name == rt.settings.topics.scopes]
    assert scopes_sends, "the rep's hour and the deal's contribution go on to other scopes"
    assert max(scopes_sends) < first_state, kinds


def scopes_items(rt: Any, sent: Sent) -> list[Any]:
    """The items of every envelope sent to the internal topic."""
    return [
        item
        for name, _, _, value in sent
        if name == rt.settings.topics.scopes
        for item in decode_envelope(value)
    ]


async def test_order_free_contributions_to_owned_scopes_are_folded_in_the_same_batch(
    sent: Sent,
) -> None:
    """The rep's part of its team's hour needs no order (the team keeps the part counting
    the most events): the worker owning the team folds it in the batch that made it. The
    deal's contribution replaces what its scopes held, so it still travels through the
    internal topic, in order, and the next batch folds it."""
    rt = runtime(sent)
    await handle(rt, events_of_one_rep(rt))
    items = scopes_items(rt, sent)
    assert items, "the deal's contribution goes on through the internal topic"
    assert all(isinstance(i, DealContribution) for i in items), items
    assert {"rep:r1", "deal:d1", "team:t1"} <= changelog_scopes(sent)
    assert rep_calls(changelog_records(sent), "team:t1") == 3

    # the next batch, the internal topic's records, folds the deal's contributions
    envelopes = internal_records(rt, sent, time.time())
    sent.clear()
    await handle(rt, envelopes)
    assert scopes_items(rt, sent) == []
    assert {"rep:r1", "team:t1"} <= changelog_scopes(sent)


async def test_contributions_to_scopes_of_other_workers_travel_through_the_internal_topic(
    sent: Sent,
) -> None:
    """A team on a partition this worker does not own hears of its rep through Kafka."""
    team = "t2"
    other = partition_of("team:" + team, PARTITIONS)
    assert other != partition_of("rep:r1", PARTITIONS)
    rt = runtime(sent, owned=set(range(PARTITIONS)) - {other})
    await handle(rt, events_of_one_rep(rt, team))
    hours = [i for i in scopes_items(rt, sent) if isinstance(i, TeamHourItem)]
    assert [(i.scope, i.rep, i.part.counts) for i in hours] == [("team:t2", "r1", {"call": 3})]
    assert "team:t2" not in changelog_scopes(sent)


async def test_state_goes_out_as_one_frame_per_partition_and_the_store_knows_its_offset(
    sent: Sent,
) -> None:
    """A checkpoint writes each partition's records as one changelog frame; the local store
    is told the offset of each partition's last record, so a clean restart reads only what
    follows."""
    rt = runtime(sent)
    await handle(rt, events_of_one_rep(rt))
    per_partition: dict[int, int] = defaultdict(int)
    for name, p, _, _ in sent:
        if name == "changelog":
            per_partition[p] += 1
    assert len(per_partition) > 1 and set(per_partition.values()) == {1}
    assert len(changelog_records(sent)) > len(per_partition), "frames hold many records"
    producer = rt.app.producer
    assert rt.table.data.persisted == {
        TP("changelog", p): producer.offsets[("changelog", p)] for p in per_partition
    }


def changelog_records(sent: Sent) -> list[tuple[tuple[Any, ...], bytes | None]]:
    """The state records the changelog's frames carry, in order."""
    return [
        (parse_key(key), value)
        for name, _, frame_key, frame in sent
        if name == "changelog" and frame is not None
        for key, value in msgspec.msgpack.decode(frame, type=Frame).ops
    ]


def changelog_scopes(sent: Sent) -> set[str]:
    return {key[0] for key, _ in changelog_records(sent)}


def rep_calls(records: list[tuple[tuple[Any, ...], bytes | None]], scope: str = "rep:r1") -> int:
    """Calls counted in the scope's hour records (the rep's, by default), each key's last
    version."""
    latest = {key: value for key, value in records if key[0] == scope and key[1] == HOUR}
    return sum(
        part.counts.get("call", 0)
        for value in latest.values()
        if value is not None
        for part in decode_value(HOUR, value).parts.values()
    )


async def test_state_is_held_until_the_checkpoint_then_written_once_per_key(
    sent: Sent,
) -> None:
    """Between checkpoints the fold reads its own held state: a replayed batch is
    recognised as duplicates, and each changed record goes out once."""
    rt = runtime(sent)
    events = events_of_one_rep(rt)
    acts = [r for r in events if r.topic == rt.settings.topics.activities]
    more = [
        record(
            rt.settings.topics.activities,
            10 + i,
            "r1",
            {**orjson.loads(r.value), "event_id": f"b{i}"},
        )
        for i, r in enumerate(acts)
    ]
    await handle(rt, acts, checkpoint=False)
    await handle(rt, acts, checkpoint=False)  # a replay before any checkpoint
    await handle(rt, more, checkpoint=False)
    assert not [name for name, *_ in sent if name in ("changelog", "store")]
    assert rt.state.held > 0

    await rt.state.checkpoint(rt.app.producer)
    records = changelog_records(sent)
    keys = [key for key, _ in records]
    assert len(keys) == len(set(keys)), "a record changed by three batches goes out once"
    assert rep_calls(records) == 2 * len(acts), "the replayed batch counted once"
    assert rt.state.held == 0


async def test_the_checkpoint_writes_the_changelog_before_the_local_store(sent: Sent) -> None:
    """A kill between the two must leave the local store behind its changelog (recovery
    reads it forward), never ahead of it."""
    rt = runtime(sent)
    await handle(rt, events_of_one_rep(rt))
    kinds = [name for name, *_ in sent]
    assert "store" in kinds
    last_changelog = max(i for i, name in enumerate(kinds) if name == "changelog")
    first_store = kinds.index("store")
    assert last_changelog < first_store, kinds


async def test_input_that_waited_in_kafka_marks_the_worker_backlogged(sent: Sent) -> None:
    """Under a steady load the fetches are not full, but once input waits longer than
    BACKLOG_SECONDS the publisher must step back, or the wait grows without bound."""
    rt = runtime(sent)
    events = events_of_one_rep(rt)
    fresh = events[:2]
    stale = [
        SimpleNamespace(
            **{**vars(r), "timestamp": r.timestamp - 2000 * batch_handler.BACKLOG_SECONDS}
        )
        for r in events[2:]
    ]
    await handle(rt, fresh)
    assert rt.backlogged is False
    await handle(rt, stale)
    assert rt.backlogged is True
    await handle(rt, fresh)
    assert rt.backlogged is False


async def test_a_full_input_fetch_marks_the_worker_backlogged(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The publisher's share of the time follows this flag: folding comes first while the
    input is behind. Fetches of the internal topic alone say nothing about the input."""
    monkeypatch.setattr(batch_handler, "MAX_POLL_RECORDS", 4)
    rt = runtime(sent)
    rt.backlogged = False
    events = events_of_one_rep(rt)
    await handle(rt, events)  # 4 records: the fetch was full
    assert rt.backlogged is True
    envelopes = internal_records(rt, sent, time.time())
    await handle(rt, envelopes[:1])
    assert rt.backlogged is True
    await handle(rt, events[:2])
    assert rt.backlogged is False


async def test_a_full_input_fetch_tells_the_fold_to_announce_medians_less_often(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Draining a backlog, the fold announces team medians at most every
    DRAINING_ANNOUNCE_SECONDS (ScopeProcessor.announce_due); a fetch of the internal topic
    alone says nothing about the input; the first input fetch that is not full ends it."""
    monkeypatch.setattr(batch_handler, "MAX_POLL_RECORDS", 4)
    rt = runtime(sent)
    events = events_of_one_rep(rt)
    await handle(rt, events[:2])
    assert rt.processor.draining is False
    await handle(rt, events)  # 4 records: the fetch was full
    assert rt.processor.draining is True
    await handle(rt, internal_records(rt, sent, time.time())[:1])
    assert rt.processor.draining is True
    await handle(rt, events[:2])
    assert rt.processor.draining is False


def activity_of(rep: str, n: int, at: datetime) -> Any:
    return record(
        "sales.activities",
        n,
        rep,
        {
            "event_id": f"{rep}-{n}",
            "occurred_at": at.isoformat(),
            "rep_id": rep,
            "team_id": "t1",
            "activity": "call",
        },
    )


def minutes_before(now: datetime, n: int) -> datetime:
    """`n` minutes before `now`, but not before its (UTC) day began: the tests compare the
    figures of now's day, and a run just after midnight put these events in the day before."""
    return max(now - timedelta(minutes=n), now.replace(hour=0, minute=0, second=0))


async def relay_until_quiet(rt: Any, sent: Sent, records: list[Any]) -> list[Any]:
    """Handle the records, then the internal topic's envelopes until none is sent; returns
    every item that went through the internal topic."""
    through: list[Any] = []
    await handle(rt, records)
    for _ in range(6):
        envelopes = internal_records(rt, sent, time.time())
        if not envelopes:
            return through
        through.extend(item for e in envelopes for item in decode_envelope(e.value))
        sent.clear()
        await handle(rt, envelopes)
    raise AssertionError("the internal topic never went quiet")


async def test_republishes_of_owned_reps_skip_the_internal_topic(sent: Sent) -> None:
    rt = runtime(sent)
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.date().isoformat()
    await relay_until_quiet(rt, sent, [activity_of("r3", 0, now), activity_of("r10", 1, now)])
    rt.pending.take(1_000)
    # r10 moves the team's medians: r3's quadrant changes, and r3 is owned here
    through = await relay_until_quiet(
        rt, sent, [activity_of("r10", n, minutes_before(now, n)) for n in range(2, 6)]
    )
    assert not any(isinstance(item, Republish) for item in through), through
    assert ("rep:r3", day) in set(rt.pending)


async def test_republishes_of_reps_owned_elsewhere_go_through_the_internal_topic(
    sent: Sent,
) -> None:
    rt = runtime(sent)
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.date().isoformat()
    await relay_until_quiet(rt, sent, [activity_of("r3", 0, now), activity_of("r10", 1, now)])
    rt.pending.take(1_000)
    elsewhere = partition_of("rep:r3", PARTITIONS)
    assert elsewhere != partition_of("rep:r10", PARTITIONS)
    assert elsewhere != partition_of("team:t1", PARTITIONS)
    owned = {tp for tp in rt.app.consumer.assignment() if tp.partition != elsewhere}
    rt.app.consumer.assignment = lambda: owned
    through = await relay_until_quiet(
        rt, sent, [activity_of("r10", n, minutes_before(now, n)) for n in range(2, 6)]
    )
    assert Republish("rep:r3", day) in through


async def test_the_fold_learns_when_the_internal_records_it_folds_were_sent(
    sent: Sent,
) -> None:
    """A rep's figures that took long to reach their team are compared with the medians'
    moves since they were sent (ScopeProcessor.announce_due): the fold is given the
    earliest Kafka timestamp of the partition's internal records."""
    rt = runtime(sent, announce_seconds=3600.0)
    now = datetime.now(UTC).replace(microsecond=0)
    await relay_until_quiet(rt, sent, [activity_of("r3", 0, now)])  # announced at once
    sent.clear()
    team = partition_of("team:t1", PARTITIONS)
    own(rt, set(range(PARTITIONS)) - {team})  # the team's hour goes through Kafka
    await handle(rt, [activity_of("r3", 1, minutes_before(now, 1))])
    own(rt, range(PARTITIONS))  # and the team's partition comes back before it is folded
    hour_ago = time.time() - 3600
    held = internal_records(rt, sent, hour_ago)
    assert held
    for n, envelope in enumerate(held):  # the earliest is not the first
        envelope.timestamp += 1000 * (n == 0)
    await handle(rt, held)
    reached = rt.processor.unannounced[team][("team:t1", now.date().isoformat())]
    earliest = min(e.timestamp for e in held if e.partition == team) / 1000
    assert reached == {"r3": earliest}
    assert earliest < hour_ago + 1


def test_an_internal_record_without_a_timestamp_counts_as_sent_now() -> None:
    now = datetime(2026, 12, 3, 12, tzinfo=UTC)
    stamped = [SimpleNamespace(timestamp=t) for t in (None, -1, 5000, 3000)]
    assert batch_handler.earliest_sent(stamped, now) == 3.0
    bare = [SimpleNamespace(timestamp=t) for t in (None, -1)]
    assert batch_handler.earliest_sent(bare, now) == now.timestamp()


async def test_medians_left_unannounced_by_the_last_batch_are_announced_by_the_timer(
    sent: Sent,
) -> None:
    """Within ANNOUNCE_SECONDS of a partition's last announcement its batches announce
    nothing; the timer's run once that time passed announces what they moved, to owned
    reps directly and to reps owned elsewhere through the internal topic."""
    rt = runtime(sent, announce_seconds=3600.0)
    now = datetime.now(UTC).replace(microsecond=0)
    day = now.date().isoformat()
    await relay_until_quiet(rt, sent, [activity_of("r3", 0, now), activity_of("r10", 1, now)])
    team = partition_of("team:t1", PARTITIONS)
    assert team in rt.processor.announced_at, "a first announcement is due at once"
    rt.pending.take(1_000)
    # r10 moves the team's medians past r3: not announced yet, and r3's quadrant holds
    through = await relay_until_quiet(
        rt, sent, [activity_of("r10", n, minutes_before(now, n)) for n in range(2, 6)]
    )
    assert not any(isinstance(item, Republish) for item in through)
    assert ("rep:r3", day) not in set(rt.pending)
    rt.pending.take(1_000)
    sent.clear()
    await batch_handler.announce_medians(rt)
    assert not rt.pending and not sent, "the last announcement is not an hour old yet"

    rt.processor.announced_at[team] -= 3600.0  # an hour passes with no batch
    elsewhere = partition_of("rep:r3", PARTITIONS)
    owned = {tp for tp in rt.app.consumer.assignment() if tp.partition != elsewhere}
    rt.app.consumer.assignment = lambda: owned
    waiting = len(rt.undelivered)
    await batch_handler.announce_medians(rt)
    through = [
        item
        for name, _, _, value in sent
        if name == rt.settings.topics.scopes
        for item in decode_envelope(value)
    ]
    assert Republish("rep:r3", day) in through  # and its week, month and quarter
    assert {item.scope for item in through} == {"rep:r3"}
    assert len(rt.undelivered) == waiting + 1, "the next checkpoint waits for the send"
    await batch_handler.announce_medians(rt)  # nothing left to announce
    assert len(sent) == 1


async def test_the_fold_reads_a_checkpoint_in_flight_and_the_store_gets_it_on_completion(
    sent: Sent,
) -> None:
    """Batches go on while a checkpoint's records travel: they read those records from the
    checkpoint, and the local store is written only once the changelog has them."""
    rt = runtime(sent)
    acts = [r for r in events_of_one_rep(rt) if r.topic == rt.settings.topics.activities]
    await handle(rt, acts, checkpoint=False)
    complete = await rt.state.start_checkpoint(rt.app.producer)
    assert complete is not None
    assert rt.state.held == 0 and rt.state.writing
    assert not [name for name, *_ in sent if name == "store"], "not stored before Kafka has it"

    await handle(rt, acts, checkpoint=False)  # a replay while the records travel
    assert rt.metrics.duplicates.labels(topic=rt.settings.topics.activities)._value.get() == len(
        acts
    ), "the replay read the records in flight"
    in_flight = {
        key: value for writes in rt.state.writing.values() for key, value in writes.items()
    }
    await complete()
    assert rt.state.writing == {}
    assert {key: rt.table.data.get(key) for key in in_flight} == in_flight
    assert await rt.state.start_checkpoint(rt.app.producer) is None, "the replay changed nothing"


async def test_many_records_go_out_in_full_record_batches(sent: Sent) -> None:
    """Records for one partition fill a record batch before the next one starts (here 3 a
    batch), and what was delivered reports each batch's last offset."""
    producer = FakeBatchProducer(sent)
    out = Outgoing(producer)
    records = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(7)]
    await out.send_batched(FakeTopic("changelog"), 2, records)
    assert len(out.pending) == 3
    await out.delivered()
    assert [(key, value) for _, _, key, value in sent] == records
    assert max(m.offset for m in out.metadata) == producer.offsets[("changelog", 2)] == 7


async def test_a_refused_send_is_logged_with_where_it_went(
    sent: Sent, caplog: pytest.LogCaptureFixture
) -> None:
    """The worker stops without committing when a send fails: its log says which topic and
    partition refused it (an audit read "the logs above name the record" above no such line)."""
    producer = FakeProducer(sent)
    producer.refused = {"scopes"}  # too large for it, say
    out = Outgoing(producer)
    await out.send(FakeTopic("alerts"), value=b"fine")
    await out.send(FakeTopic("scopes"), value=b"x", partition=5)
    with caplog.at_level(logging.ERROR), pytest.raises(ValueError, match="1048700 bytes"):
        await out.delivered()
    assert "a send to scopes[5] failed: ValueError: The message is 1048700" in caplog.text
    assert out.pending == [] and out.destinations == {} and out.batch_records == {}


async def test_checkpoints_snapshot_a_partition_past_the_configured_delta_bytes(
    sent: Sent,
) -> None:
    """Past `snapshot_min_bytes` of deltas a partition's checkpoint is a snapshot of its
    whole state, and the next checkpoint tombstones the frames before it."""
    rt = runtime(sent)
    rt.state = WriteBehind(rt.state.store, max_records=1_000_000, snapshot_min_bytes=1024)
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(40):
        await handle(rt, [activity_of("r1", n, now - timedelta(hours=n))])
    frames = [
        (key, msgspec.msgpack.decode(value, type=Frame) if value is not None else None)
        for name, _, key, value in sent
        if name == "changelog"
    ]
    kinds = [frame.kind for _, frame in frames if frame is not None]
    assert SNAPSHOT in kinds and kinds[0] == DELTA
    assert any(frame is None for _, frame in frames), "frames before a snapshot tombstoned"


async def test_a_checkpoint_builds_its_frames_off_the_event_loop(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A snapshot encodes a partition's whole state: the event loop (the API, the timers)
    goes on meanwhile, and the frames are the same."""
    loop_thread = threading.get_ident()
    threads: list[int] = []
    build = write_behind.checkpoint_frames

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.get_ident())
        return build(*args, **kwargs)

    monkeypatch.setattr(write_behind, "checkpoint_frames", recorded)
    rt = runtime(sent)
    rt.state = WriteBehind(rt.state.store, max_records=1_000_000, snapshot_min_bytes=1024)
    now = datetime.now(UTC).replace(microsecond=0)
    for n in range(40):
        await handle(rt, [activity_of("r1", n, now - timedelta(hours=n))])
    assert threads and loop_thread not in threads
    kinds = [
        msgspec.msgpack.decode(value, type=Frame).kind
        for name, _, _, value in sent
        if name == "changelog" and value is not None
    ]
    assert SNAPSHOT in kinds


class HeldProducer(FakeBatchProducer):
    """Single sends (envelopes, dead letters, alerts) are acknowledged only on `release`."""

    def __init__(self, sent: Sent) -> None:
        super().__init__(sent)
        self.held: list[tuple[asyncio.Future[Any], Any]] = []

    async def send(self, *args: Any) -> Any:
        metadata = (await super().send(*args)).result()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.held.append((future, metadata))
        return future

    def release(self, error: Exception | None = None, *, first: int | None = None) -> None:
        """Acknowledge (or fail) the sends held so far, or the `first` of them."""
        count = len(self.held) if first is None else first
        released, self.held = self.held[:count], self.held[count:]
        for future, metadata in released:
            if error is None:
                future.set_result(metadata)
            else:
                future.set_exception(error)


async def test_a_checkpoint_waits_for_what_the_batches_sent_before_it_writes_state(
    sent: Sent,
) -> None:
    """Batches do not wait for the broker, nor does taking a checkpoint: its completion
    does, before the changelog, while the next batches go on."""
    rt = runtime(sent)
    rt.app.producer = producer = HeldProducer(sent)
    await handle(rt, events_of_one_rep(rt), checkpoint=False)
    assert rt.undelivered and producer.held, "the batch returned with its sends in flight"
    complete = await asyncio.wait_for(batch_handler.start_checkpoint(rt), 1.0)
    assert complete is not None and rt.undelivered == [] and rt.state.held == 0
    completing = asyncio.create_task(complete())
    later = {
        "event_id": "a-later",
        "occurred_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "rep_id": "r1",
        "team_id": "t1",
        "activity": "email",
    }
    await handle(rt, [record(rt.settings.topics.activities, 10, "r1", later)], checkpoint=False)
    assert rt.state.held > 0, "a batch went on while the checkpoint waits for the broker"
    for _ in range(10):
        await asyncio.sleep(0)
    assert not completing.done()
    assert "changelog" not in [name for name, *_ in sent], "no state before the sends landed"
    producer.release()
    await completing
    changelog = [value for name, _, _, value in sent if name == "changelog"]
    assert changelog, "the state went out once the sends were in Kafka"
    assert rt.state.held > 0, "the later batch's state waits for the next checkpoint"


async def test_a_send_that_failed_stops_the_checkpoint_before_any_state(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Stopped(Exception):
        pass

    def stop(what: str, exc: BaseException) -> None:
        raise Stopped(what)

    monkeypatch.setattr(batch_handler, "stop_without_commit", stop)
    rt = runtime(sent)
    rt.app.producer = producer = HeldProducer(sent)
    await handle(rt, events_of_one_rep(rt), checkpoint=False)
    producer.release(RuntimeError("broker refused"))
    complete = await batch_handler.start_checkpoint(rt)
    assert complete is not None
    with pytest.raises(Stopped, match="delivering what 1 batches sent"):
        await complete()
    assert "changelog" not in [name for name, *_ in sent]


async def test_draining_a_backlog_a_batch_waits_until_what_earlier_batches_sent_is_in_kafka(
    sent: Sent, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Draining a backlog (a full fetch), the next fetches must find the internal topic's
    records, which are folded before more input: a batch returns only once what the
    batches before it sent was delivered. Its own sends travel while the next batch folds.
    Input that is merely old does not make it wait."""
    # the rep's team lives on another worker: the rep's hour goes on through Kafka
    rt = runtime(sent, owned=set(range(PARTITIONS)) - {partition_of("team:t2", PARTITIONS)})
    rt.app.producer = producer = HeldProducer(sent)
    now = datetime.now(UTC)

    def calls(first: int) -> list[Any]:
        return [
            record(
                rt.settings.topics.activities,
                n,
                "r1",
                {
                    "event_id": f"old-{n}",
                    "occurred_at": (now - timedelta(minutes=n)).isoformat(),
                    "rep_id": "r1",
                    "team_id": "t2",
                    "activity": "call",
                },
                waited=5.0,
            )
            for n in range(first, first + 3)
        ]

    await handle(rt, calls(0), checkpoint=False)  # old input, a fetch far from full
    assert rt.backlogged and not rt.processor.draining and len(rt.undelivered) == 1, (
        "returned, sends in flight"
    )
    first_sends, first_held = rt.undelivered[0], len(producer.held)
    monkeypatch.setattr(batch_handler, "MAX_POLL_RECORDS", 3)
    batch = asyncio.create_task(handle(rt, calls(3), checkpoint=False))
    for _ in range(10):
        await asyncio.sleep(0)
    assert rt.processor.draining and not batch.done(), "a full fetch waits for the broker"
    assert first_sends not in rt.undelivered, "the waiting batch took the earlier sends"
    assert len(producer.held) > first_held, "its own sends left before it waited"
    producer.release(first=first_held)
    for _ in range(10):
        await asyncio.sleep(0)
    assert batch.done() and producer.held, "it does not wait for its own sends"
    await batch
    assert len(rt.undelivered) == 1, "they are left to the next batch or checkpoint"
    second_held = len(producer.held)

    # the next full fetch waits for them, and only them
    batch = asyncio.create_task(handle(rt, calls(6), checkpoint=False))
    for _ in range(10):
        await asyncio.sleep(0)
    assert not batch.done(), "the earlier batch's sends are not in Kafka yet"
    producer.release(first=second_held)
    for _ in range(10):
        await asyncio.sleep(0)
    assert batch.done() and producer.held
    await batch
    assert len(rt.undelivered) == 1


async def test_a_batch_folds_its_input_in_event_time_order_not_topic_order(sent: Sent) -> None:
    """A catch-up batch with a rep's activity of yesterday (sales.activities, folded first in
    topic order) and its feedback of 20 days ago (sales.feedback): folded in topic order, the
    activity's time made the feedback late (SALES_LATE_GRACE is 7 days). In event-time
    order both count, as they would have live."""
    rt = runtime(sent)
    topic = rt.settings.topics
    now = datetime.now(UTC).replace(microsecond=0)
    activity = {
        "event_id": "a1",
        "occurred_at": (now - timedelta(days=1)).isoformat(),
        "rep_id": "r1",
        "team_id": "t1",
        "activity": "call",
    }
    feedback = {
        "event_id": "f1",
        "occurred_at": (now - timedelta(days=20)).isoformat(),
        "rep_id": "r1",
        "team_id": "t1",
        "csat": 4,
    }
    target = {"scope": "rep", "scope_id": "r1", "metric": "activities_total"}
    target |= {"period": f"{now:%Y-%m}", "value": 10}
    await handle(
        rt,
        [
            record(topic.activities, 0, "r1", activity),
            record(topic.feedback, 0, "r1", feedback),
            record(topic.targets, 0, f"rep:r1:activities_total:{now:%Y-%m}", target),
        ],
    )
    dead = [orjson.loads(value) for name, _, _, value in sent if name == topic.deadletter]
    assert dead == []
    view = rt.views.get("rep:r1")
    assert view.period(f"{now - timedelta(days=20):%Y-%m-%d}").satisfaction.csat_n == 1
    assert view.period(f"{now - timedelta(days=1):%Y-%m-%d}").activities_total == 1
    assert view.targets == {("activities_total", f"{now:%Y-%m}"): 10}


async def test_an_old_event_behind_newer_ones_in_its_partition_stays_late(sent: Sent) -> None:
    """A new deployment reading a backlog: in one partition, an activity of today, then one
    of 60 days ago. Live, the second is late (SALES_LATE_GRACE is 7 days). Folded in
    event-time order, the batch put it first, as if it had come before today's, and applied
    it. It is late against what came before it in its partition; an old event from another
    partition, with nothing newer before it, still counts (the catch-up's alignment)."""
    rt = runtime(sent)
    topic = rt.settings.topics
    now = datetime.now(UTC).replace(microsecond=0)

    def act(offset: int, event_id: str, rep: str, days: float) -> Any:
        body = {"event_id": event_id, "occurred_at": (now - timedelta(days=days)).isoformat()}
        body |= {"rep_id": rep, "team_id": "t1", "activity": "call"}
        return record(topic.activities, offset, rep, body)

    r2 = next(
        f"r{n}"
        for n in range(2, 99)
        if act(0, "", f"r{n}", 0).partition != act(0, "", "r1", 0).partition
    )
    old = act(1, "old", "r1", 60)
    await handle(
        rt,
        [act(0, "today", "r1", 0), old, act(0, "other", r2, 10), act(1, "later", r2, 0.5)],
    )
    dead = [orjson.loads(value) for name, _, _, value in sent if name == topic.deadletter]
    assert [(d["reason"], d["partition"], d["offset"]) for d in dead] == [
        ("late_event", old.partition, 1)
    ]
    assert "SALES_LATE_GRACE" in dead[0]["detail"]
    assert rt.views.get("rep:r1").period(f"{now:%Y-%m-%d}").activities_total == 1
    other_day = f"{now - timedelta(days=10):%Y-%m-%d}"
    assert rt.views.get("rep:" + r2).period(other_day).activities_total == 1


async def test_a_record_folded_by_another_worker_is_late_against_its_readers_time(
    sent: Sent,
) -> None:
    """A catch-up with two workers: in one input partition, a deal of today, then a deal 30
    days old whose deal's partition is the other worker's. Sent on without the event time
    before it, it was judged against that partition alone, which had seen nothing yet, and
    applied (an audit's reprocessing counted such a deal lost)."""
    now = datetime.now(UTC).replace(microsecond=0)
    old_partition = partition_of("deal:OLD", PARTITIONS)
    recent_id = next(
        f"NEW{n}" for n in range(99) if partition_of(f"deal:NEW{n}", PARTITIONS) != old_partition
    )
    reader = runtime(sent, owned=set(range(PARTITIONS)) - {old_partition})
    deals = reader.settings.topics.deals

    def lost(offset: int, deal_id: str, days: float) -> Any:
        body = {"event_id": f"e-{deal_id}", "deal_id": deal_id, "outcome": "lost"}
        body |= {"occurred_at": (now - timedelta(days=days)).isoformat()}
        return record(deals, offset, "r1", body | {"rep_id": "r1", "team_id": "t1"})

    await handle(reader, [lost(0, recent_id, 0), lost(1, "OLD", 30)])
    envelopes = [
        e for r in internal_records(reader, sent, time.time()) for e in decode_envelope(r.value)
    ]
    forwarded = [e for e in envelopes if isinstance(e, RawEvent) and e.scope == "deal:OLD"]
    assert [e.ahead for e in forwarded] == [now.timestamp()]
    folder_sent: Sent = []
    folder = runtime(folder_sent, owned={old_partition})
    await handle(folder, internal_records(reader, sent, time.time()))
    dead_letters = folder.settings.topics.deadletter
    dead = [orjson.loads(v) for name, _, _, v in folder_sent if name == dead_letters]
    assert [(d["reason"], d["offset"]) for d in dead] == [("late_event", 1)]
    # nothing of the old deal was applied: no state of it, no contribution sent on
    assert state.make_key("deal:OLD", state.DEAL_STATE) not in folder.table.data
    sent_on = [
        e for r in internal_records(folder, folder_sent, 0.0) for e in decode_envelope(r.value)
    ]
    assert not [e for e in sent_on if isinstance(e, DealContribution) and e.deal_id == "OLD"]


@pytest.mark.parametrize("restarted", [False, True])
async def test_an_input_partition_whose_internal_one_is_elsewhere_keeps_its_time(
    sent: Sent, restarted: bool
) -> None:
    """Input partition P is read here, internal partition P is not this worker's (an input
    topic with more partitions than the internal one, or assigned apart): no state keeps
    P's stream time, and each batch judged P's records from nothing again: a record 30 days
    older than one a batch before it in P counted. What was read of P is remembered; a
    restarted worker has forgotten it, and judges P from the latest stream time of the
    partitions it owns (a re-check audit's restarted worker applied deals 30 days old)."""
    now = datetime.now(UTC).replace(microsecond=0)
    home = partition_of("rep:r1", PARTITIONS)
    reps = {partition_of(f"rep:r{n}", PARTITIONS): f"r{n}" for n in range(2, 99)}
    first, second = [reps[p] for p in sorted(reps) if p != home][:2]
    # the first is folded here only after a restart (else elsewhere: nothing seen here)
    owned = {partition_of(f"rep:{second}", PARTITIONS)}
    if restarted:
        owned.add(partition_of(f"rep:{first}", PARTITIONS))
    rt = runtime(sent, owned=owned)
    activities = rt.settings.topics.activities

    def act(offset: int, rep: str, days: float) -> Any:
        body = {"event_id": f"a{offset}", "occurred_at": (now - timedelta(days=days)).isoformat()}
        body |= {"rep_id": rep, "team_id": "t1", "activity": "call"}
        return record(activities, offset, "r1", body)  # all keyed r1: input partition `home`

    await handle(rt, [act(0, first, 0)])
    assert rt.read_stream_times == {home: now.timestamp()}
    if restarted:
        rt.read_stream_times.clear()
    await handle(rt, [act(1, second, 30)])  # folded where nothing was seen yet
    dead = [orjson.loads(v) for name, _, _, v in sent if name == rt.settings.topics.deadletter]
    assert [(d["reason"], d["offset"]) for d in dead] == [("late_event", 1)]


async def test_a_restarted_reader_recalls_an_input_partitions_time_from_its_commit(
    sent: Sent,
) -> None:
    """Input partition P is read here, its internal partition is another worker's. The
    commits of P carry P's stream time as of the last checkpoint complete; a worker assigned
    P after a restart, owning only an internal partition that saw nothing, takes it back
    before it folds: a record 30 days older than those committed before it is late (a
    re-check audit's 4 workers applied 9 of 24 such deals)."""
    now = datetime.now(UTC).replace(microsecond=0)
    home = partition_of("rep:r1", PARTITIONS)
    reps = {partition_of(f"rep:r{n}", PARTITIONS): f"r{n}" for n in range(2, 99)}
    first, second = [reps[p] for p in sorted(reps) if p != home][:2]
    empty = partition_of(f"rep:{second}", PARTITIONS)
    reader = runtime(sent, owned={partition_of(f"rep:{first}", PARTITIONS)})
    activities = reader.settings.topics.activities
    read = TP(activities, home)
    own(reader, {partition_of(f"rep:{first}", PARTITIONS)}, inputs={read})

    def act(offset: int, rep: str, days: float) -> Any:
        body = {"event_id": f"a{offset}", "occurred_at": (now - timedelta(days=days)).isoformat()}
        body |= {"rep_id": rep, "team_id": "t1", "activity": "call"}
        return record(activities, offset, "r1", body)  # all keyed r1: input partition `home`

    await handle(reader, [act(0, first, 0)], checkpoint=False)
    assert batch_handler.metadata_of_commits(reader, {read: 1}) == {}, "before any checkpoint"
    complete = await batch_handler.start_checkpoint(reader)
    assert complete is not None
    await handle(reader, [act(1, first, -0.001)], checkpoint=False)  # after the checkpoint
    assert batch_handler.metadata_of_commits(reader, {read: 1}) == {}, "not complete yet"
    await complete()
    committed = batch_handler.metadata_of_commits(reader, {read: 1, TP("other", home): 1})
    assert list(committed) == [(activities, home)], "input partitions only"
    assert decode(committed[(activities, home)]).stream_time == now.timestamp()
    # a commit of offset 1 made once the next checkpoint completed (Faust flushes the
    # producer first) carries the time of its own records, not of those after it
    complete = await batch_handler.start_checkpoint(reader)
    assert complete is not None
    await complete()
    later = (now + timedelta(days=0.001)).timestamp()
    for offset, expected in ((0, None), (1, now.timestamp()), (2, later), (9, later)):
        metadata = batch_handler.metadata_of_commits(reader, {read: offset}).get(read, "")
        assert decode(metadata).stream_time == expected, offset
    # a worker assigned P after a restart, owning an internal partition that saw nothing
    restarted_sent: Sent = []
    restarted = runtime(restarted_sent, owned={empty})
    own(restarted, {empty}, inputs={read})
    recall(restarted, {read: committed[(activities, home)], TP(activities, empty): None})
    assert restarted.read_stream_times == {home: now.timestamp()}
    await handle(restarted, [act(2, second, 30)])
    deadletter = restarted.settings.topics.deadletter
    dead = [orjson.loads(v) for name, _, _, v in restarted_sent if name == deadletter]
    assert [(d["reason"], d["offset"]) for d in dead] == [("late_event", 2)]
    # a partition owned here whose state saw nothing is judged from what was recalled too
    owner_sent: Sent = []
    owner = runtime(owner_sent, owned={home})
    recall(owner, {read: committed[(activities, home)]})
    await handle(owner, [act(3, "r1", 30)])
    dead = [orjson.loads(v) for name, _, _, v in owner_sent if name == deadletter]
    assert [(d["reason"], d["offset"]) for d in dead] == [("late_event", 3)]


async def test_the_minute_tick_says_the_folded_instant_of_the_written_state_only(
    sent: Sent,
) -> None:
    """A deal forgets touches by the folded instant the Tick says (streams.engine.
    processor, `forget_touches`): it must be what a restart restores at least, the
    store's, not what the batches since the last checkpoint staged."""
    rt = runtime(sent)
    home = partition_of("rep:r1", PARTITIONS)
    assert written_tick(rt, home).written_folded_before == float("-inf")  # prunes nothing
    now = datetime.now(UTC).replace(microsecond=0)
    body = {"event_id": "a0", "occurred_at": now.isoformat(), "rep_id": "r1", "team_id": "t1"}
    activities = rt.settings.topics.activities
    await handle(rt, [record(activities, 0, "r1", body | {"activity": "call"})])
    await handle(rt, [tick_record(rt, home)], checkpoint=False)  # folds before now - grace
    folded = now.timestamp() - rt.settings.late_grace.total_seconds()
    assert written_tick(rt, home).written_folded_before == float("-inf")
    await rt.state.checkpoint(rt.app.producer)
    assert written_tick(rt, home).written_folded_before == folded


def tick_record(rt: Any, partition: int) -> Any:
    """The minute's Tick, as the internal topic delivers it."""
    return SimpleNamespace(
        topic=rt.settings.topics.scopes,
        partition=partition,
        offset=0,
        key=None,
        value=encode_envelope([Tick()]),
        timestamp=int(time.time() * 1000),
    )


@pytest.mark.parametrize("one_batch", [True, False])
async def test_lateness_does_not_depend_on_the_key_or_the_batches(
    sent: Sent, one_batch: bool
) -> None:
    """An activity of rep r1 keyed for another partition arrives there behind an activity
    of today (of a third rep, keyed alike). In one batch (a reprocessing) it was late; a
    batch later (live) it was judged against r1's partition, which never saw today's
    record, and counted. Each partition's stream time now counts every input record read
    from it, wherever its key sends it."""
    rt = runtime(sent)
    topic = rt.settings.topics
    now = datetime.now(UTC).replace(microsecond=0)

    def act(offset: int, event_id: str, rep: str, days: float, key: str) -> Any:
        body = {"event_id": event_id, "occurred_at": (now - timedelta(days=days)).isoformat()}
        body |= {"rep_id": rep, "team_id": "t1", "activity": "call"}
        return record(topic.activities, offset, key, body)

    def partition(rep: str) -> int:
        return int(act(0, "", rep, 0, rep).partition)

    home = partition("r1")
    r2 = next(f"r{n}" for n in range(2, 99) if partition(f"r{n}") != home)
    r3 = next(f"r{n}" for n in range(2, 99) if partition(f"r{n}") not in (home, partition(r2)))
    first = [act(0, "mine", "r1", 20, "r1"), act(0, "today", r3, 0, r2)]
    stray = act(1, "stray", "r1", 12, r2)  # r1's, on r2's partition: 12 days behind
    if one_batch:
        await handle(rt, [*first, stray])
    else:
        await handle(rt, first)
        await handle(rt, [stray])
    dead = [orjson.loads(value) for name, _, _, value in sent if name == topic.deadletter]
    assert [(d["reason"], d["offset"]) for d in dead] == [("late_event", 1)]
    assert dead[0]["partition"] == stray.partition != home
    assert (
        rt.views.get("rep:r1").period(f"{now - timedelta(days=12):%Y-%m-%d}").activities_total == 0
    )


async def test_the_event_time_order_is_stable_and_puts_targets_first(sent: Sent) -> None:
    """Equal event times keep their record order (of two deal events at one instant, the
    later record wins); targets carry no event time and keep theirs, ahead of the events."""
    rt = runtime(sent)
    topic = rt.settings.topics
    now = datetime.now(UTC).replace(microsecond=0)

    def deal(offset: int, when: datetime, outcome: str) -> Any:
        event = {"event_id": f"d{offset}", "occurred_at": when.isoformat(), "rep_id": "r1"}
        event |= {"team_id": "t1", "deal_id": "d", "outcome": outcome}
        event |= {"amount": 100.0, "currency": "USD"}
        return record(topic.deals, offset, "r1", event)

    def target(offset: int, value: float) -> Any:
        body = {"scope": "rep", "scope_id": "r1", "metric": "activities_total"}
        body |= {"period": f"{now:%Y-%m}", "value": value}
        return record(topic.targets, offset, f"rep:r1:activities_total:{now:%Y-%m}", body)

    deals = [deal(0, now, "won"), deal(1, now - timedelta(days=1), "open"), deal(2, now, "lost")]
    batch = {TP(topic.deals, 0): deals, TP(topic.targets, 0): [target(0, 1), target(1, 2)]}
    kinds = {topic.deals: "deals", topic.targets: "targets"}
    log = RateLimitedLog(batch_handler.log, "rejected", where="")
    items, held = await batch_handler.ingest_inputs(
        rt, Outgoing(rt.app.producer), kinds, batch, now, log
    )
    assert held == {}
    assert [getattr(i, "value", None) for i in items[:2]] == [1, 2]
    assert [i.raw.offset for i in items[2:]] == [1, 0, 2]


async def test_input_ahead_of_a_slower_partition_is_left_for_a_later_batch(sent: Sent) -> None:
    """A catch-up: the activities' fetch reached 29 days ago, the deals' (sparse) 20 days
    ago, and both have more to read. Deals beyond the activities' time plus half the grace
    are handed back (fetched again later): not folded, not dead-lettered (the broken
    record after them is rejected when it comes again), not counted as processed."""
    rt = runtime(sent)
    topic = rt.settings.topics
    now = datetime.now(UTC).replace(microsecond=0)
    activities, deals = TP(topic.activities, 0), TP(topic.deals, 0)
    rt.app.consumer = SimpleNamespace(
        assignment=lambda: {activities, deals, TP(topic.scopes, 0)},
        highwater=lambda tp: 100,
        next_offset=lambda tp: 0,
    )

    def at(days: float) -> str:
        return (now - timedelta(days=days)).isoformat()

    acts = [
        record(
            topic.activities,
            i,
            "r1",
            {"event_id": f"a{i}", "occurred_at": at(30 - i / 2)}
            | {"rep_id": "r1", "team_id": "t1", "activity": "call"},
        )
        for i in range(3)
    ]
    won = {"rep_id": "r1", "team_id": "t1", "deal_id": "d1", "outcome": "won"}
    won |= {"amount": 100.0, "currency": "USD"}
    early = record(topic.deals, 0, "r1", won | {"event_id": "d-early", "occurred_at": at(28)})
    ahead = record(topic.deals, 1, "r1", won | {"event_id": "d-ahead", "occurred_at": at(20)})
    broken = record(topic.deals, 2, "r1", {"event_id": "d-broken"})
    batch = {activities: acts, deals: [early, ahead, broken]}
    kinds = {topic.activities: "activities", topic.deals: "deals"}
    log = RateLimitedLog(batch_handler.log, "rejected", where="")
    held = await batch_handler.handle_batch(rt, kinds, batch, log)
    assert held == {deals: [ahead, broken]}
    assert not [value for name, _, _, value in sent if name == topic.deadletter]
    assert rt.positions[(topic.deals, 0)] == 1 and rt.positions[(topic.activities, 0)] == 3
    processed = {
        sample.labels["topic"]: sample.value
        for sample in rt.metrics.processed.collect()[0].samples
        if sample.name.endswith("_total")
    }
    assert processed == {topic.activities: 3, topic.deals: 1}


class CatchUp:
    """A worker catching up on partition 0 of the activities and the deals, both behind their
    high watermark, whose decoder counts what it decodes (`decoded`: the values)."""

    def __init__(self, sent: Sent) -> None:
        self.rt = rt = runtime(sent)
        self.topic = topic = rt.settings.topics
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.activities, self.deals = TP(topic.activities, 0), TP(topic.deals, 0)
        rt.app.consumer = SimpleNamespace(
            assignment=lambda: {self.activities, self.deals, TP(topic.scopes, 0)},
            highwater=lambda tp: 100,
            next_offset=lambda tp: 0,
        )
        self.decoded: list[bytes] = []
        decode = rt.decoder.decode

        def counting(kind: str, key: bytes | None, raw: bytes, at: datetime) -> Any:
            self.decoded.append(raw)
            return decode(kind, key, raw, at)

        rt.decoder = SimpleNamespace(decode=counting)
        self.kinds = {topic.activities: "activities", topic.deals: "deals"}
        self.log = RateLimitedLog(batch_handler.log, "rejected", where="")

    def activity(self, offset: int, days: float) -> Any:
        """A call of rep r1 `days` ago, at `offset` of the activities."""
        when = (self.now - timedelta(days=days)).isoformat()
        event = {"event_id": f"a{offset}", "occurred_at": when, "rep_id": "r1"}
        event |= {"team_id": "t1", "activity": "call"}
        return record(self.topic.activities, offset, "r1", event)

    def deal(self, offset: int, outcome: str, **fields: Any) -> Any:
        """A deal event of rep r1 20 days ago, at `offset` of the deals."""
        when = (self.now - timedelta(days=20)).isoformat()
        event = {"event_id": f"d{offset}", "occurred_at": when, "rep_id": "r1", "team_id": "t1"}
        event |= {"deal_id": f"d{offset}", "outcome": outcome, **fields}
        return record(self.topic.deals, offset, "r1", event)


async def test_records_handed_back_are_decoded_once_however_often_they_come_again(
    sent: Sent,
) -> None:
    """A catch-up fetches a fast partition's records again at every batch until the slow one
    catches up: they are decoded when first fetched and never again, and fold as usual when
    taken. A rejected record among them is not kept: it is decoded again each time, and
    dead-lettered once, when taken."""
    c = CatchUp(sent)
    rt, topic, activities, deals = c.rt, c.topic, c.activities, c.deals
    ahead = c.deal(0, "won", amount=100.0, currency="USD")
    broken = record(topic.deals, 1, "r1", {"event_id": "d-broken"})
    for offset, days in enumerate((30, 29)):  # the activities creep on; the deals wait
        batch = {activities: [c.activity(offset, days)], deals: [ahead, broken]}
        assert await batch_handler.handle_batch(rt, c.kinds, batch, c.log) == {
            deals: [ahead, broken]
        }
        assert len(rt.held_decodes) == 1  # the won deal's item; the rejection is not kept
    batch = {activities: [c.activity(2, 19)], deals: [ahead, broken]}
    assert await batch_handler.handle_batch(rt, c.kinds, batch, c.log) == {}
    assert c.decoded.count(ahead.value) == 1
    assert c.decoded.count(broken.value) == 3
    assert len(c.decoded) == 3 + 1 + 3
    assert len(rt.held_decodes) == 0
    dead = [orjson.loads(value) for name, _, _, value in sent if name == topic.deadletter]
    assert [d["offset"] for d in dead] == [1]
    processed = {
        sample.labels["topic"]: sample.value
        for sample in rt.metrics.processed.collect()[0].samples
        if sample.name.endswith("_total")
    }
    assert processed == {topic.activities: 3, topic.deals: 2}
    assert rt.views.get("rep:r1").period(f"{c.now - timedelta(days=30):%Y-%m-%d}").activities_total


async def test_kept_decodes_of_records_not_fetched_again_yet_stay_kept(sent: Sent) -> None:
    """A fetch after the seek back may bring only the first of a partition's records handed
    back: the others keep their decoded items until they come."""
    c = CatchUp(sent)
    three = [c.deal(0, "lost"), c.deal(1, "lost"), c.deal(2, "lost")]
    out = Outgoing(c.rt.app.producer)
    batches = [
        {c.activities: [c.activity(0, 30)], c.deals: three},
        {c.activities: [c.activity(1, 29)], c.deals: three[:1]},
        {c.activities: [c.activity(2, 19)], c.deals: three},
    ]
    helds = []
    for batch in batches:
        _, held = await batch_handler.ingest_inputs(c.rt, out, c.kinds, batch, c.now, c.log)
        helds.append(held)
    assert helds == [{c.deals: three}, {c.deals: three[:1]}, {}]
    assert [c.decoded.count(d.value) for d in three] == [1, 1, 1]
    assert len(c.rt.held_decodes) == 0


async def test_records_left_for_later_are_wanted_again_once_the_alignment_would_take_them(
    sent: Sent,
) -> None:
    """The deals ran ahead (20 days ago against the activities' 30): not wanted while the
    activities are more than half the grace (3.5 days) behind them, wanted once within it,
    and wanted whatever the times once no partition is behind its high watermark."""
    c = CatchUp(sent)
    highwater = {c.activities: 100, c.deals: 100}
    c.rt.app.consumer.highwater = lambda tp: highwater.get(tp)
    deal = c.deal(0, "lost")
    batch = {c.activities: [c.activity(0, 30)], c.deals: [deal]}
    assert await batch_handler.handle_batch(c.rt, c.kinds, batch, c.log) == {c.deals: [deal]}
    assert batch_handler.resumable(c.rt, c.kinds, {c.deals}) == set()
    await batch_handler.handle_batch(c.rt, c.kinds, {c.activities: [c.activity(1, 24)]}, c.log)
    assert batch_handler.resumable(c.rt, c.kinds, {c.deals}) == set()  # 4 days ahead
    await batch_handler.handle_batch(c.rt, c.kinds, {c.activities: [c.activity(2, 23)]}, c.log)
    assert batch_handler.resumable(c.rt, c.kinds, {c.deals}) == {c.deals}  # 3 days ahead
    c.rt.partition_clock.reached[c.activities] = (c.now - timedelta(days=30)).timestamp()
    assert batch_handler.resumable(c.rt, c.kinds, {c.deals}) == set()
    highwater[c.activities] = 3  # the activities caught up: nothing to wait for
    highwater[c.deals] = 0
    assert batch_handler.resumable(c.rt, c.kinds, {c.deals}) == {c.deals}


def owed_in_table(rt: Any) -> set[tuple[str, str]]:
    return {
        tuple(pair)
        for key, value in rt.table.data.items()
        if parse_key(key)[1] == state.UNPUBLISHED
        for pair in decode_value(state.UNPUBLISHED, value)
    }


async def test_a_checkpoint_keeps_the_documents_still_owed_with_the_state(sent: Sent) -> None:
    """A kill after the checkpoint must not lose a changed document the publisher had not
    sent yet: the checkpoint writes the owed pairs with the state that changed them (and
    with the sends of documents not yet acknowledged), and later ones follow the publisher."""
    rt = runtime(sent)

    async def checkpoint() -> None:
        complete = await batch_handler.start_checkpoint(rt)
        if complete is not None:
            await complete()

    await handle(rt, events_of_one_rep(rt), checkpoint=False)
    await checkpoint()  # the batch's state, nothing published yet
    owed = rt.pending.owed()
    assert owed and owed_in_table(rt) == owed
    taken = rt.pending.take(3)  # on their way to the broker at the next checkpoint
    await checkpoint()
    assert owed_in_table(rt) == owed, "in flight is owed still"
    rt.pending.settle(taken)  # delivered: the table may go on holding them (a superset)
    later = ("rep:r1", "2027-Q1")
    rt.pending.add([later])
    await checkpoint()
    assert owed_in_table(rt) == {*owed, later}


def achieved_target(rt: Any, events: list[Any]) -> Any:
    """A revenue target for r1 in the month of `events` (its first alert: at risk)."""
    month = orjson.loads(events[-1].value)["occurred_at"][:7]
    key = f"rep:r1:revenue_won:{month}"
    value = {"scope": "rep", "scope_id": "r1", "metric": "revenue_won", "period": month}
    return record(rt.settings.topics.targets, 0, key, {**value, "value": 1000})


def outbox_of(rt: Any) -> list[bytes] | None:
    raw = rt.table.data.get(state.make_key("", state.ALERT_OUTBOX, partition_of("rep:r1", 4)))
    return None if raw is None else list(decode_value(state.ALERT_OUTBOX, raw))


async def checkpoint_of(rt: Any) -> None:
    complete = await batch_handler.start_checkpoint(rt)
    if complete is not None:
        await complete()


async def test_an_alert_is_sent_once_the_state_that_marks_it_sent_is_in_kafka(
    sent: Sent,
) -> None:
    """Sent before, a kill between the send and the checkpoint restored a state without the
    mark, and a replay that folded the win and its correction together never revoked the
    achievement already on the topic (the supersession audit)."""
    rt = runtime(sent)
    events = events_of_one_rep(rt)
    await handle(rt, [achieved_target(rt, events), *events], checkpoint=False)
    alerts = rt.settings.topics.alerts
    assert alerts not in [name for name, *_ in sent], "nothing before the checkpoint"
    await checkpoint_of(rt)
    names = [name for name, *_ in sent]
    last_state = max(i for i, name in enumerate(names) if name in ("changelog", "store"))
    (sent_alert,) = [(i, value) for i, (name, _, _, value) in enumerate(sent) if name == alerts]
    assert sent_alert[0] > last_state, "the alert follows the state that marks it sent"
    assert orjson.loads(sent_alert[1])["scope_id"] == "r1"
    assert outbox_of(rt) == [sent_alert[1]], "held with the state until known delivered"
    await checkpoint_of(rt)
    assert outbox_of(rt) is None, "dropped by the next checkpoint"
    assert names.count(alerts) == 1


async def test_alerts_the_state_holds_but_no_one_sent_are_sent_by_the_next_owner(
    sent: Sent,
) -> None:
    """A kill after the checkpoint landed and before its alerts were sent: the worker that
    rebuilds the partition finds them with the state and sends them."""
    rt = runtime(sent)
    events = events_of_one_rep(rt)
    await handle(rt, [achieved_target(rt, events), *events], checkpoint=False)
    _, kept = rt.alert_outbox.take()  # the checkpoint's state, and then the kill
    for partition, writes in kept.items():
        rt.state.stage(partition, writes)
    await rt.state.checkpoint(rt.app.producer)
    alerts = rt.settings.topics.alerts
    assert alerts not in [name for name, *_ in sent]
    (owed,) = outbox_of(rt) or []

    after = runtime(sent)  # the next owner, on the same changelog
    after.table = rt.table
    after.state = WriteBehind(PartitionStore(rt.table), max_records=1_000_000)
    for key, raw in list(rt.table.data.items()):
        parsed = parse_key(key)
        if parsed[1] == state.ALERT_OUTBOX:  # as Runtime.rebuild_views reads it
            after.alert_outbox.found(parsed[2], decode_value(state.ALERT_OUTBOX, raw))
    await checkpoint_of(after)
    assert [value for name, _, _, value in sent if name == alerts] == [owed]
    await checkpoint_of(after)
    assert outbox_of(after) is None
