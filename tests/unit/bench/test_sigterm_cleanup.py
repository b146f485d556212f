"""A bench ended by SIGTERM (a `kill`, a CI timeout) cleans up as on Ctrl-C: its broker's data
lives in a temporary directory that only a `with` block's exit removes."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from bench.harness import REPO_ROOT

#: a bench in miniature: a temporary directory held over an event loop that wakes often, as
#: the bench holds its broker's while its runs poll the broker. (A loop asleep in one long
#: `epoll_wait` could miss the signal: one that lands just before the call only trips a flag
#: that Python reads once the call returns, which once made this test wait out its timeout.)
_BENCH = (
    "import asyncio, sys, tempfile\n"
    "from bench.harness import exit_on_sigterm\n"
    "async def runs():\n"
    "    for _ in range(1200):\n"
    "        await asyncio.sleep(0.1)\n"
    "exit_on_sigterm()\n"
    "with tempfile.TemporaryDirectory(dir=sys.argv[1]) as tmp:\n"
    "    print(tmp, flush=True)\n"
    "    asyncio.run(runs())\n"
)


def test_a_bench_ended_by_sigterm_removes_its_temporary_directory(tmp_path: Path) -> None:
    bench = subprocess.Popen(
        [sys.executable, "-c", _BENCH, str(tmp_path)],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert bench.stdout is not None
    held = Path(bench.stdout.readline().strip())
    assert held.is_dir()
    bench.send_signal(signal.SIGTERM)
    try:
        status = bench.wait(timeout=60)
    finally:
        bench.kill()
    assert status == 128 + signal.SIGTERM, "it exits with the status a shell gives SIGTERM"
    assert not held.exists(), "the temporary directory stayed behind"
