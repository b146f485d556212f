"""Which reps republish their documents when their team's medians move (quadrants).

A rep's document carries its quadrant against its team's medians, so a move of the medians
can change documents already published on sales.performance. The team sends a Republish to
each rep whose quadrant may have moved, and only to those: a rep whose figures just reached
the team (its last document may predate them), and a rep whose quadrant differs under the
old and the new medians.
"""

from __future__ import annotations

from datetime import UTC, datetime

from streams.engine.items import RawEvent, Republish
from tests.unit.engine.scope_harness import Harness, activity

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
DAY = "2026-11-25"


def calls(rep: str, n: int, first: int) -> list[RawEvent]:
    return [activity(f"{rep}-{first + i}", rep, "t1", f"{DAY}T09:{i:02d}:00Z") for i in range(n)]


def republished(h: Harness, items: list[RawEvent], period: str) -> set[str]:
    return {
        item.scope
        for result in h.run(items, NOW)
        for item in result.outbox
        if isinstance(item, Republish) and item.period == period
    }


def test_only_reps_whose_quadrant_may_have_moved_republish() -> None:
    h = Harness()
    # activities 1, 3, 5: the team's median is 3; r1 low, r2 and r3 high (revenue all 0)
    h.run([*calls("r1", 1, 0), *calls("r2", 3, 0), *calls("r3", 5, 0)], NOW)

    # r3 to 15: the median stays 3, nobody's quadrant can move
    assert republished(h, calls("r3", 10, 5), DAY) == set()

    # r1 to 4: the median moves to 4; r1's figures changed (it republishes), r2 (3) falls
    # from high to low, r3 (15) stays high and is left alone
    assert republished(h, calls("r1", 3, 1), DAY) == {"rep:r1", "rep:r2"}
    assert h.figures("rep:r2", DAY, NOW)["quadrant"] == "low_activity_high_performance"
    assert h.figures("rep:r3", DAY, NOW)["quadrant"] == "high_activity_high_performance"
