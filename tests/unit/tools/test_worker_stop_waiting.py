"""A worker stopped while it waits for Kafka at start exits 0 saying so: Ctrl-C printed a
traceback and SIGTERM killed it (exit 143), before Faust's own handlers were in place."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.workers import free_port

REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_while_waiting_for_kafka_is_clean(signum: int, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALES_", "KAFKA_"))}
    env |= {
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{free_port()}",  # nothing listens there
        "SALES_API_PORT": str(free_port()),
        "SALES_DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "streams.tools.cli", "worker"],
            env=env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            # as from a terminal: a test run started in the background (CI) ignores SIGINT,
            # and Python then takes no Ctrl-C at all
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        deadline = time.monotonic() + 60
        while "does not answer yet" not in log.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()
            time.sleep(0.1)
        worker.send_signal(signum)
        assert worker.wait(timeout=30) == 0, log.read_text()
    finally:
        if worker.poll() is None:
            worker.kill()
    text = log.read_text()
    assert "stopped while waiting for Kafka" in text and "Traceback" not in text, text
