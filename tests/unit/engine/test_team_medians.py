"""Team medians are cached per period; a member's activities moving keeps the revenue median.

The shortcuts must give what computing from scratch gives: `team_medians` after any sequence
of member changes equals the medians of the members as they stand, and `quadrant_moved`
equals comparing the two quadrants in full.
"""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.domain.figures import median, quadrant
from streams.engine.processor import quadrant_moved
from streams.engine.queries import TeamMedians, team_medians
from streams.engine.rollups import Views
from streams.engine.state import MEMBER, Member

TEAM = "team:t1"
PERIOD = "2026-11"
revenues = st.sampled_from(["0", "100.00", "250.50", "1000", "99.99"])
members = st.builds(Member, st.just(True), st.integers(0, 40), revenues)
changes = st.lists(
    st.tuples(st.sampled_from(["r1", "r2", "r3", "r4", "r5"]), st.none() | members),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(changes)
def test_cached_medians_equal_medians_from_scratch(steps: list[tuple[str, Member | None]]) -> None:
    views = Views(ZoneInfo("UTC"))
    current: dict[str, Member] = {}
    for rep, member in steps:
        views.apply((TEAM, MEMBER, PERIOD, rep), 0, member)
        if member is None:
            current.pop(rep, None)
        else:
            current[rep] = member
        got = team_medians(views.get(TEAM), PERIOD)
        assert got == TeamMedians(
            activities=median([float(m.activities) for m in current.values()]),
            revenue=median([Decimal(m.revenue) for m in current.values()]),
            members=len(current),
        )


medians = st.builds(
    TeamMedians,
    st.none() | st.floats(0, 40, allow_nan=False) | st.integers(0, 40).map(float),
    st.none() | revenues.map(Decimal),
    st.integers(0, 9),
)


@settings(max_examples=500, deadline=None)
@given(members, medians, medians)
def test_quadrant_moved_is_a_change_of_quadrant(
    member: Member, before: TeamMedians, after: TeamMedians
) -> None:
    revenue = Decimal(member.revenue)
    full = quadrant(member.activities, revenue, before.activities, before.revenue) != quadrant(
        member.activities, revenue, after.activities, after.revenue
    )
    assert quadrant_moved(member, before, after) == full
