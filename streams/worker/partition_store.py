"""The scopes table's local store, read and written one partition at a time by the batch path.

Faust's Table API reads a key through several layers (its `get` asks `__contains__` and then
`__getitem__`: two RocksDB reads) and remembers every key it ever saw in an in-memory index.
The batch path always knows the partition of the keys it folds, so with RocksDB it reads that
partition's database directly and writes a fold's records in one WriteBatch. Other stores
(`memory://`) go through the table as before, inside the partition's event context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import rocksdict
from faust.stores.rocksdb import Store as RocksDBStore

Reader = Callable[[bytes], bytes | None]


class PartitionStore:
    """The batch path's way into the scopes table's local store (see the module docstring)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    @property
    def _rocksdb(self) -> Any:
        """The table's RocksDB store when it is the rocksdict one, else None."""
        store = self.table.data
        if isinstance(store, RocksDBStore) and store.rocksdb_options.use_rocksdict:
            return store
        return None

    def reader(self, partition: int) -> Reader:
        """Raw value of a key of `partition` (None: absent). Call inside the partition's
        event context when the store is not RocksDB."""
        store = self._rocksdb
        if store is None:
            return self.table.get  # type: ignore[no-any-return]
        db = store._db_for_partition(partition)
        return db.get  # type: ignore[no-any-return]

    def write(self, partition: int, writes: dict[bytes, bytes | None]) -> None:
        """Put (or delete, for None) each record of `partition` in the local store."""
        store = self._rocksdb
        if store is None:
            data = self.table.data
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
