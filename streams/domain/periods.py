"""Calendar periods in the configured time zone (docs/contract.md section 3).

Period ids are calendar periods of the local calendar in ``SALES_TIMEZONE``:

* day ``2026-11-27``, ISO 8601 week ``2026-W48`` (Monday to Sunday, the ISO week-numbering
  year, so ``2021-01-01`` is in ``2020-W53``), month ``2026-11``, quarter ``2026-Q4``.
* A period is the half-open instant range ``[start, end)``, where ``start`` is the local
  midnight opening its first day and ``end`` the local midnight opening the day after its
  last day. Both are aware datetimes in the zone. Across DST they are computed per date, so a
  day is 23 or 25 hours long when the clocks change; where a zone skips midnight itself the
  day starts at the first local time that exists (e.g. 01:00).

Everything here is pure and allocation-light: :func:`periods_of` is called for every event.

Note for callers: Python compares and subtracts two datetimes that share the same ``tzinfo``
object by their wall-clock fields, ignoring ``fold`` and the UTC offset. Compare against
period bounds with instants in UTC (or another tzinfo), as this module does internally.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Final, Literal, get_args
from zoneinfo import ZoneInfo

PeriodKind = Literal["day", "week", "month", "quarter"]
PERIOD_KINDS: tuple[PeriodKind, ...] = get_args(PeriodKind)

# ASCII digits only (``\d`` would accept e.g. Arabic-Indic digits); matched with fullmatch,
# so no surrounding whitespace or trailing newline is accepted.
_DAY = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_WEEK = re.compile(r"([0-9]{4})-W([0-9]{2})")
_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
_QUARTER = re.compile(r"([0-9]{4})-Q([0-9])")

_ONE_DAY = timedelta(days=1)


class PeriodError(ValueError):
    """A text is not a valid calendar period id; the message says which form was expected."""


@dataclass(frozen=True)
class Period:
    """One calendar period: ``[start, end)`` in the zone it was built for."""

    kind: PeriodKind
    id: str
    start: datetime
    end: datetime

    @property
    def first_day(self) -> date:
        """The first local date of the period."""
        return parse_period_id(self.id)[1]

    @property
    def end_day(self) -> date:
        """The local date after the last one (exclusive bound, like ``end``)."""
        return parse_period_id(self.id)[2]

    def contains(self, instant: datetime) -> bool:
        """True when the aware ``instant`` lies in ``[start, end)``."""
        _require_aware(instant)
        utc = instant.astimezone(UTC)
        return self.start.astimezone(UTC) <= utc < self.end.astimezone(UTC)


def _require_aware(dt: datetime) -> None:
    # A naive datetime would silently be read as the machine's local time.
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"naive datetime {dt!r}: an aware datetime (with offset) is required")


def _year(text: str, period: str) -> int:
    year = int(text)
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise PeriodError(f"period {period!r}: the year must be {MIN_YEAR:04d} to {MAX_YEAR}")
    return year


#: Event times and periods must stay convertible to any UTC offset or time zone without an
#: OverflowError, so the first and last representable years are refused everywhere.
MIN_YEAR: Final = 2
MAX_YEAR: Final = 9998


@lru_cache(maxsize=4096)
def parse_period_id(text: str) -> tuple[PeriodKind, date, date]:
    """Validate a period id and return (kind, first day, day after the last day).

    Independent of the time zone, hence cached by text.
    """
    if not isinstance(text, str):
        raise PeriodError(f"period must be a string, got {type(text).__name__}")
    try:
        if m := _DAY.fullmatch(text):
            try:
                first = date(_year(m[1], text), int(m[2]), int(m[3]))
            except PeriodError:
                raise
            except ValueError as exc:
                raise PeriodError(f"period {text!r} is not a calendar day: {exc}") from None
            return "day", first, first + _ONE_DAY
        if m := _WEEK.fullmatch(text):
            year, week = _year(m[1], text), int(m[2])
            try:
                first = date.fromisocalendar(year, week, 1)
            except ValueError:
                weeks = date(year, 12, 28).isocalendar().week
                raise PeriodError(
                    f"period {text!r}: ISO year {year} has weeks W01 to W{weeks:02d}"
                ) from None
            return "week", first, first + timedelta(days=7)
        if m := _MONTH.fullmatch(text):
            year, month = _year(m[1], text), int(m[2])
            if not 1 <= month <= 12:
                raise PeriodError(f"period {text!r}: month must be 01 to 12")
            first = date(year, month, 1)
            end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
            return "month", first, end
        if m := _QUARTER.fullmatch(text):
            year, quarter = _year(m[1], text), int(m[2])
            if not 1 <= quarter <= 4:
                raise PeriodError(f"period {text!r}: quarter must be Q1 to Q4")
            first = date(year, 3 * quarter - 2, 1)
            end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
            return "quarter", first, end
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, PeriodError):
            raise
        # Only year 9999 gets here: its last period ends after date.max.
        raise PeriodError(f"period {text!r} is out of the supported range") from None
    raise PeriodError(
        f"period {text!r} is not a day (YYYY-MM-DD), ISO week (YYYY-Www), "
        "month (YYYY-MM) or quarter (YYYY-Qn)"
    )


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local date begins, as an aware datetime in ``tz``.

    Normalised through UTC so the result always shows an existing wall time with the right
    offset (a midnight inside a DST gap becomes the first instant after the gap).
    """
    naive_midnight = datetime(day.year, day.month, day.day, tzinfo=tz)  # fold=0: first one
    return naive_midnight.astimezone(UTC).astimezone(tz)


def parse_period(text: str, tz: ZoneInfo) -> Period:
    """Parse a period id into its bounds in ``tz``; raise :class:`PeriodError` if invalid.

    Forms are strict: upper-case ``W``/``Q``, zero-padded numbers, no whitespace.
    """
    kind, first, end = parse_period_id(text)
    try:
        return Period(kind, text, local_midnight(first, tz), local_midnight(end, tz))
    except OverflowError:
        raise PeriodError(f"period {text!r} is out of the supported range") from None


def previous_period_id(period_id: str) -> str:
    """The period of the same kind just before: the day, ISO week, month or quarter that
    ends where this one starts. Raises PeriodError when it would fall before year 0002."""
    kind, first, _ = parse_period_id(period_id)
    previous = _ids_of_date(first - _ONE_DAY)[PERIOD_KINDS.index(kind)]
    parse_period_id(previous)  # its year must be in range too
    return previous


def period_kind(period_id: str) -> PeriodKind:
    """The kind of a period id (validated the same way as :func:`parse_period`)."""
    return parse_period_id(period_id)[0]


def _ids_of_date(day: date) -> tuple[str, str, str, str]:
    # The ids depend only on the local date, so the cache is shared by all zones.
    iso = day.isocalendar()
    return (
        day.isoformat(),
        f"{iso.year:04d}-W{iso.week:02d}",
        f"{day.year:04d}-{day.month:02d}",
        f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}",
    )


def local_date(instant: datetime, tz: ZoneInfo) -> date:
    """The local calendar date of an aware instant in ``tz``."""
    _require_aware(instant)
    return instant.astimezone(tz).date()


def periods_of(instant: datetime, tz: ZoneInfo) -> tuple[str, str, str, str]:
    """(day, week, month, quarter) ids of the periods containing an aware instant in ``tz``."""
    if instant.tzinfo is None:
        _require_aware(instant)
    return _ids_of_date(instant.astimezone(tz).date())


def current_period_ids(now: datetime, tz: ZoneInfo) -> dict[PeriodKind, str]:
    """The ids of the day, week, month and quarter containing ``now``, by kind."""
    return dict(zip(PERIOD_KINDS, periods_of(now, tz), strict=True))


def local_hour_start(instant: datetime, tz: ZoneInfo) -> datetime:
    """Start of the hour bucket holding ``instant`` (aware, in ``tz``): the latest instant at
    or before it at which the local clock shows a whole hour or changes its UTC offset.

    Buckets follow the local clock, so in a zone with a ``:30`` offset they start at
    ``09:00+05:30``, not at whole UTC hours. They tile time: each instant is in one bucket,
    which starts at or before it, lasts at most one real hour and lies in one local date. In
    a DST fall-back the repeated hour gives two buckets (``01:00-04:00`` and ``01:00-05:00``
    in New York); where a change is not a whole hour (Lord Howe's 30 minutes, Chatham's
    ``+12:45``), the bucket the change cuts is shorter, and the next starts at the change
    (``01:30+10:30`` when Lord Howe falls back from ``02:00+11:00``).
    """
    _require_aware(instant)
    local = instant.astimezone(tz)  # carries fold=1 for the second pass of a repeated hour
    offset = local.utcoffset()
    assert offset is not None  # an aware instant in a ZoneInfo always has one
    top = local.replace(tzinfo=None, minute=0, second=0, microsecond=0)
    start = (top - offset).replace(tzinfo=UTC)  # the clock's last whole hour at this offset
    if start.astimezone(tz).utcoffset() != offset:
        # the offset changed since that hour began (or it never showed, in a gap): the
        # bucket starts at the change
        start = _offset_change(start, instant, tz, offset)
    return start.astimezone(tz)


def _offset_change(
    before: datetime, instant: datetime, tz: ZoneInfo, offset: timedelta
) -> datetime:
    """The instant in (before, instant] from which ``tz`` is at ``offset``: tzdata changes
    offsets at whole seconds, so a bisection over seconds finds it."""
    low = (before - _EPOCH) // _ONE_SECOND  # not yet at the offset
    high = (instant - _EPOCH) // _ONE_SECOND  # at it: the change is at or before
    while high - low > 1:
        middle = (low + high) // 2
        if (_EPOCH + middle * _ONE_SECOND).astimezone(tz).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return _EPOCH + high * _ONE_SECOND


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_SECOND = timedelta(seconds=1)


class LocalHours:
    """The local clock hour of an instant, as the epoch seconds of its start, cached per UTC
    hour: two zone conversions per event cost more than the rest of counting it.

    The hour start only grows with the instant, so when the first and the last microsecond
    of a UTC hour share a local hour, every instant between does too. A UTC hour that holds a
    local hour boundary (a ``:30`` offset, a DST change) is remembered as mixed, and its
    instants are computed one by one.
    """

    #: UTC hours remembered before the cache starts again (about 11 years of hours)
    MAX_CACHED = 100_000

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._shared: dict[int, int | None] = {}

    def start_of(self, instant: datetime) -> int:
        return self.start_of_epoch(instant.timestamp())

    def start_of_epoch(self, epoch: float) -> int:
        bucket = int(epoch // 3600)
        try:
            shared = self._shared[bucket]
        except KeyError:
            shared = self._learn(bucket)
        if shared is not None:
            return shared
        instant = datetime.fromtimestamp(epoch, UTC)
        return int(local_hour_start(instant, self.tz).timestamp())

    def _learn(self, bucket: int) -> int | None:
        if len(self._shared) >= self.MAX_CACHED:
            self._shared.clear()
        first = datetime.fromtimestamp(bucket * 3600, UTC)
        # epoch seconds, not datetimes: two hour starts in one zone compare by wall clock,
        # and the two passes of a repeated hour share theirs
        start = local_hour_start(first, self.tz).timestamp()
        end = local_hour_start(first + _LAST_MICROSECOND, self.tz).timestamp()
        shared = int(start) if start == end else None
        self._shared[bucket] = shared
        return shared


_LAST_MICROSECOND = timedelta(seconds=3599, microseconds=999_999)


def local_day_start(instant: datetime, tz: ZoneInfo) -> datetime:
    """Start of the local day containing ``instant`` (aware, in ``tz``)."""
    return local_midnight(local_date(instant, tz), tz)


def rfc3339(dt: datetime, timespec: str = "auto", *, utc_z: bool = False) -> str:
    """RFC 3339 text with a numeric offset, e.g. ``2026-11-27T09:00:00+01:00``.

    The one formatter of the project. By default UTC is written ``+00:00`` so every
    timestamp of the API has the same shape, and fractional seconds appear only when
    non-zero; `timespec` fixes them (``"milliseconds"``) and `utc_z` converts to UTC
    written with ``Z``, as dead-letter records carry it.
    """
    _require_aware(dt)
    if utc_z:
        return dt.astimezone(UTC).isoformat(timespec=timespec).replace("+00:00", "Z")
    return dt.isoformat(timespec=timespec)


def day_ids_of(period: Period) -> list[str]:
    """The ids of the local days of a period, in order."""
    _, first, end = parse_period_id(period.id)
    return [(first + timedelta(days=i)).isoformat() for i in range((end - first).days)]
