"""Instants for tests that build events in the minutes before now and read the current month,
and a time zone that knows no offset."""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo


def clear_of_month_start(now: datetime, span: timedelta) -> datetime:
    """`now`, or the later instant after which the `span` before it lies in one calendar month
    (UTC): in the first minutes of a month, events of the minutes before now fell in the month
    before, which a query of the current month does not count. The shift is at most `span`;
    kept under SALES_MAX_CLOCK_SKEW (1 h), the events stay on time."""
    assert span < timedelta(hours=1), "events that far ahead of the clock are rejected"
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return max(now, month_start + span)


class NoOffset(tzinfo):
    """A tzinfo that does not know its offset: a datetime with it is naive in Python's terms,
    though its tzinfo is set."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None
