"""A state record larger than the changelog takes, against a real broker and worker: a deal
reported to 20 accounts, each id 60 KB and each in a batch of its own (valid input:
account_id has no length limit but the payload's), keeps every account it was reported to,
a 1.2 MB record, past Kafka's default max.message.bytes of 1 MiB (a changelog made by an
earlier worker has that limit; a new one takes the producer's 4 MiB). Its changelog record is
refused and the worker stops without committing, as it must (it cannot cut a record). Its log
named no record and advised reporting one; now a WARNING names the record and its size, and
the stop says which setting to raise. With the changelog's limit raised as it says, the
restarted worker replays the deal and has its figures.
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
from tests.integration.test_crash_restart import EXTRA_ENV
from tests.support.topics import create_topic
from tests.support.workers import Cluster, eventually, http_get, produce, wait_ready

ACCOUNTS = 20
ACCOUNT_CHARS = 60_000


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
    now = datetime.now(UTC).replace(microsecond=0)
    month_start = now.replace(day=1, hour=0, minute=0, second=0)
    first = max(now - timedelta(minutes=30), month_start)
    deals = cluster.topic("deals")
    for n in range(ACCOUNTS):
        deal = {
            "event_id": f"e{n}", "occurred_at": (first + timedelta(seconds=n)).isoformat(),
            "rep_id": "ada", "team_id": "west", "deal_id": "d1", "outcome": "won",
            "amount": 100, "currency": "USD", "account_id": f"{n:02d}" + "a" * ACCOUNT_CHARS,
        }  # fmt: skip
        await produce(cluster.bootstrap, [(deals, b"ada", deal)])
        await asyncio.sleep(0.3)  # a batch each: a deal keeps its latest account per batch
        if not worker.alive():
            break
    assert worker.process is not None
    code = await asyncio.to_thread(worker.process.wait, 60)
    log = worker.log_path.read_text(errors="replace")
    assert code == EXIT_UNHANDLED, log[-3000:]
    assert "state record ('deal:d1', " in log and "more than a changelog frame's" in log, log
    assert f"--add-config max.message.bytes={PRODUCER_REQUEST_BYTES}" in log, log[-3000:]

    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap)
    await admin.start()
    try:
        configs = {"cleanup.policy": "compact", "max.message.bytes": str(PRODUCER_REQUEST_BYTES)}
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, changelog, configs)])
    finally:
        await admin.close()
    if n + 1 < ACCOUNTS:  # the rest, for the restarted worker
        rest = [
            {
                "event_id": f"e{m}", "occurred_at": (first + timedelta(seconds=m)).isoformat(),
                "rep_id": "ada", "team_id": "west", "deal_id": "d1", "outcome": "won",
                "amount": 100, "currency": "USD",
                "account_id": f"{m:02d}" + "a" * ACCOUNT_CHARS,
            }
            for m in range(n + 1, ACCOUNTS)
        ]  # fmt: skip
        await produce(cluster.bootstrap, [(deals, b"ada", deal) for deal in rest])
    worker = cluster.start_worker(worker.port, run=2)
    await wait_ready([worker])
    month = now.strftime("%Y-%m")

    async def counted() -> None:
        status, body = await http_get(f"{worker.url}/v1/reps/ada/performance?period={month}")
        assert status == 200 and body["deals"]["won"] == 1, body
        assert body["deals"]["revenue_won"] == 100, body

    await eventually(counted, timeout=90)
    assert worker.alive(), worker.log_tail()
