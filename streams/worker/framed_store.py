"""Faust's RocksDB and memory stores, recovering the scopes table from a framed changelog
(streams.worker.changelog_frames): a frame's puts and deletes are applied, not stored as
one record under the frame's key.

Faust reads the changelog and calls `apply_changelog_batch` with its records; everything
else (offsets, standbys, partition assignment) stays Faust's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import rocksdict
from faust.stores import memory as faust_memory
from faust.stores import rocksdb as faust_rocksdb
from faust.types import TP

from streams.worker.changelog_frames import (
    META_KEY,
    LogMeta,
    Overlay,
    apply_ops,
    apply_record,
    decode_meta,
    encode_meta,
    is_state_key,
)
from streams.worker.hard_stop import disk_error, stop_without_commit
from streams.worker.store_memory import StoreMemory


class RocksDBPartition:
    """One partition's RocksDB database, as a PartitionTarget."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def get(self, key: bytes) -> bytes | None:
        return self.db.get(key)  # type: ignore[no-any-return]

    def reader(self) -> Callable[[bytes], bytes | None]:
        """The fold's read of a record: the database's own get, no call in between."""
        return self.db.get  # type: ignore[no-any-return]

    def put(self, key: bytes, value: bytes) -> None:
        self.db.put(key, value)

    def delete(self, key: bytes) -> None:
        self.db.delete(key)

    def state_keys(self) -> Iterable[bytes]:
        return (key for key in self.db.keys() if is_state_key(key))  # noqa: SIM118

    def state_items(self) -> Iterator[tuple[bytes, bytes]]:
        return ((key, value) for key, value in self.db.items() if is_state_key(key))

    def meta(self) -> LogMeta:
        return decode_meta(self.db.get(META_KEY))

    def write(self, writes: dict[bytes, bytes | None], meta: LogMeta | None) -> None:
        """The writes (None: delete) and the meta, in one atomic WriteBatch."""
        batch = rocksdict.WriteBatch(raw_mode=True)
        apply_ops(batch, writes.items())
        if meta is not None:
            batch.put(META_KEY, encode_meta(meta))
        self.db.write(batch)


class MemoryPartition:
    """One partition of the memory store, as a PartitionTarget: its state records live in the
    store's dict (Faust's table reads them there), the rest beside it."""

    def __init__(self, store: FramedMemoryStore, partition: int) -> None:
        self.store = store
        self.partition = partition
        self.reserved = store.reserved[partition]

    def get(self, key: bytes) -> bytes | None:
        if is_state_key(key):
            return self.store.data.get(key)  # type: ignore[no-any-return]
        return self.reserved.get(key)

    def reader(self) -> Callable[[bytes], bytes | None]:
        return self.get

    def put(self, key: bytes, value: bytes) -> None:
        if is_state_key(key):
            self.store.data[key] = value
            self.store._key_partition[key] = self.partition
        else:
            self.reserved[key] = value

    def delete(self, key: bytes) -> None:
        if is_state_key(key):
            self.store.data.pop(key, None)
            self.store._key_partition.pop(key, None)
        else:
            self.reserved.pop(key, None)

    def state_keys(self) -> Iterable[bytes]:
        return [key for key, p in self.store._key_partition.items() if p == self.partition]

    def state_items(self) -> Iterator[tuple[bytes, bytes]]:
        data = self.store.data
        return ((key, data[key]) for key in self.state_keys())

    def meta(self) -> LogMeta:
        return decode_meta(self.reserved.get(META_KEY))

    def write(self, writes: dict[bytes, bytes | None], meta: LogMeta | None) -> None:
        apply_ops(self, writes.items())
        if meta is not None:
            self.reserved[META_KEY] = encode_meta(meta)


def apply_frames(
    batch: Iterable[Any],
    partition_of: Callable[[int], RocksDBPartition | MemoryPartition],
    persisted: Callable[[TP, int], None],
) -> None:
    """Apply a batch of changelog events, partition by partition, each in one write."""
    by_partition: dict[int, list[Any]] = defaultdict(list)
    for event in batch:
        by_partition[event.message.partition].append(event.message)
    for partition, messages in by_partition.items():
        target = partition_of(partition)
        overlay = Overlay(target)
        meta = target.meta()
        for message in messages:
            apply_record(overlay, meta, bytes(message.key), message.value)
        target.write(overlay.writes, meta)
        last = max(messages, key=lambda m: m.offset)
        persisted(last.tp, last.offset)


class _FramedRecovery:
    """Recovery of a framed store: each partition's records applied by apply_frames."""

    partition: Callable[[int], RocksDBPartition | MemoryPartition]
    set_persisted_offset: Callable[[TP, int], None]

    def apply_changelog_batch(
        self,
        batch: Iterable[Any],
        to_key: Callable[[Any], Any],
        to_value: Callable[[Any], Any],
    ) -> None:
        """Faust's recovery logs a failed apply and tries again every few seconds, for ever:
        a write the disk refused stops the worker instead (a RocksDB database refuses every
        write after one failed, however much space is freed meanwhile)."""
        try:
            apply_frames(batch, self.partition, self.set_persisted_offset)
        except Exception as exc:
            if disk_error(exc) is None:
                raise
            stop_without_commit("restoring the state from the changelog topic", exc)


class BoundedRocksDBOptions(faust_rocksdb.RocksDBOptions):  # type: ignore[misc]
    """Faust's options for a partition's database, opened within the worker's memory budget
    (streams.worker.store_memory) instead of with a cache and memtables of its own."""

    def __init__(self, memory: StoreMemory, base: faust_rocksdb.RocksDBOptions) -> None:
        super().__init__(
            max_open_files=base.max_open_files,
            target_file_size_base=base.target_file_size_base,
            bloom_filter_size=base.bloom_filter_size,
            use_rocksdict=True,  # RocksDBPartition writes rocksdict's batches
            ttl=base.ttl,
        )
        self.memory = memory

    def as_options(self) -> Any:
        return self.memory.options(
            max_open_files=self.max_open_files,
            target_file_size_base=self.target_file_size_base,
            bloom_filter_size=self.bloom_filter_size,
        )


class FramedRocksDBStore(_FramedRecovery, faust_rocksdb.Store):  # type: ignore[misc]
    def partition(self, partition: int) -> RocksDBPartition:
        return RocksDBPartition(self._db_for_partition(partition))

    def bound_memory(self, memory: StoreMemory) -> None:
        """Open this store's databases within the worker's budget; before the first opens
        (Faust opens a partition's database when it is first read or recovered)."""
        self.rocksdb_options = BoundedRocksDBOptions(memory, self.rocksdb_options)


class FramedMemoryStore(_FramedRecovery, faust_memory.Store):  # type: ignore[misc]
    """(Its persisted offset is Faust's no-op: a memory store always recovers from the
    start.)"""

    def __post_init__(self) -> None:
        super().__post_init__()
        #: partition -> its meta and frames waiting for the rest of their group
        self.reserved: defaultdict[int, dict[bytes, bytes]] = defaultdict(dict)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """Faust drops the records of partitions no longer assigned; their meta goes too."""
        await super().on_recovery_completed(active_tps, standby_tps)
        active = {tp.partition for tp in active_tps}
        for partition in [p for p in self.reserved if p not in active]:
            del self.reserved[partition]

    def partition(self, partition: int) -> MemoryPartition:
        return MemoryPartition(self, partition)


def framed_store_class(url: str) -> type:
    """The framed store for a store URL Faust would open (rocksdb:// or memory://)."""
    scheme = url.split(":", 1)[0]
    if scheme == "rocksdb":
        return FramedRocksDBStore
    if scheme == "memory":
        return FramedMemoryStore
    raise ValueError(f"SALES_STORE={url!r}: use rocksdb:// or memory://")
