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
async def test_a_team_without_figures_yet_has_no_medians(asker: int) -> None:
    """Its members' figures are still on their way: sales.performance waits for them, and
    the API answers a null quadrant (medians over nobody would count as met)."""
    async with two_workers() as clients:
        backend = clients[asker].app[api.BACKEND]
        announced = await medians_for(backend, [("t9", MONTH)], announced=True)
        live = await medians_for(backend, [("t9", MONTH)])
    assert announced == {("t9", MONTH): None}
    assert live == {("t9", MONTH): None}


@pytest.mark.parametrize("asker", [0, 1])
async def test_a_team_without_figures_in_the_period_has_no_medians(asker: int) -> None:
    """The team's owner holds its figures of other periods, none of this one: a rep of it
    asking has not reached it yet (a rep is a member of its latest team)."""
    async with two_workers() as clients:
        owner = clients[OWNERS["team:t1"]].app[api.BACKEND]
        view = owner.views.get("team:t1")
        assert view is not None and team_medians(view, MONTH).members > 0
        assert team_medians(view, EMPTY_YEAR_MONTH).members == 0
        backend = clients[asker].app[api.BACKEND]
        announced = await medians_for(backend, [("t1", EMPTY_YEAR_MONTH)], announced=True)
        live = await medians_for(backend, [("t1", EMPTY_YEAR_MONTH)])
    assert announced == {("t1", EMPTY_YEAR_MONTH): None}
    assert live == {("t1", EMPTY_YEAR_MONTH): None}
