"""The worker's RocksDB databases within one memory budget (streams.worker.store_memory):
real RocksDB databases (rocksdict), written as checkpoints write them, no Kafka."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import rocksdict
from faust.stores.rocksdb import RocksDBOptions

from streams.worker.framed_store import BoundedRocksDBOptions
from streams.worker.settings import Settings, SettingsError
from streams.worker.store_memory import DEFAULT_BUDGET_BYTES, MIN_BUDGET_BYTES, StoreMemory

BUDGET = 16 * 2**20
DATABASES = 4
RECORD = bytes(range(256)) * 2 + b"x" * 88  # 600 bytes, as a busy hour record
#: each round writes 2,000 records per database, of 6,000 it rewrites in turn (3.4 MiB live
#: per database), as checkpoints rewrite what changed; 20 rounds write 92 MiB, almost six
#: times the budget
ROUNDS, RECORDS = 20, 2000


def _checkpoints(dbs: list[Any]) -> None:
    for round_ in range(ROUNDS):
        for db in dbs:
            batch = rocksdict.WriteBatch(raw_mode=True)
            for n in range(RECORDS):
                batch.put(b"rep:%d:hour:%d" % (n, round_ % 3), RECORD)
            db.write(batch)


def _memtables(dbs: list[Any]) -> int:
    return sum(db.property_int_value("rocksdb.cur-size-all-mem-tables") or 0 for db in dbs)


#: RocksDB's background work the writes scheduled: flushes, then the compactions of the
#: files they made (each level-0 file's pinned index and filter blocks count in the cache)
_BACKGROUND = (
    "rocksdb.num-immutable-mem-table",
    "rocksdb.compaction-pending",
    "rocksdb.num-running-compactions",
)


def _flushed(dbs: list[Any]) -> None:
    """Wait for the flushes and compactions the writes scheduled: up to a minute, as a
    loaded machine's background threads wait for a core (10 s once fell short, and a CI
    run asserted while compactions ran, with 8 % more pinned in the cache than the budget)."""
    for _ in range(6000):
        if not any(db.property_int_value(name) for db in dbs for name in _BACKGROUND):
            return
        time.sleep(0.01)


def _open(tmp_path: Path, options: RocksDBOptions) -> list[Any]:
    return [options.open(tmp_path / f"p{n}") for n in range(DATABASES)]


def test_partitions_sharing_a_budget_keep_their_memtables_within_it(tmp_path: Path) -> None:
    memory = StoreMemory(BUDGET)
    dbs = _open(tmp_path, BoundedRocksDBOptions(memory, RocksDBOptions(use_rocksdict=True)))
    _checkpoints(dbs)
    # the bound is soft while RocksDB's threads flush behind the writes; once they caught up
    _flushed(dbs)
    assert _memtables(dbs) <= BUDGET
    # the memtables are charged to the shared cache: the gauge reads what they hold
    assert _memtables(dbs) // 2 <= memory.used_bytes() <= BUDGET
    for db in dbs:  # flushed, nothing lost
        assert all(db.get(b"rep:%d:hour:%d" % (n, h)) == RECORD for n in (0, 1999) for h in (0, 2))
        db.close()


def test_with_faust_s_own_options_the_same_load_passes_the_budget(tmp_path: Path) -> None:
    """The load above is heavy enough to matter: each database keeps every version in a
    64 MiB memtable of its own."""
    dbs = _open(tmp_path, RocksDBOptions(use_rocksdict=True))
    _checkpoints(dbs)
    assert _memtables(dbs) > 4 * BUDGET
    for db in dbs:
        db.close()


def test_a_budget_below_the_least_is_refused() -> None:
    with pytest.raises(ValueError, match="budget"):
        StoreMemory(MIN_BUDGET_BYTES - 1)


def test_the_budget_is_a_setting() -> None:
    assert Settings.from_env({}).store_memory_bytes == DEFAULT_BUDGET_BYTES == 128 * 2**20
    env = {"SALES_STORE_MEMORY_BYTES": str(64 * 2**20)}
    assert Settings.from_env(env).store_memory_bytes == 64 * 2**20
    with pytest.raises(SettingsError, match="SALES_STORE_MEMORY_BYTES"):
        Settings.from_env({"SALES_STORE_MEMORY_BYTES": "1000"})
