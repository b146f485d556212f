"""Team medians are cached per period and derived from the team's own records.

The shortcuts must give what computing from scratch gives: `team_medians` after any sequence
of hour, deal and membership changes equals the medians of the members as they stand, worked
out here straight from the records, and `quadrant_moved` equals comparing the two quadrants
in full.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.figures import median, quadrant
from streams.engine.items import DealFigure, HourCounts
from streams.engine.processor import quadrant_moved
from streams.engine.queries import (
    MemberFigures,
    TeamMedians,
    member_rows,
    team_medians,
    team_members,
)
from streams.engine.rollups import Views
from streams.engine.state import DEAL, HOUR, MEMBER, NOT_A_MEMBER, DealSlot, HourRecord, Member

TEAM = "team:t1"
PERIOD = "2026-11"
REPS = ["r1", "r2", "r3", "r4", "r5"]
#: two hours in November, one in December (another month: never counted)
HOURS = [
    int(datetime(2026, 11, 3, 9, tzinfo=UTC).timestamp()),
    int(datetime(2026, 11, 20, 14, tzinfo=UTC).timestamp()),
    int(datetime(2026, 12, 1, 9, tzinfo=UTC).timestamp()),
]
revenues = st.sampled_from(["0", "100.00", "250.50", "1000", "99.99"])
members = st.builds(Member, st.just(True), st.integers(0, 40), revenues)
parts = st.dictionaries(
    st.sampled_from(REPS),
    st.builds(HourCounts, st.dictionaries(st.sampled_from(["call", "email"]), st.integers(1, 5))),
    max_size=3,
)
figures = st.builds(
    DealFigure,
    occurred_at=st.sampled_from(HOURS).map(float),
    outcome=st.sampled_from(["won", "lost", "open"]),
    amount_base=revenues,
    cycle_seconds=st.none(),
    rep=st.sampled_from(REPS),
    team=st.just("t1"),
)
changes = st.lists(
    st.one_of(
        st.tuples(
            st.just(MEMBER), st.sampled_from(REPS), st.none() | members | st.just(NOT_A_MEMBER)
        ),
        st.tuples(
            st.just(HOUR),
            st.sampled_from(HOURS),
            st.none() | parts.map(lambda p: HourRecord(parts=p)),
        ),
        st.tuples(st.just(DEAL), st.sampled_from(["D1", "D2", "D3"]), st.none() | figures),
    ),
    min_size=1,
    max_size=40,
)


def from_scratch(records: dict[tuple[Any, ...], Any]) -> dict[str, MemberFigures]:
    """The team's members in PERIOD, by the rule, from the records alone."""
    low, high = HOURS[0], HOURS[2]
    activities: dict[str, int] = {}
    revenue: dict[str, Decimal] = {}
    for (kind, what), value in records.items():
        if kind == HOUR and low <= what < high:
            for rep, part in value.parts.items():
                activities[rep] = activities.get(rep, 0) + sum(part.counts.values())
        if kind == DEAL and value.outcome in ("won", "lost") and value.occurred_at < high:
            won = Decimal(value.amount_base) if value.outcome == "won" else Decimal(0)
            revenue[value.rep] = revenue.get(value.rep, Decimal(0)) + won
    told = {rep: m for (kind, rep), m in records.items() if kind == MEMBER}
    out = {
        rep: MemberFigures(activities.get(rep, 0), revenue.get(rep, Decimal(0)))
        for rep in {*activities, *revenue}
        if rep not in told
    }
    out.update(
        {
            rep: MemberFigures(m.activities, Decimal(m.revenue))
            for rep, m in told.items()
            if m.member
        }
    )
    return out


@settings(max_examples=300, deadline=None)
@given(changes)
def test_cached_medians_equal_medians_from_scratch(steps: list[tuple[str, Any, Any]]) -> None:
    views = Views(ZoneInfo("UTC"))
    records: dict[tuple[Any, ...], Any] = {}
    for kind, what, value in steps:
        if kind == MEMBER:
            views.apply((TEAM, MEMBER, PERIOD, what), 0, value)
        elif kind == HOUR:
            views.apply((TEAM, HOUR, what), 0, value)
        else:
            views.apply((TEAM, DEAL, what), 0, DealSlot(figure=value) if value else None)
        if value is None:
            records.pop((kind, what), None)
        else:
            records[(kind, what)] = value
        team_medians(views.get(TEAM), "2026-12")  # another period's cache stays apart
        got = team_medians(views.get(TEAM), PERIOD)
        members = from_scratch(records)
        rows = list(member_rows(views.view(TEAM, 0), PERIOD))  # what the fold reads
        assert sorted(rows) == sorted((rep, *m) for rep, m in members.items())
        assert team_members(views.view(TEAM, 0), PERIOD) == members
        expected = list(members.values())
        assert got == TeamMedians(
            activities=median([m.activities for m in expected]),
            revenue=median([m.revenue for m in expected]),
            members=len(expected),
        )


medians = st.builds(
    TeamMedians,
    st.none() | st.floats(0, 40, allow_nan=False) | st.integers(0, 40).map(float),
    st.none() | revenues.map(Decimal),
    st.integers(0, 9),
)


@settings(max_examples=500, deadline=None)
@given(st.builds(MemberFigures, st.integers(0, 40), revenues.map(Decimal)), medians, medians)
def test_quadrant_moved_is_a_change_of_quadrant(
    member: MemberFigures, before: TeamMedians, after: TeamMedians
) -> None:
    revenue = member.revenue
    full = quadrant(member.activities, revenue, before.activities, before.revenue) != quadrant(
        member.activities, revenue, after.activities, after.revenue
    )
    assert quadrant_moved(member.activities, revenue, before, after) == full
