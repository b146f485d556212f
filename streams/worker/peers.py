"""The other workers of the group: who owns a key, who else runs, and asking them.

Ownership comes from Faust's partition assignor (who holds each changelog partition of
the scopes table) and from streams.worker.partitioning (which partition holds a scope). A
forwarded request carries a header; a worker never forwards a request that was already
forwarded, so a stale assignment during a rebalance cannot bounce a request between
workers. When the API asks for a bearer token (SALES_API_TOKEN), every request a worker
makes to another one carries it: forwarded requests, leaderboard gathering and medians.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Protocol

import orjson
from faust.types import TP
from yarl import URL

FORWARDED_HEADER = "X-Salespulse-Forwarded"
#: how long a request to another worker may take before it is answered 503 here
PEER_TIMEOUT_SECONDS = 10.0


def peer_headers(token: str = "") -> dict[str, str]:
    """The headers of a request to another worker: marked as forwarded, with the token."""
    headers = {FORWARDED_HEADER: "1"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class OwnerUnknown(Exception):
    """No worker owns the key right now (start-up or rebalance): retry shortly."""


class PeerDirectory(Protocol):
    """What the API and the medians need of the group (a fake in unit tests)."""

    def owner_of(self, scope: str) -> URL | None: ...

    def others(self) -> list[URL]: ...

    async def get(self, url: URL) -> tuple[int, bytes]: ...

    async def get_json(self, url: URL) -> tuple[int, Any]: ...


def _ident(url: URL) -> tuple[str, int]:
    return (url.host or "", int(url.port or 80))


class PeerClient:
    """An HTTP client to the other workers: every request marked and authenticated."""

    def __init__(self, token: str = "") -> None:
        self._headers = peer_headers(token)

    @property
    def session(self) -> Any:
        """The aiohttp ClientSession the requests go through."""
        raise NotImplementedError

    async def get(self, url: URL) -> tuple[int, bytes]:
        """A peer's answer (status, body), marked as forwarded; TimeoutError past
        PEER_TIMEOUT_SECONDS (the HTTP client's own default is 5 minutes: a stalled or
        overloaded worker held every request forwarded to it, and each leaderboard, that long)."""
        try:
            async with asyncio.timeout(PEER_TIMEOUT_SECONDS):
                async with self.session.get(url, headers=self._headers) as response:
                    return response.status, await response.read()
        except TimeoutError:
            raise TimeoutError(f"no answer within {PEER_TIMEOUT_SECONDS:g} s") from None

    async def get_json(self, url: URL) -> tuple[int, Any]:
        status, body = await self.get(url)
        return status, orjson.loads(body) if body else None


class Peers(PeerClient):
    """The group as Faust's router sees it, and an HTTP client to reach its members."""

    def __init__(
        self, app: Any, table_name: str, partition_of: Callable[[str], int], token: str = ""
    ) -> None:
        super().__init__(token)
        self.app = app
        self.table_name = table_name
        self.partition_of = partition_of

    @property
    def session(self) -> Any:
        return self.app.http_client

    @property
    def self_url(self) -> URL:
        return URL(str(self.app.conf.canonical_url))

    def is_self(self, url: URL) -> bool:
        return _ident(url) == _ident(self.self_url)

    def owner_of(self, scope: str) -> URL | None:
        """URL of the worker owning `scope`, or None when it is this worker."""
        table = self.app.tables[self.table_name]
        tp = TP(table.changelog_topic.get_topic_name(), self.partition_of(scope))
        try:
            url = URL(str(self.app.assignor._tps_url[tp]))
        except KeyError:
            raise OwnerUnknown(scope) from None
        return None if self.is_self(url) else url

    def others(self) -> list[URL]:
        """Every other worker of the group, from the assignor's metadata."""
        hosts = self.app.router.table_metadata(self.table_name)
        urls = {URL(str(h)) for h in hosts}
        return sorted((u for u in urls if not self.is_self(u)), key=str)
