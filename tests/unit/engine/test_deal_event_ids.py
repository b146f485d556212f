"""A busy deal's event ids spread over records of bounded size, like its touches.

A deal's state holds the ids of at most MAX_IDS_PER_RECORD of its events (here 3); later ones
go to id records 1, 2, ... A deal updated every few seconds within the late grace kept them
all in its state, and some 30,000 passed the 4 MiB a changelog record holds: the worker
stopped. Repeats stay duplicates whichever record holds them, a crash anywhere replays to
the clean result, and the Tick that drops the ids once the deal is past the grace deletes
the records too.
"""

from __future__ import annotations

from typing import Any

import pytest

from streams.domain.vocabulary import LATE_EVENT
from streams.engine import processor
from streams.engine.deal_ids import DealEventIds
from streams.engine.items import RawEvent
from streams.engine.state import DEAL_IDS, DEAL_STATE, DealIdRecord, DealState
from tests.unit.engine.scope_harness import Harness, Oracle, close, crash_batch, deal, utc

NOW = utc(2026, 11, 27, 18)
LIMIT = 3
SCOPES = ("rep:r1", "rep:r2", "team:t1", "team:t2")
PERIODS = ("2026-11-20", "2026-W47", "2026-11")


@pytest.fixture(autouse=True)
def small_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(processor, "MAX_IDS_PER_RECORD", LIMIT)


def events() -> list[RawEvent]:
    """Eleven events of D1 moving between reps and outcomes, a tie at the end (the later
    processed wins), and one event of D2."""
    outcomes = ["open", "won", "lost", "reopened", "won"]
    d1 = [
        deal(f"e{i}", "D1", f"r{1 + i % 2}", f"t{1 + i % 2}", f"2026-11-20T{8 + i:02d}:00:00Z",
             outcomes[i % 5], 100 + i, created_at="2026-11-01T09:00:00Z")
        for i in range(10)
    ]  # fmt: skip
    tie = deal("e-tie", "D1", "r1", "t1", "2026-11-20T17:00:00Z", "won", 999)
    other = deal("f1", "D2", "r2", "t2", "2026-11-20T13:00:00Z", "won", 500)
    return [*d1[:5], other, *d1[5:], tie]


def harness() -> Harness:
    return Harness(partitions=3)


def check_oracle(h: Harness, items: list[RawEvent]) -> None:
    oracle = Oracle(items, h.tz, h.fx)
    for scope in SCOPES:
        for period in PERIODS:
            got, want = h.figures(scope, period, NOW), oracle.figures(scope, period)
            assert close(got, want), (scope, period, got, want)


def id_records(h: Harness) -> dict[tuple[Any, ...], DealIdRecord]:
    return {k: v for k, v in h.records(DEAL_IDS).items() if k[0] == "deal:D1"}


@pytest.mark.parametrize("batch_size", [None, 1, 4])
def test_a_busy_deal_keeps_its_event_ids_in_records_of_bounded_size(
    batch_size: int | None,
) -> None:
    h = harness()
    h.run(events(), NOW, batch_size=batch_size)
    assert h.deadletters == []
    state = h.records(DEAL_STATE)[("deal:D1", DEAL_STATE)]
    records = id_records(h)
    assert len(state.ids) == LIMIT and state.ids_spilled
    assert sorted(k[2] for k in records) == [1, 2, 3]
    assert all(len(r.ids) <= LIMIT for r in records.values())
    ids = [*state.ids, *(i for r in records.values() for i in r.ids)]
    assert sorted(ids) == sorted([*(f"e{i}" for i in range(10)), "e-tie"])
    assert h.records(DEAL_STATE)[("deal:D2", DEAL_STATE)].ids == ["f1"]
    check_oracle(h, events())


def test_a_repeat_is_a_duplicate_whichever_record_holds_its_id() -> None:
    """e0's id is in the state, e9's in the last record: a repeat of any event, the
    current one's tie partner included, changes nothing."""
    h = harness()
    h.run(events(), NOW, batch_size=2)
    before = h.shown(SCOPES, PERIODS, NOW)
    h.run(events(), NOW)
    h.run(list(reversed(events())), NOW, batch_size=1)
    assert sum(h.duplicates.values()) == 2 * len(events())
    assert h.shown(SCOPES, PERIODS, NOW) == before
    check_oracle(h, events())


@pytest.mark.parametrize("outbox", ["lost", "twice"])
@pytest.mark.parametrize("keep", [0, 1, 0.5, None])
@pytest.mark.parametrize("victim", range(0, 12, 2))
def test_a_crash_of_any_batch_replays_to_the_clean_result(
    victim: int, keep: int | float | None, outbox: str
) -> None:
    clean = harness()
    clean.run(events(), NOW, batch_size=2)
    h = harness()
    h.run(events(), NOW, batch_size=2, crash=crash_batch(victim, keep, outbox))
    assert h.shown(SCOPES, PERIODS, NOW) == clean.shown(SCOPES, PERIODS, NOW)
    check_oracle(h, events())


def test_the_tick_past_the_grace_drops_the_state_ids_and_deletes_the_records() -> None:
    h = Harness(partitions=1)  # stream time is a partition's
    h.run(events(), NOW)
    assert id_records(h)
    later = deal("g1", "D3", "r1", "t1", "2026-11-29T09:00:00Z", "open", 1)  # D1 is past
    h.run([later], NOW)
    h.tick(NOW)
    assert h.records(DEAL_STATE)[("deal:D1", DEAL_STATE)].ids == []
    assert not h.records(DEAL_STATE)[("deal:D1", DEAL_STATE)].ids_spilled
    assert id_records(h) == {}
    # a repeat of a spilled id is late now, never counted again
    before = h.shown(SCOPES, PERIODS, NOW)
    h.run([events()[-2]], NOW)
    assert [d.reason for d in h.deadletters] == [LATE_EVENT]
    assert h.shown(SCOPES, PERIODS, NOW) == before


def test_a_deal_reads_its_id_records_only_once_its_state_is_full() -> None:
    asked: list[tuple[Any, ...]] = []
    held = {("deal:D1", DEAL_IDS, 1): DealIdRecord(ids=["x"])}

    def load(key: tuple[Any, ...]) -> DealIdRecord | None:
        asked.append(key)
        return held.get(key)

    assert DealEventIds.load("deal:D1", DealState(ids=["a", "b"]), load, LIMIT).records == []
    assert asked == []
    full = DealEventIds.load("deal:D1", DealState(ids=["a", "b", "c"]), load, LIMIT)
    assert asked == [("deal:D1", DEAL_IDS, 1), ("deal:D1", DEAL_IDS, 2)]
    assert full.ids == {"a", "b", "c", "x"}
