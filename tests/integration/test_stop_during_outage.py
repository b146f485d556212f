"""A worker told to stop while Kafka is away still exits, and says why.

A stop commits, and a commit waits for the broker: mode's worker waited for ever and
ignored every further signal. Now it gives up after SALES_STOP_TIMEOUT, or at once on a
second signal, exiting as a crash would (the running marker stays, so the next start
restores from the changelog; the crash tests cover that restart).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from streams.tools.commands.worker import RUNNING_MARKER
from streams.worker.wiring import EXIT_STOP_CUT
from tests.support.workers import Cluster, Worker, wait_ready

pytestmark = pytest.mark.integration

#: generous: what is asserted is that the worker exits, not how fast
EXIT_WITHIN_S = 60


async def _stopping_without_broker(
    own_broker: Any, unique_name: str, tmp_path: Path, stop_timeout: float
) -> tuple[Worker, Path]:
    """A ready worker, its broker gone, then told to stop (SIGTERM)."""
    cluster = Cluster(
        bootstrap=own_broker.bootstrap,
        name=unique_name,
        base_dir=tmp_path,
        extra_env={"SALES_STOP_TIMEOUT": str(stop_timeout)},
    )
    worker = cluster.start_worker()
    await wait_ready([worker])
    own_broker.stop()
    time.sleep(2)  # the worker's clients notice
    _signal(worker, signal.SIGTERM)
    return worker, Path(worker.env["SALES_DATA_DIR"])


def _signal(worker: Worker, signum: signal.Signals) -> None:
    assert worker.process is not None
    os.killpg(worker.process.pid, signum)


def _exit_code(worker: Worker) -> int:
    assert worker.process is not None
    try:
        return worker.process.wait(timeout=EXIT_WITHIN_S)
    except subprocess.TimeoutExpired:
        worker.kill()
        raise AssertionError(f"still running {EXIT_WITHIN_S} s on:\n{worker.log_tail()}") from None


async def test_a_stop_past_the_timeout_exits_as_a_crash_and_says_why(
    own_broker: Any, unique_name: str, tmp_path: Path
) -> None:
    worker, data_dir = await _stopping_without_broker(own_broker, unique_name, tmp_path, 3)
    assert _exit_code(worker) == EXIT_STOP_CUT, worker.log_tail()
    log = worker.log_tail(20)
    assert "not stopped 3 s after SIGTERM (SALES_STOP_TIMEOUT)" in log, log
    assert own_broker.bootstrap in log and "nothing is lost or counted twice" in log, log
    assert (data_dir / RUNNING_MARKER).exists(), "the next start must know the stop was cut"
    # the consumer's thread, cancelled mid-request as it stops, is one line (thread_errors),
    # not the default hook's traceback cut into a log line per fragment
    whole = worker.log_path.read_text(errors="replace")
    assert "Exception in thread" not in whole, whole[-4000:]


async def test_a_second_signal_while_stopping_exits_at_once(
    own_broker: Any, unique_name: str, tmp_path: Path
) -> None:
    worker, data_dir = await _stopping_without_broker(own_broker, unique_name, tmp_path, 3600)
    time.sleep(2)
    assert worker.alive(), "stopping, waiting for the broker"
    _signal(worker, signal.SIGINT)  # Ctrl-C
    assert _exit_code(worker) == EXIT_STOP_CUT, worker.log_tail()
    assert "SIGINT again while stopping" in worker.log_tail(20)
    assert (data_dir / RUNNING_MARKER).exists()


async def test_a_signal_delivered_twice_at_once_is_one_clean_stop(cluster: Cluster) -> None:
    """SIGTERM sent to `make worker`'s process group reaches the worker from the group and
    again from make: it is the same stop, not a second signal that cuts it short."""
    worker = cluster.start_worker()
    await wait_ready([worker])
    _signal(worker, signal.SIGTERM)
    time.sleep(0.1)
    _signal(worker, signal.SIGTERM)
    assert _exit_code(worker) == 0, worker.log_tail()
    assert "SIGTERM again within 1 s: taken as the same stop" in worker.log_tail(40)
    assert not (Path(worker.env["SALES_DATA_DIR"]) / RUNNING_MARKER).exists()
