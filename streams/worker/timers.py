"""Periodic duties of a worker: target evaluation, publishing changed figures, lag.

Each duty is guarded: an exception (a peer restarting, a partition revoked during a
rebalance) is logged and the duty runs again at its next interval. Left to Faust, it would
stop the whole worker.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import orjson

from streams.domain.periods import PeriodError, parse_period
from streams.engine.items import Tick, encode_envelope
from streams.worker.medians import performance_for
from streams.worker.rate_limited_log import RateLimitedLog
from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

Duty = Callable[[], Awaitable[None]]

#: documents published per run of the publisher (once a second); the rest wait for the next
#: runs, so a backlog of changed figures (a replay, shuffled history) never stalls the worker
PUBLISH_PER_RUN = 500
PUBLISH_YIELD_EVERY = 25


def guarded(duty: Duty) -> Duty:
    failures = RateLimitedLog(log, f"failures of {duty.__name__}", per_interval=3)

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

    return run


def register(rt: Runtime) -> None:
    app = rt.app

    @app.timer(rt.settings.evaluation_interval, name="evaluate-targets")
    @guarded
    async def tick() -> None:
        """At least once a minute every target is evaluated, even with no traffic."""
        if not rt.ready:
            return
        topic = rt.settings.topics.scopes
        for tp in app.consumer.assignment():
            if tp.topic == topic:
                await rt.scopes_topic.send(value=encode_envelope([Tick()]), partition=tp.partition)

    @app.timer(rt.settings.performance_min_interval, name="publish-performance")
    @guarded
    async def publish_performance() -> None:
        """Publish changed figures, at most once per scope and period per interval."""
        if not rt.dirty or not rt.ready:
            return
        todo = sorted(rt.dirty)[-PUBLISH_PER_RUN:]
        rt.dirty.difference_update(todo)
        now = datetime.now(UTC)
        try:
            while todo:
                scope, period_id = todo[-1]
                await publish(rt, scope, period_id, now)
                todo.pop()
                if len(todo) % PUBLISH_YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # documents are CPU work: let batches and commits run
        finally:
            rt.dirty.update(todo)  # not published yet: the next run tries again

    @app.timer(5.0, name="consumer-lag")
    @guarded
    async def consumer_lag() -> None:
        """Records each assigned partition still has to process; unassigned ones vanish."""
        gauge = rt.metrics.consumer_lag
        watched = {*rt.settings.topics.inputs(), rt.settings.topics.scopes}
        exported: set[tuple[str, str]] = set()
        for tp in app.consumer.assignment():
            if tp.topic not in watched:
                continue
            highwater = app.consumer.highwater(tp)
            position = rt.positions.get((tp.topic, tp.partition))
            if highwater is None or highwater < 0:
                continue
            if position is None:
                position = await app.consumer.position(tp)
                if position is None:
                    continue
            labels = (tp.topic, str(tp.partition))
            gauge.labels(*labels).set(max(highwater - position, 0))
            exported.add(labels)
        for labels in rt.lag_series - exported:
            gauge.remove(*labels)
        rt.lag_series = exported


async def publish(rt: Runtime, scope: str, period_id: str, now: datetime) -> None:
    """One scope and period's performance document on sales.performance."""
    view = rt.views.get(scope)
    if view is None or view.kind not in ("rep", "team"):
        return
    try:
        period = parse_period(period_id, rt.settings.tz)
    except PeriodError:
        return
    doc = await performance_for(rt, view, period, now)
    key = f"{view.kind}:{view.id}:{period_id}".encode()
    await rt.performance_topic.send(key=key, value=orjson.dumps(doc))
