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
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from streams.tools.generator import Record
from streams.worker.kafka_options import kafka_options, refusal
from streams.worker.settings import Settings, Topics
from streams.worker.topics import ensure_topics as create_missing_topics

#: (topic, key, value) as sent; a None value is a tombstone
Outgoing = tuple[str, bytes | None, bytes | None]
Progress = Callable[[int], None]


class DeliveredCount:
    """A Progress that remembers its last count and passes it on to `show` (a progress
    bar): what `send_records` reports is acknowledged by the broker, so after an outage or
    a Ctrl-C it says how many records arrived."""

    def __init__(self) -> None:
        self.done = 0
        self.show: Progress = lambda _done: None

    def __call__(self, done: int) -> None:
        self.done = done
        self.show(done)


#: told (message, ongoing) when the broker stops taking records, and when it takes them again
OutageReport = Callable[[str, bool], None]
#: seconds between two attempts at records the broker did not take
RESEND_PAUSE = 2.0
#: seconds between two reports of the same outage
REPORT_EVERY = 30.0
#: how long the one-shot commands (generate, replay, targets, publish) wait for a broker that
#: stopped taking records before they give up, in seconds
DEFAULT_PATIENCE = 120.0


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached; the message says how to start or point to one."""


#: the exit status of every command that stops on it (publish's, documented first)
EXIT_KAFKA_UNAVAILABLE = 3


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


def is_outage(exc: BaseException) -> bool:
    """Did the broker not take a record for now (down, restarting, electing a leader), so
    that the same record sent again later can succeed? Refusals (authorization, a record too
    large) are not outages: sending again would fail the same way."""
    return isinstance(exc, KafkaError) and (exc.retriable or isinstance(exc, KafkaTimeoutError))


_log = logging.getLogger(__name__)


def _log_outage(message: str, ongoing: bool) -> None:
    """A warning either way: the commands configure no logging, and Python prints warnings
    to stderr then; an application using the Publisher routes them as it likes."""
    _log.warning(message)


class RecordProducer:
    """An async context manager around AIOKafkaProducer tuned for bulk sends.

    A broker that stops taking records (restarted, briefly down) does not lose any: what it
    did not acknowledge is sent again every RESEND_PAUSE seconds, for up to `patience`
    seconds of outage (None: until cancelled, for the live demo), and `report` is told when
    the outage starts and ends. A record sent twice is harmless: the worker counts an
    `event_id` once, and targets are absolute values.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        linger_ms: int = 20,
        request_timeout_ms: int = 30_000,
        patience: float | None = DEFAULT_PATIENCE,
        report: OutageReport = _log_outage,
    ) -> None:
        self.settings = settings
        self.patience = patience
        self.report = report
        #: when the current outage began (monotonic), None while the broker takes records
        self.outage_since: float | None = None
        self.reported_at = 0.0
        #: records the broker acknowledged so far, in the order they were given
        self.delivered = 0
        self._producer = AIOKafkaProducer(
            **kafka_options(settings),
            linger_ms=linger_ms,
            max_batch_size=512 * 1024,
            # a record counts as taken once every replica in sync has it: with acks=1, one
            # the leader took is lost if a rolling restart moves the leadership to a replica
            # that had not fetched it yet (on one broker the two are the same)
            acks="all",
            compression_type=None,
            # also how long an unacknowledged batch waits for a broker that went away
            request_timeout_ms=request_timeout_ms,
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
        chunk: list[Outgoing] = []
        pending: list[asyncio.Future[Any]] = []
        sent = 0
        iterator = iter(records)
        while True:
            await pacer.wait()
            item = next(iterator, None)
            if item is None:
                break
            chunk.append(item)
            pending.append(await self._send(item))
            sent += 1
            if len(pending) >= 2000 or (rate and len(pending) >= max(1, int(rate))):
                await self._settle(chunk, pending)
                chunk, pending = [], []
                if progress:
                    progress(sent)
        await self._producer.flush()
        await self._settle(chunk, pending)
        if progress:
            progress(sent)
        return sent

    async def _send(self, item: Outgoing) -> asyncio.Future[Any]:
        """The record's delivery future; an outage while enqueueing (no metadata within
        the request timeout) comes back as a failed future, to be sent again like the rest."""
        topic, key, value = item
        try:
            future: asyncio.Future[Any] = await self._producer.send(topic, value, key=key)
        except KafkaError as exc:
            if not is_outage(exc):
                raise
            future = asyncio.get_running_loop().create_future()
            future.set_exception(exc)
        return future

    async def _settle(self, chunk: list[Outgoing], pending: list[asyncio.Future[Any]]) -> None:
        """Wait until the broker acknowledged every record of `chunk`; after an outage, send
        again, in order, everything from its first failed record on, so that of two records
        with the same key (a target set twice) the later one still lands last. A refusal
        raises at once, an outage once it outlasts the patience."""
        while pending:
            results = await asyncio.gather(*pending, return_exceptions=True)
            first: int | None = None
            for index, result in enumerate(results):
                if isinstance(result, BaseException):
                    if not is_outage(result):
                        raise result
                    if first is None:
                        first = index
            if first is None:
                break
            self.delivered += first  # acknowledged, in order, before the first failure
            cause = results[first]
            assert isinstance(cause, BaseException)
            chunk = chunk[first:]
            self._outage(cause, len(chunk))
            await asyncio.sleep(RESEND_PAUSE)
            pending = await self._send_again(chunk)
        self.delivered += len(chunk)
        if self.outage_since is not None:
            lasted = time.monotonic() - self.outage_since
            self.outage_since = None
            self.report(
                f"Kafka at {self.settings.kafka_bootstrap} takes records again, after "
                f"{lasted:.1f} s",
                False,
            )

    async def _send_again(self, chunk: list[Outgoing]) -> list[asyncio.Future[Any]]:
        """Send `chunk` again; once one record fails to enqueue (no metadata within the
        request timeout), the rest share its failure instead of each waiting as long."""
        pending: list[asyncio.Future[Any]] = []
        for item in chunk:
            future = await self._send(item)
            pending.append(future)
            if future.done() and not future.cancelled() and future.exception() is not None:
                pending += [future] * (len(chunk) - len(pending))
                break
        return pending

    def _outage(self, cause: BaseException, undelivered: int) -> None:
        """Report an outage when it starts and every REPORT_EVERY seconds after; give up
        past the patience."""
        now = time.monotonic()
        what = f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__
        if self.outage_since is None:
            self.outage_since = self.reported_at = now
        elif self.patience is not None and now - self.outage_since >= self.patience:
            raise KafkaUnavailable(
                f"Kafka at {self.settings.kafka_bootstrap} has not taken records for "
                f"{now - self.outage_since:.0f} s ({what}); the first {self.delivered} "
                f"records were delivered, the {undelivered} sent after them may not have "
                "been, and nothing after those was sent. Is the broker up (`make kafka-up`) "
                "and KAFKA_BOOTSTRAP right?"
            )
        elif now - self.reported_at < REPORT_EVERY:
            return
        lasted = f", for {now - self.outage_since:.0f} s" if now > self.outage_since else ""
        self.reported_at = now
        self.report(
            f"Kafka at {self.settings.kafka_bootstrap} is not taking records ({what}{lasted}): "
            f"{undelivered} held, sent again every {RESEND_PAUSE:g} s",
            True,
        )


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
