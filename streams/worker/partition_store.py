"""The scopes table's local store, read and written one partition at a time by the batch path.

Faust's Table API reads a key through several layers (its `get` asks `__contains__` and then
`__getitem__`: two RocksDB reads) and remembers every key it ever saw in an in-memory index.
The batch path always knows the partition of the keys it folds, so it reads that partition
of the store directly (a RocksDB database per partition, or the memory store's dict) and
writes a checkpoint's records and the changelog's meta in one write
(streams.worker.framed_store).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from faust.types import TP

from streams.worker.changelog_frames import LogMeta

Reader = Callable[[bytes], bytes | None]


class PartitionStore:
    """The batch path's way into the scopes table's local store (see the module docstring).

    The table's store is one of streams.worker.framed_store's.
    """

    def __init__(self, table: Any) -> None:
        self.table = table

    @property
    def changelog_topic(self) -> Any:
        return self.table.changelog_topic

    def _partition(self, partition: int) -> Any:
        return self.table.data.partition(partition)

    def reader(self, partition: int) -> Reader:
        """Raw value of a key of `partition` (None: absent)."""
        return self._partition(partition).reader()  # type: ignore[no-any-return]

    def items(self, partition: int) -> Iterator[tuple[bytes, bytes]]:
        """Every state record of `partition` (for a snapshot of the changelog)."""
        return self._partition(partition).state_items()  # type: ignore[no-any-return]

    def meta(self, partition: int) -> LogMeta:
        """Where `partition`'s changelog stands (streams.worker.changelog_frames)."""
        return self._partition(partition).meta()  # type: ignore[no-any-return]

    def write(
        self, partition: int, writes: dict[bytes, bytes | None], meta: LogMeta | None = None
    ) -> None:
        """Put (or delete, for None) each record of `partition` in the local store, with the
        changelog's new meta, in one write."""
        self._partition(partition).write(writes, meta)

    def persisted_offset(self, partition: int) -> int | None:
        """The last changelog offset written to `partition`'s local store (None: not known,
        as with the memory store)."""
        changelog = self.changelog_topic.get_topic_name()
        return self.table.data.persisted_offset(TP(changelog, partition))  # type: ignore[no-any-return]

    def persisted(self, partition: int, changelog_offset: int) -> None:
        """Tell the store how far the changelog partition is applied to it, as Faust's table
        does after each changelog write, so a clean restart reads only what follows."""
        changelog = self.changelog_topic.get_topic_name()
        self.table.data.set_persisted_offset(TP(changelog, partition), changelog_offset)
