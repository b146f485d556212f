"""No request answers 500: arbitrary paths, ids, query strings and headers thrown at every
route of two in-process workers (tests/unit/worker/two_workers.py), with and without the
bearer token. Every answer but /metrics' is JSON, and every error carries {"error": ...}."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any
from urllib.parse import quote

import orjson
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yarl import URL

from streams.worker.peers import FORWARDED_HEADER
from tests.unit.worker.two_workers import TOKEN, two_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")

PERIOD = ["period", "compare"]
LEADERBOARD = ["period", "metric", "scope", "team", "limit", "target_metric"]
#: every route, with {id} where a rep or team id goes, and the parameters it reads
ROUTES: dict[str, list[str]] = {
    "/healthz": [],
    "/readyz": [],
    "/metrics": [],
    "/v1/reps/{id}/performance": PERIOD,
    "/v1/teams/{id}/performance": PERIOD,
    "/v1/reps/{id}/activity": ["granularity", "from", "to"],
    "/v1/leaderboard": LEADERBOARD,
    "/v1/internal/leaderboard": LEADERBOARD,
    "/v1/internal/medians": ["period", "team"],
    "/v1/internal/consumer": [],
    "/v1/{id}": PERIOD,
    "/{id}": [],
}
#: what a healthy cluster may answer: never 500, and never the last resort's 503 either,
#: which would hide a parameter that is not checked
EXPECTED = {200, 400, 401, 404, 405}

ids = st.one_of(
    st.sampled_from(["r1", "r2", "r3", "t1", "t2", "nobody"]),
    st.sampled_from(["r1", "r2", "t1"]),
    st.text(min_size=1, max_size=80),
    st.text(alphabet="r/%.-_~ ", min_size=1, max_size=70),
)
#: RFC 3339-ish times over the whole datetime range, with the widest offsets
timestamps = st.builds(
    lambda d, offset: d.isoformat() + offset,
    st.datetimes(min_value=datetime.min, max_value=datetime.max),
    st.sampled_from(["Z", "+00:00", "+14:00", "-14:00", "-23:59", ""]),
)
time_edges = st.sampled_from(
    [
        "0001-01-01T00:00:00Z",
        "0001-01-01T00:00:00+14:00",
        "0001-01-31T00:00:00Z",
        "0002-01-01T00:00:00+14:00",
        "9998-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59Z",
        "9999-12-31T23:59:59-14:00",
    ]
)
periods = st.one_of(
    st.from_regex(r"[0-9]{4}-(W[0-9]{2}|Q[0-9]|[0-9]{2}(-[0-9]{2})?)", fullmatch=True),
    st.sampled_from(["0001-01", "9999-Q4", "0001-W01", "9999-W52", "0000-12-31", "9998-12"]),
)
numbers = st.one_of(
    st.sampled_from(["0", "-1", "1000", "1001", "1_000", " 5", "+5", "1e3", "5.0"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
words = st.sampled_from(
    ["hour", "day", "rep", "team", "t1", "t2", "revenue_won", "win_rate", "previous", ""]
)
anything = st.one_of(words, st.text(max_size=40), numbers, periods, timestamps)
#: likely values of each parameter, and anything else
VALUES = {
    "from": st.one_of(time_edges, time_edges, timestamps, anything),
    "to": st.one_of(time_edges, time_edges, timestamps, anything),
    "period": st.one_of(periods, anything),
    "limit": st.one_of(numbers, anything),
}


@st.composite
def requests(draw: st.DrawFn, route: str) -> tuple[int, str, str, bool]:
    """(worker, id, query string, forwarded) for `route`: its own parameters with any
    values, sometimes others, or a raw query a careless client could send."""
    params = [*ROUTES[route], "x"]
    own = {p: draw(VALUES.get(p, anything)) for p in params if draw(st.booleans())}
    extra = draw(st.lists(st.tuples(st.text(max_size=10), anything), max_size=2))
    encoded = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in [*own.items(), *extra]
    )
    raw = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789=&;%+-:.TZWQ/?", max_size=3000)
    query = draw(st.one_of(st.just(encoded), st.just(encoded), raw))
    return draw(st.integers(0, 1)), draw(ids), query, draw(st.booleans())


async def answer_of(client: TestClient, url: URL, headers: dict[str, str]) -> tuple[int, Any]:
    async with client.session.get(url, headers=headers) as response:
        body = await response.read()
        assert response.status != 500, (url, body)
        if FORWARDED_HEADER in headers and response.status == 503:
            # sent on to a worker that does not own the scope: it says who does
            assert b"is now owned by the worker at" in body, (url, body)
        else:
            assert response.status in EXPECTED, (url, response.status, body)
        if url.path == "/metrics" and response.status == 200:
            return response.status, None
        assert response.content_type == "application/json", (url, response.status, body)
        doc = orjson.loads(body)
        if response.status >= 400:
            assert isinstance(doc, dict) and isinstance(doc.get("error"), str), (url, doc)
        return response.status, doc


def url_of(client: TestClient, route: str, ident: str, query: str) -> URL:
    path = route.replace("{id}", quote(ident, safe=""))
    root = str(client.make_url("/")).rstrip("/")
    return URL(f"{root}{path}?{query}" if query else f"{root}{path}", encoded=True)


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def open_workers() -> AsyncIterator[list[TestClient]]:
    async with two_workers() as clients:
        yield clients


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def secured_workers() -> AsyncIterator[list[TestClient]]:
    async with two_workers({"SALES_API_TOKEN": TOKEN}) as clients:
        yield clients


#: examples per route (12 routes), open and with a token
FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("route", sorted(ROUTES))
@FUZZ
@given(data=st.data())
async def test_no_request_answers_500(
    open_workers: list[TestClient], route: str, data: st.DataObject
) -> None:
    index, ident, query, forwarded = data.draw(requests(route))
    client = open_workers[index]
    headers = {FORWARDED_HEADER: "1"} if forwarded else {}
    await answer_of(client, url_of(client, route, ident, query), headers)


authorizations = st.one_of(
    st.just(f"Bearer {TOKEN}"),
    st.just(""),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).map(
        "Bearer ".__add__
    ),
)


@pytest.mark.parametrize("route", sorted(ROUTES))
@settings(FUZZ, max_examples=10)
@given(data=st.data(), authorization=authorizations)
async def test_no_request_answers_500_with_a_token(
    secured_workers: list[TestClient], route: str, data: st.DataObject, authorization: str
) -> None:
    index, ident, query, forwarded = data.draw(requests(route))
    client = secured_workers[index]
    headers = {FORWARDED_HEADER: "1"} if forwarded else {}
    if authorization:
        headers["Authorization"] = authorization
    status, _ = await answer_of(client, url_of(client, route, ident, query), headers)
    if authorization != f"Bearer {TOKEN}" and route.startswith("/v1"):
        assert status == 401
