"""Event-to-queryable latency of a running salespulse worker under a steady live load.

The worker has drained the `live` backlog. The `live` records are then sent again, re-stamped
with `occurred_at` = the moment of sending and fresh event and deal ids, at a fixed rate (half
the worker's measured maximum by default), for a fixed time. Every `sample_every`-th record
(the next activity from there) is a sample: its rep's activity count for the month is then
known, and `GET /v1/reps/{rep}/performance?period=<month>` is polled until
`activities.total` reaches it (the rep's records share a partition and are applied in order,
so reaching the count means the sample is visible). Latency = answer received - record sent.

Asking costs the worker event-loop time, so the polling is bounded: at most 4 samples a
second, each asked every 0.1 s (or a tenth of its age once that is longer), at most 8
requests per round. A sample not visible 30 s after the load stopped counts as infinite.
"""

from __future__ import annotations

import asyncio
import math
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
from aiokafka import AIOKafkaProducer

from bench.data import Dataset, month_of, restamped
from bench.harness import log

POLL_INTERVAL = 0.1
# bounds on the API polling the measurement adds to the worker
MAX_SAMPLES_PER_SECOND = 4
MAX_REQUESTS_PER_ROUND = 8
DRAIN_TIMEOUT = 30.0
WARMUP = 3.0


@dataclass
class Sample:
    rep: str
    month: str
    expected: int
    sent: float  # monotonic
    seen: float | None = None
    next_poll: float = 0.0

    def polled(self, now: float) -> None:
        """Ask again in 0.1 s, or in a tenth of its age once that is longer: the resolution
        stays within 10 % of the latency while a slow sample does not flood the worker."""
        self.next_poll = now + max(POLL_INTERVAL, 0.1 * (now - self.sent))


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile; `inf` entries (never visible) sort last."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class Probe:
    """Sends the load and watches the samples; `measure` runs it."""

    def __init__(self, url: str, data: Dataset, rate: float, sample_every: int) -> None:
        self.url = url
        self.rate = rate
        self.every = max(sample_every, math.ceil(rate / MAX_SAMPLES_PER_SECOND))
        self.source = data.shape("live")
        #: (rep, month) -> activity events sent so far, the backlog's included
        self.counts: Counter[tuple[str, str]] = Counter(data.rep_activities)
        self.pending: list[Sample] = []
        self.done: list[Sample] = []
        self.producing = True
        self.sent = 0
        self.requests = 0

    async def produce(
        self, producer: AIOKafkaProducer, inputs: dict[str, str], seconds: float
    ) -> float:
        """Send at `rate` for `seconds`, taking samples; returns the seconds it took."""
        futures: list[asyncio.Future[Any]] = []
        next_sample = 0
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds:
            while self.sent < int(self.rate * elapsed):
                cycle, index = divmod(self.sent, len(self.source))
                kind, key, value, event = restamped(
                    self.source[index], datetime.now(UTC), f"L{cycle}"
                )
                futures.append(await producer.send(inputs[kind], value, key=key))
                self.sent += 1
                if kind != "activities":
                    continue
                rep_month = (event["rep_id"], month_of(event["occurred_at"]))
                self.counts[rep_month] += 1
                if self.sent >= next_sample and elapsed >= WARMUP:
                    sample = Sample(*rep_month, self.counts[rep_month], time.monotonic())
                    self.pending.append(sample)
                    next_sample = self.sent + self.every
            if len(futures) > 10_000:
                await asyncio.gather(*futures)
                futures.clear()
            await asyncio.sleep(0.005)
        await asyncio.gather(*futures)
        return time.monotonic() - started

    async def total(self, session: aiohttp.ClientSession, rep: str, month: str) -> int:
        """The rep's activities.total for the month, -1 if the API does not answer it."""
        self.requests += 1
        query = urllib.parse.urlencode({"period": month})
        try:
            async with session.get(f"{self.url}/v1/reps/{rep}/performance?{query}") as response:
                if response.status != 200:
                    return -1
                body = await response.json()
                return int(body["activities"]["total"])
        except (TimeoutError, aiohttp.ClientError, KeyError, ValueError):
            return -1

    async def poll_round(self, session: aiohttp.ClientSession) -> None:
        """Ask for the due samples' reps, oldest first, a bounded number (each asks the worker)."""
        due = [s for s in self.pending if s.next_poll <= time.monotonic()]
        keys = list(dict.fromkeys((s.rep, s.month) for s in due))[:MAX_REQUESTS_PER_ROUND]
        if not keys:
            return
        totals = await asyncio.gather(*(self.total(session, rep, month) for rep, month in keys))
        now = time.monotonic()
        got = dict(zip(keys, totals, strict=True))
        for s in due:
            if (s.rep, s.month) not in got:
                continue
            if got[(s.rep, s.month)] >= s.expected:
                s.seen = now
                self.pending.remove(s)
                self.done.append(s)
            else:
                s.polled(now)

    async def watch(self) -> None:
        """Poll until every sample is seen, or DRAIN_TIMEOUT after the load stopped."""
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            deadline = None
            while self.producing or self.pending:
                if not self.producing:
                    deadline = deadline or time.monotonic() + DRAIN_TIMEOUT
                    if time.monotonic() > deadline:
                        return
                await self.poll_round(session)
                await asyncio.sleep(POLL_INTERVAL / 2)

    def result(self, seconds: float, produce_seconds: float, watched: float) -> dict[str, Any]:
        latencies = [s.seen - s.sent for s in self.done if s.seen is not None]
        every_latency = latencies + [math.inf] * len(self.pending)
        p50 = percentile(every_latency, 50) if every_latency else math.inf
        p99 = percentile(every_latency, 99) if every_latency else math.inf
        log(
            f"latency: {self.sent:,} events at {self.sent / produce_seconds:,.0f}/s, "
            f"{len(every_latency)} samples, p50 {p50:.3f}s, p99 {p99:.3f}s, "
            f"not visible {len(self.pending)}"
        )
        return {
            "target_rate": self.rate,
            "achieved_rate": self.sent / produce_seconds,
            "seconds": seconds,
            "events_sent": self.sent,
            "sample_every": self.every,
            "samples": len(every_latency),
            "not_visible_within_s": DRAIN_TIMEOUT,
            "samples_not_visible": len(self.pending),
            "api_requests": self.requests,
            "api_requests_per_s": self.requests / watched,
            # None: that share of the samples was never seen (JSON has no infinity)
            "p50_s": _finite(p50),
            "p99_s": _finite(p99),
            "max_s": _finite(max(every_latency, default=math.inf)),
            # [seconds after the first sample was sent, latency or None], in sending order:
            # when the slow ones came (a checkpoint, a minute's Tick) shows what made them
            "sample_latencies_s": self.timeline(),
        }

    def timeline(self) -> list[list[float | None]]:
        every = sorted([*self.done, *self.pending], key=lambda s: s.sent)
        if not every:
            return []
        first = every[0].sent
        return [
            [round(s.sent - first, 3), None if s.seen is None else round(s.seen - s.sent, 3)]
            for s in every
        ]


async def measure(
    url: str,
    bootstrap: str,
    inputs: dict[str, str],
    data: Dataset,
    rate: float,
    seconds: float,
    sample_every: int,
) -> dict[str, Any]:
    probe = Probe(url, data, rate, sample_every)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2, acks=1)
    await producer.start()
    started = time.monotonic()
    watcher = asyncio.create_task(probe.watch())
    try:
        produce_seconds = await probe.produce(producer, inputs, seconds)
        probe.producing = False
        await watcher
    finally:
        probe.producing = False
        if not watcher.done():
            watcher.cancel()
        await producer.stop()
    return probe.result(seconds, produce_seconds, time.monotonic() - started)
