"""What a worker says when it cannot start on Kafka, against a real broker (the operator
audit): topics the broker will never create stop it at once, naming the settings (three
replicas on a one-broker cluster waited 60 s as if Kafka were not ready, then advised
waiting longer); a listener of another protocol, or a host that does not resolve, is said
as such (both were "is the broker running? make kafka-up")."""

from __future__ import annotations

from tests.support.workers import Cluster, free_port, salespulse


async def test_topics_the_broker_will_never_create_are_said_at_once(cluster: Cluster) -> None:
    env = {**cluster.env(free_port()), "SALES_TOPIC_REPLICATION": "3"}
    done = await salespulse(env, "worker", "--wait-for-kafka", "60")
    assert done.returncode != 0
    assert "refused to create a topic" in done.stderr, done.stderr
    assert "SALES_TOPIC_REPLICATION=3" in done.stderr, done.stderr
    assert "InvalidReplicationFactorError" in done.stderr, done.stderr
    assert "give it longer" not in done.stderr, "not a broker to wait for"


async def test_a_listener_of_another_protocol_is_said_as_such(cluster: Cluster) -> None:
    env = {**cluster.env(free_port()), "KAFKA_SECURITY_PROTOCOL": "SSL"}  # a PLAINTEXT broker
    done = await salespulse(env, "worker", "--wait-for-kafka", "2")
    assert done.returncode != 0
    assert "hangs up at once" in done.stderr, done.stderr
    assert "KAFKA_SECURITY_PROTOCOL=SSL" in done.stderr and "make kafka-up" not in done.stderr


async def test_a_host_that_does_not_resolve_is_said_as_such(cluster: Cluster) -> None:
    env = {**cluster.env(free_port()), "KAFKA_BOOTSTRAP": "no-such-broker.invalid:9092"}
    done = await salespulse(env, "worker", "--wait-for-kafka", "1")
    assert done.returncode != 0
    assert "The host 'no-such-broker.invalid' of KAFKA_BOOTSTRAP does not resolve" in done.stderr
