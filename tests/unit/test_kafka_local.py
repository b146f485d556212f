"""deploy/kafka/kafka_local.py's reading of KAFKA_BOOTSTRAP, without starting a broker."""

from __future__ import annotations

import pytest

from tests.conftest import load_kafka_local


@pytest.mark.parametrize(
    ("bootstrap", "port"),
    [
        (None, 9092),
        ("127.0.0.1:19092", 19092),
        ("localhost:9093", 9093),
        ("PLAINTEXT://127.0.0.1:9094,127.0.0.1:9095", 9094),
        ("[::1]:9096", 9096),
    ],
)
def test_the_port_comes_from_a_local_kafka_bootstrap(
    monkeypatch: pytest.MonkeyPatch, bootstrap: str | None, port: int
) -> None:
    if bootstrap is None:
        monkeypatch.delenv("KAFKA_BOOTSTRAP", raising=False)
    else:
        monkeypatch.setenv("KAFKA_BOOTSTRAP", bootstrap)
    assert load_kafka_local().default_port() == port


def test_a_kafka_bootstrap_on_another_machine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """`make run` would start a broker here and send its demo to the real cluster."""
    kafka_local = load_kafka_local()
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "kafka-1.prod.example.com:9092")
    with pytest.raises(kafka_local.KafkaLocalError, match="names another machine"):
        kafka_local.default_port()


def test_acls_need_the_secured_listener(capsys: pytest.CaptureFixture[str]) -> None:
    """`up --acls` alone would start a plain broker whose ACLs name no user: refused before
    anything starts."""
    kafka_local = load_kafka_local()
    assert kafka_local.main(["up", "--acls", "--port", "1", "--data-dir", "/nonexistent"]) == 1
    assert "--acls goes with --sasl-ssl" in capsys.readouterr().err


def test_an_authorizing_broker_allows_nothing_but_to_its_own_user(tmp_path: object) -> None:
    kafka_local = load_kafka_local()
    files = kafka_local._SecuredFiles(
        "SCRAM-SHA-512", tmp_path, tmp_path, kafka_local.ADMIN_USER, "pw", acls=True
    )
    props = kafka_local._secured_properties(19093, 19094, files)
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"].split(";") == [f"User:{kafka_local.ADMIN_USER}", "User:ANONYMOUS"]
    plain = kafka_local._SecuredFiles("SCRAM-SHA-512", tmp_path, tmp_path, "a", "pw")
    assert "authorizer.class.name" not in kafka_local._secured_properties(19093, 19094, plain)
