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
    """Non-empty buckets whose start lies in [start, end), in time order."""
    buckets: dict[datetime, dict[str, int]] = defaultdict(dict)
    for hour, record in view.hours.items():
        instant = datetime.fromtimestamp(hour, tz)
        bucket = instant if granularity == "hour" else local_day_start(instant, tz)
        counts = buckets[bucket]
        for part in record.parts.values():
            for activity, n in part.counts.items():
                counts[activity] = counts.get(activity, 0) + n
    return [
        {
            "start": rfc3339(bucket),
            "total": sum(counts.values()),
            "counts": dict(sorted(counts.items())),
        }
        for bucket, counts in sorted(buckets.items())
        if start <= bucket < end and sum(counts.values()) > 0
    ]
