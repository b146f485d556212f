"""A status request that reaches a stopping worker does not hold its stop.

`/v1/internal/consumer` (and `/v1/status`) ask Faust's consumer thread for positions; once
a stop has begun that thread may never answer, and the open request held the API server's
shutdown until SALES_STOP_TIMEOUT cut the stop as a crash (exit 75, local state discarded
at the next start). A rolling-restart audit's monitoring did this at every stop it polled.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from streams.tools.commands.worker import RUNNING_MARKER
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
        assert worker.process is not None
        worker.process.send_signal(signal.SIGTERM)

        async def poll() -> None:  # what monitoring does while the worker stops
            for _ in range(20):
                try:
                    await http_get(f"{worker.url}/v1/internal/consumer")
                except OSError:
                    return  # the listener is closed
                await asyncio.sleep(0.05)

        polling = asyncio.ensure_future(poll())
        code = await asyncio.to_thread(worker.process.wait, STOP_TIMEOUT_S + 15)
        await polling
        log = worker.log_path.read_text(errors="replace")
        assert code == 0, worker.log_tail()
        assert "SALES_STOP_TIMEOUT" not in log
        assert not (Path(worker.env["SALES_DATA_DIR"]) / RUNNING_MARKER).exists()
    finally:
        cluster.stop()
