"""A worker with SALES_GROUP_INSTANCE_ID, killed and restarted, takes its partitions back
without a rebalance, with exact figures; back on another address it still recovers.

A dynamic member restarted after a kill waits until the killed member's session expires
(Faust's 60 s) before the group rebalances. A static member replaces its old self at once:
the group keeps its generation. The generation each join got is in the worker's log.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.integration.expected_figures import Expected, period_ids
from tests.integration.test_crash_restart import (
    EXTRA_ENV,
    GRACE,
    Feed,
    converged,
    generate,
    kill_mid_stream,
)
from tests.integration.test_fold_failures import committed, end_offsets
from tests.support.workers import Cluster, Worker, eventually, wait_ready

#: aiokafka's line for every join: group, generation, member id
JOINED = re.compile(r"Joined group '([^']+)' \(generation (\d+)\) with member_id (\S+)")


def joins(worker: Worker) -> list[tuple[int, str]]:
    """(generation, member id) of every join in the worker's log, oldest first."""
    text = worker.log_path.read_text(errors="replace")
    return [(int(gen), member) for _, gen, member in JOINED.findall(text)]


async def test_a_static_member_killed_and_restarted_rejoins_without_a_rebalance(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = generate(now)[:1500]
    months = sorted({period_ids(now - timedelta(days=d))["month"] for d in range(0, 30)})
    # Faust's default session (60 s): a rebalance after the kill would have to wait it out
    env = {k: v for k, v in EXTRA_ENV.items() if k != "SALES_SESSION_TIMEOUT"}
    cluster = Cluster(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        extra_env={**env, "SALES_GROUP_INSTANCE_ID": "salespulse-0"},
    )
    try:
        worker = cluster.start_worker()
        await wait_ready([worker])
        task = asyncio.create_task(Feed(cluster).run(events[:900]))
        await kill_mid_stream(worker, months, above=0)
        await task
        await Feed(cluster).run(events[900:], chunk=300, pause=0)  # while it is dead
        worker = cluster.start_worker(worker.port)  # same address, same data dir
        await wait_ready([worker], timeout=45)
        await converged(Expected(events, late_grace=GRACE), [worker.url], full=True)
        seen = joins(worker)  # both lives of the worker log to the same file
        assert len(seen) == 2, worker.log_tail()
        (gen_before, member_before), (gen_after, member_after) = seen
        assert member_before.startswith("salespulse-0-") and member_after != member_before
        assert gen_after == gen_before, "the restart made the group rebalance"

        async def all_committed() -> None:
            """The restarted member commits as the member it replaced did."""
            offsets = await committed(cluster.bootstrap, cluster.name)
            inputs = [cluster.topic(kind) for kind in ("activities", "deals", "feedback")]
            for tp, end in (await end_offsets(cluster.bootstrap, inputs)).items():
                assert offsets.get(tp, 0) == end, (tp, offsets.get(tp), end)

        await eventually(all_committed, timeout=30)
        assert worker.alive(), worker.log_tail()
    finally:
        cluster.stop()


async def test_a_static_member_back_on_another_address_joins_as_a_new_member(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    """Faust's assignor fails on an assignment made for another URL (an AssertionError in
    the coordinator, and the worker never gets ready): the id joined with carries the
    address, so this restart is a new member that waits out the old one's session."""
    now = datetime.now(UTC)
    events = generate(now, seed=5)[:800]
    months = sorted({period_ids(now - timedelta(days=d))["month"] for d in range(0, 30)})
    cluster = Cluster(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        extra_env={**EXTRA_ENV, "SALES_GROUP_INSTANCE_ID": "salespulse-0"},
    )
    try:
        first = cluster.start_worker()
        await wait_ready([first])
        await Feed(cluster).run(events[:400], chunk=100, pause=0)
        await kill_mid_stream(first, months, above=0)
        await Feed(cluster).run(events[400:], chunk=200, pause=0)
        moved = cluster.start_worker()  # another port: another URL
        await wait_ready([moved])
        await converged(Expected(events, late_grace=GRACE), [moved.url], full=True)
        ((gen_before, member_before),) = joins(first)
        gen_after, member_after = joins(moved)[-1]
        assert member_before.split("-")[:2] == member_after.split("-")[:2] == ["salespulse", "0"]
        assert member_after.rsplit("-", 5)[0] != member_before.rsplit("-", 5)[0]
        assert gen_after > gen_before
        assert "AssertionError" not in moved.log_path.read_text(errors="replace")
    finally:
        cluster.stop()
