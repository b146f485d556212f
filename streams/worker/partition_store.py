"""The scopes table's local store, read and written one partition at a time by the batch path.

Faust's Table API reads a key through several layers (its `get` asks `__contains__` and then
`__getitem__`: two RocksDB reads) and remembers every key it ever saw in an in-memory index.
The batch path always knows the partition of the keys it folds, so with RocksDB it reads that
partition's database directly and writes a checkpoint's records in one WriteBatch. Other
stores (`memory://`) go through the table, inside the partition's event context.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import Any

import rocksdict
from faust.stores.rocksdb import Store as RocksDBStore
from faust.streams import _current_event
from faust.types import TP

Reader = Callable[[bytes], bytes | None]


class _PartitionEvent:
    """What Faust's table and store read from the current event: its topic and partition."""

    def __init__(self, topic: str, partition: int) -> None:
        self.message = SimpleNamespace(topic=topic, partition=partition)


@contextmanager
def partition_context(topic: str, partition: int) -> Iterator[None]:
    """Table reads and writes inside go to the store and changelog partition of `partition`."""
    event = _PartitionEvent(topic, partition)
    token = _current_event.set(weakref.ref(event))  # type: ignore[arg-type]
    try:
        yield
    finally:
        _current_event.reset(token)


class PartitionStore:
    """The batch path's way into the scopes table's local store (see the module docstring).

    `source_topic` is the topic the table is partitioned like (the internal scopes topic).
    """

    def __init__(self, table: Any, source_topic: str) -> None:
        self.table = table
        self.source_topic = source_topic

    @property
    def changelog_topic(self) -> Any:
        return self.table.changelog_topic

    @property
    def _rocksdb(self) -> Any:
        """The table's RocksDB store when it is the rocksdict one, else None."""
        store = self.table.data
        if isinstance(store, RocksDBStore) and store.rocksdb_options.use_rocksdict:
            return store
        return None

    def reader(self, partition: int) -> Reader:
        """Raw value of a key of `partition` (None: absent)."""
        store = self._rocksdb
        if store is not None:
            return store._db_for_partition(partition).get  # type: ignore[no-any-return]
        table = self.table

        def get(key: bytes) -> bytes | None:
            with partition_context(self.source_topic, partition):
                return table.get(key)  # type: ignore[no-any-return]

        return get

    def write(self, partition: int, writes: dict[bytes, bytes | None]) -> None:
        """Put (or delete, for None) each record of `partition` in the local store."""
        store = self._rocksdb
        if store is None:
            data = self.table.data
            with partition_context(self.source_topic, partition):
                for key, value in writes.items():
                    if value is None:
                        data.pop(key, None)
                    else:
                        data[key] = value
            return
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in writes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, value)
        store._db_for_partition(partition).write(batch)

    def persisted(self, partition: int, changelog_offset: int) -> None:
        """Tell the store how far the changelog partition is applied to it, as Faust's table
        does after each changelog write, so a clean restart reads only what follows."""
        changelog = self.changelog_topic.get_topic_name()
        self.table.data.set_persisted_offset(TP(changelog, partition), changelog_offset)
