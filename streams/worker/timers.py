"""Periodic duties of a worker: target evaluation, team medians, publishing changed figures,
lag.

Each duty is guarded: an exception (a peer restarting, a partition revoked during a
rebalance) is logged and the duty runs again at its next interval. Left to Faust, it would
stop the whole worker.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from time import monotonic
from typing import Any

from streams.engine.items import Tick, encode_envelope
from streams.engine.processor import ANNOUNCE_SECONDS, minute_tick
from streams.worker.batch_handler import announce_medians, owned_partitions
from streams.worker.internal_purge import InternalPurge
from streams.worker.kafka_contact import PROBE_SECONDS, KafkaContact, probe
from streams.worker.performance_publisher import PublishPacer, publish_pending
from streams.worker.rate_limited_log import RateLimitedLog
from streams.worker.repeated_logs import INTERVAL_SECONDS, report_held_back
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

Duty = Callable[[], Awaitable[None]]

#: how often held alerts are looked at (streams.domain.alert_settling)
SETTLE_CHECK_SECONDS = 1.0


def guarded(duty: Duty, *, clock: Callable[[], float] = monotonic) -> Duty:
    """The duty, its failures logged (three a minute, then a count) instead of raised."""
    failures = RateLimitedLog(log, f"failures of {duty.__name__}", per_interval=3, clock=clock)

    @functools.wraps(duty)
    async def run() -> None:
        try:
            await duty()
        except Exception as exc:
            failures.add(
                "%s failed, will run again at its next interval: %s: %s",
                duty.__name__,
                type(exc).__name__,
                exc,
            )
        else:  # the count of failures held back, once their minute is over
            failures.flush()

    return run


class OneAtATime:
    """Starts a duty beside the timer that asks for it, unless its last run is still going.

    For a duty whose wall time can pass its interval while its own work does not: the
    publisher yields to the batches between chunks and waits for the broker, and awaited
    inside mode's timer a long run made the timer warn that it overlaps.
    """

    def __init__(self, duty: Duty, start: Callable[[Awaitable[None]], asyncio.Future[None]]):
        self.duty = duty
        self.start = start  # the app's add_future: a stopping worker waits for the run
        self.running: asyncio.Future[None] | None = None

    async def __call__(self) -> None:
        if self.running is None or self.running.done():
            self.running = self.start(self.duty())


def settle_held_alerts(rt: Runtime) -> None:
    @rt.app.timer(SETTLE_CHECK_SECONDS, name="settle-alerts")
    @guarded
    async def settle_alerts() -> None:
        """Targets whose once-only alert was held to settle are evaluated again once it
        has waited SALES_ALERT_SETTLE (streams.domain.alert_settling)."""
        if not rt.ready:
            return
        due = rt.processor.settling.due(time.time(), owned_partitions(rt))
        for partition, scopes in sorted(due.items()):
            ticks = encode_envelope([Tick(scope) for scope in scopes])
            await rt.scopes_topic.send(value=ticks, partition=partition)


def written_tick(rt: Runtime, partition: int) -> Tick:
    """The minute's Tick from the partition's written state only: the store, written once
    the changelog has it, not what the batches since the last checkpoint staged."""
    return minute_tick(rt.state.store.reader(partition), partition)


def register(rt: Runtime) -> None:
    app = rt.app

    @app.timer(rt.settings.evaluation_interval, name="evaluate-targets")
    @guarded
    async def tick() -> None:
        """At least once a minute every target is evaluated, even with no traffic."""
        if not rt.ready:
            return
        for partition in sorted(owned_partitions(rt)):
            tick = encode_envelope([written_tick(rt, partition)])
            await rt.scopes_topic.send(value=tick, partition=partition)

    settle_held_alerts(rt)

    @app.timer(ANNOUNCE_SECONDS, name="announce-medians")
    @guarded
    async def announce() -> None:
        """Team medians moved by a partition's last batches reach its reps' quadrants."""
        await announce_medians(rt)

    pacer = PublishPacer()

    @guarded
    async def publish_performance() -> None:
        """Publish changed figures on a time budget (see streams.worker.performance_publisher)."""
        started = monotonic()
        if rt.pending and rt.ready and pacer.may_run(started):
            share = pacer.share(rt.backlogged)
            busy = await publish_pending(rt, share * rt.settings.performance_min_interval)
            pacer.ran(started, busy, share)

    publish_beside = OneAtATime(publish_performance, app.add_future)

    @app.timer(rt.settings.performance_min_interval, name="publish-performance")
    async def start_publishing() -> None:
        await publish_beside()

    @app.timer(INTERVAL_SECONDS, name="held-back-logs")
    @guarded
    async def held_back_logs() -> None:
        """The count of Kafka client warnings held back at the end of an outage, which no
        later line of theirs reports (streams.worker.repeated_logs)."""
        report_held_back(logging.getLogger())

    watch_kafka_contact(rt)
    if rt.settings.internal_purge:
        purge_internal_topic(rt)

    @app.task
    async def watch_event_loop() -> None:
        """The loop's busy share is counted from the start (streams.worker.loop_busy)."""
        rt.metrics.loop_busy.watch(asyncio.get_running_loop())

    @app.timer(5.0, name="consumer-lag")
    @guarded
    async def consumer_lag() -> None:
        """Records each assigned partition still has to process; unassigned ones vanish."""
        export_consumer_lag(rt)


def watch_kafka_contact(rt: Runtime) -> None:
    """Whether Kafka answers, in the log and as a gauge (streams.worker.kafka_contact)."""
    contact = KafkaContact(rt.settings.kafka_bootstrap, on_answer=rt.metrics.kafka_contact.set)
    contact.answered(time.time())  # the worker created its topics just before this
    rt.kafka = contact

    @rt.app.timer(PROBE_SECONDS, name="kafka-contact")
    @guarded
    async def kafka_contact() -> None:
        client = producer_client(rt.app)
        if client is not None:  # None: the producer has not started yet
            await probe(contact, client.force_metadata_update, time.time)


def purge_internal_topic(rt: Runtime) -> None:
    """The internal topic's folded records deleted (streams.worker.internal_purge)."""
    purge = InternalPurge(rt.settings)
    topic = rt.settings.topics.scopes

    @rt.app.timer(rt.settings.internal_purge_interval, name="purge-internal-topic")
    @guarded
    async def purge_internal() -> None:
        if rt.ready:
            await purge.run(
                tp.partition for tp in rt.app.consumer.assignment() if tp.topic == topic
            )


def producer_client(app: Any) -> Any:
    """The aiokafka client under Faust's producer (faust-streaming 0.15.3 keeps the
    AIOKafkaProducer in `_producer` once it started), or None before it did."""
    producer = getattr(app.producer, "_producer", None)
    return getattr(producer, "client", None)


def export_consumer_lag(rt: Runtime) -> None:
    consumer: Any = rt.app.consumer  # streams.worker.delivery.BatchConsumer
    gauge = rt.metrics.consumer_lag
    watched = {*rt.settings.topics.inputs(), rt.settings.topics.scopes}
    exported: set[tuple[str, str]] = set()
    for tp in consumer.assignment():
        if tp.topic not in watched:
            continue
        highwater = consumer.highwater(tp)
        position = rt.positions.get((tp.topic, tp.partition))
        if highwater is None or highwater < 0:
            continue
        if position is None:
            position = consumer.known_position(tp)
            if position is None:
                continue
        labels = (tp.topic, str(tp.partition))
        gauge.labels(*labels).set(max(highwater - position, 0))
        exported.add(labels)
    for labels in rt.lag_series - exported:
        gauge.remove(*labels)
    rt.lag_series = exported
