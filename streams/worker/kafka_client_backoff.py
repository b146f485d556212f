"""A pause after a failed metadata update of the Kafka client (aiokafka 0.14, pinned).

aiokafka's metadata task tries again at once when no broker answered, and whoever waits on
an update asks for the next one as soon as it fails: the producer's sender does so for as
long as a partition's leader is unknown. A broker that shuts down cleanly while the worker
produces leaves exactly that (its last metadata moves the leader away, then it is gone), and
with nothing on the port each attempt fails within microseconds: a worker folding when its
broker stopped spun one core at 100 % for the whole outage, some 4,000-5,000 attempts a
second. `install` makes a failed update wait the client's `retry_backoff_ms` before it
reports, so every waiter retries at that pace (the same outage: 3 % of a core).
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.client import AIOKafkaClient

_MARK = "_salespulse_backoff"


def install() -> None:
    """Patch AIOKafkaClient once per process; fails loudly if aiokafka's internals moved."""
    update = AIOKafkaClient._metadata_update
    if getattr(update, _MARK, False):
        return

    async def metadata_update_with_backoff(self: Any, cluster_metadata: Any, topics: Any) -> Any:
        updated = await update(self, cluster_metadata, topics)
        if not updated:
            await asyncio.sleep(self._retry_backoff)
        return updated

    setattr(metadata_update_with_backoff, _MARK, True)
    AIOKafkaClient._metadata_update = metadata_update_with_backoff  # type: ignore[method-assign]


def installed() -> bool:
    return bool(getattr(AIOKafkaClient._metadata_update, _MARK, False))
