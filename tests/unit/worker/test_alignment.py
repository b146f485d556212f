"""Which input records a batch folds now and which wait for a slower partition
(streams.worker.alignment.PartitionClock).

Why: a catch-up of 30 time-ordered days lost 92 % of a month's activities as late_event with
the default 7-day grace: the sparse topics' fetches reached the present while the dense one
was still weeks behind, and stream time followed the fastest.
"""

from __future__ import annotations

from streams.worker.alignment import PATIENCE_SECONDS, PartitionClock

DAY = 86_400.0


def test_records_past_the_slowest_behind_partition_by_more_than_the_slack_wait() -> None:
    clock: PartitionClock[str] = PartitionClock()
    times = {"activities": [1 * DAY, 2 * DAY, 3 * DAY], "deals": [1 * DAY, 5 * DAY, 10 * DAY]}
    cuts = clock.cuts(times, behind=["activities", "deals"], now=100.0, slack=3.5 * DAY)
    # the frontier is the activities' 3rd day: deals up to day 6.5 are folded now
    assert cuts == {"activities": 3, "deals": 2}


def test_a_partition_that_has_nothing_more_to_read_holds_nothing_back() -> None:
    clock: PartitionClock[str] = PartitionClock()
    times = {"activities": [1 * DAY, 2 * DAY], "deals": [1 * DAY, 30 * DAY]}
    assert clock.cuts(times, behind=["deals"], now=0.0, slack=DAY) == {
        "activities": 2,
        "deals": 2,
    }
    assert clock.cuts(times, behind=[], now=0.0, slack=DAY) == {"activities": 2, "deals": 2}


def test_a_behind_partition_outside_the_batch_holds_back_while_it_delivers() -> None:
    clock: PartitionClock[str] = PartitionClock()
    clock.cuts({"activities": [1 * DAY, 2 * DAY]}, [], now=100.0, slack=DAY)
    times = {"deals": [2 * DAY, 4 * DAY, 9 * DAY]}
    assert clock.cuts(times, ["activities", "deals"], now=101.0, slack=DAY) == {"deals": 1}
    # one that delivered nothing for longer than the patience is not waited for
    later = 100.0 + PATIENCE_SECONDS + 1
    assert clock.cuts(times, ["activities", "deals"], now=later, slack=DAY) == {"deals": 3}


def test_a_partition_left_for_later_stands_at_its_first_record_left() -> None:
    """What it still has to fold starts there, whatever it delivered beyond."""
    clock: PartitionClock[str] = PartitionClock()
    times = {"a": [1 * DAY, 2 * DAY], "b": [1 * DAY, 4 * DAY, 9 * DAY]}
    assert clock.cuts(times, ["a", "b"], now=0.0, slack=DAY) == {"a": 2, "b": 1}
    assert clock.reached == {"a": 2 * DAY, "b": 4 * DAY}
    assert clock.delivered_at == {"a": 0.0, "b": 0.0}


def test_a_behind_partition_that_never_delivered_is_waited_for_a_while() -> None:
    """A catch-up's first batch may hold only the sparse topics: the dense one's partitions
    are behind and have delivered nothing yet. Folding the rest would run stream time to the
    present; everything with an event time waits, for up to the patience."""
    clock: PartitionClock[str] = PartitionClock()
    times = {"deals": [2 * DAY, 4 * DAY], "targets": [None]}
    behind = ["activities", "deals"]
    assert clock.cuts(times, behind, now=10.0, slack=DAY) == {"deals": 0, "targets": 1}
    assert clock.cuts(times, behind, now=10.0 + PATIENCE_SECONDS, slack=DAY)["deals"] == 0
    later = 10.0 + PATIENCE_SECONDS + 0.1
    assert clock.cuts(times, behind, now=later, slack=DAY) == {"deals": 2, "targets": 1}


def test_once_it_delivers_its_time_is_what_the_others_wait_for() -> None:
    clock: PartitionClock[str] = PartitionClock()
    behind = ["activities", "deals"]
    deals = {"deals": [2 * DAY, 4 * DAY]}
    assert clock.cuts(deals, behind, now=1.0, slack=DAY) == {"deals": 0}
    assert clock.waiting_since == {"activities": 1.0}
    assert clock.cuts({"activities": [1 * DAY]}, behind, now=2.0, slack=DAY) == {"activities": 1}
    assert clock.waiting_since == {}
    assert clock.cuts(deals, behind, now=3.0, slack=1.5 * DAY) == {"deals": 1}


def test_records_without_an_event_time_never_cut_and_wait_behind_a_cut() -> None:
    clock: PartitionClock[str] = PartitionClock()
    times = {"activities": [DAY, None, 2 * DAY], "deals": [None, DAY, 20 * DAY, None]}
    cuts = clock.cuts(times, behind=["activities", "deals"], now=0.0, slack=DAY)
    assert cuts == {"activities": 3, "deals": 2}


def test_shuffled_times_hold_nothing_back() -> None:
    """Out-of-order input (the bench's wide shape): every partition's batch reaches about
    the present, so the frontier does too."""
    clock: PartitionClock[str] = PartitionClock()
    times = {"a": [29 * DAY, 3 * DAY, 30 * DAY], "b": [2 * DAY, 29.5 * DAY, 1 * DAY]}
    assert clock.cuts(times, behind=["a", "b"], now=0.0, slack=3.5 * DAY) == {"a": 3, "b": 3}


def test_a_partition_that_delivered_only_records_without_time_keeps_what_it_reached() -> None:
    clock: PartitionClock[str] = PartitionClock()
    clock.cuts({"a": [5.0, None, 3.0]}, [], now=7.0, slack=0.0)
    clock.cuts({"a": [None], "b": []}, [], now=8.0, slack=0.0)
    assert clock.reached == {"a": 5.0}
    assert clock.delivered_at == {"a": 8.0}


def test_a_partition_left_for_later_is_due_once_a_cut_would_take_its_first_record() -> None:
    """The delivery path holds back what a partition left until this says so: the same
    limit as the cuts, so what comes back is taken, at least in part."""
    clock: PartitionClock[str] = PartitionClock()
    times = {"activities": [1 * DAY, 2 * DAY], "deals": [2 * DAY, 9 * DAY]}
    assert clock.cuts(times, ["activities", "deals"], now=100.0, slack=3 * DAY) == {
        "activities": 2,
        "deals": 1,
    }
    assert clock.due(["deals"], ["activities", "deals"], now=100.5, slack=3 * DAY) == set()
    clock.cuts({"activities": [6 * DAY]}, ["activities", "deals"], now=101.0, slack=3 * DAY)
    assert clock.due(["deals"], ["activities", "deals"], now=101.5, slack=3 * DAY) == {"deals"}
    assert clock.cuts({"deals": [9 * DAY]}, ["activities", "deals"], 102.0, 3 * DAY) == {"deals": 1}


def test_every_partition_left_for_later_is_due_once_none_is_behind() -> None:
    clock: PartitionClock[str] = PartitionClock()
    clock.cuts({"activities": [1 * DAY], "deals": [30 * DAY]}, ["activities"], 0.0, DAY)
    assert clock.due(["deals"], [], now=0.5, slack=DAY) == {"deals"}
