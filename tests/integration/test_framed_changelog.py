"""The framed changelog against a real broker: snapshots, tombstones and Kafka's own
compaction, then a worker that restores every figure from what compaction left.

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
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.worker.changelog_frames import SNAPSHOT, Frame, frame_seq, is_frame_key
from tests.integration.expected_figures import Expected
from tests.integration.test_crash_restart import EXTRA_ENV, GRACE, Feed, converged, generate
from tests.support.workers import Cluster, eventually, read_topic, wait_ready

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
    try:
        worker = cluster.start_worker()
        port = worker.port
        await wait_ready([worker])
        await Feed(cluster).run(events[:2000], chunk=50, pause=0.1)
        await converged(Expected(events[:2000], late_grace=GRACE), [worker.url], full=False)

        records = await read_topic(kafka_bootstrap, changelog)
        assert records and all(is_frame_key(r.key) for r in records), "only frames"
        kinds = {msgspec.msgpack.decode(r.value, type=Frame).kind for r in records if r.value}
        assert SNAPSHOT in kinds, "4 KiB of deltas per partition make snapshots"
        retired = {(r.partition, r.key) for r in records if r.value is None}
        assert retired, "the frames a snapshot replaced are tombstoned"

        # compaction removes the tombstoned frames while the rest of the input arrives
        await compact_at_once(kafka_bootstrap, changelog)
        # (a segment rolls, and so becomes cleanable, when a checkpoint appends past segment.ms)
        feed = asyncio.create_task(Feed(cluster).run(events[2000:], chunk=10, pause=0.5))

        async def compacted() -> int:
            now_in_log = await read_topic(kafka_bootstrap, changelog)
            left = [r for r in now_in_log if (r.partition, r.key) in retired and r.value]
            assert not left, f"{len(left)} frames tombstoned, not compacted yet"
            return len(now_in_log)

        await eventually(compacted, timeout=120, interval=2)
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
    finally:
        cluster.stop()
