"""The batch path tells Faust's monitor which partitions it is processing, as Faust's own
streams do, so Faust's watchdog does not log "Stream has not started processing" for every
partition the batch path serves (it did, hundreds of times per benchmark run)."""

from __future__ import annotations

from time import monotonic
from types import SimpleNamespace
from typing import Any

import pytest
from faust.types import TP

from streams.worker.delivery import mark_inbound


def test_a_delivered_batch_marks_its_partitions_as_processing() -> None:
    monitor = SimpleNamespace(stream_inbound_time={TP("other", 0): 1.0})
    app = SimpleNamespace(monitor=monitor)
    batch = {TP("sales.activities", 3): [object()], TP("sales.scopes", 1): [object()]}
    before = monotonic()
    mark_inbound(app, batch)
    marked = monitor.stream_inbound_time
    assert set(marked) == {TP("other", 0), *batch}
    assert all(marked[tp] >= before for tp in batch)


def test_without_a_monitor_nothing_is_marked() -> None:
    mark_inbound(SimpleNamespace(monitor=None), {TP("sales.activities", 0): [object()]})


def test_every_assigned_partition_can_be_marked_at_once() -> None:
    """What the end of a rebalance does (BatchApp.on_rebalance_end): the rebalance clears
    the monitor's record, and the watchdog counts from the worker's start, so a worker up
    over 5 minutes logged the error for partitions still catching up."""
    assigned = {TP("sales.activities", 2), TP("sales.deals", 5)}
    monitor = SimpleNamespace(stream_inbound_time={})
    before = monotonic()
    mark_inbound(SimpleNamespace(monitor=monitor), assigned)
    assert set(monitor.stream_inbound_time) == assigned
    assert all(t >= before for t in monitor.stream_inbound_time.values())


def test_the_end_of_a_rebalance_marks_every_assigned_partition_after_faust_clears_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Marked at the end of recovery, the marks were wiped by Faust's end of the rebalance
    that follows it, and the watchdog logged its error anyway (the upgrade audit)."""
    import faust

    from streams.worker.delivery import BatchApp

    assigned = {TP("sales.activities", 4), TP("sales.scopes", 4)}
    monitor = SimpleNamespace(stream_inbound_time={TP("sales.activities", 1): 1.0})

    def faust_end(self: Any) -> None:  # what Faust's monitor does at the end of a rebalance
        monitor.stream_inbound_time.clear()

    monkeypatch.setattr(faust.App, "on_rebalance_end", faust_end)
    monkeypatch.setattr(BatchApp, "monitor", property(lambda self: monitor))
    # Faust's commit clock of its consumer thread: one partition committed long ago
    commits = {TP("sales.activities", 4): 1.0}
    consumer = SimpleNamespace(
        assignment=lambda: assigned, _thread=SimpleNamespace(tp_last_committed_at=commits)
    )
    monkeypatch.setattr(BatchApp, "consumer", property(lambda self: consumer))
    before = monotonic()
    BatchApp.on_rebalance_end(BatchApp.__new__(BatchApp))
    assert set(monitor.stream_inbound_time) == assigned
    assert all(t >= before for t in monitor.stream_inbound_time.values())
    # its commit clock starts with the assignment: no "has not committed at all since
    # worker start" before the first commit of a partition the rebalance brought
    assert set(commits) == assigned and all(t >= before for t in commits.values())
