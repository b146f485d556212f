"""Two in-process workers over a fake backend, for the HTTP API tests (no Kafka).

Each fake worker owns one partition of a two-partition `Harness` (its views), so requests
about scopes the other one owns are forwarded over real HTTP, leaderboards are merged and
quadrant medians are fetched from the team's owner, as between real workers. The peers'
HTTP client is the production one (streams.worker.peers.PeerClient), so the forwarded header
and the bearer token travel exactly as they do between real workers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from yarl import URL

from streams.domain.periods import current_period_ids, rfc3339
from streams.engine.queries import target_evaluations
from streams.engine.rollups import Views
from streams.worker import api
from streams.worker.medians import medians_for
from streams.worker.metrics import BusinessCollector
from streams.worker.peers import OwnerUnknown, PeerClient
from streams.worker.settings import Settings
from tests.unit.engine.scope_harness import Harness, activity, deal, feedback, target

#: reps and their teams on different workers, so quadrants need the other worker's medians
OWNERS = {"rep:r1": 0, "rep:r2": 1, "rep:r3": 0, "team:t1": 1, "team:t2": 1}
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
MONTH = current_period_ids(NOW, Harness().tz)["month"]
TOKEN = "s3cret-token-for-tests-0123456789"


class FakePeers(PeerClient):
    """Routes scopes like the harness; reaches the other worker over HTTP."""

    def __init__(
        self, harness: Harness, index: int, urls: list[URL], session: Any, token: str = ""
    ) -> None:
        super().__init__(token)
        self.harness, self.index, self.urls, self._session = harness, index, urls, session
        self.unknown = False
        self.requests: list[URL] = []
        #: the status of each answer, in the order of `requests`
        self.statuses: list[int] = []

    @property
    def session(self) -> Any:
        return self._session

    def owner_of(self, scope: str) -> URL | None:
        if self.unknown:
            raise OwnerUnknown(scope)
        p = self.harness.partition_of(scope)
        return None if p == self.index else self.urls[p]

    def others(self) -> list[URL]:
        return [u for i, u in enumerate(self.urls) if i != self.index]

    async def get(self, url: URL) -> tuple[int, bytes]:
        self.requests.append(url)
        status, body = await super().get(url)
        self.statuses.append(status)
        return status, body


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
    #: what /healthz says of Kafka (None: nothing)
    kafka: dict[str, Any] | None = None
    #: the share of the last minute its event loop worked (None: not known yet)
    busy: float | None = None
    #: what the Kafka consumer holds (Runtime.consumer_state)
    consumer: dict[str, Any] = field(default_factory=lambda: {"partitions": []})

    def is_ready(self) -> bool:
        return self.ready

    async def prepare_scrape(self) -> None:
        self.collector.medians = await medians_for(self, self.collector.wanted_medians(NOW))

    async def consumer_state(self) -> dict[str, Any]:
        return self.consumer

    def kafka_contact(self) -> dict[str, Any] | None:
        return self.kafka

    def busy_share(self) -> float | None:
        return self.busy


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


def fake_worker(h: Harness, index: int, settings: Settings) -> FakeWorker:
    worker = FakeWorker(views=h.parts[index].views, settings=settings, worker_id=f"w{index}")
    worker.collector = BusinessCollector(
        worker.views,
        settings,
        lambda scope, now: target_evaluations(
            worker.views.get(scope), now=now, tz=settings.tz, at_risk_pace=0.8
        ),
        clock=lambda: NOW,
    )
    worker.registry.register(worker.collector)
    return worker


@asynccontextmanager
async def two_workers(
    env: dict[str, str] | None = None, harness: Harness | None = None
) -> AsyncIterator[list[TestClient]]:
    """Test clients of two workers configured by `env` (Settings.from_env), over `harness`
    (the scenario by default); `clients[i].app[api.BACKEND]` is worker i."""
    h = harness or scenario()
    settings = Settings.from_env(env or {})
    workers = [fake_worker(h, index, settings) for index in range(2)]
    clients = []
    for worker in workers:
        app = web.Application()
        api.install(app, worker)
        clients.append(TestClient(TestServer(app)))
    for client in clients:
        await client.start_server()
    try:
        urls = [URL(str(c.make_url("/"))).with_path("") for c in clients]
        for index, (worker, client) in enumerate(zip(workers, clients, strict=True)):
            worker.peers = FakePeers(h, index, urls, client.session, settings.api_token)
        yield clients
    finally:
        for client in clients:
            await client.close()


_TOPICS = Settings.from_env({}).topics
#: what /healthz says of a worker that lost Kafka (streams.worker.kafka_contact)
LOST = {
    "contact": "lost",
    "last_contact": "2026-12-05T00:00:00+00:00",
    "lost_since": "2026-12-05T00:00:10+00:00",
}


def consumer_holding(
    internal: list[int], *, behind: int = 0, rebalancing: bool = False
) -> dict[str, Any]:
    """A consumer holding `internal` partitions of the internal topic and the same input
    partitions of sales.activities, `behind` records behind on each input partition."""
    rows = [
        {"topic": _TOPICS.scopes, "partition": p, "highwater": 10, "committed": 10}
        for p in internal
    ]
    rows += [
        {"topic": _TOPICS.activities, "partition": p, "highwater": 100 + behind, "committed": 100}
        for p in internal
    ]
    rows.append(
        {"topic": "salespulse-scopes-changelog", "partition": 0, "highwater": 9, "committed": None}
    )
    return {"rebalancing": rebalancing, "partitions": rows}
