"""The topics salespulse needs, created when missing.

Used by the worker at start-up and by the command-line tools (which may
run against an empty broker before any worker has started), so every topic is created with
the same partitions, replication and cleanup policy whoever creates it first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError, for_code

from streams.worker.internal_purge import SEGMENT_BYTES, SEGMENT_MS
from streams.worker.kafka_options import kafka_options
from streams.worker.settings import Settings
from streams.worker.topic_retention import UNLIMITED

log = logging.getLogger(__name__)

#: the Faust table of all scope state; its changelog is `<SALES_APP_ID>-scopes-changelog`
SCOPES_TABLE = "scopes"
#: the internal topic of every app id before it was named after the app id (2026-12-05)
LEGACY_SCOPES_TOPIC = "salespulse.scopes"


def changelog_topic(settings: Settings) -> str:
    """The scopes table's changelog topic, as Faust names it."""
    return f"{settings.app_id}-{SCOPES_TABLE}-changelog"


def durability(settings: Settings) -> dict[str, str]:
    """Settings of every topic the worker or the tools create: with three replicas or more,
    a write (acks=all, which the worker and the tools use) needs two of them in sync, so a
    broker can restart without a record lost or writes stopped. Kafka's own default of one
    would let a record only the leader held be acknowledged, and lost with it."""
    if settings.replication_factor >= 3:
        return {"min.insync.replicas": "2"}
    return {}


def wanted_topics(settings: Settings) -> list[NewTopic]:
    t = settings.topics
    n = settings.topic_partitions
    rf = settings.replication_factor
    durable = durability(settings)
    compact = {**durable, "cleanup.policy": "compact"}
    return [
        NewTopic(t.activities, n, rf, topic_configs=durable),
        NewTopic(t.deals, n, rf, topic_configs=durable),
        NewTopic(t.feedback, n, rf, topic_configs=durable),
        NewTopic(t.targets, n, rf, topic_configs=compact),
        NewTopic(t.alerts, n, rf, topic_configs=durable),
        NewTopic(t.performance, n, rf, topic_configs=compact),
        NewTopic(t.deadletter, n, rf, topic_configs=durable),
        NewTopic(t.scopes, n, rf, topic_configs={**durable, **purged_by_the_worker()}),
    ]


def purged_by_the_worker() -> dict[str, str]:
    """The internal topic keeps its records until the worker deletes them, folded
    (streams.worker.internal_purge), in segments small enough to be freed soon after."""
    return {
        "retention.ms": UNLIMITED,
        "retention.bytes": UNLIMITED,
        "segment.bytes": str(SEGMENT_BYTES),
        "segment.ms": str(SEGMENT_MS),
    }


async def ensure_topics(settings: Settings, names: Iterable[str] | None = None) -> list[str]:
    """Create the missing topics (all, or those among `names`); return the names created.

    Existing topics are left as they are; a topic created meanwhile by another client is
    fine. Returns once every partition of the created topics has a leader, so the first
    sends are not refused.
    """
    only = None if names is None else set(names)
    wanted = [t for t in wanted_topics(settings) if only is None or t.name in only]
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    try:
        await admin.start()
    except Exception:
        await admin.close()
        raise
    try:
        existing = set(await admin.list_topics())
        missing = [topic for topic in wanted if topic.name not in existing]
        if not missing:
            return []
        created = [t.name for t in missing]
        if not await create_topics(admin, missing):
            log.warning(
                "created topics %s, but some partitions have no leader after 30 s; the first "
                "sends may be refused until the broker elects one",
                ", ".join(created),
            )
        log.info("created topics: %s", ", ".join(created))
        return created
    finally:
        await admin.close()


async def described_configs(admin: AIOKafkaAdminClient, resource: Any) -> dict[str, str] | None:
    """The configuration of one ConfigResource (a topic, a broker) by name; None when the
    broker answers with an error (not allowed to describe it, say)."""
    return (await _described(admin, [resource])).get(resource.name)


async def topic_configs(admin: AIOKafkaAdminClient, topics: Iterable[str]) -> dict[str, Any]:
    """The configuration of each topic, in one request; a topic the broker would not describe
    (not allowed, say) is left out."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    return await _described(admin, [ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])


async def _described(admin: AIOKafkaAdminClient, resources: list[Any]) -> dict[str, Any]:
    found: dict[str, dict[str, str]] = {}
    if not resources:
        return found
    for result in await admin.describe_configs(resources):
        for described in result.resources:  # (error code, message, type, name, entries)
            if described[0] == 0:
                entries = described[4]
                found[described[3]] = {e[0]: e[1] for e in entries if e[1] is not None}
    return found


def message_limit(configs: dict[str, str] | None) -> int | None:
    """A topic's max.message.bytes, from its configuration; None when the broker does not say."""
    limit = (configs or {}).get("max.message.bytes")
    return int(limit) if limit is not None else None


async def create_topics(admin: AIOKafkaAdminClient, topics: Sequence[NewTopic]) -> bool:
    """Create `topics` (one that exists already is fine); returns whether every partition
    has a leader within 30 s. The one place topics are created: the worker, the tools and
    the benches share its error handling."""
    response = await admin.create_topics(list(topics))
    for name, code, *_ in response.topic_errors:
        if code not in (0, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"cannot create topic {name}")
    return await wait_for_leaders(admin, [t.name for t in topics])


async def wait_for_leaders(
    admin: AIOKafkaAdminClient, names: list[str], timeout: float = 30.0
) -> bool:
    """Until every partition of `names` has a leader; False if the timeout passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = await admin.describe_topics(names)
        if all(
            t["error_code"] == 0
            and t["partitions"]
            and all(p["leader"] >= 0 for p in t["partitions"])
            for t in described
        ):
            return True
        await asyncio.sleep(0.2)
    return False


async def legacy_internal_backlog(settings: Settings, admin: AIOKafkaAdminClient) -> int | None:
    """Records this app's consumer group left unread on the internal topic all app ids
    shared before it was named after the app id; None when the group never read it (or the
    app still uses it). An upgraded worker reads only its new topic: records waiting on the
    old one would never be folded."""
    if settings.topics.scopes == LEGACY_SCOPES_TOPIC:
        return None
    offsets = await admin.list_consumer_group_offsets(settings.app_id)
    read = {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if tp.topic == LEGACY_SCOPES_TOPIC and meta.offset >= 0
    }
    if not read:
        return None
    ends = await partition_offsets(settings, LEGACY_SCOPES_TOPIC, read, end=True)
    return sum(max(ends[partition] - offset, 0) for partition, offset in read.items())


async def partition_offsets(
    settings: Settings, topic: str, partitions: Iterable[int], *, end: bool
) -> dict[int, int]:
    """Where each partition of `topic` ends (the offset it would write next), or, not `end`,
    where it starts (its first record still held), asked by a consumer of its own."""
    tps = [TopicPartition(topic, partition) for partition in partitions]
    consumer = AIOKafkaConsumer(**kafka_options(settings), enable_auto_commit=False)
    await consumer.start()
    try:
        found = await (consumer.end_offsets(tps) if end else consumer.beginning_offsets(tps))
    finally:
        await consumer.stop()
    return {tp.partition: offset for tp, offset in found.items()}


async def app_topic_partitions(settings: Settings, admin: AIOKafkaAdminClient) -> dict[str, int]:
    """The partition counts of the app's own topics that exist (internal topic, changelog).
    Their partitions are the state's: a scope is kept on the partition its id hashes to
    among that many, so the count cannot change under existing state (input topics may
    have any count)."""
    names = [settings.topics.scopes, changelog_topic(settings)]
    existing = set(await admin.list_topics())
    wanted = [name for name in names if name in existing]
    described = await admin.describe_topics(wanted) if wanted else []
    return {t["topic"]: len(t["partitions"]) for t in described if t["error_code"] == 0}
