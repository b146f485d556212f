"""The consumer group's session (SALES_SESSION_TIMEOUT) and the environment Faust is given:
none, so that only the worker's own variables configure it
(tests/integration/test_worker_environment.py starts real workers with foreign ones)."""

from __future__ import annotations

import logging

import pytest

from streams.tools.commands.worker import _say_unread_variables
from streams.worker.group_session import session_refusal
from streams.worker.runtime import faust_app, heartbeat_interval
from streams.worker.settings import Settings


def test_faust_reads_none_of_its_own_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    foreign = {
        "WEB_PORT": "tcp://10.96.0.12:80",  # Kubernetes, for a Service named `web`
        "BROKER_URL": "kafka://elsewhere:9092",
        "BROKER_SESSION_TIMEOUT": "abc",
        "TOPIC_PARTITIONS": "3",
        "PRODUCER_ACKS": "0",
        "PROCESSING_GUARANTEE": "exactly_once",
        "APP_ENV_PREFIX": "OTHER_",
    }
    for name, value in foreign.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env({"SALES_API_PORT": "6070"})
    conf = faust_app(settings).conf
    assert conf.web_port == 6070
    assert [str(url) for url in conf.broker] == [f"kafka://{settings.kafka_bootstrap}"]
    assert conf.broker_session_timeout == 60.0
    assert conf.topic_partitions == 8
    assert conf.producer_acks == -1
    assert conf.processing_guarantee.value == "at_least_once"


@pytest.mark.parametrize(
    ("given", "session", "heartbeat", "request_timeout"),
    [
        (None, 60.0, 3.0, 90.0),  # Faust's defaults
        ("10", 10.0, 1.0, 90.0),
        ("6", 6.0, 0.6, 90.0),
        ("300", 300.0, 3.0, 330.0),  # Faust refuses a session past its request timeout
    ],
)
def test_the_session_sets_the_heartbeat_and_the_request_timeout(
    given: str | None, session: float, heartbeat: float, request_timeout: float
) -> None:
    env = {} if given is None else {"SALES_SESSION_TIMEOUT": given}
    conf = faust_app(Settings.from_env(env)).conf
    assert conf.broker_session_timeout == session
    assert conf.broker_heartbeat_interval == pytest.approx(heartbeat)
    assert conf.broker_request_timeout == request_timeout
    assert heartbeat_interval(session) == pytest.approx(heartbeat)


def test_a_session_outside_the_brokers_bounds_is_refused_naming_both() -> None:
    bounds = (6.0, 1800.0)
    assert session_refusal(6.0, bounds) is None
    assert session_refusal(1800.0, bounds) is None
    assert session_refusal(3.0, None) is None, "a broker that does not say: the join tells"
    for session in (3.0, 1800.5):
        said = session_refusal(session, bounds)
        assert said is not None
        assert f"SALES_SESSION_TIMEOUT={session:g}" in said
        assert "(6 to 1800 s" in said and "group.min.session.timeout.ms" in said


def test_the_variables_the_readme_once_named_are_said_to_be_unread(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="salespulse.worker"):
        _say_unread_variables({"BROKER_SESSION_TIMEOUT": "15", "WEB_PORT": "tcp://x:80"})
    said = [r.getMessage() for r in caplog.records]
    assert said == ["BROKER_SESSION_TIMEOUT is set but no longer read: set SALES_SESSION_TIMEOUT"]
