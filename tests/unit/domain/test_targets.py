"""Target evaluation: attainment, expected_by_now, pace and every status transition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.business_time import elapsed_business_fraction
from streams.domain.events import ACTIVITY_TYPES, is_valid_metric
from streams.domain.periods import parse_period
from streams.domain.targets import (
    TargetEvaluation,
    evaluate_target,
    metric_names,
    pipeline_coverage,
)

UTCZ = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")
WEEK = parse_period("2026-W48", UTCZ)  # Mon 23 Nov 2026 - Sun 29 Nov 2026
MONTH = parse_period("2026-11", UTCZ)  # starts on Sunday 1 Nov 2026, 21 business days


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


def ev(
    actual: float,
    now: datetime,
    target: float = 100.0,
    period_id: str = "2026-W48",
    tz: ZoneInfo = UTCZ,
    at_risk_pace: float = 0.8,
) -> TargetEvaluation:
    return evaluate_target(
        metric="deals_won",
        target=target,
        actual=actual,
        period=parse_period(period_id, tz),
        now=now,
        tz=tz,
        at_risk_pace=at_risk_pace,
    )


WED_NOON = utc(2026, 11, 25, 12)  # 2.5 of 5 business days: 50 expected of 100


def test_fields_mid_period() -> None:
    e = ev(40.0, WED_NOON)
    assert e.metric == "deals_won"
    assert (e.target, e.actual) == (100.0, 40.0)
    assert e.attainment == 0.4
    assert e.expected_by_now == 50.0
    assert e.pace == 0.8
    assert e.status == "behind"


@pytest.mark.parametrize(
    ("actual", "status"),
    [
        (100.0, "achieved"),
        (150.0, "achieved"),
        (99.0, "on_track"),
        (50.0, "on_track"),  # exactly as expected
        (49.99, "behind"),
        (40.0, "behind"),  # exactly 0.8 x expected is behind, not at risk
        (39.99, "at_risk"),
        (0.0, "at_risk"),
    ],
)
def test_status_mid_period(actual: float, status: str) -> None:
    assert ev(actual, WED_NOON).status == status


def test_at_risk_threshold_follows_setting() -> None:
    assert ev(45.0, WED_NOON, at_risk_pace=0.9).status == "behind"
    assert ev(44.0, WED_NOON, at_risk_pace=0.9).status == "at_risk"
    assert ev(1.0, WED_NOON, at_risk_pace=0.0).status == "behind"


def test_boundaries_survive_float_noise() -> None:
    # 0.3 of the week: expected = 10 * 0.3 = 3.0000000000000004 in floats.
    now = WEEK.start + timedelta(days=1.5)
    fraction = elapsed_business_fraction(WEEK, now, UTCZ)
    assert fraction == 0.3
    e = ev(3.0, now, target=10.0)
    assert e.status == "on_track"
    assert ev(2.4, now, target=10.0).status == "behind"  # 0.8 x 3 = 2.4
    assert ev(2.39, now, target=10.0).status == "at_risk"


def test_achieved_after_end_and_missed() -> None:
    after = utc(2026, 12, 5)
    e = ev(100.0, after)
    assert e.status == "achieved"
    assert e.expected_by_now == 100.0 and e.pace == 1.0
    missed = ev(99.0, after)
    assert missed.status == "missed"
    assert missed.attainment == 0.99
    assert ev(99.0, WEEK.end).status == "missed"  # end is exclusive
    # A moment before the end (a Sunday) the whole target is expected but not yet missed.
    last = ev(99.0, WEEK.end - timedelta(microseconds=1))
    assert (last.status, last.expected_by_now) == ("behind", 100.0)


def test_not_started() -> None:
    before = ev(0.0, utc(2026, 11, 20))
    assert before.status == "not_started"
    assert before.expected_by_now == 0.0
    assert before.pace is None
    assert ev(0.0, WEEK.start).status == "not_started"
    # Achieved wins even before the period starts.
    assert ev(100.0, utc(2026, 11, 20)).status == "achieved"


def test_not_started_on_a_weekend_start() -> None:
    # November 2026 starts on a Sunday: nothing is expected before Monday.
    sunday = utc(2026, 11, 1, 15)
    e = ev(0.0, sunday, period_id="2026-11")
    assert (e.status, e.expected_by_now, e.pace) == ("not_started", 0.0, None)
    assert ev(5.0, sunday, period_id="2026-11").status == "not_started"
    monday = ev(0.0, utc(2026, 11, 2, 1), period_id="2026-11")
    assert monday.status == "at_risk"
    assert monday.pace == 0.0


def test_weekend_day_period() -> None:
    saturday = "2026-11-28"
    assert ev(0.0, utc(2026, 11, 28, 12), period_id=saturday).status == "not_started"
    assert ev(0.0, utc(2026, 11, 29), period_id=saturday).status == "missed"
    assert ev(100.0, utc(2026, 11, 28, 12), period_id=saturday).status == "achieved"


def test_weekend_inside_the_period_freezes_expectation() -> None:
    saturday = ev(100.0 * 0.9, utc(2026, 11, 28, 12), target=100.0)
    assert saturday.expected_by_now == 100.0
    assert saturday.status == "behind"


def test_status_in_local_zone() -> None:
    # 03:00Z on Monday 2 Nov is still Sunday 22:00 in New York: not started.
    assert ev(0.0, utc(2026, 11, 2, 3), period_id="2026-11", tz=NY).status == "not_started"
    assert ev(0.0, utc(2026, 11, 2, 6), period_id="2026-11", tz=NY).status == "at_risk"


def test_invalid_target() -> None:
    with pytest.raises(ValueError):
        ev(1.0, WED_NOON, target=0.0)
    with pytest.raises(ValueError):
        ev(1.0, WED_NOON, target=float("nan"))


def test_metric_names() -> None:
    names = metric_names()
    assert names[:3] == ("revenue_won", "deals_won", "activities_total")
    assert len(names) == 12
    assert len(ACTIVITY_TYPES) == 9
    for t in ("call", "email", "meeting", "demo", "proposal", "negotiation", "social", "event"):
        assert is_valid_metric(f"activities.{t}")
    assert is_valid_metric("activities.follow_up")
    for bad in (
        "activities.lunch",
        "activities",
        "win_rate",
        "Revenue_won",
        "activities.total",
        "",
    ):
        assert not is_valid_metric(bad)


@given(
    actual=st.floats(min_value=0, max_value=1e6),
    target=st.floats(min_value=0.01, max_value=1e6),
    offset_h=st.floats(min_value=-48, max_value=24 * 40),
    pace_setting=st.floats(min_value=0, max_value=1),
)
def test_status_agrees_with_the_definitions(
    actual: float, target: float, offset_h: float, pace_setting: float
) -> None:
    now = MONTH.start + timedelta(hours=offset_h)
    e = ev(actual, now, target=target, period_id="2026-11", at_risk_pace=pace_setting)
    expected = target * elapsed_business_fraction(MONTH, now, UTCZ)
    assert e.expected_by_now == expected
    assert e.attainment == actual / target
    assert e.pace == (None if expected == 0 else actual / expected)
    if actual >= target:
        assert e.status == "achieved"
    elif now >= MONTH.end:
        assert e.status == "missed"
    elif expected == 0:
        assert e.status == "not_started"
    elif actual >= expected:
        assert e.status == "on_track"
    elif actual < pace_setting * expected * (1 - 1e-8):
        assert e.status == "at_risk"
    elif actual > pace_setting * expected * (1 + 1e-8):
        assert e.status in ("behind", "on_track")


# -- projection, gap and required pace (docs/contract.md section 8.2) ---------------------


def test_projection_mid_period() -> None:
    # Wednesday noon of W48: 2.5 of 5 business days elapsed
    e = ev(30.0, utc(2026, 11, 25, 12))
    assert e.projected == pytest.approx(60.0)
    assert e.gap == 70.0
    assert e.required_per_business_day == pytest.approx(70.0 / 2.5)


def test_before_the_period_nothing_is_projected_and_all_days_are_left() -> None:
    e = ev(0.0, utc(2026, 11, 20))
    assert e.projected is None
    assert e.required_per_business_day == pytest.approx(100.0 / 5)


def test_at_the_period_start_and_after_its_end() -> None:
    start = ev(10.0, utc(2026, 11, 23))
    assert start.projected is None  # nothing elapsed yet: no run rate
    assert start.required_per_business_day == pytest.approx(90.0 / 5)
    ended = ev(40.0, utc(2026, 11, 30))
    assert ended.projected == 40.0  # equal to actual once the period has ended
    assert ended.gap == 60.0
    assert ended.required_per_business_day is None  # missing, and no business time left


def test_the_weekend_after_the_last_business_day_leaves_no_business_time() -> None:
    e = ev(50.0, utc(2026, 11, 28, 12))  # Saturday of W48
    assert e.projected == pytest.approx(50.0)
    assert e.required_per_business_day is None


def test_an_achieved_target_needs_nothing_more() -> None:
    e = ev(120.0, utc(2026, 11, 30))
    assert (e.gap, e.required_per_business_day) == (0.0, 0.0)
    assert ev(100.0, utc(2026, 11, 24)).required_per_business_day == 0.0


def test_a_day_target_on_a_saturday_has_no_business_time() -> None:
    e = ev(1.0, utc(2026, 11, 28, 12), period_id="2026-11-28")
    assert e.projected is None and e.required_per_business_day is None


@given(
    actual=st.floats(min_value=0, max_value=1e6),
    hours=st.integers(min_value=-48, max_value=24 * 40),
)
def test_projection_is_consistent_with_the_elapsed_fraction(actual: float, hours: int) -> None:
    now = utc(2026, 11, 1) + timedelta(hours=hours)
    e = ev(actual, now, target=1000.0, period_id="2026-11")
    fraction = elapsed_business_fraction(MONTH, now, UTCZ)
    if fraction == 0:
        assert e.projected is None
    else:
        assert e.projected == pytest.approx(actual / fraction)
    assert e.gap == max(1000.0 - actual, 0.0)


# -- which alerts a status calls for (docs/contract.md 8.3) ------------------------------


@pytest.mark.parametrize(
    ("status", "emitted", "due"),
    [
        ("on_track", [], []),
        ("at_risk", [], ["target_at_risk"]),
        ("at_risk", ["target_at_risk"], []),
        ("achieved", ["target_at_risk"], ["target_achieved"]),
        ("achieved", ["target_achieved"], []),
        ("behind", ["target_achieved"], ["target_achievement_revoked"]),
        ("at_risk", ["target_at_risk", "target_achieved"], ["target_achievement_revoked"]),
        (
            "missed",
            ["target_achieved"],
            ["target_achievement_revoked", "target_missed"],
        ),
        ("achieved", ["target_achieved", "target_achievement_revoked"], ["target_achieved"]),
        ("missed", ["target_missed"], []),
    ],
)
def test_alerts_due(status: str, emitted: list[str], due: list[str]) -> None:
    from streams.domain.targets import alerts_due

    assert alerts_due(status, emitted) == due  # type: ignore[arg-type]


# -- found by mutation testing ------------------------------------------------------------


def test_pipeline_coverage_is_open_amount_over_gap() -> None:
    assert pipeline_coverage(500.0, 200.0) == 2.5
    assert pipeline_coverage(0.0, 100.0) == 0.0
    assert pipeline_coverage(50.0, 1.0) == 50.0  # a gap of exactly 1 still divides


def test_pipeline_coverage_is_null_when_nothing_is_missing() -> None:
    assert pipeline_coverage(500.0, 0.0) is None
    assert pipeline_coverage(0.0, 0) is None


def test_required_pace_on_the_last_business_day() -> None:
    # Fri 27 Nov 2026 12:00 UTC in 2026-W48: 4.5 of 5 business days elapsed, half a day left.
    e = evaluate_target(
        metric="deals_won",
        target=100.0,
        actual=40.0,
        period=parse_period("2026-W48", UTCZ),
        now=datetime(2026, 11, 27, 12, tzinfo=UTC),
        tz=UTCZ,
        at_risk_pace=0.8,
    )
    assert e.gap == 60.0
    assert e.required_per_business_day == pytest.approx(60.0 / 0.5)
