"""Derived figures: definitions, null denominators, medians, quadrants, money rounding."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.figures import (
    activities_per_win,
    avg_cycle_days,
    avg_cycle_days_of,
    avg_deal_size,
    csat_stats,
    median,
    money_out,
    nps,
    quadrant,
    revenue_per_activity,
    round_money,
    win_rate,
)

counts = st.integers(min_value=0, max_value=10**6)


def test_win_rate() -> None:
    assert win_rate(0, 0) is None
    assert win_rate(3, 0) == 1.0
    assert win_rate(0, 4) == 0.0
    assert win_rate(1, 2) == 1 / 3
    assert win_rate(2, 2) == 0.5


@given(won=counts, lost=counts)
def test_win_rate_is_the_nearest_float_to_the_exact_ratio(won: int, lost: int) -> None:
    rate = win_rate(won, lost)
    if won + lost == 0:
        assert rate is None
    else:
        assert rate == float(Fraction(won, won + lost))
        assert 0.0 <= rate <= 1.0


def test_avg_deal_size() -> None:
    assert avg_deal_size(Decimal("0"), 0) is None
    assert avg_deal_size(Decimal("100.00"), 0) is None
    assert avg_deal_size(Decimal("300.30"), 3) == Decimal("100.10")
    size = avg_deal_size(Decimal("100"), 3)
    assert size is not None
    assert money_out(size) == 33.33
    # Divides the unrounded revenue: 0.005 + 0.005 over 2 deals is 0.005 -> 0.01 half up.
    assert money_out(avg_deal_size(Decimal("0.010"), 2)) == 0.01


def test_avg_cycle_days() -> None:
    assert avg_cycle_days(0.0, 0) is None
    assert avg_cycle_days(86_400.0, 1) == 1.0
    assert avg_cycle_days(3 * 86_400.0, 2) == 1.5
    assert avg_cycle_days_of([]) is None
    assert avg_cycle_days_of([timedelta(days=1), timedelta(days=2, hours=12)]) == 1.75
    assert avg_cycle_days_of([timedelta(hours=1)]) == 1 / 24


def test_csat_stats() -> None:
    assert csat_stats(0, 0, 0) == (None, 0, None)
    assert csat_stats(5 + 4 + 1, 3, 2) == (10 / 3, 3, 200 / 3)
    assert csat_stats(5, 1, 1) == (5.0, 1, 100.0)
    assert csat_stats(3, 1, 0) == (3.0, 1, 0.0)


@given(scores=st.lists(st.integers(min_value=1, max_value=5), max_size=50))
def test_csat_stats_from_scores(scores: list[int]) -> None:
    satisfied = sum(1 for s in scores if s >= 4)
    avg, count, pct = csat_stats(sum(scores), len(scores), satisfied)
    assert count == len(scores)
    if not scores:
        assert avg is None and pct is None
    else:
        assert avg == float(Fraction(sum(scores), len(scores)))
        assert pct == float(Fraction(100 * satisfied, len(scores)))


def test_nps() -> None:
    assert nps(0, 0, 0) is None
    assert nps(10, 0, 10) == 100.0
    assert nps(0, 10, 10) == -100.0
    assert nps(0, 0, 7) == 0.0  # all passives
    # 2 promoters, 1 passive, 0 detractors of 3 responses -> 66.67 (not rounded)
    assert nps(2, 0, 3) == 200 / 3
    assert nps(1, 2, 3) == -100 / 3


@given(scores=st.lists(st.integers(min_value=0, max_value=10), max_size=60))
def test_nps_from_scores(scores: list[int]) -> None:
    promoters = sum(1 for s in scores if s >= 9)
    detractors = sum(1 for s in scores if s <= 6)
    value = nps(promoters, detractors, len(scores))
    if not scores:
        assert value is None
    else:
        exact = Fraction(100 * promoters, len(scores)) - Fraction(100 * detractors, len(scores))
        assert value == float(exact)
        assert -100.0 <= value <= 100.0


def test_efficiency() -> None:
    assert activities_per_win(10, 0) is None
    assert activities_per_win(0, 0) is None
    assert activities_per_win(10, 4) == 2.5
    assert activities_per_win(0, 2) == 0.0
    assert revenue_per_activity(Decimal("100"), 0) is None
    assert revenue_per_activity(Decimal("0"), 0) is None
    assert revenue_per_activity(Decimal("100"), 8) == Decimal("12.5")
    assert money_out(revenue_per_activity(Decimal("100"), 3)) == 33.33
    assert money_out(revenue_per_activity(Decimal("200"), 3)) == 66.67


def test_median() -> None:
    assert median([]) is None
    assert median([7]) == 7.0
    assert median([3, 1, 2]) == 2.0
    assert median([4, 1, 3, 2]) == 2.5
    assert median([5, 5, 1, 9]) == 5.0  # tie in the middle
    assert median([1, 1, 1, 1]) == 1.0
    assert median([0, 0, 0, 10]) == 0.0
    assert median([1.5, 2.5]) == 2.0
    assert median([Decimal("10.01"), Decimal("10.02")]) == Decimal("10.015")
    assert median([Decimal("3"), Decimal("1"), Decimal("2")]) == Decimal("2")
    assert isinstance(median([Decimal("1"), 2]), Decimal)


@given(values=st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=40))
def test_median_splits_the_values(values: list[int]) -> None:
    m = median(values)
    assert m is not None
    below = sum(1 for v in values if v < m)
    above = sum(1 for v in values if v > m)
    assert below <= len(values) // 2 and above <= len(values) // 2
    ordered = sorted(values)
    n = len(values)
    assert m == (ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2)


def test_quadrant() -> None:
    med_a, med_r = 10.0, Decimal("1000")
    assert quadrant(20, Decimal("2000"), med_a, med_r) == "high_activity_high_performance"
    assert quadrant(20, Decimal("10"), med_a, med_r) == "high_activity_low_performance"
    assert quadrant(2, Decimal("2000"), med_a, med_r) == "low_activity_high_performance"
    assert quadrant(2, Decimal("10"), med_a, med_r) == "low_activity_low_performance"


def test_quadrant_exactly_at_the_median_is_high() -> None:
    assert quadrant(10, Decimal("1000"), 10.0, Decimal("1000")) == "high_activity_high_performance"
    assert quadrant(9, Decimal("999.99"), 10.0, Decimal("1000")) == "low_activity_low_performance"
    # Medians from an even count can fall between values.
    team_activities = [4, 10, 11, 20]
    m = median(team_activities)
    assert m == 10.5
    assert quadrant(10, Decimal(0), m, Decimal(0)).startswith("low_activity")
    assert quadrant(11, Decimal(0), m, Decimal(0)).startswith("high_activity")


def test_quadrant_single_rep_and_missing_median() -> None:
    # A rep alone in its team is the median of its team: high/high.
    assert quadrant(0, Decimal(0), median([0]), median([Decimal(0)])) == (
        "high_activity_high_performance"
    )
    assert quadrant(0, Decimal(0), None, None) == "high_activity_high_performance"


@pytest.mark.parametrize(
    ("value", "cents"),
    [
        ("0.125", "0.13"),
        ("0.135", "0.14"),
        ("2.675", "2.68"),  # exact in Decimal (a float 2.675 would be 2.67499...)
        ("2.665", "2.67"),
        ("1.004", "1.00"),
        ("1.005", "1.01"),
        ("0.004", "0.00"),
        ("0.005", "0.01"),
        ("-0.125", "-0.13"),  # half away from zero
        ("-0.001", "0.00"),  # never "-0.00"
        ("1000000.994999", "1000000.99"),
        ("12", "12.00"),
    ],
)
def test_round_money_half_up(value: str, cents: str) -> None:
    rounded = round_money(Decimal(value))
    assert rounded == Decimal(cents)
    assert str(rounded) == cents


def test_money_out() -> None:
    assert money_out(None) is None
    assert money_out(Decimal("2.675")) == 2.68
    assert money_out(Decimal("0.125")) == 0.13
    assert money_out(Decimal("1234.5")) == 1234.5
    out = money_out(Decimal("-0.001"))
    assert out == 0.0 and str(out) == "0.0"
    assert money_out(Decimal("0.1") + Decimal("0.2")) == 0.3


@given(cents=st.integers(min_value=0, max_value=10**12), extra=st.integers(0, 999))
def test_round_money_matches_integer_half_up(cents: int, extra: int) -> None:
    # value = cents/100 + extra/100000
    value = Decimal(cents) / 100 + Decimal(extra) / 100_000
    expected = cents + (1 if extra >= 500 else 0)
    assert round_money(value) == Decimal(expected) / 100


def test_rounding_money_never_fails_on_large_values() -> None:
    from decimal import Decimal

    from streams.domain.figures import money_out, round_money

    assert round_money(Decimal("1e32")) == Decimal("1e32")
    assert money_out(Decimal("123456789012345678901234567890123.455")) == 1.2345678901234568e32


# -- found by mutation testing ------------------------------------------------------------


def test_money_median_of_four_and_five_values() -> None:
    # the middle of 4 sorted values is between the 2nd and the 3rd, of 5 the 3rd
    revenues = [Decimal("400"), Decimal("100"), Decimal("300"), Decimal("200")]
    assert median(revenues) == Decimal("250")
    assert median([*revenues, Decimal("500")]) == Decimal("300")


def test_revenue_quadrant_in_a_team_of_four() -> None:
    team = [Decimal("100"), Decimal("200"), Decimal("300"), Decimal("400")]
    m = median(team)  # 250: the 200 rep is below it
    assert quadrant(5, Decimal("200"), 5.0, m) == "high_activity_low_performance"
    assert quadrant(5, Decimal("300"), 5.0, m) == "high_activity_high_performance"


def test_float_median_odd_and_even_counts() -> None:
    assert median([2.5]) == 2.5
    assert median([3.5, 1.5, 2.5]) == 2.5
    assert median([4.0, 1.0, 3.0, 2.0]) == 2.5
    assert median([5.0, 1.0, 4.0, 2.0, 3.0]) == 3.0
