"""Property: Ticks that fold aged hours into day records, and restarts that rebuild the views
from the table, at any point of a history, change no figure and no activity bucket.

The example tests (test_day_compaction) fix a few histories; here hypothesis draws them:
events of three reps in two teams over three weeks, in time order (none late), cut into
batches, with a Tick or a restart of a partition between any two. The figures of every
period an event falls in, and the hour and day buckets, must equal those of one batch of
everything with no Tick, and the contract's (the Oracle's). The views of a day left to its
day record keep no roll-up (rollups.ScopeView.agg) and equal views rebuilt from the table.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.engine.items import RawEvent
from streams.engine.state import DEAL_STATE, HOUR
from tests.unit.engine.random_histories import SCOPES, histories, periods_from
from tests.unit.engine.scope_harness import Harness, Oracle, close, payload_of
from tests.unit.engine.test_rollups import assert_rebuild_equal

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
START = NOW - timedelta(days=21)


def history() -> st.SearchStrategy[list[RawEvent]]:
    """Up to 30 events over three weeks before NOW."""
    return histories(START, timedelta(days=21), most=30, created_back_days=30)


#: between two batches: nothing, a Tick, or a restart of partition 0 or 1
STEPS = st.sampled_from([None, "tick", "tick", 0, 1])


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[RawEvent], list[list[RawEvent]], list[Any]]:
    events = draw(history())
    cuts = sorted(draw(st.sets(st.integers(1, len(events) - 1), max_size=6))) if events[1:] else []
    bounds = [0, *cuts, len(events)]
    batches = [events[a:b] for a, b in pairwise(bounds)]
    steps = [draw(STEPS) for _ in batches]
    return events, batches, steps


def clock(events: list[RawEvent]) -> datetime:
    """The wall clock when the batch is folded: just after its last event."""
    last = datetime.fromisoformat(payload_of(events[-1])["occurred_at"])
    return last + timedelta(minutes=1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries(), st.booleans())
def test_ticks_and_restarts_anywhere_change_no_figure(
    case: tuple[list[RawEvent], list[list[RawEvent]], list[Any]], as_worker: bool
) -> None:
    """`as_worker`: Ticks as the worker sends them, which also make deals forget the
    touches of the hours they prune (their counts must stay); else an earlier version's."""
    events, batches, steps = case
    h = Harness(partitions=2)
    tick = h.worker_tick if as_worker else h.tick
    for batch, step in zip(batches, steps, strict=True):
        h.run(batch, clock(batch))
        if step == "tick":
            tick(clock(batch))
        elif step is not None:
            h.restart(step)
    tick(NOW)  # the last Tick folds every day before the grace
    tick(NOW)  # (a worker's, a Tick after it is written)
    reference = Harness(partitions=2)
    reference.run(events, NOW)
    assert h.deadletters == [] and reference.deadletters == []

    periods = sorted(periods_from(events, h.tz))
    assert h.shown(SCOPES, periods, NOW) == reference.shown(SCOPES, periods, NOW)
    oracle = Oracle(events, h.tz, h.fx)
    for scope in SCOPES:
        for period in periods:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            if got is not None:
                assert close(got, want), (scope, period, got, want)
    assert_rebuild_equal(h)
    if as_worker:  # a deal keeps the ids only of touches whose hour still holds its ids
        held = {i[2:] for record in h.records(HOUR).values() for i in record.ids}
        for key, state in h.records(DEAL_STATE).items():
            assert set(state.touch_ids) <= held, (key, state.touch_ids, held)
