"""The decoded items of input records that a catch-up handed back, kept until they come again.

A catch-up hands back the records of a partition running ahead of a slower one (streams.
worker.alignment): they come back to the handler, often several times, before they are all
taken (from the delivery path, or fetched again after a rebalance). Each delivery decoded
them again: in a time-ordered catch-up of 100,000 events with the default grace, 432,649
decodes (`python -m bench --only salespulse --shapes live --events 100000 --worker-env
SALES_LATE_GRACE=P7D`, counted through a wrapper of `batch_handler.route`, when they were
fetched again each time). Kept here, a record is decoded once however often it comes back.

Kept per partition, by offset, and handed over a partition at a time: a method call per
record took 6 % of a catch-up's event loop. A kept item is used only for a record with the
very key and value decoded then (a topic deleted and made again reuses offsets). Only
accepted records are kept: a rejection may depend on the clock (future_event_time), an
acceptance does not turn into one as the clock moves on. Plain logic, no Kafka.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

#: records kept at most; past it the partitions kept longest go first, and their records are
#: decoded again when they come. One partition's records are kept whatever their number (a
#: fetch's worth, thousands: far below the bound). Each partition ahead keeps what it last
#: fetched: 69,568 at most in that catch-up (8 partitions per topic; its peak RSS did not
#: move, 396 MiB against 397 decoding again). An activity's entry takes some 1.1 KB (its item
#: 905 bytes, measured, and its value), so the bound is some 110 MB
MAX_HELD_DECODES = 100_000

#: offset -> (key, value, item) of one partition's records
Entries = dict[int, tuple[bytes | None, bytes | None, Any]]


class HeldDecodes:
    """Per partition, the items of its records handed back, by offset."""

    def __init__(self, limit: int = MAX_HELD_DECODES) -> None:
        self.limit = limit
        #: oldest first (a partition moved to another worker leaves its entries, never taken)
        self._partitions: dict[Hashable, Entries] = {}
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def take(self, partition: Hashable) -> Entries:
        """The partition's entries, which it no longer holds: those of records handed back
        again go back in with `keep`."""
        entries = self._partitions.pop(partition, None)
        if entries is None:
            return {}
        self._count -= len(entries)
        return entries

    def keep(self, partition: Hashable, entries: Entries) -> None:
        """Keep a partition's entries (replacing what it held), the oldest partitions going
        first past the limit."""
        self._count -= len(self._partitions.pop(partition, {}))
        if not entries:
            return
        while self._partitions and self._count + len(entries) > self.limit:
            oldest = next(iter(self._partitions))
            self._count -= len(self._partitions.pop(oldest))
        self._partitions[partition] = entries
        self._count += len(entries)


def item_kept(entries: Entries, record: Any) -> Any | None:
    """The item kept for this very record (same offset, key and value), or None."""
    entry = entries.get(record.offset)
    if entry is None or entry[1] != record.value or entry[0] != record.key:
        return None
    return entry[2]
