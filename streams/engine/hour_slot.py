"""The records of one scope's hour as a batch sees them: the first record and its spills.

A record holds at most a fixed number of event ids (state.MAX_IDS_PER_RECORD); a busy
hour's later events go to spill records, each with its own counts, so a write never grows
with the hour and a record's counts always travel with the ids of the events they count.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from collections.abc import Set as AbstractSet
from typing import Any

from streams.engine.state import HOUR, HourRecord

Key = tuple[Any, ...]


class HourSlot:
    """(A plain class, not a dataclass: compiled, its `__init__` is native.)"""

    scope: str
    hour: int
    #: (key, record) of the first record (None: not written yet), then of each live spill
    records: list[tuple[Key, HourRecord | None]]
    #: the number a new spill takes: past every spill the table may still hold
    next_spill: int
    #: the ids of the events the hour's records counted before this batch (read only: it
    #: may be the views' own set, `ScopeView.hour_ids`)
    seen: AbstractSet[str]
    #: the ids of the events this batch counted in the hour
    ids: set[str]

    def __init__(
        self,
        scope: str,
        hour: int,
        records: list[tuple[Key, HourRecord | None]],
        next_spill: int,
        seen: AbstractSet[str],
        ids: set[str],
    ) -> None:
        self.scope = scope
        self.hour = hour
        self.records = records
        self.next_spill = next_spill
        self.seen = seen
        self.ids = ids

    @classmethod
    def load(
        cls,
        scope: str,
        hour: int,
        load: Callable[[Key], HourRecord | None],
        spill_numbers: Iterable[int],
        seen: AbstractSet[str],
    ) -> HourSlot:
        """`seen`: the ids the records hold (the views know them: `ScopeView.hour_ids`)."""
        base_key = (scope, HOUR, hour)
        base = load(base_key)
        absorbed = base.absorbed if base is not None else 0
        numbers = sorted(spill_numbers)
        records: list[tuple[Key, HourRecord | None]] = [(base_key, base)]
        for n in numbers:
            if n > absorbed:
                key = (scope, HOUR, hour, n)
                record = load(key)
                if record is not None:
                    records.append((key, record))
        return HourSlot(scope, hour, records, max([absorbed, *numbers]) + 1, seen, set())

    @classmethod
    def new(cls, scope: str, hour: int) -> HourSlot:
        """An hour the table holds no record of."""
        return HourSlot(scope, hour, [((scope, HOUR, hour), None)], 1, frozenset(), set())

    def counted(self, event_id: str) -> bool:
        return event_id in self.ids or event_id in self.seen

    def present(self) -> list[HourRecord]:
        return [record for _, record in self.records if record is not None]

    def current(self, limit: int) -> tuple[Key, HourRecord]:
        """The record the hour's next event goes to: the last one, or a new spill once the
        last holds `limit` ids."""
        key, record = self.records[-1]
        if record is None:
            record = HourRecord()
            self.records[-1] = (key, record)
        elif len(record.ids) >= limit:
            key = (self.scope, HOUR, self.hour, self.next_spill)
            self.next_spill += 1
            record = HourRecord()
            self.records.append((key, record))
        return key, record
