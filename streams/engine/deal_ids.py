"""The event ids of one deal as a batch sees them: those its state holds, then id records.

A deal's state holds the ids of its first MAX_IDS_PER_RECORD applied events; later ones go
to id records numbered 1, 2, ..., so a write never grows with the deal's events. All of them
go together once the deal's latest event is past the late grace (processor.prune_deal_ids).
The id records and the state are written by one checkpoint of one partition, which lands
whole, so a replayed event is a duplicate exactly when the state it changed survived.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from streams.engine.id_spills import ids_with_spills, read_spills, spill_with_room
from streams.engine.state import DEAL_IDS, DealIdRecord, DealState

Key = tuple[Any, ...]


class DealEventIds:
    """(A plain class, not a dataclass: compiled, its `__init__` is native.)"""

    scope: str
    state: DealState
    #: (key, record) of each id record, in order
    records: list[tuple[Key, DealIdRecord]]
    ids: set[str]

    def __init__(
        self, scope: str, state: DealState, records: list[tuple[Key, DealIdRecord]], ids: set[str]
    ) -> None:
        self.scope = scope
        self.state = state
        self.records = records
        self.ids = ids

    @classmethod
    def load(
        cls, scope: str, state: DealState, load: Callable[[Key], DealIdRecord | None], limit: int
    ) -> DealEventIds:
        """Id records are written in order, so they are read until the first missing; a deal
        whose state is short of `limit` ids has none (most deals: no store read)."""
        records: list[tuple[Key, DealIdRecord]] = []
        if state.ids_spilled or len(state.ids) >= limit:
            records = read_spills(scope, DEAL_IDS, load)
        return DealEventIds(scope, state, records, ids_with_spills(state.ids, records))

    def add(self, event_id: str, limit: int) -> tuple[Key, DealIdRecord] | None:
        """Keep a new event's id; returns the id record it went to (None: the state)."""
        self.ids.add(event_id)
        if not self.records and len(self.state.ids) < limit:
            self.state.ids.append(event_id)
            return None
        self.state.ids_spilled = True
        key, record = spill_with_room(self.records, self.scope, DEAL_IDS, limit, DealIdRecord)
        record.ids.append(event_id)
        return key, record

    def clear(self) -> list[Key]:
        """Forget every id; returns the keys of the id records to delete."""
        gone = [key for key, _ in self.records]
        self.state.ids = []
        self.state.ids_spilled = False
        self.records = []
        self.ids = set()
        return gone
