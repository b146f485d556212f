"""A rep's activity over time in hour or day buckets aligned in SALES_TIMEZONE."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from streams.domain.periods import local_day_start, rfc3339
from streams.engine.rollups import ScopeView

Granularity = Literal["hour", "day"]


def activity_buckets(
    view: ScopeView,
    granularity: Granularity,
    start: datetime,
    end: datetime,
    tz: ZoneInfo,
) -> list[dict[str, Any]]:
    """Non-empty buckets whose start lies in [start, end), in time order.

    Buckets are keyed by their instant, not their local wall time: aware datetimes of one
    zone compare by wall time and ignore `fold`, which would merge the two passes of the
    hour a daylight-saving change repeats into one bucket.
    """
    buckets: dict[float, dict[str, int]] = defaultdict(dict)
    for hour, parts in view.every_hour().items():
        instant = datetime.fromtimestamp(hour, tz)
        bucket = instant if granularity == "hour" else local_day_start(instant, tz)
        counts = buckets[bucket.timestamp()]
        for part in parts.values():
            for activity, n in part.counts.items():
                counts[activity] = counts.get(activity, 0) + n
    low, high = start.timestamp(), end.timestamp()
    return [
        {
            "start": rfc3339(datetime.fromtimestamp(at, tz)),
            "total": sum(counts.values()),
            "counts": dict(sorted(counts.items())),
        }
        for at, counts in sorted(buckets.items())
        if low <= at < high and sum(counts.values()) > 0
    ]
