"""A consumer the bench starts (bench.harness.Process) runs in a session of its own, out of
reach of a Ctrl-C meant for the bench; it must still stop when the bench is killed, or it
stays behind retrying a broker that died with the bench, and skews every later run."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import REPO_ROOT

#: a bench in miniature: starts one consumer (a long sleep), says its pid, dies at once
_BENCH = (
    "import os, sys\n"
    "from pathlib import Path\n"
    "from bench.harness import Process\n"
    "p = Process('sleeper', [sys.executable, '-c', 'import time; time.sleep(120)'],\n"
    "            dict(os.environ), Path(sys.argv[1])).start()\n"
    "print(p.pid, flush=True)\n"
    "os._exit(0)  # no finally, no stop(): as under SIGKILL\n"
)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting to be reaped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_consumer_stops_when_the_bench_dies(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-c", _BENCH, str(tmp_path / "sleeper.log")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    still = _running(pid)
    if still:
        os.kill(pid, 9)
    assert not still, "the consumer outlived the bench that started it"
