"""Waiting for a new topic to be visible: the broker answers create_topics before its
metadata cache lists the topic, so asserting at once fails now and then (seen in CI)."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient


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
