"""Durations in the settings: ISO 8601 read (`parse_duration`) and written back exactly
(`iso_duration`: SALES_LATE_GRACE in the dead-letter review, SALES_RETENTION in /v1/status)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.worker.settings import SettingsError, iso_duration, parse_duration


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


@given(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=10**6)))
def test_a_written_duration_reads_back_as_the_same_span(span: timedelta) -> None:
    assert parse_duration("SALES_RETENTION", iso_duration(span)) == span


@pytest.mark.parametrize("text", ["", "P", "PT", "7D", "P1M", "PT-1H", "P1Y"])
def test_what_is_not_a_duration_is_refused_with_the_variable_named(text: str) -> None:
    with pytest.raises(SettingsError, match="SALES_LATE_GRACE"):
        parse_duration("SALES_LATE_GRACE", text)
