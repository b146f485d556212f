"""The internal topic's records deleted once the consumer group has folded them.

Why: deleted by age (Kafka's default 7 days), a record that every worker was stopped too
long to fold was lost, and the worker could only refuse to start afterwards
(streams.worker.internal_loss). So the worker makes its internal topic keep records for
ever (`retention.ms=-1`, streams.worker.topics) and deletes them itself: every
SALES_INTERNAL_PURGE_INTERVAL, the records before the group's committed offset of each
internal partition it is assigned. A committed offset follows the checkpoint that wrote
what its records changed to the changelog, so nothing deleted is needed again. Kafka
Streams purges its repartition topics the same way.

A topic that deletes by age or size (made beforehand, or by a version before 2026-12-08:
among them the `salespulse.scopes` that app ids shared before 2026-12-05, which may hold
another app id's records) is left to its retention; the start says so
(streams.worker.topic_retention).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from streams.worker.kafka_options import kafka_options
from streams.worker.settings import Settings

log = logging.getLogger(__name__)

#: segments of the internal topic: Kafka frees the disk of whole segments only, so those
#: of a purged topic are kept small (Kafka Streams' settings for repartition topics)
SEGMENT_BYTES = 50 * 2**20
SEGMENT_MS = 10 * 60 * 1000


def purge_due(committed: Mapping[int, int], deleted: Mapping[int, int]) -> dict[int, int]:
    """Partition -> the offset to delete before: those whose committed offset moved past
    what was deleted there already."""
    return {
        partition: offset
        for partition, offset in committed.items()
        if offset > deleted.get(partition, 0)
    }


class InternalPurge:
    """Deletes the folded records of the internal partitions it is given, and remembers how
    far, so that an idle partition costs one offset fetch and no deletion."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: partition -> the offset records were deleted before (by this worker)
        self.deleted: dict[int, int] = {}

    async def run(self, partitions: Iterable[int]) -> dict[int, int]:
        """Delete the folded records of these partitions; returns what was deleted where."""
        topic = self.settings.topics.scopes
        tps = [TopicPartition(topic, partition) for partition in sorted(set(partitions))]
        if not tps:
            return {}
        admin = AIOKafkaAdminClient(**kafka_options(self.settings))
        await admin.start()
        try:
            commits = await admin.list_consumer_group_offsets(self.settings.app_id, partitions=tps)
            committed = {tp.partition: m.offset for tp, m in commits.items() if m.offset >= 0}
            due = purge_due(committed, self.deleted)
            if due:
                await admin.delete_records(
                    {
                        TopicPartition(topic, p): RecordsToDelete(before_offset=o)
                        for p, o in due.items()
                    }
                )
        finally:
            await admin.close()
        self.deleted.update(due)
        if due:
            log.debug("deleted the folded records of %s before %s", topic, due)
        return due
