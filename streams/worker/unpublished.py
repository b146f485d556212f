"""sales.performance documents still owed, kept with each checkpoint.

The publisher works on a time budget (streams.worker.performance_publisher), so at any
instant some changed figures are not on the topic yet. Kept only in memory, a kill lost
them; the restarted owner republished the periods an event can still reach, but never a
period that a deal's move left without data (its old close date's pipeline, its creation
date's cohort, found stale on the topic by an independent check that killed workers). Each
checkpoint now makes sure the table holds every pair still owed on each partition, with the
state that changed them; whoever rebuilds the partition's views publishes them again: at
least once.

What the table holds is a superset: pairs added since the last checkpoint are written when
it lacks them, and published ones are dropped only once it holds over twice what is owed
(a document published twice is allowed; rewriting every owed pair at each checkpoint while
draining a backlog took some 5 % of the worker). One record per 2,000 pairs (a backlog leaves
tens of thousands owed; Kafka takes 1 MiB a record at most).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from streams.engine.state import UNPUBLISHED, encode_value, make_key
from streams.worker.performance_publisher import ScopePeriod

Writes = dict[int, dict[bytes, bytes | None]]

#: pairs in one record: some 60 KiB, far below Kafka's message limit
CHUNK_PAIRS = 2_000
#: the table may hold this many pairs more than twice what is owed before it is rewritten
SLACK_PAIRS = 1_000


class UnpublishedRecords:
    """What the table holds of each partition's owed pairs, and the writes that keep it
    holding at least those."""

    def __init__(self) -> None:
        #: partition -> the pairs its records hold, and how many records hold them
        self.held: dict[int, set[ScopePeriod]] = {}
        self.chunks: dict[int, int] = {}
        #: partition -> chunk number -> its pairs, as a rebuild under way reads them
        self.read: dict[int, dict[int, list[ScopePeriod]]] = {}

    def found(self, partition: int, chunk: int, pairs: list[ScopePeriod]) -> None:
        """A rebuild read one of the records."""
        self.read.setdefault(partition, {})[chunk] = pairs

    def rebuilt(self, owned: Iterable[int]) -> list[ScopePeriod]:
        """The views were built from the table of the `owned` partitions (what `found`
        saw since the last call is theirs). Returns every pair their records hold."""
        read, self.read = self.read, {}
        self.held.clear()
        self.chunks.clear()
        pairs: list[ScopePeriod] = []
        for partition in owned:
            chunks = read.get(partition, {})
            held = {pair for chunk in chunks.values() for pair in chunk}
            self.held[partition] = held
            self.chunks[partition] = max(chunks) + 1 if chunks else 0
            pairs += sorted(held)
        return pairs

    def writes(
        self,
        added: Iterable[ScopePeriod],
        owed_count: int,
        owed: Callable[[], set[ScopePeriod]],
        partition_of: Callable[[str], int],
        partitions: Iterable[int],
    ) -> Writes:
        """The records to stage per partition (None deletes one) so that the table holds
        every owed pair of `partitions`: `added` are the pairs added since the last call
        (any owed pair the table may lack is among them), `owed_count` about how many are
        owed, `owed()` all of them (asked only when the table is rewritten exactly)."""
        owned = set(partitions)
        for partition in [p for p in self.held if p not in owned]:
            del self.held[partition]  # another worker's now: its rebuild reads the table
        if sum(len(held) for held in self.held.values()) > 2 * owed_count + SLACK_PAIRS:
            return self._exactly(owed(), partition_of, owned)
        missing: dict[int, set[ScopePeriod]] = defaultdict(set)
        partitions_of: dict[str, int] = {}
        for pair in added:
            known = partitions_of.get(pair[0])
            partition = known if known is not None else partition_of(pair[0])
            partitions_of[pair[0]] = partition
            if partition in owned and pair not in self.held.get(partition, ()):
                missing[partition].add(pair)
        return {
            partition: self._hold(partition, self.held.get(partition, set()) | pairs)
            for partition, pairs in missing.items()
        }

    def _exactly(
        self, owed: set[ScopePeriod], partition_of: Callable[[str], int], owned: set[int]
    ) -> Writes:
        by_partition: dict[int, set[ScopePeriod]] = defaultdict(set)
        for pair in owed:
            by_partition[partition_of(pair[0])].add(pair)
        return {
            partition: self._hold(partition, by_partition.get(partition, set()))
            for partition in sorted(owned)
            if by_partition.get(partition, set()) != self.held.get(partition, set())
        }

    def _hold(self, partition: int, pairs: set[ScopePeriod]) -> dict[bytes, bytes | None]:
        ordered = sorted(pairs)
        chunks = [ordered[i : i + CHUNK_PAIRS] for i in range(0, len(ordered), CHUNK_PAIRS)]
        writes: dict[bytes, bytes | None] = {
            make_key("", UNPUBLISHED, partition, n): encode_value(chunk)
            for n, chunk in enumerate(chunks)
        }
        for n in range(len(chunks), self.chunks.get(partition, 0)):
            writes[make_key("", UNPUBLISHED, partition, n)] = None
        self.held[partition] = pairs
        self.chunks[partition] = len(chunks)
        return writes
