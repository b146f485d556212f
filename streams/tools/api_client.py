"""A small client of the salespulse HTTP API, for the report, the live view and scripts."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import aiohttp
import orjson

#: the largest `limit` GET /v1/leaderboard accepts (README, "Leaderboard")
LEADERBOARD_MAX_LIMIT = 1000


class ApiUnavailable(RuntimeError):
    """No worker answers at the URL; the message says how to start one."""


class ApiError(RuntimeError):
    """The worker answered with an error (bad parameter, unknown id)."""


class SalesApi:
    """A small async client of the worker's HTTP API (used by `report` and the live view)."""

    def __init__(self, base_url: str, timeout: float = 10.0, token: str | None = None) -> None:
        """`token` defaults to SALES_API_TOKEN, sent as a bearer token when set."""
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        token = os.environ.get("SALES_API_TOKEN", "") if token is None else token
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def __aenter__(self) -> SalesApi:
        self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, path: str, **params: Any) -> Any:
        """GET a JSON document; 4xx raise ApiError with the API's message."""
        assert self._session is not None, "use SalesApi as an async context manager"
        query = {k: str(v) for k, v in params.items() if v is not None}
        try:
            async with self._session.get(self.base_url + path, params=query) as response:
                body = await response.read()
                if response.status >= 400:
                    try:
                        message = orjson.loads(body).get("error", body.decode())
                    except (orjson.JSONDecodeError, AttributeError):
                        message = body.decode("utf-8", "replace")[:200]
                    raise ApiError(f"{response.status} from {path}: {message}")
                return orjson.loads(body)
        except (TimeoutError, aiohttp.ClientConnectionError):
            raise ApiUnavailable(
                f"no salespulse worker answers at {self.base_url}: start one with `make worker`"
            ) from None

    async def ready(self) -> bool:
        assert self._session is not None
        try:
            async with self._session.get(self.base_url + "/readyz") as response:
                return response.status == 200
        except (TimeoutError, aiohttp.ClientError):
            return False

    async def leaderboard(
        self,
        period: str,
        metric: str = "revenue_won",
        scope: str = "rep",
        limit: int = LEADERBOARD_MAX_LIMIT,
        team: str | None = None,
    ) -> list[dict[str, Any]]:
        """The ranked entries (at most ``limit``); ``team`` keeps the reps of one team."""
        doc = await self.get(
            "/v1/leaderboard", period=period, metric=metric, scope=scope, limit=limit, team=team
        )
        return list(doc.get("entries", []))

    async def performance(
        self, scope: str, scope_id: str, period: str, compare: str | None = None
    ) -> dict[str, Any]:
        """The performance document; `compare="previous"` adds the previous period's."""
        kind = "reps" if scope == "rep" else "teams"
        doc: dict[str, Any] = await self.get(
            f"/v1/{kind}/{quote(scope_id, safe='')}/performance", period=period, compare=compare
        )
        return doc

    async def performances(
        self,
        scope: str,
        ids: Sequence[str],
        period: str,
        concurrency: int = 16,
        compare: str | None = None,
    ) -> list[dict[str, Any]]:
        """Performance of every id, in the given order; ids that vanished are skipped."""
        gate = asyncio.Semaphore(concurrency)

        async def one(scope_id: str) -> dict[str, Any] | None:
            async with gate:
                try:
                    return await self.performance(scope, scope_id, period, compare)
                except ApiError:
                    return None

        results = await asyncio.gather(*(one(i) for i in ids))
        return [r for r in results if r is not None]
