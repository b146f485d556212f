"""`GET /v1/status`: the whole group in one document from any worker (two in-process
workers, no Kafka; tests/unit/worker/two_workers.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from streams.worker import api
from tests.unit.worker.two_workers import LOST, consumer_holding, two_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def clients() -> AsyncIterator[list[TestClient]]:
    async with two_workers({"SALES_TOPIC_PARTITIONS": "2"}) as started:
        workers = [client.app[api.BACKEND] for client in started]
        for index, worker in enumerate(workers):
            worker.consumer = consumer_holding([index], behind=index)
        yield started


async def status_of(client: TestClient) -> dict[str, Any]:
    response = await client.get("/v1/status")
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_any_worker_answers_for_the_whole_group(clients: list[TestClient]) -> None:
    for client in clients:
        doc = await status_of(client)
        assert doc["status"] == "ok", doc
        assert [(w["worker"], w["partitions"], w["ready"]) for w in doc["workers"]] == [
            ("w0", [0], True),
            ("w1", [1], True),
        ]
        assert doc["lag"] == {"input": 1, "internal": 0}
        assert all(w["url"].startswith("http://127.0.0.1:") for w in doc["workers"])


async def test_a_worker_not_ready_or_without_kafka_makes_the_group_degraded(
    clients: list[TestClient],
) -> None:
    other: Any = clients[1].app[api.BACKEND]
    other.ready, other.kafka = False, LOST
    try:
        doc = await status_of(clients[0])
    finally:
        other.ready, other.kafka = True, None
    assert doc["status"] == "degraded"
    assert doc["problems"] == [
        "w1 is not ready (recovering its state or rebalancing)",
        f"w1 has no contact with Kafka since {LOST['lost_since']}",
    ]


async def test_a_worker_that_does_not_answer_is_named_with_why(clients: list[TestClient]) -> None:
    asking: Any = clients[0].app[api.BACKEND]
    urls = asking.peers.urls
    asking.peers.urls = [urls[0], urls[1].with_port(1)]  # nothing listens there
    try:
        doc = await status_of(clients[0])
    finally:
        asking.peers.urls = urls
    assert doc["status"] == "degraded"
    (problem,) = doc["problems"]
    assert problem.startswith("http://127.0.0.1:1 does not answer: ClientConnectorError"), problem
    assert doc["lag"] == {"input": 0, "internal": 0}, "only what answered is summed"


async def test_each_line_says_how_busy_its_worker_is(clients: list[TestClient]) -> None:
    workers: list[Any] = [client.app[api.BACKEND] for client in clients]
    workers[0].busy = 0.97349
    try:
        doc = await status_of(clients[1])
    finally:
        workers[0].busy = None
    assert [(w["worker"], w["busy"]) for w in doc["workers"]] == [("w0", 0.973), ("w1", None)]


async def test_a_parameter_answers_400_where_probes_and_metrics_ignore_it(
    clients: list[TestClient],
) -> None:
    response = await clients[0].get("/v1/status?x=1")
    assert response.status == 400
    assert (await response.json())["error"] == "x: not a parameter here; this route takes none"
    # a probe or a scrape configured with a parameter keeps working (README, HTTP API)
    for path in ("/healthz?x=1", "/metrics?x=1"):
        assert (await clients[0].get(path)).status == 200, path
