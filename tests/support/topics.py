"""Creating a topic for a test, and waiting for it to be visible: the broker answers
create_topics before its metadata cache lists the topic, so asserting at once fails now and
then (seen in CI)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic


async def wait_until_listed(admin: AIOKafkaAdminClient, topic: str, timeout: float = 15.0) -> None:
    """Return once `topic` is in the broker's topic list; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    listed: list[str] = []
    while loop.time() < deadline:
        listed = await admin.list_topics()
        if topic in listed:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{topic} not listed {timeout:.0f} s after create_topics: {listed}")


async def create_topic(
    topic: str,
    partitions: int,
    *,
    configs: dict[str, str] | None = None,
    **client_options: Any,
) -> None:
    """Create `topic` (replication 1, `configs` as topic configs) with an admin client of
    `client_options` (bootstrap_servers, or a secured connection's options), and return
    once the broker lists it; a creation the broker refuses fails with its error code."""
    admin = AIOKafkaAdminClient(**client_options)
    await admin.start()
    try:
        response = await admin.create_topics(
            [
                NewTopic(
                    topic,
                    num_partitions=partitions,
                    replication_factor=1,
                    topic_configs=configs or {},
                )
            ]
        )
        for _name, code, *_ in response.topic_errors:
            assert code == 0, f"could not create {topic}: error {code}"
        await wait_until_listed(admin, topic)
    finally:
        await admin.close()
