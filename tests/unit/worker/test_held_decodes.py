"""The decoded items of records a catch-up handed back (streams.worker.held_decodes)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from streams.worker.held_decodes import HeldDecodes


def record(
    offset: int,
    value: bytes | None = b"{}",
    topic: str = "t",
    partition: int = 0,
    key: bytes | None = b"r1",
) -> Any:
    return SimpleNamespace(topic=topic, partition=partition, offset=offset, key=key, value=value)


def test_an_item_kept_is_taken_once_for_the_same_record() -> None:
    held = HeldDecodes()
    item = object()
    held.keep(record(5), item)
    assert held.take(record(4)) is None
    assert held.take(record(5, topic="u")) is None and held.take(record(5, partition=1)) is None
    assert held.take(record(5)) is item
    assert held.take(record(5)) is None  # taken: kept again only if handed back again
    assert len(held) == 0


def test_other_bytes_at_the_same_offset_are_not_the_record_decoded() -> None:
    """A topic deleted and made again reuses its offsets: the item is dropped, not used."""
    held = HeldDecodes()
    held.keep(record(0, b'{"a": 1}'), object())
    assert held.take(record(0, b'{"a": 2}')) is None
    assert len(held) == 0
    held.keep(record(0, None), "tombstone")
    assert held.take(record(0, b"{}")) is None
    held.keep(record(0), "keyed")
    assert held.take(record(0, key=None)) is None
    assert len(held) == 0


def test_past_its_limit_the_oldest_entry_goes() -> None:
    held = HeldDecodes(limit=3)
    for offset in range(3):
        held.keep(record(offset), offset)
    assert held.take(record(1)) == 1
    held.keep(record(1), 1)  # handed back again: now the newest
    held.keep(record(3), 3)
    assert len(held) == 3
    assert held.take(record(0)) is None
    assert [held.take(record(n)) for n in (2, 1, 3)] == [2, 1, 3]
