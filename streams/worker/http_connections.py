"""How many connections the HTTP API holds, and for how long one may send nothing useful.

aiohttp accepts every connection and gives each a buffer for its request head: 20,000 idle
connections took a worker's file descriptors (the ones RocksDB and Kafka need too), and
3,000 half-sent header blocks held 6 GB. Here, past SALES_API_MAX_CONNECTIONS open
connections a new one is answered 503 and closed (reading nothing of it), and a connection
that has not sent a whole request head within SALES_API_IDLE_TIMEOUT seconds is closed
(aiohttp's keep-alive timer, which the pinned aiohttp also runs before a first request).

Faust builds its aiohttp runner itself (faust.web.drivers.aiohttp.Web._runner, pinned
faust-streaming 0.15.x); `install` replaces it before the web server starts.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web, web_protocol

from streams.worker.rate_limited_log import RateLimitedLog
from streams.worker.settings import Settings

log = logging.getLogger(__name__)

#: seconds a client is told to wait before it tries again
RETRY_AFTER_SECONDS = 1
#: seconds a refused connection stays open for reading, so its request finds no closed
#: socket (which would reset the connection and destroy the 503 unread)
LINGER_SECONDS = 1.0


def refusal(limit: int) -> bytes:
    """The whole 503 answer to a connection over the limit (no request is read from it)."""
    body = orjson.dumps(
        {
            "error": f"the worker holds {limit} connections already (SALES_API_MAX_CONNECTIONS): "
            "try again, or reuse connections"
        }
    )
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        f"Retry-After: {RETRY_AFTER_SECONDS}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class BoundedServer(web.Server):
    """aiohttp's low-level server, refusing connections past `max_connections`."""

    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self._refusal = refusal(max_connections)
        self.refused = 0
        self._refusals = RateLimitedLog(
            log,
            "API connections refused",
            where="raise SALES_API_MAX_CONNECTIONS, or put the API behind a proxy (README, "
            "HTTP API, Access and limits)",
        )

    def connection_made(
        self, handler: web_protocol.RequestHandler, transport: asyncio.Transport
    ) -> None:
        super().connection_made(handler, transport)
        if len(self._connections) <= self.max_connections:
            return
        self.refused += 1
        self._refusals.add(
            "API connection from %s refused (503): %d connections are open, the limit "
            "(SALES_API_MAX_CONNECTIONS) is %d. Raise it, or put the API behind a proxy",
            transport.get_extra_info("peername"),
            len(self._connections) - 1,
            self.max_connections,
        )
        self.refuse(handler, transport)

    def refuse(self, handler: web_protocol.RequestHandler, transport: asyncio.Transport) -> None:
        """Answer 503 and close, lingering: closed at once, the request the client sends
        after connecting reaches a closed socket, whose reset destroys the 503 unread."""
        # the handler ignores what arrives (aiohttp's own flag for a closing connection)
        handler._force_close = True
        transport.write(self._refusal)
        if transport.can_write_eof():
            transport.write_eof()
        if len(self._connections) > 2 * self.max_connections:
            transport.close()  # a flood: no lingering
        else:
            self._loop.call_later(LINGER_SECONDS, transport.close)


class BoundedRunner(web.AppRunner):
    """An AppRunner whose server is a BoundedServer."""

    def __init__(self, app: web.Application, *, max_connections: int, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.max_connections = max_connections

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()
        # the same server, with the limit: AppRunner passes its own arguments on
        return BoundedServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            max_connections=self.max_connections,
            **made._kwargs,
        )


def install(web_driver: Any, settings: Settings) -> BoundedRunner:
    """Replace Faust's runner (not started yet) with a bounded one."""
    runner = BoundedRunner(
        web_driver.web_app,
        access_log=None,  # as Faust's
        max_connections=settings.api_max_connections,
        keepalive_timeout=settings.api_idle_timeout,
    )
    web_driver._runner = runner
    return runner
