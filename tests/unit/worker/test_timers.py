"""A periodic duty that fails is logged and runs again; it never stops the worker. One that
can outlast its interval runs beside its timer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import pytest

from streams.worker.timers import OneAtATime, guarded


async def test_a_failing_duty_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    calls = []

    @guarded
    async def flaky() -> None:
        calls.append(1)
        raise RuntimeError("peer restarting")

    with caplog.at_level(logging.WARNING):
        await flaky()
        await flaky()
    assert len(calls) == 2
    assert "flaky failed" in caplog.text and "peer restarting" in caplog.text


async def test_failures_held_back_are_counted_once_the_duty_works_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Three failures a minute are logged one by one; the rest are counted, and the count is
    said by the next run that works once the minute is over (nothing else would say it)."""
    now = [0.0]
    failing = [True]

    async def flaky() -> None:
        if failing[0]:
            raise RuntimeError("peer restarting")

    run = guarded(flaky, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        for _ in range(5):
            await run()
        failing[0] = False
        await run()  # the minute is not over: a failure may still come
        assert len(caplog.records) == 3
        now[0] = 61.0
        await run()
        await run()
    said = [r.getMessage() for r in caplog.records]
    assert said[3:] == ["2 more failures of flaky in the last 61 s not logged one by one"]


async def test_a_duty_runs_beside_its_timer_one_run_at_a_time() -> None:
    """The timer's call returns while the run goes on (a long run no longer makes mode's
    timer warn that it overlaps), and no second run starts before the first ended."""
    release = asyncio.Event()
    runs: list[int] = []

    async def publish() -> None:
        runs.append(len(runs))
        await release.wait()

    started: list[asyncio.Future[None]] = []

    def start(run: Awaitable[None]) -> asyncio.Future[None]:
        started.append(asyncio.ensure_future(run))
        return started[-1]

    beside = OneAtATime(publish, start)
    await asyncio.wait_for(beside(), timeout=1.0)  # returns with the run in flight
    await asyncio.sleep(0)
    assert runs == [0] and not started[0].done()
    await beside()  # the timer fires again: the run is still going, none is added
    assert len(started) == 1
    release.set()
    await started[0]
    await beside()  # the last run ended: the next one starts
    await started[1]
    assert runs == [0, 1]
