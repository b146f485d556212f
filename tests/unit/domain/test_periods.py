"""Calendar periods: ids, bounds across DST, parsing errors, hour/day buckets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo, available_timezones

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.periods import (
    LocalHours,
    Period,
    PeriodError,
    current_period_ids,
    day_ids_of,
    local_date,
    local_day_start,
    local_hour_start,
    parse_period,
    parse_period_id,
    period_kind,
    periods_of,
    rfc3339,
)
from tests.support.clock import NoOffset

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
KOLKATA = ZoneInfo("Asia/Kolkata")
CAIRO = ZoneInfo("Africa/Cairo")
UTCZ = ZoneInfo("UTC")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def length(p: Period) -> timedelta:
    return p.end.astimezone(UTC) - p.start.astimezone(UTC)


# --- parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("2026-11-27", "day", date(2026, 11, 27), date(2026, 11, 28)),
        ("2026-W48", "week", date(2026, 11, 23), date(2026, 11, 30)),
        ("2026-11", "month", date(2026, 11, 1), date(2026, 12, 1)),
        ("2026-Q4", "quarter", date(2026, 10, 1), date(2027, 1, 1)),
        ("2026-Q1", "quarter", date(2026, 1, 1), date(2026, 4, 1)),
        ("2026-12", "month", date(2026, 12, 1), date(2027, 1, 1)),
        ("2024-02", "month", date(2024, 2, 1), date(2024, 3, 1)),
        ("2024-02-29", "day", date(2024, 2, 29), date(2024, 3, 1)),
        ("2020-W53", "week", date(2020, 12, 28), date(2021, 1, 4)),
        ("2026-W53", "week", date(2026, 12, 28), date(2027, 1, 4)),
        ("2026-W01", "week", date(2025, 12, 29), date(2026, 1, 5)),
        ("2021-W01", "week", date(2021, 1, 4), date(2021, 1, 11)),
    ],
)
def test_parse_period_bounds_utc(text: str, kind: str, start: date, end: date) -> None:
    p = parse_period(text, UTCZ)
    assert (p.kind, p.id) == (kind, text)
    assert p.start == datetime(start.year, start.month, start.day, tzinfo=UTC)
    assert p.end == datetime(end.year, end.month, end.day, tzinfo=UTC)
    assert (p.first_day, p.end_day) == (start, end)
    assert period_kind(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "2026-W54",
        "2025-W53",  # 2025 has 52 ISO weeks (28 Dec 2025 is in W52)
        "2026-W00",
        "2026-13",
        "2026-00",
        "2026-Q5",
        "2026-Q0",
        "2026-02-30",
        "2025-02-29",
        "2026-04-31",
        "2026-w48",
        "2026-q4",
        "2026-1",
        "2026-W8",
        "26-11",
        "2026/11",
        "2026-11-27T00:00",
        " 2026-11",
        "2026-11\n",
        "2026-11 ",
        "",
        "0000-01-01",
        "9999-Q4",
        "٢٠٢٦-11",  # non-ASCII digits
        "current",
    ],
)
def test_parse_period_rejects(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period(text, UTCZ)
    with pytest.raises(ValueError):  # PeriodError is a ValueError
        period_kind(text)


def test_parse_period_messages_are_clear() -> None:
    with pytest.raises(PeriodError, match="W01 to W52"):
        parse_period("2025-W53", UTCZ)
    with pytest.raises(PeriodError, match="month must be 01 to 12"):
        parse_period("2026-13", UTCZ)
    with pytest.raises(PeriodError, match="Q1 to Q4"):
        parse_period("2026-Q5", UTCZ)
    with pytest.raises(PeriodError, match="YYYY-Www"):
        parse_period("2026-w48", UTCZ)


def test_bounds_in_new_york_across_fall_back() -> None:
    p = parse_period("2026-11", NY)
    assert rfc3339(p.start) == "2026-11-01T00:00:00-04:00"
    assert rfc3339(p.end) == "2026-12-01T00:00:00-05:00"
    assert length(p) == timedelta(days=30, hours=1)
    day = parse_period("2026-11-01", NY)
    assert length(day) == timedelta(hours=25)


def test_bounds_in_paris_across_spring_forward() -> None:
    p = parse_period("2026-Q1", PARIS)
    assert rfc3339(p.start) == "2026-01-01T00:00:00+01:00"
    assert rfc3339(p.end) == "2026-04-01T00:00:00+02:00"
    day = parse_period("2026-03-29", PARIS)
    assert length(day) == timedelta(hours=23)
    week = parse_period("2026-W13", PARIS)  # Mon 23 March to Sun 29 March
    assert length(week) == timedelta(days=7) - timedelta(hours=1)


def test_day_starting_in_a_midnight_gap_starts_after_the_gap() -> None:
    # Cairo skipped 00:00-01:00 on Friday 24 April 2026.
    p = parse_period("2026-04-24", CAIRO)
    assert rfc3339(p.start) == "2026-04-24T01:00:00+03:00"
    assert length(p) == timedelta(hours=23)
    assert parse_period("2026-04-23", CAIRO).end == p.start


# --- periods_of ---------------------------------------------------------------------------


def test_periods_of_examples() -> None:
    assert periods_of(utc(2026, 11, 27, 12), UTCZ) == (
        "2026-11-27",
        "2026-W48",
        "2026-11",
        "2026-Q4",
    )
    # 2021-01-01 belongs to ISO week 53 of 2020.
    assert periods_of(utc(2021, 1, 1, 12), UTCZ) == ("2021-01-01", "2020-W53", "2021-01", "2021-Q1")
    # 2025-12-29 (a Monday) belongs to ISO week 1 of 2026.
    assert periods_of(utc(2025, 12, 29), UTCZ)[1] == "2026-W01"


def test_periods_of_q4_to_q1_boundary_in_new_york() -> None:
    # 04:59:59Z on 1 Jan is still 31 Dec 23:59:59 in New York (UTC-5).
    assert periods_of(utc(2027, 1, 1, 4, 59, 59), NY) == (
        "2026-12-31",
        "2026-W53",
        "2026-12",
        "2026-Q4",
    )
    assert periods_of(utc(2027, 1, 1, 5), NY) == ("2027-01-01", "2026-W53", "2027-01", "2027-Q1")


def test_periods_of_month_boundary_in_paris_and_kolkata() -> None:
    # 22:00Z on 31 March is 00:00 on 1 April in Paris (UTC+2 in summer).
    assert periods_of(utc(2026, 3, 31, 21, 59, 59), PARIS)[2:] == ("2026-03", "2026-Q1")
    assert periods_of(utc(2026, 3, 31, 22), PARIS)[2:] == ("2026-04", "2026-Q2")
    assert periods_of(utc(2026, 6, 30, 18, 29, 59), KOLKATA)[0] == "2026-06-30"
    assert periods_of(utc(2026, 6, 30, 18, 30), KOLKATA)[0] == "2026-07-01"


def test_periods_of_accepts_any_offset_and_rejects_naive() -> None:
    t = datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=-8)))
    assert periods_of(t, UTCZ)[0] == "2026-11-28"
    with pytest.raises(ValueError, match="naive"):
        periods_of(datetime(2026, 11, 27), UTCZ)


def test_current_period_ids() -> None:
    assert current_period_ids(utc(2026, 11, 27, 12), PARIS) == {
        "day": "2026-11-27",
        "week": "2026-W48",
        "month": "2026-11",
        "quarter": "2026-Q4",
    }


ZONES = [UTCZ, NY, PARIS, KOLKATA, CAIRO, ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Pacific/Apia")]


@given(
    instant=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
    ),
    tz=st.sampled_from(ZONES),
)
def test_periods_of_consistent_with_parse_period(instant: datetime, tz: ZoneInfo) -> None:
    ids = periods_of(instant, tz)
    for kind, period_id in zip(("day", "week", "month", "quarter"), ids, strict=True):
        p = parse_period(period_id, tz)
        assert p.kind == kind
        assert p.start.astimezone(UTC) <= instant < p.end.astimezone(UTC)
        assert p.contains(instant)
    # The day nests in the week, month and quarter.
    day = parse_period(ids[0], tz)
    for period_id in ids[1:]:
        p = parse_period(period_id, tz)
        assert p.first_day <= day.first_day < p.end_day


@given(
    day=st.dates(min_value=date(1990, 1, 1), max_value=date(2060, 1, 1)),
    tz=st.sampled_from(ZONES),
)
def test_consecutive_periods_tile_time(day: date, tz: ZoneInfo) -> None:
    ids = periods_of(datetime(day.year, day.month, day.day, 12, tzinfo=UTC), tz)
    for period_id in ids:
        p = parse_period(period_id, tz)
        nxt = periods_of(p.end, tz)[("day", "week", "month", "quarter").index(p.kind)]
        assert nxt != period_id
        assert parse_period(nxt, tz).start == p.end
        days = day_ids_of(p)
        assert len(days) == (p.end_day - p.first_day).days
        assert days[0] == p.first_day.isoformat()


def test_day_ids_of() -> None:
    assert day_ids_of(parse_period("2026-W53", UTCZ)) == [
        "2026-12-28",
        "2026-12-29",
        "2026-12-30",
        "2026-12-31",
        "2027-01-01",
        "2027-01-02",
        "2027-01-03",
    ]
    assert len(day_ids_of(parse_period("2024-Q1", NY))) == 91
    assert day_ids_of(parse_period("2026-02-28", NY)) == ["2026-02-28"]


# --- buckets and formatting ---------------------------------------------------------------


def test_hour_buckets_in_new_york_fall_back_are_distinct() -> None:
    first = local_hour_start(utc(2026, 11, 1, 5, 30), NY)  # 01:30 EDT
    second = local_hour_start(utc(2026, 11, 1, 6, 30), NY)  # 01:30 EST
    assert rfc3339(first) == "2026-11-01T01:00:00-04:00"
    assert rfc3339(second) == "2026-11-01T01:00:00-05:00"
    assert first.astimezone(UTC) == utc(2026, 11, 1, 5)
    assert second.astimezone(UTC) == utc(2026, 11, 1, 6)
    assert rfc3339(local_hour_start(utc(2026, 11, 1, 7, 59, 59), NY)) == "2026-11-01T02:00:00-05:00"


def test_hour_buckets_in_paris_spring_forward() -> None:
    # 02:00-03:00 does not exist on 29 March 2026; 01:59 CET is followed by 03:00 CEST.
    assert rfc3339(local_hour_start(utc(2026, 3, 29, 0, 59), PARIS)) == "2026-03-29T01:00:00+01:00"
    assert rfc3339(local_hour_start(utc(2026, 3, 29, 1, 0), PARIS)) == "2026-03-29T03:00:00+02:00"


def test_a_partial_fall_back_starts_a_bucket_at_the_change() -> None:
    """Lord Howe falls back 30 minutes (02:00+11:00 -> 01:30+10:30, 2016-04-02T15:00Z): the
    clock shows 01:30-02:00 twice. The second pass is a bucket of its own that starts when
    it begins, 01:30+10:30, with another offset than the first pass's 01:00+11:00: the two
    do not overlap, so a query from 15:00Z finds the second pass's events."""
    tz = ZoneInfo("Australia/Lord_Howe")
    first_pass = local_hour_start(utc(2016, 4, 2, 14, 59), tz)
    second_pass = local_hour_start(utc(2016, 4, 2, 15, 0), tz)
    assert rfc3339(first_pass) == "2016-04-03T01:00:00+11:00"
    assert rfc3339(second_pass) == "2016-04-03T01:30:00+10:30"
    assert second_pass.astimezone(UTC) == utc(2016, 4, 2, 15)
    assert local_hour_start(utc(2016, 4, 2, 15, 29, 59), tz) == second_pass
    assert rfc3339(local_hour_start(utc(2016, 4, 2, 15, 30), tz)) == "2016-04-03T02:00:00+10:30"


def test_a_partial_spring_forward_starts_a_bucket_at_the_change() -> None:
    """Lord Howe springs forward 30 minutes (02:00+10:30 -> 02:30+11:00, 2026-10-03T15:30Z):
    the hour 02:00 never shows, so the bucket after 01:00+10:30 starts at the change."""
    tz = ZoneInfo("Australia/Lord_Howe")
    assert rfc3339(local_hour_start(utc(2026, 10, 3, 15, 29), tz)) == "2026-10-04T01:00:00+10:30"
    at_change = local_hour_start(utc(2026, 10, 3, 15, 40), tz)
    assert rfc3339(at_change) == "2026-10-04T02:30:00+11:00"
    assert at_change.astimezone(UTC) == utc(2026, 10, 3, 15, 30)
    assert rfc3339(local_hour_start(utc(2026, 10, 3, 16), tz)) == "2026-10-04T03:00:00+11:00"


def test_a_bucket_never_starts_after_its_instant_in_chatham() -> None:
    """Chatham (+12:45) springs forward from 02:45 to 03:45 (2026-09-26T14:00Z). 03:00, the
    whole hour before 03:50+13:45, never shows: read at the old offset it is 14:15Z, after
    the instant, which used to be its bucket's start (a query around 14:05Z missed it)."""
    tz = ZoneInfo("Pacific/Chatham")
    instant = utc(2026, 9, 26, 14, 5)  # 03:50+13:45
    start = local_hour_start(instant, tz)
    assert rfc3339(start) == "2026-09-27T03:45:00+13:45"
    assert start.astimezone(UTC) == utc(2026, 9, 26, 14)
    assert rfc3339(local_hour_start(utc(2026, 9, 26, 13, 59), tz)) == "2026-09-27T02:00:00+12:45"
    assert rfc3339(local_hour_start(utc(2026, 9, 26, 14, 15), tz)) == "2026-09-27T04:00:00+13:45"


def test_a_fall_back_across_midnight_keeps_the_event_on_its_local_date() -> None:
    """St. John's fell back at 00:01 NDT on 2009-11-01 to 23:01 NST on 2009-10-31: the
    clock went back to the day before. 23:30 NST is on 2009-10-31, and so is its bucket
    (it used to be 00:00 NDT on 2009-11-01, the last whole hour, and counted in November)."""
    tz = ZoneInfo("America/St_Johns")
    instant = datetime.fromisoformat("2009-10-31T23:30:00-03:30")
    start = local_hour_start(instant, tz)
    assert rfc3339(start) == "2009-10-31T23:01:00-03:30"
    assert periods_of(start, tz) == periods_of(instant, tz)
    assert periods_of(start, tz)[0] == "2009-10-31"
    assert rfc3339(local_hour_start(utc(2009, 11, 1, 2, 30, 30), tz)) == (
        "2009-11-01T00:00:00-02:30"
    )


_EVERY_ZONE = sorted(available_timezones())


@given(
    zone=st.sampled_from(_EVERY_ZONE),
    year=st.integers(1900, 2037),
    change=st.integers(0, 3),
    seconds=st.integers(-7200, 7200),
    microseconds=st.integers(0, 999_999),
)
def test_hour_buckets_tile_time_in_every_zone(
    zone: str, year: int, change: int, seconds: int, microseconds: int
) -> None:
    """Near a change of offset of any zone: a bucket starts at or before its instant, at a
    whole hour of the local clock or at a change, with neither in between; it lies in one
    local date."""
    tz = ZoneInfo(zone)
    changes = _transitions(tz, year) or [datetime(year, 6, 1, tzinfo=UTC)]
    instant = changes[change % len(changes)] + timedelta(seconds=seconds, microseconds=microseconds)
    start = local_hour_start(instant, tz).astimezone(UTC)
    assert start <= instant < start + timedelta(hours=1)
    offset = start.astimezone(tz).utcoffset()
    before = (start - timedelta(seconds=1)).astimezone(tz).utcoffset()
    wall = start.astimezone(tz)
    assert (wall.minute, wall.second, wall.microsecond) == (0, 0, 0) or before != offset
    # no change of offset and no whole hour in (start, instant]
    at = start
    while at < instant:
        at = min(at + timedelta(seconds=53), instant)
        assert at.astimezone(tz).utcoffset() == offset, (zone, instant, at)
    wall_now = instant.astimezone(tz).replace(tzinfo=None)
    assert wall_now.replace(minute=0, second=0, microsecond=0) <= wall.replace(tzinfo=None)
    assert local_date(start, tz) == local_date(instant, tz)
    assert local_hour_start(start, tz).astimezone(UTC) == start


def test_hour_buckets_follow_half_hour_offsets() -> None:
    start = local_hour_start(utc(2026, 1, 1, 3, 45), KOLKATA)  # 09:15 IST
    assert rfc3339(start) == "2026-01-01T09:00:00+05:30"
    assert start.astimezone(UTC) == utc(2026, 1, 1, 3, 30)
    assert rfc3339(local_hour_start(utc(2026, 1, 1, 3, 29, 59), KOLKATA)) == (
        "2026-01-01T08:00:00+05:30"
    )


@given(
    instant=st.datetimes(
        min_value=datetime(2000, 1, 1), max_value=datetime(2050, 1, 1), timezones=st.just(UTC)
    ),
    tz=st.sampled_from(ZONES),
)
def test_hour_and_day_start_contain_instant(instant: datetime, tz: ZoneInfo) -> None:
    hour = local_hour_start(instant, tz).astimezone(UTC)
    assert hour <= instant < hour + timedelta(hours=1)
    again = local_hour_start(hour, tz).astimezone(UTC)
    # idempotent, but for the bucket of a partial fall-back's second pass, whose start is an
    # instant of the first pass (test_a_partial_fall_back_keeps_every_bucket_one_hour)
    assert again == hour or (instant.astimezone(tz).fold == 1 and again < hour)
    day = local_day_start(instant, tz)
    assert day == parse_period(periods_of(instant, tz)[0], tz).start
    assert day.astimezone(UTC) <= instant


def test_local_day_start() -> None:
    assert rfc3339(local_day_start(utc(2026, 11, 1, 12), NY)) == "2026-11-01T00:00:00-04:00"
    assert rfc3339(local_day_start(utc(2026, 11, 2, 3), NY)) == "2026-11-01T00:00:00-04:00"
    assert rfc3339(local_day_start(utc(2026, 4, 24, 12), CAIRO)) == "2026-04-24T01:00:00+03:00"


def test_rfc3339() -> None:
    assert rfc3339(datetime(2026, 11, 27, 9, tzinfo=PARIS)) == "2026-11-27T09:00:00+01:00"
    assert rfc3339(utc(2026, 11, 27, 9)) == "2026-11-27T09:00:00+00:00"
    assert rfc3339(datetime(2026, 11, 27, 9, tzinfo=UTCZ)) == "2026-11-27T09:00:00+00:00"
    assert rfc3339(utc(2026, 11, 27, 9, 0, 0, 500000)) == "2026-11-27T09:00:00.500000+00:00"
    with pytest.raises(ValueError, match="naive"):
        rfc3339(datetime(2026, 11, 27, 9))
    parsed = datetime.fromisoformat(rfc3339(local_hour_start(utc(2026, 11, 1, 6, 30), NY)))
    assert parsed == utc(2026, 11, 1, 6)


def test_a_day_skipped_by_the_zone_is_an_empty_period() -> None:
    # Samoa skipped 30 December 2011 entirely (moved across the date line).
    apia = ZoneInfo("Pacific/Apia")
    p = parse_period("2011-12-30", apia)
    assert p.start == p.end
    assert parse_period("2011-12-29", apia).end == p.start
    assert periods_of(p.start, apia)[0] == "2011-12-31"


@pytest.mark.parametrize(
    ("period", "previous"),
    [
        ("2026-03-01", "2026-02-28"),
        ("2024-03-01", "2024-02-29"),
        ("2026-W01", "2025-W52"),
        ("2021-W01", "2020-W53"),
        ("2026-01", "2025-12"),
        ("2026-Q1", "2025-Q4"),
        ("2026-Q3", "2026-Q2"),
    ],
)
def test_previous_period(period: str, previous: str) -> None:
    from streams.domain.periods import previous_period_id

    assert previous_period_id(period) == previous


def test_no_previous_period_before_the_first_year() -> None:
    from streams.domain.periods import previous_period_id

    with pytest.raises(PeriodError):
        previous_period_id("0002-01-01")


# -- LocalHours: local_hour_start cached per UTC hour --------------------------------------


def _transitions(tz: ZoneInfo, year: int) -> list[datetime]:
    """UTC instants in `year` where the zone's offset changes (hour resolution)."""
    out = []
    at = datetime(year, 1, 1, tzinfo=UTC)
    offset = at.astimezone(tz).utcoffset()
    while at.year == year:
        at += timedelta(hours=1)
        now = at.astimezone(tz).utcoffset()
        if now != offset:
            out.append(at)
            offset = now
    return out


@pytest.mark.parametrize(
    "zone",
    [
        "UTC",
        "America/New_York",
        "Europe/Paris",
        "Asia/Kolkata",  # +05:30: every UTC hour holds a local hour boundary
        "Asia/Kathmandu",  # +05:45
        "Australia/Lord_Howe",  # a DST change of 30 minutes
        "America/St_Johns",  # -03:30 with DST
        "Pacific/Chatham",  # +12:45 with DST: its change skips 03:00
    ],
)
def test_local_hours_agree_with_local_hour_start_minute_by_minute_across_changes(
    zone: str,
) -> None:
    tz = ZoneInfo(zone)
    hours = LocalHours(tz)
    changes = _transitions(tz, 2026) or [datetime(2026, 6, 1, tzinfo=UTC)]
    assert zone == "UTC" or zone.startswith("Asia") or len(changes) == 2
    for change in changes:
        at = change - timedelta(hours=3)
        while at < change + timedelta(hours=3):
            for instant in (at, at + timedelta(seconds=59, microseconds=999_999)):
                expected = int(local_hour_start(instant, tz).timestamp())
                assert hours.start_of(instant) == expected, (zone, instant)
            at += timedelta(minutes=1)


def test_local_hours_keep_the_two_passes_of_a_repeated_hour_apart() -> None:
    hours = LocalHours(NY)
    first = hours.start_of(utc(2026, 11, 1, 5, 30))  # 01:30 EDT
    second = hours.start_of(utc(2026, 11, 1, 6, 30))  # 01:30 EST
    assert second - first == 3600
    assert first == int(utc(2026, 11, 1, 5).timestamp())


def test_local_hours_of_an_offset_with_seconds() -> None:
    amsterdam = ZoneInfo("Europe/Amsterdam")  # +00:19:32 local mean time in 1930
    hours = LocalHours(amsterdam)
    at = datetime(1930, 6, 1, 9, 0, tzinfo=UTC)
    for minute in range(0, 180, 7):
        instant = at + timedelta(minutes=minute, seconds=minute % 60)
        assert hours.start_of(instant) == int(local_hour_start(instant, amsterdam).timestamp())


def test_local_hours_start_again_when_full() -> None:
    hours = LocalHours(PARIS)
    hours.MAX_CACHED = 3
    base = utc(2026, 5, 1)
    for n in range(10):
        instant = base + timedelta(hours=n, minutes=15)
        assert hours.start_of(instant) == int(local_hour_start(instant, PARIS).timestamp())
        assert len(hours._shared) <= 3


_ZONES = [ZoneInfo(z) for z in ("America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")]
_SHARED_HOURS = {tz.key: LocalHours(tz) for tz in _ZONES}


@given(
    st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(_ZONES),
)
def test_local_hours_agree_with_local_hour_start_anywhere(naive: datetime, tz: ZoneInfo) -> None:
    instant = naive.replace(tzinfo=UTC)
    expected = int(local_hour_start(instant, tz).timestamp())
    assert _SHARED_HOURS[tz.key].start_of(instant) == expected


# -- found by mutation testing ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "0002-01-01",
        "0002-W01",
        "0002-01",
        "0002-Q1",
        "9998-12-31",
        "9998-12",
        "9998-Q4",
        "9998-W52",
    ],
)
def test_the_first_and_last_supported_years_are_accepted(text: str) -> None:
    parse_period_id(text)


@pytest.mark.parametrize("text", ["0001-12-31", "0001-12", "9999-01-01", "9999-01", "9999-Q1"])
def test_the_years_just_outside_are_refused(text: str) -> None:
    with pytest.raises(PeriodError):
        parse_period_id(text)


def test_a_period_does_not_contain_its_end() -> None:
    p = parse_period("2026-11-27", PARIS)
    assert p.contains(p.start)
    assert p.contains(p.end - timedelta(microseconds=1))
    assert not p.contains(p.end)


def test_rfc3339_in_utc_with_z() -> None:
    paris = datetime(2026, 11, 27, 9, 30, 0, 120000, tzinfo=PARIS)
    assert rfc3339(paris, utc_z=True) == "2026-11-27T08:30:00.120000Z"
    assert rfc3339(paris, "milliseconds", utc_z=True) == "2026-11-27T08:30:00.120Z"
    assert rfc3339(paris) == "2026-11-27T09:30:00.120000+01:00"


def test_a_tzinfo_without_offset_counts_as_naive() -> None:
    p = parse_period("2026-11-27", UTCZ)
    with pytest.raises(ValueError, match="naive"):
        p.contains(datetime(2026, 11, 27, 12, tzinfo=NoOffset()))


def test_a_sub_second_instant_just_after_a_partial_fall_back() -> None:
    """Lord Howe falls back 30 minutes at 2026-04-04T15:00Z; an event 0.5 s later is in the
    bucket that starts at the change, not one that starts at the event itself."""
    tz = ZoneInfo("Australia/Lord_Howe")
    change = datetime(2026, 4, 4, 15, tzinfo=UTC)
    for after in (timedelta(microseconds=500_000), timedelta(seconds=1, microseconds=1)):
        start = local_hour_start(change + after, tz)
        assert start.astimezone(UTC) == change
        assert rfc3339(start) == "2026-04-05T01:30:00+10:30"


def test_local_hours_on_a_bucket_number_divisible_by_3600() -> None:
    instant = datetime(2026, 4, 7, 0, 15, tzinfo=UTC)  # epoch hour 493 200 = 137 x 3600
    assert int(instant.timestamp()) // 3600 % 3600 == 0
    for tz in (UTCZ, PARIS):
        hours = LocalHours(tz)
        assert hours.start_of(instant) == int(local_hour_start(instant, tz).timestamp())
