"""The event loop's busy share (streams.worker.loop_busy): a clock the tests move by hand, and
one real asyncio loop to prove the selector is the one timed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest

from streams.worker.loop_busy import LoopBusy, LoopBusyCollector


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Selector:
    """A selector whose wait moves the clock by its timeout, calling `during` meanwhile."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.during: Callable[[], None] = lambda: None

    def select(self, timeout: float | None = None) -> list[Any]:
        self.clock.now += timeout or 0.0
        self.during()
        return []


class Loop:
    def __init__(self, selector: Selector) -> None:
        self._selector = selector


def watched() -> tuple[LoopBusy, Clock, Selector]:
    clock = Clock()
    selector = Selector(clock)
    busy = LoopBusy(clock)
    assert busy.watch(Loop(selector))  # type: ignore[arg-type]
    return busy, clock, selector


def test_work_counts_and_waits_do_not() -> None:
    busy, clock, selector = watched()
    clock.now += 0.25  # a batch folded
    selector.select(2.0)  # then nothing to do for two seconds
    clock.now += 0.5
    selector.select(0.0)
    selector.select(1.0)
    assert busy.busy_seconds() == 0.75


def test_a_loop_never_waiting_is_busy_all_of_the_time() -> None:
    busy, clock, selector = watched()
    for _ in range(4):
        clock.now += 1.0
        selector.select(0.0)
    assert busy.busy_seconds() == 4.0


def test_a_scrape_in_the_middle_of_a_wait_does_not_count_the_wait() -> None:
    busy, clock, selector = watched()
    clock.now += 0.5
    seen: list[float] = []
    selector.during = lambda: seen.append(busy.busy_seconds())
    selector.select(3.0)
    assert seen == [0.5]
    assert busy.busy_seconds() == 0.5


def test_the_counter_never_goes_back() -> None:
    busy, clock, _ = watched()
    clock.now += 1.0
    assert busy.busy_seconds() == 1.0
    clock.now -= 0.5  # a clock that stepped back (perf_counter does not; the counter holds)
    assert busy.busy_seconds() == 1.0


def test_nothing_before_watching_and_one_loop_only() -> None:
    clock = Clock()
    busy = LoopBusy(clock)
    clock.now += 5.0
    assert busy.busy_seconds() == 0.0
    assert not busy.watch(object())  # type: ignore[arg-type]  # no selector: uvloop, say
    assert busy.watch(Loop(Selector(clock)))  # type: ignore[arg-type]
    assert not busy.watch(Loop(Selector(clock)))  # type: ignore[arg-type]


def test_a_real_event_loop_waits_in_the_timed_selector() -> None:
    calls = 0

    def counting_clock() -> float:
        nonlocal calls
        calls += 1
        return float(calls)

    loop = asyncio.new_event_loop()
    try:
        busy = LoopBusy(counting_clock)
        assert busy.watch(loop)
        before = calls
        loop.run_until_complete(asyncio.sleep(0))
        assert calls > before, "the loop's select did not go through the timed wrapper"
    finally:
        loop.close()


def test_exported_as_a_counter() -> None:
    busy, clock, selector = watched()
    clock.now += 1.5
    selector.select(10.0)
    registry = CollectorRegistry()
    registry.register(LoopBusyCollector(busy))
    text = generate_latest(registry).decode()
    assert "# TYPE sales_worker_busy_seconds_total counter" in text
    assert "sales_worker_busy_seconds_total 1.5" in text


def test_the_recent_share_is_over_the_last_minute() -> None:
    busy, clock, selector = watched()
    assert busy.recent_share() is None, "not a second yet"
    for _ in range(24):  # two minutes: busy a second, then idle four, each time
        clock.now += 1.0
        selector.select(4.0)
    assert busy.recent_share() == 0.2
    for _ in range(12):  # then a minute busy all of the time
        clock.now += 5.0
        selector.select(0.0)
    assert busy.recent_share() == 1.0


def test_no_recent_share_without_a_watched_loop() -> None:
    assert LoopBusy(Clock()).recent_share() is None
