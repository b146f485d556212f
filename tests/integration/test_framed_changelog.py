"""The framed changelog against a real broker: snapshots, tombstones and Kafka's own
compaction, then a worker that restores every figure from what compaction left; and a record
written by the version before frames (one changelog record per state record), read on
upgrade and kept through it all.

The worker snapshots after 4 KiB of deltas (SALES_CHANGELOG_SNAPSHOT_BYTES), and the
changelog topic is set to compact at once, so the run goes through several snapshots and
compactions; the restored worker must answer exactly the independent calculation.
"""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.engine.state import TARGET, encode_value, make_key
from streams.worker.changelog_frames import SNAPSHOT, Frame, frame_seq, is_frame_key
from streams.worker.partitioning import partition_of
from tests.integration.expected_figures import Expected
from tests.integration.test_crash_restart import EXTRA_ENV, GRACE, Feed, converged, generate
from tests.support.topics import create_topic
from tests.support.workers import Cluster, eventually, http_get, read_topic, wait_ready

#: AlterConfigs replaces a topic's whole configuration: the policy must be given again
COMPACT_AT_ONCE = {
    "cleanup.policy": "compact",
    "segment.ms": "200",
    "min.cleanable.dirty.ratio": "0.01",
    "min.compaction.lag.ms": "0",
    "delete.retention.ms": "0",
}


async def compact_at_once(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        response = await admin.alter_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, configs=COMPACT_AT_ONCE)]
        )
        errors = [r for resp in response for r in resp.resources if r[0] != 0]
        assert not errors, errors
    finally:
        await admin.close()


def legacy_key(month: str) -> bytes:
    return make_key("team:t1", TARGET, "activities_total", month)


async def write_legacy_target(bootstrap: str, changelog: str, month: str) -> None:
    """A team target as the version before frames left it: a plain record of its own."""
    await create_topic(
        changelog, 8, configs={"cleanup.policy": "compact"}, bootstrap_servers=bootstrap
    )
    key = legacy_key(month)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        partition = partition_of("team:t1", 8)
        await producer.send_and_wait(changelog, encode_value(123.0), key, partition=partition)
    finally:
        await producer.stop()


async def team_target(url: str, month: str) -> float:
    status, body = await http_get(f"{url}/v1/teams/t1/performance?period={month}")
    assert status == 200, body
    (target,) = [t["target"] for t in body["targets"] if t["metric"] == "activities_total"]
    return float(target)


async def test_a_compacted_framed_changelog_restores_every_figure(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    events = generate(datetime.now(UTC))
    cluster = Cluster(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        extra_env={
            **EXTRA_ENV,
            "SALES_CHANGELOG_SNAPSHOT_BYTES": "4096",
            "SALES_COMMIT_INTERVAL": "0.2",
        },
    )
    changelog = f"{unique_name}-scopes-changelog"
    month = datetime.now(UTC).strftime("%Y-%m")
    plain_key = legacy_key(month)
    await write_legacy_target(kafka_bootstrap, changelog, month)
    try:
        worker = cluster.start_worker()
        port = worker.port
        await wait_ready([worker])
        assert await team_target(worker.url, month) == 123.0, "read on upgrade"
        await Feed(cluster).run(events[:2000], chunk=50, pause=0.1)
        await converged(Expected(events[:2000], late_grace=GRACE), [worker.url], full=False)

        records = await read_topic(kafka_bootstrap, changelog)
        legacy = [r.value for r in records if r.key == plain_key]
        assert legacy[0] is not None and legacy[-1] is None, "the upgrade tombstoned it"
        plain = [r.key for r in records if not is_frame_key(r.key) and r.value is not None]
        assert plain == [plain_key], "the worker writes frames and tombstones only"
        kinds = {
            msgspec.msgpack.decode(r.value, type=Frame).kind
            for r in records
            if r.value and is_frame_key(r.key)
        }
        assert SNAPSHOT in kinds, "4 KiB of deltas per partition make snapshots"
        retired = {(r.partition, r.key) for r in records if r.value is None}
        assert retired, "the frames a snapshot replaced are tombstoned"

        # compaction removes the tombstoned frames while the rest of the input arrives
        await compact_at_once(kafka_bootstrap, changelog)
        # (a segment rolls, and so becomes cleanable, when a checkpoint appends past segment.ms)
        paced = Feed(cluster)
        feed = asyncio.create_task(paced.run(events[2000:], chunk=10, pause=0.5))

        async def compacted() -> int:
            now_in_log = await read_topic(kafka_bootstrap, changelog)
            left = [r for r in now_in_log if (r.partition, r.key) in retired and r.value]
            left += [r for r in now_in_log if r.key == plain_key and r.value]
            assert not left, f"{len(left)} frames tombstoned, not compacted yet"
            assert min(frame_seq(r.key) for r in now_in_log) > 0, "first frames not gone yet"
            return len(now_in_log)

        await eventually(compacted, timeout=120, interval=2)
        paced.hurry()  # what the rest of the input shows needs no more cleaning
        await feed
        exp = Expected(events, late_grace=GRACE)
        await converged(exp, [worker.url], full=True)

        # a worker with no local state restores every figure from the compacted changelog
        worker.kill()
        shutil.rmtree(tmp_path / f"worker-{port}")
        left = await read_topic(kafka_bootstrap, changelog)
        assert min(frame_seq(r.key) for r in left) > 0, "the first frames are gone"
        worker = cluster.start_worker(port)
        await wait_ready([worker])
        await converged(exp, [worker.url], full=True)
        assert await team_target(worker.url, month) == 123.0, "kept through snapshots"
    finally:
        cluster.stop()
