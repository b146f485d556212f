"""The HTTP API through aiohttp's test client: two in-process workers, no Kafka.

Each fake worker owns one partition of a two-partition `Harness` (its views), so requests
about scopes the other one owns are forwarded over real HTTP, leaderboards are merged and
quadrant medians are fetched from the team's owner, as between real workers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from yarl import URL

from streams.domain.periods import current_period_ids, rfc3339
from streams.engine.queries import target_evaluations
from streams.engine.rollups import Views
from streams.worker import api
from streams.worker.medians import medians_for
from streams.worker.metrics import BusinessCollector
from streams.worker.peers import FORWARDED_HEADER, OwnerUnknown
from streams.worker.settings import Settings
from tests.unit.engine.scope_harness import Harness, activity, deal, feedback, target

pytestmark = pytest.mark.asyncio(loop_scope="session")

#: reps and their teams on different workers, so quadrants need the other worker's medians
OWNERS = {"rep:r1": 0, "rep:r2": 1, "rep:r3": 0, "team:t1": 1, "team:t2": 1}
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
MONTH = current_period_ids(NOW, Harness().tz)["month"]


class FakePeers:
    """Routes scopes like the harness; reaches the other worker over HTTP."""

    def __init__(self, harness: Harness, index: int, urls: list[URL], session: Any) -> None:
        self.harness, self.index, self.urls, self.session = harness, index, urls, session
        self.unknown = False

    def owner_of(self, scope: str) -> URL | None:
        if self.unknown:
            raise OwnerUnknown(scope)
        p = self.harness.partition_of(scope)
        return None if p == self.index else self.urls[p]

    def others(self) -> list[URL]:
        return [u for i, u in enumerate(self.urls) if i != self.index]

    async def get(self, url: URL) -> tuple[int, bytes]:
        async with self.session.get(url, headers={FORWARDED_HEADER: "1"}) as response:
            return response.status, await response.read()

    async def get_json(self, url: URL) -> tuple[int, Any]:
        status, body = await self.get(url)
        return status, orjson.loads(body) if body else None


@dataclass
class FakeWorker:
    """The `api.ApiBackend` of one worker, over one partition's views."""

    views: Views
    settings: Settings
    peers: Any = None
    worker_id: str = "fake"
    ready: bool = True
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    collector: Any = None

    def is_ready(self) -> bool:
        return self.ready

    async def prepare_scrape(self) -> None:
        self.collector.medians = await medians_for(self, self.collector.wanted_medians(NOW))

    async def consumer_state(self) -> dict[str, Any]:
        return {"partitions": []}


def scenario() -> Harness:
    h = Harness(partitions=2, route=lambda scope: OWNERS.get(scope, len(scope) % 2))
    at = rfc3339(NOW.replace(day=1, hour=9))
    items = [
        activity("a1", "r1", "t1", at, "call"),
        activity("a2", "r1", "t1", at, "email"),
        activity("a3", "r2", "t1", at, "call"),
        activity("a4", "r3", "t2", at, "demo"),
        deal("d1", "D1", "r1", "t1", at, "won", 1000),
        deal("d2", "D2", "r2", "t1", at, "won", 1000),
        deal("d3", "D3", "r3", "t2", at, "lost"),
        feedback("f1", "r1", "t1", at, csat=5),
        target("rep:r1", "revenue_won", MONTH, 500.0),
    ]
    h.run(items, NOW)
    return h


@pytest_asyncio.fixture(loop_scope="session")
async def clients() -> AsyncIterator[list[TestClient]]:
    h = scenario()
    settings = Settings.from_env({})
    servers, workers = [], []
    for index in range(2):
        worker = FakeWorker(views=h.parts[index].views, settings=settings, worker_id=f"w{index}")
        worker.collector = BusinessCollector(
            worker.views,
            settings,
            lambda scope, now, w=worker: target_evaluations(
                w.views.get(scope), now=now, tz=settings.tz, at_risk_pace=0.8
            ),
            clock=lambda: NOW,
        )
        worker.registry.register(worker.collector)
        app = web.Application()
        api.install(app, worker)
        servers.append(TestServer(app))
        workers.append(worker)
    clients = [TestClient(server) for server in servers]
    for client in clients:
        await client.start_server()
    urls = [URL(str(c.make_url("/"))).with_path("") for c in clients]
    for index, (worker, client) in enumerate(zip(workers, clients, strict=True)):
        worker.peers = FakePeers(h, index, urls, client.session)
    yield clients
    for client in clients:
        await client.close()


async def get(client: TestClient, path: str) -> tuple[int, Any]:
    response = await client.get(path)
    return response.status, await response.json()


async def test_every_worker_answers_for_every_rep(clients: list[TestClient]) -> None:
    for client in clients:
        status, doc = await get(client, f"/v1/reps/r1/performance?period={MONTH}")
        assert status == 200
        assert doc["activities"]["total"] == 2
        assert doc["deals"]["revenue_won"] == 1000.0
        assert doc["satisfaction"]["csat_avg"] == 5.0
        assert doc["team_id"] == "t1"
        assert doc["quadrant"] == "high_activity_high_performance"
        assert doc["targets"][0]["status"] == "achieved"


async def test_team_document_and_unknown_ids(clients: list[TestClient]) -> None:
    status, doc = await get(clients[0], f"/v1/teams/t1/performance?period={MONTH}")
    assert (status, doc["deals"]["won"], doc["activities"]["total"]) == (200, 2, 3)
    status, body = await get(clients[1], "/v1/reps/nobody/performance")
    assert status == 404 and "nobody" in body["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/reps/r1/performance?period=2026-13",
        "/v1/reps/r1/activity?granularity=minute",
        "/v1/reps/r1/activity?from=yesterday",
        "/v1/reps/r1/activity?from=2026-11-02T00:00:00",
        "/v1/reps/r1/activity?from=2026-11-03T00:00:00Z&to=2026-11-02T00:00:00Z",
        "/v1/leaderboard?metric=nonsense",
        "/v1/leaderboard?scope=region",
        "/v1/leaderboard?limit=0",
        "/v1/leaderboard?limit=ten",
        "/v1/leaderboard?scope=team&team=t1",
    ],
)
async def test_bad_parameters_answer_400(clients: list[TestClient], path: str) -> None:
    status, body = await get(clients[0], path)
    assert status == 400 and body["error"]


async def test_leaderboard_merges_workers_and_breaks_ties_by_id(
    clients: list[TestClient],
) -> None:
    for client in clients:
        status, doc = await get(client, f"/v1/leaderboard?period={MONTH}&metric=revenue_won")
        assert status == 200
        assert [(e["rank"], e["id"], e["value"]) for e in doc["entries"]] == [
            (1, "r1", 1000.0),
            (2, "r2", 1000.0),
            (3, "r3", 0.0),
        ]
    _, doc = await get(clients[1], f"/v1/leaderboard?period={MONTH}&metric=deals_won&team=t2")
    assert [e["id"] for e in doc["entries"]] == ["r3"]
    _, doc = await get(clients[0], f"/v1/leaderboard?period={MONTH}&scope=team&limit=1")
    assert [e["id"] for e in doc["entries"]] == ["t1"]


async def test_activity_buckets_are_aligned_and_filtered(clients: list[TestClient]) -> None:
    start = NOW.replace(day=1, hour=0)
    query = f"from={rfc3339(start)}&to={rfc3339(NOW.replace(day=2, hour=0))}".replace("+", "%2B")
    status, doc = await get(clients[1], f"/v1/reps/r1/activity?granularity=day&{query}")
    assert status == 200
    assert doc["buckets"] == [
        {"start": rfc3339(start), "total": 2, "counts": {"call": 1, "email": 1}}
    ]
    later = f"from={rfc3339(NOW.replace(day=1, hour=10))}".replace("+", "%2B")
    _, doc = await get(clients[0], f"/v1/reps/r1/activity?granularity=hour&{later}")
    assert doc["buckets"] == []


async def test_not_ready_and_rebalancing_answer_503(clients: list[TestClient]) -> None:
    worker: Any = clients[0].app[api.BACKEND]
    worker.ready = False
    status, _ = await get(clients[0], "/readyz")
    assert status == 503
    worker.ready = True
    worker.peers.unknown = True
    status, body = await get(clients[0], "/v1/reps/r1/performance")
    assert status == 503 and "rebalancing" in body["error"]


async def test_metrics_show_a_quadrant_for_every_rep(clients: list[TestClient]) -> None:
    """Reps whose team is owned by the other worker get their quadrant too."""
    quadrants: dict[str, str] = {}
    for client in clients:
        response = await client.get("/metrics")
        assert response.status == 200
        text = await response.text()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if (
                    sample.name == "sales_rep_quadrant"
                    and sample.value == 1
                    and sample.labels["period"] == MONTH
                ):
                    quadrants[sample.labels["id"]] = sample.labels["quadrant"]
    assert quadrants == {
        "r1": "high_activity_high_performance",
        "r2": "low_activity_high_performance",
        "r3": "high_activity_high_performance",
    }
