"""The HTTP API through aiohttp's test client: two in-process workers, no Kafka.

Each fake worker owns one partition of a two-partition `Harness` (its views), so requests
about scopes the other one owns are forwarded over real HTTP, leaderboards are merged and
quadrant medians are fetched from the team's owner, as between real workers
(tests/unit/worker/two_workers.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.periods import rfc3339
from streams.worker import api
from streams.worker.medians import MEDIANS_PATH
from streams.worker.peers import FORWARDED_HEADER
from tests.unit.worker.two_workers import MONTH, NOW, OWNERS, two_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def clients() -> AsyncIterator[list[TestClient]]:
    async with two_workers() as started:
        yield started


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
        # a misspelt or repeated parameter used to be ignored, answering the default
        "/v1/reps/r1/performance?perod=2026-11",
        "/v1/reps/r1/performance?period=2026-11&period=2026-10",
        "/v1/reps/r1/activity?granularty=day",
        "/v1/leaderboard?metrik=deals_won",
        "/v1/leaderboard?limit=1&limit=5",
        # int() took these, fromisoformat() those: not whole numbers, not RFC 3339
        "/v1/leaderboard?limit=%2B5",
        "/v1/leaderboard?limit=1_0",
        "/v1/leaderboard?limit=%205",
        "/v1/reps/r1/activity?from=2026-11-01T00:00Z",
        "/v1/reps/r1/activity?from=20261101T000000Z",
        "/v1/reps/r1/activity?from=2026-W44-7T00:00:00Z",
        "/v1/reps/r1/activity?from=2026-11-01T00:00:00%2B0100",
    ],
)
async def test_bad_parameters_answer_400(clients: list[TestClient], path: str) -> None:
    status, body = await get(clients[0], path)
    assert status == 400 and body["error"]


async def test_rfc3339_in_lower_case_and_empty_parameters_are_taken(
    clients: list[TestClient],
) -> None:
    """RFC 3339 allows `t` and `z`; an empty parameter is as if absent, on every route."""
    status, doc = await get(
        clients[0], "/v1/reps/r1/activity?granularity=&from=2026-11-01t00:00:00z&to="
    )
    assert status == 200 and doc["granularity"] == "hour"
    status, doc = await get(clients[1], "/v1/leaderboard?metric=&scope=&limit=&team=")
    assert status == 200 and doc["metric"] == "revenue_won" and doc["scope"] == "rep"


async def test_a_forwarded_request_for_a_scope_owned_elsewhere_is_never_a_404(
    clients: list[TestClient],
) -> None:
    """The header marks a peer's forward; a client setting it (or a scope moving between the
    forward and its arrival) made a worker say a rep it does not own was never seen."""
    other = clients[1 - OWNERS["rep:r1"]]  # clients[i] is the worker of partition i
    response = await other.get(
        f"/v1/reps/r1/performance?period={MONTH}", headers={FORWARDED_HEADER: "1"}
    )
    body = await response.json()
    assert response.status == 503 and "is now owned by the worker at" in body["error"]


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
    for metric in ("deals_won", "activities_total", "customers_new"):
        for client in clients:  # counts stay integers, from this worker and from its peer
            _, doc = await get(client, f"/v1/leaderboard?period={MONTH}&metric={metric}")
            assert doc["entries"] and all(type(e["value"]) is int for e in doc["entries"]), doc
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
    worker.ready = False  # as while the views are rebuilt (Runtime.rebuild_views)
    status, _ = await get(clients[0], "/readyz")
    assert status == 503
    # what peers ask of half-built views is refused too: they take it as unknown for now
    status, _ = await get(clients[0], f"{MEDIANS_PATH}?period=2026-11&team=t1")
    assert status == 503
    status, _ = await get(clients[0], f"{api.INTERNAL_LEADERBOARD_PATH}?period=2026-11")
    assert status == 503
    worker.ready = True
    worker.peers.unknown = True
    status, body = await get(clients[0], "/v1/reps/r1/performance")
    assert status == 503 and "rebalancing" in body["error"]


async def test_healthz_says_whether_kafka_answers(clients: list[TestClient]) -> None:
    worker: Any = clients[0].app[api.BACKEND]
    status, body = await get(clients[0], "/healthz")
    assert (status, body) == (200, {"status": "ok", "worker": "w0"})  # nothing known
    lost = {
        "contact": "lost",
        "last_contact": "2026-12-04T22:25:35+00:00",
        "lost_since": "2026-12-04T22:25:40+00:00",
    }
    worker.kafka = lost
    try:
        status, body = await get(clients[0], "/healthz")
    finally:
        worker.kafka = None
    assert status == 200, "alive: the figures it holds are still served"
    assert body == {"status": "ok", "worker": "w0", "kafka": lost}


async def test_a_rep_whose_figures_have_not_reached_its_team_has_no_quadrant(
    clients: list[TestClient],
) -> None:
    """The team's owner holds no figures of the team yet (the members' hour parts are on
    the internal topic): the quadrant is unknown, not "high" twice against no medians."""
    owner: Any = clients[OWNERS["team:t1"]].app[api.BACKEND]
    team = owner.views.scopes.pop("team:t1")
    try:
        for client in clients:
            _, doc = await get(client, f"/v1/reps/r1/performance?period={MONTH}")
            assert doc["team_id"] == "t1" and doc["activities"]["total"] == 2
            assert doc["quadrant"] is None
        assert "r1" not in await quadrants_exported(clients)
    finally:
        owner.views.scopes["team:t1"] = team
    _, doc = await get(clients[0], f"/v1/reps/r1/performance?period={MONTH}")
    assert doc["quadrant"] == "high_activity_high_performance"


async def quadrants_exported(clients: list[TestClient]) -> dict[str, str]:
    """rep -> its quadrant in MONTH, as /metrics of every worker exports it."""
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
    return quadrants


async def test_metrics_show_a_quadrant_for_every_rep(clients: list[TestClient]) -> None:
    """Reps whose team is owned by the other worker get their quadrant too."""
    assert await quadrants_exported(clients) == {
        "r1": "high_activity_high_performance",
        "r2": "low_activity_high_performance",
        "r3": "high_activity_high_performance",
    }


async def test_compare_previous_adds_the_period_before(clients: list[TestClient]) -> None:
    from streams.domain.periods import previous_period_id

    for client in clients:
        status, doc = await get(client, f"/v1/reps/r1/performance?period={MONTH}&compare=previous")
        assert status == 200
        previous = doc["previous"]
        assert previous["period"] == previous_period_id(MONTH)
        assert previous["activities"]["total"] == 0 and doc["activities"]["total"] == 2
        assert "previous" not in previous
    status, body = await get(clients[0], "/v1/teams/t1/performance?compare=next")
    assert status == 400 and "compare" in body["error"]
    status, _ = await get(clients[0], "/v1/teams/t1/performance?period=0002-01&compare=previous")
    assert status == 400


async def test_leaderboard_by_target_attainment(clients: list[TestClient]) -> None:
    """r1 has a revenue target of 500 and won 1,000: attainment 2.0; nobody else has one."""
    for client in clients:
        status, doc = await get(client, f"/v1/leaderboard?period={MONTH}&metric=target_attainment")
        assert status == 200
        assert [(e["id"], e["value"]) for e in doc["entries"]] == [("r1", 2.0)]
    path = f"/v1/leaderboard?period={MONTH}&metric=target_attainment&target_metric=deals_won"
    _, doc = await get(clients[0], path)
    assert doc["entries"] == []
    status, _ = await get(clients[0], "/v1/leaderboard?metric=revenue_won&target_metric=deals_won")
    assert status == 400
