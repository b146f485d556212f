"""A state record larger than the changelog takes, against a real broker and worker: one team
hour of 14,000 reps, each with a 64-character id (the most rep_id allows), holds a part per
rep, a 1.26 MB record (encoded), past Kafka's default max.message.bytes of 1 MiB (a changelog
made by an earlier worker has that limit; a new one takes the producer's 4 MiB). Its changelog
record is refused and the worker stops without committing, as it must (it cannot cut a
record). Its log named no record and advised reporting one; now a WARNING names the record and
its size, and the stop says which setting to raise. With the changelog's limit raised as it
says, the restarted worker replays the hour and has its figures.

(This test once made its large record from a deal reported to 20 accounts of 60 KB ids; a deal
keeps former accounts within a budget now, `streams/engine/former_parties.py`.)
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.worker.hard_stop import EXIT_UNHANDLED
from streams.worker.message_limits import KAFKA_DEFAULT
from streams.worker.outgoing import PRODUCER_REQUEST_BYTES
from tests.integration.test_crash_restart import EXTRA_ENV, Event, Feed
from tests.support.topics import create_topic
from tests.support.workers import Cluster, eventually, http_get, wait_ready

#: a team hour's parts: 14,000 reps of 64-character ids, 1.26 MB encoded (1.05 MB is the limit)
REPS = 14_000


def one_team_hour(hour: datetime) -> list[Event]:
    """One call of each rep, all in one hour of team west."""
    return [
        (
            "activities",
            {
                "event_id": f"a{n}",
                "occurred_at": (hour + timedelta(milliseconds=n)).isoformat(),
                "rep_id": f"r{n:05d}".ljust(64, "x"),
                "team_id": "west",
                "activity": "call",
            },
        )
        for n in range(REPS)
    ]


async def test_a_state_record_past_the_changelog_limit_is_named_and_the_advice_holds(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    # a static member: the restarted worker takes the stopped one's partitions back at once
    static = {**EXTRA_ENV, "SALES_GROUP_INSTANCE_ID": "large"}
    cluster = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=static)
    try:
        await refused_then_restored(cluster)
    finally:
        cluster.stop()


async def refused_then_restored(cluster: Cluster) -> None:
    # a changelog with Kafka's default limit, as a worker before 2026-12-07 made it (or a
    # platform): a new one takes what the producer sends
    changelog = f"{cluster.name}-scopes-changelog"
    configs = {"cleanup.policy": "compact", "max.message.bytes": str(KAFKA_DEFAULT)}
    await create_topic(changelog, 8, configs=configs, bootstrap_servers=cluster.bootstrap)
    worker = cluster.start_worker()
    await wait_ready([worker])
    # the hour before this one, so that no event lies ahead of the clock
    hour = (datetime.now(UTC) - timedelta(hours=1)).replace(minute=0, second=0, microsecond=0)
    await Feed(cluster).run(one_team_hour(hour), chunk=1000, pause=0)
    assert worker.process is not None
    code = await asyncio.to_thread(worker.process.wait, 120)
    log = worker.log_path.read_text(errors="replace")
    assert code == EXIT_UNHANDLED, log[-3000:]
    assert "state record ('team:west', 'h', " in log, log[-3000:]
    assert "more than a changelog frame's" in log, log[-3000:]
    assert f"--add-config max.message.bytes={PRODUCER_REQUEST_BYTES}" in log, log[-3000:]

    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        configs = {"cleanup.policy": "compact", "max.message.bytes": str(PRODUCER_REQUEST_BYTES)}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, changelog, configs)])
    finally:
        await admin.close()
    worker = cluster.start_worker(worker.port, run=2)
    await wait_ready([worker])
    month = hour.strftime("%Y-%m")

    async def counted() -> None:
        status, body = await http_get(f"{worker.url}/v1/teams/west/performance?period={month}")
        assert status == 200 and body["activities"]["total"] == REPS, body.get("activities")

    await eventually(counted, timeout=120)
    assert worker.alive(), worker.log_tail()
