"""Elapsed business-day fractions, including DST days and weekend-only periods."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.business_time import (
    business_days,
    business_days_between,
    elapsed_business_fraction,
)
from streams.domain.periods import local_midnight, parse_period
from tests.support.clock import NoOffset

NY = ZoneInfo("America/New_York")
PARIS = ZoneInfo("Europe/Paris")
JERUSALEM = ZoneInfo("Asia/Jerusalem")
CAIRO = ZoneInfo("Africa/Cairo")
KOLKATA = ZoneInfo("Asia/Kolkata")
UTCZ = ZoneInfo("UTC")


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


@pytest.mark.parametrize(
    ("period", "expected"),
    [
        ("2026-11-27", 1),  # Friday
        ("2026-11-28", 0),  # Saturday
        ("2026-11-29", 0),  # Sunday
        ("2026-W48", 5),
        ("2026-11", 21),
        ("2026-02", 20),
        ("2026-Q4", 66),
        ("2026-Q1", 64),
        ("2024-Q1", 65),
        ("2026-W53", 5),
    ],
)
def test_business_days(period: str, expected: int) -> None:
    assert business_days(parse_period(period, NY)) == expected


@given(
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2040, 1, 1)),
    n=st.integers(min_value=-3, max_value=120),
)
def test_business_days_between_matches_a_loop(first: date, n: int) -> None:
    end = first + timedelta(days=n)
    loop = sum(1 for i in range(max(n, 0)) if (first + timedelta(days=i)).weekday() < 5)
    assert business_days_between(first, end) == loop


def test_before_at_and_after_the_period() -> None:
    p = parse_period("2026-11", UTCZ)
    assert elapsed_business_fraction(p, utc(2026, 10, 15), UTCZ) == 0.0
    assert elapsed_business_fraction(p, p.start, UTCZ) == 0.0
    assert elapsed_business_fraction(p, p.end, UTCZ) == 1.0
    assert elapsed_business_fraction(p, utc(2027, 3, 1), UTCZ) == 1.0


def test_fraction_within_a_week() -> None:
    week = parse_period("2026-W48", UTCZ)  # Mon 23 - Sun 29 Nov 2026
    assert elapsed_business_fraction(week, utc(2026, 11, 23, 12), UTCZ) == 0.5 / 5
    assert elapsed_business_fraction(week, utc(2026, 11, 25, 6), UTCZ) == 2.25 / 5
    # Saturday and Sunday: flat at the end of Friday.
    assert elapsed_business_fraction(week, utc(2026, 11, 28, 10), UTCZ) == 5 / 5
    assert elapsed_business_fraction(week, utc(2026, 11, 29, 23), UTCZ) == 5 / 5


def test_month_starting_on_a_weekend() -> None:
    month = parse_period("2026-11", UTCZ)  # 1 Nov 2026 is a Sunday; 21 business days
    assert elapsed_business_fraction(month, utc(2026, 11, 1, 18), UTCZ) == 0.0
    assert elapsed_business_fraction(month, utc(2026, 11, 2, 6), UTCZ) == 0.25 / 21
    assert elapsed_business_fraction(month, utc(2026, 11, 7, 6), UTCZ) == 5 / 21


def test_local_zone_decides_the_business_day() -> None:
    day = parse_period("2026-11-27", NY)  # Friday in New York (UTC-5)
    # 04:00Z Friday is still Thursday 23:00 in New York: before the period.
    assert elapsed_business_fraction(day, utc(2026, 11, 27, 4), NY) == 0.0
    assert elapsed_business_fraction(day, utc(2026, 11, 27, 17), NY) == 0.5
    kolkata_day = parse_period("2026-11-27", KOLKATA)
    assert elapsed_business_fraction(kolkata_day, utc(2026, 11, 27, 0, 30), KOLKATA) == 0.25


def test_weekend_day_period_is_zero_until_it_ends() -> None:
    saturday = parse_period("2026-11-28", UTCZ)
    assert business_days(saturday) == 0
    assert elapsed_business_fraction(saturday, utc(2026, 11, 27, 12), UTCZ) == 0.0
    assert elapsed_business_fraction(saturday, utc(2026, 11, 28, 23, 59), UTCZ) == 0.0
    assert elapsed_business_fraction(saturday, utc(2026, 11, 29), UTCZ) == 1.0


def test_23_hour_business_day_jerusalem() -> None:
    # Friday 27 March 2026: clocks go from 02:00 to 03:00 in Israel; the day lasts 23 h.
    day = parse_period("2026-03-27", JERUSALEM)
    start = day.start.astimezone(UTC)
    assert elapsed_business_fraction(day, start + timedelta(hours=11.5), JERUSALEM) == 0.5
    # 12:00 on the wall clock is only 11 real hours in.
    noon = datetime(2026, 3, 27, 12, tzinfo=JERUSALEM)
    assert elapsed_business_fraction(day, noon, JERUSALEM) == 11 / 23


def test_25_hour_business_day_cairo() -> None:
    # Thursday 29 October 2026: Cairo falls back at midnight, the day lasts 25 h.
    day = parse_period("2026-10-29", CAIRO)
    start = day.start.astimezone(UTC)
    assert day.end.astimezone(UTC) - start == timedelta(hours=25)
    assert elapsed_business_fraction(day, start + timedelta(hours=12.5), CAIRO) == 0.5
    assert elapsed_business_fraction(day, start + timedelta(hours=24), CAIRO) == 24 / 25
    week = parse_period("2026-W44", CAIRO)  # Mon 26 Oct - Sun 1 Nov
    assert elapsed_business_fraction(week, start + timedelta(hours=5), CAIRO) == (3 + 5 / 25) / 5


def test_business_day_that_starts_after_a_midnight_gap_cairo() -> None:
    # Friday 24 April 2026: Cairo skips 00:00-01:00, the day starts at 01:00 and lasts 23 h.
    day = parse_period("2026-04-24", CAIRO)
    assert elapsed_business_fraction(day, day.start + timedelta(hours=0), CAIRO) == 0.0
    at = day.start.astimezone(UTC) + timedelta(hours=23 / 4)
    assert elapsed_business_fraction(day, at, CAIRO) == 0.25


def test_week_containing_a_sunday_dst_change_new_york() -> None:
    # Week 2026-W45 (Mon 2 - Sun 8 Nov) in New York; DST ended Sunday 1 Nov (previous week).
    week = parse_period("2026-W45", NY)
    monday_noon = datetime(2026, 11, 2, 12, tzinfo=NY)
    assert elapsed_business_fraction(week, monday_noon, NY) == 0.5 / 5
    # Paris week with the spring-forward Sunday (29 March 2026) at its end: 5 whole days.
    paris_week = parse_period("2026-W13", PARIS)
    sunday = datetime(2026, 3, 29, 12, tzinfo=PARIS)
    assert elapsed_business_fraction(paris_week, sunday, PARIS) == 1.0


def test_naive_now_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        elapsed_business_fraction(parse_period("2026-11", UTCZ), datetime(2026, 11, 5), UTCZ)


ZONES = [UTCZ, NY, PARIS, JERUSALEM, CAIRO, KOLKATA]


@given(
    period_id=st.sampled_from(["2026-11", "2026-Q1", "2026-W13", "2026-W44", "2026-03-27"]),
    tz=st.sampled_from(ZONES),
    a=st.floats(min_value=-2, max_value=100),
    b=st.floats(min_value=-2, max_value=100),
)
def test_fraction_is_monotone_and_bounded(period_id: str, tz: ZoneInfo, a: float, b: float) -> None:
    p = parse_period(period_id, tz)
    base = p.start.astimezone(UTC)
    t1, t2 = sorted((base + timedelta(days=a), base + timedelta(days=b)))
    f1 = elapsed_business_fraction(p, t1, tz)
    f2 = elapsed_business_fraction(p, t2, tz)
    assert 0.0 <= f1 <= f2 <= 1.0


@given(day=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)))
def test_fraction_at_local_midnight_counts_whole_days(day: date) -> None:
    month = parse_period(f"{day.year:04d}-{day.month:02d}", PARIS)
    at = local_midnight(day, PARIS)
    done = business_days_between(month.first_day, day)
    assert elapsed_business_fraction(month, at, PARIS) == done / business_days(month)


# -- found by mutation testing ------------------------------------------------------------


def test_a_tzinfo_without_offset_is_refused_like_a_naive_datetime() -> None:
    week = parse_period("2026-W48", UTCZ)
    with pytest.raises(ValueError, match="naive"):
        elapsed_business_fraction(week, datetime(2026, 11, 25, 12, tzinfo=NoOffset()), UTCZ)
