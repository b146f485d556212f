"""Hours past the grace fold into one record per scope and local day (bounded state).

Once a whole local day ends before stream time minus the late grace, no event can reach it,
so a Tick folds its hour records into a day record and deletes them: the figures, the hour
and day activity buckets and the late decisions stay exactly as they were. A rep's partition
running behind its team's may still send the team an hour of a folded day; it lands in the
day record. A crash between the day record and the deletes counts nothing twice.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.domain.vocabulary import LATE_EVENT
from streams.engine import processor
from streams.engine.activity import activity_buckets
from streams.engine.items import RawEvent, Tick
from streams.engine.rollups import PeriodAgg, ScopeView
from streams.engine.state import (
    DAY,
    FOLDED_BEFORE,
    HOUR,
    DayRecord,
    encode_value,
    make_key,
    parse_key,
)
from tests.unit.engine.scope_harness import Harness, Oracle, activity, close, deal, feedback
from tests.unit.engine.test_rollups import assert_rebuild_equal

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
PERIODS = ("2026-11-02", "2026-11-03", "2026-11-13", "2026-W45", "2026-11", "2026-Q4")
SCOPES = ("rep:r1", "rep:r2", "team:t1", "team:t2")


def old_days() -> list[RawEvent]:
    """Two reps over two days, several hours each, a move between teams and feedback."""
    return [
        activity("a1", "r1", "t1", "2026-11-02T09:10:00Z"),
        activity("a2", "r1", "t1", "2026-11-02T09:40:00Z", "email"),
        activity("a3", "r1", "t1", "2026-11-02T15:05:00Z", "demo"),
        activity("a4", "r1", "t2", "2026-11-02T17:00:00Z"),  # moved to t2 that evening
        feedback("f1", "r1", "t2", "2026-11-02T17:30:00Z", csat=5, nps=9),
        activity("a5", "r2", "t1", "2026-11-02T09:20:00Z", "meeting"),
        activity("a6", "r2", "t1", "2026-11-03T11:00:00Z"),
        feedback("f2", "r2", "t1", "2026-11-03T12:00:00Z", csat=2),
        deal("d1", "D1", "r2", "t1", "2026-11-03T13:00:00Z", "won", 1000),
        # past the grace as an hour (ends 09:00 < 2026-11-13T10:00), not as a day
        activity("a7", "r1", "t2", "2026-11-13T08:15:00Z"),
    ]


def recent() -> list[RawEvent]:
    """Moves stream time to 2026-11-20T10:00: with 7 days of grace, the horizon is 11-13 10:00.

    Stream time is per partition: each partition gets a recent event."""
    return [
        activity("n1", "r1", "t2", "2026-11-20T10:00:00Z"),
        activity("n2", "r2", "t1", "2026-11-20T10:00:00Z"),
    ]


#: each rep beside one team, and its hours sent to the other partition's team too
ROUTE = {"rep:r1": 0, "team:t1": 0, "rep:r2": 1, "team:t2": 1}


def harness(tz: str = "UTC") -> Harness:
    return Harness(partitions=2, tz=tz, route=lambda scope: ROUTE.get(scope, 1))


def snapshot(h: Harness) -> dict[Any, Any]:
    return h.shown(SCOPES, PERIODS, NOW)


def hours_of(h: Harness, day: str) -> list[tuple[Any, ...]]:
    start = datetime.fromisoformat(day + "T00:00:00+00:00").timestamp()
    return [key for key in h.records(HOUR) if start <= key[2] < start + 86_400]


def store_bytes(h: Harness) -> int:
    return sum(len(k) + len(v) for part in h.parts for k, v in part.store.items())


def aged() -> Harness:
    h = harness()
    h.run(old_days(), NOW)
    h.run(recent(), NOW)
    return h


def test_a_tick_folds_every_aged_day_into_one_record_and_every_figure_stays() -> None:
    h = aged()
    before, size = snapshot(h), store_bytes(h)
    assert hours_of(h, "2026-11-02") and hours_of(h, "2026-11-03")

    h.tick(NOW)

    assert hours_of(h, "2026-11-02") == [] and hours_of(h, "2026-11-03") == []
    days = h.records(DAY)
    assert sorted(key[0] for key in days) == sorted(
        ["rep:r1", "rep:r2", "rep:r2", "team:t1", "team:t1", "team:t2"]
    )
    assert all(record.parts for record in days.values())
    assert len(hours_of(h, "2026-11-13")) == 2  # r1's hour and its team's: the day is not over
    assert snapshot(h) == before
    assert store_bytes(h) < size
    oracle = Oracle(old_days() + recent(), h.tz, h.fx)
    for scope in SCOPES:
        for period in PERIODS:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)


def rollup(agg: PeriodAgg | None) -> Any:
    """Everything a period's roll-up holds, comparable."""
    if agg is None:
        return None
    parts = {name: (tally.hours, tally.activities) for name, tally in agg.parts.items()}
    return (agg.by_type, agg.satisfaction, agg.latest, agg.latest_part, parts)


FOLDED = ("2026-11-02", "2026-11-03")


def view_of(h: Harness, scope: str) -> ScopeView:
    view = h.view(scope)
    assert view is not None, scope
    return view


@pytest.mark.parametrize("tz", ["UTC", "America/New_York"])
def test_a_folded_day_keeps_no_roll_up_and_builds_the_same_one_when_asked(tz: str) -> None:
    """A day whose hours all went into its day record holds no roll-up in the views: it is
    built from the record when asked, equal to the one its hour records summed to."""
    h = harness(tz)
    h.run(old_days(), NOW)
    h.run(recent(), NOW)
    held = {(s, d): rollup(view_of(h, s).agg(d)) for s in SCOPES for d in FOLDED}
    assert held[("rep:r1", "2026-11-02")] is not None
    assert [d for s in SCOPES for d in FOLDED if d in view_of(h, s).periods]

    h.tick(NOW)

    for scope in SCOPES:
        view = view_of(h, scope)
        assert not [d for d in FOLDED if d in view.periods], scope
        assert {d: rollup(view.agg(d)) for d in FOLDED} == {d: held[(scope, d)] for d in FOLDED}
        assert set(FOLDED) & h.views_of(scope).rolled_up_periods(view) == {
            d for d in FOLDED if held[(scope, d)] is not None
        }
        # what a restart republishes still finds them (runtime: recent_scope_periods)
        since = datetime(2026, 11, 1, tzinfo=UTC)
        republished = h.views_of(scope).recent_scope_periods(since)
        assert {d for d in FOLDED if (scope, d) in republished} == {
            d for d in FOLDED if held[(scope, d)] is not None
        }
    folded = snapshot(h)
    wider = ("2026-W45", "2026-11", "2026-Q4")
    held_wider = {(s, p): rollup(view_of(h, s).agg(p)) for s in SCOPES for p in wider}
    for p in range(h.n):
        h.restart(p)
    for scope in SCOPES:
        assert not [d for d in FOLDED if d in view_of(h, scope).periods], scope
    assert snapshot(h) == folded
    # rebuilt from the day records, one change per part and day, not per hour
    assert {(s, p): rollup(view_of(h, s).agg(p)) for s in SCOPES for p in wider} == held_wider


def test_a_restarted_worker_rebuilds_the_same_figures_from_day_records() -> None:
    h = aged()
    h.tick(NOW)
    before = snapshot(h)
    for p in range(h.n):
        h.restart(p)
    assert snapshot(h) == before


def test_a_repeat_of_an_event_of_a_folded_day_is_late_and_a_new_one_too() -> None:
    h = aged()
    h.tick(NOW)
    before = snapshot(h)
    h.run([old_days()[0], activity("late", "r1", "t1", "2026-11-02T09:50:00Z")], NOW)
    assert [d.reason for d in h.deadletters] == [LATE_EVENT, LATE_EVENT]
    assert snapshot(h) == before
    assert hours_of(h, "2026-11-02") == []


def send_folded_again_with_a_larger_grace(h: Harness) -> None:
    """SALES_LATE_GRACE raised to 60 days at a restart, then events of what was folded."""
    h.grace = 60 * 86_400.0
    for p in range(h.n):
        h.restart(p)
    h.run(
        [
            old_days()[0],  # a repeat of an event of a folded day
            activity("new-old", "r1", "t1", "2026-11-02T09:50:00Z"),  # new, same folded day
            old_days()[-1],  # a repeat from 11-13 08:00, an hour pruned of its ids
        ],
        NOW,
    )


def test_after_the_grace_is_raised_what_was_folded_stays_late() -> None:
    """SALES_LATE_GRACE raised from 7 to 60 days: the folded days' hours and pruned ids
    are gone, so an event of those days, new or repeated, would count against a day record
    it cannot see. It stays late; the larger grace applies to later event times only."""
    h = aged()
    h.tick(NOW)
    before = snapshot(h)
    send_folded_again_with_a_larger_grace(h)
    assert [d.reason for d in h.deadletters] == [LATE_EVENT] * 3
    assert all("already folded" in d.detail for d in h.deadletters), h.deadletters[0].detail
    assert snapshot(h) == before
    assert hours_of(h, "2026-11-02") == []
    h.run([activity("in-grace", "r1", "t1", "2026-11-14T09:00:00Z")], NOW)
    assert len(h.deadletters) == 3, "after what was folded, the larger grace applies"


def test_state_folded_before_the_folded_instant_was_recorded_keeps_it_late() -> None:
    """State written by a version that did not record the folded instant (before a726627),
    restarted with a larger grace: the partition's first batch takes the instant from its
    day records and pruned hours, so what they folded stays late as above."""
    h = aged()
    h.tick(NOW)
    before = snapshot(h)
    for p in range(h.n):
        assert h.parts[p].store.pop(make_key("", FOLDED_BEFORE, p), None) is not None
    send_folded_again_with_a_larger_grace(h)
    assert [d.reason for d in h.deadletters] == [LATE_EVENT] * 3
    assert snapshot(h) == before
    # recorded again: the end of the latest folded day (11-03) or pruned hour (11-13 09:00)
    assert h.parts[0].store[make_key("", FOLDED_BEFORE, 0)] is not None
    h.run([activity("in-grace", "r1", "t1", "2026-11-13T09:10:00Z")], NOW)
    assert len(h.deadletters) == 3, "after what was folded, the larger grace applies"


@pytest.mark.parametrize("keep", [0, 1, 2, 3, 0.5, None])
def test_a_fold_crashed_half_written_counts_nothing_twice(keep: int | float | None) -> None:
    clean = aged()
    clean.tick(NOW)
    want = snapshot(clean)
    for victim in range(clean.n):  # one partition's fold crashes after `keep` writes
        h = aged()
        h.crash_and_replay([Tick()], NOW, keep_writes=keep, partition=victim)
        h.restart(victim)
        assert snapshot(h) == want, victim
        assert hours_of(h, "2026-11-02") == []
        assert_rebuild_equal(h)  # no roll-up held for a day left to its record, or missing


def test_a_view_counts_an_hour_once_while_both_records_hold_it() -> None:
    """After a crash between the day record and the deletes, both hold the same hours."""
    h = aged()
    want = snapshot(h)
    h.tick(NOW)
    for p, part in enumerate(h.parts):
        # put the deleted hour records back beside the day records, as a crash would leave them
        for kb, raw in aged().parts[p].store.items():
            if parse_key(kb)[1] == HOUR:
                part.store.setdefault(kb, raw)
        h.restart(p)
    assert h.records(DAY) and hours_of(h, "2026-11-02")
    assert snapshot(h) == want
    assert [d for d in FOLDED if d in view_of(h, "rep:r1").periods], "held while hours are"
    h.tick(NOW)  # the next Tick finishes the fold
    assert hours_of(h, "2026-11-02") == []
    assert snapshot(h) == want
    assert not [d for d in FOLDED if d in view_of(h, "rep:r1").periods]
    assert_rebuild_equal(h)


def test_an_hour_of_a_rep_running_behind_lands_in_its_teams_folded_day() -> None:
    """r1's partition has not reached 11-20; its team's has, and folded 11-02 already. An
    event of r1 on 11-02 is on time for r1's partition: the team must count it."""
    route = {"rep:r1": 0, "team:t1": 1, "rep:r2": 1}
    h = Harness(partitions=2, route=lambda scope: route.get(scope, 1))
    first = [
        activity("a1", "r1", "t1", "2026-11-02T10:00:00Z"),
        activity("a2", "r2", "t1", "2026-11-02T10:30:00Z"),
        activity("a3", "r2", "t1", "2026-11-02T14:30:00Z"),
    ]
    late_for_the_team = activity("a4", "r1", "t1", "2026-11-02T10:15:00Z", "email")
    moves_the_team_on = activity("n1", "r2", "t1", "2026-11-20T10:00:00Z")
    h.run(first, NOW)
    h.run([moves_the_team_on], NOW)
    h.tick(NOW)
    team_days = [k for k in h.records(DAY) if k[0] == "team:t1"]
    assert len(team_days) == 1 and hours_of(h, "2026-11-02") == [
        ("rep:r1", HOUR, int(datetime(2026, 11, 2, 10, tzinfo=UTC).timestamp()))
    ]

    h.run([late_for_the_team], NOW)

    assert h.deadletters == []
    day: DayRecord = h.records(DAY)[team_days[0]]
    assert day.parts["r1"].hours[40].counts == {"call": 1, "email": 1}  # 10:00 = 40 quarters
    assert [k for k in hours_of(h, "2026-11-02") if k[0] == "team:t1"] == []
    oracle = Oracle([*first, moves_the_team_on, late_for_the_team], h.tz, h.fx)
    for scope in ("team:t1", "rep:r1"):
        for period in ("2026-11-02", "2026-11"):
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)
    view = h.view("team:t1")
    assert view is not None
    hours = activity_buckets(
        view, "hour", datetime(2026, 11, 2, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC), h.tz
    )
    assert [(b["start"], b["total"]) for b in hours] == [
        ("2026-11-02T10:00:00+00:00", 3),
        ("2026-11-02T14:00:00+00:00", 1),
    ]
    assert "2026-11-02" not in view.periods  # the team's day moved in its record alone
    assert_rebuild_equal(h)


@pytest.mark.parametrize(
    ("tz", "times"),
    [
        # the day New York's clocks go back: 01:30 happens twice, an hour apart
        (
            "America/New_York",
            ["2026-11-01T05:30:00Z", "2026-11-01T06:30:00Z", "2026-11-02T03:00:00Z"],
        ),
        # half-hour offset: local hours start at :30 UTC
        ("Asia/Kolkata", ["2026-11-01T18:29:00Z", "2026-11-01T18:31:00Z", "2026-11-02T10:00:00Z"]),
    ],
)
def test_a_fold_keeps_every_local_hour_of_a_zone(tz: str, times: list[str]) -> None:
    h = harness(tz)
    events = [activity(f"a{i}", "r1", "t1", at) for i, at in enumerate(times)]
    h.run(events, NOW)
    h.run([activity("n1", "r1", "t1", "2026-11-20T10:00:00Z")], NOW)
    view = h.view("rep:r1")
    assert view is not None
    start, end = datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 5, tzinfo=UTC)
    before = {g: activity_buckets(view, g, start, end, h.tz) for g in ("hour", "day")}
    assert len(before["hour"]) == 3
    h.tick(NOW)
    assert h.records(DAY)
    assert not [k for k in h.records(HOUR) if k[2] < datetime(2026, 11, 5, tzinfo=UTC).timestamp()]
    after = {g: activity_buckets(view, g, start, end, h.tz) for g in ("hour", "day")}
    assert after == before


# -- a day too large for one record ---------------------------------------------------------


def busy_team_day() -> list[RawEvent]:
    """Forty reps of t1 active in three hours of 11-02, one rep of t2; then recent events."""
    reps = [
        activity(f"b{n}-{hour}", f"r{n}", "t1", f"2026-11-02T{hour:02d}:{n % 60:02d}:00Z",
                 "call" if n % 3 else "email")
        for n in range(40)
        for hour in (9, 12, 15)
    ]  # fmt: skip
    return [*reps, activity("s1", "solo", "t2", "2026-11-02T10:00:00Z"), *recent()]


def test_a_day_whose_record_would_be_too_large_keeps_its_hours(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A team day of some 13,000 reps active nine hours made a record past the 4 MiB a
    changelog record holds: that day's hours stay in hour records (here with the limits
    lowered, so forty reps are too many and one is not). Figures, buckets and a rebuilt
    worker's views are as if it were folded; a late event of it is late as in a folded day."""
    monkeypatch.setattr(processor, "DAY_PART_HOURS_CHECKED", 0)
    monkeypatch.setattr(processor, "DAY_RECORD_MAX_BYTES", 2_000)
    route = {"team:t1": 0, "team:t2": 0, "rep:r1": 0}  # r1's recent event moves partition 0
    h = Harness(partitions=2, route=lambda scope: route.get(scope, 1))
    events = busy_team_day()
    h.run(events, NOW)
    before = h.shown(("team:t1", "team:t2", "rep:r1"), PERIODS, NOW)
    h.tick(NOW)
    h.tick(NOW)  # a second Tick finds the day known too large
    days = sorted(key[0] for key in h.records(DAY))
    assert "team:t1" not in days and "team:t2" in days and "rep:r1" in days
    team_hours = [k for k in hours_of(h, "2026-11-02") if k[0] == "team:t1"]
    assert len(team_hours) == 3
    assert h.shown(("team:t1", "team:t2", "rep:r1"), PERIODS, NOW) == before
    late_part = activity("b-late", "r0", "t1", "2026-11-02T12:30:00Z", "demo")
    # both partitions are past the day's grace: an event of it is late and changes nothing
    h.run([late_part], NOW)
    assert [d.reason for d in h.deadletters] == [LATE_EVENT]
    oracle = Oracle(events, h.tz, h.fx)
    for scope in ("team:t1", "team:t2", "rep:r1", "rep:r39"):
        for period in PERIODS:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)
    assert_rebuild_equal(h)


def test_an_hour_record_bounds_its_share_of_a_day_record() -> None:
    """too_large_for_a_day sums encoded hour records: each holds at least what it adds to
    the day record, so the sum never falls short of the day record it would make."""
    h = Harness(partitions=1)
    h.run(busy_team_day(), NOW)
    hours = {k: h.records(HOUR)[k] for k in hours_of(h, "2026-11-02") if k[0] == "team:t1"}
    assert len(hours) == 3
    h.tick(NOW)
    (day,) = [v for k, v in h.records(DAY).items() if k[0] == "team:t1"]

    assert len(encode_value(day)) <= sum(len(encode_value(v)) for v in hours.values())
