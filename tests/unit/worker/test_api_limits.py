"""Request limits and errors: oversized queries and ids answer 400, out-of-range times answer
400, aiohttp's own errors and unexpected exceptions answer JSON, never a bare 500."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from yarl import URL

from streams.worker import api
from streams.worker.http_guard import MAX_ID_CHARS, MAX_PATH_BYTES, MAX_QUERY_BYTES
from streams.worker.medians import MEDIANS_PATH, medians_for
from tests.unit.worker.two_workers import MONTH, two_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest_asyncio.fixture(loop_scope="session")
async def clients() -> AsyncIterator[list[TestClient]]:
    async with two_workers() as started:
        yield started


async def call(client: TestClient, path: str, **kwargs: Any) -> tuple[int, Any, Any]:
    response = await client.request(kwargs.pop("method", "GET"), path, **kwargs)
    assert response.content_type == "application/json", (path, response.status)
    return response.status, await response.json(), response.headers


LONG_ID = "r" * (MAX_ID_CHARS + 1)


@pytest.mark.parametrize(
    ("path", "says"),
    [
        (f"/v1/reps/r1/performance?period={MONTH}&pad={'x' * MAX_QUERY_BYTES}", "query string"),
        ("/v1/leaderboard?" + "&".join(["limit=5"] * (MAX_QUERY_BYTES // 7)), "query string"),
        (f"/v1/reps/{LONG_ID}/performance", "rep_id: at most 64 characters"),
        (f"/v1/reps/{LONG_ID}/activity", "rep_id: at most 64 characters"),
        (f"/v1/teams/{'t' * 65}/performance", "team_id: at most 64 characters"),
        (f"/v1/reps/{quote('€' * 65)}/performance", "rep_id: at most 64 characters"),
        (f"/v1/reps/{'x' * MAX_PATH_BYTES}/performance", "path is longer"),
        (f"/v1/leaderboard?team={'t' * 65}", "team: at most 64 characters"),
        (f"{MEDIANS_PATH}?team=t1&team={'t' * 65}", "team: at most 64 characters"),
    ],
)
async def test_oversized_queries_paths_and_ids_answer_400(
    clients: list[TestClient], path: str, says: str
) -> None:
    for client in clients:
        status, body, _ = await call(client, path)
        assert status == 400 and says in body["error"], body


async def test_ids_of_64_characters_are_fine(clients: list[TestClient]) -> None:
    for ident in ("r" * MAX_ID_CHARS, quote("€" * MAX_ID_CHARS)):
        status, body, _ = await call(clients[0], f"/v1/reps/{ident}/performance")
        assert status == 404 and "has been seen" in body["error"]


@pytest.mark.parametrize(
    "query",
    [
        "to=0001-01-01T00:00:00Z",
        "from=0001-01-01T00:00:00Z",
        "to=9999-12-31T23:59:59Z",
        "from=9999-12-31T00:00:00%2B14:00&to=9999-12-31T23:59:59Z",
        "to=0001-01-02T00:00:00-14:00&granularity=day",
    ],
)
async def test_times_out_of_range_answer_400(clients: list[TestClient], query: str) -> None:
    for client in clients:
        status, body, _ = await call(client, f"/v1/reps/r1/activity?{query}")
        assert status == 400 and "year must be 0002 to 9998" in body["error"]


@pytest.mark.parametrize(
    "query",
    [
        "to=0002-01-01T00:00:00Z&granularity=day",
        "from=9998-12-31T00:00:00-14:00&to=9998-12-31T23:59:59-14:00",
    ],
)
async def test_times_at_the_edges_of_the_range_answer(
    clients: list[TestClient], query: str
) -> None:
    for client in clients:
        status, body, _ = await call(client, f"/v1/reps/r1/activity?{query}")
        assert status == 200 and body["buckets"] == []


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("from=2026-12-03T10:00:00%2B05:99", "not an RFC 3339 timestamp"),  # minutes past 59
        ("from=2026-12-03T10:00:00%2B24:00", "not an RFC 3339 timestamp"),
        ("from=2026-12-03T10:00:00", "needs a UTC offset"),
        ("to=2026-12-03T10:00:00%2B0530", "offset without a colon"),
        ("to=2026-13-03T10:00:00Z", "not an RFC 3339 timestamp"),
    ],
)
async def test_times_events_may_not_carry_answer_400(
    clients: list[TestClient], query: str, says: str
) -> None:
    for client in clients:
        status, body, _ = await call(client, f"/v1/reps/r1/activity?{query}")
        assert status == 400 and says in body["error"], body


@pytest.mark.parametrize(
    "query",
    [
        "from=2026-12-03T23:59:60Z&to=2026-12-04T00:00:00Z",  # a leap second, as in events
        "from=2026-12-03%2010:00:00%2B05:30&to=2026-12-04t00:00:00z",  # a space, lower case
        "from=2026-12-03T10:00:00+05:30&to=2026-12-04T00:00:00.1234567Z",  # "+" not encoded
    ],
)
async def test_times_events_may_carry_are_taken(clients: list[TestClient], query: str) -> None:
    for client in clients:
        status, body, _ = await call(client, f"/v1/reps/r1/activity?{query}")
        assert status == 200 and body["buckets"] == [], body


@pytest.mark.parametrize("period", ["0001-01", "9999-Q4", "0002-W01", "9998-12-31", "0000-01"])
async def test_periods_out_of_range_answer_400_or_200(
    clients: list[TestClient], period: str
) -> None:
    for path in (f"/v1/reps/r1/performance?period={period}", f"/v1/leaderboard?period={period}"):
        status, body, _ = await call(clients[1], path)
        assert status in (200, 400), (path, status, body)


async def test_unknown_routes_and_methods_answer_json(clients: list[TestClient]) -> None:
    status, body, _ = await call(clients[0], "/v1/nothing/here")
    assert status == 404 and "/v1/nothing/here" in body["error"]
    status, body, headers = await call(clients[0], "/v1/leaderboard", method="POST")
    assert status == 405 and body["error"]
    assert "GET" in headers["Allow"]


async def test_an_unexpected_exception_answers_503_with_a_logged_incident(
    clients: list[TestClient], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> Any:
        raise ZeroDivisionError("a bug")

    backend = clients[0].app[api.BACKEND]
    backend.consumer_state = broken
    try:
        with caplog.at_level(logging.ERROR):
            status, body, _ = await call(clients[0], "/v1/internal/consumer?x=1")
    finally:
        del backend.consumer_state
    assert status == 503
    match = re.fullmatch(r"internal error, logged as ([0-9a-f]{12})", body["error"])
    assert match, body
    record = next(r for r in caplog.records if match.group(1) in r.getMessage())
    assert "'/v1/internal/consumer'" in record.getMessage()
    assert record.exc_info is not None and "a bug" in caplog.text


async def test_a_failing_owner_answers_503_not_its_500(clients: list[TestClient]) -> None:
    """The owner of r1 (worker 0) fails: worker 1 relays a JSON 503, never a 500."""
    owner = clients[0].app[api.BACKEND]
    views = owner.views
    owner.views = None  # every view lookup on the owner now raises
    try:
        status, body, _ = await call(clients[1], "/v1/reps/r1/performance")
    finally:
        owner.views = views
    assert status == 503 and "internal error, logged as" in body["error"]


async def test_medians_of_many_teams_are_fetched_in_several_requests(
    clients: list[TestClient],
) -> None:
    """A worker asking the other for the medians of 300 long team names: every request is
    answered (none over the limit), each team is asked for once (none has figures there:
    each answer is None)."""
    backend = clients[0].app[api.BACKEND]
    owner_index = 1 - backend.peers.index
    teams = [f"t{i:03d}-" + "x" * 59 for i in range(300)]
    original = backend.peers.owner_of
    backend.peers.owner_of = lambda scope: backend.peers.urls[owner_index]
    backend.peers.requests.clear()
    backend.peers.statuses.clear()
    try:
        medians = await medians_for(backend, [(t, MONTH) for t in teams])
    finally:
        backend.peers.owner_of = original
    assert len(backend.peers.requests) > 1
    assert set(backend.peers.statuses) == {200}
    asked = [team for url in backend.peers.requests for team in url.query.getall("team")]
    assert sorted(asked) == teams
    assert medians == dict.fromkeys(((t, MONTH) for t in teams), None)


async def test_the_forwarded_request_keeps_the_query_as_sent(clients: list[TestClient]) -> None:
    """An encoded query (+ in an offset, %2F in an id) reaches the owner unchanged."""
    peers = clients[1].app[api.BACKEND].peers
    peers.requests.clear()
    status, _, _ = await call(
        clients[1], URL("/v1/reps/r1/activity?from=2026-01-01T00:00:00%2B01:00", encoded=True)
    )
    assert status == 200
    assert peers.requests[-1].raw_query_string == "from=2026-01-01T00:00:00%2B01:00"
    peers = clients[0].app[api.BACKEND].peers
    peers.requests.clear()
    status, body, _ = await call(clients[0], URL("/v1/reps/a%2Fb/performance", encoded=True))
    assert status == 404 and "'a/b'" in body["error"]
    assert peers.requests[-1].raw_path == "/v1/reps/a%2Fb/performance"
