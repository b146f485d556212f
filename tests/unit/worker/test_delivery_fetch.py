"""The worker's aiokafka consumer asks the broker to answer fetches within 100 ms.

With Faust's 1,500 ms, a fetch of the internal topic alone (the input's records still
buffered) held the input back for up to 1.5 s under a steady load: aiokafka keeps one
fetch per broker in flight.
"""

from __future__ import annotations

from streams.worker.delivery import FETCH_MAX_WAIT_MS, BatchApp, BatchConsumerThread


async def test_the_worker_consumer_fetches_with_a_short_broker_wait() -> None:
    app = BatchApp("fetch-wait-test", broker="kafka://127.0.0.1:1")
    thread = app.consumer._thread
    assert isinstance(thread, BatchConsumerThread)
    consumer = thread._create_worker_consumer(app.consumer.transport)  # not started
    try:
        assert consumer._fetch_max_wait_ms == FETCH_MAX_WAIT_MS
        assert FETCH_MAX_WAIT_MS <= 100
    finally:
        await consumer.stop()
