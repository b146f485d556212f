"""deploy/kafka/kafka_local.py's local clusters, without starting one: the quorum's plan,
kept across starts, and the server settings each node gets (the rolling-restart test,
tests/integration/test_rolling_broker_restart.py, runs a real one), and how a started
broker is watched."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import load_kafka_local


def properties(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key: value for key, value in pairs}


def test_a_planned_quorum_has_distinct_ports_and_is_kept_for_the_next_start(
    tmp_path: Path,
) -> None:
    kafka_local = load_kafka_local()
    quorum = kafka_local.Quorum.load_or_plan(tmp_path, 3)
    ports = [port for pair in quorum.ports.values() for port in pair]
    assert sorted(quorum.ports) == [1, 2, 3]
    assert len(set(ports)) == 6
    again = kafka_local.Quorum.load_or_plan(tmp_path, 3)
    assert again == quorum  # same cluster id and ports: the nodes' storage still fits
    assert quorum.bootstrap.count(",") == 2 and quorum.voters.count("@") == 3


def test_each_node_votes_in_one_quorum_with_three_replicas(tmp_path: Path) -> None:
    kafka_local = load_kafka_local()
    quorum = kafka_local.Quorum.load_or_plan(tmp_path, 3)
    port, controller_port = quorum.ports[2]
    props = properties(
        kafka_local._server_properties(
            port, controller_port, tmp_path / "kraft", quorum=quorum, node_id=2
        )
    )
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == quorum.voters
    assert props["listeners"].endswith(f":{controller_port}")
    assert props["default.replication.factor"] == "3"
    assert props["offsets.topic.replication.factor"] == "3"
    # what a write needs in sync is each topic's own setting (streams.worker.topics)
    assert props["min.insync.replicas"] == "1"


def test_a_single_broker_keeps_one_replica(tmp_path: Path) -> None:
    kafka_local = load_kafka_local()
    props = properties(kafka_local._server_properties(9092, 9093, tmp_path / "kraft"))
    assert props["node.id"] == "1"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"
    assert props["default.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"


def test_a_cluster_folder_starts_only_with_its_own_node_count(tmp_path: Path) -> None:
    kafka_local = load_kafka_local()
    kafka_local.Quorum.load_or_plan(tmp_path, 3)
    with pytest.raises(kafka_local.KafkaLocalError, match="a cluster of 3 nodes, not 5"):
        kafka_local.start_cluster(tmp_path, 5)


def test_a_broker_this_process_started_is_judged_by_its_popen(tmp_path: Path) -> None:
    """Not by /proc/<pid>/cmdline, which can read empty just after Popen returns: a broker
    just started was taken for dead and stopped. A child whose command line is nothing like
    a broker's stands in for that moment."""
    kafka_local = load_kafka_local()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        broker = kafka_local.Broker(port=1, data_dir=tmp_path, pid=child.pid, _proc=child)
        assert broker.is_running()
        broker.stop(timeout=10)
        assert child.returncode == -signal.SIGTERM, "stop() ends its own child"
        assert not broker.is_running()
    finally:
        child.kill()
        child.wait()
