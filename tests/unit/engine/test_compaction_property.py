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

from streams.domain.periods import periods_of
from streams.engine.items import RawEvent
from tests.unit.engine.scope_harness import (
    Harness,
    Oracle,
    activity,
    close,
    deal,
    feedback,
    payload_of,
)
from tests.unit.engine.test_rollups import assert_rebuild_equal

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
START = NOW - timedelta(days=21)
REPS = ("r1", "r2", "r3")
TEAMS = ("t1", "t2")
SCOPES = tuple(f"rep:{r}" for r in REPS) + tuple(f"team:{t}" for t in TEAMS)


@st.composite
def history(draw: st.DrawFn) -> list[RawEvent]:
    """Events over three weeks in time order: activities (some touching a deal), feedback
    and deal events, a rep now and then in its other team."""
    n = draw(st.integers(2, 30))
    minutes = sorted(draw(st.lists(st.integers(0, 21 * 24 * 60 - 1), min_size=n, max_size=n)))
    events: list[RawEvent] = []
    for i, minute in enumerate(minutes):
        when = START + timedelta(minutes=minute)
        rep, team = draw(st.sampled_from(REPS)), draw(st.sampled_from(TEAMS))
        kind = draw(st.sampled_from(["activity", "activity", "touch", "deal", "feedback"]))
        if kind == "activity":
            kind_of = draw(st.sampled_from(["call", "email", "demo"]))
            events.append(activity(f"e{i}", rep, team, when, kind_of))
        elif kind == "touch":
            events.append(activity(f"e{i}", rep, team, when, deal_id=draw(st.sampled_from("AB"))))
        elif kind == "feedback":
            csat, nps = draw(st.integers(1, 5)), draw(st.none() | st.integers(0, 10))
            events.append(feedback(f"e{i}", rep, team, when, csat=csat, nps=nps))
        else:
            outcome = draw(st.sampled_from(["won", "won", "lost", "open"]))
            created = when - timedelta(days=draw(st.integers(0, 30)))
            events.append(
                deal(
                    f"e{i}",
                    draw(st.sampled_from("AB")),
                    rep,
                    team,
                    when,
                    outcome,
                    100,
                    created_at=created,
                )
            )
    return events


#: between two batches: nothing, a Tick, or a restart of partition 0 or 1
STEPS = st.sampled_from([None, "tick", "tick", 0, 1])


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[list[RawEvent], list[list[RawEvent]], list[Any]]:
    events = draw(history())
    cuts = sorted(draw(st.sets(st.integers(1, len(events) - 1), max_size=6)))
    bounds = [0, *cuts, len(events)]
    batches = [events[a:b] for a, b in pairwise(bounds)]
    steps = [draw(STEPS) for _ in batches]
    return events, batches, steps


def periods_from(events: list[RawEvent], tz: Any) -> set[str]:
    out: set[str] = set()
    for event in events:
        payload = payload_of(event)
        for name in ("occurred_at", "created_at"):
            if payload.get(name):
                out.update(periods_of(datetime.fromisoformat(payload[name]), tz))
    return out


def clock(events: list[RawEvent]) -> datetime:
    """The wall clock when the batch is folded: just after its last event."""
    last = datetime.fromisoformat(payload_of(events[-1])["occurred_at"])
    return last + timedelta(minutes=1)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_ticks_and_restarts_anywhere_change_no_figure(
    case: tuple[list[RawEvent], list[list[RawEvent]], list[Any]],
) -> None:
    events, batches, steps = case
    h = Harness(partitions=2)
    for batch, step in zip(batches, steps, strict=True):
        h.run(batch, clock(batch))
        if step == "tick":
            h.tick(clock(batch))
        elif step is not None:
            h.restart(step)
    h.tick(NOW)  # the last Tick folds every day before the grace
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
