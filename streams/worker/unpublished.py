"""sales.performance documents still owed, kept with each checkpoint.

The publisher works on a time budget (streams.worker.performance_publisher), so at any
instant some changed figures are not on the topic yet. Kept only in memory, a kill lost
them; the restarted owner republished the periods an event can still reach, but never a
period that a deal's move left without data (its old close date's pipeline, its creation
date's cohort, found stale on the topic by an independent check that killed workers). Each
checkpoint now writes the pairs still owed on each partition, with the state that changed
them; whoever rebuilds the partition's views publishes them again: at least once.

One record per 2,000 pairs (a backlog leaves thousands owed; Kafka takes 1 MiB a record at
most), written only when the partition's pairs changed since its last checkpoint.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

from streams.engine.state import UNPUBLISHED, encode_value, make_key

ScopePeriod = tuple[str, str]

#: pairs in one record: some 60 KiB, far below Kafka's message limit
CHUNK_PAIRS = 2_000


class UnpublishedRecords:
    """What the table holds of each partition's owed pairs, and the writes that bring it up
    to date."""

    def __init__(self) -> None:
        #: partition -> the pairs its records hold (sorted), and how many records hold them
        self.held: dict[int, tuple[ScopePeriod, ...]] = {}
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
            held = sorted({pair for chunk in chunks.values() for pair in chunk})
            self.held[partition] = tuple(held)
            self.chunks[partition] = max(chunks) + 1 if chunks else 0
            pairs += held
        return pairs

    def writes(
        self,
        owed: Iterable[ScopePeriod],
        partition_of: Callable[[str], int],
        partitions: Iterable[int],
    ) -> dict[int, dict[bytes, bytes | None]]:
        """The records to stage per partition (None deletes one) so that the table holds
        exactly the `owed` pairs of each of `partitions`; nothing for a partition whose
        pairs did not change."""
        by_partition: dict[int, list[ScopePeriod]] = defaultdict(list)
        for pair in owed:
            by_partition[partition_of(pair[0])].append(pair)
        out: dict[int, dict[bytes, bytes | None]] = {}
        for partition in partitions:
            pairs = tuple(sorted(by_partition.get(partition, ())))
            if pairs == self.held.get(partition, ()):
                continue
            chunks = [pairs[i : i + CHUNK_PAIRS] for i in range(0, len(pairs), CHUNK_PAIRS)]
            writes: dict[bytes, bytes | None] = {
                make_key("", UNPUBLISHED, partition, n): encode_value(list(chunk))
                for n, chunk in enumerate(chunks)
            }
            for n in range(len(chunks), self.chunks.get(partition, 0)):
                writes[make_key("", UNPUBLISHED, partition, n)] = None
            out[partition] = writes
            self.held[partition] = pairs
            self.chunks[partition] = len(chunks)
        return out
