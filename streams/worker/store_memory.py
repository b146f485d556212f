"""One memory budget for every RocksDB database of a worker (SALES_STORE_MEMORY_BYTES).

Faust opens one RocksDB database per table partition, each with its own 2 GiB block cache
and up to three 64 MiB memtables. Memtables keep every version written until they flush, and
the worker rewrites its records at each checkpoint, so a worker that ran for a while held
about 64 MiB per partition for a few MiB of records (`python -m bench.store_memory` and the
latency bench's memory after its load; figures in the README's Sizing). Here every database
of the worker shares one LRU block cache, and a write buffer manager charges their memtables
to that cache and flushes the database being written to once they pass half of it. The
budget is soft: the manager never makes a write wait, so while a flush runs the memtables can
pass it briefly. Reads reach RocksDB only for records that neither the views nor the records
held between checkpoints have (deal and account state, mostly): live drains with this budget
and with 8 GiB committed alike (bench/HISTORY.md).
"""

from __future__ import annotations

from typing import Any

import rocksdict

#: the worker's default budget, for block cache and memtables together
DEFAULT_BUDGET_BYTES = 128 * 2**20
#: the least budget a worker accepts: its databases then flush memtables of 2 MiB
MIN_BUDGET_BYTES = 8 * 2**20
#: one memtable's ceiling, as Faust's default (the manager flushes long before, at half the
#: budget over all databases, for any budget under 512 MiB)
MAX_WRITE_BUFFER_BYTES = 64 * 2**20


class StoreMemory:
    """The block cache and write buffer manager every partition's database is opened with.

    Built once per worker process: RocksDB counts what the databases built on these
    objects hold together, so the budget covers all partitions, however many are assigned.
    """

    def __init__(self, budget_bytes: int = DEFAULT_BUDGET_BYTES) -> None:
        if budget_bytes < MIN_BUDGET_BYTES:
            raise ValueError(f"a store memory budget under {MIN_BUDGET_BYTES} bytes")
        self.budget_bytes = budget_bytes
        self.cache = rocksdict.Cache(budget_bytes)
        # memtables take half of the cache before a flush; allow_stall=False: the manager
        # never makes a write wait (RocksDB itself still does once a database has three
        # memtables, as under Faust's options)
        self.write_buffers = rocksdict.WriteBufferManager.new_write_buffer_manager_with_cache(
            budget_bytes // 2, False, self.cache
        )

    def used_bytes(self) -> int:
        """What the block cache holds, the memtables charged to it included."""
        return int(self.cache.get_usage())

    def options(
        self,
        *,
        max_open_files: int | None,
        target_file_size_base: int,
        bloom_filter_size: int,
    ) -> Any:
        """Options for one partition's database: Faust's choices but for memory."""
        options = rocksdict.Options(raw_mode=True)
        options.create_if_missing(True)
        if max_open_files is not None:
            options.set_max_open_files(max_open_files)
        options.set_target_file_size_base(target_file_size_base)
        options.set_write_buffer_size(min(MAX_WRITE_BUFFER_BYTES, self.budget_bytes // 4))
        # as Faust: a memtable may fill while two flush, before a write has to wait
        options.set_max_write_buffer_number(3)
        options.set_write_buffer_manager(self.write_buffers)
        table = rocksdict.BlockBasedOptions()
        table.set_bloom_filter(bloom_filter_size, True)
        table.set_block_cache(self.cache)
        table.set_index_type(rocksdict.BlockBasedIndexType.binary_search())
        options.set_block_based_table_factory(table)
        return options
