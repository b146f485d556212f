"""A target's status moved by the clock alone republishes its document on sales.performance.

Documents are published when figures change; a period ending (`missed`) or a pace crossing
a bound changes no figure, and the topic kept `at_risk` for a quarter the API called
`missed` (a wall-clock audit under libfaketime). The minute's Tick evaluates every target:
a status that differs from its last evaluation marks the scope and period changed.
"""

from __future__ import annotations

from datetime import UTC, datetime

from tests.unit.engine.scope_harness import Harness, activity, target

WEEK = "2026-W48"  # Monday 2026-11-23 to Sunday 2026-11-29, UTC
TUESDAY = datetime(2026, 11, 24, 12, tzinfo=UTC)
THURSDAY = datetime(2026, 11, 26, 12, tzinfo=UTC)
NEXT_MONDAY = datetime(2026, 11, 30, 0, 1, tzinfo=UTC)


def statuses(h: Harness, at: datetime) -> dict[str, str]:
    doc = h.performance("rep:r1", WEEK, at)
    assert doc is not None
    return {t["metric"]: t["status"] for t in doc["targets"]}


def ticked(h: Harness, at: datetime) -> set[tuple[str, str]]:
    h.changed.clear()
    h.tick(at)
    return set(h.changed)


def test_a_status_the_clock_moves_republishes_and_an_unmoved_one_does_not() -> None:
    h = Harness()
    h.run([activity("a1", "r1", "t1", "2026-11-23T10:00:00Z")], TUESDAY)
    # 10 calls in the week; Tuesday noon is 1.5 of its 5 business days: 3 expected, and
    # 1 is below 0.8 x 3: at risk
    h.run([target("rep:r1", "activities_total", WEEK, 10.0)], TUESDAY)
    assert statuses(h, TUESDAY) == {"activities_total": "at_risk"}
    ticked(h, TUESDAY)  # the first evaluation here
    assert ticked(h, THURSDAY) == set(), "at_risk still: nothing to republish"
    assert statuses(h, NEXT_MONDAY) == {"activities_total": "missed"}
    assert ticked(h, NEXT_MONDAY) == {("rep:r1", WEEK)}
    assert ticked(h, NEXT_MONDAY) == set(), "missed already published"


def test_a_restart_does_not_republish_every_target_it_sees_first() -> None:
    h = Harness()
    h.run([activity("a1", "r1", "t1", "2026-11-23T10:00:00Z")], TUESDAY)
    h.run([target("rep:r1", "activities_total", WEEK, 10.0)], TUESDAY)
    ticked(h, TUESDAY)
    for p in range(h.n):
        h.restart(p)
    assert ticked(h, THURSDAY) == set()
    assert ticked(h, NEXT_MONDAY) == {("rep:r1", WEEK)}
