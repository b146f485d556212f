"""Random histories for the fold's property tests: events of three reps in two teams in
time order (none late), and the periods they fall in."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import strategies as st

from streams.domain.periods import periods_of
from streams.engine.items import RawEvent
from tests.unit.engine.scope_harness import activity, deal, feedback, payload_of

REPS = ("r1", "r2", "r3")
TEAMS = ("t1", "t2")
SCOPES = tuple(f"rep:{r}" for r in REPS) + tuple(f"team:{t}" for t in TEAMS)


@st.composite
def histories(
    draw: st.DrawFn, start: datetime, span: timedelta, *, most: int, created_back_days: int
) -> list[RawEvent]:
    """Between 1 and `most` events from `start` over `span`, in time order: activities (some
    touching deal A or B), feedback and deal events (created up to `created_back_days`
    before they close, accounts X and Y), a rep now and then in its other team."""
    n = draw(st.integers(1, most))
    last = int(span.total_seconds() // 60) - 1
    minutes = sorted(draw(st.lists(st.integers(0, last), min_size=n, max_size=n)))
    events: list[RawEvent] = []
    for i, minute in enumerate(minutes):
        when = start + timedelta(minutes=minute)
        rep, team = draw(st.sampled_from(REPS)), draw(st.sampled_from(TEAMS))
        kind = draw(st.sampled_from(["activity", "activity", "touch", "deal", "feedback"]))
        if kind == "activity":
            type_ = draw(st.sampled_from(["call", "email", "demo"]))
            events.append(activity(f"e{i}", rep, team, when, type_))
        elif kind == "touch":
            events.append(activity(f"e{i}", rep, team, when, deal_id=draw(st.sampled_from("AB"))))
        elif kind == "feedback":
            csat, nps = draw(st.integers(1, 5)), draw(st.none() | st.integers(0, 10))
            events.append(feedback(f"e{i}", rep, team, when, csat=csat, nps=nps))
        else:
            events.append(
                deal(
                    f"e{i}",
                    draw(st.sampled_from("AB")),
                    rep,
                    team,
                    when,
                    draw(st.sampled_from(["won", "won", "lost", "open"])),
                    100,
                    created_at=when - timedelta(days=draw(st.integers(0, created_back_days))),
                    account_id=draw(st.sampled_from(["X", "Y"])),
                )
            )
    return events


def periods_from(events: list[RawEvent], tz: Any) -> set[str]:
    """Every period an event's occurred_at or created_at falls in."""
    out: set[str] = set()
    for event in events:
        payload = payload_of(event)
        for name in ("occurred_at", "created_at"):
            if payload.get(name):
                out.update(periods_of(datetime.fromisoformat(payload[name]), tz))
    return out
