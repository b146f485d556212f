"""The local Kafka launcher (deploy/kafka/kafka_local.py) against a real broker."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from tests.support.topics import create_topic

pytestmark = pytest.mark.integration

KAFKA_LOCAL_PATH = Path(__file__).resolve().parents[2] / "deploy" / "kafka" / "kafka_local.py"


def load_kafka_local() -> ModuleType:
    """deploy/kafka/kafka_local.py as a module (the conftest loads it under the same name)."""
    if "kafka_local" not in sys.modules:
        spec = importlib.util.spec_from_file_location("kafka_local", KAFKA_LOCAL_PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["kafka_local"] = module
        spec.loader.exec_module(module)
    return sys.modules["kafka_local"]


async def _consume(
    bootstrap: str, topic: str, group: str, expected: int, isolation_level: str
) -> list[tuple[bytes | None, bytes | None]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation_level,
    )
    await consumer.start()
    received: list[tuple[bytes | None, bytes | None]] = []
    try:
        for _ in range(60):  # polls of up to 1 s each; ends as soon as everything arrived
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                received += [(r.key, r.value) for r in records]
            if len(received) >= expected:
                break
        await consumer.commit()
    finally:
        await consumer.stop()
    return received


async def test_fixture_broker_produce_consume(kafka_bootstrap: str, unique_name: str) -> None:
    topic = f"{unique_name}.plain"
    await create_topic(topic, 3, bootstrap_servers=kafka_bootstrap)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = [(f"rep-{i % 4}".encode(), f'{{"n": {i}}}'.encode()) for i in range(20)]
        for key, value in sent:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    received = await _consume(kafka_bootstrap, topic, f"{unique_name}-g", 20, "read_uncommitted")
    assert sorted(received) == sorted(sent)


async def test_transactional_producer_commits(kafka_bootstrap: str, unique_name: str) -> None:
    topic = f"{unique_name}.tx"
    await create_topic(topic, 2, bootstrap_servers=kafka_bootstrap)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{unique_name}-txid"
    )
    await producer.start()
    try:
        await producer.begin_transaction()
        await producer.send(topic, b"aborted", key=b"a")
        await producer.flush()
        await producer.abort_transaction()
        async with producer.transaction():
            await producer.send(topic, b"committed-1", key=b"a")
            await producer.send(topic, b"committed-2", key=b"b")
    finally:
        await producer.stop()

    received = await _consume(kafka_bootstrap, topic, f"{unique_name}-g", 2, "read_committed")
    assert sorted(v for _, v in received) == [b"committed-1", b"committed-2"]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(KAFKA_LOCAL_PATH), *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _broker_processes(data_dir: Path) -> list[int]:
    marker = str(data_dir.resolve() / "server.properties")
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if b"kafka.Kafka" in args and marker.encode() in args and state != "Z":
            pids.append(int(proc.name))
    return pids


def test_cli_up_is_idempotent_and_down_leaves_nothing(tmp_path: Path) -> None:
    kafka_local = load_kafka_local()
    port = str(kafka_local.free_port())
    data_dir = tmp_path / "kafka-cli"
    try:
        first = _cli("up", "--port", port, "--data-dir", str(data_dir))
        assert first.returncode == 0, first.stdout + first.stderr
        assert "up on 127.0.0.1:" + port in first.stdout
        pids = _broker_processes(data_dir)
        assert len(pids) == 1
        assert kafka_local.probe(int(port)) is not None

        second = _cli("up", "--port", port, "--data-dir", str(data_dir))
        assert second.returncode == 0, second.stdout + second.stderr
        assert "already running" in second.stdout
        assert _broker_processes(data_dir) == pids

        status = _cli("status", "--port", port, "--data-dir", str(data_dir))
        assert status.returncode == 0 and "running" in status.stdout
    finally:
        down = _cli("down", "--data-dir", str(data_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert "stopped" in down.stdout
    assert _broker_processes(data_dir) == []
    assert kafka_local.probe(int(port)) is None

    again = _cli("down", "--data-dir", str(data_dir))
    assert again.returncode == 0 and "nothing to stop" in again.stdout
    status = _cli("status", "--port", port, "--data-dir", str(data_dir))
    assert status.returncode == 3


def test_cli_up_nodes_starts_a_cluster_that_status_env_and_down_know(tmp_path: Path) -> None:
    kafka_local = load_kafka_local()
    data_dir = tmp_path / "kafka-cluster"
    try:
        up = _cli("up", "--nodes", "3", "--data-dir", str(data_dir))
        assert up.returncode == 0, up.stdout + up.stderr
        bootstrap = kafka_local.Quorum.load_or_plan(data_dir, 3).bootstrap
        assert f"cluster of 3 nodes up on {bootstrap}" in up.stdout
        assert f"export KAFKA_BOOTSTRAP={bootstrap}" in up.stdout
        ports = [int(address.rsplit(":", 1)[1]) for address in bootstrap.split(",")]
        for port in ports:
            answer = kafka_local.probe(port)
            assert answer is not None and sorted(b[0] for b in answer["brokers"]) == [1, 2, 3]
        for n in (1, 2, 3):
            assert len(_broker_processes(data_dir / f"node-{n}")) == 1

        again = _cli("up", "--nodes", "3", "--data-dir", str(data_dir))
        assert again.returncode == 0 and "already running" in again.stdout
        status = _cli("status", "--data-dir", str(data_dir))
        assert status.returncode == 0, status.stdout
        assert status.stdout.count("running") == 3 and status.stdout.count("(ready)") == 3
        env = _cli("env", "--data-dir", str(data_dir))
        assert env.stdout.strip() == f"export KAFKA_BOOTSTRAP={bootstrap}"
        single = _cli("up", "--data-dir", str(data_dir / "node-1"), "--nodes", "2")
        assert single.returncode == 1 and "one broker's data" in single.stderr

        # a node that went away: status says so, and up starts it, the others untouched
        kafka_local.stop_broker(data_dir / "node-2")
        others = {n: _broker_processes(data_dir / f"node-{n}") for n in (1, 3)}
        status = _cli("status", "--data-dir", str(data_dir))
        assert status.returncode == 3 and "node 2: stopped" in status.stdout
        back = _cli("up", "--nodes", "3", "--data-dir", str(data_dir))
        assert back.returncode == 0, back.stdout + back.stderr
        assert kafka_local.Quorum.load_or_plan(data_dir, 3).bootstrap in back.stdout
        assert len(_broker_processes(data_dir / "node-2")) == 1
        assert {n: _broker_processes(data_dir / f"node-{n}") for n in (1, 3)} == others
    finally:
        down = _cli("down", "--data-dir", str(data_dir))
    assert down.returncode == 0, down.stdout + down.stderr
    assert "Kafka cluster stopped (node 1 on" in down.stdout
    for n in (1, 2, 3):
        assert _broker_processes(data_dir / f"node-{n}") == []
    status = _cli("status", "--data-dir", str(data_dir))
    assert status.returncode == 3 and status.stdout.count("stopped") == 3
