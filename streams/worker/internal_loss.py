"""Records of the internal topic deleted before the consumer group folded them, found at start.

The internal topic (`<SALES_APP_ID>.scopes`) carries what one scope's batch sends another:
input records not keyed by their rep, deals' figures for their reps and teams, first wins,
memberships. The worker creates it to keep records until they are folded
(streams.worker.internal_purge); one made with a retention (beforehand, or by a version
before 2026-12-08 with Kafka's 7 days) deletes them by age. A group whose workers were all
stopped longer than that (or lagged that far) found its committed position deleted: the
client started again at the earliest record left, with a WARNING of skipped records, and
the figures went on without those contributions for good. So the worker refuses to start
when a partition's committed offset lies before the partition's first record, as it does
for a changelog that lost records (streams.worker.changelog_watermark).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Gap:
    partition: int
    committed: int  # the next offset the group would fold
    start: int  # the first offset the topic still holds


def deleted_unread(committed: Mapping[int, int], starts: Mapping[int, int]) -> list[Gap]:
    """The partitions whose committed offset lies before their first record: the records in
    between were deleted before the group folded them."""
    return [
        Gap(partition, offset, starts[partition])
        for partition, offset in sorted(committed.items())
        if partition in starts and 0 <= offset < starts[partition]
    ]


def refusal(topic: str, group: str, gaps: list[Gap]) -> str:
    """What the operator reads: what happened, what starting would do, what to do."""
    where = "; ".join(
        f"partition {gap.partition}: offsets {gap.committed} to {gap.start - 1}" for gap in gaps
    )
    return (
        f"salespulse worker: records of the internal topic {topic} were deleted before "
        f"consumer group {group!r} folded them ({where}): its retention.ms is shorter than "
        "the time every worker was stopped, or behind. They carried contributions between "
        "scopes (records not keyed by their rep, deals' figures, memberships): started, the "
        "worker would go on without them, and figures would be wrong for good. Fold all the "
        "input again under a new SALES_APP_ID (README, Reprocessing), and give the internal "
        "topic a retention.ms longer than any stop."
    )
