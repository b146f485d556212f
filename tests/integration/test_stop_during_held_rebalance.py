"""SIGTERM while the group waits for a member that died without leaving: the worker stops
cleanly (exit 0, state kept) instead of waiting out SALES_STOP_TIMEOUT and exiting as a
crash (streams.worker.group_leave).

Three workers; one is SIGKILLed, another stopped: the third must rejoin, and the broker
holds its JoinGroup until the dead member's session ends (SALES_SESSION_TIMEOUT, longer
than SALES_STOP_TIMEOUT here). A SIGTERM lands on it meanwhile.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.workers import Cluster, Worker, eventually, wait_ready

#: the dead member's session: the held join outlasts the stop's own limit
SESSION_S = 45
STOP_TIMEOUT_S = 20


def rejoins(worker: Worker) -> int:
    return worker.log_path.read_text(errors="replace").count("(Re-)joining group")


async def test_a_worker_stopped_while_the_group_waits_for_a_dead_member_stops_cleanly(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    cluster = Cluster(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        extra_env={
            "SALES_SESSION_TIMEOUT": str(SESSION_S),
            "SALES_STOP_TIMEOUT": str(STOP_TIMEOUT_S),
        },
    )
    try:
        first, second, dead = (cluster.start_worker() for _ in range(3))
        await wait_ready([first, second, dead])
        dead.kill()
        joined = rejoins(second)
        first.stop()  # its LeaveGroup starts a rebalance, held for the dead member
        assert first.process is not None and first.process.returncode == 0, first.log_tail()

        async def rejoining() -> None:
            # its next heartbeat tells it of the rebalance (SALES_SESSION_TIMEOUT / 10: 3 s)
            assert rejoins(second) > joined

        await eventually(rejoining, timeout=15)
        await asyncio.sleep(1.0)  # its JoinGroup on its way, held by the broker
        second.assert_stopped_cleanly(await second.sigterm_exit_code(STOP_TIMEOUT_S + 15))
        log = second.log_path.read_text(errors="replace")
        assert "leaves the group at once" in log
        assert log.rstrip().endswith("its next start goes on from its local state"), log[-500:]
    finally:
        cluster.stop()
