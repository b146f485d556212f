"""SALES_RETENTION in the fold: a Tick deletes the state of the periods before the horizon
(day and hour records, memberships, targets, alerts, what a deal wholly before it gives a
rep or a team) and no figure of a kept period moves; the deals' own state and accounts
stay, so cohorts, first wins and touches reaching back stay exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.periods import parse_period
from streams.domain.retention import Retention, retention_horizon
from streams.engine.items import RawEvent, Tick
from streams.engine.processor import lies_before
from streams.engine.rollups import Views
from streams.engine.state import (
    ALERTS,
    DAY,
    DEAL,
    DEAL_STATE,
    HOUR,
    MEMBER,
    MEMBER_SENT,
    TARGET,
)
from tests.unit.engine.random_histories import SCOPES as RANDOM_SCOPES
from tests.unit.engine.random_histories import histories, periods_from
from tests.unit.engine.scope_harness import (
    Harness,
    Oracle,
    activity,
    close,
    deal,
    feedback,
    payload_of,
    rebuild_views,
    target,
)
from tests.unit.engine.test_rollups import view_state

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
RETENTION = timedelta(days=120)
#: 2026-11-27T18:00 - 120 days is Thursday 2026-07-30: its week starts on 07-27, its
#: quarter on 07-01, the earlier of the two
HORIZON = datetime(2026, 7, 1, tzinfo=UTC).timestamp()
KEPT = ("2026-Q3", "2026-Q4", "2026-07", "2026-08", "2026-11", "2026-W28", "2026-07-01")
DROPPED = ("2026-Q2", "2026-05", "2026-06", "2026-W20", "2026-W27", "2026-05-12", "2026-06-30")
SCOPES = ("rep:r1", "rep:r2", "team:t1", "team:t2")
ROUTE = {"rep:r1": 0, "team:t1": 0, "rep:r2": 1, "team:t2": 1}


def history() -> list[RawEvent]:
    """Two reps from March to November, in time order: activities and feedback every week,
    r2 in team t1 for a week of May (memberships), a deal created and touched in April and
    won in November, and a deal of the same account won in May (its first win)."""
    events: list[RawEvent] = []
    day = datetime(2026, 3, 2, 9, tzinfo=UTC)
    n = 0
    while day < datetime(2026, 11, 20, tzinfo=UTC):
        n += 1
        moved = datetime(2026, 5, 11, tzinfo=UTC) <= day < datetime(2026, 5, 18, tzinfo=UTC)
        r2_team = "t1" if moved else "t2"
        events.append(activity(f"a{n}", "r1", "t1", day))
        events.append(activity(f"b{n}", "r2", r2_team, day + timedelta(hours=2), "email"))
        events.append(feedback(f"f{n}", "r1", "t1", day + timedelta(hours=3), csat=4, nps=8))
        if day.date().isoformat() == "2026-04-13":
            events.append(activity("touch", "r1", "t1", day + timedelta(hours=4), deal_id="D1"))
            events.append(
                deal(
                    "d1-open",
                    "D1",
                    "r1",
                    "t1",
                    day + timedelta(hours=5),
                    "open",
                    500,
                    created_at=day,
                    account_id="A1",
                )
            )
        if day.date().isoformat() == "2026-05-20":  # r2 closes in both teams in May
            events.append(
                deal(
                    "d3-won",
                    "D3",
                    "r2",
                    "t2",
                    day + timedelta(hours=5),
                    "won",
                    200,
                    created_at=day,
                    account_id="A2",
                )
            )
        if day.date().isoformat() == "2026-05-11":
            events.append(
                deal(
                    "d2-won",
                    "D2",
                    "r2",
                    "t1",
                    day + timedelta(hours=5),
                    "won",
                    300,
                    created_at=day,
                    account_id="A1",
                )
            )
        day += timedelta(days=3, hours=1)
    events.append(
        deal(
            "d1-won",
            "D1",
            "r1",
            "t1",
            datetime(2026, 11, 10, 12, tzinfo=UTC),
            "won",
            800,
            created_at=datetime(2026, 4, 13, 9, tzinfo=UTC),
            account_id="A1",
        )
    )
    events.append(activity("last-r1", "r1", "t1", datetime(2026, 11, 26, 9, tzinfo=UTC)))
    events.append(activity("last-r2", "r2", "t2", datetime(2026, 11, 26, 9, tzinfo=UTC)))
    return sorted(events, key=lambda e: payload_of(e)["occurred_at"])


def folded(
    retention: timedelta | None = None, tz: str = "UTC", first: tuple[RawEvent, ...] = ()
) -> Harness:
    h = Harness(partitions=2, tz=tz, route=lambda scope: ROUTE.get(scope, 1), retention=retention)
    if first:
        h.run(list(first), NOW)
    h.run([target("rep:r1", "activities_total", "2026-Q2", 1000.0)], NOW)
    h.run([target("rep:r1", "activities_total", "2026-Q4", 10.0)], NOW)
    for start in range(0, len(history()), 25):  # batches in time order, as a topic gives
        h.run(history()[start : start + 25], NOW)
    return h


def cut(h: Harness) -> None:
    """The worker restarted with SALES_RETENTION, and its first Tick."""
    h.retention = RETENTION
    for p in range(h.n):
        h.restart(p)
    h.tick(NOW)


def figures(h: Harness, periods: tuple[str, ...]) -> dict[Any, Any]:
    return {(s, p): h.figures(s, p, NOW) for s in SCOPES for p in periods}


def before_horizon(key: tuple[Any, ...], horizon: float = HORIZON) -> bool:
    return bool(key[2] < horizon)


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_a_tick_deletes_the_state_before_the_horizon_and_every_kept_figure_stays(tz: str) -> None:
    h = folded(tz=tz)
    horizon = retention_horizon(NOW, RETENTION, h.tz).timestamp()
    assert horizon == HORIZON - (7200 if tz == "Europe/Berlin" else 0)
    h.tick(NOW)
    assert any(before_horizon(k) for k in h.records(DAY))
    assert any(k[3] == "2026-Q2" for k in h.records(ALERTS)), "the Q2 target was missed"
    assert any(k[2].startswith("2026-05") or k[2].startswith("2026-W") for k in h.records(MEMBER))
    kept = figures(h, KEPT)
    size = sum(len(k) + len(v) for part in h.parts for k, v in part.store.items())

    h.retention = RETENTION
    for p in range(h.n):
        h.restart(p)
    results = h.tick(NOW)

    assert sum(r.dropped_records for r in results) > 0
    assert {r.dropped_before for r in results if r.dropped_records} == {horizon}
    assert sum(r.dropped_records for r in h.tick(NOW)) == 0, "nothing left to delete"
    assert not [k for k in h.records(DAY) if before_horizon(k, horizon)]
    assert not [k for k in h.records(HOUR) if before_horizon(k, horizon)]
    assert min(k[2] for k in h.records(DAY)) < horizon + 4 * 86_400, "the days after it stay"
    assert not [k for k in h.records(MEMBER) if k[2] in DROPPED or k[2] < "2026-06-29"]
    assert [k[3] for k in h.records(TARGET)] == ["2026-Q4"]
    assert not [k for k in h.records(ALERTS) if k[3] == "2026-Q2"]
    assert {k[0] for k in h.records(DEAL_STATE)} == {"deal:D1", "deal:D2", "deal:D3"}
    # D2 and D3 (created and won in May) give r2 and its teams nothing kept: their slots
    # went; D1 (created in April, won in November) stays with r1 and t1
    assert sorted(h.records(DEAL)) == [("rep:r1", DEAL, "D1"), ("team:t1", DEAL, "D1")]
    assert not [s for s in SCOPES if set(h.view(s).deals) - {"D1"}]  # type: ignore[union-attr]
    assert figures(h, KEPT) == kept
    assert sum(len(k) + len(v) for part in h.parts for k, v in part.store.items()) < 0.7 * size
    oracle = Oracle(history(), h.tz, h.fx)
    for scope in SCOPES:
        for period in KEPT:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)
    # the views forgot the dropped periods, as views rebuilt from the table never knew them
    for scope in SCOPES:
        view = h.view(scope)
        assert view is not None
        assert not [p for p in view.periods if p in DROPPED], scope
        assert not [p for p in view.members if p in DROPPED], scope
    assert_views_as_rebuilt(h)
    for p in range(h.n):
        h.restart(p)
    assert figures(h, KEPT) == kept


def assert_views_as_rebuilt(h: Harness) -> None:
    """The views a cut left equal views rebuilt from what it left in the table, after
    the first Tick of a restarted worker (it forgets the dropped periods again)."""
    retention = Retention(h.retention, h.tz)
    horizon = retention.horizon(NOW)
    for p in range(h.n):
        rebuilt = rebuild_views(Views(h.tz), p, h.parts[p].store)
        rebuilt.forget_before(p, lambda period_id: retention.dropped(period_id, horizon))
        assert settled(view_state(rebuilt)) == settled(view_state(h.parts[p].views)), p


def settled(state: dict[str, Any]) -> dict[str, Any]:
    """A view state without the emptied per-partition indexes a cut may leave."""
    indexes = state[""]
    state[""] = {name: {p: i for p, i in index.items() if i} for name, index in indexes.items()}
    return state


def test_a_scope_whose_records_were_all_dropped_is_forgotten_at_once() -> None:
    """A rep and a team seen only in April: after the cut they are unknown (the API's 404),
    as a worker restarted after it finds them, not empty documents until a restart."""
    h = folded(first=(activity("gone", "r9", "t9", "2026-04-14T10:00:00Z"),))
    assert h.view("rep:r9") is not None and h.view("team:t9") is not None
    cut(h)
    assert h.view("rep:r9") is None and h.view("team:t9") is None
    assert h.performance("rep:r9", "2026-11", NOW) is None
    scopes = h.scopes()
    assert {"rep:r1", "rep:r2", "team:t1", "team:t2"} <= scopes
    for p in range(h.n):
        h.restart(p)
    assert h.scopes() == scopes


def test_kept_figures_that_reach_back_stay_exact() -> None:
    """November's won deal was created and touched in April, and its account first won in
    May: its cycle, its touches and the account being a repeat customer stay."""
    h = folded()
    cut(h)
    doc = h.performance("rep:r1", "2026-11", NOW)
    assert doc is not None
    assert doc["customers"] == {"won": 1, "new": 0, "repeat": 1}
    assert doc["efficiency"]["touches_per_won_deal"] == 1.0
    assert doc["deals"]["avg_cycle_days"] == pytest.approx(211.125)


def test_a_replay_of_old_history_keeps_no_hour_before_the_horizon() -> None:
    """A worker with SALES_RETENTION folding history from the start (a new deployment, a
    reprocessing): events before the horizon are applied, not late, and leave no hour or
    day record; the touch of April still counts for November's deal."""
    h = folded(RETENTION)
    h.tick(NOW)
    assert not [d.reason for d in h.deadletters]
    assert not [k for k in h.records(DAY) if before_horizon(k)]
    assert not [k for k in h.records(HOUR) if before_horizon(k)]
    assert [k[3] for k in h.records(TARGET)] == ["2026-Q4"]
    assert not [a for a in h.alerts if a["period"] == "2026-Q2"]
    assert h.applied["sales.activities"] == sum(1 for e in history() if e.kind == "activities")
    oracle = Oracle(history(), h.tz, h.fx)
    for scope in SCOPES:
        for period in KEPT:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)
    assert figures(h, KEPT) == figures(cut_after(), KEPT)


def cut_after() -> Harness:
    h = folded()
    cut(h)
    return h


def test_a_target_of_a_dropped_period_is_neither_kept_nor_evaluated() -> None:
    h = folded()
    cut(h)
    alerts = len(h.alerts)
    h.run([target("rep:r1", "activities_total", "2026-Q2", 5.0)], NOW)
    h.tick(NOW)
    assert [k[3] for k in h.records(TARGET)] == ["2026-Q4"]
    assert len(h.alerts) == alerts


@pytest.mark.parametrize("keep", [0, 1, 7, 0.5, None])
def test_a_cut_crashed_half_written_ends_as_a_clean_one(keep: int | float | None) -> None:
    clean = cut_after()
    h = folded()
    h.retention = RETENTION
    for p in range(h.n):
        h.restart(p)
    ticks = h.batches
    h.run(
        [Tick()],
        NOW,
        crash=lambda n, p, batch: (keep, "once") if n == ticks else None,
    )
    h.tick(NOW)  # what the crash left is cut by the next Tick
    assert figures(h, KEPT) == figures(clean, KEPT)
    assert h.records(DAY).keys() == clean.records(DAY).keys()
    assert h.records(HOUR).keys() == clean.records(HOUR).keys()


def test_a_change_of_an_old_deal_writes_nothing_for_its_dropped_periods() -> None:
    """r2 won D2 in May in team t1 and D3 in t2: it told both teams about May, and its
    deals still say it closed in both. A November call about D3 changes D3's touches, and
    with them every period D3 was ever in; May's memberships are not written again."""
    h = folded()
    assert [k for k in h.records(MEMBER_SENT) if k[2] in DROPPED]
    cut(h)
    assert not [k for k in h.records(MEMBER_SENT) if k[2] in DROPPED]
    call = activity("late-call", "r2", "t2", "2026-11-26T10:00:00Z", deal_id="D3")
    h.run([call], NOW)
    assert not [k for k in h.records(MEMBER_SENT) if k[2] in DROPPED]
    assert not [k for k in h.records(MEMBER) if k[2] in DROPPED]
    assert not [d.reason for d in h.deadletters]
    # D3's figure (with the call's touch) still lies in May only: no slot comes back
    assert not [k for k in h.records(DEAL) if k[2] == "D3"]
    assert h.records(DEAL_STATE)[("deal:D3", DEAL_STATE)].touches == {"call": 1}
    doc = h.performance("rep:r2", "2026-11", NOW)
    assert doc is not None and doc["activities"]["total"] > 0
    assert_views_as_rebuilt(h)


# -- property: the cut changes no kept figure ------------------------------------------------


def long_history() -> st.SearchStrategy[list[RawEvent]]:
    """Up to 24 events over the 300 days before NOW (the last an hour before it)."""
    span = timedelta(days=300) - timedelta(hours=1)
    return histories(NOW - timedelta(days=300), span, most=24, created_back_days=200)


def shown(h: Harness, scopes: list[str], periods: list[str]) -> dict[Any, Any]:
    """Figures by scope and period; a scope with nothing counted there is None, whether its
    view is empty or gone (a team whose only events were dropped is unknown after a
    restart, as in a deployment that never saw them)."""
    out = {}
    for scope in scopes:
        for period in periods:
            doc = h.figures(scope, period, NOW)
            empty = doc is None or (
                doc["activities"]["total"] == 0
                and doc["deals"]["won"] == doc["deals"]["lost"] == 0
                and doc["satisfaction"]["csat_count"] == 0
                and doc["conversion"]["created"] == 0
                and doc["pipeline"]["open_count"] == 0
            )
            out[(scope, period)] = None if empty else doc
    return out


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_history(), st.sampled_from([92, 120, 200]))
def test_a_cut_changes_no_kept_figure(events: list[RawEvent], days: int) -> None:
    retention = timedelta(days=days)
    h = Harness(partitions=3)
    h.run(events, NOW)
    h.tick(NOW)
    horizon = retention_horizon(NOW, retention, h.tz)
    kept = sorted(p for p in periods_from(events, h.tz) if parse_period(p, h.tz).start >= horizon)
    scopes = list(RANDOM_SCOPES)
    before = shown(h, scopes, kept)
    h.retention = retention
    for p in range(h.n):
        h.restart(p)
    h.tick(NOW)
    assert shown(h, scopes, kept) == before
    assert not [k for k in h.records(DAY) if k[2] < horizon.timestamp()]
    assert not [k for k in h.records(HOUR) if k[2] < horizon.timestamp()]
    assert not [
        k
        for k, slot in h.records(DEAL).items()
        if slot.figure is not None and lies_before(slot.figure, horizon.timestamp())
    ]
    assert_views_as_rebuilt(h)
    oracle = Oracle(events, h.tz, h.fx)
    for (scope, period), got in before.items():
        if got is not None:
            want = oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)
    # a deployment with the retention from the start folds the same kept figures
    fresh = Harness(partitions=3, retention=retention)
    fresh.run(events, NOW)
    fresh.tick(NOW)
    assert shown(fresh, scopes, kept) == before
