"""How far the changelog had reached, written with the group's commits and checked at start.

The changelog is the state: a worker restores from it, then folds the input after the
group's committed offsets. A changelog topic deleted while the workers were stopped (and
made anew, empty, by the next start) left a worker that restored nothing, folded only the
input after the last commit and answered "no team has been seen" for figures of thousands
of events, without a word. (With its local state kept, Faust stopped with a traceback
first; the next start then discarded that state as a crash's.)

So each commit carries, in the offset's metadata, the changelog offset its partition's
state was written to (streams.worker.commit_metadata); before a worker starts, the
changelog's end offsets are compared with what the group's commits recorded
(`lost_partitions`): a changelog that ends before a recorded offset lost records, and the
worker refuses to start (`refusal`).
A commit by a worker without this (an earlier version) records nothing; a new SALES_APP_ID
(README, Reprocessing) has no commits: nothing to compare, nothing refused.

The other way round, a group without commits beside a changelog holding state: Kafka
deletes the offsets of a group that had no member for `offsets.retention.minutes` (7 days
by default), so a deployment stopped that long restarts from the earliest input left. Its
figures stay right (every event folded before comes again as a repeat, or late), but its
dead letters repeat, unexplained: the start says why (`commits_gone_warning`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from streams.worker.commit_metadata import decode


def recorded(commits: Iterable[tuple[int, str | None]]) -> dict[int, int]:
    """Per partition, the furthest changelog offset the commits (partition, metadata) of
    the group's topics recorded: every topic's partition p folds into state partition p."""
    furthest: dict[int, int] = {}
    for partition, metadata in commits:
        offset = decode(metadata).changelog_offset
        if offset is not None and offset > furthest.get(partition, -1):
            furthest[partition] = offset
    return furthest


@dataclass(frozen=True)
class Loss:
    partition: int
    recorded: int  # the last changelog offset a commit recorded
    end: int  # where the changelog ends now (the next offset it would write)


def lost_partitions(furthest: Mapping[int, int], ends: Mapping[int, int]) -> list[Loss]:
    """The partitions whose changelog ends at or before an offset a commit recorded: the
    record at that offset (and maybe every one before it) is gone."""
    return [
        Loss(partition, offset, ends[partition])
        for partition, offset in sorted(furthest.items())
        if partition in ends and ends[partition] <= offset
    ]


def refusal(topic: str, group: str, losses: list[Loss]) -> str:
    """What the operator reads: what happened, what starting would do, what to do."""
    where = "; ".join(
        f"partition {loss.partition} ends at offset {loss.end}, a commit recorded {loss.recorded}"
        for loss in losses
    )
    return (
        f"salespulse worker: the changelog topic {topic} has lost records of the state: "
        f"{where}. It was deleted and created anew, or truncated, while consumer group "
        f"{group!r} kept its offsets: started, the worker would restore the state without "
        "them and fold only the input after those offsets, and every figure would be "
        "wrong. Restore the topic from a backup, or fold all the input again: under a new "
        "SALES_APP_ID (README, Reprocessing), or after deleting the consumer group "
        f"({group}) and the changelog topic."
    )


def commits_gone_warning(group: str, topic: str, records: int) -> str:
    """What the operator reads when the group has no commits but its changelog holds state."""
    return (
        f"consumer group {group!r} has no committed offsets, but its changelog {topic} "
        f"holds state ({records} records written): the group's offsets were deleted (Kafka "
        "deletes those of a group with no member for the broker's "
        "offsets.retention.minutes, 7 days by default) or reset, or a first run stopped "
        "before its first commit. Every input topic is read again from its earliest "
        "record: the events folded before count as repeats or, past SALES_LATE_GRACE, go "
        "to the dead-letter topic as late_event again; figures do not change. Keep "
        "offsets.retention.minutes above the longest time all workers may be stopped."
    )
