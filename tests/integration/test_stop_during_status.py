"""A status request that reaches a stopping worker does not hold its stop.

`/v1/internal/consumer` (and `/v1/status`) asked Faust's consumer thread for positions;
once a stop had begun that thread might never answer, and the open request held the API
server's shutdown until SALES_STOP_TIMEOUT cut the stop as a crash (exit 75, local state
discarded at the next start). A rolling-restart audit's monitoring did this at every stop
it polled. Positions are now read from the client's state (BatchConsumer.known_position).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support.workers import Cluster, http_get, wait_ready

STOP_TIMEOUT_S = 15


async def test_a_status_request_during_a_stop_does_not_hold_it(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    cluster = Cluster(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        extra_env={"SALES_STOP_TIMEOUT": str(STOP_TIMEOUT_S)},
    )
    worker = cluster.start_worker()
    try:
        await wait_ready([worker])
        status, body = await http_get(f"{worker.url}/v1/internal/consumer")
        assert status == 200 and body["partitions"], body
        assert all(isinstance(p["position"], int) for p in body["partitions"]), body

        async def poll() -> None:  # what monitoring does while the worker stops
            for _ in range(20):
                try:
                    await http_get(f"{worker.url}/v1/internal/consumer")
                except OSError:
                    return  # the listener is closed
                await asyncio.sleep(0.05)

        stopping = asyncio.ensure_future(worker.sigterm_exit_code(STOP_TIMEOUT_S + 15))
        await asyncio.sleep(0)  # the signal is sent before the first poll
        await poll()
        worker.assert_stopped_cleanly(await stopping)
    finally:
        cluster.stop()
