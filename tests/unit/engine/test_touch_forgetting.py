"""A deal forgets its touches' ids once the touching rep's partition can never send them again.

A deal keeps the id of every touch (an applied activity carrying its deal_id), to count a
touch sent again once. The touch comes from the partition of the touching rep, whose
stream time the deal's partition does not know. So the rep's hour record remembers which
of its events touched which deal, and when a Tick prunes the hour's ids (or folds its day)
it tells each deal to forget those touches (ForgetTouches). It does so only for hours before
the instant the partition's written state had folded (the Tick's `written_folded_before`:
events before it are late whatever the grace): a crash after the deal forgot restores the
rep's state at least that far; a repeat the restored hour still knows sends its touch
again, and the deal knows it by its time (the forget says from when the rep's partition
applies nothing). The counts stay: figures do not move. Here the limit of ids
per record is 3, so a busy deal's ids sit in its state and in touch records.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from streams.domain.vocabulary import LATE_EVENT
from streams.engine import processor
from streams.engine.deal_touches import DealTouches
from streams.engine.items import ForgetTouches, RawEvent, Tick, TouchItem
from streams.engine.state import DEAL_STATE, HOUR, TOUCHES, DealState, HourRecord, TouchRecord
from tests.unit.engine.scope_harness import GRACE, Harness, Oracle, activity, close, deal, utc

NOW = utc(2026, 11, 27, 18)
LIMIT = 3
OLD_DAY = "2026-11-13"
#: stream time once the newer events are in: 2026-11-13 08-17h are past the 7-day grace
NEW_TIME = utc(2026, 11, 20, 18)
SCOPES = ("rep:r1", "rep:r2", "team:t1")
PERIODS = ("2026-11", OLD_DAY, "2026-W46")


@pytest.fixture(autouse=True)
def small_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processor, "MAX_IDS_PER_RECORD", LIMIT)


def touch(n: int, rep: str, hour: int = 8, deal_id: str = "D1") -> RawEvent:
    return activity(
        f"a{n}",
        rep,
        "t1",
        f"{OLD_DAY}T{hour:02d}:{n:02d}:00Z",
        "email" if n % 3 else "call",
        deal_id=deal_id,
    )


def old_events() -> list[RawEvent]:
    """Ten touches of D1 by two reps over two hours, its won event, a touch of D2."""
    touches = [touch(n, "r1" if n % 2 else "r2", 8 + n % 2) for n in range(10)]
    won = deal("d1", "D1", "r1", "t1", f"{OLD_DAY}T12:00:00Z", "won", 1000)
    return [*touches, won, touch(20, "r2", 10, "D2")]


def newer_events() -> list[RawEvent]:
    """An event of each rep a week later: every rep partition's stream time moves on."""
    at = NEW_TIME.isoformat().replace("+00:00", "Z")
    return [activity(f"new-{rep}", rep, "t1", at) for rep in ("r1", "r2")]


def written_tick(at: datetime = NEW_TIME) -> Tick:
    """A minute's Tick whose partition's written state folded everything before `at` minus
    the grace (the previous Tick's horizon, written)."""
    return Tick(written_folded_before=at.timestamp() - GRACE)


def setup() -> Harness:
    h = Harness(partitions=3)
    h.run(old_events(), NOW, batch_size=4)
    h.run(newer_events(), NOW)
    return h


def touch_ids(h: Harness, deal_id: str = "D1") -> list[str]:
    state: DealState = h.records(DEAL_STATE)[(f"deal:{deal_id}", DEAL_STATE)]
    records = [r for k, r in h.records(TOUCHES).items() if k[0] == f"deal:{deal_id}"]
    return sorted([*state.touch_ids, *(i for r in records for i in r.ids)])


def touched(h: Harness) -> list[tuple[str, str]]:
    """What the rep hour records still remember of their events' touches."""
    hours: dict[Any, HourRecord] = h.records(HOUR)
    return sorted(pair for record in hours.values() for pair in record.touched)


def figures(h: Harness) -> dict[Any, Any]:
    return {(s, p): h.figures(s, p, NOW) for s in SCOPES for p in PERIODS}


def check_oracle(h: Harness) -> None:
    oracle = Oracle([*old_events(), *newer_events()], h.tz, h.fx)
    for scope in SCOPES:
        for period in PERIODS:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)


def test_a_deal_forgets_the_touches_of_hours_past_the_durable_grace() -> None:
    h = setup()
    before = figures(h)
    assert touch_ids(h) == sorted(f"a{n}" for n in range(10))
    assert len(touched(h)) == 11  # every touch, in its rep hour record
    h.run([written_tick()], NOW)
    assert touch_ids(h) == [] and touch_ids(h, "D2") == []
    assert touched(h) == []
    assert figures(h) == before  # the counts stay
    view = h.view("rep:r1")
    assert view is not None and view.deals["D1"].touches == {"call": 4, "email": 6}
    check_oracle(h)


def test_a_repeat_after_the_forgetting_is_late_and_counts_nothing() -> None:
    h = setup()
    h.run([written_tick()], NOW)
    before = figures(h)
    h.run(old_events()[:10], NOW)
    assert [d.reason for d in h.deadletters] == [LATE_EVENT] * 10
    assert figures(h) == before


def test_a_tick_of_an_earlier_version_forgets_nothing() -> None:
    """A Tick without the durable stream time: ids of the rep hours are pruned as before,
    the deals keep theirs (and count a repeat once)."""
    h = setup()
    h.run([Tick()], NOW)
    assert touch_ids(h) == sorted(f"a{n}" for n in range(10))
    records: dict[Any, HourRecord] = h.records(HOUR)
    assert all(record.ids == [] for key, record in records.items() if key[2] < 1763600000)


def test_hours_wait_for_the_written_folded_instant() -> None:
    """The written state is behind the batches: only hours before its folded instant are
    pruned and forgotten; the rest wait for a later Tick."""
    h = setup()
    h.run([written_tick(utc(2026, 11, 20, 9, 30))], NOW)  # 13th 08h is before, 09h is not
    forgotten = {f"a{n}" for n in range(0, 10, 2)}  # the 08h touches (rep r2)
    assert set(touch_ids(h)) == {f"a{n}" for n in range(10)} - forgotten
    h.run([written_tick()], NOW)
    assert touch_ids(h) == []


def test_a_touch_sent_again_is_known_by_its_time_once_its_id_is_forgotten() -> None:
    """A touch carries its activity's time and its rep's partition; a deal ignores one
    from a partition that said it applies nothing before a later time (a repeat its hour
    still knows, after a crash: the next test). One of an earlier version, without them,
    counts as before."""
    h = setup()
    h.run([written_tick()], NOW)
    before = figures(h)
    p = h.partition_of("rep:r1")
    again = TouchItem("deal:D1", "a1", "email", utc(2026, 11, 13, 9, 1).timestamp(), p)
    h.run([again], NOW)
    assert figures(h) == before and touch_ids(h) == []
    newer = TouchItem("deal:D1", "a99", "email", NEW_TIME.timestamp(), p)
    h.run([newer, TouchItem("deal:D1", "a98", "call")], NOW)
    view = h.view("rep:r1")
    assert view is not None and view.deals["D1"].touches == {"call": 5, "email": 7}
    assert touch_ids(h) == ["a98", "a99"]


@pytest.mark.parametrize(
    ("keep", "outbox"),
    [(0, "lost"), *((keep, sent) for keep in (0, 1, 0.5, None) for sent in ("once", "twice"))],
)
def test_a_crash_of_the_forgetting_batch_replays_to_the_same_figures(
    keep: int | float | None, outbox: str
) -> None:
    """Crashed with part of its state written (the worker writes a batch's state only once
    what it sent is in Kafka: sent once or twice), or before anything (its sends lost)."""
    clean = setup()
    clean.run([written_tick()], NOW)
    for partition in range(3):
        h = setup()
        h.crash_and_replay(
            [written_tick()], NOW, keep_writes=keep, outbox=outbox, partition=partition
        )
        h.run([written_tick()], NOW)
        h.run(old_events()[:10], NOW)  # repeats: late, or duplicates where not yet pruned
        assert figures(h) == figures(clean), (partition, keep, outbox)
        assert touch_ids(h) == [], (partition, keep, outbox)


def test_touches_after_a_forgetting_go_on_counting_once() -> None:
    """A deal whose ids were forgotten keeps its touch records (read although its state
    holds fewer than the limit of ids), and new touches add to them."""
    h = setup()
    h.run([written_tick()], NOW)
    state: DealState = h.records(DEAL_STATE)[("deal:D1", DEAL_STATE)]
    assert state.touches_spilled and state.touch_ids == []
    later = [
        activity(f"late{n}", "r1", "t1", f"2026-11-20T18:{n:02d}:00Z", deal_id="D1")
        for n in range(4)
    ]
    h.run(later, NOW)
    h.run(later, NOW)  # repeats within the grace: duplicates
    view = h.view("rep:r1")
    assert view is not None and view.deals["D1"].touches == {"call": 8, "email": 6}
    assert sorted(touch_ids(h)) == [f"late{n}" for n in range(4)]


def test_a_day_folded_before_its_hours_were_pruned_forgets_their_touches() -> None:
    """A Tick far past the grace folds the whole day (before pruning its hours): the day's
    touches are forgotten there."""
    h = Harness(partitions=3)
    h.run(old_events(), NOW)
    week_later = utc(2026, 11, 25, 12)
    at = week_later.isoformat().replace("+00:00", "Z")
    h.run([activity(f"n-{rep}", rep, "t1", at) for rep in ("r1", "r2")], NOW)
    h.run([written_tick(week_later)], NOW)
    assert h.records(HOUR) == {} or all(not r.touched for r in h.records(HOUR).values())
    assert touch_ids(h) == [] and touch_ids(h, "D2") == []


def test_forget_keeps_counts_and_drops_ids_wherever_they_are() -> None:
    state = DealState(touch_ids=["a", "b", "c"], touches={"call": 3})
    held = {
        ("deal:D1", TOUCHES, 1): TouchRecord(ids=["d", "e", "f"], touches={"email": 3}),
        ("deal:D1", TOUCHES, 2): TouchRecord(ids=["g"], touches={"call": 1}),
    }
    touches = DealTouches.load("deal:D1", state, held.get, LIMIT)
    changed, records = touches.forget(["b", "e", "g", "unknown"])
    assert changed and state.touch_ids == ["a", "c"] and state.touches_spilled
    assert [(key[2], record.ids) for key, record in records] == [(1, ["d", "f"]), (2, [])]
    assert touches.totals() == {"call": 4, "email": 3}
    assert touches.forget(["b", "unknown"]) == (False, [])
    again = DealTouches.load("deal:D1", state, held.get, LIMIT)  # fewer ids, records read
    assert again.ids == {"a", "c", "d", "f"}
    key, record = again.add("h", "demo", LIMIT)
    assert key == ("deal:D1", TOUCHES, 2) and record.ids == ["h"]


def test_forget_items_are_split_to_bound_their_size() -> None:
    h = Harness(partitions=1)
    busy = [touch(n, "r1", 8) for n in range(7)]
    h.run(busy, NOW)
    h.run(newer_events()[:1], NOW)
    result = h.process(0, [written_tick()], NOW)
    forgets = [item for item in result.outbox if isinstance(item, ForgetTouches)]
    assert [len(item.event_ids) for item in forgets] == [3, 3, 1]
    assert {i for item in forgets for i in item.event_ids} == {f"a{n}" for n in range(7)}


def test_a_crash_after_the_deal_forgot_counts_a_repeat_once() -> None:
    """The rep's Tick is lost after its forgets reached the deal: the rep's hours still hold
    the ids, a repeat is recognised there and sends its touch again, which the deal knows
    by its time: before what the rep's partition said it forgot."""
    h = setup()
    before = figures(h)
    p = h.partition_of("rep:r1")
    crashed = h.process(p, [written_tick()], NOW)  # its state never written
    assert any(isinstance(item, ForgetTouches) for item in crashed.outbox)
    h.run(crashed.outbox, NOW)  # what it sent was delivered
    h.restart(p)
    h.run([touch(n, "r1", 9) for n in range(1, 10, 2)], NOW)
    assert sum(h.duplicates.values()) == 5 and h.deadletters == []
    assert figures(h) == before
    h.run([written_tick()], NOW)
    assert touch_ids(h) == [] and figures(h) == before


def test_a_tick_from_a_partition_with_nothing_folded_prunes_nothing() -> None:
    """Before its first Tick is written a partition's store holds no folded instant: its
    Tick says -inf, and nothing is pruned (pruned then, the hours' touches could never be
    forgotten)."""
    h = setup()
    h.run([Tick(written_folded_before=float("-inf"))], NOW)
    assert touch_ids(h) == sorted(f"a{n}" for n in range(10))
    assert len(touched(h)) == 11
    records: dict[Any, HourRecord] = h.records(HOUR)
    assert sum(len(record.ids) for record in records.values()) == 13


def test_a_deal_id_no_deal_event_can_carry_touches_nothing_and_keeps_records_small() -> None:
    """An activity's deal_id is not limited (the contract says string), a deal event's is
    (128 characters): a longer one names no deal, so it touches none. Remembered in its hour
    record, three 60 KB deal_ids made a 180 KB record here (3 ids a record), and some 20
    would pass Kafka's 1 MiB message limit: every checkpoint of the partition would fail."""
    h = Harness(partitions=1)
    long_ids = [f"{n:03d}" + "d" * 60_000 for n in range(20)]
    h.run([touch(n, "r1", 8, deal_id=long_ids[n]) for n in range(20)], NOW)
    store = h.parts[0].store
    assert max(len(value) for value in store.values()) < 64 * 1024
    assert touched(h) == [] and not any(key[0].startswith("deal:") for key in h.records(DEAL_STATE))
    longest = "x" * 128  # the longest a deal event carries still touches its deal
    h.run([touch(30, "r1", 8, deal_id=longest)], NOW)
    assert touch_ids(h, longest) == ["a30"]
