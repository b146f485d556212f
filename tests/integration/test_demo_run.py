"""`salespulse run` (what `make run` calls) against a real broker, with the worker it starts.

Why: the demo's history was sent in chunks of 2,000 records, some ten days of it, and the
broker and the worker's batches let one topic run days ahead of another. The worker's stream
time then passed events of the history by more than SALES_LATE_GRACE: a first demo
dead-lettered some 8 % of its own history as late_event, and a second one on the same broker
three quarters (its history reached back 30 days, behind the first demo's live tail).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pytest

from streams.tools.topic_reader import read_to_end
from streams.worker.settings import Settings
from tests.support.workers import REPO_ROOT, Cluster, free_port

pytestmark = pytest.mark.integration

#: a clean history: the generator's late, duplicate and invalid records off
DEMO = [
    "run",
    "--no-view",
    "--duration",
    "3",
    "--events",
    "3000",
    "--days",
    "30",
    "--rate",
    "4",
    "--late-rate",
    "0",
    "--duplicate-rate",
    "0",
    "--invalid-rate",
    "0",
]


def run_demo(env: dict[str, str], cwd: Path, seed: int) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "streams.tools.cli", *DEMO, "--seed", str(seed)],
        env=env,
        cwd=cwd,
        capture_output=True,
        timeout=400,
        check=False,
    )
    err = done.stderr.decode(errors="replace")
    log = cwd / "var" / "run" / f"worker-{env['SALES_API_PORT']}.log"
    assert done.returncode == 0, f"{err}\nworker log:\n{log.read_text()[-3000:]}"
    return err


async def dead_letter_reasons(settings: Settings, topic: str) -> Counter[str]:
    reasons: Counter[str] = Counter()
    async for records in read_to_end(settings, topic):
        for record in records:
            reasons[orjson.loads(record.value)["reason"]] += 1
    return reasons


def test_the_demo_history_is_not_dead_lettered_as_late_in_a_first_or_second_run(
    cluster: Cluster, tmp_path: Path
) -> None:
    env = cluster.env(free_port())
    env["PYTHONPATH"] = str(REPO_ROOT)
    settings = Settings.from_env(env)
    deadletter = cluster.topic("deadletter")
    first = run_demo(env, tmp_path, seed=11)
    assert "sent 3000 history events (saas, 30 days)" in first, first
    reasons = asyncio.run(dead_letter_reasons(settings, deadletter))
    assert reasons["late_event"] == 0, (reasons, first)
    # the broker now holds the first demo's live tail, stamped with the wall clock: what the
    # second sends must not reach back past it by more than the grace
    second = run_demo(env, tmp_path, seed=12)
    assert "the input topics already hold events" in second, second
    reasons = asyncio.run(dead_letter_reasons(settings, deadletter))
    assert reasons["late_event"] == 0, (reasons, second)
