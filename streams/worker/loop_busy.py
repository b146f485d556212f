"""How busy the worker's event loop is: the share of the time it works rather than waits.

Every batch, checkpoint, API request and timer of a worker runs on one event loop. Once that
loop works nearly all of the time, the worker cannot take more load and its consumer lag
grows: the moment to add a worker (README, Scaling out). Its CPU seconds do not say so: Faust's
consumer thread and the checkpoint's thread add to them, and a loop waiting for the GIL uses
none. Flink's `busyTimeMsPerSecond` and Kafka Streams' `process-ratio` answer the same
question.

The loop waits in one place, its selector's `select`: timed there, the rest of the wall clock
is work. Exported as the counter `sales_worker_busy_seconds_total`, whose rate is that share
(0 idle, 1 saturated), and as the share over the last minute in `salespulse status`, for an
operator without Prometheus.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterator
from time import perf_counter
from typing import Any

from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

BUSY_METRIC = "sales_worker_busy_seconds"
#: the recent share covers about this long: samples of the counter this far apart, the
#: oldest of them WINDOW_SECONDS old
SAMPLE_SECONDS = 5.0
WINDOW_SECONDS = 60.0


class LoopBusy:
    """Seconds the watched event loop spent working (not waiting in its selector)."""

    def __init__(self, clock: Callable[[], float] = perf_counter) -> None:
        self._clock = clock
        self._since: float | None = None
        self._waited = 0.0
        #: when the wait in progress began (None: the loop is working)
        self._waiting_since: float | None = None
        #: the last value reported: a counter never goes back
        self._reported = 0.0
        #: (when, busy seconds then), one per SAMPLE_SECONDS, over the last WINDOW_SECONDS
        self._samples: deque[tuple[float, float]] = deque(
            maxlen=int(WINDOW_SECONDS / SAMPLE_SECONDS) + 1
        )

    def watch(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Time the loop's waits from now on; False for a loop without a selector (uvloop)
        or when a loop is watched already."""
        selector = getattr(loop, "_selector", None)
        if selector is None or self._since is not None:
            return False
        select = selector.select

        def timed_select(timeout: float | None = None) -> Any:
            self._waiting_since = started = self._clock()
            try:
                return select(timeout)
            finally:
                now = self._clock()
                self._waited += now - started
                self._waiting_since = None
                if now - self._samples[-1][0] >= SAMPLE_SECONDS:
                    self._samples.append((now, self.busy_seconds()))

        selector.select = timed_select
        self._since = self._clock()
        self._samples.append((self._since, 0.0))
        return True

    def busy_seconds(self) -> float:
        """Working seconds since `watch` (0 before): wall clock minus the waits, the one in
        progress included (a scrape from another thread may come in the middle of one)."""
        if self._since is None:
            return 0.0
        now = self._clock()
        waiting = self._waiting_since
        waited = self._waited + (now - waiting if waiting is not None else 0.0)
        self._reported = max(self._reported, now - self._since - waited)
        return self._reported

    def recent_share(self) -> float | None:
        """The share of the last minute or so the loop worked (0 to 1); None until it ran
        for a second (or when not watched)."""
        if not self._samples:
            return None
        then, busy_then = self._samples[0]
        now = self._clock()
        if now - then < 1.0:
            return None
        return min(1.0, max(0.0, (self.busy_seconds() - busy_then) / (now - then)))


class LoopBusyCollector(Collector):
    """`sales_worker_busy_seconds_total`, read from a `LoopBusy` at each scrape."""

    def __init__(self, busy: LoopBusy) -> None:
        self.busy = busy

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            BUSY_METRIC,
            "Seconds the worker's event loop spent working rather than waiting for I/O: its "
            "rate is the share of the time it is busy (near 1, the worker cannot take more "
            "load: add a worker)",
            value=self.busy.busy_seconds(),
        )
