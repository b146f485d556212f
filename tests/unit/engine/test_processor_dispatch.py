"""Every kind of item the fold takes has a handler, and a record decoded at ingestion folds
exactly like the same record decoded again by the fold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, get_args

from streams.domain.validation import Rejection, decode_payload
from streams.engine import processor
from streams.engine.items import DecodedEvent, Foldable, RawEvent
from tests.unit.engine.scope_harness import Harness, activity, deal, feedback

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def test_every_item_type_has_a_handler() -> None:
    assert set(processor._HANDLERS) == set(get_args(Foldable))


def _decoded(raw: RawEvent) -> DecodedEvent:
    event = decode_payload(raw.kind, raw.payload)
    assert not isinstance(event, Rejection)
    return DecodedEvent(raw, event)


def _records() -> list[RawEvent]:
    day = NOW - timedelta(days=3)
    first = activity("a1", "r1", "t1", day, deal_id="d1")
    return [
        first,
        activity("a2", "r2", "t1", day + timedelta(hours=1), "email"),
        first,  # a duplicate
        feedback("f1", "r1", "t1", day + timedelta(hours=2), csat=4, nps=9),
        deal("e1", "d1", "r1", "t1", day + timedelta(hours=3), "won", 1200.0, "EUR"),
        deal("e2", "d2", "r2", "t2", day + timedelta(hours=4), "lost", 50.0),
        activity("a3", "r1", "t2", NOW - timedelta(days=400)),  # late
    ]


def _fold(items: list[Any]) -> Harness:
    harness = Harness(partitions=2)
    harness.run(items, NOW)
    return harness


def test_a_decoded_record_folds_like_its_raw_bytes() -> None:
    raws = _records()
    by_raw = _fold(raws)
    by_decoded = _fold([_decoded(raw) for raw in raws])
    assert [p.store for p in by_decoded.parts] == [p.store for p in by_raw.parts]
    assert by_decoded.duplicates == by_raw.duplicates
    assert by_decoded.applied == by_raw.applied
    assert by_decoded.activities == by_raw.activities
    assert [(d.raw, d.reason) for d in by_decoded.deadletters] == [
        (d.raw, d.reason) for d in by_raw.deadletters
    ]
    assert by_raw.duplicates["sales.activities"] == 1
    assert [d.reason for d in by_raw.deadletters] == ["late_event"]
    assert sum(len(p.store) for p in by_raw.parts) > 5
