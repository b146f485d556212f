"""The decoded items of records a catch-up handed back (streams.worker.held_decodes)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from streams.worker.held_decodes import HeldDecodes, item_kept


def record(offset: int, value: bytes | None = b"{}", key: bytes | None = b"r1") -> Any:
    return SimpleNamespace(offset=offset, key=key, value=value)


def entries(*offsets: int) -> dict[int, Any]:
    return {offset: (b"r1", b"{}", f"item {offset}") for offset in offsets}


def test_a_partition_hands_over_its_entries_once() -> None:
    held = HeldDecodes()
    held.keep(("t", 0), entries(5, 6))
    assert held.take(("t", 1)) == {} and held.take(("u", 0)) == {}
    assert len(held) == 2
    assert held.take(("t", 0)) == entries(5, 6)
    assert held.take(("t", 0)) == {}  # taken: kept again only if handed back again
    assert len(held) == 0


def test_keeping_replaces_what_the_partition_held() -> None:
    held = HeldDecodes()
    held.keep(("t", 0), entries(1, 2, 3))
    held.keep(("t", 0), entries(3))
    assert len(held) == 1
    held.keep(("t", 0), {})
    assert len(held) == 0 and held.take(("t", 0)) == {}


def test_an_item_is_used_only_for_the_very_record_decoded() -> None:
    """A topic deleted and made again reuses its offsets: other bytes there are decoded."""
    kept = entries(0)
    assert item_kept(kept, record(0)) == "item 0"
    assert item_kept(kept, record(1)) is None
    assert item_kept(kept, record(0, value=b'{"a": 1}')) is None
    assert item_kept(kept, record(0, key=None)) is None
    assert item_kept(kept, record(0, value=None)) is None


def test_past_its_limit_the_partitions_kept_longest_go_first() -> None:
    held = HeldDecodes(limit=4)
    held.keep(("t", 0), entries(1, 2))
    held.keep(("t", 1), entries(1, 2))
    held.keep(("t", 0), held.take(("t", 0)))  # handed back again: now the newest
    held.keep(("t", 2), entries(1))
    assert len(held) == 3
    assert held.take(("t", 1)) == {}
    assert held.take(("t", 0)) == entries(1, 2) and held.take(("t", 2)) == entries(1)
    held.keep(("t", 3), entries(*range(6)))  # more than the limit alone: kept, the rest go
    assert len(held) == 6
