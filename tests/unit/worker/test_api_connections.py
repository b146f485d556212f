"""The API's connections are bounded in number and in the time a request head may take, on
real sockets: past the limit a connection is answered 503 at once, a connection that sends
half a request head is closed, and a worker's web server is built with both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio
from aiohttp import web

from streams.worker.http_connections import BoundedRunner, BoundedServer
from streams.worker.settings import Settings

pytestmark = pytest.mark.asyncio(loop_scope="session")

LIMIT = 3
IDLE_SECONDS = 1.0
#: how long a test waits for something that must happen (a safety net, not a measure)
PATIENCE = 15.0


async def ok(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


@pytest_asyncio.fixture(loop_scope="session")
async def server() -> AsyncIterator[tuple[BoundedRunner, int]]:
    app = web.Application()
    app.router.add_get("/ok", ok)
    runner = BoundedRunner(
        app, access_log=None, max_connections=LIMIT, keepalive_timeout=IDLE_SECONDS
    )
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield runner, port
    finally:
        await runner.cleanup()


async def get_ok(port: int, pause: float = 0.0) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.sleep(pause)  # the server may have answered the connection already
    writer.write(b"GET /ok HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), PATIENCE)
    writer.close()
    return answer


async def test_a_connection_past_the_limit_is_answered_503_and_closed(
    server: tuple[BoundedRunner, int],
) -> None:
    runner, port = server
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(LIMIT)]
    await asyncio.sleep(0.05)  # the server has taken them
    # the request arrives after the server refused the connection: the 503 is still read
    refused = await get_ok(port, pause=0.2)
    head, _, body = refused.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503 "), refused
    assert b"Retry-After: 1" in head and b"Connection: close" in head
    assert "SALES_API_MAX_CONNECTIONS" in orjson.loads(body)["error"]
    server_side = runner.server
    assert isinstance(server_side, BoundedServer) and server_side.refused == 1
    assert (await get_ok(port)).startswith(b"HTTP/1.1 503 "), "a request sent at once"
    # one held connection goes: a new one is served
    _, writer = held.pop()
    writer.close()
    for _ in range(int(PATIENCE / 0.05)):
        if len(server_side.connections) < LIMIT:
            break
        await asyncio.sleep(0.05)
    assert (await get_ok(port)).startswith(b"HTTP/1.1 200 ")
    for _, writer in held:
        writer.close()


async def test_a_half_sent_request_head_is_closed(server: tuple[BoundedRunner, int]) -> None:
    _, port = server
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /ok HTTP/1.1\r\nHost: test\r\nX-Slow: ")
    # the server closes it: EOF, no answer
    assert await asyncio.wait_for(reader.read(), PATIENCE) == b""
    writer.close()


async def test_a_worker_serves_its_api_through_the_bounded_runner() -> None:
    from streams.worker.wiring import build_runtime

    settings = Settings.from_env(
        {"SALES_API_MAX_CONNECTIONS": "7", "SALES_API_IDLE_TIMEOUT": "12.5"}
    )
    runtime = build_runtime(settings)
    runner = runtime.app.web._runner
    assert isinstance(runner, BoundedRunner) and runner.max_connections == 7
    assert runner._kwargs["keepalive_timeout"] == 12.5
