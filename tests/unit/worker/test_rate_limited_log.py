"""Rejected records are logged at a bounded rate, with a count of the rest."""

from __future__ import annotations

import logging

import pytest

from streams.worker.rate_limited_log import RateLimitedLog


def limited(now: list[float], per_interval: int, where: str = "") -> RateLimitedLog:
    """A log of rejected records, one minute per interval, on the clock `now[0]`."""
    return RateLimitedLog(
        logging.getLogger("t"),
        "rejected records",
        per_interval=per_interval,
        interval=60,
        clock=lambda: now[0],
        where=where,
    )


def test_first_lines_then_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    rl = limited(now, per_interval=3)
    with caplog.at_level(logging.WARNING):
        for i in range(10):
            rl.add("record %d", i)
        rl.flush()
        assert [r.getMessage() for r in caplog.records] == ["record 0", "record 1", "record 2"]
        now[0] = 61.0
        rl.flush()
        assert caplog.records[-1].getMessage() == (
            "7 more rejected records in the last 61 s not logged one by one"
        )
        rl.add("record %d", 10)
        assert caplog.records[-1].getMessage() == "record 10"
        now[0] = 200.0
        count = len(caplog.records)
        rl.flush()
        assert len(caplog.records) == count  # nothing held back, nothing to say


def test_the_count_says_where_every_one_of_them_is(caplog: pytest.LogCaptureFixture) -> None:
    now = [0.0]
    rl = limited(now, per_interval=0, where="all are on the dead-letter topic")
    with caplog.at_level(logging.WARNING):
        rl.add("record %d", 1)
        now[0] = 60.0
        rl.flush()
    assert [r.getMessage() for r in caplog.records] == [
        "1 more rejected records in the last 60 s not logged one by one (all are on the "
        "dead-letter topic)"
    ]
