"""Fixtures of the fault-injection suite (tests/faults).

- `fault_broker` (function): a broker of its own (not the session's `kafka_bootstrap`, which
  other tests share), on a free port with a temporary data dir, as a
  `tests.faults.harness.BrokerControl`: `.bootstrap`, `.kill()` (SIGKILL) and `.start()` (again,
  same data dir and port). Stopped afterwards.

The scenario's size comes from the environment: FAULTS_SIZE=reduced (the default, part of
`make test`) or FAULTS_SIZE=full (`make faults`); FAULTS_SEED=N replays a run's stream and
fault schedule (the seed is printed at the start of every run).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import load_kafka_local
from tests.faults.harness import BrokerControl


@pytest.fixture
def fault_broker(tmp_path: Path) -> Iterator[BrokerControl]:
    kafka_local = load_kafka_local()
    control = BrokerControl(kafka_local, kafka_local.free_port(), tmp_path / "kafka")
    control.start()
    try:
        yield control
    finally:
        control.stop()
