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
            if latest > rt.read_stream_times.get(partition, BEFORE_EVERY_EVENT):
                rt.read_stream_times[partition] = latest
        elif latest > stream_time_of(rt, partition):
            rt.state.stage(partition, {make_key("", STREAM_TIME, partition): encode_value(latest)})


def checkpointed(rt: Runtime, partitions: Iterable[int], owned: set[int]) -> dict[int, float]:
    """The stream times of these input partition numbers, taken with a checkpoint: once it
    is complete, the commits of their offsets carry them (`Runtime.committable_stream_times`).
    Taken between batches, so each is the time of the records the checkpoint covers."""
    times = {p: known_stream_time(rt, p, owned) for p in partitions}
    return {p: time for p, time in times.items() if time != BEFORE_EVERY_EVENT}


def recall(rt: Runtime, committed: Mapping[Any, str | None]) -> None:
    """Take the stream times the group's commits of these input partitions (a TP -> its
    commit's metadata) recorded: their previous reader's, or this worker's before a
    restart. A partition keeps the latest time known of it."""
    for tp, metadata in committed.items():
        time = decode(metadata).stream_time
        if time is not None and time > rt.read_stream_times.get(tp.partition, BEFORE_EVERY_EVENT):
            rt.read_stream_times[tp.partition] = time
