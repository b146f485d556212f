"""Input partitions' stream times kept for the group's commits and recalled from them."""

from __future__ import annotations

from types import SimpleNamespace

from faust.types import TP

from streams.worker.commit_metadata import encode
from streams.worker.stream_times import CommittableStreamTimes, recall


def test_a_commit_carries_the_latest_time_taken_at_or_before_its_offset() -> None:
    times = CommittableStreamTimes()
    assert times.at(("in", 0), 10) is None
    times.add({("in", 0): (5, 100.0), ("in", 1): (3, 50.0)})
    times.add({("in", 0): (9, 180.0)})
    assert times.at(("in", 0), 4) is None  # before any checkpoint's records
    assert times.at(("in", 0), 5) == times.at(("in", 0), 8) == 100.0
    assert times.at(("in", 0), 9) == times.at(("in", 0), 99) == 180.0
    assert times.at(("in", 1), 3) == 50.0 and times.at(("in", 2), 3) is None
    for n in range(CommittableStreamTimes.HISTORY):  # the oldest are forgotten
        times.add({("in", 0): (10 + n, 200.0 + n)})
    assert times.at(("in", 0), 9) is None
    assert times.at(("in", 0), 10) == 200.0


def test_recall_keeps_the_latest_time_known_of_each_partition_number() -> None:
    rt = SimpleNamespace(read_stream_times={1: 500.0, 2: 10.0})
    recall(
        rt,  # type: ignore[arg-type]
        {
            TP("activities", 1): encode(7, 400.0),  # older than what was read here: kept
            TP("activities", 2): encode(None, 90.0),
            TP("deals", 2): encode(None, 60.0),  # two topics of one number: the later
            TP("activities", 3): encode(7),  # no time recorded (an earlier version's)
            TP("activities", 4): None,  # no commit yet
        },
    )
    assert rt.read_stream_times == {1: 500.0, 2: 90.0}
