"""What SALES_RETENTION saves: the state of a long history before and after the cut.

Why this exists: without a retention the state grows with time (about 730 bytes per rep-day
once past the grace, and the views a worker rebuilds at each start are a second copy of it
in memory). This synthesizes the same state as the restart bench (bench/restart.py: a rep's
activities, feedback and deals day by day, as the worker's checkpoints write it), then
measures the table (records, bytes) and the views a worker rebuilds from it (traced Python
memory), runs one Tick of a worker with the retention on every partition (CPU seconds), and
measures again. No Kafka: the fold and the views alone.

Run: ``python -m bench.retention_state [reps] [teams] [days] [retention_days]`` (defaults
200 10 365 120).
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from bench.restart import synthesize
from streams.domain.money import FxRates
from streams.domain.retention import Retention
from streams.engine.items import Tick
from streams.engine.processor import ScopeProcessor
from streams.engine.rollups import Views
from streams.engine.state import decode_value, parse_key
from streams.worker.settings import DEFAULT_FX_RATES

PARTITIONS = 8
GRACE_SECONDS = 7 * 86_400.0
TZ = ZoneInfo("UTC")

Stores = list[dict[bytes, bytes]]


def rebuilt(stores: Stores) -> Views:
    """The views a worker rebuilds at start, record by record."""
    views = Views(TZ)
    for partition, store in enumerate(stores):
        for kb, raw in store.items():
            key = parse_key(kb)
            views.apply(key, partition, decode_value(key[1], raw), raw)
    return views


def views_mib(stores: Stores) -> float:
    gc.collect()
    tracemalloc.start()
    views = rebuilt(stores)
    gc.collect()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del views
    return size / 2**20


def cut(stores: Stores, retention: timedelta | None, now: datetime) -> tuple[float, int, int]:
    """One Tick on every partition of a worker with the retention (None: without one):
    (CPU seconds, records deleted as before its horizon, records written)."""
    fx = FxRates.load(DEFAULT_FX_RATES, "USD")
    views = rebuilt(stores)
    proc = ScopeProcessor(
        views=views,
        fx=fx,
        tz=TZ,
        late_grace_seconds=GRACE_SECONDS,
        at_risk_pace=0.8,
        retention=Retention(retention, TZ),
    )
    start, deleted, written = time.process_time(), 0, 0
    for partition, store in enumerate(stores):
        result = proc.process(partition, [Tick()], store.get, now)
        deleted += result.dropped_records
        written += len(result.writes)
        for key, value in result.writes.items():
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value
    return time.process_time() - start, deleted, written


def table(stores: Stores) -> str:
    records = sum(len(store) for store in stores)
    size = sum(len(k) + len(v) for store in stores for k, v in store.items())
    return f"{records:,} records, {size / 2**20:.1f} MiB"


def main(argv: list[str]) -> None:
    reps, teams, days, retention_days = (int(a) for a in [*argv, "200", "10", "365", "120"][:4])
    today = date.today()
    stores: Stores = [{} for _ in range(PARTITIONS)]
    records, _ = synthesize(reps, teams, days, PARTITIONS, seed=7, today=today)
    for partition, key, value in records:
        stores[partition][key] = value
    now = datetime(today.year, today.month, today.day, tzinfo=UTC)
    print(f"{reps} reps in {teams} teams, {days} days to {today}, {PARTITIONS} partitions")
    ticks = 0
    while cut(stores, None, now)[2] and ticks < 50:  # fold the days past the grace, as a
        ticks += 1  # worker's Ticks do (COMPACT_PER_TICK records a Tick)
    print(f"  without a retention, after {ticks} Ticks folded what is past the grace:")
    print(f"    table {table(stores)}; views {views_mib(stores):.1f} MiB")
    seconds, deleted, _ = cut(stores, timedelta(days=retention_days), now)
    print(f"  SALES_RETENTION=P{retention_days}D: the next Tick deleted {deleted:,} records")
    print(f"    in {seconds:.2f} CPU seconds over all partitions")
    print(f"  after it: table {table(stores)}; views rebuilt {views_mib(stores):.1f} MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
