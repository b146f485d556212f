"""The Kafka client waits between metadata updates that reach no broker.

aiokafka's producer asks for the next update as soon as one fails while a partition's leader
is unknown; unpatched, with nothing on the broker's port, that is thousands of attempts a
second on one core (streams.worker.kafka_client_backoff).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka.client import AIOKafkaClient

from streams.worker import kafka_client_backoff

pytestmark = pytest.mark.integration

BACKOFF_MS = 100
WINDOW_S = 2.0


async def test_failed_metadata_updates_are_retried_at_the_backoff_pace(own_broker: Any) -> None:
    kafka_client_backoff.install()
    assert kafka_client_backoff.installed()
    client = AIOKafkaClient(bootstrap_servers=own_broker.bootstrap, retry_backoff_ms=BACKOFF_MS)
    await client.bootstrap()
    try:
        assert await client.force_metadata_update(), "the broker answers at first"
        await asyncio.to_thread(own_broker.stop)
        attempts = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WINDOW_S
        while loop.time() < deadline:  # as the producer's sender does with no leader known
            assert not await client.force_metadata_update()
            attempts += 1
    finally:
        await client.close()
    most = WINDOW_S / (BACKOFF_MS / 1000) + 2
    assert 1 <= attempts <= most, f"{attempts} metadata updates in {WINDOW_S:g} s"


def test_install_patches_once() -> None:
    kafka_client_backoff.install()
    patched = AIOKafkaClient._metadata_update
    kafka_client_backoff.install()
    assert AIOKafkaClient._metadata_update is patched
