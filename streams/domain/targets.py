"""Target evaluation: attainment, pace and status (docs/contract.md section 4, "Targets").

Status is decided in this order, the first that applies wins:

1. ``achieved``: actual >= target (also after the period ended, and before it started).
2. ``missed``: the period has ended (now >= period.end) without reaching the target.
3. ``not_started``: nothing is expected yet, i.e. ``expected_by_now == 0``: before the period
   starts, at its very start, on a weekend before its first business day has begun, and all
   through a period that has no business day at all (a Saturday).
4. ``on_track``: actual >= expected_by_now.
5. ``at_risk``: actual < at_risk_pace x expected_by_now (strictly below: exactly at the
   threshold is ``behind``).
6. ``behind``: otherwise.

Comparisons against expected_by_now (4 and 5) treat values within a relative 1e-9 of each
other as equal, so float noise in the elapsed fraction never flips an exact boundary; the
comparison with the target itself (1) is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from streams.domain.business_time import business_days, elapsed_business_fraction
from streams.domain.periods import Period
from streams.domain.vocabulary import TARGET_METRICS, AlertKind, TargetStatus

_REL_TOL = 1e-9


def metric_names() -> tuple[str, ...]:
    """All target metrics: revenue_won (base currency), deals_won, activities_total and
    activities.<type> for the nine activity types."""
    return TARGET_METRICS


@dataclass(frozen=True)
class TargetEvaluation:
    """One target's standing at a moment; ratios are unrounded floats."""

    metric: str
    target: float
    actual: float
    attainment: float
    expected_by_now: float
    pace: float | None
    status: TargetStatus
    #: the straight-line run rate to the period's end; None while nothing has elapsed
    projected: float | None = None
    #: what is still missing: max(target - actual, 0)
    gap: float = 0.0
    #: the gap per business day left (today by the part of it left); None when no
    #: business time is left but something is missing
    required_per_business_day: float | None = 0.0


def _at_least(value: float, bound: float) -> bool:
    return value >= bound or math.isclose(value, bound, rel_tol=_REL_TOL)


def evaluate_target(
    *,
    metric: str,
    target: float,
    actual: float,
    period: Period,
    now: datetime,
    tz: ZoneInfo,
    at_risk_pace: float,
) -> TargetEvaluation:
    """Evaluate a target at the aware moment ``now`` (see the module docstring for the rules).

    attainment = actual / target; expected_by_now = target x elapsed business fraction;
    pace = actual / expected_by_now, None while expected_by_now is 0.
    """
    if not (target > 0 and math.isfinite(target)):
        raise ValueError(f"target must be a finite number > 0, got {target!r}")
    fraction = elapsed_business_fraction(period, now, tz)
    expected = target * fraction
    pace = actual / expected if expected > 0 else None
    status: TargetStatus
    if actual >= target:
        status = "achieved"
    elif now.astimezone(UTC) >= period.end.astimezone(UTC):
        status = "missed"
    elif expected == 0:
        status = "not_started"
    elif _at_least(actual, expected):
        status = "on_track"
    elif not _at_least(actual, at_risk_pace * expected):
        status = "at_risk"
    else:
        status = "behind"
    gap = max(target - actual, 0.0)
    days_left = business_days(period) * (1.0 - fraction)
    if gap == 0:
        required: float | None = 0.0
    else:
        required = gap / days_left if days_left > 0 else None
    return TargetEvaluation(
        metric=metric,
        target=target,
        actual=actual,
        attainment=actual / target,
        expected_by_now=expected,
        pace=pace,
        status=status,
        projected=actual / fraction if fraction > 0 else None,
        gap=gap,
        required_per_business_day=required,
    )


def pipeline_coverage(open_amount: float, gap: float) -> float | None:
    """Open pipeline per unit still missing of a revenue target (contract section 8.2);
    None when nothing is missing."""
    return None if gap == 0 else open_amount / gap


def alerts_due(status: TargetStatus, emitted: Sequence[str]) -> list[AlertKind]:
    """The alerts a target's status calls for, given those already emitted (in order).

    `target_at_risk` and `target_missed` are emitted at most once per target and period.
    `target_achieved` and `target_achievement_revoked` alternate: achieved when the actual
    first reaches the target, revoked when a correction takes it below again, achieved
    again if it comes back, and so on.
    """
    due: list[AlertKind] = []
    swings = [kind for kind in emitted if kind in _SWING]
    achieved = bool(swings) and swings[-1] == "target_achieved"
    if status == "achieved" and not achieved:
        due.append("target_achieved")
    elif status != "achieved" and achieved:
        due.append("target_achievement_revoked")
    kind = _ONCE.get(status)
    if kind is not None and kind not in emitted:
        due.append(kind)
    return due


_SWING = ("target_achieved", "target_achievement_revoked")
#: the statuses whose alert is sent at most once per target and period, and that alert
_ONCE: dict[str, AlertKind] = {"at_risk": "target_at_risk", "missed": "target_missed"}
ONCE_ONLY: frozenset[str] = frozenset(_ONCE.values())
