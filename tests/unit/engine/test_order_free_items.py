"""Order-free items (items.ORDER_FREE) give the same figures in any order, and again.

A worker owning a team's or a deal's scope folds a rep's part of a team hour and a deal's
touch in the batch that made them, while older ones may still be on the internal topic
(streams.worker.batch_handler.fold_here). These tests fold a stream of rep events once in
order, keep every order-free item it made, and fold those items alone, shuffled and with
repeats, into a fresh worker: its teams and deals must end as the first worker's did.
"""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.engine.items import ORDER_FREE, Foldable
from streams.engine.state import DEAL_STATE, decode_value, parse_key
from tests.unit.engine.scope_harness import OneWorker, activity, feedback, utc

NOW = utc(2026, 11, 27, 12)
START = utc(2026, 11, 27, 6)
REPS = ("r1", "r2", "r3")
TEAMS = ("t1", "t2")
DEALS = ("D1", "D2")


class Worker(OneWorker):
    """Every scope on partition 0 of one worker, as a one-worker deployment folds them."""

    def __init__(self) -> None:
        super().__init__(NOW)

    def team_figures(self) -> dict[tuple[str, str], Any]:
        out = {}
        for team in TEAMS:
            view = self.views.get("team:" + team)
            for period, agg in view.periods.items() if view is not None else ():
                out[(team, period)] = (dict(agg.by_type), agg.satisfaction, sorted(agg.parts))
        return out

    def deal_touches(self) -> dict[str, tuple[dict[str, int], list[str]]]:
        out = {}
        for kb, raw in self.store.items():
            key = parse_key(kb)
            if key[1] == DEAL_STATE:
                state = decode_value(DEAL_STATE, raw)
                out[key[0]] = (dict(state.touches), sorted(state.touch_ids))
        return out


@st.composite
def rep_events(draw: st.DrawFn) -> list[list[Foldable]]:
    """Activities (some touching a deal) and feedback of a few reps in a few hours, in
    batches."""
    n = draw(st.integers(min_value=1, max_value=24))
    events: list[Foldable] = []
    for i in range(n):
        at = START + timedelta(minutes=draw(st.integers(0, 4 * 60 - 1)))
        rep, team = draw(st.sampled_from(REPS)), draw(st.sampled_from(TEAMS))
        if draw(st.integers(0, 4)) == 0:
            csat = draw(st.none() | st.integers(1, 5))
            nps = draw(st.integers(0, 10)) if csat is None else draw(st.none() | st.integers(0, 10))
            events.append(feedback(f"e{i}", rep, team, at, csat=csat, nps=nps))
        else:
            deal = draw(st.none() | st.sampled_from(DEALS))
            extra = {"deal_id": deal} if deal else {}
            kind = draw(st.sampled_from(["call", "email", "demo"]))
            events.append(activity(f"e{i}", rep, team, at, kind, **extra))
    cuts = sorted(draw(st.sets(st.integers(1, max(1, n - 1)), max_size=4)))
    bounds = [0, *[c for c in cuts if c < n], n]
    return [events[a:b] for a, b in pairwise(bounds) if b > a]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches=rep_events(), data=st.data())
def test_order_free_items_give_the_same_teams_and_deals_in_any_order(
    batches: list[list[Foldable]], data: st.DataObject
) -> None:
    first = Worker()
    made: list[Foldable] = []
    for batch in batches:
        onward = first.batch(batch)
        made.extend(item for item in onward if isinstance(item, ORDER_FREE))
        first.batch([item for item in onward if isinstance(item, ORDER_FREE)])
    assert made, "every activity makes a team hour item"

    shuffled = data.draw(st.permutations(made + data.draw(st.lists(st.sampled_from(made)))))
    second = Worker()
    cut = data.draw(st.integers(0, len(shuffled)))
    for part in (shuffled[:cut], shuffled[cut:]):
        if part:
            second.batch(list(part))
    assert second.team_figures() == first.team_figures()
    assert second.deal_touches() == first.deal_touches()
