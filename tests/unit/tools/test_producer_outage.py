"""Which failures the CLI's producer rides out (sends again), which it raises at once."""

from __future__ import annotations

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    LeaderNotAvailableError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    RequestTimedOutError,
    TopicAuthorizationFailedError,
)
from rich.console import Console

from streams.tools.live_view import LiveState, render, status_line
from streams.tools.producer import is_outage


@pytest.mark.parametrize(
    "error",
    [
        KafkaTimeoutError(),
        KafkaConnectionError(),
        LeaderNotAvailableError(),
        NotLeaderForPartitionError(),
        RequestTimedOutError(),
    ],
)
def test_a_broker_away_or_electing_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [MessageSizeTooLargeError(), TopicAuthorizationFailedError(), ValueError("bad record")],
)
def test_a_refusal_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)


def test_the_live_view_shows_a_broker_outage_beside_an_api_problem() -> None:
    state = LiveState(api_url="http://127.0.0.1:1", period="2026-12", context="saas")
    state.kafka_problem = "Kafka at 127.0.0.1:9092 is not taking records"
    state.problem = "the API did not answer"
    line = status_line(state)
    assert line.endswith("; Kafka at 127.0.0.1:9092 is not taking records; the API did not answer")
    console = Console(width=120, record=True)
    console.print(render(state, 120))
    assert "is not taking records" in console.export_text()
