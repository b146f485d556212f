"""A busy hour spreads over records of bounded size (issue 9: record sizes do not grow).

An hour record holds at most MAX_IDS_PER_RECORD event ids; the hour's later events go to
spill records, each with its own counts and ids. Here the limit is 3, so ten events of one
rep-hour take four records. Every repeat is still recognised, the figures are the oracle's,
a crash anywhere replays to the clean result, and once the hour is past the grace its first
record absorbs the spills (a crash in between counts nothing twice) before its day folds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from streams.engine import processor, rollups
from streams.engine.hour_slot import HourSlot
from streams.engine.items import RawEvent, Tick
from streams.engine.state import DAY, HOUR, HourRecord, make_key
from tests.unit.engine.scope_harness import Harness, Oracle, activity, close, crash_batch, feedback
from tests.unit.engine.test_rollups import assert_rebuild_equal

NOW = datetime(2026, 11, 27, 18, tzinfo=UTC)
LIMIT = 3
SCOPES = ("rep:r1", "rep:r2", "team:t1")
PERIODS = ("2026-11-02", "2026-11-13", "2026-W46", "2026-11")


@pytest.fixture(autouse=True, params=[1, 1000], ids=["ids-kept", "ids-built"])
def small_records(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> None:
    """Every hour with an id keeps its id set in the views between batches (1), or none
    does and each batch builds it from the records (1000)."""
    monkeypatch.setattr(processor, "MAX_IDS_PER_RECORD", LIMIT)
    monkeypatch.setattr(rollups, "BUSY_HOUR_IDS", request.param)


def busy_hour(day: str = "2026-11-13", hour: int = 8) -> list[RawEvent]:
    """Ten events of r1 in one hour (one of them feedback), two of r2 in its team."""
    at = f"{day}T{hour:02d}"
    events = [activity(f"a{i}", "r1", "t1", f"{at}:{i:02d}:00Z", "call") for i in range(9)]
    events.append(feedback("f1", "r1", "t1", f"{at}:30:00Z", csat=4, nps=10))
    events += [activity(f"b{i}", "r2", "t1", f"{at}:{i:02d}:30Z", "email") for i in range(2)]
    return events


def recent() -> list[RawEvent]:
    """Stream time 2026-11-20T10:00 on both partitions: with 7 days of grace, 11-13 08:00
    is past the grace as an hour, not as a day; 11-02 is past it as a day."""
    return [
        activity("n1", "r1", "t1", "2026-11-20T10:00:00Z"),
        activity("n2", "r2", "t1", "2026-11-20T10:00:00Z"),
    ]


ROUTE = {"rep:r1": 0, "team:t1": 1, "rep:r2": 1}


def harness() -> Harness:
    return Harness(partitions=2, route=lambda scope: ROUTE.get(scope, 1))


def hour_keys(h: Harness, scope: str = "rep:r1") -> list[tuple[Any, ...]]:
    return sorted((k for k in h.records(HOUR) if k[0] == scope), key=lambda k: (k[2], k[3:]))


def snapshot(h: Harness) -> dict[Any, Any]:
    return h.shown(SCOPES, PERIODS, NOW)


def check_oracle(h: Harness, events: list[RawEvent]) -> None:
    oracle = Oracle(events, h.tz, h.fx)
    for scope in SCOPES:
        for period in PERIODS:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)


@pytest.mark.parametrize("batch_size", [None, 1, 2, 4])
def test_a_busy_hour_spreads_over_records_of_bounded_size(batch_size: int | None) -> None:
    h = harness()
    h.run(busy_hour(), NOW, batch_size=batch_size)
    keys = hour_keys(h)
    assert [k[3:] for k in keys] == [(), (1,), (2,), (3,)]
    records: list[HourRecord] = [h.records(HOUR)[k] for k in keys]
    assert all(len(r.ids) <= LIMIT for r in records)
    assert sorted(i for r in records for i in r.ids) == sorted(
        ("f:" if e.kind == "feedback" else "a:") + e.payload.decode().split('"')[3]
        for e in busy_hour()
        if b'"r1"' in e.payload
    )
    team_hour = h.records(HOUR)[("team:t1", HOUR, keys[0][2])]
    assert team_hour.parts["r1"].counts == {"call": 9}
    assert team_hour.parts["r1"].satisfaction.csat_n == 1
    check_oracle(h, busy_hour())
    assert snapshot(h)[("rep:r1", "hour")] == [
        {"start": "2026-11-13T08:00:00+00:00", "total": 9, "counts": {"call": 9}}
    ]


def test_every_repeat_is_a_duplicate_whichever_record_holds_it() -> None:
    h = harness()
    h.run(busy_hour(), NOW, batch_size=2)
    more = activity("a9", "r1", "t1", "2026-11-13T08:59:00Z")
    h.run([*busy_hour(), more], NOW)
    assert sum(h.duplicates.values()) == len(busy_hour())
    check_oracle(h, [*busy_hour(), more])
    assert all(len(r.ids) <= LIMIT for r in h.records(HOUR).values())


@pytest.mark.parametrize("outbox", ["lost", "twice"])
@pytest.mark.parametrize("keep", [0, 1, 0.5, None])
@pytest.mark.parametrize("victim", range(6))
def test_a_crash_of_any_batch_replays_to_the_clean_result(
    victim: int, keep: int | float | None, outbox: str
) -> None:
    clean = harness()
    clean.run(busy_hour(), NOW, batch_size=2)
    h = harness()
    h.run(busy_hour(), NOW, batch_size=2, crash=crash_batch(victim, keep, outbox))
    assert snapshot(h) == snapshot(clean)
    check_oracle(h, busy_hour())


def test_past_the_grace_the_first_record_absorbs_the_spills() -> None:
    h = harness()
    h.run(busy_hour(), NOW, batch_size=2)
    h.run(recent(), NOW)
    before = snapshot(h)
    h.tick(NOW)
    keys = hour_keys(h)
    base = h.records(HOUR)[keys[0]]
    assert keys[0][3:] == () and base.ids == [] and base.absorbed == 3
    assert [k for k in keys if k[2] == keys[0][2]] == [keys[0]]  # the spills are gone
    assert base.parts["t1"].counts == {"call": 9}
    assert snapshot(h) == before
    check_oracle(h, [*busy_hour(), *recent()])
    assert_rebuild_equal(h)  # the Tick's indexes too: nothing left of the deleted spills


@pytest.mark.parametrize("keep", [0, 1, 2, 3])
def test_an_absorbing_batch_crashed_half_written_counts_nothing_twice(keep: int) -> None:
    h = harness()
    h.run(busy_hour(), NOW, batch_size=2)
    h.run(recent(), NOW)
    before = snapshot(h)
    h.crash_and_replay([Tick()], NOW, keep_writes=keep, partition=0)
    h.restart(0)
    assert snapshot(h) == before
    h.tick(NOW)
    busy = [k for k in hour_keys(h) if k[2] < NOW.timestamp() - 10 * 86_400]
    base = h.records(HOUR)[busy[0]]
    assert base.ids == [] and base.absorbed == 3
    # what a crash left of the spills stays until the day folds, absorbed: never counted
    assert all(k[3] <= base.absorbed for k in busy[1:])
    assert snapshot(h) == before


def test_absorbed_spills_left_by_a_crash_are_ignored_then_folded_with_the_day() -> None:
    h = harness()
    h.run(busy_hour("2026-11-02", 9), NOW, batch_size=2)
    h.run(recent(), NOW)
    want = snapshot(h)
    spills = {make_key(*k): h.parts[0].store[make_key(*k)] for k in hour_keys(h) if len(k) > 3}
    assert len(spills) == 3
    h.tick(NOW)  # absorbs (the day waits for that), then the next Tick folds the day
    assert [k[3:] for k in hour_keys(h) if k[2] < NOW.timestamp() - 10 * 86_400] == [()]
    h.parts[0].store.update(spills)  # as if the deletes of the spills had been lost
    h.restart(0)
    assert snapshot(h) == want
    h.tick(NOW)
    assert [k for k in hour_keys(h) if k[2] < NOW.timestamp() - 10 * 86_400] == []
    assert ("rep:r1", DAY, int(datetime(2026, 11, 2, tzinfo=UTC).timestamp())) in h.records(DAY)
    assert snapshot(h) == want
    assert_rebuild_equal(h)  # the folded day's hours are out of the Tick's indexes


# -- found by mutation testing ------------------------------------------------------------


SCOPE = "rep:r1"
H = 1_795_000_000  # an hour's start, epoch seconds


def loader(table: dict[tuple[Any, ...], HourRecord]) -> Any:
    return lambda key: table.get(key)


def test_a_spill_the_first_record_absorbed_is_not_loaded_again() -> None:
    """A crash between the absorbing write and the spills' deletion leaves spill 2 in the
    table although the first record holds it: counting it again would double it."""
    base = HourRecord(ids=[], parts={}, absorbed=2)
    s2, s3 = HourRecord(ids=["e2"]), HourRecord(ids=["e3"])
    table = {(SCOPE, HOUR, H): base, (SCOPE, HOUR, H, 2): s2, (SCOPE, HOUR, H, 3): s3}
    slot = HourSlot.load(SCOPE, H, loader(table), [3, 2], frozenset())
    assert slot.present() == [base, s3]
    assert slot.next_spill == 4


def test_without_a_first_record_no_spill_counts_as_absorbed() -> None:
    s1 = HourRecord(ids=["e1"])
    slot = HourSlot.load(SCOPE, H, loader({(SCOPE, HOUR, H, 1): s1}), [1], frozenset())
    assert slot.present() == [s1]
    assert slot.records[0] == ((SCOPE, HOUR, H), None)
