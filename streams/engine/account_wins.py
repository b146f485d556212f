"""One account's currently won deals, as a batch sees them, over records of bounded size.

An account keeps each deal it has won now, to know its first win (`customers.new` and
`customers.repeat`) when a win is reopened or an earlier one arrives. Kept in one record,
that grew with the account's wins: some 90,000 of them passed the 4 MiB a changelog record
may hold, and the worker stopped. So the account's record holds at most `limit` deals and
the others go to spill records numbered 1, 2, ... Every record but the last is full: a
loader reads spills only when the account's record is full, and up to the first missing
one; a deal removed from a record makes room that one deal of the last record fills.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from streams.engine.id_spills import read_spills
from streams.engine.state import ACCOUNT, AccountWins

Key = tuple[Any, ...]


class AccountWinsSet:
    """(A plain class, not a dataclass: compiled, its `__init__` is native.)"""

    scope: str
    limit: int
    #: deal_id -> won instant, per record: the account's own first, then its spills
    records: list[dict[str, float]]
    #: deal_id -> the index of the record holding it
    where: dict[str, int]

    def __init__(self, scope: str, limit: int, records: list[dict[str, float]]) -> None:
        self.scope = scope
        self.limit = limit
        self.records = records
        self.where = {deal: i for i, record in enumerate(records) for deal in record}

    @classmethod
    def load(
        cls, scope: str, load: Callable[[Key], AccountWins | None], limit: int
    ) -> AccountWinsSet:
        """The account's records, copied (they change in place here, never in the store)."""
        first = load((scope, ACCOUNT))
        records = [dict(first.won) if first is not None else {}]
        if len(records[0]) >= limit:
            records += [dict(spill.won) for _, spill in read_spills(scope, ACCOUNT, load)]
        return AccountWinsSet(scope, limit, records)

    def key(self, index: int) -> Key:
        return (self.scope, ACCOUNT) if index == 0 else (self.scope, ACCOUNT, index)

    def won_at(self, deal_id: str) -> float | None:
        index = self.where.get(deal_id)
        return None if index is None else self.records[index][deal_id]

    def deal_ids(self) -> Iterable[str]:
        return self.where.keys()

    def first(self) -> tuple[float, str] | None:
        """(won instant, deal_id) of the account's first win; ties go to the smaller id."""
        if not self.where:
            return None
        return min((at, deal_id) for record in self.records for deal_id, at in record.items())

    def set(self, deal_id: str, won_at: float | None) -> list[tuple[Key, AccountWins | None]]:
        """A deal won at `won_at`, or not won now (None): the records to write (None: to
        delete), each a copy of this set's."""
        index = self.where.get(deal_id)
        if won_at is not None:
            if index is None:
                index = len(self.records) - 1
                if len(self.records[index]) >= self.limit:
                    index += 1
                    self.records.append({})
                self.where[deal_id] = index
            self.records[index][deal_id] = won_at
            return self.writes([index])
        if index is None:
            return []
        del self.records[index][deal_id]
        del self.where[deal_id]
        last = len(self.records) - 1
        if index == last:
            return self.writes([index])
        moved = next(iter(self.records[last]))
        self.records[index][moved] = self.records[last].pop(moved)
        self.where[moved] = index
        return self.writes([index, last])

    def writes(self, indexes: list[int]) -> list[tuple[Key, AccountWins | None]]:
        """These records as they are now; an emptied last spill is dropped."""
        out: list[tuple[Key, AccountWins | None]] = []
        for index in indexes:
            record = self.records[index]
            out.append((self.key(index), AccountWins(dict(record)) if record else None))
        while len(self.records) > 1 and not self.records[-1]:
            self.records.pop()
        return out
