"""The tables' figures round halves as a reader does, on the digits the API sent."""

from __future__ import annotations

import pytest

from streams.tools.number_text import number, percent


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (None, 0, "-"),
        (12, 0, "12"),
        (2.5, 0, "3"),
        (3.5, 0, "4"),
        (-2.5, 0, "-3"),
        (-0.4, 0, "0"),
        (1234567.125, 2, "1,234,567.13"),
        (0.05, 2, "0.05"),
        (2.675, 2, "2.68"),  # 2.67499999... in binary
        (1e21, 0, "1,000,000,000,000,000,000,000"),
    ],
)
def test_number_rounds_half_away_from_zero(value: float | None, digits: int, text: str) -> None:
    assert number(value, digits) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "-"),
        (0, "0%"),
        (1, "100%"),
        (0.125, "13%"),
        (0.145, "15%"),  # 14.499999999999998 once multiplied in binary
        (0.005, "1%"),
        (10.5, "1,050%"),
    ],
)
def test_percent_is_a_whole_percentage(value: float | None, text: str) -> None:
    assert percent(value) == text
