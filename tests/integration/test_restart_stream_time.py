"""An input partition's stream time outlives its reader: the commits of its offsets carry
it, and the worker reading it after a restart takes it back before folding
(streams.worker.stream_times).

An input partition with no internal partition of its number (an input topic with more
partitions) keeps its stream time in its reader's memory. A reader killed and restarted had
forgotten it, and judged the partition's next records from the stream time of the internal
partitions it owns: none of them had seen an event, so an activity 30 days older than those
read before it counted (a re-check audit's 4 workers applied 9 of 24 such deals).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer

from streams.worker.commit_metadata import decode
from streams.worker.partitioning import partition_of
from tests.support.topics import create_topic
from tests.support.workers import (
    Cluster,
    Worker,
    eventually,
    group_commits,
    http_get,
    read_topic,
    wait_ready,
)

#: SALES_TOPIC_PARTITIONS (the default); input partition 8 has no internal partition
PARTITIONS = 8
BEYOND = 8


async def assignment(worker: Worker) -> set[tuple[str, int]]:
    status, body = await http_get(f"{worker.url}/v1/internal/consumer")
    assert status == 200, body
    return {(p["topic"], p["partition"]) for p in body["partitions"]}


def scope_on(kind: str, partitions: set[int], avoid: str = "") -> str:
    """An id of this kind whose scope lives on one of these internal partitions."""
    return next(
        f"{kind}{n}"
        for n in range(1000)
        if partition_of(f"{kind}:{kind}{n}", PARTITIONS) in partitions and f"{kind}{n}" != avoid
    )


async def committed_stream_time(bootstrap: str, group: str, topic: str) -> float | None:
    commits = await group_commits(bootstrap, group)
    return next(
        (decode(m.metadata).stream_time for tp, m in commits.items() if tp == (topic, BEYOND)),
        None,
    )


async def send(bootstrap: str, topic: str, rep: str, team: str, event_id: str, at: str) -> None:
    body = {"event_id": event_id, "occurred_at": at, "rep_id": rep, "team_id": team}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        value = orjson.dumps({**body, "activity": "call"})
        await producer.send_and_wait(topic, value, key=rep.encode(), partition=BEYOND)
    finally:
        await producer.stop()


async def test_a_restarted_reader_takes_its_input_partitions_time_back(cluster: Cluster) -> None:
    activities = cluster.topic("activities")
    await create_topic(activities, BEYOND + 1, bootstrap_servers=cluster.bootstrap)
    # static members: the killed one comes back to its own partitions, without a rebalance
    members = {
        name: dataclasses.replace(
            cluster,
            extra_env={**cluster.extra_env, "SALES_GROUP_INSTANCE_ID": name},
            workers=[],
        )
        for name in ("sp-one", "sp-two")
    }
    workers = {name: member.start_worker() for name, member in members.items()}
    try:
        await wait_ready(workers.values())
        held = {name: await assignment(w) for name, w in workers.items()}
        reader = next(name for name, tps in held.items() if (activities, BEYOND) in tps)
        other = next(name for name in held if name != reader)
        scopes = cluster.topic("scopes")
        owned = {p for topic, p in held[reader] if topic == scopes}
        elsewhere = {p for topic, p in held[other] if topic == scopes}
        assert owned and elsewhere, held
        now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
        # read by `reader`, folded by the other worker: no partition the reader owns sees it
        recent = scope_on("rep", elsewhere), scope_on("team", elsewhere)
        await send(cluster.bootstrap, activities, *recent, "recent", now.isoformat())

        async def recent_committed() -> None:
            time = await committed_stream_time(cluster.bootstrap, cluster.name, activities)
            assert time == now.timestamp(), time

        await eventually(recent_committed, timeout=60)
        workers[reader].kill()
        workers[reader] = members[reader].start_worker(workers[reader].port)
        await wait_ready(workers.values())
        assert await assignment(workers[reader]) == held[reader], "the group rebalanced"
        # 30 days older, folded where nothing was seen: late against what was read before it
        rep, team = scope_on("rep", owned), scope_on("team", owned)
        old = (now - timedelta(days=30)).isoformat()
        await send(cluster.bootstrap, activities, rep, team, "old", old)

        async def dead_lettered() -> Any:
            dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
            letters = [orjson.loads(r.value) for r in dead]
            assert letters, "nothing dead-lettered yet"
            return letters

        letters = await eventually(dead_lettered, timeout=60)
        assert [(d["reason"], orjson.loads(d["payload"])["event_id"]) for d in letters] == [
            ("late_event", "old")
        ], letters
        status, body = await http_get(
            f"{workers[other].url}/v1/reps/{rep}/performance?period={old[:10]}"
        )
        assert status == 404 or body["activities"]["total"] == 0, body
    finally:
        for w in workers.values():
            w.stop()
