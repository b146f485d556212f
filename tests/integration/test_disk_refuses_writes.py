"""A disk that refuses the worker's state (full, or a file past its size limit) stops the
worker with an error that names the disk, whether it fills while the worker runs or is still
full when it restarts; once there is room again, the worker has every figure, nothing lost
and nothing counted twice.

The full disk is RLIMIT_FSIZE on the worker's process: a write past it fails as on a full
disk (EFBIG; Python ignores SIGXFSZ), with no root and no filesystem to mount.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from streams.worker.hard_stop import EXIT_UNHANDLED
from tests.integration.expected_figures import Expected
from tests.integration.test_crash_restart import EXTRA_ENV, GRACE, Feed, converged, generate
from tests.support.workers import Cluster, Worker, wait_ready

#: no file of the worker grows past this: its RocksDB write-ahead logs outgrow it within the
#: test's ~3,000 events, its own log (8 to 10 KB a start, measured) does not
FILE_LIMIT = 32 * 1024
#: the restarted worker's limit: its restore writes each record's latest version once, which
#: on a loaded machine (fewer, larger checkpoints in the first run, so fewer versions of each
#: record) came to less than FILE_LIMIT in a partition, and the restore passed (ci90); half of
#: it still holds the worker's own log
RESTORE_LIMIT = FILE_LIMIT // 2


async def stopped(worker: Worker, timeout: float = 120.0) -> tuple[int, str]:
    """The worker's exit code once it stopped by itself, and its log."""
    assert worker.process is not None
    code = await asyncio.to_thread(worker.process.wait, timeout)
    return code, worker.log_path.read_text(errors="replace")


async def test_a_disk_that_refuses_the_state_stops_the_worker_and_loses_nothing(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = generate(now)
    exp = Expected(events, late_grace=GRACE)
    # a static member: each restart takes the stopped worker's partitions back at once
    static = {**EXTRA_ENV, "SALES_GROUP_INSTANCE_ID": "disk"}
    cluster = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=static)
    try:
        # 1. the disk fills while the worker runs: a checkpoint's write fails
        worker = cluster.start_worker(file_size_limit=FILE_LIMIT, run=1)
        port = worker.port
        await wait_ready([worker])
        await Feed(cluster).run(events, chunk=500, pause=0)
        code, log = await stopped(worker)
        assert code == EXIT_UNHANDLED, log[-3000:]
        assert "stopping the worker without committing: writing out" in log, log[-3000:]
        assert "File too large" in log and "Free space on that volume" in log, log[-3000:]

        # 2. restarted on the still full disk: restoring its state from the changelog fails,
        # and stops it at once (Faust's recovery alone retried for ever, never ready)
        worker = cluster.start_worker(port, file_size_limit=RESTORE_LIMIT, run=2)
        code, log = await stopped(worker)
        assert code == EXIT_UNHANDLED, log[-3000:]
        assert "restoring the state from the changelog topic failed" in log, log[-3000:]
        assert "Free space on that volume" in log and "Error in recovery" not in log

        # 3. room again: every figure, nothing lost, nothing counted twice
        worker = cluster.start_worker(port, run=3)
        await wait_ready([worker])
        await converged(exp, [worker.url], full=True)
    finally:
        cluster.stop()
