"""A BatchConsumer with just the state its batch path uses, over a fake app, and fetched
records to feed it (no Kafka): for the delivery tests (checkpoints, seeking back)."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.worker.delivery import BatchConsumer

INPUT = TP("sales.activities", 0)
SCOPES = TP("sales.scopes", 1)


def records(tp: TP, first: int, last: int) -> list[Any]:
    return [
        SimpleNamespace(topic=tp.topic, partition=tp.partition, offset=o)
        for o in range(first, last + 1)
    ]


class Journal(list[str]):
    """What happened, in order: handled batches, checkpoints."""


def consumer(
    journal: Journal, *, interval: float = 3600.0, wanted: bool = False, never_due: bool = False
) -> Any:
    """A BatchConsumer with just the state the batch path uses, over a fake app.
    `never_due`: its checkpoint interval is never up (checkpoints only when asked)."""
    c: Any = BatchConsumer.__new__(BatchConsumer)
    c.app = SimpleNamespace(
        consumer_generation_id=1,
        should_stop=False,
        flow_control=SimpleNamespace(is_active=lambda: True),
        monitor=None,
    )
    c.flow_active = True
    c._handling = asyncio.Lock()
    c._handled = {}
    c._handled_generation = None
    c._last_checkpoint = float("inf") if never_due else 0.0
    c._in_flight = None
    c._left = {}
    c._left_generation = None
    c._acked = defaultdict(list)
    c._acked_index = defaultdict(set)
    c._read_offset = defaultdict(lambda: None)
    c._committed_offset = defaultdict(lambda: None)
    c._buffered_partitions = set()
    c._waiting_for_ack = None
    c._n_acked = 0
    c.batch_topics = frozenset({INPUT.topic, SCOPES.topic})
    c.batch_ready = lambda: True
    c.checkpoint_interval = interval
    c.checkpoint_wanted = lambda: wanted

    async def handler(batch: Any) -> None:
        journal.append(
            "handled " + ",".join(f"{tp.topic}:{b[-1].offset}" for tp, b in batch.items())
        )

    async def checkpoint() -> None:
        journal.append("checkpoint")

    async def commit() -> bool:
        journal.append("commit " + str({tp: sorted(o) for tp, o in c._acked_index.items() if o}))
        return True

    c.batch_handler = handler
    c.batch_checkpoint = checkpoint
    c.commit = commit
    return c
