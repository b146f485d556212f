"""A data dir left by a worker of another app id is a cache of another state: a worker of a
new app id started on it discards it and starts at once (Faust used to stop on the old
store's changelog offsets: "ConsistencyError: The persisted offset ... is higher than the
last offset in that topic"; the scaling audit's finding)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import orjson

from tests.support.workers import Cluster, eventually, http_get, produce, wait_ready


async def test_a_new_app_id_on_an_old_data_dir_starts_clean(cluster: Cluster) -> None:
    at = (datetime.now(UTC) - timedelta(minutes=5)).replace(microsecond=0)
    period = at.strftime("%Y-%m-%d")

    def call(i: int) -> tuple[str, bytes, bytes]:
        body = {"event_id": f"c{i}", "occurred_at": at.isoformat(), "rep_id": "ada"}
        value = orjson.dumps({**body, "team_id": "t1", "activity": "call"})
        return (cluster.topic("activities"), b"ada", value)

    first = cluster.start_worker()
    port = first.port
    await wait_ready([first])
    await produce(cluster.bootstrap, [call(i) for i in range(20)])

    async def counted(url: str, total: int) -> None:
        status, body = await http_get(f"{url}/v1/reps/ada/performance?period={period}")
        assert status == 200 and body["activities"]["total"] == total, body

    await eventually(lambda: counted(first.url, 20), timeout=60)
    first.stop()  # a clean stop: its local state stays in the data dir

    other = dataclasses.replace(cluster, name=cluster.name + "-b", workers=[])
    second = other.start_worker(port)  # the same data dir (it follows the port), a new app
    assert second.env["SALES_DATA_DIR"] == first.env["SALES_DATA_DIR"]
    try:
        await wait_ready([second])
        _, key, value = call(0)
        await produce(cluster.bootstrap, [(other.topic("activities"), key, value)])
        await eventually(lambda: counted(second.url, 1), timeout=60)
        assert "discarding the local state" in second.log_tail(400), second.log_tail()
        assert second.alive(), second.log_tail()
    finally:
        second.stop()
