"""What history a second `salespulse run` sends on a broker that holds an earlier demo's
events (streams.tools.commands.run.history_within_grace).

Why: the earlier demo's live events put the worker's stream time at about now, so history
older than now minus SALES_LATE_GRACE would all be dead-lettered as late_event: a second
demo used to send 30 days of it, three quarters of which were rejected.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.tools.commands.run import GRACE_MARGIN, history_within_grace

END = datetime(2026, 12, 4, 15, tzinfo=UTC)
START = END - timedelta(days=30)


def test_only_what_the_grace_lets_in_as_dense_as_the_whole_history() -> None:
    start, events = history_within_grace(START, END, 6000, timedelta(days=7))
    assert start == END - timedelta(days=7) + GRACE_MARGIN
    # 6,000 over 30 days is 200 a day: 6 days and 23 hours of them
    assert events == round(6000 * (7 * 24 - 1) / (30 * 24)) == 1392


def test_a_grace_longer_than_the_history_keeps_all_of_it() -> None:
    assert history_within_grace(START, END, 6000, timedelta(days=60)) == (START, 6000)


def test_a_grace_within_the_margin_leaves_no_history() -> None:
    assert history_within_grace(START, END, 6000, timedelta(minutes=30)) == (END, 0)
