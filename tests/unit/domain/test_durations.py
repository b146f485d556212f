"""`iso_duration`: a span written exactly as the settings take it (SALES_LATE_GRACE in the
dead-letter review, SALES_RETENTION in /v1/status and in the retention's 410)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.domain.durations import iso_duration


@pytest.mark.parametrize(
    ("span", "text"),
    [
        (timedelta(days=7), "P7D"),
        (timedelta(hours=36), "PT36H"),
        (timedelta(days=400), "P400D"),
        (timedelta(days=92, hours=12), "PT2220H"),
        (timedelta(hours=1, minutes=30), "PT1H30M"),
        (timedelta(seconds=100), "PT1M40S"),
        (timedelta(seconds=0.25), "PT0.25S"),
        (timedelta(days=1_234_567), "P1234567D"),
    ],
)
def test_a_duration_is_written_as_the_settings_write_it(span: timedelta, text: str) -> None:
    assert iso_duration(span) == text
