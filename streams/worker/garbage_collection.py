"""Python's cyclic garbage collector, set for a worker that keeps millions of objects alive.

The views, the fold's caches and Faust keep millions of long-lived objects. With Python's
default thresholds (700, 10, 10) the collector scans all of them again every few seconds:
measured on the benchmark's live shape (60,000 events, 1,000 reps), full collections came
every 1-2 s while draining a backlog and every 12 s at half load, each 0.2-0.6 s, collecting
nothing. Every one stalls the event loop: batches, the API, Faust's timers and keepalives.

The state records, the internal items and the events are msgspec Structs declared with
``gc=False`` (streams.engine.state, streams.engine.items, streams.domain.events): trees of
strings, numbers and containers that never reference back, so the collector neither tracks
nor counts them. On the benchmark's wide shape (300,000 events) that took the collections
over 10 ms from 96 taking 5.05 s to 54 taking 2.17 s (one instrumented run each).

Almost nothing the worker allocates is cyclic garbage (records, items and views are freed by
reference counting), so collections can be rare: a young collection per 50,000 surviving
allocations, a middle one per 5 of those and a full one per 400 middle ones. Rare
collections alone (a young one per 50,000, a middle one per 20, a full one per 100 middle
ones; before the freeze below was added) took throughput on that shape from 2,104 to 3,065
events/s and p99 event-to-queryable latency at 1,100 events/s from 1.75 s to 1.40 s.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from time import perf_counter

log = logging.getLogger(__name__)

#: container allocations (net of frees) between young collections
YOUNG_THRESHOLD = 50_000
#: young collections per middle one: a middle collection walks what survived them, 0.3 s
#: after 20 under a steady live load, one stall of the event loop every half minute; after 5
#: the same work comes in shorter pauses (0.10 and 0.18 s in one latency run)
MIDDLE_THRESHOLD = 5
#: middle collections per full one (Python also waits for the old generation to grow 25 %):
#: a full collection per 100 million allocations, as with 20 young ones per middle one
OLD_THRESHOLD = 400


def tune_collector() -> None:
    """Collect rarely: the worker's garbage is freed by reference counting."""
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)


def freeze_long_lived() -> None:
    """Collect once, then leave every object alive now out of later collections.

    Called when the views were rebuilt (startup, rebalance): the state just loaded lives as
    long as the partition stays here, and scanning it again and again is what stalled the
    worker. Frozen objects are still freed by reference counting; only a cycle among them
    that becomes garbage later is not collected, and the next rebuild collects it
    (``gc.unfreeze`` first).
    """
    started = perf_counter()
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    log.info(
        "garbage collector: %d objects frozen as long-lived in %.2fs",
        gc.get_freeze_count(),
        perf_counter() - started,
    )


@contextmanager
def collections_held() -> Iterator[None]:
    """No collection while a batch is handled: its records, items and working sets die with
    it, freed by reference counting, and a collection in between scanned them for nothing
    (a wide run, instrumented: 1.27 s of collections before, 0.85 s after). What runs
    meanwhile on the event loop is held too; a batch waiting long for the broker delays
    the collection of cyclic garbage until it ends, no longer."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
