"""Creates the topics salespulse needs when they are missing, at worker start-up."""

from __future__ import annotations

import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.settings import Settings

log = logging.getLogger(__name__)


def wanted_topics(settings: Settings) -> list[NewTopic]:
    t = settings.topics
    n = settings.topic_partitions
    rf = settings.replication_factor
    compact = {"cleanup.policy": "compact"}
    return [
        NewTopic(t.activities, n, rf),
        NewTopic(t.deals, n, rf),
        NewTopic(t.feedback, n, rf),
        NewTopic(t.targets, n, rf, topic_configs=compact),
        NewTopic(t.alerts, n, rf),
        NewTopic(t.performance, n, rf, topic_configs=compact),
        NewTopic(t.deadletter, n, rf),
        NewTopic(t.scopes, n, rf),
    ]


async def ensure_topics(settings: Settings) -> list[str]:
    """Create missing topics; return the names created. Existing topics are left as they are."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap, **settings.kafka_client_options()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted_topics(settings) if topic.name not in existing]
        if missing:
            await admin.create_topics(missing)
            log.info("created topics: %s", ", ".join(t.name for t in missing))
        return [t.name for t in missing]
    finally:
        await admin.close()
