"""A busy deal's touches spread over records of bounded size, like a busy hour's events.

A deal's state holds the ids of at most MAX_IDS_PER_RECORD touches (applied activities that
carry its deal_id); later ones go to touch records, each with its own ids and counts. Here
the limit is 3, so ten touches take the state and three touch records. The deal's figure
counts all of them once, repeats stay duplicates, and a crash anywhere replays to the clean
result.
"""

from __future__ import annotations

from typing import Any

import pytest

from streams.engine import processor
from streams.engine.deal_touches import DealTouches
from streams.engine.items import RawEvent
from streams.engine.state import DEAL_STATE, TOUCHES, DealState, TouchRecord
from tests.unit.engine.scope_harness import Harness, Oracle, activity, close, crash_batch, deal, utc

NOW = utc(2026, 11, 27, 18)
LIMIT = 3
SCOPES = ("rep:r1", "team:t1", "rep:r2")
PERIODS = ("2026-11-20", "2026-W47", "2026-11")


@pytest.fixture(autouse=True)
def small_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processor, "MAX_IDS_PER_RECORD", LIMIT)


def events() -> list[RawEvent]:
    """Ten touches of D1 (five before its won event, five after), one of D2, by two reps."""
    touches = [
        activity(
            f"a{i}",
            "r1" if i % 2 else "r2",
            "t1",
            f"2026-11-20T{8 + i:02d}:00:00Z",
            "email" if i % 3 == 0 else "call",
            deal_id="D1",
        )
        for i in range(10)
    ]
    won = deal(
        "d1",
        "D1",
        "r1",
        "t1",
        "2026-11-20T12:30:00Z",
        "won",
        1000,
        created_at="2026-11-01T09:00:00Z",
    )
    other = deal("d2", "D2", "r2", "t1", "2026-11-20T13:00:00Z", "won", 500)
    touch_other = activity("b1", "r2", "t1", "2026-11-20T13:10:00Z", deal_id="D2")
    return [*touches[:5], won, *touches[5:], other, touch_other]


def harness() -> Harness:
    return Harness(partitions=3)


def check_oracle(h: Harness, items: list[RawEvent]) -> None:
    oracle = Oracle(items, h.tz, h.fx)
    for scope in SCOPES:
        for period in PERIODS:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)


@pytest.mark.parametrize("batch_size", [None, 1, 4])
def test_a_busy_deal_keeps_its_touches_in_records_of_bounded_size(batch_size: int | None) -> None:
    h = harness()
    h.run(events(), NOW, batch_size=batch_size)
    assert h.deadletters == []
    state = h.records(DEAL_STATE)[("deal:D1", DEAL_STATE)]
    records = {k: v for k, v in h.records(TOUCHES).items() if k[0] == "deal:D1"}
    assert len(state.touch_ids) == LIMIT and sorted(k[2] for k in records) == [1, 2, 3]
    assert all(len(r.ids) <= LIMIT for r in records.values())
    ids = [*state.touch_ids, *(i for r in records.values() for i in r.ids)]
    assert sorted(ids) == sorted(f"a{i}" for i in range(10))
    view = h.view("rep:r1")
    assert view is not None and view.deals["D1"].touches == {"call": 6, "email": 4}
    assert h.records(TOUCHES).keys() <= {("deal:D1", TOUCHES, n) for n in (1, 2, 3)}
    check_oracle(h, events())


def test_a_repeated_touch_is_a_duplicate_whichever_record_holds_it() -> None:
    h = harness()
    h.run(events(), NOW, batch_size=2)
    h.run(events(), NOW)
    assert sum(h.duplicates.values()) == len(events())
    view = h.view("rep:r1")
    assert view is not None and view.deals["D1"].touches == {"call": 6, "email": 4}
    check_oracle(h, events())


@pytest.mark.parametrize("outbox", ["lost", "twice"])
@pytest.mark.parametrize("keep", [0, 1, 0.5, None])
@pytest.mark.parametrize("victim", range(0, 24, 3))
def test_a_crash_of_any_batch_replays_to_the_clean_result(
    victim: int, keep: int | float | None, outbox: str
) -> None:
    clean = harness()
    clean.run(events(), NOW, batch_size=2)
    h = harness()
    h.run(events(), NOW, batch_size=2, crash=crash_batch(victim, keep, outbox))
    assert h.shown(SCOPES, PERIODS, NOW) == clean.shown(SCOPES, PERIODS, NOW)
    check_oracle(h, events())


def test_a_deal_reads_its_touch_records_only_once_its_state_is_full() -> None:
    """Touch records start once the state holds LIMIT ids: a deal short of that has none, so
    asking the store for them (an absent key, for most deals) is skipped."""
    asked: list[tuple[Any, ...]] = []
    held = {("deal:D1", TOUCHES, 1): TouchRecord(ids=["x"], touches={"call": 1})}

    def load(key: tuple[Any, ...]) -> TouchRecord | None:
        asked.append(key)
        return held.get(key)

    short = DealState(touch_ids=["a", "b"], touches={"call": 2})
    assert DealTouches.load("deal:D1", short, load, LIMIT).records == []
    assert asked == []

    full = DealState(touch_ids=["a", "b", "c"], touches={"call": 3})
    touches = DealTouches.load("deal:D1", full, load, LIMIT)
    assert asked == [("deal:D1", TOUCHES, 1), ("deal:D1", TOUCHES, 2)]
    assert touches.ids == {"a", "b", "c", "x"} and touches.totals() == {"call": 4}
