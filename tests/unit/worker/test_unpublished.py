"""The sales.performance documents still owed, as each checkpoint keeps them in the table:
every owed pair of a partition held, in records of CHUNK_PAIRS, written only when the table
lacks one, rewritten exactly once it holds over twice what is owed, surplus records deleted,
and what a rebuild read known as what the table holds."""

from __future__ import annotations

from streams.engine.state import UNPUBLISHED, decode_value, make_key, parse_key
from streams.worker.unpublished import CHUNK_PAIRS, SLACK_PAIRS, UnpublishedRecords

Pairs = set[tuple[str, str]]
Table = dict[tuple[int, int], list[tuple[str, str]] | None]


def partition_of(scope: str) -> int:
    return int(scope.rsplit("-", 1)[1]) % 2


def table(writes: dict[int, dict[bytes, bytes | None]]) -> Table:
    return {
        (parse_key(k)[2], parse_key(k)[3]): None if v is None else decode_value(UNPUBLISHED, v)
        for by_partition in writes.values()
        for k, v in by_partition.items()
    }


def write(records: UnpublishedRecords, added: Pairs, owed: Pairs, owned: list[int]) -> Table:
    return table(records.writes(added, len(owed), lambda: owed, partition_of, owned))


def test_pairs_the_table_lacks_are_written_to_their_partitions_records() -> None:
    records = UnpublishedRecords()
    owed = {("rep:r-1", "2027-Q1"), ("rep:r-2", "2026-08"), ("team:t-3", "2026-12")}
    assert write(records, owed, owed, [0, 1]) == {
        (0, 0): [("rep:r-2", "2026-08")],
        (1, 0): [("rep:r-1", "2027-Q1"), ("team:t-3", "2026-12")],
    }
    assert write(records, owed, owed, [0, 1]) == {}  # held already: nothing written
    # published ones stay held (a document may go out twice) until the table holds over
    # twice what is owed: then exactly what is owed, and emptied records are deleted
    assert write(records, set(), {("rep:r-1", "2027-Q1")}, [0, 1]) == {}
    assert write(records, {("rep:r-4", "2026-12")}, {("rep:r-4", "2026-12")}, [1]) == {}
    assert records.held == {1: {("rep:r-1", "2027-Q1"), ("team:t-3", "2026-12")}}


def test_a_table_holding_over_twice_what_is_owed_is_rewritten_exactly() -> None:
    records = UnpublishedRecords()
    many = {(f"rep:r-{2 * i}", "2026-12") for i in range(SLACK_PAIRS + 10)}
    write(records, many, many, [0])
    few = set(sorted(many)[:3])
    assert write(records, set(), few, [0]) == {(0, 0): sorted(few)}
    assert write(records, set(), set(), [0]) == {}  # 3 held, nothing owed: within the slack
    assert records.held == {0: few}


def test_many_pairs_take_several_records_and_fewer_delete_the_surplus() -> None:
    records = UnpublishedRecords()
    many = {(f"rep:r-{2 * i}", "2026-12") for i in range(2 * CHUNK_PAIRS + 1)}
    written = write(records, many, many, [0])
    assert sorted(written) == [(0, 0), (0, 1), (0, 2)]
    assert sum(len(pairs or []) for pairs in written.values()) == len(many)
    few = set(sorted(many)[:3])
    assert write(records, set(), few, [0]) == {(0, 0): sorted(few), (0, 1): None, (0, 2): None}


def test_a_rebuild_knows_what_the_table_holds() -> None:
    """After a restart, the records read are the ones to rewrite or delete: none is left
    behind to republish the same pairs at every later restart."""
    records = UnpublishedRecords()
    records.found(0, 0, [("rep:r-2", "2026-08")])
    records.found(0, 1, [("rep:r-4", "2027-Q1")])
    records.found(1, 0, [("rep:r-1", "2026-12")])  # a partition another worker owns now
    assert records.rebuilt([0]) == [("rep:r-2", "2026-08"), ("rep:r-4", "2027-Q1")]
    assert records.read == {}
    held = {("rep:r-2", "2026-08"), ("rep:r-4", "2027-Q1")}
    assert write(records, held, held, [0]) == {}
    huge_slack = {(f"rep:r-{2 * i}", "2025-01") for i in range(SLACK_PAIRS)}
    records.held[0] |= huge_slack  # as if a long backlog was published meanwhile
    assert write(records, set(), set(), [0]) == {(0, 0): None, (0, 1): None}
    assert make_key("", UNPUBLISHED, 0, 0)  # the key the records live under
