"""Derived sales figures (docs/contract.md section 4): the formulas, as pure functions of
counters, and `Figures`, one scope's exact figures in one period with their document.

Conventions, chosen so a reader can recompute every figure independently:

* Every ratio is the float nearest to its exact rational value, computed with a single
  division of exact numbers and not rounded further: ``win_rate = won / (won + lost)``
  (a ratio 0..1), ``csat_satisfied_pct = 100 * satisfied / count`` (percent 0..100),
  ``nps = 100 * (promoters - detractors) / count`` (-100..100).
* A figure whose denominator is 0 is ``None`` (JSON ``null``), never 0 or NaN.
* Money is kept as exact :class:`~decimal.Decimal` through every sum and division and rounded
  once, on output, to cents with ROUND_HALF_UP (``0.125 -> 0.13``), the rule people expect
  for money (not banker's rounding). ``avg_deal_size`` therefore divides the unrounded
  revenue and rounds the quotient.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import ROUND_HALF_UP, Context, Decimal

from streams.domain.satisfaction import csat_stats, nps
from streams.domain.vocabulary import Quadrant

__all__ = ["csat_stats", "nps"]

CENT = Decimal("0.01")
SECONDS_PER_DAY = 86_400

# Divisions of money use their own context so they do not depend on (or disturb) the
# thread's decimal context; 34 significant digits, as IEEE decimal128.
_MONEY = Context(prec=34)
# Rounding to cents needs as many digits as the value has: wide enough for any float.
_ROUNDING = Context(prec=400)


def ratio(numerator: int | float, denominator: int | float) -> float | None:
    """numerator / denominator; None when the denominator is 0."""
    return None if denominator == 0 else numerator / denominator


def win_rate(won: int, lost: int) -> float | None:
    """won / (won + lost) as a ratio 0..1; None when no deal closed."""
    return ratio(won, won + lost)


def avg_deal_size(revenue: Decimal, won: int) -> Decimal | None:
    """Revenue won per won deal, unrounded; None when nothing was won."""
    if won == 0:
        return None
    return _MONEY.divide(revenue, Decimal(won))


def avg_cycle_days(cycle_seconds_sum: float, n: int) -> float | None:
    """Mean sales cycle in days of 86 400 s, from the sum of cycles in seconds; None if n is 0.

    Only won deals that carry ``created_at`` contribute (the caller counts them in ``n``).
    """
    if n == 0:
        return None
    return cycle_seconds_sum / (n * SECONDS_PER_DAY)


def avg_cycle_days_of(cycles: Sequence[timedelta]) -> float | None:
    """Mean sales cycle in days from individual durations; None for an empty list."""
    if not cycles:
        return None
    # Sum in whole microseconds (exact integers), divide once.
    total_us = sum(c // timedelta(microseconds=1) for c in cycles)
    return total_us / (len(cycles) * SECONDS_PER_DAY * 1_000_000)


def activities_per_win(activities: int, won: int) -> float | None:
    """Activities per won deal; None when nothing was won."""
    return ratio(activities, won)


def revenue_per_activity(revenue: Decimal, activities: int) -> Decimal | None:
    """Revenue won per activity, unrounded; None when there is no activity."""
    if activities == 0:
        return None
    return _MONEY.divide(revenue, Decimal(activities))


def median(
    values: Sequence[float | Decimal | int],
) -> float | Decimal | None:
    """Median; the mean of the two middle values for an even count; None when empty.

    Returns a Decimal when any value is a Decimal (exact, for money), a float otherwise.
    """
    if not values:
        return None
    if all(type(v) is int for v in values):  # activity counts: no conversion to sort
        ints = sorted(values)
        mid = len(ints) // 2
        if len(ints) % 2:
            return float(ints[mid])
        return (float(ints[mid - 1]) + float(ints[mid])) / 2
    if any(isinstance(v, Decimal) for v in values):
        decimals = sorted(v if isinstance(v, Decimal) else Decimal(str(v)) for v in values)
        mid = len(decimals) // 2
        if len(decimals) % 2:
            return decimals[mid]
        return _MONEY.divide(_MONEY.add(decimals[mid - 1], decimals[mid]), Decimal(2))
    floats = sorted(float(v) for v in values)
    mid = len(floats) // 2
    if len(floats) % 2:
        return floats[mid]
    return (floats[mid - 1] + floats[mid]) / 2


_QUADRANTS: dict[tuple[bool, bool], Quadrant] = {
    (True, True): "high_activity_high_performance",
    (True, False): "high_activity_low_performance",
    (False, True): "low_activity_high_performance",
    (False, False): "low_activity_low_performance",
}


def is_high(value: int | Decimal, team_median: float | Decimal | None) -> bool:
    # No median means no reps to compare with: a rep is not "low" against nobody.
    return team_median is None or value >= team_median


def quadrant(
    activities: int,
    revenue: Decimal,
    team_activity_median: float | Decimal | None,
    team_revenue_median: float | Decimal | None,
) -> Quadrant:
    """Activity/performance quadrant of a rep against its team's medians in the period.

    ``high`` when the value is >= the median (so exactly at the median is high; the rep itself
    is one of the values the median is taken over); a missing median (None) counts as high.
    """
    return _QUADRANTS[
        (is_high(activities, team_activity_median), is_high(revenue, team_revenue_median))
    ]


def round_money(x: Decimal) -> Decimal:
    """Round to cents, half up (away from zero on an exact half): 0.125 -> 0.13."""
    rounded = x.quantize(CENT, rounding=ROUND_HALF_UP, context=_ROUNDING)
    return rounded if rounded != 0 else Decimal("0.00")  # never "-0.00"


def money_out(x: Decimal | None) -> float | None:
    """Money for JSON: rounded to cents (half up), as a float; None stays None."""
    if x is None:
        return None
    return float(round_money(x))
