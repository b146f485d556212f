"""Topics the broker will never create as asked stop the worker at once, saying which
setting: three replicas on a one-broker cluster waited 60 s as if Kafka were not ready yet,
then advised waiting longer (the operator audit)."""

from __future__ import annotations

from tests.support.workers import Cluster, free_port, salespulse


async def test_topics_the_broker_will_never_create_are_said_at_once(cluster: Cluster) -> None:
    env = {**cluster.env(free_port()), "SALES_TOPIC_REPLICATION": "3"}
    done = await salespulse(env, "worker", "--wait-for-kafka", "60")
    assert done.returncode != 0
    assert "refused to create a topic" in done.stderr, done.stderr
    assert "SALES_TOPIC_REPLICATION=3" in done.stderr, done.stderr
    assert "InvalidReplicationFactorError" in done.stderr, done.stderr
    assert "--wait-for-kafka" not in done.stderr, "not a broker to wait for"
