"""Activity buckets: one real hour per hour bucket, also across daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, datetime

from streams.engine.activity import activity_buckets
from tests.unit.engine.scope_harness import Harness, activity

NOW = datetime(2026, 10, 26, 12, tzinfo=UTC)


def test_the_repeated_hour_of_a_fall_back_gives_two_buckets() -> None:
    """Berlin leaves summer time on 2026-10-25: 02:00-03:00 happens twice."""
    h = Harness(partitions=1, tz="Europe/Berlin")
    h.run(
        [
            activity("a1", "r1", "t1", "2026-10-25T00:30:00Z", "call"),  # 02:30+02:00
            activity("a2", "r1", "t1", "2026-10-25T01:30:00Z", "email"),  # 02:30+01:00
            activity("a3", "r1", "t1", "2026-10-25T01:40:00Z", "email"),
        ],
        NOW,
    )
    view = h.view("rep:r1")
    start, end = datetime(2026, 10, 24, tzinfo=UTC), datetime(2026, 10, 26, tzinfo=UTC)
    hours = activity_buckets(view, "hour", start, end, h.tz)
    assert hours == [
        {"start": "2026-10-25T02:00:00+02:00", "total": 1, "counts": {"call": 1}},
        {"start": "2026-10-25T02:00:00+01:00", "total": 2, "counts": {"email": 2}},
    ]
    days = activity_buckets(view, "day", start, end, h.tz)
    assert days == [
        {"start": "2026-10-25T00:00:00+02:00", "total": 3, "counts": {"call": 1, "email": 2}}
    ]


def test_buckets_outside_from_to_are_left_out() -> None:
    h = Harness(partitions=1)
    h.run([activity("a1", "r1", "t1", "2026-10-25T10:15:00Z")], NOW)
    view = h.view("rep:r1")
    at = datetime(2026, 10, 25, 10, tzinfo=UTC)
    assert activity_buckets(view, "hour", at, at, h.tz) == []
    assert (
        len(activity_buckets(view, "hour", at, datetime(2026, 10, 25, 11, tzinfo=UTC), h.tz)) == 1
    )
