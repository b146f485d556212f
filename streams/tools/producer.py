"""A thin aiokafka producer for the CLI: settings-driven connection, batching, pacing.

Kept separate from the worker so `generate`, `replay`, `targets` and `run` share one way of
connecting (bootstrap and SASL/SSL from `Settings`) and of creating missing topics, which
lets them work against an empty broker before any worker has started.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, KafkaError

from streams.tools.generator import Record
from streams.worker.kafka_options import kafka_options, refusal
from streams.worker.settings import Settings, Topics
from streams.worker.topics import ensure_topics as create_missing_topics

#: (topic, key, value) as sent; a None value is a tombstone
Outgoing = tuple[str, bytes | None, bytes | None]
Progress = Callable[[int], None]


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached; the message says how to start or point to one."""


async def unreachable(settings: Settings) -> KafkaUnavailable:
    """Why Kafka cannot be used: refused credentials or TLS when that is it, else down."""
    reason = await refusal(settings)
    if reason is not None:
        return KafkaUnavailable(
            f"Kafka at {settings.kafka_bootstrap} refused the connection: {reason}"
        )
    return KafkaUnavailable(
        f"Kafka is not reachable at {settings.kafka_bootstrap}: start a local broker with "
        "`make kafka-up`, or set KAFKA_BOOTSTRAP (and KAFKA_SECURITY_PROTOCOL, ...) to yours"
    )


def outgoing(record: Record, topics: Topics) -> Outgoing:
    """A generator record addressed to its configured topic name."""
    key = record.key.encode("utf-8") if record.key is not None else None
    return (getattr(topics, record.topic_kind), key, record.value)


async def ensure_topics(settings: Settings, names: Iterable[str]) -> list[str]:
    """Create the missing topics among `names` as the worker would; return them.

    The worker creates its topics too; doing it here means producing to an empty broker does
    not silently auto-create topics with the broker's defaults.
    """
    try:
        return await create_missing_topics(settings, names)
    except KafkaConnectionError:
        raise await unreachable(settings) from None


async def topic_partitions(settings: Settings, topic: str) -> list[TopicPartition]:
    """The partitions of `topic`, or [] when it does not exist (yet)."""
    admin = AIOKafkaAdminClient(**kafka_options(settings))
    try:
        await admin.start()
    except KafkaConnectionError:
        await admin.close()
        raise await unreachable(settings) from None
    try:
        # describing a missing topic could auto-create it (with the wrong cleanup policy)
        if topic not in await admin.list_topics():
            return []
        described = await admin.describe_topics([topic])
    finally:
        await admin.close()
    if not described or described[0]["error_code"] != 0:
        return []
    return [
        TopicPartition(topic, p["partition"])
        for p in sorted(described[0]["partitions"], key=lambda p: p["partition"])
    ]


def quiet_kafka_logs() -> None:
    """Keep aiokafka's retry chatter off the terminal: the CLI reports failures itself."""
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


class Pacer:
    """Spaces sends to `rate` records per second (None or 0: as fast as possible)."""

    def __init__(self, rate: float | None) -> None:
        self.interval = 1.0 / rate if rate else 0.0
        self.started = time.monotonic()
        self.count = 0

    async def wait(self) -> None:
        if self.interval:
            due = self.started + self.count * self.interval
            delay = due - time.monotonic()
            if delay > 0.001:
                await asyncio.sleep(delay)
        self.count += 1


class RecordProducer:
    """An async context manager around AIOKafkaProducer tuned for bulk sends."""

    def __init__(self, settings: Settings, *, linger_ms: int = 20) -> None:
        self.settings = settings
        self._producer = AIOKafkaProducer(
            **kafka_options(settings),
            linger_ms=linger_ms,
            max_batch_size=512 * 1024,
            acks=1,
            compression_type=None,
            request_timeout_ms=30_000,
        )

    async def __aenter__(self) -> RecordProducer:
        try:
            await self._producer.start()
        except KafkaConnectionError:
            await self._producer.stop()
            raise await unreachable(self.settings) from None
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._producer.stop()

    async def send_records(
        self,
        records: Iterable[Outgoing],
        rate: float | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Send every record (pulled lazily, after pacing) and wait for all acks; return the count.

        Pulling after the pacer waits matters for live streams: a record generated with the
        wall clock is stamped when it is sent, not when the previous one was.
        """
        pacer = Pacer(rate)
        pending: list[asyncio.Future[Any]] = []
        sent = 0
        iterator = iter(records)
        while True:
            await pacer.wait()
            item = next(iterator, None)
            if item is None:
                break
            topic, key, value = item
            pending.append(await self._producer.send(topic, value, key=key))
            sent += 1
            if len(pending) >= 2000 or (rate and len(pending) >= max(1, int(rate))):
                await _settle(pending)
                pending.clear()
                if progress:
                    progress(sent)
        await self._producer.flush()
        await _settle(pending)
        if progress:
            progress(sent)
        return sent


async def _settle(futures: list[asyncio.Future[Any]]) -> None:
    for result in await asyncio.gather(*futures, return_exceptions=True):
        if isinstance(result, KafkaError):
            raise result
        if isinstance(result, BaseException):
            raise result


@contextmanager
def progress_bar(description: str, total: int | None) -> Iterator[Progress]:
    """A rich progress bar on stderr when it is a terminal; a no-op otherwise (CI, pipes)."""
    if not sys.stderr.isatty():
        yield lambda _done: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import (
        Progress as RichProgress,
    )

    with RichProgress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=False,
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda done: bar.update(task, completed=done)
