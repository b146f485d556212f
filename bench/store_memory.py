"""What a worker's RocksDB databases keep in memory under a steady write load.

Why this exists: the throughput bench drains 300,000 events in half a minute, too little
writing for RocksDB's memtables to fill, so it cannot show what a worker that runs for days
holds. This writes what checkpoints write (the same records rewritten, batch after batch,
one database per partition) with Faust's own RocksDB options and with the worker's shared
budget (streams.worker.store_memory), each in a process of its own, and reports the
memtables and the resident set as the writing goes on. No Kafka, no fold.

Run: ``python -m bench.store_memory [partitions] [mib_written] [budget_mib]`` (defaults 8
800 128).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import rocksdict
from faust.stores.rocksdb import RocksDBOptions

from streams.worker.framed_store import BoundedRocksDBOptions
from streams.worker.store_memory import StoreMemory

RECORD = bytes(range(256)) * 2 + b"x" * 88  # 600 bytes
RECORDS_PER_BATCH = 3000  # per partition and checkpoint
LIVE_RECORDS = 30_000  # per partition: what the batches rewrite, round after round


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _memtables(dbs: list[Any]) -> int:
    return sum(db.property_int_value("rocksdb.cur-size-all-mem-tables") or 0 for db in dbs)


def write(variant: str, partitions: int, mib: int, budget_mib: int) -> None:
    """One variant, in this process: `faust` or `budget`."""
    memory = StoreMemory(budget_mib * 2**20) if variant == "budget" else None
    options: Any = RocksDBOptions(use_rocksdict=True)
    if memory is not None:
        options = BoundedRocksDBOptions(memory, options)
    with tempfile.TemporaryDirectory() as tmp:
        dbs = [options.open(Path(tmp) / f"p{n}") for n in range(partitions)]
        batch_bytes = RECORDS_PER_BATCH * len(RECORD)
        rounds = mib * 2**20 // (batch_bytes * partitions)
        started = time.process_time()
        for round_ in range(rounds):
            first = round_ * RECORDS_PER_BATCH % LIVE_RECORDS
            for db in dbs:
                batch = rocksdict.WriteBatch(raw_mode=True)
                for n in range(first, first + RECORDS_PER_BATCH):
                    batch.put(b"rep:%d" % n, RECORD)
                db.write(batch)
            if (round_ + 1) % max(1, rounds // 4) == 0 or round_ + 1 == rounds:
                written = (round_ + 1) * batch_bytes * partitions / 2**20
                print(
                    f"  {variant}: {written:,.0f} MiB written: memtables "
                    f"{_memtables(dbs) / 2**20:,.0f} MiB, RSS {_rss_mib():,.0f} MiB"
                )
        for _ in range(1000):  # the flushes RocksDB's threads still run (none with Faust's)
            if not any(db.property_int_value("rocksdb.num-immutable-mem-table") for db in dbs):
                break
            time.sleep(0.01)
        print(
            f"  {variant}: flushed: memtables {_memtables(dbs) / 2**20:,.0f} MiB, "
            f"RSS {_rss_mib():,.0f} MiB"
        )
        live = partitions * LIVE_RECORDS * len(RECORD)
        print(
            f"  {variant}: {time.process_time() - started:.1f} CPU s (the writes and "
            f"RocksDB's own threads); live records {live / 2**20:.0f} MiB"
        )
        for db in dbs:
            db.close()


def main(argv: list[str]) -> None:
    if argv and argv[0] in ("faust", "budget"):
        write(argv[0], int(argv[1]), int(argv[2]), int(argv[3]))
        return
    partitions = int(argv[0]) if argv else 8
    mib = int(argv[1]) if len(argv) > 1 else 800
    budget = int(argv[2]) if len(argv) > 2 else 128
    print(f"{partitions} partitions, {mib:,} MiB written; budget {budget} MiB")
    for variant in ("faust", "budget"):
        sizes = [str(partitions), str(mib), str(budget)]
        subprocess.run([sys.executable, "-m", "bench.store_memory", variant, *sizes], check=True)


if __name__ == "__main__":
    main(sys.argv[1:])
