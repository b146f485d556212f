"""API access: the optional bearer token (SALES_API_TOKEN), between clients and workers and
between workers, on two in-process workers (tests/unit/worker/two_workers.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient

from streams.worker import api
from streams.worker.peers import FORWARDED_HEADER
from tests.unit.worker.two_workers import MONTH, TOKEN, FakePeers, two_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")

AUTH = {"Authorization": f"Bearer {TOKEN}"}
SECURED = {"SALES_API_TOKEN": TOKEN}


@pytest_asyncio.fixture(loop_scope="session")
async def secured() -> AsyncIterator[list[TestClient]]:
    async with two_workers(SECURED) as clients:
        yield clients


async def call(
    client: TestClient, path: str, headers: dict[str, str] | None = None
) -> tuple[int, Any, Any]:
    response = await client.get(path, headers=headers)
    assert response.content_type == "application/json", (path, response.status)
    return response.status, await response.json(), response.headers


def worker(client: TestClient) -> Any:
    return client.app[api.BACKEND]


# -- without a token: today's behaviour -------------------------------------------------------


async def test_without_a_token_nothing_asks_for_one() -> None:
    async with two_workers() as clients:
        for path in (f"/v1/reps/r1/performance?period={MONTH}", "/v1/leaderboard", "/readyz"):
            status, _, _ = await call(clients[1], path)
            assert status == 200, path


# -- with a token -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/v1/reps/r1/performance",
        "/v1/teams/t1/performance",
        "/v1/reps/r1/activity",
        "/v1/leaderboard",
        "/v1/internal/leaderboard",
        "/v1/internal/medians?team=t1",
        "/v1/internal/consumer",
        "/v1/no/such/endpoint",
    ],
)
async def test_every_v1_request_needs_the_token(secured: list[TestClient], path: str) -> None:
    status, body, headers = await call(secured[0], path)
    assert status == 401
    assert "Authorization: Bearer" in body["error"]
    assert headers["WWW-Authenticate"] == 'Bearer realm="salespulse"'


async def test_the_forwarded_header_is_no_way_around_the_token(
    secured: list[TestClient],
) -> None:
    status, _, _ = await call(secured[0], "/v1/reps/r1/performance", {FORWARDED_HEADER: "1"})
    assert status == 401


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", "Bearer", "Bearer  ", f"Basic {TOKEN}", TOKEN],
)
async def test_a_wrong_token_is_refused(secured: list[TestClient], authorization: str) -> None:
    status, body, headers = await call(
        secured[1], "/v1/leaderboard", {"Authorization": authorization}
    )
    assert status == 401 and body["error"]
    assert headers["WWW-Authenticate"].startswith("Bearer")
    if authorization.startswith("Bearer"):
        assert 'error="invalid_token"' in headers["WWW-Authenticate"]


async def test_the_token_is_accepted_whatever_the_scheme_case(secured: list[TestClient]) -> None:
    for authorization in (f"Bearer {TOKEN}", f"bearer {TOKEN}", f"BEARER   {TOKEN} "):
        status, _, _ = await call(secured[0], "/v1/leaderboard", {"Authorization": authorization})
        assert status == 200, authorization


async def test_workers_forward_the_token_to_each_other(secured: list[TestClient]) -> None:
    """r1 lives on worker 0 and its team t1 on worker 1: asking worker 1 about r1 forwards the
    request to worker 0, which asks worker 1 for t1's medians (the quadrant); a leaderboard
    gathers both workers' entries. Each hop needs the token."""
    for client in secured:
        worker(client).peers.requests.clear()
    status, doc, _ = await call(secured[1], f"/v1/reps/r1/performance?period={MONTH}", AUTH)
    assert status == 200
    assert doc["quadrant"] == "high_activity_high_performance"
    assert [u.path for u in worker(secured[1]).peers.requests] == ["/v1/reps/r1/performance"]
    assert [u.path for u in worker(secured[0]).peers.requests] == ["/v1/internal/medians"]

    status, doc, _ = await call(secured[0], f"/v1/leaderboard?period={MONTH}", AUTH)
    assert status == 200
    assert [e["id"] for e in doc["entries"]] == ["r1", "r2", "r3"]


async def test_a_peer_with_another_token_is_reported_not_relayed(
    secured: list[TestClient],
) -> None:
    peers = worker(secured[1]).peers
    wrong = FakePeers(peers.harness, peers.index, peers.urls, peers.session, "another-" + TOKEN)
    worker(secured[1]).peers = wrong
    try:
        status, body, _ = await call(secured[1], "/v1/reps/r1/performance", AUTH)
        assert status == 503 and "SALES_API_TOKEN differs" in body["error"]
        status, body, _ = await call(secured[1], "/v1/leaderboard", AUTH)
        assert status == 503 and "SALES_API_TOKEN differs" in body["error"]
    finally:
        worker(secured[1]).peers = peers


async def test_probes_and_metrics_stay_open_by_default(secured: list[TestClient]) -> None:
    for path in ("/healthz", "/readyz"):
        status, _, _ = await call(secured[0], path)
        assert status == 200, path
    response = await secured[0].get("/metrics")
    assert response.status == 200
    assert "sales_revenue_won" in await response.text()


@pytest.mark.parametrize(
    ("protects", "closed", "open_"),
    [
        ("metrics", ["/metrics"], ["/healthz", "/readyz"]),
        ("health", ["/healthz", "/readyz"], ["/metrics"]),
        ("metrics,health", ["/metrics", "/healthz", "/readyz"], []),
    ],
)
async def test_probes_and_metrics_behind_the_token_when_configured(
    protects: str, closed: list[str], open_: list[str]
) -> None:
    async with two_workers({**SECURED, "SALES_API_TOKEN_PROTECTS": protects}) as clients:
        for path in closed:
            status, body, headers = await call(clients[0], path)
            assert status == 401 and body["error"], path
            assert headers["WWW-Authenticate"].startswith("Bearer")
            response = await clients[0].get(path, headers=AUTH)
            assert response.status == 200, path
        for path in open_:
            response = await clients[0].get(path)
            assert response.status == 200, path


async def test_the_token_stays_out_of_the_logs(
    secured: list[TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Any:
        raise RuntimeError("consumer gone")

    backend = worker(secured[0])
    backend.consumer_state = broken
    try:
        with caplog.at_level(logging.DEBUG):
            await call(secured[0], "/v1/internal/consumer", AUTH)
            await call(secured[0], "/v1/internal/consumer", {"Authorization": "Bearer nope"})
            await call(secured[1], "/v1/reps/r1/performance", AUTH)
    finally:
        del backend.consumer_state
    assert "consumer gone" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    "line",
    [
        f"Authorization: Bearer {TOKEN}\x01",  # a control character: the parser refuses it
        f"Authorization: Bearer {TOKEN}" + "x" * 9000,  # over aiohttp's 8,190 bytes a line
    ],
    ids=["control character", "too long"],
)
async def test_a_request_aiohttp_cannot_parse_never_shows_the_token(
    secured: list[TestClient], caplog: pytest.LogCaptureFixture, line: str
) -> None:
    """Its 400 answer and the log quoted the header line, token and all."""
    import asyncio

    server = secured[0].server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"GET /v1/status HTTP/1.1\r\nHost: x\r\n{line}\r\n\r\n".encode())
    await writer.drain()
    with caplog.at_level(logging.DEBUG):
        answer = await asyncio.wait_for(reader.read(), timeout=10)
        await asyncio.sleep(0.1)  # the server's log line
    writer.close()
    assert answer.split(b"\r\n", 1)[0].endswith(b" 400 Bad Request"), answer[:200]
    assert TOKEN.encode() not in answer, answer
    assert TOKEN not in caplog.text, caplog.text
