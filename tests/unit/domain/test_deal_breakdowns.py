"""streams.domain.deal_breakdowns.deal_breakdowns: the figures of docs/contract.md section 8.2
from deals' current states (the DealLike protocol), and their document.

Expected values are worked out here from the contract's definitions; `period_start` is the
start of the period the closed deals, the cohort and the pipeline were picked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest

from streams.domain.deal_breakdowns import (
    NEW_BUSINESS,
    UNKNOWN,
    UNSPECIFIED,
    DealBreakdowns,
    deal_breakdowns,
)
from streams.domain.performance import Figures
from streams.domain.satisfaction import Satisfaction

START = 1_000_000.0  # the period's start (epoch seconds)
IN = START + 3600.0  # an instant in the period


@dataclass(frozen=True)
class D:
    """A deal's current state with the attributes of DealLike (defaults as the engine
    reports absent fields)."""

    outcome: str
    amount_base: str = "0"
    occurred_at: float = IN
    source: str = UNKNOWN
    kind: str = NEW_BUSINESS
    lost_reason: str = UNSPECIFIED
    stage: str = UNKNOWN
    account: str | None = None
    touches: Mapping[str, int] = field(default_factory=dict)
    first_win_at: float | None = None
    first_deal: bool = False


def won(amount: str = "0", **kw: Any) -> D:
    return D("won", amount, **kw)


def lost(**kw: Any) -> D:
    return D("lost", **kw)


def document(b: DealBreakdowns) -> dict[str, Any]:
    """The section 8.2 fields as they appear in a performance document."""
    return {
        "deals": b.deals_document(),
        "efficiency": b.efficiency_document(),
        **b.groups_document(),
    }


EMPTY: dict[str, Any] = {
    "deals": {"by_source": {}, "lost_by_reason": {}, "revenue_by_kind": {}},
    "efficiency": {"touches_per_won_deal": None, "touches_by_type_per_won_deal": {}},
    "conversion": {
        "created": 0,
        "won": 0,
        "lost": 0,
        "open": 0,
        "win_rate": None,
        "by_source": {},
    },
    "pipeline": {"open_count": 0, "open_amount": 0.0, "by_stage": {}},
    "retention": {"renewals_won": 0, "renewals_lost": 0, "rate": None},
    "customers": {"won": 0, "new": 0, "repeat": 0},
}


# -- shape and nulls ---------------------------------------------------------------------------


def test_absent_values_are_reported_as_the_contract_names_them() -> None:
    assert (UNKNOWN, UNSPECIFIED, NEW_BUSINESS) == ("unknown", "unspecified", "new_business")


def test_nothing_gives_every_field_with_null_ratios_and_empty_maps() -> None:
    got = document(deal_breakdowns([], [], [], START))
    assert got == EMPTY
    # null, not 0 or NaN
    assert got["conversion"]["win_rate"] is None
    assert got["retention"]["rate"] is None
    assert got["efficiency"]["touches_per_won_deal"] is None


def test_the_performance_document_carries_the_section_8_2_fields_in_their_groups() -> None:
    b = deal_breakdowns(
        [won("10", source="referral", touches={"call": 2})],
        [won("10", source="referral")],
        [D("open", "5", stage="proposal")],
        START,
    )
    doc = Figures(
        by_type={"call": 2},
        activities_total=2,
        won=1,
        lost=0,
        revenue_won=Decimal(10),
        cycle_seconds=[],
        satisfaction=Satisfaction(),
        breakdowns=b,
    ).as_document()
    assert set(doc) == {
        "activities",
        "deals",
        "satisfaction",
        "efficiency",
        "conversion",
        "pipeline",
        "retention",
        "customers",
    }
    assert set(doc["deals"]) == {
        "won",
        "lost",
        "revenue_won",
        "win_rate",
        "avg_deal_size",
        "avg_cycle_days",
        "by_source",
        "lost_by_reason",
        "revenue_by_kind",
    }
    assert set(doc["efficiency"]) == {
        "activities_per_win",
        "revenue_per_activity",
        "touches_per_won_deal",
        "touches_by_type_per_won_deal",
    }
    assert set(doc["conversion"]) == {"created", "won", "lost", "open", "win_rate", "by_source"}
    assert set(doc["conversion"]["by_source"]["referral"]) == {"created", "won", "win_rate"}
    assert set(doc["pipeline"]) == {"open_count", "open_amount", "by_stage"}
    assert set(doc["pipeline"]["by_stage"]["proposal"]) == {"count", "amount"}
    assert set(doc["retention"]) == {"renewals_won", "renewals_lost", "rate"}
    assert set(doc["customers"]) == {"won", "new", "repeat"}
    assert set(doc["deals"]["by_source"]["referral"]) == {"won", "lost", "revenue_won", "win_rate"}


def test_the_default_figures_carry_empty_breakdowns() -> None:
    doc = Figures(
        by_type={},
        activities_total=0,
        won=0,
        lost=0,
        revenue_won=Decimal(0),
        cycle_seconds=[],
        satisfaction=Satisfaction(),
    ).as_document()
    for group in ("conversion", "pipeline", "retention", "customers"):
        assert doc[group] == EMPTY[group]
    for name in ("by_source", "lost_by_reason", "revenue_by_kind"):
        assert doc["deals"][name] == EMPTY["deals"][name]
    assert doc["efficiency"]["touches_per_won_deal"] is None
    assert doc["efficiency"]["touches_by_type_per_won_deal"] == {}


# -- closed deals ------------------------------------------------------------------------------


def test_by_source_lost_by_reason_and_revenue_by_kind() -> None:
    closed = [
        won("100", source="referral", kind="renewal"),
        won("50.5", source="referral"),
        lost(source="referral", lost_reason="price"),
        lost(source="web", lost_reason="price"),
        lost(source="web"),
        won("7", kind="expansion"),
    ]
    got = document(deal_breakdowns(closed, [], [], START))["deals"]
    assert got["by_source"] == {
        "referral": {"won": 2, "lost": 1, "revenue_won": 150.5, "win_rate": 2 / 3},
        "web": {"won": 0, "lost": 2, "revenue_won": 0.0, "win_rate": 0.0},
        "unknown": {"won": 1, "lost": 0, "revenue_won": 7.0, "win_rate": 1.0},
    }
    assert got["lost_by_reason"] == {"price": 2, "unspecified": 1}
    assert got["revenue_by_kind"] == {"renewal": 100.0, "new_business": 50.5, "expansion": 7.0}


def test_a_won_deal_of_amount_zero_still_lists_its_kind_and_source() -> None:
    got = document(deal_breakdowns([won("0", source="event", kind="expansion")], [], [], START))
    assert got["deals"]["revenue_by_kind"] == {"expansion": 0.0}
    assert got["deals"]["by_source"] == {
        "event": {"won": 1, "lost": 0, "revenue_won": 0.0, "win_rate": 1.0}
    }


def test_keys_appear_only_for_values_some_deal_has() -> None:
    got = document(deal_breakdowns([won("1", source="referral")], [], [], START))
    assert list(got["deals"]["by_source"]) == ["referral"]
    assert got["deals"]["lost_by_reason"] == {}
    assert list(got["deals"]["revenue_by_kind"]) == ["new_business"]


def test_deals_neither_won_nor_lost_among_closed_count_nowhere() -> None:
    """The function tolerates open / reopened states among `closed` (it skips them for the
    won figures): they must not add a source with nothing counted either."""
    got = document(
        deal_breakdowns([D("open", "9", source="web"), D("reopened", source="ads")], [], [], START)
    )
    assert got == EMPTY


def test_retention_counts_the_renewals_among_won_and_lost() -> None:
    b = deal_breakdowns(
        [
            won("1", kind="renewal"),
            won("1", kind="renewal"),
            lost(kind="renewal"),
            lost(),
            won("1", kind="expansion"),
        ],
        [],
        [],
        START,
    )
    assert document(b)["retention"] == {"renewals_won": 2, "renewals_lost": 1, "rate": 2 / 3}
    only_lost = deal_breakdowns([lost(kind="renewal")], [], [], START)
    assert document(only_lost)["retention"] == {"renewals_won": 0, "renewals_lost": 1, "rate": 0.0}
    no_renewal = deal_breakdowns([won("1"), lost(kind="expansion")], [], [], START)
    assert document(no_renewal)["retention"]["rate"] is None


def test_customers_won_new_and_repeat() -> None:
    closed = [
        # A: first won in this period by this deal: new
        won("1", account="A", first_deal=True, first_win_at=IN),
        # A again (a second deal of A in the period): still one customer
        won("1", account="A", first_deal=False, first_win_at=IN),
        # B: first won before the period's start: repeat
        won("1", account="B", first_win_at=START - 1),
        # C: first won in the period but by a deal of another scope: neither new nor repeat
        won("1", account="C", first_win_at=START + 10),
        # D: first won exactly at the period's start: not before it
        won("1", account="D", first_deal=True, first_win_at=START),
        # no account: no customer
        won("1"),
        # a lost deal's account is no customer
        lost(account="E", first_win_at=START - 5),
    ]
    got = document(deal_breakdowns(closed, [], [], START))["customers"]
    assert got == {"won": 4, "new": 2, "repeat": 1}


def test_touches_per_won_deal_and_per_type() -> None:
    closed = [
        won("1", touches={"call": 3, "email": 1}),
        won("1", touches={"call": 1, "demo": 2}),
        won("1"),  # no touch: still a won deal in the mean
        lost(touches={"call": 50, "social": 4}),  # lost: not counted
    ]
    got = document(deal_breakdowns(closed, [], [], START))["efficiency"]
    assert got["touches_per_won_deal"] == 7 / 3
    assert got["touches_by_type_per_won_deal"] == {"call": 4 / 3, "email": 1 / 3, "demo": 2 / 3}


def test_touches_without_a_won_deal_are_null_and_empty() -> None:
    got = document(deal_breakdowns([lost(touches={"call": 2})], [], [], START))["efficiency"]
    assert got == {"touches_per_won_deal": None, "touches_by_type_per_won_deal": {}}


def test_types_with_a_zero_count_are_left_out() -> None:
    got = document(deal_breakdowns([won("1", touches={"call": 1, "email": 0})], [], [], START))
    assert got["efficiency"]["touches_by_type_per_won_deal"] == {"call": 1.0}
    assert got["efficiency"]["touches_per_won_deal"] == 1.0


# -- cohort --------------------------------------------------------------------------------------


def test_cohort_counts_current_states_and_open_includes_reopened() -> None:
    cohort = [
        won("1", source="referral"),
        lost(source="referral"),
        D("open", source="web"),
        D("reopened"),
        won("5"),
    ]
    got = document(deal_breakdowns([], cohort, [], START))["conversion"]
    assert got == {
        "created": 5,
        "won": 2,
        "lost": 1,
        "open": 2,
        "win_rate": 2 / 5,
        "by_source": {
            "referral": {"created": 2, "won": 1, "win_rate": 0.5},
            "web": {"created": 1, "won": 0, "win_rate": 0.0},
            "unknown": {"created": 2, "won": 1, "win_rate": 0.5},
        },
    }


def test_the_cohort_is_independent_of_the_closed_deals() -> None:
    """A deal won in the period but created in another has no place in the cohort, and a
    cohort whose deals closed elsewhere counts them as won anyway."""
    b = deal_breakdowns([won("3")], [], [], START)
    assert document(b)["conversion"]["created"] == 0
    assert document(b)["conversion"]["win_rate"] is None
    c = deal_breakdowns([], [won("3", occurred_at=START + 10**8)], [], START)
    assert document(c)["conversion"]["won"] == 1
    assert document(c)["deals"]["by_source"] == {}


# -- pipeline ------------------------------------------------------------------------------------


def test_pipeline_counts_open_and_reopened_by_stage_and_skips_closed() -> None:
    pipeline = [
        D("open", "100", stage="proposal"),
        D("reopened", "20.25", stage="proposal"),
        D("open"),  # no amount, no stage
        won("1000", stage="proposal"),  # closed: not pipeline
        lost(stage="negotiation"),
    ]
    got = document(deal_breakdowns([], [], pipeline, START))["pipeline"]
    assert got == {
        "open_count": 3,
        "open_amount": 120.25,
        "by_stage": {
            "proposal": {"count": 2, "amount": 120.25},
            "unknown": {"count": 1, "amount": 0.0},
        },
    }


# -- money ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amounts", "expected"),
    [
        (["0.005"], 0.01),  # half up, not to even (0.00)
        (["0.125"], 0.13),
        (["2.675"], 2.68),  # as a float 2.675 is below the half: exact decimals matter
        (["0.0066", "0.0066", "0.0066"], 0.02),  # summed exactly, rounded once (not 0.03)
        (["0.1", "0.2"], 0.3),
        (["999999999999999.995"], 1_000_000_000_000_000.0),
    ],
)
def test_money_is_summed_exactly_and_rounded_half_up_once(
    amounts: list[str], expected: float
) -> None:
    closed = [won(a, source="s", kind="renewal") for a in amounts]
    pipeline = [D("open", a, stage="st") for a in amounts]
    got = document(deal_breakdowns(closed, [], pipeline, START))
    assert got["deals"]["by_source"]["s"]["revenue_won"] == expected
    assert got["deals"]["revenue_by_kind"] == {"renewal": expected}
    assert got["pipeline"]["open_amount"] == expected
    assert got["pipeline"]["by_stage"]["st"]["amount"] == expected


def test_money_is_a_float_and_never_minus_zero() -> None:
    got = document(deal_breakdowns([won("0.001")], [], [D("open", "0.004")], START))
    value = got["deals"]["revenue_by_kind"]["new_business"]
    assert isinstance(value, float) and value == 0.0
    assert isinstance(got["pipeline"]["open_amount"], float)
    assert str(got["pipeline"]["open_amount"]) == "0.0"


def test_exact_figures_stay_unrounded_until_the_document() -> None:
    b = deal_breakdowns([won("0.004"), won("0.004")], [], [D("open", "0.0025")], START)
    assert b.revenue_by_kind == {"new_business": Decimal("0.008")}
    assert b.pipeline.amount == Decimal("0.0025")
    assert document(b)["deals"]["revenue_by_kind"] == {"new_business": 0.01}
