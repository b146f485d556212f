"""Topics made beforehand (a platform's policy, a lowered broker default), against a real
broker.

- Records Kafka must keep (streams.worker.topic_retention): a changelog made with the
  broker's default policy (delete, 7 days) kept the worker running for a week, until Kafka
  deleted the oldest frames and a restore rebuilt figures with events missing. The worker
  refuses it at start, with the command that fixes it, and starts once the topic is
  compacted; a performance topic that deletes is said.
- Records of the internal topic deleted before the group folded them
  (streams.worker.internal_loss): refused at start, naming the partitions. An internal
  topic made to delete by age (not kept for ever and purged by the worker) is said.
- Records that must fit (streams.worker.message_limits): an internal topic that takes less
  than the worker's largest envelope refused it under load, and the worker stopped at the
  same batch at every start. It is refused at start, naming the limit to set. A
  performance document too large for its topic is said once, not sent again at every run.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.worker.message_limits import KAFKA_DEFAULT
from streams.worker.topics import topic_configs
from tests.support.topics import create_topic
from tests.support.workers import (
    Cluster,
    eventually,
    free_port,
    group_commits,
    http_get,
    produce,
    salespulse,
    wait_ready,
)

WEEK_MS = "604800000"
DAY_MS = "86400000"


async def alter(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    """What a refusal tells the operator to do (kafka-configs --add-config), by AdminClient
    (AlterConfigs replaces the topic's whole configuration); returns once the broker
    describes the topic so (it applies a change a moment after it answered)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(ConfigResourceType.TOPIC, topic, configs=configs)
        response = await admin.alter_configs([resource])
        assert not [r for resp in response for r in resp.resources if r[0] != 0], response

        async def applied() -> None:
            described = (await topic_configs(admin, [topic]))[topic]
            assert {name: described.get(name) for name in configs} == configs, described

        await eventually(applied, timeout=30, interval=0.1)
    finally:
        await admin.close()


async def refused_start(cluster: Cluster) -> str:
    """A worker's start that must be refused (exit 1): what it said."""
    done = await salespulse(cluster.env(free_port()), "worker", "--wait-for-kafka", "30")
    assert done.returncode == 1, done.stderr
    return done.stderr


async def test_a_changelog_kafka_may_delete_is_refused_until_it_is_compacted(
    cluster: Cluster,
) -> None:
    changelog = f"{cluster.name}-scopes-changelog"
    performance = cluster.topic("performance")
    deleting = {"cleanup.policy": "delete", "retention.ms": WEEK_MS}
    await create_topic(changelog, 8, configs=deleting, bootstrap_servers=cluster.bootstrap)
    await create_topic(
        performance,
        8,
        configs={**deleting, "retention.ms": DAY_MS},
        bootstrap_servers=cluster.bootstrap,
    )

    said = await refused_start(cluster)
    policy = f"the changelog topic {changelog} has cleanup.policy=delete, retention.ms={WEEK_MS}"
    assert policy in said, said
    assert f"--entity-name {changelog} --add-config cleanup.policy=compact" in said, said

    await alter(cluster.bootstrap, changelog, {"cleanup.policy": "compact"})
    worker = cluster.start_worker()
    await wait_ready([worker])
    log = worker.log_path.read_text(errors="replace")
    assert f"{performance} has cleanup.policy=delete, retention.ms={DAY_MS}" in log, log[-3000:]
    assert "the changelog topic" not in log


async def test_an_internal_topic_too_small_for_an_envelope_is_refused_until_raised(
    cluster: Cluster,
) -> None:
    internal = cluster.topic("scopes")
    await create_topic(
        internal, 8, configs={"max.message.bytes": "100000"}, bootstrap_servers=cluster.bootstrap
    )
    said = await refused_start(cluster)
    assert f"the internal topic {internal} takes records of at most 100000 bytes" in said, said
    fix = f"--entity-name {internal} --add-config max.message.bytes={KAFKA_DEFAULT}"
    assert fix in said, said

    await alter(cluster.bootstrap, internal, {"max.message.bytes": str(KAFKA_DEFAULT)})
    worker = cluster.start_worker()
    await wait_ready([worker])
    # made with the broker's 7 days: left to that retention, said with the fix
    log = worker.log_path.read_text(errors="replace")
    deletes = f"the internal topic {internal} has cleanup.policy=delete, retention.ms={WEEK_MS}"
    assert deletes in log, log[-3000:]


async def test_internal_records_deleted_before_they_were_folded_are_refused(
    cluster: Cluster,
) -> None:
    """Every worker stopped longer than the internal topic's retention: its records were
    deleted unread, and the worker went on without the contributions they carried."""
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    deals = [
        {
            "event_id": f"e{n}", "occurred_at": now.isoformat(), "rep_id": f"r{n}",
            "team_id": "west", "deal_id": f"d{n}", "outcome": "won", "amount": 10,
            "currency": "USD",
        }
        for n in range(6)
    ]  # fmt: skip
    await produce(cluster.bootstrap, [(cluster.topic("deals"), None, deal) for deal in deals])
    internal = cluster.topic("scopes")

    async def internal_committed() -> dict[int, int]:
        commits = await group_commits(cluster.bootstrap, cluster.name)
        found = {tp.partition: m.offset for tp, m in commits.items() if tp.topic == internal}
        assert any(offset > 0 for offset in found.values()), found
        return found

    committed = await eventually(internal_committed, timeout=60)
    worker.stop()
    # one more record on a partition the group folded, then retention's work: deleted
    partition = next(p for p, offset in committed.items() if offset > 0)
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(internal, b"never read", partition=partition)
    finally:
        await producer.stop()
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        tp = TopicPartition(internal, partition)
        await admin.delete_records({tp: RecordsToDelete(before_offset=sent.offset + 1)})
    finally:
        await admin.close()

    said = await refused_start(cluster)
    deleted = f"records of the internal topic {internal} were deleted before consumer group"
    assert deleted in said, said
    gap = f"partition {partition}: offsets {committed[partition]} to {sent.offset}"
    assert gap in said, said


async def test_documents_too_large_for_the_performance_topic_are_said_not_sent_again(
    cluster: Cluster,
) -> None:
    """A performance topic whose max.message.bytes is below a document's size (a platform's
    policy, or thousands of deal sources in one document): each refused document is said
    once, naming its scope, period and size, and not sent again at every run until its
    figures change; the figures stay on the API."""
    performance = cluster.topic("performance")
    await create_topic(
        performance,
        8,
        configs={"cleanup.policy": "compact", "max.message.bytes": "600"},
        bootstrap_servers=cluster.bootstrap,
    )
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    month = now.strftime("%Y-%m")
    calls = [
        {"event_id": f"c{n}", "occurred_at": now.isoformat(), "rep_id": "ada", "team_id": "west",
         "activity": "call"}
        for n in range(3)
    ]  # fmt: skip
    await produce(cluster.bootstrap, [(cluster.topic("activities"), b"ada", c) for c in calls])
    said = f"the {performance} document of rep:ada in {month} is "

    async def refused_with_every_call() -> None:
        status, body = await http_get(f"{worker.url}/v1/reps/ada/performance?period={month}")
        assert status == 200 and body["activities"]["total"] == 3, body
        assert said in worker.log_path.read_text(errors="replace"), worker.log_tail()

    await eventually(refused_with_every_call, timeout=60)
    # a document whose figures changed is a new one, said again: the calls may have come in
    # two batches (a loaded machine). Once they stopped changing, nothing is said again.
    await asyncio.sleep(2)  # the publisher's run after the last change (every 0.5 s)
    settled = worker.log_path.read_text(errors="replace").count(said)
    await asyncio.sleep(3)  # six more runs of the publisher (SALES_PERFORMANCE_MIN_INTERVAL)
    log = worker.log_path.read_text(errors="replace")
    assert 1 <= log.count(said) == settled <= 3, log[-3000:]
    assert "sent again at the next run" not in log, log[-3000:]
    assert worker.alive()
