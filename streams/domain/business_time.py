"""Business-day arithmetic for target pacing (docs/contract.md sections 3 and 4).

Business days are Monday to Friday in ``SALES_TIMEZONE``; there is no holiday calendar.
Time within a business day is measured in real elapsed time against that day's real length,
so on a DST change day (23 or 25 hours) the half-way point is 11.5 or 12.5 hours after
local midnight, not 12:00 on the clock.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from streams.domain.periods import Period, local_midnight


def is_business_day(day: date) -> bool:
    """Monday to Friday."""
    return day.weekday() < 5


def business_days_between(first: date, end: date) -> int:
    """Number of business days in the date range ``[first, end)`` (O(1), no loop over days)."""
    days = (end - first).days
    if days <= 0:
        return 0
    full_weeks, rest = divmod(days, 7)
    count = full_weeks * 5
    weekday = first.weekday()
    for offset in range(rest):
        if (weekday + offset) % 7 < 5:
            count += 1
    return count


def business_days(period: Period) -> int:
    """Number of business days (Monday to Friday) in a period."""
    return business_days_between(period.first_day, period.end_day)


def elapsed_business_fraction(period: Period, now: datetime, tz: ZoneInfo) -> float:
    """Fraction, 0.0 to 1.0, of the period's business days elapsed at the aware ``now``.

    * Before ``period.start`` (and at it) 0.0; at or after ``period.end`` 1.0.
    * Inside the period: (completed business days + the elapsed fraction of today if today is
      a business day) / business days of the period. Today's fraction is real time since
      local midnight over the real length of the local day (23 h / 25 h on DST days).
      On a weekend the value stays at the last Friday's end, so it is flat, not decreasing.
    * A period without business days (a Saturday, a Sunday) is 0.0 until it ends, then 1.0:
      nothing is expected during it, everything once it is over.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: an aware datetime is required")
    now_utc = now.astimezone(UTC)
    if now_utc <= period.start.astimezone(UTC):
        return 0.0
    if now_utc >= period.end.astimezone(UTC):
        return 1.0
    total = business_days(period)
    if total == 0:
        return 0.0
    today = now_utc.astimezone(tz).date()
    done = business_days_between(period.first_day, today)
    if not is_business_day(today):
        return done / total
    day_start = local_midnight(today, tz).astimezone(UTC)
    day_end = local_midnight(today + timedelta(days=1), tz).astimezone(UTC)
    today_fraction = (now_utc - day_start) / (day_end - day_start)
    return (done + today_fraction) / total
