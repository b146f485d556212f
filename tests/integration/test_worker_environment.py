"""The worker's environment against a real broker: it reads its own variables only, and a
group session the broker would refuse stops it at start.

Faust read its own variables over the worker's settings, and some are names other software
sets: in a Kubernetes namespace with a Service named `web`, every pod gets
`WEB_PORT=tcp://10.96.0.12:80`, and the worker stopped at start on "invalid literal for
int()". And a SALES_SESSION_TIMEOUT (then BROKER_SESSION_TIMEOUT) below the broker's
group.min.session.timeout.ms left the worker waiting for ever without partitions, after
one line of the Kafka client's log.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from tests.integration.test_ingestion import activity
from tests.support.workers import Cluster, eventually, free_port, http_get, produce, salespulse

#: what a pod beside Services named `web` and `broker` gets, and Faust's own variables
FOREIGN_ENV = {
    "WEB_PORT": "tcp://10.96.0.12:80",
    "WEB_HOST": "10.96.0.12",
    "WEB_BIND": "10.96.0.12",
    "BROKER_PORT": "tcp://10.96.0.13:9092",
    "BROKER_URL": "kafka://10.96.0.13:9092",
    "BROKER_SESSION_TIMEOUT": "abc",
    "TOPIC_PARTITIONS": "3",
    "PRODUCER_ACKS": "0",
    "PROCESSING_GUARANTEE": "exactly_once",
}


async def test_variables_of_faust_and_of_other_software_change_nothing(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    cluster = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=FOREIGN_ENV)
    try:
        worker = cluster.start_worker()
        call = activity("e1", "r1", datetime.now(UTC))
        await produce(kafka_bootstrap, [(cluster.topic("activities"), b"r1", call)])

        async def counted() -> None:
            status, body = await http_get(f"{worker.url}/v1/reps/r1/performance")
            assert status == 200 and body["activities"]["total"] == 1, body

        await eventually(counted, timeout=60)
        log = worker.log_tail(400)
        assert "BROKER_SESSION_TIMEOUT is set but no longer read: set SALES_SESSION_TIMEOUT" in log
        assert "tcp://10.96.0.12" not in log, log
    finally:
        cluster.stop()


async def test_a_session_the_broker_would_refuse_stops_the_worker_at_start(
    cluster: Cluster,
) -> None:
    env = {**cluster.env(free_port()), "SALES_SESSION_TIMEOUT": "3"}
    done = await salespulse(env, "worker", "--wait-for-kafka", "30")
    assert done.returncode != 0
    # the session broker keeps Kafka's defaults: 6 s to 30 minutes
    assert "SALES_SESSION_TIMEOUT=3 lies outside what the broker allows (6 to 1800 s" in (
        done.stderr
    ), done.stderr
