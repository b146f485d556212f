"""The decoded items of input records that a catch-up handed back, kept until they come again.

A catch-up hands back the records of a partition running ahead of a slower one (streams.
worker.alignment): they are sought back to and fetched again, often several times before
they are taken. Each delivery decoded them again: in a time-ordered catch-up of 100,000
events with the default grace, 432,649 decodes (`python -m bench --only salespulse --shapes
live --events 100000 --worker-env SALES_LATE_GRACE=P7D`, counted through a wrapper of
`batch_handler.route`). Kept here, a record is decoded once however often it comes back.

A record is known by its topic, partition and offset, and its key and value must be the very
bytes decoded before (a topic deleted and made again reuses offsets). Only accepted records are
kept: a rejection may depend on the clock (future_event_time), an acceptance does not turn
into one as the clock moves on. Plain logic, no Kafka: the caller hands the records in.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

#: entries kept at most; past it the oldest go, and their records are decoded again when they
#: come. Each partition ahead keeps what it last fetched: 69,568 at most in that catch-up (8
#: partitions per topic; its peak RSS did not move, 396 MiB against 397 decoding again). An
#: activity's entry takes some 1.1 KB (its item 905 bytes, measured, and its value), so the
#: bound is some 110 MB
MAX_HELD_DECODES = 100_000


class HeldDecodes:
    """(topic, partition, offset) -> (the key and value decoded, their item)."""

    def __init__(self, limit: int = MAX_HELD_DECODES) -> None:
        self.limit = limit
        #: oldest first: past the limit the oldest entry goes (a partition moved to another
        #: worker leaves its entries behind, never taken)
        self._items: OrderedDict[tuple[str, int, int], tuple[bytes | None, bytes | None, Any]] = (
            OrderedDict()
        )

    def __len__(self) -> int:
        return len(self._items)

    def take(self, record: Any) -> Any | None:
        """The item decoded from this record when it was handed back (None: none kept, or
        the bytes at its offset are not those decoded then). The entry goes either way: a
        record handed back again is kept again (`keep`)."""
        entry = self._items.pop((record.topic, record.partition, record.offset), None)
        if entry is None:
            return None
        key, value, item = entry
        return item if value == record.value and key == record.key else None

    def keep(self, record: Any, item: Any) -> None:
        """Keep the item of a record handed back, for when it comes again."""
        if len(self._items) >= self.limit:
            self._items.popitem(last=False)
        self._items[(record.topic, record.partition, record.offset)] = (
            record.key,
            record.value,
            item,
        )
