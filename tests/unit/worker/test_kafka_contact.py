"""What the worker tells the operator about its contact with Kafka (streams.worker.kafka_contact):
the probe against a client that answers, refuses or hangs, and the log lines and gauge values
that follow. The real broker's outage is in the fault suite (tests/faults)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from streams.worker.kafka_contact import KafkaContact, probe

LOGGER = "test.kafka_contact"


def contact(answers: list[float], failures_to_tell: int = 2) -> KafkaContact:
    return KafkaContact(
        "broker:9092",
        logging.getLogger(LOGGER),
        on_answer=answers.append,
        remind_every=300,
        failures_to_tell=failures_to_tell,
    )


def said(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


def test_an_outage_is_told_once_then_reminded_then_its_end_with_its_length(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    answers: list[float] = []
    c = contact(answers)
    c.answered(1_764_590_400.0)  # 2025-12-01T12:00:00Z
    assert answers == [1_764_590_400.0] and said(caplog) == []

    c.failed(1_764_590_405.0, "KafkaConnectionError: refused")  # one alone: not yet
    assert said(caplog) == []
    c.failed(1_764_590_410.0, "KafkaConnectionError: refused")
    c.failed(1_764_590_415.0, "KafkaConnectionError: refused")  # within the reminder: quiet
    lines = said(caplog)
    assert len(lines) == 1
    assert lines[0].startswith("lost contact with Kafka at broker:9092 (KAFKA_BOOTSTRAP): ")
    assert "KafkaConnectionError: refused" in lines[0]
    assert "figures as of 2025-12-01T12:00:00+00:00" in lines[0]

    c.failed(1_764_590_710.0, "no broker answered a metadata request")  # 300 s after the line
    assert said(caplog)[1] == (
        "still no contact with Kafka at broker:9092 after 305 s (no broker answered a "
        "metadata request); figures as of 2025-12-01T12:00:00+00:00"
    )
    c.failed(1_764_590_715.0, "again")
    assert len(said(caplog)) == 2

    c.answered(1_764_590_725.0)  # 320 s after the first failed probe
    assert said(caplog)[2].startswith("Kafka at broker:9092 answers again after 320 s")
    assert answers == [1_764_590_400.0, 1_764_590_725.0], "no answer during the outage"
    assert c.lost_since is None and c.failures == 0

    c.answered(1_764_590_730.0)  # in contact: nothing more to say
    assert len(said(caplog)) == 3


def test_one_failed_probe_between_answers_is_not_an_outage(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A probe whose answer the event loop read too late (a long synchronous step) fails
    alone: nothing is said, and the next failure starts counting again."""
    caplog.set_level(logging.INFO, LOGGER)
    c = contact([])
    for t in range(0, 100, 10):
        c.failed(float(t), "no metadata within 4 s")
        c.answered(float(t + 5))
    assert said(caplog) == []


def test_its_state_follows_what_the_log_said() -> None:
    c = contact([])
    c.answered(1_764_590_400.0)
    ok = {"contact": "ok", "last_contact": "2025-12-01T12:00:00+00:00", "lost_since": None}
    assert c.state() == ok
    c.failed(1_764_590_405.0, "down")
    assert c.state() == ok, "one failed probe is not an outage"
    c.failed(1_764_590_410.0, "down")
    assert c.state() == {
        "contact": "lost",
        "last_contact": "2025-12-01T12:00:00+00:00",
        "lost_since": "2025-12-01T12:00:05+00:00",
    }
    c.answered(1_764_590_415.0)
    assert c.state()["contact"] == "ok" and c.state()["lost_since"] is None


def test_a_worker_that_never_had_contact_says_since_when(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    c = contact([])
    c.failed(100.0, "down")
    c.failed(105.0, "down")
    assert "figures as of the worker's start" in said(caplog)[0]


class Client:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.asked = 0

    async def force_metadata_update(self) -> bool:
        self.asked += 1
        if isinstance(self.answer, BaseException):
            raise self.answer
        if self.answer == "hang":
            await asyncio.sleep(3600)
        return bool(self.answer)


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (False, "no broker answered a metadata request"),
        ("hang", "no metadata within 0 s"),
        (OSError("connection refused"), "OSError: connection refused"),
    ],
)
async def test_a_probe_without_metadata_is_a_failure_with_its_reason(
    answer: Any, reason: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    answers: list[float] = []
    c = contact(answers, failures_to_tell=1)
    client = Client(answer)
    await probe(c, client.force_metadata_update, lambda: 50.0, timeout=0.05)
    assert client.asked == 1 and answers == [] and c.lost_since == 50.0
    assert reason in said(caplog)[0]


async def test_a_probe_with_metadata_is_an_answer() -> None:
    answers: list[float] = []
    c = contact(answers)
    c.failed(10.0, "down")
    await probe(c, Client(True).force_metadata_update, lambda: 20.0, timeout=1)
    assert answers == [20.0] and c.lost_since is None and c.last_answer == 20.0
