"""Durations in the settings: ISO 8601 read (`parse_duration`), and what the domain's
`iso_duration` writes read back as the same span."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.durations import iso_duration
from streams.worker.settings import SettingsError, parse_duration


@given(st.timedeltas(min_value=timedelta(microseconds=1), max_value=timedelta(days=10**6)))
def test_a_written_duration_reads_back_as_the_same_span(span: timedelta) -> None:
    assert parse_duration("SALES_RETENTION", iso_duration(span)) == span


@pytest.mark.parametrize("text", ["", "P", "PT", "7D", "P1M", "PT-1H", "P1Y"])
def test_what_is_not_a_duration_is_refused_with_the_variable_named(text: str) -> None:
    with pytest.raises(SettingsError, match="SALES_LATE_GRACE"):
        parse_duration("SALES_LATE_GRACE", text)
