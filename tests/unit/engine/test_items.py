"""Envelopes of the internal topic: what this version writes it reads back, and what it
cannot read is one error the batch handler names (never a skipped record)."""

from __future__ import annotations

import msgspec
import pytest

from streams.domain.satisfaction import Satisfaction
from streams.engine.items import (
    HourCounts,
    Item,
    RawEvent,
    Republish,
    TeamHourItem,
    Tick,
    UnreadableEnvelope,
    decode_envelope,
    encode_envelope,
)


def test_an_envelope_reads_back_as_the_items_written() -> None:
    items: list[Item] = [
        Republish("rep:r1", "2026-11"),
        TeamHourItem("team:t1", 1_764_000_000, "r1", HourCounts({"call": 2}, Satisfaction(), 1.5)),
        Tick(),
    ]
    assert decode_envelope(encode_envelope(items)) == items


def test_a_raw_event_of_an_earlier_version_reads_with_nothing_ahead_and_back() -> None:
    """A RawEvent without the reader's event time (before 2026-12-07) still reads, as one
    judged by its folding partition alone; a worker of that version reads a new one too
    (msgspec ignores an array's trailing fields), so a rolling upgrade mixes them."""
    old = ["raw", "rep:r1", "activities", "sales.activities", 3, 17, b"r1", b"{}"]
    [item] = decode_envelope(msgspec.msgpack.encode([[old]]))
    assert isinstance(item, RawEvent) and item.ahead == float("-inf") and item.offset == 17
    new = msgspec.msgpack.encode([[[*old, 1_764_000_000.0]]])
    assert decode_envelope(new) == [msgspec.structs.replace(item, ahead=1_764_000_000.0)]

    class EarlierRawEvent(msgspec.Struct, tag="raw", array_like=True):
        scope: str
        kind: str
        topic: str
        partition: int
        offset: int
        key: bytes | None
        payload: bytes

    assert msgspec.msgpack.decode(msgspec.msgpack.encode([*old, 5.0]), type=EarlierRawEvent)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (msgspec.msgpack.encode([[["future_item", "rep:r1", 1]]]), "future_item"),
        (b'{"items": []}', "Expected `array`"),
        (b"", "truncated"),
        (msgspec.msgpack.encode([[["republish", "rep:r1"]]]), "at least length 3"),
        (None, "None"),
    ],
    ids=["unknown item kind", "not msgpack", "empty", "item too short", "no value"],
)
def test_what_this_version_cannot_read_is_an_unreadable_envelope(
    value: bytes | None, says: str
) -> None:
    with pytest.raises(UnreadableEnvelope, match=says):
        decode_envelope(value)  # type: ignore[arg-type]
