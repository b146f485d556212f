"""Event ids are kept only while an event can still be applied (bounded state).

An hour record holds the ids of the events counted in it, to recognise a repeat. Once the
hour ends before stream time minus the late grace, any event of it is late, so a Tick (once
a minute per partition) prunes those ids; the counts stay. A repeat of such an event is
dead-lettered as late_event, never counted twice, also when the pruning batch crashed half
written and was replayed. (Once its whole local day is past the grace, the hour moves into a
day record: test_day_compaction.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from streams.domain.vocabulary import LATE_EVENT
from streams.engine import processor
from streams.engine.items import RawEvent, Tick
from streams.engine.state import HOUR, HourRecord, decode_value, make_key
from tests.unit.engine.scope_harness import Harness, activity

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
