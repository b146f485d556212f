"""Periodic duties of a worker: target evaluation, publishing changed figures, lag."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from streams.domain.periods import PeriodError, parse_period
from streams.engine.items import Tick, encode_envelope
from streams.worker.medians import performance_for
from streams.worker.runtime import Runtime


def register(rt: Runtime) -> None:
    app = rt.app

    @app.timer(rt.settings.evaluation_interval, name="evaluate-targets")
    async def tick() -> None:
        """At least once a minute every target is evaluated, even with no traffic."""
        if not rt.ready:
            return
        topic = rt.settings.topics.scopes
        for tp in app.consumer.assignment():
            if tp.topic == topic:
                await rt.scopes_topic.send(value=encode_envelope([Tick()]), partition=tp.partition)

    @app.timer(rt.settings.performance_min_interval, name="publish-performance")
    async def publish_performance() -> None:
        """Publish changed figures, at most once per scope and period per interval."""
        if not rt.dirty or not rt.ready:
            return
        dirty, rt.dirty = rt.dirty, set()
        now = datetime.now(UTC)
        for scope, period_id in sorted(dirty):
            view = rt.views.get(scope)
            if view is None or view.kind not in ("rep", "team"):
                continue
            try:
                period = parse_period(period_id, rt.settings.tz)
            except PeriodError:
                continue
            doc = await performance_for(rt, view, period, now)
            key = f"{view.kind}:{view.id}:{period_id}".encode()
            await rt.performance_topic.send(key=key, value=orjson.dumps(doc))

    @app.timer(5.0, name="consumer-lag")
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
