"""Which fetched records the batch path handles first: the internal topic's, so the fold's
contributions to other scopes never wait behind a backlog of input."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from faust.types import TP

from streams.worker.delivery import BatchConsumer


class FetchBuffer:
    """aiokafka's fetched records: a partition's records are handed out, in the order the
    partitions were fetched, until they are used up (at most `max_records` per call)."""

    def __init__(self, fetched: dict[TP, list[int]], max_records: int = 4) -> None:
        self.fetched = fetched
        self.max_records = max_records
        self.asked: list[set[TP]] = []

    async def getmany(self, active_partitions: set[TP], timeout: float) -> dict[TP, list[int]]:
        self.asked.append(set(active_partitions))
        out: dict[TP, list[int]] = {}
        room = self.max_records
        for tp in list(self.fetched):
            if tp not in active_partitions or not room:
                continue
            out[tp], self.fetched[tp] = self.fetched[tp][:room], self.fetched[tp][room:]
            room -= len(out[tp])
            if not self.fetched[tp]:
                del self.fetched[tp]
        return out


def consumer_over(buffer: FetchBuffer, first: frozenset[str]) -> SimpleNamespace:
    assigned = {TP("sales.activities", 0), TP("sales.activities", 1), TP("sales.scopes", 0)}
    c = SimpleNamespace(
        first_topics=first,
        flow_active=True,
        not_waiting_next_records=asyncio.Event(),
        _get_active_partitions=lambda: set(assigned),
        _getmany=buffer.getmany,
        _left={},
    )

    async def nothing_left(active: set[TP]) -> dict[TP, list[int]]:
        return {}

    c._take_left = nothing_left
    return c


async def test_the_internal_topic_is_handled_before_input_fetched_earlier() -> None:
    """Input partitions fetched first used to be drained completely before the internal
    topic's records (the fold's contributions) got a turn: figures lagged the input."""
    scopes = TP("sales.scopes", 0)
    buffer = FetchBuffer(
        {
            TP("sales.activities", 0): list(range(10)),
            TP("sales.activities", 1): list(range(10)),
            scopes: [100, 101],
        }
    )
    consumer = consumer_over(buffer, frozenset({"sales.scopes"}))
    records, _ = await BatchConsumer._next_records(consumer, timeout=1.0)  # type: ignore[arg-type]
    assert records == {scopes: [100, 101]}
    # once the internal topic has nothing buffered, input comes again
    records, _ = await BatchConsumer._next_records(consumer, timeout=1.0)  # type: ignore[arg-type]
    assert records == {TP("sales.activities", 0): [0, 1, 2, 3]}
    assert buffer.asked == [{scopes}, {scopes}, {*consumer._get_active_partitions()}]


async def test_without_a_first_topic_faust_fetches_as_usual() -> None:
    buffer = FetchBuffer({TP("sales.activities", 0): [0, 1], TP("sales.scopes", 0): [100]})
    consumer = consumer_over(buffer, frozenset())

    async def faust_wait_next_records(timeout: float) -> tuple[dict[TP, list[int]], set[TP]]:
        active = consumer._get_active_partitions()
        return await buffer.getmany(active, timeout), active

    consumer._wait_next_records = faust_wait_next_records
    records, _ = await BatchConsumer._next_records(consumer, timeout=1.0)  # type: ignore[arg-type]
    assert records == {TP("sales.activities", 0): [0, 1], TP("sales.scopes", 0): [100]}
