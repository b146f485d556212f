"""The API client sends SALES_API_TOKEN as a bearer token, so report and run work with one."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from streams.tools.api_client import SalesApi

pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.mark.parametrize(("env", "sent"), [("s3cret-token-0123456789", True), ("", False)])
async def test_token_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: str, sent: bool
) -> None:
    seen: list[str | None] = []

    async def health(request: web.Request) -> web.Response:
        seen.append(request.headers.get("Authorization"))
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/readyz", health)
    monkeypatch.setenv("SALES_API_TOKEN", env)
    async with TestServer(app) as server, SalesApi(str(server.make_url(""))) as api:
        assert await api.ready()
    assert seen == [f"Bearer {env}" if sent else None]
