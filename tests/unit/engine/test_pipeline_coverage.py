"""pipeline_coverage of revenue targets (contract section 8.2): the open pipeline expected to
close in the target's period, per unit of revenue still missing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.domain.targets import pipeline_coverage
from tests.unit.engine.scope_harness import Harness, activity, deal, target

MONTH = "2026-11"
MID = datetime(2026, 11, 16, tzinfo=UTC)  # Monday: 10 of 21 business days gone


def targets_of(h: Harness, scope: str, now: datetime) -> dict[str, dict[str, Any]]:
    doc = h.performance(scope, MONTH, now)
    assert doc is not None
    return {t["metric"]: t for t in doc["targets"]}


def book(h: Harness) -> None:
    h.run(
        [
            deal("w1", "D1", "r1", "t1", "2026-11-03T10:00:00Z", "won", 4000),
            # open, expected this month: 5,000 + 100 EUR (108 USD); next month: not counted
            deal(
                "o1",
                "D2",
                "r1",
                "t1",
                "2026-11-05T10:00:00Z",
                "open",
                5000,
                stage="proposal",
                expected_close_at="2026-11-25T00:00:00Z",
            ),
            deal(
                "o2",
                "D3",
                "r1",
                "t1",
                "2026-11-06T10:00:00Z",
                "open",
                100,
                "EUR",
                expected_close_at="2026-11-30T23:00:00Z",
            ),
            deal(
                "o3",
                "D4",
                "r1",
                "t1",
                "2026-11-07T10:00:00Z",
                "open",
                9000,
                expected_close_at="2026-12-01T00:00:00Z",
            ),
            activity("a1", "r1", "t1", "2026-11-04T10:00:00Z"),
            target("rep:r1", "revenue_won", MONTH, 10000),
            target("rep:r1", "deals_won", MONTH, 3),
        ],
        MID,
    )


def test_the_formula() -> None:
    assert pipeline_coverage(5108.0, 6000.0) == 5108.0 / 6000.0
    assert pipeline_coverage(0.0, 6000.0) == 0.0
    assert pipeline_coverage(5108.0, 0.0) is None  # nothing missing


def test_a_revenue_target_has_the_pipeline_of_its_period_per_unit_of_its_gap() -> None:
    h = Harness()
    book(h)
    got = targets_of(h, "rep:r1", MID)
    revenue = got["revenue_won"]
    assert revenue["gap"] == 6000.0
    assert revenue["pipeline_coverage"] == pytest.approx(5108.0 / 6000.0)
    assert "pipeline_coverage" not in got["deals_won"]  # a pipeline says nothing of counts
    # the same at the period's start (nothing elapsed: no projection yet) and after its end
    for now in (datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 3, tzinfo=UTC)):
        assert targets_of(h, "rep:r1", now)["revenue_won"]["pipeline_coverage"] == (
            pytest.approx(5108.0 / 6000.0)
        )
    assert (
        targets_of(h, "rep:r1", datetime(2026, 11, 1, tzinfo=UTC))["revenue_won"]["projected"]
        is None
    )


def test_coverage_is_null_once_the_target_is_reached_and_follows_the_pipeline() -> None:
    h = Harness()
    book(h)
    # D2 won at 6,500: revenue 10,500 >= 10,000, nothing missing
    h.run([deal("w2", "D2", "r1", "t1", "2026-11-10T10:00:00Z", "won", 6500)], MID)
    revenue = targets_of(h, "rep:r1", MID)["revenue_won"]
    assert (revenue["gap"], revenue["pipeline_coverage"]) == (0.0, None)
    # reopened: back in the pipeline (its amount absent now: 0) and below the target again
    h.run(
        [
            deal(
                "r2",
                "D2",
                "r1",
                "t1",
                "2026-11-12T10:00:00Z",
                "reopened",
                expected_close_at="2026-11-27T00:00:00Z",
            )
        ],
        MID,
    )
    revenue = targets_of(h, "rep:r1", MID)["revenue_won"]
    assert revenue["gap"] == 6000.0
    assert revenue["pipeline_coverage"] == pytest.approx(108.0 / 6000.0)


def test_a_gap_under_half_a_cent_is_no_gap_for_the_coverage() -> None:
    """Both sides are money in cents (README): a revenue target of 0.004 with nothing won
    leaves a gap of 0.004, which is 0.00 in cents, so no coverage (it was 9000 / 0.004)."""
    h = Harness()
    book(h)
    h.run([target("rep:r1", "revenue_won", "2026-12", 0.004)], MID)
    doc = h.performance("rep:r1", "2026-12", MID)
    assert doc is not None
    (revenue,) = [t for t in doc["targets"] if t["metric"] == "revenue_won"]
    assert revenue["gap"] == 0.004 and revenue["pipeline_coverage"] is None
