"""What a worker does with its peers' answers, and how it splits its questions to them."""

from __future__ import annotations

import pytest
from yarl import URL

from streams.worker import api
from streams.worker.http_guard import MAX_QUERY_BYTES
from streams.worker.medians import MEDIANS_PATH, team_chunks
from streams.worker.peers import FORWARDED_HEADER, peer_headers


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, b'{"id": "r1"}', 200),
        (404, b'{"error": "no rep"}', 404),
        (503, b'{"error": "recovering"}', 503),
        (500, b"500 Internal Server Error", 503),
        (500, b'{"error": "boom"}', 503),
        (400, b"400: Line is too long", 503),
        (401, b'{"error": "token"}', 503),
    ],
)
def test_relayed_answers_are_json_and_never_500(status: int, body: bytes, expected: int) -> None:
    response = api.relayed("the owner", status, body)
    assert response.status == expected
    assert response.content_type == "application/json"


def test_medians_requests_stay_within_the_query_limit() -> None:
    teams = [f"team-{i:03d}-" + "é" * 40 for i in range(300)]
    chunks = list(team_chunks("2026-11", teams))
    assert len(chunks) > 1 and [t for c in chunks for t in c] == teams
    for chunk in chunks:
        url = (
            URL("http://w:1")
            .with_path(MEDIANS_PATH)
            .with_query([("period", "2026-11"), ("announced", "1"), *(("team", t) for t in chunk)])
        )
        assert len(url.raw_query_string) <= MAX_QUERY_BYTES


def test_peer_headers_carry_the_token_only_when_there_is_one() -> None:
    assert peer_headers() == {FORWARDED_HEADER: "1"}
    assert peer_headers("t" * 20) == {FORWARDED_HEADER: "1", "Authorization": "Bearer " + "t" * 20}


def test_a_peer_that_does_not_answer_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTTP client's default is 5 minutes: a stalled worker held every request
    forwarded to it that long (an audit paused one with SIGSTOP: 40 s per request)."""
    import asyncio
    from contextlib import asynccontextmanager
    from typing import Any

    from streams.worker import peers

    class Stalled:
        @asynccontextmanager
        async def get(self, url: URL, headers: dict[str, str]) -> Any:
            await asyncio.sleep(3600)
            yield None

    class Client(peers.PeerClient):
        @property
        def session(self) -> Any:
            return Stalled()

    monkeypatch.setattr(peers, "PEER_TIMEOUT_SECONDS", 0.05)
    with pytest.raises(TimeoutError, match=r"no answer within 0\.05 s"):
        asyncio.run(Client().get(URL("http://w:1/v1/reps/r1/performance")))
