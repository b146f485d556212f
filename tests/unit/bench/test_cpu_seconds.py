"""The bench's CPU reading (bench.harness.cpu_seconds): what `make bench` reports as each
consumer's CPU seconds and events per CPU-second."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from bench.harness import cpu_seconds

#: burns `seconds` of CPU, then sleeps (so that it is still there to be read)
_BURN = (
    "import sys, time\n"
    "end = time.process_time() + float(sys.argv[1])\n"
    "while time.process_time() < end:\n"
    "    pass\n"
    "time.sleep(30)\n"
)
#: a child that starts a grandchild burning 0.6 s in its session, then burns 0.4 s itself
_SPIN = (
    "import subprocess, sys\n"
    f"subprocess.Popen([sys.executable, '-c', {_BURN!r}, '0.6'])\n"
    "sys.argv[1:] = ['0.4']\n"
    f"exec({_BURN!r})\n"
)


def test_a_session_counts_the_cpu_of_every_process_in_it() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", _SPIN], start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        used = 0.0
        while time.monotonic() < deadline:
            used = cpu_seconds(spinner.pid, session=True)
            if used >= 0.9:
                break
            time.sleep(0.1)
        # 0.4 s in the child and 0.6 s in its grandchild: only the session's sum passes 0.9 s
        assert used >= 0.9
        assert 0.0 < cpu_seconds(spinner.pid) < used
    finally:
        os.killpg(spinner.pid, 9)
        spinner.wait()


def test_this_process_reads_its_own_cpu_and_it_only_grows() -> None:
    before = cpu_seconds(os.getpid())
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    after = cpu_seconds(os.getpid())
    assert after - before >= 0.15


def test_a_process_that_is_gone_reads_zero() -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    assert cpu_seconds(gone.pid) == 0.0
    assert cpu_seconds(gone.pid, session=True) == 0.0
