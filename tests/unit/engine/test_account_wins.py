"""An account's won deals over records of bounded size (streams.engine.account_wins): what
the records hold after any sequence of wins and retractions, read back as a batch reads
them."""

from __future__ import annotations

import random
from typing import Any

import pytest

from streams.engine.account_wins import AccountWinsSet
from streams.engine.state import ACCOUNT, AccountWins

LIMIT = 3
SCOPE = "account:A"


class Store:
    """The records as the fold's writes leave them."""

    def __init__(self) -> None:
        self.records: dict[tuple[Any, ...], AccountWins] = {}

    def apply(self, writes: list[tuple[tuple[Any, ...], AccountWins | None]]) -> None:
        for key, record in writes:
            if record is None:
                self.records.pop(key, None)
            else:
                self.records[key] = record

    def loaded(self) -> AccountWinsSet:
        return AccountWinsSet.load(SCOPE, self.records.get, LIMIT)

    def sizes(self) -> list[int]:
        """Deals per record, the account's own first, then its spills in order."""
        keys = sorted(self.records, key=lambda key: 0 if len(key) == 2 else key[2])
        return [len(self.records[key].won) for key in keys]


def test_wins_fill_the_accounts_record_then_spills_in_order() -> None:
    store = Store()
    for n in range(8):
        store.apply(store.loaded().set(f"D{n}", 100.0 - n))
    assert store.sizes() == [3, 3, 2]
    assert set(store.records) == {(SCOPE, ACCOUNT), (SCOPE, ACCOUNT, 1), (SCOPE, ACCOUNT, 2)}
    wins = store.loaded()
    assert wins.first() == (93.0, "D7")  # the earliest, in the last spill
    assert sorted(wins.deal_ids()) == [f"D{n}" for n in range(8)]


def test_a_retraction_is_filled_from_the_last_spill_and_an_emptied_spill_deleted() -> None:
    store = Store()
    for n in range(7):  # 3, 3, 1
        store.apply(store.loaded().set(f"D{n}", float(n)))
    writes = store.loaded().set("D0", None)  # the first win, in the account's own record
    assert [key for key, _ in writes] == [(SCOPE, ACCOUNT), (SCOPE, ACCOUNT, 2)]
    assert writes[1][1] is None  # D6 moved into the first record: its spill is gone
    store.apply(writes)
    assert store.sizes() == [3, 3]
    wins = store.loaded()
    assert wins.first() == (1.0, "D1")
    assert wins.won_at("D6") == 6.0 and wins.won_at("D0") is None
    # a retraction in the last record rewrites it alone
    assert [key for key, _ in wins.set("D5", None)] == [(SCOPE, ACCOUNT, 1)]


def test_an_account_record_of_an_earlier_version_past_the_limit_is_read_and_spills_on() -> None:
    store = Store()
    store.records[(SCOPE, ACCOUNT)] = AccountWins({f"D{n}": float(n) for n in range(5)})
    store.apply(store.loaded().set("D9", 0.5))
    assert store.sizes() == [5, 1]
    assert store.loaded().first() == (0.0, "D0")


def test_no_win_leaves_no_record() -> None:
    store = Store()
    store.apply(store.loaded().set("D1", 1.0))
    store.apply(store.loaded().set("D1", None))
    assert store.records == {}
    assert store.loaded().first() is None
    assert store.loaded().set("D2", None) == []


def test_a_tie_goes_to_the_smaller_deal_id_across_records() -> None:
    store = Store()
    for deal_id in ("D5", "D4", "D3", "D2"):  # D2 alone in the spill
        store.apply(store.loaded().set(deal_id, 7.0))
    assert store.loaded().first() == (7.0, "D2")


@pytest.mark.parametrize("seed", range(20))
def test_any_sequence_reads_back_as_a_plain_mapping_would_hold_it(seed: int) -> None:
    """Wins, changed instants and retractions, in one batch or over many: the records read
    back hold every won deal once, each but the last full, and the first win is the
    mapping's."""
    rnd = random.Random(seed)
    store, expected = Store(), {}
    wins = store.loaded()
    for _ in range(200):
        if rnd.random() < 0.3:  # a new batch: read back from the records
            wins = store.loaded()
        deal_id = f"D{rnd.randrange(25)}"
        won_at = None if rnd.random() < 0.35 else float(rnd.randrange(50))
        if won_at is None:
            expected.pop(deal_id, None)
        else:
            expected[deal_id] = won_at
        store.apply(wins.set(deal_id, won_at))
        sizes = store.sizes()
        assert all(size == LIMIT for size in sizes[:-1]) and (not sizes or sizes[-1] > 0), sizes
        back = store.loaded()
        assert {d: back.won_at(d) for d in back.deal_ids()} == expected
        want = min(((at, d) for d, at in expected.items()), default=None)
        assert back.first() == want == wins.first()
