"""Shared pytest fixtures for salespulse.

What lives here (append yours below, one section per owner, and keep this list current):
- `kafka_bootstrap` (session): a real single-node Kafka broker (KRaft) started by
  deploy/kafka/kafka_local.py on a free port with its own temporary data folder; yields the
  bootstrap string "127.0.0.1:PORT" and stops the broker at the end of the session.
- `unique_name` (function): a short unique string (letters and digits) to prefix topic names,
  consumer groups, transactional ids and faust app ids, so tests never share state.
- `cluster` (function): salespulse workers as subprocesses with their own app id and topic
  names (tests/support/workers.py); every worker it started is stopped afterwards.
- `secured_kafka` (session): a second real broker whose only client listener is SASL_SSL
  (SCRAM-SHA-512 user, throwaway CA made at start); yields a kafka_local.SecuredConnection:
  `.bootstrap`, `.ca_file`, `.username`, `.password`, `.mechanism`, `.env()` (the KAFKA_*
  variables of salespulse) and `.aiokafka_options()`. Started only by tests that ask for it.
- `own_broker` (function): a single broker of the test's own, for tests that stop it.
- `own_kafka_cluster` (function): three Kafka nodes of the test's own
  (`kafka_local.LocalCluster`: `.bootstrap`, `.stop_node(n)`, `.start_node(n)`), topics with
  three replicas: for what one broker cannot show (a rolling restart).
"""

from __future__ import annotations

import importlib.util
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis fails an example slower than its 200 ms deadline, and a test whose examples
# are slow to generate: durations asserted, which a loaded machine broke (test files run
# in three processes on two cores, `make test`). Tests assert behaviour; how long an
# example takes is the bench's business.
settings.register_profile("salespulse", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("salespulse")

REPO_ROOT = Path(__file__).resolve().parent.parent
KAFKA_LOCAL_PATH = REPO_ROOT / "deploy" / "kafka" / "kafka_local.py"


def load_kafka_local() -> ModuleType:
    """deploy/kafka/kafka_local.py as a module (it is a script, not part of a package)."""
    name = "kafka_local"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, KAFKA_LOCAL_PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------- Kafka (deploy/kafka owner)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers ("127.0.0.1:PORT") of a broker that lives for the whole session."""
    kafka_local = load_kafka_local()
    data_dir = tmp_path_factory.mktemp("kafka")
    broker = kafka_local.start_broker(kafka_local.free_port(), data_dir, die_with_parent=True)
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Any]:
    """A broker of the test's own, for tests that stop it (the session's is shared)."""
    kafka_local = load_kafka_local()
    data_dir = tmp_path / "own-kafka"
    broker = kafka_local.start_broker(kafka_local.free_port(), data_dir, die_with_parent=True)
    try:
        yield broker
    finally:
        kafka_local.stop_broker(data_dir)


@pytest.fixture
def own_kafka_cluster(tmp_path: Path) -> Iterator[Any]:
    """A three-node Kafka cluster of the test's own (kafka_local.LocalCluster): topics with
    three replicas, nodes that stop and start one at a time."""
    kafka_local = load_kafka_local()
    cluster = kafka_local.start_cluster(tmp_path / "kafka-cluster", 3, die_with_parent=True)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def unique_name() -> str:
    """A short unique name, e.g. "t3f9a1c0b2e", valid in topic names and app ids."""
    return "t" + uuid.uuid4().hex[:11]


# ---------------------------------------------------------------- workers (streams owner)


@pytest.fixture
def cluster(kafka_bootstrap: str, unique_name: str, tmp_path: Path) -> Iterator[object]:
    """A `tests.support.workers.Cluster` with its own app id and topics; workers stopped after.

    Start workers with `cluster.start_worker()`; `cluster.topic("activities")` names a topic.
    """
    from tests.support.workers import Cluster

    c = Cluster(bootstrap=kafka_bootstrap, name=unique_name, base_dir=tmp_path)
    try:
        yield c
    finally:
        c.stop()


# ------------------------------------------------------- secured Kafka (deploy/kafka owner)


@pytest.fixture(scope="session")
def secured_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A broker with a SASL_SSL/SCRAM-SHA-512 listener only; yields how to connect to it
    (kafka_local.SecuredConnection: bootstrap, ca_file, username, password, env(), ...)."""
    kafka_local = load_kafka_local()
    data_dir = tmp_path_factory.mktemp("kafka-sasl")
    broker = kafka_local.start_broker(
        kafka_local.free_port(),
        data_dir,
        die_with_parent=True,
        security=kafka_local.SecuredListener(mechanism="SCRAM-SHA-512"),
    )
    try:
        yield broker.connection()
    finally:
        broker.stop()
