"""Event ids are kept only while an event can still be applied (bounded state).

An hour record holds the ids of the events counted in it, to recognise a repeat. Once the
hour ends before stream time minus the late grace, any event of it is late, so a Tick (once
a minute per partition) prunes those ids; the counts stay. A repeat of such an event is
dead-lettered as late_event, never counted twice, also when the pruning batch crashed half
written and was replayed. (Once its whole local day is past the grace, the hour moves into a
day record: test_day_compaction.) A deal's state holds its events' ids likewise, dropped once
its latest event is past the grace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.domain.vocabulary import LATE_EVENT
from streams.engine import processor
from streams.engine.items import RawEvent, Tick
from streams.engine.rollups import Views
from streams.engine.state import DEAL_STATE, HOUR, DealState, HourRecord, decode_value, make_key
from tests.unit.engine.scope_harness import Harness, activity, deal, rebuild_views

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
# stream time 2026-11-20T10:00 less 7 days: this hour is past the grace, its day is not yet
OLD_HOUR = int(datetime(2026, 11, 13, 8, tzinfo=UTC).timestamp())
NEW_HOUR = int(datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp())


def old(n: int) -> RawEvent:
    return activity(f"old{n}", "r1", "t1", f"2026-11-13T08:{n:02d}:00Z")


def new(n: int) -> RawEvent:
    return activity(f"new{n}", "r1", "t1", f"2026-11-20T10:{n:02d}:00Z")


def hour_record(h: Harness, hour: int) -> HourRecord:
    store = h.parts[h.partition_of("rep:r1")].store
    return decode_value(HOUR, store[make_key("rep:r1", HOUR, hour)])


def total(h: Harness) -> int:
    doc = h.figures("rep:r1", "2026-11", NOW)
    assert doc is not None
    return int(doc["activities"]["total"])


def setup() -> Harness:
    h = Harness()  # 7 days of late grace
    h.run([old(0), old(1)], NOW)
    h.run([new(0)], NOW)  # stream time 2026-11-20: the old hour is beyond the grace
    assert hour_record(h, OLD_HOUR).ids == ["a:old0", "a:old1"]
    return h


def test_a_tick_prunes_the_ids_of_hours_no_event_can_reach_and_keeps_the_counts() -> None:
    h = setup()
    h.tick(NOW)
    pruned = hour_record(h, OLD_HOUR)
    assert pruned.ids == []
    assert pruned.parts["t1"].counts == {"call": 2}
    assert hour_record(h, NEW_HOUR).ids == ["a:new0"]  # still within the grace
    assert total(h) == 3
    assert h.figures("team:t1", "2026-11", NOW)["activities"]["total"] == 3


def test_a_repeat_of_a_pruned_event_is_late_and_a_recent_one_a_duplicate() -> None:
    h = setup()
    h.tick(NOW)
    h.run([old(0), new(0)], NOW)
    assert total(h) == 3
    assert [d.reason for d in h.deadletters] == [LATE_EVENT]
    assert sum(h.duplicates.values()) == 1


def test_a_pruning_batch_crashed_half_written_and_replayed_counts_nothing_twice() -> None:
    for keep in (0, 1, 2):
        h = setup()
        rep_partition = h.partition_of("rep:r1")
        h.crash_and_replay([Tick(), old(0), new(0)], NOW, keep_writes=keep, partition=rep_partition)
        h.run([old(1), new(0)], NOW)
        assert total(h) == 3, keep
        assert hour_record(h, OLD_HOUR).ids == []
        assert {d.reason for d in h.deadletters} == {LATE_EVENT}


def test_a_tick_prunes_at_most_its_share_of_hours_oldest_first(monkeypatch: Any) -> None:
    """A backlog of old hours (after a long stop, say) is pruned a Tick at a time."""
    monkeypatch.setattr(processor, "PRUNE_PER_TICK", 2)
    h = Harness()
    h.run([activity(f"o{n}", "r1", "t1", f"2026-11-13T0{n}:30:00Z") for n in range(1, 5)], NOW)
    h.run([new(0)], NOW)
    hours = [int(datetime(2026, 11, 13, n, tzinfo=UTC).timestamp()) for n in range(1, 5)]
    h.tick(NOW)
    assert [hour_record(h, hour).ids for hour in hours] == [[], [], ["a:o3"], ["a:o4"]]
    h.tick(NOW)
    assert [hour_record(h, hour).ids for hour in hours] == [[], [], [], []]
    assert total(h) == 5


# -- a deal's own event ids -------------------------------------------------------------------
# A deal's state holds the ids of its events, to recognise a repeat. Once its latest event is
# before stream time minus the grace, every event of the deal is late: a Tick drops them.


def deal_state(h: Harness, deal_id: str) -> DealState:
    store = h.parts[h.partition_of(f"deal:{deal_id}")].store
    return decode_value(DEAL_STATE, store[make_key(f"deal:{deal_id}", DEAL_STATE)])


def won(h: Harness) -> float:
    doc = h.figures("rep:r1", "2026-11", NOW)
    assert doc is not None
    return float(doc["deals"]["revenue_won"])


def deals_setup() -> Harness:
    h = Harness(partitions=1)  # stream time is a partition's: the deals' and r1's are one
    h.run(
        [
            deal("d-open", "old", "r1", "t1", "2026-11-12T09:00:00Z", "open"),
            deal("d-won", "old", "r1", "t1", "2026-11-13T08:00:00Z", "won", 500),
            deal("e-won", "recent", "r1", "t1", "2026-11-19T08:00:00Z", "won", 70),
        ],
        NOW,
    )
    h.run([new(0)], NOW)  # stream time 2026-11-20T10:00: deal "old" is past the grace
    return h


def test_a_tick_drops_the_ids_of_deals_whose_every_event_is_past_the_grace() -> None:
    h = deals_setup()
    h.tick(NOW)
    assert deal_state(h, "old").ids == []
    assert deal_state(h, "old").current is not None  # the deal itself stays
    assert deal_state(h, "recent").ids == ["e-won"]
    assert won(h) == 570.0
    for p, part in enumerate(h.parts):  # a rebuilt worker finds the same deals to prune
        rebuilt = rebuild_views(Views(part.views.tz), p, part.store)
        assert rebuilt.deals_with_ids.get(p, {}) == part.views.deals_with_ids.get(p, {})
    assert h.views_of("deal:recent").deals_with_ids[h.partition_of("deal:recent")] == {
        "deal:recent": datetime(2026, 11, 19, 8, tzinfo=UTC).timestamp()
    }
    assert "deal:old" not in h.views_of("deal:old").deals_with_ids[h.partition_of("deal:old")]


def test_a_repeat_of_a_pruned_deal_event_is_late_and_changes_nothing() -> None:
    h = deals_setup()
    h.tick(NOW)
    # the tie with the current event would make the older one current again if counted
    tie = deal("d-tie", "old", "r1", "t1", "2026-11-13T08:00:00Z", "lost")
    h.run([deal("d-won", "old", "r1", "t1", "2026-11-13T08:00:00Z", "won", 500), tie], NOW)
    assert won(h) == 570.0
    assert [d.reason for d in h.deadletters] == [LATE_EVENT, LATE_EVENT]
    h.run([deal("e-won", "recent", "r1", "t1", "2026-11-19T08:00:00Z", "won", 70)], NOW)
    assert sum(h.duplicates.values()) == 1  # still recognised by its id


def test_a_new_event_of_a_pruned_deal_applies_and_keeps_its_own_id() -> None:
    h = deals_setup()
    h.tick(NOW)
    h.run([deal("d-reopen", "old", "r1", "t1", "2026-11-20T09:00:00Z", "reopened")], NOW)
    assert won(h) == 70.0
    assert deal_state(h, "old").ids == ["d-reopen"]


def test_a_deal_pruning_batch_crashed_half_written_and_replayed_counts_nothing_twice() -> None:
    for keep in (0, 1, 2):
        h = deals_setup()
        p = h.partition_of("deal:old")
        repeat = deal("d-won", "old", "r1", "t1", "2026-11-13T08:00:00Z", "won", 500)
        h.crash_and_replay([Tick(), repeat], NOW, keep_writes=keep, partition=p)
        h.run([repeat], NOW)
        assert won(h) == 570.0, keep
        assert deal_state(h, "old").ids == []
        assert {d.reason for d in h.deadletters} == {LATE_EVENT}


def test_a_tick_prunes_at_most_its_share_of_deals_oldest_first(monkeypatch: Any) -> None:
    monkeypatch.setattr(processor, "PRUNE_PER_TICK", 1)
    h = Harness(partitions=1)
    h.run(
        [
            deal("x", "later", "r1", "t1", "2026-11-12T09:00:00Z", "won", 1),
            deal("y", "first", "r1", "t1", "2026-11-11T09:00:00Z", "won", 1),
            new(0),
        ],
        NOW,
    )
    h.tick(NOW)
    assert (deal_state(h, "first").ids, deal_state(h, "later").ids) == ([], ["x"])
    h.tick(NOW)
    assert deal_state(h, "later").ids == []
