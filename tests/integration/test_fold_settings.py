"""A worker started with another SALES_TIMEZONE than its state was folded with stops
before it folds or serves anything, against the real broker; set back, it starts and
answers the figures it had."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams.worker.runtime import EXIT_SETTINGS
from tests.support.workers import Cluster, Worker, eventually, http_get, produce, wait_ready


async def test_a_worker_with_another_time_zone_refuses_the_state(cluster: Cluster) -> None:
    cluster.extra_env = {"SALES_TIMEZONE": "UTC"}
    first = cluster.start_worker()
    await wait_ready([first])
    event = {
        "event_id": "a1",
        "occurred_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "rep_id": "zed",
        "team_id": "west",
        "activity": "call",
    }
    await produce(cluster.bootstrap, [(cluster.topic("activities"), b"zed", orjson.dumps(event))])

    async def applied() -> None:
        status, body = await http_get(f"{first.url}/v1/reps/zed/performance")
        assert status == 200 and body["activities"]["total"] == 1, (body, first.log_tail())

    await eventually(applied)
    first.stop()  # a clean stop: its last checkpoint is in the changelog

    # a static member, so that the worker started after it need not wait out its session
    static = {"SALES_GROUP_INSTANCE_ID": "tz"}
    cluster.extra_env = {**static, "SALES_TIMEZONE": "Asia/Kolkata"}
    moved = cluster.start_worker()  # a new data dir: its state comes from the changelog

    async def stopped(worker: Worker = moved) -> None:
        assert not worker.alive(), worker.log_tail()

    await eventually(stopped)
    assert moved.process is not None and moved.process.returncode == EXIT_SETTINGS
    log = moved.log_tail(100)
    assert "SALES_TIMEZONE was 'UTC', is 'Asia/Kolkata'" in log, log

    cluster.extra_env = {**static, "SALES_TIMEZONE": "UTC"}
    back = cluster.start_worker(port=moved.port)
    await wait_ready([back])
    status, body = await http_get(f"{back.url}/v1/reps/zed/performance")
    assert status == 200 and body["activities"]["total"] == 1, (body, back.log_tail())
