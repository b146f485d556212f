"""How `salespulse run` stops the worker it started: SIGTERM, and SIGKILL only past the
worker's own stop timeout (SALES_STOP_TIMEOUT), which ends a stop that hangs by itself."""

from __future__ import annotations

import asyncio
import signal
import sys

from streams.tools.commands import run

IGNORES_SIGTERM = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
STOPS_ON_SIGTERM = "import sys, time\nprint('ready', flush=True)\ntime.sleep(60)\n"


async def started(code: str) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    assert proc.stdout is not None
    assert await proc.stdout.readline() == b"ready\n"
    return proc


async def test_a_worker_that_stops_gets_sigterm_only() -> None:
    proc = await started(STOPS_ON_SIGTERM)
    await run._stop_worker(proc, grace=30)
    assert proc.returncode == -signal.SIGTERM


async def test_a_worker_that_does_not_stop_is_killed_after_the_grace() -> None:
    proc = await started(IGNORES_SIGTERM)
    await run._stop_worker(proc, grace=0.5)
    assert proc.returncode == -signal.SIGKILL
