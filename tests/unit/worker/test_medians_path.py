"""Which team medians a quadrant takes: the API and /metrics the team's current ones,
sales.performance the ones the team last announced (streams.worker.medians), also when the
team is owned by another worker."""

from __future__ import annotations

from decimal import Decimal

import pytest

from streams.engine.queries import TeamMedians, team_medians
from streams.worker import api
from streams.worker.medians import medians_for
from tests.unit.worker.two_workers import MONTH, OWNERS, two_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: medians no scenario gives: told apart from the current ones at a glance
ANNOUNCED = TeamMedians(activities=12345.0, revenue=Decimal("6789"), members=7)
#: a month no scenario has an event in
EMPTY_YEAR_MONTH = "2001-02"


@pytest.mark.parametrize("asker", [0, 1])
async def test_announced_medians_are_what_sales_performance_asks_for(asker: int) -> None:
    async with two_workers() as clients:
        owner = clients[OWNERS["team:t1"]].app[api.BACKEND]
        backend = clients[asker].app[api.BACKEND]
        view = owner.views.get("team:t1")
        current = team_medians(view, MONTH)
        assert current != ANNOUNCED and current.members > 0
        view.announced[MONTH] = ANNOUNCED
        announced = await medians_for(backend, [("t1", MONTH)], announced=True)
        live = await medians_for(backend, [("t1", MONTH)])
    assert announced == {("t1", MONTH): ANNOUNCED}
    assert live == {("t1", MONTH): current}


@pytest.mark.parametrize("asker", [0, 1])
@pytest.mark.parametrize(
    ("team", "period"),
    [
        # no view of the team on its owner yet: its members' figures are on their way
        ("t9", MONTH),
        # the owner holds the team's figures of other periods, none of this one: a rep of it
        # asking has not reached it yet (a rep is a member of its latest team)
        ("t1", EMPTY_YEAR_MONTH),
    ],
)
async def test_a_team_without_figures_in_the_period_has_no_medians(
    asker: int, team: str, period: str
) -> None:
    """sales.performance waits for them, and the API answers a null quadrant (medians over
    nobody would count as met)."""
    async with two_workers() as clients:
        owner = clients[OWNERS["team:t1"]].app[api.BACKEND]
        t1 = owner.views.get("team:t1")
        assert t1 is not None and team_medians(t1, MONTH).members > 0
        assert team_medians(owner.views.get("team:" + team), period).members == 0
        backend = clients[asker].app[api.BACKEND]
        announced = await medians_for(backend, [(team, period)], announced=True)
        live = await medians_for(backend, [(team, period)])
    assert announced == {(team, period): None}
    assert live == {(team, period): None}
