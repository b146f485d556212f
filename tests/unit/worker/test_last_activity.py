"""sales_rep_last_activity_timestamp_seconds (streams.worker.last_activity): one series per
owned rep under the team of its latest activity, exact from batches, read from the views for
a rep no batch has touched since they were built (a restart), never set back."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.engine.queries import latest_activity
from streams.worker.last_activity import NAME, LastActivities
from streams.worker.metrics import LabelBudget
from tests.unit.engine.scope_harness import Harness, activity, deal, feedback
from tests.unit.engine.test_day_compaction import ROUTE, old_days, recent

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)


def ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def exported(collector: LastActivities) -> dict[tuple[str, str], float]:
    registry = CollectorRegistry()
    registry.register(collector)
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            if s.name == NAME:
                out[(s.labels["team"], s.labels["rep"])] = s.value
    return out


def collector(h: Harness, *, limit: int = 100, ready: bool = True) -> LastActivities:
    budget = LabelBudget(limit, Counter("dropped", "d", ["kind"], registry=CollectorRegistry()))
    return LastActivities(h.views_of("rep:r1"), budget, lambda: ready, enabled=True)


def test_a_rep_who_moved_team_has_one_series_under_its_new_team() -> None:
    """RepInactive fired for a rep's old team, which kept its series forever."""
    h = Harness(partitions=1)
    h.run(
        [
            activity("a1", "r1", "tA", "2026-11-24T10:00:00Z"),
            activity("a2", "r1", "tB", "2026-11-26T15:00:00Z"),
        ],
        NOW,
    )
    c = collector(h)
    c.applied("r1", "tA", ts("2026-11-24T10:00:00+00:00"))
    c.applied("r1", "tB", ts("2026-11-26T15:00:00+00:00"))
    assert exported(c) == {("tB", "r1"): ts("2026-11-26T15:00:00+00:00")}


def test_after_a_restart_every_rep_is_exported_from_the_views_and_never_set_back() -> None:
    """A restart emptied the gauge; an older activity applied after it set r1's time to
    that activity's, although the views held a later one."""
    h = Harness(partitions=1)
    h.run(
        [
            activity("a1", "r1", "t1", "2026-11-26T11:00:00Z"),
            activity("a2", "r1", "t1", "2026-11-26T11:20:00Z", "email"),
            activity("a3", "r2", "t1", "2026-11-25T09:05:00Z"),
            activity("a4", "r1", "t1", "2026-11-24T08:00:00Z"),
        ],
        NOW,
    )
    c = collector(h)  # a new worker: no batch applied yet
    assert exported(c) == {
        ("t1", "r1"): ts("2026-11-26T11:20:00+00:00"),
        ("t1", "r2"): ts("2026-11-25T09:05:00+00:00"),
    }
    c.clear()  # the views rebuilt
    c.applied("r1", "t1", ts("2026-11-24T08:00:00+00:00"))  # a replayed older one
    assert exported(c)[("t1", "r1")] == ts("2026-11-26T11:20:00+00:00")
    c.applied("r2", "t2", ts("2026-11-27T08:00:00+00:00"))
    assert exported(c)[("t2", "r2")] == ts("2026-11-27T08:00:00+00:00")


def test_feedback_and_deals_are_not_activities() -> None:
    h = Harness(partitions=1)
    h.run(
        [
            activity("a1", "r1", "t1", "2026-11-26T09:10:00Z"),
            feedback("f1", "r1", "t1", "2026-11-26T14:00:00Z", csat=4),
            deal("d1", "D1", "r2", "t1", "2026-11-26T15:00:00Z", "won", 100),
        ],
        NOW,
    )
    assert exported(collector(h)) == {("t1", "r1"): ts("2026-11-26T09:10:00+00:00")}


def test_from_day_records_once_the_hours_are_folded() -> None:
    """Hours past the grace fold into day records: a rep inactive since keeps its series,
    at the day's latest event of its team there (a day record keeps no more)."""
    h = Harness(partitions=2, route=lambda scope: ROUTE.get(scope, 1))
    h.run(old_days(), NOW)
    views = h.views_of("rep:r2")
    before = latest_activity(views.get("rep:r2"))
    assert before == (ts("2026-11-03T11:00:00+00:00"), "t1")
    h.run(recent()[1:], NOW)  # r2's partition only: its old days fold, r2 did nothing new
    h.tick(NOW)
    view = views.get("rep:r2")
    assert view.days and latest_activity(view) == (ts("2026-11-20T10:00:00+00:00"), "t1")
    del view.hours[max(view.hours)]  # as if the recent hour had folded too
    # a day record keeps the day's latest event of each part: r2's feedback at 12:00
    assert latest_activity(view) == (ts("2026-11-03T12:00:00+00:00"), "t1")


def test_only_owned_ready_admitted_reps_are_exported() -> None:
    h = Harness(partitions=1)
    h.run(
        [
            activity("a1", "r1", "t1", "2026-11-26T09:00:00Z"),
            activity("a2", "r2", "t1", "2026-11-26T10:00:00Z"),
            activity("a3", "r3", "t1", "2026-11-26T11:00:00Z"),
        ],
        NOW,
    )
    assert exported(collector(h, ready=False)) == {}
    assert set(exported(collector(h, limit=2))) == {("t1", "r1"), ("t1", "r2")}
    c = collector(h)
    c.applied("r9", "t1", ts("2026-11-26T12:00:00+00:00"))  # another worker's rep now
    assert ("t1", "r9") not in exported(c)
    off = collector(h)
    off.enabled = False  # SALES_METRICS_REP_LABEL=false
    assert exported(off) == {}


def test_a_reps_target_series_take_its_latest_activitys_team_in_a_period_without_events() -> None:
    """Labelled team="" before: its at-risk alert missed the team's route, and the team's
    panels (reps with a target, business hours without activity) left it out."""
    from streams.domain.periods import current_period_ids
    from streams.worker.settings import Settings
    from tests.unit.engine.scope_harness import target
    from tests.unit.worker.business_collector import business_collector

    h = Harness(partitions=1)
    h.run(
        [
            activity("a1", "r1", "t-smb", "2026-11-20T10:00:00Z"),
            target("rep:r1", "deals_won", "2026-12", 3.0),
        ],
        NOW,
    )
    wall = datetime(2026, 12, 3, 12, tzinfo=UTC)  # December: no event of r1 yet
    settings = Settings.from_env({})
    views = h.views_of("rep:r1")
    business = business_collector(views, settings, lambda: wall, home_team=collector(h).team_of)
    registry = CollectorRegistry()
    registry.register(business)
    teams = {
        (s.name, s.labels["team"])
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for s in family.samples
        if s.name in ("sales_target_status", "sales_rep_target_active")
    }
    assert current_period_ids(wall, settings.tz)["month"] == "2026-12"
    assert teams == {("sales_target_status", "t-smb"), ("sales_rep_target_active", "t-smb")}
