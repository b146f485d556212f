"""SALES_RETENTION's horizon: whole periods are kept or dropped, never cut."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.periods import parse_period, periods_of
from streams.domain.retention import MIN_RETENTION, Retention, retention_horizon

UTC_ZONE = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("now", "days", "horizon"),
    [
        # cutoff Thursday 2026-07-30: its week starts on 07-27, its quarter on 07-01
        ("2026-11-27T18:00:00+00:00", 120, "2026-07-01T00:00:00+00:00"),
        # cutoff Friday 2026-10-02: its quarter starts on 10-01, its week on 09-28, earlier
        ("2027-01-02T12:00:00+00:00", 92, "2026-09-28T00:00:00+00:00"),
        # cutoff on a quarter's first day, a Monday (2024-04-01): both start there
        ("2024-04-11T08:00:00+00:00", 10, "2024-04-01T00:00:00+00:00"),
        # cutoff Friday 2027-01-01: its week started on 2026-12-28, in the year before
        ("2027-03-01T00:00:00+00:00", 59, "2026-12-28T00:00:00+00:00"),
        ("2026-06-29T10:00:00+00:00", 0, "2026-04-01T00:00:00+00:00"),
    ],
)
def test_the_horizon_is_the_earliest_start_of_a_period_holding_the_cutoff(
    now: str, days: int, horizon: str
) -> None:
    got = retention_horizon(datetime.fromisoformat(now), timedelta(days=days), UTC_ZONE)
    assert got == datetime.fromisoformat(horizon)


def test_the_horizon_is_a_local_midnight() -> None:
    # cutoff 2026-04-15 in Berlin (summer time): quarter 2026-Q2 starts 04-01 00:00 +02:00
    got = retention_horizon(datetime(2026, 7, 14, 12, tzinfo=UTC), timedelta(days=90), BERLIN)
    assert got == datetime(2026, 3, 31, 22, tzinfo=UTC)


@given(
    st.datetimes(min_value=datetime(2001, 1, 1), max_value=datetime(2090, 1, 1)),
    st.integers(min_value=0, max_value=2000),
    st.sampled_from([UTC_ZONE, BERLIN, ZoneInfo("America/Sao_Paulo"), ZoneInfo("Asia/Kolkata")]),
)
def test_no_period_straddles_the_horizon(naive: datetime, days: int, tz: ZoneInfo) -> None:
    """Every period holding an instant before the horizon ends by the cutoff, and every
    period holding the cutoff starts at or after the horizon: deleting what lies before
    the horizon changes no kept period and leaves no dropped one in part."""
    now = naive.replace(tzinfo=UTC)
    cutoff = now - timedelta(days=days)
    horizon = retention_horizon(now, timedelta(days=days), tz)
    for period_id in periods_of(cutoff, tz):
        assert parse_period(period_id, tz).start >= horizon
    for period_id in periods_of(horizon - timedelta(seconds=1), tz):
        assert parse_period(period_id, tz).end <= cutoff
        assert parse_period(period_id, tz).start < horizon


def test_the_current_quarter_is_always_kept() -> None:
    retention = Retention(MIN_RETENTION, UTC_ZONE)
    day = date(2026, 1, 1)
    while day < date(2028, 1, 1):
        now = datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC)
        for period_id in periods_of(now, UTC_ZONE):
            assert retention.refusal(period_id, now) is None, (now, period_id)
        day += timedelta(days=1)


def test_a_dropped_period_is_refused_with_the_horizon_and_the_setting() -> None:
    retention = Retention(timedelta(days=120), UTC_ZONE)
    now = datetime(2026, 11, 27, 18, tzinfo=UTC)
    refusal = retention.refusal("2026-Q2", now)
    assert refusal == (
        "2026-Q2 starts before 2026-07-01T00:00:00Z, the horizon of SALES_RETENTION=P120D: "
        "its figures are no longer kept"
    )
    assert retention.refusal("2026-W27", now) is not None  # 06-29 to 07-05: in part before
    assert retention.refusal("2026-Q3", now) is None
    assert retention.refusal("2026-07-01", now) is None
    assert retention.dropped("2026-06-30", retention.horizon(now))
    assert not retention.dropped("2026-07", retention.horizon(now))
    assert retention.refuse_instant(datetime(2026, 6, 30, 23, tzinfo=UTC), now) is not None
    assert retention.refuse_instant(datetime(2026, 7, 1, tzinfo=UTC), now) is None


def test_without_a_retention_everything_is_kept() -> None:
    retention = Retention(None, UTC_ZONE)
    now = datetime(2026, 11, 27, tzinfo=UTC)
    assert retention.horizon(now) is None
    assert retention.refusal("1999-Q1", now) is None
    assert retention.refuse_instant(datetime(1999, 1, 1, tzinfo=UTC), now) is None
    assert not retention.dropped("1999-Q1", retention.horizon(now))


@pytest.mark.parametrize(
    ("retention", "written"),
    [(timedelta(days=1_234_567), "P1234567D"), (timedelta(days=92, hours=12), "PT2220H")],
)
def test_a_refusal_names_the_retention_as_it_is_set(retention: timedelta, written: str) -> None:
    # the days were written with `:g`: 1.23457e+06 days, or 92.5 days for PT2220H
    refusal = Retention(retention, UTC_ZONE).refusal("2020-Q1", datetime(7000, 1, 1, tzinfo=UTC))
    assert refusal is not None and f"SALES_RETENTION={written}:" in refusal
