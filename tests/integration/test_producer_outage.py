"""The CLI's producer against a broker that stops and comes back: nothing it sent is lost.

A broker of its own (the session's is shared by every test), stopped while records are
being sent and started again on the same port and data dir.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.tools.producer import (
    KafkaUnavailable,
    Outgoing,
    RecordProducer,
    ensure_topics,
)
from streams.worker.settings import Settings
from tests.conftest import load_kafka_local
from tests.support.workers import read_topic

pytestmark = pytest.mark.integration

TOPIC = "outage.activities"


def _records(n: int) -> list[Outgoing]:
    return [(TOPIC, f"rep-{i % 7}".encode(), f"event-{i:05d}".encode()) for i in range(n)]


async def test_records_sent_while_the_broker_restarts_all_arrive(own_broker: Any) -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP": own_broker.bootstrap})
    await ensure_topics(settings, [TOPIC])
    reports: list[tuple[str, bool]] = []
    records = _records(400)
    async with RecordProducer(
        settings, request_timeout_ms=3000, patience=None, report=lambda *r: reports.append(r)
    ) as producer:
        sending = asyncio.create_task(producer.send_records(records, rate=40))
        await asyncio.sleep(2)
        data_dir, port = own_broker.data_dir, own_broker.port
        await asyncio.to_thread(own_broker.stop)
        await asyncio.sleep(4)  # the broker away for a while, and the in-flight batch expired
        kafka_local = load_kafka_local()
        await asyncio.to_thread(kafka_local.start_broker, port, data_dir, die_with_parent=True)
        assert await asyncio.wait_for(sending, 120) == len(records)
    arrived = [m.value for m in await read_topic(own_broker.bootstrap, TOPIC)]
    assert set(arrived) == {value for _, _, value in records}, "a record was lost"
    ongoing = [message for message, still in reports if still]
    assert ongoing, "the outage was not reported"
    assert "is not taking records" in ongoing[0] and own_broker.bootstrap in ongoing[0]
    assert reports[-1][1] is False and "takes records again" in reports[-1][0]


async def test_a_broker_gone_longer_than_the_patience_is_an_error_naming_it(
    own_broker: Any,
) -> None:
    settings = Settings.from_env({"KAFKA_BOOTSTRAP": own_broker.bootstrap})
    await ensure_topics(settings, [TOPIC])
    async with RecordProducer(
        settings, request_timeout_ms=2000, patience=5, report=lambda *r: None
    ) as producer:
        await producer.send_records(_records(10))  # metadata known, then the broker goes
        await asyncio.to_thread(own_broker.stop)
        with pytest.raises(KafkaUnavailable) as caught:
            await asyncio.wait_for(producer.send_records(_records(10)), 60)
    message = str(caught.value)
    assert own_broker.bootstrap in message
    # what arrived and what did not: the 10 of the first call, none of the second (the
    # count used to be the records waiting for the broker only, not those never sent)
    assert "the first 10 records were delivered" in message, message
    assert "nothing after those was sent" in message, message
    assert "make kafka-up" in message
