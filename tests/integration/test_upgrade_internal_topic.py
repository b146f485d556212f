"""Upgrading a deployment with its own SALES_APP_ID: the internal topic used to be
`salespulse.scopes` for every app id and is now `<SALES_APP_ID>.scopes`. A worker refuses to
start while its group's records still wait on the old topic (they would never be folded),
and starts once none do."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic, RecordsToDelete

from streams.worker.topics import LEGACY_SCOPES_TOPIC, create_topics
from tests.support.workers import Cluster, Worker, eventually, free_port, wait_ready

LEGACY = TopicPartition(LEGACY_SCOPES_TOPIC, 0)


async def commit_legacy_offset(bootstrap: str, group: str, offset: int) -> None:
    """What a worker of the previous version left: the group's offset on the old topic."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([LEGACY])
        await consumer.commit({LEGACY: offset})
    finally:
        await consumer.stop()


async def test_a_worker_waits_for_nothing_left_on_the_old_internal_topic(
    cluster: Cluster,
) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        await create_topics(admin, [NewTopic(LEGACY_SCOPES_TOPIC, 8, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap)
    await producer.start()
    try:
        sent = await producer.send_and_wait(LEGACY_SCOPES_TOPIC, b"an old envelope", partition=0)
    finally:
        await producer.stop()
    try:
        await refused_then_started(cluster, sent.offset)
    finally:  # the broker is shared: no test after this one may meet the old envelope
        admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
        await admin.start()
        try:
            await admin.delete_records({LEGACY: RecordsToDelete(sent.offset + 1)})
        finally:
            await admin.close()


async def refused_then_started(cluster: Cluster, unread: int) -> None:
    await commit_legacy_offset(cluster.bootstrap, cluster.name, unread)  # one record unread

    port = free_port()
    env = cluster.env(port)
    del env["SALES_TOPIC_SCOPES"]  # the new default: <SALES_APP_ID>.scopes
    refused = Worker(port, env, cluster.base_dir / "refused.log").start()
    cluster.workers.append(refused)

    async def stopped() -> None:
        assert not refused.alive(), refused.log_tail()

    await eventually(stopped, timeout=60)
    assert refused.process is not None and refused.process.returncode not in (0, None)
    log = refused.log_tail()
    assert f"1 records of consumer group '{cluster.name}' wait on salespulse.scopes" in log, log
    assert f"SALES_TOPIC_SCOPES={LEGACY_SCOPES_TOPIC}" in log, log

    await commit_legacy_offset(cluster.bootstrap, cluster.name, unread + 1)  # all read
    started = Worker(port, env, cluster.base_dir / "started.log").start()
    cluster.workers.append(started)
    await wait_ready([started])
    assert f"the internal topic is now {cluster.name}.scopes" in started.log_tail(200)
