"""One builder for Kafka client options: checked settings, never a silent plaintext."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from streams.worker.kafka_options import KafkaSecurity, KafkaSecurityError, kafka_options
from streams.worker.settings import Settings, SettingsError

SASL = {
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "worker",
    "KAFKA_SASL_PASSWORD": "s3cret-pw",
}


def test_plaintext_by_default() -> None:
    options = kafka_options(Settings.from_env({}))
    assert options == {"bootstrap_servers": "127.0.0.1:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_ssl_options_carry_credentials_and_tls() -> None:
    settings = Settings.from_env({**SASL, "KAFKA_BOOTSTRAP": "b:9093"})
    options = kafka_options(settings)
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_username"] == "worker"
    assert options["sasl_plain_password"] == "s3cret-pw"
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_mechanism_and_protocol_are_case_insensitive() -> None:
    env = {**SASL, "KAFKA_SECURITY_PROTOCOL": "sasl_ssl", "KAFKA_SASL_MECHANISM": "scram-sha-256"}
    security = KafkaSecurity.from_env(env)
    assert (security.protocol, security.mechanism) == ("SASL_SSL", "SCRAM-SHA-256")


def test_faust_credentials_match_the_client_options() -> None:
    from streams.worker.kafka_options import faust_credentials

    creds = faust_credentials(KafkaSecurity.from_env(SASL))
    assert creds.protocol.value == "SASL_SSL"
    assert creds.mechanism.value == "SCRAM-SHA-512"
    plain = faust_credentials(
        KafkaSecurity.from_env({**SASL, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    )
    assert plain.protocol.value == "SASL_PLAINTEXT"
    assert faust_credentials(KafkaSecurity()) is None


def test_repr_never_shows_the_password() -> None:
    settings = Settings.from_env(SASL)
    assert "s3cret-pw" not in repr(settings)
    assert "s3cret-pw" not in repr(settings.kafka_security)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "KAFKA_SASL_MECHANISM"),
        ({**SASL, "KAFKA_SASL_PASSWORD": ""}, "KAFKA_SASL_PASSWORD"),
        ({**SASL, "KAFKA_SASL_USERNAME": ""}, "KAFKA_SASL_USERNAME"),
        ({**SASL, "KAFKA_SASL_MECHANISM": "GSSAPI"}, "KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SECURITY_PROTOCOL"),
        ({"KAFKA_SSL_CAFILE": "/etc/hosts"}, "KAFKA_SECURITY_PROTOCOL"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nope/ca.pem"},
            "KAFKA_SSL_CAFILE",
        ),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERTFILE": "/etc/hosts"},
            "KAFKA_SSL_KEYFILE",
        ),
    ],
)
def test_incomplete_settings_fail_naming_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)
    with pytest.raises(KafkaSecurityError, match=variable):
        KafkaSecurity.from_env(env)


def test_a_ca_file_that_is_no_certificate_fails_at_start(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    with pytest.raises(SettingsError, match=r"KAFKA_SSL_CAFILE=.*cannot be loaded"):
        Settings.from_env({"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": str(ca)})
