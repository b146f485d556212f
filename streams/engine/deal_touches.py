"""The touches of one deal as a batch sees them: those its state holds, then touch records.

A deal's state holds the ids of at most MAX_IDS_PER_RECORD touches (applied activities that
carry its deal_id) with their counts; later touches go to touch records numbered 1, 2, ...,
each with its own ids and counts, so a write never grows with the deal's activity and a
count always travels with the ids that make a repeat a duplicate. Once the touching rep's
partition can never send a touch again, the deal forgets its id (`forget`); its count stays
where it was.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from streams.engine.id_spills import ids_with_spills, read_spills, spill_with_room
from streams.engine.state import TOUCHES, DealState, TouchRecord

Key = tuple[Any, ...]


class DealTouches:
    """(A plain class, not a dataclass: compiled, its `__init__` is native.)"""

    scope: str
    state: DealState
    #: (key, record) of each touch record, in order
    records: list[tuple[Key, TouchRecord]]
    ids: set[str]

    def __init__(
        self, scope: str, state: DealState, records: list[tuple[Key, TouchRecord]], ids: set[str]
    ) -> None:
        self.scope = scope
        self.state = state
        self.records = records
        self.ids = ids

    @classmethod
    def load(
        cls,
        scope: str,
        state: DealState,
        load: Callable[[Key], TouchRecord | None],
        limit: int,
    ) -> DealTouches:
        """Touch records are written in order, so they are read until the first missing.

        A deal has none until its state holds `limit` touch ids (`add`, and the state is
        written with them, marked `touches_spilled`: one checkpoint, one atomic write), so
        a deal short of it, most of them, reads none: on wide input that was a store read
        of an absent key for half of the events. `limit` must be the one `add` was given
        when they were written (a state written before the mark is full when spilled)."""
        records: list[tuple[Key, TouchRecord]] = []
        if state.touches_spilled or len(state.touch_ids) >= limit:
            records = read_spills(scope, TOUCHES, load)
        return DealTouches(scope, state, records, ids_with_spills(state.touch_ids, records))

    def add(self, event_id: str, activity: str, limit: int) -> tuple[Key | None, TouchRecord]:
        """Count a new touch; returns the touch record it went to (None: the state)."""
        self.ids.add(event_id)
        if not self.records and len(self.state.touch_ids) < limit:
            self.state.touch_ids.append(event_id)
            self.state.touches[activity] = self.state.touches.get(activity, 0) + 1
            return None, TouchRecord()
        self.state.touches_spilled = True
        key, record = spill_with_room(self.records, self.scope, TOUCHES, limit, TouchRecord)
        record.ids.append(event_id)
        record.touches[activity] = record.touches.get(activity, 0) + 1
        return key, record

    def forget(self, event_ids: Iterable[str]) -> tuple[bool, list[tuple[Key, TouchRecord]]]:
        """Drop these touch ids (their counts stay): whether the state changed, and the
        touch records that did."""
        gone = self.ids.intersection(event_ids)
        if not gone:
            return False, []
        self.ids -= gone
        state = self.state
        kept = [i for i in state.touch_ids if i not in gone]
        state_changed = len(kept) != len(state.touch_ids)
        state.touch_ids = kept
        if self.records and not state.touches_spilled:
            state.touches_spilled = state_changed = True  # its records outlive a full state
        changed = []
        for key, record in self.records:
            ids = [i for i in record.ids if i not in gone]
            if len(ids) != len(record.ids):
                record.ids = ids
                changed.append((key, record))
        return state_changed, changed

    def totals(self) -> dict[str, int]:
        """Touches per activity type, over the state and every touch record."""
        out = dict(self.state.touches)
        for _, record in self.records:
            for activity, n in record.touches.items():
                out[activity] = out.get(activity, 0) + n
        return dict(sorted(out.items()))
