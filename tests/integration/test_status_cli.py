"""`salespulse status` against two real workers: both listed with the partitions they fold;
a worker killed is named as not answering, and the exit code says the group is degraded."""

from __future__ import annotations

from typing import Any

import orjson

from tests.support.workers import Cluster, eventually, salespulse, wait_ready


async def test_status_lists_every_worker_and_names_one_that_died(cluster: Cluster) -> None:
    first, second = cluster.start_worker(), cluster.start_worker()
    await wait_ready([first, second])
    env = cluster.env(first.port)

    async def all_well() -> dict[str, Any]:
        """Ready as both are, the first may still finish the rebalance the second caused,
        and the second's busy share is known a second after it started."""
        shown = await salespulse(env, "status", "--api", first.url, "--format", "json")
        assert shown.returncode == 0, (shown.stdout, shown.stderr)
        found: dict[str, Any] = orjson.loads(shown.stdout)
        assert found["status"] == "ok" and found["problems"] == [], found
        # once its loop has run a second: the share of it that worked (streams.worker.loop_busy)
        busy = [w["busy"] for w in found["workers"]]
        assert all(b is not None and 0.0 <= b <= 1.0 for b in busy), busy
        return found

    doc = await eventually(all_well, timeout=60)
    assert sorted(w["url"] for w in doc["workers"]) == sorted([first.url, second.url])
    folded = sorted(p for w in doc["workers"] for p in w["partitions"])
    assert folded == list(range(8)), "each internal partition folded by exactly one worker"
    assert all(w["ready"] and w["kafka"]["contact"] == "ok" for w in doc["workers"]), doc

    second.kill()
    table = await salespulse(env, "status", "--api", first.url)
    assert table.returncode == 3, (table.stdout, table.stderr)
    assert f"problem: {second.url} does not answer" in table.stdout.replace("\n", " "), table
