"""Views: rebuilt from the table they equal the incrementally maintained ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.periods import periods_of
from streams.engine.queries import figures_of, team_medians
from streams.engine.rollups import Views
from tests.unit.engine.scope_harness import (
    Harness,
    activity,
    deal,
    feedback,
    rebuild_views,
    target,
    utc,
)
from tests.unit.engine.test_processor import ALL_SCOPES, NOW, SCRIPT, deliveries

NOV = "2026-11"


def at(day: int, hour: int = 10) -> str:
    return f"2026-11-{day:02d}T{hour:02d}:00:00Z"


def view_state(views: Views):
    """Everything a view holds that queries, alerts and medians read."""
    # what a Tick prunes and compacts is found through these indexes, never by a scan
    out: dict[str, Any] = {
        "": {
            "with_ids": views.hours_with_ids,
            "by_day": views.hours_by_day,
            "deals_with_ids": {p: due for p, due in views.deals_with_ids.items() if due},
        },
    }
    for v in views.scopes.values():
        if v.kind == "rep":  # the fold asks the tallies; they must agree with the deals
            for p in {*v.periods, *v.deal_periods}:
                assert v.in_several_teams(p) == (len(v.membership(p).teams) > 1), (v.scope, p)
                # and skips the reps that say they have nothing to tell
                assert not (v.never_told_teams() and v.in_several_teams(p)), (v.scope, p)
    for scope, v in views.scopes.items():
        # a day whose hours all lie in its day record keeps no roll-up (ScopeView.agg)
        for day in v.days:
            if not views.holds_hours_of(v, day):
                assert views.hour_periods(day)[0] not in v.periods, (scope, day)
        # periods with something in them (a roll-up may keep an emptied entry: no figure)
        aggs = {p: v.agg(p) for p in views.rolled_up_periods(v)}
        periods = (
            {p for p, agg in aggs.items() if agg and (agg.by_type or agg.satisfaction.responses)}
            | {p for p, ids in v.deal_periods.items() if ids}
            | {p for p, ids in v.cohort_periods.items() if ids}
            | {p for p, ids in v.pipeline_periods.items() if ids}
            | {p for p, m in v.members.items() if m}
            | {p for _, p in v.targets}
        )
        out[scope] = {
            "partition": v.partition,
            "hours": dict(v.hours),
            "deals": dict(v.deals),
            # every period a deal index holds, emptied or not: /metrics exports a scope's
            # period while an index holds it (metrics._has_figures)
            "deal_index": [sorted(index) for index in v.deal_indexes()],
            "targets": dict(v.targets),
            "alerts": {k: list(a) for k, a in v.alerts.items() if a},
            "members": {p: dict(m) for p, m in v.members.items() if m},
            "member_sent": {p: list(s) for p, s in v.member_sent.items() if s},
            "figures": {p: figures_of(v, p, views.tz) for p in sorted(periods)},
            "latest_part": {p: v.latest_part(p) for p in sorted(periods)},
            "teams_in": {p: v.membership(p).teams for p in sorted(periods)},
            "closed_teams": {p: dict(t) for p, t in v.closed_teams.items()},
            "medians": {p: team_medians(v, p) for p in sorted(periods)},
        }
    return out


def rebuilt(h: Harness, p: int) -> Views:
    return rebuild_views(Views(h.tz), p, h.parts[p].store)


def assert_rebuild_equal(h: Harness) -> None:
    for p in range(h.n):
        assert view_state(rebuilt(h, p)) == view_state(h.parts[p].views), p


def test_views_are_tagged_with_their_partition() -> None:
    h = Harness()
    h.run([activity("a", "r1", "t1", at(25)), deal("d", "D1", "r2", "t2", at(25), "won", 5)], NOW)
    for p, part in enumerate(h.parts):
        for scope, view in part.views.scopes.items():
            assert view.partition == p == h.partition_of(scope), scope
    assert {"rep:r1", "rep:r2", "team:t1", "team:t2"} <= h.scopes()


def test_rebuild_after_the_processor_script() -> None:
    h = Harness()
    for step, batch in enumerate(SCRIPT):
        h.run(batch, NOW + timedelta(minutes=step))
    assert_rebuild_equal(h)


def test_rebuild_after_supersessions_retractions_targets_and_alerts() -> None:
    h = Harness()
    h.run([target("rep:r1", "revenue_won", NOV, 1000.0)], NOW)
    h.run(
        [
            activity("a1", "r1", "t1", at(20)),
            activity("a2", "r1", "t2", at(24)),  # team change
            feedback("f1", "r1", "t2", at(24, 11), csat=3, nps=9),
            deal("d1", "D1", "r1", "t1", at(24), "won", 100, "EUR"),
            deal("d2", "D1", "r2", "t2", at(25), "won", 90, "EUR"),  # reassigned
            deal("d3", "D2", "r2", "t2", at(25), "won", 10),
            deal("d4", "D2", "r2", "t2", at(26), "reopened"),  # retracted
            target("team:t1", "activities_total", "2026-10", 3.0),  # missed at once
        ],
        NOW,
    )
    h.run([target("rep:r1", "revenue_won", NOV, None)], NOW)  # deleted
    h.tick(NOW + timedelta(minutes=1))
    assert h.alerts  # alerts records exist to be rebuilt
    assert_rebuild_equal(h)
    # and the documents a restarted cluster answers are the same
    before = h.snapshot(h.scopes(), ["2026-11-24", "2026-W48", NOV, "2026-Q4"], NOW)
    for p in range(h.n):
        h.restart(p)
    after = h.snapshot(h.scopes(), ["2026-11-24", "2026-W48", NOV, "2026-Q4"], NOW)
    assert before == after


def test_rebuild_in_paris_across_dst_and_month_end() -> None:
    h = Harness(tz="Europe/Paris")
    now = utc(2026, 10, 27, 12)
    h.run(
        [
            activity("a1", "r1", "t1", "2026-10-25T02:30:00+02:00"),  # before the fall back
            activity("a2", "r1", "t1", "2026-10-25T02:30:00+01:00"),  # the repeated hour
            activity("a3", "r1", "t1", "2026-10-25T03:10:00+01:00"),
            deal("d1", "D1", "r1", "t1", "2026-10-25T02:45:00+01:00", "won", 3),
        ],
        now,
    )
    rep = h.view("rep:r1")
    assert len(rep.hours) == 3  # two distinct 02:00 hours and 03:00
    assert h.figures("rep:r1", "2026-10-25", now)["activities"]["total"] == 3
    assert_rebuild_equal(h)


def test_drop_partitions_keeps_only_owned_scopes() -> None:
    h = Harness(partitions=1)
    h.run([activity("a", "r1", "t1", at(25))], NOW)
    views = h.parts[0].views
    assert views.get("rep:r1") is not None
    views.drop_partitions([1, 2])
    assert views.scopes == {}
    rebuild_views(views, 0, h.parts[0].store)
    views.drop_partitions([0])
    assert views.get("rep:r1") is not None and views.get("team:t1") is not None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(deliveries())
def test_rebuilt_views_equal_incremental_views_for_any_delivery(case) -> None:
    _events, batches, batch_size = case
    h = Harness()
    h.run([target("rep:r1", "deals_won", "2026-W48", 1.0)], NOW)
    for batch in batches:
        h.run(batch, NOW, batch_size=batch_size)
    assert_rebuild_equal(h)
    for scope in ALL_SCOPES:
        view = h.view(scope)
        if view is not None:
            assert view.partition == h.partition_of(scope)


def test_recent_scope_periods_lists_what_a_late_event_could_still_change() -> None:
    h = Harness(partitions=1)
    h.run([activity("x1", "r9", "t9", "2026-11-02T10:00:00Z")], NOW)
    views = h.parts[0].views
    recent = views.recent_scope_periods(NOW - timedelta(days=7))
    assert ("rep:r9", "2026-11") in recent and ("team:t9", "2026-Q4") in recent
    assert ("rep:r9", "2026-11-02") not in recent  # that day ended more than 7 days ago
    assert all(scope.split(":")[0] in ("rep", "team") for scope, _ in recent)


_ZONES = [ZoneInfo(z) for z in ("UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")]
_VIEWS = {tz.key: Views(tz) for tz in _ZONES}


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1)),
    st.sampled_from(_ZONES),
)
def test_the_periods_of_an_instant_are_those_of_its_local_hour(
    naive: datetime, tz: ZoneInfo
) -> None:
    instant = naive.replace(tzinfo=UTC)
    views = _VIEWS[tz.key]
    assert views.instant_periods(instant.timestamp()) == periods_of(instant, tz)
    # twice: the second answer comes from the caches
    assert views.instant_periods(instant.timestamp()) == periods_of(instant, tz)


def test_a_touch_of_a_won_deal_moves_its_periods_and_nothing_it_is_counted_by() -> None:
    """A contribution that only adds a touch keeps the deal's indexes and tallies (the
    views' fast path for it); its periods still report a change, and the views equal a
    rebuild from the table."""
    h = Harness()
    won = deal("w1", "D1", "r1", "t1", at(20), "won", 500, created_at=at(3), account_id="A1")
    h.run([won, activity("a0", "r1", "t1", at(20, 9))], NOW)
    team = h.view("team:t1")
    rep = h.view("rep:r1")
    assert team is not None and rep is not None
    closed_before = {p: dict(t) for p, t in team.closed_by_rep.items()}
    revenue_before = {
        p: team_medians(team, p).revenue for p in periods_of(datetime.fromisoformat(at(20)), h.tz)
    }
    h.changed.clear()
    h.run([activity(f"t{n}", "r1", "t1", at(21 + n), "demo", deal_id="D1") for n in range(3)], NOW)
    assert rep.deals["D1"].touches == {"demo": 3}
    assert team.deals["D1"].touches == {"demo": 3}
    assert {p: dict(t) for p, t in team.closed_by_rep.items()} == closed_before
    # the touching activities count as activities; the revenue median stays
    assert {p: team_medians(team, p).revenue for p in revenue_before} == revenue_before
    # the deal's periods (closed on the 20th, created on the 3rd) changed for rep and team
    for scope in ("rep:r1", "team:t1"):
        for instant in (at(20), at(3)):
            for period_id in periods_of(datetime.fromisoformat(instant), h.tz):
                assert (scope, period_id) in h.changed, (scope, period_id)
    assert_rebuild_equal(h)


def test_deal_figures_share_their_names_and_words_and_stay_equal() -> None:
    """Each figure the views hold shares one string per rep, team and vocabulary word (a
    decoded figure carried copies of its own), and equals the one its record holds."""
    h = Harness()
    h.run(
        [
            deal("d1", "D1", "r1", "t1", at(24), "won", 100),
            deal("d2", "D2", "r1", "t1", at(25), "lost", 50),
            deal("d3", "D3", "r2", "t1", at(25), "won", 70),
        ],
        NOW,
    )
    figures = [f for scope in ("rep:r1", "rep:r2", "team:t1") for f in held_figures(h, scope)]
    assert len(figures) == 6
    for a in figures:
        for b in figures:
            for name in ("rep", "team", "outcome", "source", "kind", "lost_reason", "stage"):
                if getattr(a, name) == getattr(b, name):
                    assert getattr(a, name) is getattr(b, name), name
    for p in range(h.n):
        for scope, view in rebuilt(h, p).scopes.items():
            assert view.deals == h.parts[p].views.scopes[scope].deals


def held_figures(h: Harness, scope: str) -> list[Any]:
    view = h.view(scope)
    assert view is not None
    return list(view.deals.values())
