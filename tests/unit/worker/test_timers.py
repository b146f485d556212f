"""A periodic duty that fails is logged and runs again; it never stops the worker."""

from __future__ import annotations

import logging

import pytest

from streams.worker.timers import guarded


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
