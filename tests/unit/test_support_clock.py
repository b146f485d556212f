"""The test helper that keeps events of the minutes before now in the current month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.clock import clear_of_month_start


def test_in_the_first_minutes_of_a_month_now_moves_past_the_span() -> None:
    early = datetime(2026, 12, 1, 0, 3, tzinfo=UTC)
    moved = clear_of_month_start(early, timedelta(minutes=40))
    assert moved == datetime(2026, 12, 1, 0, 40, tzinfo=UTC)
    assert (moved - timedelta(minutes=40)).month == 12


def test_later_in_the_month_now_stays() -> None:
    later = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)
    assert clear_of_month_start(later, timedelta(minutes=40)) == later
