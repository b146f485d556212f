"""Settings an operator can get wrong are refused at start, naming the variable (exit 2),
instead of a traceback deep in Faust, aiokafka or RocksDB, or a worker that waits for ever;
and an API address the worker cannot listen on is said before it waits for Kafka."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from streams.tools.commands.worker import _check_api_address
from streams.worker.settings import Settings, SettingsError


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({"KAFKA_BOOTSTRAP": "127.0.0.1:99999"}, "KAFKA_BOOTSTRAP='127.0.0.1:99999'"),
        ({"KAFKA_BOOTSTRAP": "127.0.0.1:abc"}, "is not host:port"),
        ({"KAFKA_BOOTSTRAP": ","}, "is not host:port"),
        ({"KAFKA_BOOTSTRAP": "k1:9092,,k2:9092"}, "is not host:port"),
        ({"KAFKA_BOOTSTRAP": "k1:0"}, "is not host:port"),
        ({"SALES_API_PORT": "70000"}, "SALES_API_PORT='70000' must be <= 65535"),
        ({"SALES_LATE_GRACE": "P99999999999D"}, "SALES_LATE_GRACE='P99999999999D' is too long"),
        ({"SALES_RETENTION": "P99999999999D"}, "SALES_RETENTION='P99999999999D' is too long"),
        ({"SALES_STORE": "foo://"}, "SALES_STORE='foo://' is not a table store"),
        ({"SALES_STORE_MEMORY_BYTES": "99999999999999999999"}, "SALES_STORE_MEMORY_BYTES="),
        ({"SALES_MAX_PAYLOAD_BYTES": "99999999999999999999"}, "SALES_MAX_PAYLOAD_BYTES="),
        # a record and its key, each up to it, cross the internal topic in one message
        ({"SALES_MAX_PAYLOAD_BYTES": "262145"}, "SALES_MAX_PAYLOAD_BYTES='262145' must be <="),
        ({"SALES_AT_RISK_PACE": "nan"}, "SALES_AT_RISK_PACE='nan' is not a finite number"),
        ({"SALES_AT_RISK_PACE": "2"}, "SALES_AT_RISK_PACE='2' must be <= 1"),
        ({"SALES_STOP_TIMEOUT": "nan"}, "SALES_STOP_TIMEOUT='nan' is not a finite number"),
        ({"SALES_COMMIT_INTERVAL": "inf"}, "SALES_COMMIT_INTERVAL='inf' is not a finite"),
        ({"SALES_ALERT_SETTLE": "-inf"}, "SALES_ALERT_SETTLE='-inf' is not a finite"),
        ({"SALES_EVALUATION_INTERVAL": "1e20"}, "SALES_EVALUATION_INTERVAL='1e20' must be <="),
        ({"SALES_TOPIC_ACTIVITIES": "bad topic!"}, "SALES_TOPIC_ACTIVITIES='bad topic!' is not"),
        ({"SALES_TOPIC_ALERTS": ".."}, "SALES_TOPIC_ALERTS='..' is not a Kafka topic name"),
        ({"SALES_TOPIC_ACTIVITIES": "sales.deals"}, "would both use the topic 'sales.deals'"),
        ({"SALES_TOPIC_ALERTS": "salespulse.scopes"}, "'salespulse.scopes'"),
        ({"SALES_API_ADVERTISED_URL": "http://0.0.0.0:6066"}, "names no machine"),
        ({"SALES_SESSION_TIMEOUT": "abc"}, "SALES_SESSION_TIMEOUT='abc' is not a number"),
        ({"SALES_SESSION_TIMEOUT": "0.5"}, "SALES_SESSION_TIMEOUT='0.5' must be >= 1"),
        ({"SALES_SESSION_TIMEOUT": "4000"}, "SALES_SESSION_TIMEOUT='4000' must be <= 3600"),
    ],
)
def test_an_unusable_setting_is_refused_naming_it(env: dict[str, str], says: str) -> None:
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env)
    assert says in str(refused.value)


@pytest.mark.parametrize(
    ("env", "attribute", "value"),
    [
        ({"KAFKA_BOOTSTRAP": "k1:9092,k2:9093"}, "kafka_bootstrap", "k1:9092,k2:9093"),
        ({"KAFKA_BOOTSTRAP": "[::1]:9092, broker-2"}, "kafka_bootstrap", "[::1]:9092, broker-2"),
        ({"KAFKA_BOOTSTRAP": ""}, "kafka_bootstrap", "127.0.0.1:9092"),
        ({"SALES_API_PORT": "65535"}, "api_port", 65535),
        ({"SALES_AT_RISK_PACE": "1"}, "at_risk_pace", 1.0),
        ({"SALES_AT_RISK_PACE": "0"}, "at_risk_pace", 0.0),
        ({"SALES_STORE": "memory://"}, "store", "memory://"),
        ({"SALES_TOPIC_ALERTS": "team_a.alerts-v2"}, "topics", None),
    ],
)
def test_usable_settings_are_kept(env: dict[str, str], attribute: str, value: object) -> None:
    setting = getattr(Settings.from_env(env), attribute)
    assert value is None or setting == value


def test_an_api_port_in_use_is_said_before_kafka_is_waited_for(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = Settings.from_env({"SALES_API_PORT": str(port), "SALES_DATA_DIR": str(tmp_path)})
        with pytest.raises(SystemExit) as stopped:
            _check_api_address(settings)
    message = str(stopped.value.code)
    assert f"127.0.0.1:{port}" in message and "another SALES_API_PORT" in message


@pytest.mark.parametrize("host", ["999.1.1.1", "no-such-host.invalid", "192.0.2.1"])
def test_an_api_host_not_of_this_machine_is_said(host: str) -> None:
    settings = Settings.from_env({"SALES_API_HOST": host, "SALES_API_PORT": "6066"})
    with pytest.raises(SystemExit) as stopped:
        _check_api_address(settings)
    assert f"cannot serve the API on {host}:6066" in str(stopped.value.code)
    assert "SALES_API_HOST" in str(stopped.value.code)


def test_a_free_api_address_passes() -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    _check_api_address(Settings.from_env({"SALES_API_PORT": str(port)}))
