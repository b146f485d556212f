"""Offsets are acknowledged only at a checkpoint, after the handler's state was written out.

A commit that passed a batch whose state was still held in memory would lose that state in
a crash: the replay would start after it. These drive the consumer's batch path with a fake
app and fetched records; the acknowledgement bookkeeping is Faust's own.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

from tests.unit.worker.batch_consumer_fakes import INPUT, SCOPES, Journal, consumer, records


async def start_checkpoint(c: Any) -> None:
    async with c._handling:
        await c._checkpoint()


def acked(c: Any) -> dict[TP, list[int]]:
    return {tp: sorted(offsets) for tp, offsets in c._acked_index.items() if offsets}


async def test_handled_batches_are_acknowledged_only_at_the_checkpoint() -> None:
    journal = Journal()
    c = consumer(journal, never_due=True)
    await c._deliver({INPUT: records(INPUT, 0, 4)}, None)
    await c._deliver({INPUT: records(INPUT, 5, 9), SCOPES: records(SCOPES, 0, 1)}, None)
    assert journal == ["handled sales.activities:4", "handled sales.activities:9,sales.scopes:1"]
    assert acked(c) == {}, "nothing may be committed before the state is written out"
    assert c._read_offset[INPUT] == 10, "the next fetch still starts after the batch"

    async with c._handling:
        await c._checkpoint()
    assert journal[-1] == "checkpoint"
    assert acked(c) == {INPUT: list(range(10)), SCOPES: [0, 1]}
    assert c._handled == {}


async def test_a_checkpoint_follows_the_batch_once_the_interval_is_up() -> None:
    journal = Journal()
    c = consumer(journal, interval=0.0)
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    assert journal == ["handled sales.activities:2", "checkpoint"]
    assert acked(c) == {INPUT: [0, 1, 2]}


@pytest.mark.parametrize("wanted", [True, False])
async def test_the_handler_can_ask_for_a_checkpoint_early(wanted: bool) -> None:
    journal = Journal()
    c = consumer(journal, wanted=wanted, never_due=True)
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    assert ("checkpoint" in journal) is wanted
    assert bool(acked(c)) is wanted


async def test_offsets_kafka_skipped_between_batches_are_acknowledged_too() -> None:
    """Compaction or transaction markers leave gaps; the commit must move past them."""
    journal = Journal()
    c = consumer(journal, never_due=True)
    c._read_offset[INPUT] = 3  # where the partition was read from
    await c._deliver({INPUT: records(INPUT, 5, 6)}, None)
    await c._deliver({INPUT: records(INPUT, 9, 9)}, None)
    async with c._handling:
        await c._checkpoint()
    assert acked(c) == {INPUT: list(range(3, 10))}


async def test_batches_handled_before_a_rebalance_are_not_acknowledged_after_it() -> None:
    """The new owner of a partition replays what the last checkpoint did not cover."""
    journal = Journal()
    c = consumer(journal, never_due=True)
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    c.app.consumer_generation_id = 2
    async with c._handling:
        await c._checkpoint()
    assert journal[-1] == "checkpoint", "the state is still written out (replays are idempotent)"
    assert acked(c) == {}


async def test_a_batch_during_which_the_generation_changed_is_not_acknowledged() -> None:
    journal = Journal()
    c = consumer(journal, interval=0.0)

    async def handler(batch: Any) -> None:
        c.app.consumer_generation_id = 2

    c.batch_handler = handler
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    async with c._handling:
        await c._checkpoint()
    assert acked(c) == {}


@pytest.mark.parametrize("stopping", [True, False])
async def test_a_batch_the_stop_ends_is_acknowledged_and_one_a_rebalance_ends_is_not(
    stopping: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A stop (SIGTERM) stops the flow as a rebalance does, in the same generation: the
    batch it waited for is in its last checkpoint and commit, not replayed by the next
    owner (its dead letters were sent twice, its records counted as duplicates)."""
    journal = Journal()
    c = consumer(journal, never_due=True)

    async def handler(batch: Any) -> None:
        c.flow_active = False
        c.app.should_stop = stopping

    async def faust_wait_empty(self: Any) -> None:
        journal.append(f"faust commits {acked(self)}")

    monkeypatch.setattr(faust_aiokafka.Consumer, "wait_empty", faust_wait_empty)
    c.batch_handler = handler
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    await c.wait_empty()
    assert journal[-1] == "faust commits " + str({INPUT: [0, 1, 2]} if stopping else {})


async def test_a_failed_checkpoint_acknowledges_nothing() -> None:
    journal = Journal()
    c = consumer(journal, interval=0.0)

    async def failing() -> None:
        raise RuntimeError("changelog refused")

    c.batch_checkpoint = failing
    with pytest.raises(RuntimeError):
        await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    assert acked(c) == {}


async def test_a_rebalance_or_stop_takes_a_checkpoint_before_faust_commits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal = Journal()
    c = consumer(journal, never_due=True)

    async def faust_wait_empty(self: Any) -> None:
        journal.append(f"faust commits {acked(self)}")

    monkeypatch.setattr(faust_aiokafka.Consumer, "wait_empty", faust_wait_empty)
    await c._deliver({INPUT: records(INPUT, 0, 1)}, None)
    await c.wait_empty()
    assert journal == [
        "handled sales.activities:1",
        "checkpoint",
        "faust commits " + str({INPUT: [0, 1]}),
    ]


# -- checkpoints in flight: batches go on while the writes travel -----------------------------


class Travelling:
    """A checkpoint whose writes reach Kafka when the test says so."""

    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self.arrived = asyncio.Event()
        self.fail = False
        self.started = 0

    async def start(self) -> Any:
        self.started += 1
        number = self.started
        self.journal.append(f"checkpoint {number} started")

        async def complete() -> None:
            await self.arrived.wait()
            if self.fail:
                raise RuntimeError("changelog refused")
            self.journal.append(f"checkpoint {number} in Kafka")

        return complete


def travelling_consumer(journal: Journal) -> tuple[Any, Travelling]:
    c = consumer(journal, never_due=True)
    writes = Travelling(journal)
    c.batch_checkpoint = writes.start
    return c, writes


async def test_batches_go_on_while_a_checkpoint_travels_and_are_acknowledged_by_the_next() -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)
    await c._deliver({INPUT: records(INPUT, 0, 4)}, None)
    await start_checkpoint(c)
    await c._deliver({INPUT: records(INPUT, 5, 9)}, None)
    assert journal[-1] == "handled sales.activities:9", "the batch did not wait"
    assert acked(c) == {}, "nothing is acknowledged before the writes are in Kafka"

    writes.arrived.set()
    await c._complete_checkpoint()
    assert acked(c) == {INPUT: list(range(5))}, "only the batches the checkpoint covers"
    await start_checkpoint(c)
    await c._complete_checkpoint()
    assert acked(c) == {INPUT: list(range(10))}


async def test_a_checkpoint_waits_for_the_one_in_flight() -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)
    await c._deliver({INPUT: records(INPUT, 0, 1)}, None)
    await start_checkpoint(c)
    await c._deliver({INPUT: records(INPUT, 2, 3)}, None)

    task = asyncio.ensure_future(start_checkpoint(c))
    await asyncio.sleep(0.01)
    assert writes.started == 1, "the second waits for the first's writes"
    writes.arrived.set()
    await task
    assert journal.index("checkpoint 1 in Kafka") < journal.index("checkpoint 2 started")


async def test_batches_do_not_wait_for_a_checkpoint_in_flight_when_the_next_is_due() -> None:
    """A due checkpoint waits until the last one is in Kafka, without holding the batches;
    state over its bound makes the batches wait for it."""
    journal = Journal()
    c, writes = travelling_consumer(journal)
    await c._deliver({INPUT: records(INPUT, 0, 1)}, None)
    await start_checkpoint(c)
    c.checkpoint_interval = 0.0  # every batch finds a checkpoint due
    await asyncio.wait_for(c._deliver({INPUT: records(INPUT, 2, 3)}, None), 1.0)
    assert writes.started == 1 and journal[-1] == "handled sales.activities:3"

    writes.arrived.set()
    await asyncio.sleep(0)  # the first completes; the next batch takes the due one
    await c._deliver({INPUT: records(INPUT, 4, 5)}, None)
    assert writes.started == 2
    assert acked(c) == {INPUT: [0, 1]}

    writes.arrived.clear()
    c.checkpoint_wanted = lambda: True
    blocked = asyncio.ensure_future(c._deliver({INPUT: records(INPUT, 6, 7)}, None))
    await asyncio.sleep(0.01)
    assert not blocked.done(), "held state over its bound waits for the checkpoint in flight"
    writes.arrived.set()
    await blocked
    assert writes.started == 3


async def test_a_checkpoint_that_never_reaches_kafka_acknowledges_nothing() -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)
    writes.fail = True
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    await start_checkpoint(c)
    writes.arrived.set()
    with pytest.raises(RuntimeError):
        await c._complete_checkpoint()
    assert acked(c) == {}


async def test_a_rebalance_while_the_writes_travel_acknowledges_nothing() -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    await start_checkpoint(c)
    c.app.consumer_generation_id = 2
    writes.arrived.set()
    await c._complete_checkpoint()
    assert "checkpoint 1 in Kafka" in journal
    assert acked(c) == {}


async def test_a_rebalance_or_stop_waits_for_the_writes_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)

    async def faust_wait_empty(self: Any) -> None:
        journal.append(f"faust commits {acked(self)}")

    monkeypatch.setattr(faust_aiokafka.Consumer, "wait_empty", faust_wait_empty)
    await c._deliver({INPUT: records(INPUT, 0, 1)}, None)
    await start_checkpoint(c)
    await c._deliver({INPUT: records(INPUT, 2, 3)}, None)
    asyncio.get_running_loop().call_later(0.01, writes.arrived.set)
    await c.wait_empty()
    assert journal[-1] == "faust commits " + str({INPUT: [0, 1, 2, 3]})
    assert journal.index("checkpoint 2 in Kafka") < len(journal) - 1


# -- idle input: write out and commit at once ---------------------------------------------


async def test_a_fetch_waits_a_second_unless_batches_wait_for_a_checkpoint() -> None:
    c = consumer(Journal(), never_due=True)
    c.checkpoint_interval = 1.0
    assert c._fetch_timeout() == 1.0, "nothing to write out: a long fetch costs nothing"
    await c._deliver({INPUT: records(INPUT, 0, 1)}, None)
    assert c._fetch_timeout() == c.idle_after < 1.0
    c.checkpoint_interval = 0.05
    assert c._fetch_timeout() == 0.05, "never longer than the interval"
    async with c._handling:
        await c._checkpoint()
    assert c._fetch_timeout() == 1.0


async def test_idle_input_is_written_out_and_committed_without_waiting_for_the_interval() -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    await c._idle_checkpoint()
    assert journal[-1] == "checkpoint 1 started"
    assert not any(line.startswith("commit") for line in journal), "not before it is in Kafka"

    writes.arrived.set()
    await c._complete_checkpoint()
    assert journal[-2:] == ["checkpoint 1 in Kafka", "commit " + str({INPUT: [0, 1, 2]})]


async def test_an_idle_checkpoint_that_never_reaches_kafka_commits_nothing() -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)
    writes.fail = True
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    await c._idle_checkpoint()
    writes.arrived.set()
    with pytest.raises(RuntimeError):
        await c._complete_checkpoint()
    assert acked(c) == {}
    assert not any(line.startswith("commit") for line in journal)


async def test_an_idle_checkpoint_with_nothing_to_write_still_commits() -> None:
    """The handler wrote nothing (its batches changed no state): the offsets still count."""
    journal = Journal()
    c = consumer(journal, never_due=True)
    await c._deliver({INPUT: records(INPUT, 0, 1)}, None)
    await c._idle_checkpoint()
    await c._complete_checkpoint()
    assert journal[-2:] == ["checkpoint", "commit " + str({INPUT: [0, 1]})]


async def test_a_failed_commit_after_an_idle_checkpoint_is_left_to_fausts_timer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    c = consumer(journal, never_due=True)

    async def refused() -> bool:
        raise RuntimeError("coordinator not available")

    c.commit = refused
    await c._deliver({INPUT: records(INPUT, 0, 1)}, None)
    await c._idle_checkpoint()
    await c._complete_checkpoint()  # the checkpoint itself succeeded: nothing raises here
    assert acked(c) == {INPUT: [0, 1]}, "still acknowledged: the next commit takes them"
    assert "Faust's commit timer commits them next" in caplog.text
    assert "coordinator not available" in caplog.text


async def test_an_idle_checkpoint_a_rebalance_overtook_acknowledges_and_commits_nothing() -> None:
    journal = Journal()
    c, writes = travelling_consumer(journal)
    await c._deliver({INPUT: records(INPUT, 0, 2)}, None)
    await c._idle_checkpoint()
    c.app.consumer_generation_id = 2
    writes.arrived.set()
    await c._complete_checkpoint()
    assert acked(c) == {}
    assert not any(line.startswith("commit") for line in journal)
