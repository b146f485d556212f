"""A rolling restart of a three-node Kafka cluster, one node crashing, while events flow:
nothing lost, nothing counted twice.

Production Kafka is replicated, and its brokers restart one at a time (upgrades, settings):
each hands the leadership of its partitions to another replica as it stops, and every client
must find the new leaders, the group its new coordinator. One broker cannot show that. Here
every topic has three replicas, and the brokers keep Kafka's default of one replica in sync
for a write: the workers create theirs (inputs, outputs, internal, changelog) needing two,
which the test checks first. Two workers fold a stream that the CLI's producer publishes
(keyed by rep, as the contract recommends), a third of it starting just before each node in
turn goes down, starts again and catches up. Then every figure of every rep and team equals
the independent calculation, no record was dead-lettered and both workers still run.

The first and third nodes stop cleanly; the second is SIGKILLed (a crash: no controlled
shutdown, its partitions get new leaders only once the controllers miss its heartbeats): with
acks=all and two replicas in sync, a record a broker acknowledged is on another one too.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from streams.tools.producer import Outgoing, RecordProducer
from streams.worker.settings import Settings
from streams.worker.topics import SCOPES_TABLE
from tests.integration.expected_figures import Expected
from tests.integration.test_crash_restart import EXTRA_ENV, GRACE, generate
from tests.integration.test_scripted_stream import check_figures
from tests.support.workers import (
    TOPIC_NAMES,
    Cluster,
    eventually,
    read_topic,
    topic_partitions,
    wait_ready,
)

pytestmark = pytest.mark.integration

REPLICAS = 3
#: events a second: a third of the stream (some 1,000 events, 20 s) outlasts most of a
#: node's restart (some 15 s)
RATE = 50.0


async def unreplicated(bootstrap: str) -> list[str]:
    """Partitions (topic[partition]) with fewer replicas in sync than they have."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        topics = await admin.describe_topics(await admin.list_topics())
    finally:
        await admin.close()
    return [
        f"{topic['topic']}[{p['partition']}]"
        for topic in topics
        for p in topic["partitions"]
        if len(p["isr"]) < len(p["replicas"])
    ]


async def all_in_sync(bootstrap: str, timeout: float = 120.0) -> None:
    async def caught_up() -> None:
        behind = await unreplicated(bootstrap)
        assert not behind, f"replicas still out of sync: {behind[:10]}"

    await eventually(caught_up, timeout=timeout)


#: how each node goes down in turn
STOPS = {1: "stop_node", 2: "kill_node", 3: "stop_node"}


async def roll(kafka: Any, producer: RecordProducer, records: list[Outgoing]) -> int:
    """Stop (or kill) and start each node in turn, a third of the records sent from a
    moment before it goes down until they are all taken, and every replica caught up
    before the next node; returns the records sent. Whichever ends first, the restart or
    its third, records flow while the node is away and once it is back."""
    sent = 0
    third = -(-len(records) // len(STOPS))
    for node_id, how in sorted(STOPS.items()):
        chunk = records[(node_id - 1) * third : node_id * third]
        sending = asyncio.create_task(producer.send_records(chunk, rate=RATE))
        await asyncio.sleep(2)  # records flow through the cluster as it is
        await asyncio.to_thread(getattr(kafka, how), node_id)
        await asyncio.sleep(1)
        await asyncio.to_thread(kafka.start_node, node_id)
        await all_in_sync(kafka.bootstrap)
        sent += await asyncio.wait_for(sending, 180)
    return sent


async def test_a_rolling_restart_and_a_broker_crash_lose_and_double_nothing(
    own_kafka_cluster: Any, unique_name: str, tmp_path: Path
) -> None:
    kafka = own_kafka_cluster
    events = generate(datetime.now(UTC), seed=31)
    exp = Expected(events, late_grace=GRACE)
    assert not exp.late
    env = {**EXTRA_ENV, "SALES_TOPIC_REPLICATION": str(REPLICAS)}
    cluster = Cluster(kafka.bootstrap, unique_name, tmp_path, extra_env=env)
    try:
        workers = [cluster.start_worker() for _ in range(2)]
        await wait_ready(workers)
        await all_in_sync(kafka.bootstrap)
        ours = [cluster.topic(kind) for kind in TOPIC_NAMES]
        ours.append(f"{unique_name}-{SCOPES_TABLE}-changelog")
        configs = await topic_partitions(kafka.bootstrap)
        needed = {name: configs[name][1]["min.insync.replicas"] for name in ours}
        assert needed == dict.fromkeys(ours, "2")
        records = [
            (cluster.topic(kind), event["rep_id"].encode(), orjson.dumps(event))
            for kind, event in events
        ]
        settings = Settings.from_env({"KAFKA_BOOTSTRAP": kafka.bootstrap})
        async with RecordProducer(settings, request_timeout_ms=5000, patience=None) as producer:
            assert await roll(kafka, producer, records) == len(records)

        urls = [w.url for w in workers]
        await eventually(lambda: check_figures(exp, urls), timeout=180)
        dead = await read_topic(kafka.bootstrap, cluster.topic("deadletter"))
        assert [orjson.loads(m.value) for m in dead] == []
        assert all(w.alive() for w in workers), [w.log_tail(30) for w in workers]
    finally:
        cluster.stop()
