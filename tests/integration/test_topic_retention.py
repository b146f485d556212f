"""Topics whose records Kafka must keep (streams.worker.topic_retention), against a real
broker: a changelog made beforehand with the broker's default policy (delete, 7 days) kept
the worker running for a week, until Kafka deleted the oldest frames and a restore rebuilt
figures with events missing. The worker now refuses it at start, with the command that
fixes it, and starts once the topic is compacted; a performance topic that deletes is said."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from tests.support.topics import create_topic
from tests.support.workers import Cluster, free_port, salespulse, wait_ready

WEEK_MS = "604800000"
DAY_MS = "86400000"


async def make_compacted(bootstrap: str, topic: str) -> None:
    """What the refusal tells the operator to do (kafka-configs --add-config), by AdminClient."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        resource = ConfigResource(
            ConfigResourceType.TOPIC, topic, configs={"cleanup.policy": "compact"}
        )
        response = await admin.alter_configs([resource])
        assert not [r for resp in response for r in resp.resources if r[0] != 0], response
    finally:
        await admin.close()


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

    done = await salespulse(cluster.env(free_port()), "worker", "--wait-for-kafka", "30")
    assert done.returncode == 1, done.stderr
    said = f"the changelog topic {changelog} has cleanup.policy=delete, retention.ms={WEEK_MS}"
    assert said in done.stderr, done.stderr
    assert f"--entity-name {changelog} --add-config cleanup.policy=compact" in done.stderr

    await make_compacted(cluster.bootstrap, changelog)
    worker = cluster.start_worker()
    await wait_ready([worker])
    log = worker.log_path.read_text(errors="replace")
    assert f"{performance} has cleanup.policy=delete, retention.ms={DAY_MS}" in log, log[-3000:]
    assert "the changelog topic" not in log
