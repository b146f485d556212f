"""The sales.performance documents still owed, as each checkpoint keeps them in the table:
one partition's pairs in records of CHUNK_PAIRS, rewritten only when they changed, surplus
records deleted, and what a rebuild read known as what the table holds."""

from __future__ import annotations

from streams.engine.state import UNPUBLISHED, decode_value, make_key, parse_key
from streams.worker.unpublished import CHUNK_PAIRS, UnpublishedRecords


def partition_of(scope: str) -> int:
    return int(scope.rsplit("-", 1)[1]) % 2


def table(
    writes: dict[int, dict[bytes, bytes | None]],
) -> dict[tuple[int, int], list[tuple[str, str]] | None]:
    return {
        (parse_key(k)[2], parse_key(k)[3]): None if v is None else decode_value(UNPUBLISHED, v)
        for by_partition in writes.values()
        for k, v in by_partition.items()
    }


def test_each_partition_gets_its_own_pairs_and_unchanged_ones_are_not_written_again() -> None:
    records = UnpublishedRecords()
    owed = {("rep:r-1", "2027-Q1"), ("rep:r-2", "2026-08"), ("team:t-3", "2026-12")}
    first = records.writes(owed, partition_of, [0, 1])
    assert table(first) == {
        (0, 0): [("rep:r-2", "2026-08")],
        (1, 0): [("rep:r-1", "2027-Q1"), ("team:t-3", "2026-12")],
    }
    assert records.writes(owed, partition_of, [0, 1]) == {}  # nothing changed
    # partition 0's pair was published: its record is deleted; partition 1 unchanged
    assert table(records.writes(owed - {("rep:r-2", "2026-08")}, partition_of, [0, 1])) == {
        (0, 0): None
    }
    # a partition not owned is left alone, whatever is owed there
    assert records.writes({("rep:r-4", "2026-12")}, partition_of, [1]) == {
        1: {make_key("", UNPUBLISHED, 1, 0): None}
    }


def test_many_pairs_take_several_records_and_fewer_delete_the_surplus() -> None:
    records = UnpublishedRecords()
    many = {(f"rep:r-{2 * i}", "2026-12") for i in range(2 * CHUNK_PAIRS + 1)}
    written = table(records.writes(many, partition_of, [0]))
    assert sorted(written) == [(0, 0), (0, 1), (0, 2)]
    assert sum(len(pairs or []) for pairs in written.values()) == len(many)
    few = set(sorted(many)[:3])
    assert table(records.writes(few, partition_of, [0])) == {
        (0, 0): sorted(few),
        (0, 1): None,
        (0, 2): None,
    }


def test_a_rebuild_knows_what_the_table_holds() -> None:
    """After a restart, the records read are the ones to rewrite or delete: none is left
    behind to republish the same pairs at every later restart."""
    records = UnpublishedRecords()
    records.found(0, 0, [("rep:r-2", "2026-08")])
    records.found(0, 1, [("rep:r-4", "2027-Q1")])
    records.found(1, 0, [("rep:r-1", "2026-12")])  # a partition another worker owns now
    assert records.rebuilt([0]) == [("rep:r-2", "2026-08"), ("rep:r-4", "2027-Q1")]
    assert records.read == {}
    assert records.writes({("rep:r-2", "2026-08"), ("rep:r-4", "2027-Q1")}, partition_of, [0]) == {}
    assert table(records.writes(set(), partition_of, [0])) == {(0, 0): None, (0, 1): None}
