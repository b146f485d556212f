"""A team hour shares its members' parts with the rep hours of the same worker's views.

The worker decodes each TeamHourItem from the internal topic: kept as decoded, a team hour
held a second copy of every member's counts (a tenth of a wide fold's memory). These tests
fold one partition, as one worker owning a rep and its team does, with the internal items
encoded and decoded on the way, as on the topic.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from streams.engine.items import Foldable, HourCounts, TeamHourItem
from streams.engine.rollups import Views
from streams.engine.state import decode_value, parse_key
from tests.unit.engine.scope_harness import OneWorker, activity, feedback, rebuild_views, utc

NOW = utc(2026, 11, 27, 12)
HOUR = int(utc(2026, 11, 27, 10).timestamp())
AT = "2026-11-27T10:15:00Z"


def team_hours(items: list[Foldable]) -> list[TeamHourItem]:
    return [item for item in items if isinstance(item, TeamHourItem)]


def test_a_team_hour_holds_the_reps_own_part_not_a_copy() -> None:
    w = OneWorker(NOW)
    w.settle([activity("a1", "r1", "t1", AT), activity("a2", "r2", "t1", AT, "email")])
    team = w.view("team:t1").hours[HOUR]
    for rep in ("r1", "r2"):
        assert team.parts[rep] is w.view("rep:" + rep).hours[HOUR].parts["t1"]
    assert {rep: part.counts for rep, part in team.parts.items()} == {
        "r1": {"call": 1},
        "r2": {"email": 1},
    }


def test_a_part_the_rep_no_longer_holds_is_kept_as_it_came() -> None:
    """An item older or newer than the rep's hour (its partition runs ahead, or behind):
    the team takes what the item says, never the rep's other counts."""
    w = OneWorker(NOW)
    w.settle([activity("a1", "r1", "t1", AT)])
    rep_part = w.view("rep:r1").hours[HOUR].parts["t1"]
    other = HourCounts({"call": 5}, rep_part.satisfaction.copy(), rep_part.latest)
    w.settle([TeamHourItem("team:t1", HOUR, "r1", other)])
    team_part = w.view("team:t1").hours[HOUR].parts["r1"]
    assert team_part.counts == {"call": 5}
    assert team_part is not rep_part
    assert rep_part.counts == {"call": 1}


def test_the_next_event_of_the_rep_leaves_the_shared_part_as_it_was() -> None:
    """The rep's next batch copies its hour before counting: until its item arrives, the
    team still holds the counts it was told, not the rep's newer ones."""
    w = OneWorker(NOW)
    w.settle([activity("a1", "r1", "t1", AT)])
    sent = w.batch([activity("a2", "r1", "t1", AT)])
    assert w.view("rep:r1").hours[HOUR].parts["t1"].counts == {"call": 2}
    assert w.view("team:t1").hours[HOUR].parts["r1"].counts == {"call": 1}
    assert [item.part.counts for item in team_hours(sent)] == [{"call": 2}]
    w.settle(sent)
    team_part = w.view("team:t1").hours[HOUR].parts["r1"]
    assert team_part.counts == {"call": 2}
    assert team_part is w.view("rep:r1").hours[HOUR].parts["t1"]


def test_an_older_part_arriving_after_a_newer_one_changes_nothing() -> None:
    """A rep's part folded where it was made may overtake an older one still on the
    internal topic (or a replay's): the team keeps the part counting the most events, an
    activity once and a feedback once per answer."""
    w = OneWorker(NOW)
    w.settle([activity("a1", "r1", "t1", AT)])
    older = team_hours(w.batch([activity("a2", "r1", "t1", AT, "email")]))
    newer = team_hours(w.batch([feedback("f1", "r1", "t1", AT, csat=5, nps=9)]))
    w.settle(newer)
    team = w.view("team:t1")
    figures = {p: (agg.by_type, agg.satisfaction) for p, agg in team.periods.items()}
    w.settle(older)
    assert team.hours[HOUR].parts["r1"].counts == {"call": 1, "email": 1}
    assert team.hours[HOUR].parts["r1"].satisfaction.csat_n == 1
    assert {p: (agg.by_type, agg.satisfaction) for p, agg in team.periods.items()} == figures
    assert [item.part.events() for item in older + newer] == [2, 4]


def test_views_rebuilt_from_the_table_share_the_parts_again() -> None:
    """A restart decodes every team hour from the table, each with copies of its members'
    parts: the rebuild gives them the rep hours' own, and every figure stays as it was."""
    w = OneWorker(NOW)
    w.settle([activity("a1", "r1", "t1", AT), activity("a2", "r2", "t1", AT, "email")])
    before = {p: agg.by_type for p, agg in w.view("team:t1").periods.items()}
    rebuilt = Views(ZoneInfo("UTC"))
    for kb, raw in w.store.items():
        rebuilt.apply(parse_key(kb), 0, decode_value(parse_key(kb)[1], raw), raw)
    team = rebuilt.get("team:t1")
    assert team is not None
    assert team.hours[HOUR].parts["r1"] is not rebuilt.scopes["rep:r1"].hours[HOUR].parts["t1"]
    assert rebuilt.share_member_parts() == 2
    for rep in ("r1", "r2"):
        assert team.hours[HOUR].parts[rep] is rebuilt.scopes["rep:" + rep].hours[HOUR].parts["t1"]
    assert {p: agg.by_type for p, agg in team.periods.items()} == before
    assert rebuilt.share_member_parts() == 0  # once is enough
    assert rebuild_views(Views(ZoneInfo("UTC")), 0, w.store).share_member_parts() == 0
