"""Each input partition's stream time: what its records are judged late against.

A partition number's stream time counts every input record read from the input partitions
of that number (README, Decisions, Stream time). The worker owning the internal partition of
the number keeps it with that partition's state. An input partition whose internal partition
is another worker's, or has none (an input topic with more partitions), keeps it in the
memory of the worker reading it (`Runtime.read_stream_times`). That memory was lost at a
restart and stayed behind when the partition moved: with 4 workers, a just-restarted reader
owning only an empty internal partition applied 9 of 24 deals 30 days old (a re-check
audit). So each commit of an input partition carries its stream time as of the records
committed (streams.worker.commit_metadata), and the worker assigned it next reads that back
before it folds anything (`recall`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from streams.engine.state import STREAM_TIME, encode_value, make_key, read_stream_time
from streams.worker.commit_metadata import decode

if TYPE_CHECKING:
    from streams.worker.runtime import Runtime

#: the stream time of a partition that has seen no event
BEFORE_EVERY_EVENT = float("-inf")


def input_stream_time(rt: Runtime, partition: int, owned: set[int]) -> float:
    """The stream time an input partition's records are judged from before this batch:
    what is known of it (`known_stream_time`) or, for a partition whose internal one is not
    this worker's, the latest stream time of the partitions it owns if later: every event
    there was seen (the records of a partition no commit recorded a time for, an earlier
    version's, are not judged from nothing)."""
    known = known_stream_time(rt, partition, owned)
    if partition in owned:
        return known
    return max([known, *(stream_time_of(rt, p) for p in owned)])


def known_stream_time(rt: Runtime, partition: int, owned: set[int]) -> float:
    """A partition number's stream time as this worker knows it: its state's, when its
    internal partition is owned here, or what was read of it here or recalled from the
    group's commits, whichever is later (each is a time some record of it had)."""
    read = rt.read_stream_times.get(partition, BEFORE_EVERY_EVENT)
    return max(stream_time_of(rt, partition), read) if partition in owned else read


def stream_time_of(rt: Runtime, partition: int) -> float:
    """A partition's stream time as its state holds it (staged by this batch included)."""
    stored = read_stream_time(rt.state.reader(partition), partition)
    return stored if stored is not None else BEFORE_EVERY_EVENT


def advance_stream_times(rt: Runtime, seen: dict[int, float], owned: set[int]) -> None:
    """Count the input records read from each owned partition for its stream time, after
    the fold (which judged them in arrival order): those a key sends to another partition
    too. Else a later batch judged a record against the partition its key sends it to,
    which may never have seen the newer records before it, and a reprocessing, reading
    both in one batch, judged it otherwise. Of a partition number not owned here, the
    latest is kept in memory (Runtime.read_stream_times)."""
    for partition, latest in seen.items():
        if partition not in owned:  # no state of this worker keeps it (Runtime)
            remember(rt, partition, latest)
        elif latest > stream_time_of(rt, partition):
            rt.state.stage(partition, {make_key("", STREAM_TIME, partition): encode_value(latest)})


def checkpointed(
    rt: Runtime, tps: Iterable[tuple[str, int]], owned: set[int]
) -> dict[tuple[str, int], tuple[int, float]]:
    """For each of these input partitions, the offset the handled records reach and the
    stream time of its number, taken with a checkpoint (between batches: the time is that
    of the records the checkpoint covers). Once it is complete, commits carry them
    (`CommittableStreamTimes`)."""
    taken = {}
    times: dict[int, float] = {}  # per partition number: its topics share it
    for topic, partition in tps:
        position = rt.positions.get((topic, partition))
        time = times.get(partition)
        if time is None:
            time = times[partition] = known_stream_time(rt, partition, owned)
        if position is not None and time != BEFORE_EVERY_EVENT:
            taken[(topic, partition)] = (position, time)
    return taken


class CommittableStreamTimes:
    """The stream times of input partitions as of the checkpoints completed, each with the
    offset its records reached: a commit of offset O carries the latest taken at or before
    O. Not simply the last: Faust flushes the producer before it asks for a commit's
    metadata, and a checkpoint completed meanwhile covers records after O (replayed, they
    would be judged against their own times)."""

    #: checkpoints remembered per partition: commits follow their checkpoints closely
    HISTORY = 64

    def __init__(self) -> None:
        self._taken: dict[tuple[str, int], deque[tuple[int, float]]] = {}

    def add(self, taken: Mapping[tuple[str, int], tuple[int, float]]) -> None:
        for tp, entry in taken.items():
            self._taken.setdefault(tp, deque(maxlen=self.HISTORY)).append(entry)

    def at(self, tp: tuple[str, int], offset: int) -> float | None:
        """The stream time of `tp` as of its records before `offset` (None: not known)."""
        times = [time for reached, time in self._taken.get(tp, ()) if reached <= offset]
        return max(times) if times else None


def recall(rt: Runtime, committed: Mapping[Any, str | None]) -> None:
    """Take the stream times the group's commits of these input partitions (a TP -> its
    commit's metadata) recorded: their previous reader's, or this worker's before a
    restart. A partition keeps the latest time known of it."""
    for tp, metadata in committed.items():
        time = decode(metadata).stream_time
        if time is not None:
            remember(rt, tp.partition, time)


def remember(rt: Runtime, partition: int, time: float) -> None:
    """A time some record of the input partition number had: the latest known is kept."""
    if time > rt.read_stream_times.get(partition, BEFORE_EVERY_EVENT):
        rt.read_stream_times[partition] = time
