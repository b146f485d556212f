"""The app's state topics keep the partition count they were created with: a worker whose
SALES_TOPIC_PARTITIONS differs refuses to start and says which count to set, instead of
looking for every scope on the wrong partition (it used to stop on each batch with
"AssertionError: Unrecognized partition")."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewPartitions

from streams.worker.settings import Settings
from streams.worker.topics import changelog_topic
from tests.support.topics import create_topic
from tests.support.workers import Cluster, Worker, eventually, http_get, produce, wait_ready


@pytest.mark.parametrize("which", ["internal topic", "changelog"])
async def test_a_worker_refuses_another_partition_count(cluster: Cluster, which: str) -> None:
    env = cluster.env(6066)  # only its app id and topic names are read here
    name = (
        cluster.topic("scopes")
        if which == "internal topic"
        else changelog_topic(Settings.from_env(env))
    )
    # compacted, as Faust makes a changelog (one Kafka may delete is refused: topic_retention)
    configs = {"cleanup.policy": "compact"} if which == "changelog" else None
    await create_topic(name, 4, configs=configs, bootstrap_servers=cluster.bootstrap)

    worker = cluster.start_worker()  # SALES_TOPIC_PARTITIONS: 8, the default

    async def stopped(w: Worker = worker) -> None:
        assert not w.alive(), w.log_tail()

    await eventually(stopped, timeout=60)
    assert worker.process is not None and worker.process.returncode not in (0, None)
    log = worker.log_tail()
    assert f"{name} has 4 partitions, but SALES_TOPIC_PARTITIONS is 8" in log, log
    assert "set SALES_TOPIC_PARTITIONS=4" in log, log
    # and the advice holds: the start created no topic of its own count beside it (the
    # internal topic made with 8 beside a changelog of 4 had the next start say "set 8")
    advised = dataclasses.replace(
        cluster, extra_env={**cluster.extra_env, "SALES_TOPIC_PARTITIONS": "4"}, workers=[]
    )
    follower = advised.start_worker()
    try:
        await wait_ready([follower])
    finally:
        follower.stop()


async def test_partitions_added_to_an_input_topic_are_read_while_running(cluster: Cluster) -> None:
    """An input topic may gain partitions: their records count within the consumer's
    metadata refresh (30 s), not aiokafka's default 5 minutes, during which they were unread
    and missing from the lag gauge."""
    topic = cluster.topic("activities")
    await create_topic(topic, 2, bootstrap_servers=cluster.bootstrap)
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    period = now.strftime("%Y-%m-%d")

    def call(i: int) -> bytes:
        at = (now + timedelta(seconds=i)).isoformat()
        body = {"event_id": f"c{i}", "occurred_at": at, "rep_id": "ada", "team_id": "t1"}
        return orjson.dumps({**body, "activity": "call"})

    async def total() -> Any:
        status, body = await http_get(f"{worker.url}/v1/reps/ada/performance?period={period}")
        return body["activities"]["total"] if status == 200 else status

    await produce(cluster.bootstrap, [(topic, b"ada", call(0))])

    async def first_counted() -> None:
        assert await total() == 1, worker.log_tail()

    await eventually(first_counted, timeout=60)
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        await admin.create_partitions({topic: NewPartitions(total_count=4)})
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=cluster.bootstrap)
    await producer.start()
    try:
        for i, partition in enumerate((2, 3, 2, 3), start=1):
            await producer.send_and_wait(topic, call(i), key=b"ada", partition=partition)
    finally:
        await producer.stop()

    async def all_counted() -> None:
        assert await total() == 5, worker.log_tail()

    await eventually(all_counted, timeout=75)


async def test_app_topics_that_disagree_with_each_other_are_said_as_such(cluster: Cluster) -> None:
    """No SALES_TOPIC_PARTITIONS fits a changelog of 4 beside an internal topic of 8: the
    worker says so, rather than advising one count and then the other."""
    env = cluster.env(6066)
    changelog = changelog_topic(Settings.from_env(env))
    await create_topic(changelog, 4, bootstrap_servers=cluster.bootstrap)
    await create_topic(cluster.topic("scopes"), 8, bootstrap_servers=cluster.bootstrap)
    worker = cluster.start_worker()

    async def stopped(w: Worker = worker) -> None:
        assert not w.alive(), w.log_tail()

    await eventually(stopped, timeout=60)
    log = worker.log_tail()
    assert "the app's own topics disagree on their partitions" in log, log
    assert f"{changelog} has 4" in log and "SALES_APP_ID" in log, log
