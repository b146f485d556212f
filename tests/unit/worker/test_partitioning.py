"""A rep's scope lives where Kafka's default partitioner puts a record keyed by its id."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner

from streams.worker.partitioning import partition_of


def test_rep_scopes_follow_the_producers_key() -> None:
    partitioner = DefaultPartitioner()
    partitions = list(range(8))
    for rep in ("s01", "ana", "rep-000123", "ü-rep", "x" * 64):
        expected = partitioner(rep.encode(), partitions, partitions)
        assert partition_of("rep:" + rep, 8) == expected


def test_other_scopes_are_spread_by_their_text() -> None:
    placed = {partition_of(f"team:t{i}", 8) for i in range(50)}
    assert len(placed) == 8
