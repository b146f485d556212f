"""A partition's position is read from the client's state, never awaited from the consumer
thread (BatchConsumer.known_position): aiokafka's `position` waits while a position is
being reset, as through a rebalance, and each waiting call held one of the thread's two
method workers until no commit could reach Kafka. Against aiokafka's own state classes."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from aiokafka.consumer.subscription_state import SubscriptionState
from aiokafka.structs import TopicPartition
from faust.types import TP

from streams.worker.delivery import BatchConsumer


def consumer_over(state: SubscriptionState | None) -> Any:
    c: Any = BatchConsumer.__new__(BatchConsumer)
    c._thread = SimpleNamespace(_consumer=SimpleNamespace(_subscription=state))
    return c


async def test_a_valid_position_is_read_and_one_being_reset_is_not_known() -> None:
    state = SubscriptionState()
    state.subscribe(topics={"sales.activities"})
    state.assign_from_subscribed({TopicPartition("sales.activities", p) for p in (0, 1)})
    assignment = state.subscription.assignment
    assignment.state_value(TopicPartition("sales.activities", 0)).seek(42)
    c = consumer_over(state)
    assert c.known_position(TP("sales.activities", 0)) == 42
    # assigned, awaiting its reset: aiokafka's `position` would wait here
    assert c.known_position(TP("sales.activities", 1)) is None
    assert c.known_position(TP("sales.activities", 2)) is None  # not assigned


async def test_before_the_client_subscribed_nothing_is_known() -> None:
    assert consumer_over(SubscriptionState()).known_position(TP("sales.activities", 0)) is None
    c: Any = BatchConsumer.__new__(BatchConsumer)
    c._thread = SimpleNamespace(_consumer=None)  # the thread has not made its client yet
    assert c.known_position(TP("sales.activities", 0)) is None


async def test_the_lag_gauge_never_waits_for_the_consumer_thread() -> None:
    from prometheus_client import CollectorRegistry, Gauge

    from streams.worker.timers import export_consumer_lag

    state = SubscriptionState()
    state.subscribe(topics={"sales.activities"})
    state.assign_from_subscribed({TopicPartition("sales.activities", p) for p in (0, 1)})
    state.subscription.assignment.state_value(TopicPartition("sales.activities", 0)).seek(40)
    consumer = consumer_over(state)
    consumer.assignment = lambda: {TP("sales.activities", 0), TP("sales.activities", 1)}
    consumer.highwater = lambda tp: 50

    def asked(tp: TP) -> None:
        raise AssertionError("asked the consumer thread")

    consumer.position = asked
    gauge = Gauge("lag", "lag", ["topic", "partition"], registry=CollectorRegistry())
    rt: Any = SimpleNamespace(
        app=SimpleNamespace(consumer=consumer),
        metrics=SimpleNamespace(consumer_lag=gauge),
        settings=SimpleNamespace(
            topics=SimpleNamespace(inputs=lambda: ["sales.activities"], scopes="sales.scopes")
        ),
        positions={},
        lag_series=set(),
    )
    export_consumer_lag(rt)
    # partition 1's position is being reset: no sample rather than a wait
    assert rt.lag_series == {("sales.activities", "0")}
    assert gauge.labels("sales.activities", "0")._value.get() == 10
