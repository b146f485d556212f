"""How far back a worker keeps figures (SALES_RETENTION): whole periods or nothing.

A period is kept whole or not at all, never cut: the horizon is the start of the earliest
period (day, week, month or quarter) that holds the instant `retention` before now. Every
period starting before it ended by that instant, and every day before it lies only in
periods starting before it, so deleting the state of the days before the horizon changes
no figure of a period that starts at or after it. Periods before the horizon are refused,
not shown as zeros: a missing figure is better than a wrong one.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from streams.domain.durations import iso_duration
from streams.domain.periods import local_date, local_midnight, parse_period, rfc3339

#: the shortest retention: the current quarter (at most 92 days) is always kept
MIN_RETENTION = timedelta(days=92)


def retention_horizon(instant: datetime, retention: timedelta, tz: ZoneInfo) -> datetime:
    """The start of the earliest period holding `instant - retention`, in UTC."""
    day = local_date(instant - retention, tz)
    week_start = day - timedelta(days=day.weekday())
    quarter_start = date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return local_midnight(min(week_start, quarter_start), tz).astimezone(UTC)


class Retention:
    """A worker's SALES_RETENTION: which periods it keeps at a given instant. None keeps
    everything (the default)."""

    def __init__(self, retention: timedelta | None, tz: ZoneInfo) -> None:
        self.retention = retention
        self.tz = tz
        self._starts: dict[str, float] = {}

    def horizon(self, instant: datetime) -> float | None:
        """The horizon at `instant` (epoch seconds), or None when everything is kept."""
        if self.retention is None:
            return None
        return retention_horizon(instant, self.retention, self.tz).timestamp()

    def period_start(self, period_id: str) -> float:
        """A valid period id's start (epoch seconds), remembered: asked for every period a
        Tick or a publication looks at."""
        start = self._starts.get(period_id)
        if start is None:
            if len(self._starts) >= 100_000:
                self._starts.clear()
            start = self._starts[period_id] = parse_period(period_id, self.tz).start.timestamp()
        return start

    def dropped(self, period_id: str, horizon: float | None) -> bool:
        """Whether a valid period starts before the horizon (its state is or will be gone)."""
        return horizon is not None and self.period_start(period_id) < horizon

    def refusal(self, period_id: str, now: datetime) -> str | None:
        """Why the figures of a valid period are no longer kept, or None when they are."""
        if self.retention is None:
            return None
        start = datetime.fromtimestamp(self.period_start(period_id), UTC)
        return self._gone(start, now, f"{period_id} starts", "its figures are")

    def refuse_instant(self, instant: datetime, now: datetime) -> str | None:
        """Why counts from `instant` on are no longer all kept, or None when they are."""
        if self.retention is None:
            return None
        return self._gone(
            instant, now, rfc3339(instant, utc_z=True) + " is", "counts before it are"
        )

    def _gone(self, instant: datetime, now: datetime, subject: str, what: str) -> str | None:
        assert self.retention is not None
        horizon = retention_horizon(now, self.retention, self.tz)
        if instant >= horizon:
            return None
        return (
            f"{subject} before {rfc3339(horizon, utc_z=True)}, the horizon of"
            f" SALES_RETENTION={iso_duration(self.retention)}: {what} no longer kept"
        )
