"""Fetched records that cannot be delivered are fetched again, unless someone moved the
partition since.

aiokafka moves a partition's position past the records it hands out. A record the consumer
then drops (a rebalance began, its partition was paused, the handler was not ready) is
never read again unless the partition is sought back: a changelog record dropped that way
left recovery waiting for it until the next rebalance. Seeking back must not undo a seek
made meanwhile (recovery seeking a changelog to where the table is), so it only happens
where the partition's position is still just after the dropped records.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import mode
from faust.types import TP

from streams.worker import delivery
from streams.worker.delivery import BatchConsumer, rewind_unmoved
from tests.unit.worker.batch_consumer_fakes import INPUT, SCOPES, Journal, consumer, records

CHANGELOG = TP("salespulse-scopes-changelog", 1)


class PartitionState:
    def __init__(self, position: int | None) -> None:
        self.position = position

    @property
    def has_valid_position(self) -> bool:
        return self.position is not None


class FakeKafkaConsumer:
    """The part of aiokafka's consumer `rewind_unmoved` reads: positions of assigned
    partitions."""

    def __init__(self, positions: dict[TP, int | None]) -> None:
        self.states = {tp: PartitionState(p) for tp, p in positions.items()}
        self._subscription = SimpleNamespace(_assigned_state=self._assigned_state)
        self.sought: list[tuple[TP, int]] = []

    def _assigned_state(self, tp: TP) -> PartitionState:
        from aiokafka.errors import IllegalStateError

        if tp not in self.states:
            raise IllegalStateError(f"No current assignment for partition {tp}")
        return self.states[tp]

    def seek(self, tp: TP, offset: int) -> None:
        self.sought.append((tp, offset))
        self.states[tp].position = offset


class FakeThread:
    def __init__(self, kafka: FakeKafkaConsumer) -> None:
        self.kafka = kafka

    async def rewind_unmoved(self, fetched: dict[TP, tuple[int, int]]) -> list[TP]:
        return rewind_unmoved(self.kafka, fetched)


def over_kafka(c: Any, positions: dict[TP, int | None]) -> FakeKafkaConsumer:
    kafka = FakeKafkaConsumer(positions)
    c._thread = FakeThread(kafka)
    return kafka


def test_only_partitions_still_just_after_their_fetch_are_sought_back() -> None:
    kafka = FakeKafkaConsumer({INPUT: 10, CHANGELOG: 3, TP("t", 0): None})
    fetched = {INPUT: (4, 10), CHANGELOG: (0, 7), TP("t", 0): (0, 1), TP("revoked", 0): (0, 5)}
    assert rewind_unmoved(kafka, fetched) == [INPUT]
    assert kafka.sought == [(INPUT, 4)], "a partition sought since keeps its new position"


async def test_records_of_a_partition_paused_since_the_fetch_are_fetched_again() -> None:
    journal = Journal()
    c = consumer(journal)
    kafka = over_kafka(c, {CHANGELOG: 7})
    delivered: list[int] = []

    async def callback(message: Any) -> None:
        delivered.append(message.offset)

    c.callback = callback
    await c._deliver({CHANGELOG: records(CHANGELOG, 0, 6)}, set())  # no partition active
    assert delivered == []
    assert kafka.states[CHANGELOG].position == 0
    assert c._read_offset[CHANGELOG] is None, "the next fetch from 0 is delivered in full"


async def test_records_fetched_while_the_handler_is_not_ready_are_fetched_again() -> None:
    journal = Journal()
    c = consumer(journal)
    c.batch_ready = lambda: False
    kafka = over_kafka(c, {INPUT: 20})
    await c._deliver({INPUT: records(INPUT, 12, 19)}, None)
    assert journal == []
    assert kafka.sought == [(INPUT, 12)]
    assert c._read_offset[INPUT] == 12


async def test_a_partition_sought_meanwhile_is_not_sought_back() -> None:
    """Recovery sought the changelog to 0 after the fetch: seeking back to 5 would skip 0-4
    for good."""
    journal = Journal()
    c = consumer(journal)
    c.batch_ready = lambda: False
    kafka = over_kafka(c, {INPUT: 0})
    await c._deliver({INPUT: records(INPUT, 5, 9)}, None)
    assert kafka.sought == []
    assert kafka.states[INPUT].position == 0


def with_faust_wait_first(c: Any) -> None:
    """The consumer's own `wait_first` (mode's), over the few events it reads."""
    c._stopped = asyncio.Event()
    c._crashed = asyncio.Event()
    c.loop = asyncio.get_running_loop()
    c.suspend_flow = asyncio.Event()
    c.wait_first = mode.Service.wait_first.__get__(c)
    c._to_message = lambda tp, record: record


async def test_a_rebalance_beginning_mid_batch_fetches_the_rest_again() -> None:
    """The record in hand when the flow is suspended is cancelled; it and the rest of the
    batch must be read again, or recovery never sees them."""
    journal = Journal()
    c = consumer(journal)
    with_faust_wait_first(c)
    kafka = over_kafka(c, {CHANGELOG: 7})
    delivered: list[int] = []

    async def callback(message: Any) -> None:
        if message.offset == 2:
            c.suspend_flow.set()  # a rebalance begins while the record waits for room
            await asyncio.Event().wait()
        delivered.append(message.offset)

    c.callback = callback
    await c._deliver({CHANGELOG: records(CHANGELOG, 0, 6)}, {CHANGELOG})
    assert delivered == [0, 1]
    assert kafka.sought == [(CHANGELOG, 2)]
    assert c._read_offset[CHANGELOG] == 2


async def test_records_delivered_despite_a_suspended_flow_are_not_fetched_twice() -> None:
    journal = Journal()
    c = consumer(journal)
    with_faust_wait_first(c)
    kafka = over_kafka(c, {CHANGELOG: 3})
    c.suspend_flow.set()
    delivered: list[int] = []

    async def callback(message: Any) -> None:
        delivered.append(message.offset)

    c.callback = callback
    await c._deliver({CHANGELOG: records(CHANGELOG, 0, 2)}, {CHANGELOG})
    assert delivered == [0, 1, 2]
    assert kafka.sought == []
    assert c._read_offset[CHANGELOG] == 3, "the next offset to read, as after a seek"


async def test_records_fetched_again_are_delivered_from_the_first_not_yet_delivered() -> None:
    """A fetch that starts before the last record delivered one by one (aiokafka handing
    out a range again) delivers none of them twice: the read offset is the next offset to
    read on every path, as the batch path and Faust's seeks keep it."""
    journal = Journal()
    c = consumer(journal)
    with_faust_wait_first(c)
    over_kafka(c, {CHANGELOG: 5})
    delivered: list[int] = []

    async def callback(message: Any) -> None:
        delivered.append(message.offset)

    c.callback = callback
    await c._deliver({CHANGELOG: records(CHANGELOG, 0, 2)}, {CHANGELOG})
    await c._deliver({CHANGELOG: records(CHANGELOG, 0, 4)}, {CHANGELOG})
    assert delivered == [0, 1, 2, 3, 4]


async def test_records_fetched_as_a_rebalance_began_are_fetched_again() -> None:
    """The fetch loop finds the flow stopped after the fetch returned: every partition of
    the fetch is sought back, then the input goes back to its committed offsets.

    Recovery resumes the changelog partitions just before the flow, and aiokafka's own
    thread can hand out their records in between (seen in the fault test: a changelog read
    from 0 came back while the flow was still stopped). Dropped, they left recovery waiting
    with the partition's position at its end and no event received, until the next
    rebalance (the CI failure at d49d7b2)."""
    journal = Journal()
    c = consumer(journal)
    kafka = over_kafka(c, {CHANGELOG: 7, INPUT: 30})
    fetched = {CHANGELOG: records(CHANGELOG, 0, 6), INPUT: records(INPUT, 25, 29)}
    await drain_as_a_rebalance_begins(c, journal, fetched)
    assert kafka.sought == [(CHANGELOG, 0), (INPUT, 25)]
    assert journal == ["seek input to committed"]


async def drain_as_a_rebalance_begins(c: Any, journal: Journal, fetched: Any) -> None:
    """Run the fetch loop over one fetch (`fetched`) that returns as a rebalance begins (the
    flow stopped), then stop it; Faust's seek to committed offsets is journaled."""
    c._stopped = asyncio.Event()
    c._crashed = asyncio.Event()
    c.consumer_stopped_errors = ()

    async def next_records(timeout: float) -> tuple[Any, None]:
        if c.flow_active:
            c.flow_active = False  # the rebalance began as the fetch returned
            return fetched, None
        c._stopped.set()
        return {}, None

    async def seek_back() -> None:
        journal.append("seek input to committed")

    c._next_records = next_records
    c._seek_back = seek_back
    await BatchConsumer._drain_messages(c, SimpleNamespace(_stopped=asyncio.Event()))


async def test_records_the_handler_leaves_for_later_are_not_acknowledged_and_fetched_again() -> (
    None
):
    """A handler may hand back a suffix of a partition's records (input that runs ahead of
    a slower partition by event time): the rest is acknowledged at the checkpoint, those
    are not, and the partition is sought back to the first of them, without a log line."""
    journal = Journal()
    c = consumer(journal, never_due=True)
    kafka = over_kafka(c, {INPUT: 20})
    fetched = records(INPUT, 12, 19)

    async def handler(batch: Any) -> Any:
        journal.append("handled")
        return {INPUT: batch[INPUT][5:]}

    c.batch_handler = handler
    await c._deliver({INPUT: fetched}, None)
    assert kafka.sought == [(INPUT, 17)]
    assert c._read_offset[INPUT] == 17
    assert c._handled == {INPUT: (12, 16)}
    await c._checkpoint()
    await c._complete_checkpoint()
    assert sorted(c._acked_index[INPUT]) == [12, 13, 14, 15, 16]
    # fetched again from 17, then handled whole: acknowledged up to 19
    c.batch_handler = lambda batch: _none()
    await c._deliver({INPUT: records(INPUT, 17, 19)}, None)
    await c._checkpoint()
    await c._complete_checkpoint()
    assert sorted(c._acked_index[INPUT]) == list(range(12, 20))


async def _none() -> None:
    return None


def leaving(c: Any, takes: list[int], wanted: set[TP]) -> list[set[TP]]:
    """The consumer's handler takes the first `takes[0]` records of each partition and
    leaves the rest for later; it wants again the partitions in `wanted`. Returns what the
    fetch loop asks aiokafka for, call by call (a fake buffer of nothing)."""
    asked: list[set[TP]] = []

    async def handler(batch: Any) -> Any:
        return {tp: rs[takes[0] :] for tp, rs in batch.items() if rs[takes[0] :]}

    async def getmany(active_partitions: set[TP], timeout: float) -> dict[TP, Any]:
        asked.append(set(active_partitions))
        return {}

    c.batch_handler = handler
    c.batch_resumable = lambda left: left & wanted
    c.first_topics = frozenset({SCOPES.topic})
    c.not_waiting_next_records = asyncio.Event()
    c._get_active_partitions = lambda: {INPUT, SCOPES}
    c._getmany = getmany
    return asked


async def test_records_left_for_later_wait_in_the_worker_until_the_handler_wants_them() -> None:
    """A catch-up's partition ahead: its records left for later are neither sought back nor
    fetched again (they came back at every batch, to be left again); the partition is not
    read meanwhile, and they are handed out again, from the worker, once wanted."""
    c = consumer(Journal(), never_due=True)
    kafka = over_kafka(c, {INPUT: 20})
    wanted: set[TP] = set()
    takes = [5]
    asked = leaving(c, takes, wanted)
    await c._deliver({INPUT: records(INPUT, 12, 19)}, None)
    assert kafka.sought == [] and kafka.states[INPUT].position == 20
    assert c._handled == {INPUT: (12, 16)}
    assert [r.offset for r in c._left[INPUT][1]] == [17, 18, 19]
    fetched, _ = await c._next_records(timeout=1.0)
    assert fetched == {} and asked == [{SCOPES}, {SCOPES}]
    wanted.add(INPUT)
    fetched, _ = await c._next_records(timeout=1.0)
    assert [r.offset for r in fetched[INPUT]] == [17, 18, 19] and INPUT not in c._left
    assert asked[-1] == {SCOPES}, "this round's records of the partition come from the worker"
    takes[0] = 2
    await c._deliver(fetched, {INPUT, SCOPES})  # two taken, one left again
    assert c._handled == {INPUT: (12, 18)} and [r.offset for r in c._left[INPUT][1]] == [19]
    assert kafka.sought == []


async def test_records_left_for_later_too_long_are_handed_out_anyway() -> None:
    c = consumer(Journal(), never_due=True)
    over_kafka(c, {INPUT: 20})
    leaving(c, [5], set())
    await c._deliver({INPUT: records(INPUT, 12, 19)}, None)
    since, left = c._left[INPUT]
    c._left[INPUT] = (since - delivery.LEFT_MAX_SECONDS - 1, left)
    fetched, _ = await c._next_records(timeout=1.0)
    assert fetched == {INPUT: left}


async def test_records_left_for_later_are_sought_back_to_when_their_partition_goes() -> None:
    """Revoked or paused by Faust (not active), or a rebalance (a new generation): whoever
    reads the partition next must read them, so its position goes back to them."""
    c = consumer(Journal(), never_due=True)
    kafka = over_kafka(c, {INPUT: 20})
    takes = [5]
    asked = leaving(c, takes, set())
    await c._deliver({INPUT: records(INPUT, 12, 19)}, None)
    c._get_active_partitions = lambda: {SCOPES}
    await c._next_records(timeout=1.0)
    assert kafka.sought == [(INPUT, 17)] and c._left == {}
    c._get_active_partitions = lambda: {INPUT, SCOPES}
    kafka.states[INPUT].position = 20
    takes[0] = 1
    await c._deliver({INPUT: records(INPUT, 17, 19)}, None)
    assert [r.offset for r in c._left[INPUT][1]] == [18, 19]
    c.app.consumer_generation_id += 1
    await c._next_records(timeout=1.0)
    assert kafka.sought == [(INPUT, 17), (INPUT, 18)] and c._left == {}
    assert asked[-1] == {INPUT, SCOPES}


async def test_records_left_for_later_are_sought_back_to_when_a_rebalance_stops_the_flow() -> None:
    journal = Journal()
    c = consumer(journal, never_due=True)
    kafka = over_kafka(c, {INPUT: 20})
    leaving(c, [5], set())
    await c._deliver({INPUT: records(INPUT, 12, 19)}, None)
    await drain_as_a_rebalance_begins(c, journal, {SCOPES: records(SCOPES, 0, 0)})
    assert (INPUT, 17) in kafka.sought and c._left == {}
    assert journal == ["seek input to committed"]
