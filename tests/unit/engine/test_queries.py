"""docs/contract.md section 4, row by row, for reps and teams, through the multi-partition harness.

Expected values are computed here from the contract's definitions (and checked against the
independent Oracle of scope_harness), never read back from the code under test.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from streams.engine.leaderboard import (
    LeaderboardQuery,
    best_attainment,
    leaderboard_document,
    local_entries,
)
from streams.engine.queries import (
    LEADERBOARD_METRICS,
    figures_of,
    leaderboard_value,
    metric_actual,
    team_medians,
)
from tests.unit.engine.scope_harness import (
    Harness,
    OneWorker,
    Oracle,
    activity,
    close,
    deal,
    feedback,
    target,
    utc,
)

NOW = utc(2026, 11, 27, 12)
MONTH = "2026-11"
PERIODS = ("2026-11-20", "2026-11-25", "2026-W47", "2026-W48", MONTH, "2026-Q4")


def cents(x: Decimal) -> float:
    return float(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def at(day: int, hour: int = 10, minute: int = 0) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:{minute:02d}:00Z"


def check_against_oracle(h: Harness, events, scopes) -> None:
    assert h.deadletters == []
    oracle = Oracle(events, h.tz, h.fx)
    for scope in scopes:
        for period in PERIODS:
            got = h.figures(scope, period, NOW)
            want = oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)


def test_ids_used_here_span_partitions() -> None:
    h = Harness()
    assert len({h.partition_of(s) for s in ("rep:r1", "rep:r2", "team:t1", "deal:D4")}) == 3
    assert h.partition_of("rep:r1") != h.partition_of("team:t1")


def test_document_shape_rep_and_team() -> None:
    h = Harness()
    h.run([activity("a1", "r1", "t1", at(25))], NOW)
    rep = h.performance("rep:r1", MONTH, NOW)
    team = h.performance("team:t1", MONTH, NOW)
    assert list(rep) == [
        "scope",
        "id",
        "team_id",
        "period",
        "currency",
        "activities",
        "deals",
        "satisfaction",
        "efficiency",
        "conversion",
        "pipeline",
        "retention",
        "customers",
        "quadrant",
        "targets",
    ]
    assert (rep["scope"], rep["id"], rep["team_id"], rep["period"], rep["currency"]) == (
        "rep",
        "r1",
        "t1",
        MONTH,
        "USD",
    )
    assert "team_id" not in team and "quadrant" not in team
    assert (team["scope"], team["id"]) == ("team", "t1")
    assert set(rep["deals"]) == {
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
    assert set(rep["satisfaction"]) == {
        "csat_avg",
        "csat_count",
        "csat_satisfied_pct",
        "nps",
        "nps_count",
    }
    assert set(rep["efficiency"]) == {
        "activities_per_win",
        "revenue_per_activity",
        "touches_per_won_deal",
        "touches_by_type_per_won_deal",
    }
    assert set(rep["conversion"]) == {"created", "won", "lost", "open", "win_rate", "by_source"}
    assert set(rep["pipeline"]) == {"open_count", "open_amount", "by_stage"}
    assert set(rep["retention"]) == {"renewals_won", "renewals_lost", "rate"}
    assert set(rep["customers"]) == {"won", "new", "repeat"}


def test_activities_total_and_by_type_rep_and_team() -> None:
    h = Harness()
    events = [
        activity("a1", "r1", "t1", at(25, 9), "call"),
        activity("a2", "r1", "t1", at(25, 10), "call"),
        activity("a3", "r1", "t1", at(26, 9), "email"),
        activity("a4", "r1", "t1", at(20, 9), "demo"),
        activity("a5", "r1", "t1", at(26, 11), "call"),
        activity("a6", "r2", "t1", at(26, 9), "follow_up"),
        activity("a7", "r3", "t2", at(26, 9), "call"),
    ]
    h.run(events, NOW)
    rep = h.figures("rep:r1", MONTH, NOW)["activities"]
    assert rep == {"total": 5, "by_type": {"call": 3, "email": 1, "demo": 1}}
    # only types above 0: no meeting, proposal, ... keys
    assert set(rep["by_type"]) == {"call", "email", "demo"}
    team = h.figures("team:t1", MONTH, NOW)["activities"]
    assert team == {"total": 6, "by_type": {"call": 3, "email": 1, "demo": 1, "follow_up": 1}}
    assert h.figures("team:t2", MONTH, NOW)["activities"] == {"total": 1, "by_type": {"call": 1}}
    # day and week slices
    assert h.figures("rep:r1", "2026-11-25", NOW)["activities"]["by_type"] == {"call": 2}
    assert h.figures("rep:r1", "2026-W47", NOW)["activities"]["total"] == 1  # Fri 20 Nov
    assert h.figures("rep:r1", "2026-W48", NOW)["activities"]["total"] == 4
    assert h.figures("team:t1", "2026-Q4", NOW)["activities"]["total"] == 6
    check_against_oracle(h, events, ["rep:r1", "rep:r2", "rep:r3", "team:t1", "team:t2"])


def test_deals_won_lost_revenue_in_base_currency_two_currencies() -> None:
    h = Harness()
    eur, jpy = h.fx.rate("EUR"), h.fx.rate("JPY")
    assert eur == Decimal("1.08") and jpy == Decimal("0.0066")  # the shipped file, USD base
    events = [
        deal("d1", "D1", "r1", "t1", at(24), "won", 100.5, "EUR"),
        deal("d2", "D2", "r1", "t1", at(25), "won", 12345, "JPY"),
        deal("d3", "D3", "r1", "t1", at(25), "lost"),
        deal("d4", "D4", "r2", "t1", at(26), "won", 10, "USD"),
        deal("d5", "D5", "r2", "t1", at(26), "lost", 500, "EUR"),
    ]
    h.run(events, NOW)
    rev1 = Decimal("100.5") * eur + Decimal("12345") * jpy  # 108.54 + 81.477 = 190.017
    assert cents(rev1) == 190.02
    d = h.figures("rep:r1", MONTH, NOW)["deals"]
    assert d["won"] == 2 and d["lost"] == 1
    assert d["revenue_won"] == 190.02
    assert d["win_rate"] == 2 / 3
    assert d["avg_deal_size"] == cents(rev1 / 2) == 95.01  # 95.0085 -> 95.01
    d2 = h.figures("rep:r2", MONTH, NOW)["deals"]
    assert (d2["won"], d2["lost"], d2["revenue_won"], d2["win_rate"]) == (1, 1, 10.0, 0.5)
    t = h.figures("team:t1", MONTH, NOW)["deals"]
    assert (t["won"], t["lost"]) == (3, 2)
    assert t["revenue_won"] == cents(rev1 + 10) == 200.02
    assert t["win_rate"] == 3 / 5
    assert t["avg_deal_size"] == cents((rev1 + 10) / 3)  # 66.6723.. -> 66.67
    check_against_oracle(h, events, ["rep:r1", "rep:r2", "team:t1"])


def test_revenue_in_eur_base_converts_usd() -> None:
    h = Harness(base="EUR")
    h.run([deal("d1", "D1", "r1", "t1", at(25), "won", 108, "USD")], NOW)
    doc = h.performance("rep:r1", MONTH, NOW)
    assert doc["currency"] == "EUR"
    assert doc["deals"]["revenue_won"] == 100.0  # 108 USD at 1.08 USD per EUR


def test_money_is_rounded_once_on_output_half_up() -> None:
    h = Harness()
    events = [deal(f"d{i}", f"D{i}", "r1", "t1", at(25, 9 + i), "won", 0.005) for i in range(3)]
    events += [activity(f"a{i}", "r1", "t1", at(25, 9), "call") for i in range(4)]
    h.run(events, NOW)
    d = h.figures("rep:r1", MONTH, NOW)
    # exact sum 0.015 -> 0.02 (not 3 x round(0.005) = 0.03, not banker's 0.02 from 0.015 ...)
    assert d["deals"]["revenue_won"] == 0.02
    assert d["deals"]["avg_deal_size"] == 0.01  # 0.005 half up
    assert d["efficiency"]["revenue_per_activity"] == 0.0  # 0.00375 -> 0.00
    h2 = Harness()
    h2.run([deal("x", "X", "r1", "t1", at(25), "won", 0.125)], NOW)
    assert h2.figures("rep:r1", MONTH, NOW)["deals"]["revenue_won"] == 0.13


def test_nulls_without_denominators() -> None:
    h = Harness()
    h.run(
        [
            activity("a1", "r1", "t1", at(25)),
            deal("d1", "D1", "r2", "t2", at(25), "lost"),
            deal("d2", "D2", "r3", "t3", at(25), "won", 50),
        ],
        NOW,
    )
    only_acts = h.figures("rep:r1", MONTH, NOW)
    assert only_acts["deals"] == {
        "won": 0,
        "lost": 0,
        "revenue_won": 0.0,
        "win_rate": None,
        "avg_deal_size": None,
        "avg_cycle_days": None,
        "by_source": {},
        "lost_by_reason": {},
        "revenue_by_kind": {},
    }
    assert only_acts["satisfaction"] == {
        "csat_avg": None,
        "csat_count": 0,
        "csat_satisfied_pct": None,
        "nps": None,
        "nps_count": 0,
    }
    assert only_acts["efficiency"] == {
        "activities_per_win": None,
        "revenue_per_activity": 0.0,
        "touches_per_won_deal": None,
        "touches_by_type_per_won_deal": {},
    }
    only_lost = h.figures("rep:r2", MONTH, NOW)["deals"]
    assert only_lost["win_rate"] == 0.0 and only_lost["avg_deal_size"] is None
    only_won = h.figures("rep:r3", MONTH, NOW)
    assert only_won["efficiency"] == {
        "activities_per_win": 0.0,
        "revenue_per_activity": None,
        "touches_per_won_deal": 0.0,  # won, with no activity carrying its deal_id
        "touches_by_type_per_won_deal": {},
    }
    assert only_won["activities"] == {"total": 0, "by_type": {}}
    assert h.figures("team:t3", MONTH, NOW)["efficiency"]["revenue_per_activity"] is None


def test_avg_cycle_days_only_over_won_deals_with_created_at() -> None:
    h = Harness()
    events = [
        deal("d1", "D1", "r1", "t1", at(25, 12), "won", 10, created_at=at(15, 12)),  # 10 d
        deal("d2", "D2", "r1", "t1", at(25, 12), "won", 10, created_at="2026-11-23T00:00:00Z"),
        deal("d3", "D3", "r1", "t1", at(25, 12), "won", 10),  # no created_at
        deal("d4", "D4", "r1", "t1", at(25, 12), "lost", created_at=at(1, 12)),  # lost
        # created_at with an offset: 2026-11-24T12:00+02:00 = 10:00Z, 1 day 2 hours
        deal("d5", "D5", "r2", "t1", at(25, 12), "won", 10, created_at="2026-11-24T12:00:00+02:00"),
    ]
    h.run(events, NOW)
    assert h.figures("rep:r1", MONTH, NOW)["deals"]["avg_cycle_days"] == (10 + 2.5) / 2
    assert h.figures("rep:r2", MONTH, NOW)["deals"]["avg_cycle_days"] == pytest.approx(
        26 / 24, rel=1e-12
    )
    team = h.figures("team:t1", MONTH, NOW)["deals"]["avg_cycle_days"]
    assert team == pytest.approx((10 + 2.5 + 26 / 24) / 3, rel=1e-12)
    check_against_oracle(h, events, ["rep:r1", "rep:r2", "team:t1"])


def test_satisfaction_csat_and_nps() -> None:
    h = Harness()
    csats = [5, 4, 3, 1, 2, 4]
    npss = [10, 9, 8, 0, 6, 7, 3]
    events = [feedback(f"c{i}", "r1", "t1", at(25, 9 + i), csat=c) for i, c in enumerate(csats)]
    events += [feedback(f"n{i}", "r1", "t1", at(26, 9 + i), nps=n) for i, n in enumerate(npss)]
    events.append(feedback("b1", "r2", "t1", at(26, 9), csat=5, nps=10))
    h.run(events, NOW)
    s = h.figures("rep:r1", MONTH, NOW)["satisfaction"]
    assert s["csat_count"] == 6
    assert s["csat_avg"] == 19 / 6
    assert s["csat_satisfied_pct"] == 100 * 3 / 6
    assert s["nps_count"] == 7
    assert s["nps"] == 100 * (2 - 3) / 7  # promoters 10, 9; detractors 0, 6, 3; 8, 7 passive
    s2 = h.figures("rep:r2", MONTH, NOW)["satisfaction"]
    assert s2 == {
        "csat_avg": 5.0,
        "csat_count": 1,
        "csat_satisfied_pct": 100.0,
        "nps": 100.0,
        "nps_count": 1,
    }
    t = h.figures("team:t1", MONTH, NOW)["satisfaction"]
    assert (t["csat_count"], t["csat_avg"]) == (7, 24 / 7)
    assert t["csat_satisfied_pct"] == 100 * 4 / 7
    assert (t["nps_count"], t["nps"]) == (8, 0.0)
    # feedback is not an activity
    assert h.figures("rep:r1", MONTH, NOW)["activities"]["total"] == 0
    # a day with csat only: nps is null
    day = h.figures("rep:r1", "2026-11-25", NOW)["satisfaction"]
    assert day["nps"] is None and day["nps_count"] == 0 and day["csat_count"] == 6
    check_against_oracle(h, events, ["rep:r1", "rep:r2", "team:t1"])


def test_efficiency() -> None:
    h = Harness()
    events = [activity(f"a{i}", "r1", "t1", at(25, 8 + i)) for i in range(7)]
    events += [
        deal("d1", "D1", "r1", "t1", at(25), "won", 100),
        deal("d2", "D2", "r1", "t1", at(26), "won", 33.33, "USD"),
    ]
    h.run(events, NOW)
    e = h.figures("rep:r1", MONTH, NOW)["efficiency"]
    assert e["activities_per_win"] == 7 / 2
    assert e["revenue_per_activity"] == cents(Decimal("133.33") / 7)  # 19.047.. -> 19.05
    check_against_oracle(h, events, ["rep:r1", "team:t1"])


def _team_of(h: Harness, team: str, values: dict[str, tuple[int, float]]) -> list:
    """Events giving each rep of `team` (activities, revenue in USD) in November."""
    events = []
    for rep, (n_acts, revenue) in values.items():
        for i in range(n_acts):
            events.append(activity(f"{rep}-a{i}", rep, team, at(20 + i % 7, 9 + i // 7)))
        if revenue:
            events.append(deal(f"{rep}-d", f"{rep}-D", rep, team, at(24), "won", revenue))
    return events


def test_quadrant_odd_team_rep_at_median_is_high() -> None:
    h = Harness()
    # activities 2, 5, 9 (median 5); revenue 100, 300, 200 (median 200)
    values = {"ra": (2, 100.0), "rb": (5, 300.0), "rc": (9, 200.0)}
    events = _team_of(h, "t1", values)
    # another team's reps never enter t1's medians
    events += _team_of(h, "t2", {"rz": (100, 10_000.0)})
    h.run(events, NOW)
    q = {r: h.figures("rep:" + r, MONTH, NOW)["quadrant"] for r in values}
    assert q == {
        "ra": "low_activity_low_performance",
        "rb": "high_activity_high_performance",  # at both medians exactly
        "rc": "high_activity_high_performance",
    }
    assert h.figures("rep:rz", MONTH, NOW)["quadrant"] == "high_activity_high_performance"
    med = team_medians(h.view("team:t1"), MONTH)
    assert (med.members, med.activities, med.revenue) == (3, 5.0, Decimal(200))
    check_against_oracle(h, events, ["rep:" + r for r in values])


def test_quadrant_even_team_uses_mean_of_middle_two() -> None:
    h = Harness()
    # activities 1, 2, 4, 5: median 3 (lower middle would be 2: rb would be high)
    # revenue 100, 200, 300, 1000: median 250
    values = {
        "ra": (1, 1000.0),
        "rb": (2, 200.0),
        "rc": (4, 100.0),
        "rd": (5, 300.0),
    }
    h.run(_team_of(h, "t1", values), NOW)
    q = {r: h.figures("rep:" + r, MONTH, NOW)["quadrant"] for r in values}
    assert q == {
        "ra": "low_activity_high_performance",
        "rb": "low_activity_low_performance",
        "rc": "high_activity_low_performance",
        "rd": "high_activity_high_performance",
    }


def test_quadrant_even_team_rep_exactly_at_mean_of_middle_two() -> None:
    h = Harness()
    # activities 1, 3, 3, 5 -> median 3: both reps at 3 are high
    values = {"ra": (1, 0), "rb": (3, 0), "rc": (3, 0), "rd": (5, 0)}
    h.run(_team_of(h, "t1", values), NOW)
    q = {r: h.figures("rep:" + r, MONTH, NOW)["quadrant"] for r in values}
    # revenue all 0: median 0, everyone at it is high performance
    assert q == {
        "ra": "low_activity_high_performance",
        "rb": "high_activity_high_performance",
        "rc": "high_activity_high_performance",
        "rd": "high_activity_high_performance",
    }


def test_quadrant_is_per_period() -> None:
    h = Harness()
    events = [
        activity("a1", "ra", "t1", at(20)),  # W47: ra 1, rb 0 active
        activity("b1", "rb", "t1", at(24)),  # W48: rb 3, ra 1
        activity("b2", "rb", "t1", at(24, 11)),
        activity("b3", "rb", "t1", at(24, 12)),
        activity("a2", "ra", "t1", at(25)),
    ]
    h.run(events, NOW)
    assert h.figures("rep:ra", "2026-W47", NOW)["quadrant"] == "high_activity_high_performance"
    assert h.figures("rep:ra", "2026-W48", NOW)["quadrant"] == "low_activity_high_performance"
    assert h.figures("rep:ra", MONTH, NOW)["quadrant"] == "low_activity_high_performance"
    assert h.figures("rep:rb", MONTH, NOW)["quadrant"] == "high_activity_high_performance"


def test_figures_of_metric_actual_and_leaderboard_value_agree() -> None:
    h = Harness()
    events = [
        activity("a1", "r1", "t1", at(25), "call"),
        activity("a2", "r1", "t1", at(25, 11), "email"),
        activity("a3", "r1", "t1", at(25, 12), "email"),
        deal("d1", "D1", "r1", "t1", at(25), "won", 0.125),
        deal("d2", "D2", "r1", "t1", at(25), "won", 10, "EUR"),
        deal("d3", "D3", "r1", "t1", at(25), "lost"),
        feedback("f1", "r1", "t1", at(25), csat=4),
        feedback("f2", "r1", "t1", at(25, 13), csat=1),
    ]
    h.run(events, NOW)
    view = h.view("rep:r1")
    revenue = Decimal("0.125") + Decimal(10) * Decimal("1.08")  # 10.925
    assert metric_actual(view, MONTH, "revenue_won") == 10.93
    assert metric_actual(view, MONTH, "deals_won") == 2.0
    assert metric_actual(view, MONTH, "activities_total") == 3.0
    assert metric_actual(view, MONTH, "activities.email") == 2.0
    assert metric_actual(view, MONTH, "activities.demo") == 0.0
    fig = figures_of(view, MONTH, h.tz)
    assert fig.revenue_won == revenue
    want = {
        "revenue_won": 10.93,
        "deals_won": 2.0,
        "activities_total": 3.0,
        "win_rate": 2 / 3,
        "avg_deal_size": cents(revenue / 2),  # 5.4625 -> 5.46
        "csat_avg": 2.5,
        "conversion_win_rate": None,  # no deal has created_at
        "retention_rate": None,  # no renewal
        "pipeline_open_amount": 0.0,
        "customers_new": 0,  # no account_id
    }
    figure_metrics = [m for m in LEADERBOARD_METRICS if m != "target_attainment"]
    assert {m: leaderboard_value(fig, m) for m in figure_metrics} == want
    empty = figures_of(h.view("rep:r1"), "2026-10", h.tz)
    assert leaderboard_value(empty, "win_rate") is None
    assert leaderboard_value(empty, "avg_deal_size") is None
    assert leaderboard_value(empty, "csat_avg") is None
    assert leaderboard_value(empty, "revenue_won") == 0.0


@pytest.mark.parametrize("partitions", [1, 2, 4, 7])
def test_same_figures_whatever_the_number_of_partitions(partitions: int) -> None:
    h = Harness(partitions)
    events = [
        *_team_of(h, "t1", {"ra": (3, 120.0), "rb": (1, 50.0), "rc": (6, 0)}),
        deal("x1", "X", "ra", "t1", at(20), "lost"),
        deal("x2", "Y", "rc", "t1", at(21), "won", 70, "GBP", created_at=at(1)),
        feedback("f1", "rb", "t1", at(22), csat=5, nps=2),
    ]
    h.run(events, NOW)
    check_against_oracle(h, events, ["rep:ra", "rep:rb", "rep:rc", "team:t1"])


# -- found by mutation testing ------------------------------------------------------------


def test_best_attainment_is_the_highest_of_several_targets() -> None:
    w = OneWorker(NOW)
    w.settle(
        [
            deal("d1", "D1", "r1", "t1", "2026-11-10T10:00:00Z", "won", 1000.0),
            target("rep:r1", "revenue_won", MONTH, 500.0),  # attainment 2.0
            target("rep:r1", "deals_won", MONTH, 4.0),  # attainment 0.25
        ]
    )
    view = w.view("rep:r1")
    assert best_attainment(view, MONTH, None) == 2.0
    assert best_attainment(view, MONTH, "deals_won") == 0.25
    q = LeaderboardQuery(MONTH, "target_attainment", "rep", None, 10)
    assert [(e["id"], e["value"]) for e in local_entries(w.views, q)] == [("r1", 2.0)]


def test_a_ratio_past_the_largest_double_is_left_off_the_leaderboard() -> None:
    """A target of 1e-310 is valid input (> 0); 1 / 1e-310 overflows to infinity, which JSON
    carries as null: the owner ranked it first as null, and a peer merging that null failed
    with a TypeError (503 on every other worker)."""
    w = OneWorker(NOW)
    w.settle(
        [
            deal("d1", "D1", "r1", "t1", "2026-11-10T10:00:00Z", "won", 1000.0),
            deal("d2", "D2", "r2", "t1", "2026-11-10T11:00:00Z", "won", 1000.0),
            target("rep:r1", "deals_won", MONTH, 1e-310),
            target("rep:r2", "deals_won", MONTH, 2.0),
        ]
    )
    q = LeaderboardQuery(MONTH, "target_attainment", "rep", None, 10)
    local = local_entries(w.views, q)
    assert [(e["rank"], e["id"], e["value"]) for e in local] == [(1, "r2", 0.5)]
    # what a peer sends (null for that infinity, from an older worker) merges without it
    from_peer = [{"id": "r9", "team_id": "t1", "value": None}, {**local[0], "id": "r3"}]
    merged = leaderboard_document(q, [*local, *from_peer])["entries"]
    assert [(e["rank"], e["id"]) for e in merged] == [(1, "r2"), (2, "r3")]
