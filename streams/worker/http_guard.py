"""What every HTTP request passes before a handler: the bearer token, size limits, a last resort.

`middlewares(settings)` gives the chain `streams.worker.api.install` puts in front of every
route, Faust's own pages included, outermost first:

1. `last_resort`: no request answers a bare 500 page. An aiohttp error (404, 405, ...) is
   answered as JSON `{"error": ...}`; an unexpected exception is logged with its request's
   method and path and an incident id, and answered 503 `{"error": "internal error, logged
   as <id>"}`.
2. `bearer_token` (only with SALES_API_TOKEN): every request needs `Authorization: Bearer
   <token>`, compared in constant time, except the probes and /metrics unless
   SALES_API_TOKEN_PROTECTS names them. A refusal is 401 with `WWW-Authenticate: Bearer`.
3. `within_limits`: a query string, a path or a path id over its limit answers 400.

A request aiohttp cannot parse never reaches them: its parser's error quotes the bad line,
an `Authorization` header and its token included, in the 400 answer and in the log.
`redact_parser_errors` cuts the header's value out of both.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import hdrs, web, web_protocol
from aiohttp.typedefs import Handler, Middleware

from streams.worker.settings import Settings

log = logging.getLogger(__name__)

#: docs/contract.md section 2: rep_id and team_id are 1-64 characters
MAX_ID_CHARS = 64
#: the path parameters that are such ids
ID_PARAMS = ("rep_id", "team_id")
#: the longest query string (percent-encoded bytes); the API's own queries need a few hundred
MAX_QUERY_BYTES = 2048
#: the longest path (percent-encoded bytes): room for a 64-character id of 4-byte characters
MAX_PATH_BYTES = 1024
#: endpoints open without the token unless SALES_API_TOKEN_PROTECTS names their group
OPEN_ENDPOINTS: Mapping[str, tuple[str, ...]] = {
    "health": ("/healthz", "/readyz"),
    "metrics": ("/metrics",),
}
REALM = 'Bearer realm="salespulse"'


def json_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps({"error": message}),
        status=status,
        headers=headers,
        content_type="application/json",
    )


def middlewares(settings: Settings) -> list[Middleware]:
    """The chain for these settings, outermost first."""
    chain: list[Middleware] = [last_resort]
    if settings.api_token:
        chain.append(bearer_token(settings.api_token, settings.api_token_protects))
    chain.append(within_limits)
    return chain


# -- last resort ------------------------------------------------------------------------------


@web.middleware
async def last_resort(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if exc.status >= 500:
            return internal_error(request, exc)
        return _json_http_error(request, exc)
    except Exception as exc:
        return internal_error(request, exc)


def internal_error(request: web.Request, exc: BaseException) -> web.Response:
    """Log a bug with an incident id the answer repeats (the path only: no query, no headers)."""
    incident = uuid.uuid4().hex[:12]
    log.error(
        "internal error %s answering %s %r: %s",
        incident,
        request.method,
        request.path,
        type(exc).__name__,
        exc_info=exc,
    )
    return json_error(503, f"internal error, logged as {incident}")


def _json_http_error(request: web.Request, exc: web.HTTPException) -> web.Response:
    """aiohttp's own 4xx (no such route, method not allowed, ...) as a JSON body."""
    if exc.status == 404:
        message = f"no endpoint {request.path!r}; see README, HTTP API"
    else:
        message = f"{exc.reason}: {request.method} {request.path!r}"
    skip = {hdrs.CONTENT_TYPE, hdrs.CONTENT_LENGTH}
    headers = {k: v for k, v in exc.headers.items() if k not in skip}
    return json_error(exc.status, message, headers)


# -- bearer token -----------------------------------------------------------------------------


def bearer_token(token: str, protects: frozenset[str]) -> Middleware:
    """Require `Authorization: Bearer <token>` except on the endpoints left open.

    The digests are compared, in constant time: neither the token's content nor its length
    shows in the time a refusal takes."""
    expected = _digest(token)
    open_routes = frozenset(
        path for group, paths in OPEN_ENDPOINTS.items() if group not in protects for path in paths
    )

    @web.middleware
    async def require_token(request: web.Request, handler: Handler) -> web.StreamResponse:
        if _route(request) in open_routes:
            return await handler(request)
        presented = _bearer(request.headers.get(hdrs.AUTHORIZATION, ""))
        if presented is not None and hmac.compare_digest(_digest(presented), expected):
            return await handler(request)
        return unauthorized(presented is not None)

    return require_token


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _route(request: web.Request) -> str | None:
    """The matched route's pattern (not the raw path, which could be spelt many ways)."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else None


def _bearer(header: str) -> str | None:
    """The credentials of a Bearer authorization header (scheme in any case), else None."""
    scheme, _, credentials = header.strip().partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def unauthorized(presented: bool) -> web.Response:
    if presented:
        message = "the bearer token is not valid"
        challenge = f'{REALM}, error="invalid_token"'
    else:
        message = "this endpoint needs an Authorization: Bearer <SALES_API_TOKEN> header"
        challenge = REALM
    return json_error(401, message, {hdrs.WWW_AUTHENTICATE: challenge})


# -- limits -----------------------------------------------------------------------------------


@web.middleware
async def within_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    problem = limit_problem(request)
    if problem is not None:
        return json_error(400, problem)
    return await handler(request)


def limit_problem(request: web.Request) -> str | None:
    """Why the request is over a limit, or None."""
    url = request.rel_url
    if len(url.raw_query_string) > MAX_QUERY_BYTES:
        return f"the query string is longer than {MAX_QUERY_BYTES} bytes"
    if len(url.raw_path) > MAX_PATH_BYTES:
        return f"the path is longer than {MAX_PATH_BYTES} bytes"
    for name in ID_PARAMS:
        problem = check_id(name, request.match_info.get(name, ""))
        if problem is not None:
            return problem
    return None


def check_id(name: str, value: str) -> str | None:
    """Why a query parameter naming a rep or team breaks the contract's id rules, or None."""
    if len(value) > MAX_ID_CHARS:
        return f"{name}: at most {MAX_ID_CHARS} characters, got {len(value)}"
    return None


# -- parser errors ------------------------------------------------------------------------------

#: an Authorization header, or a bearer credential alone (a line too long is quoted from
#: its value), in a parser's error text: a bytes repr, or the line as received
_AUTHORIZATION = re.compile(r"(?i)(authorization\s*:\s*|\bbearer\s+)[^\r\n'\"]*")
REDACTED = "[redacted]"


def redacted(text: str) -> str:
    """`text` with the value of any Authorization header or bearer credential replaced."""
    return _AUTHORIZATION.sub(r"\1" + REDACTED, text)


class _RedactAuthorization(logging.Filter):
    """On aiohttp's server logger: a parser error's message and traceback, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and not record.exc_text:
            record.exc_text = redacted(logging.Formatter().formatException(record.exc_info))
        message = record.getMessage()
        if _AUTHORIZATION.search(message):
            record.msg, record.args = redacted(message), None
        return True


_LOG_FILTER = _RedactAuthorization()


def redact_parser_errors() -> None:
    """Keep the token out of what aiohttp says of a request it cannot parse (an
    Authorization line with a control character, or one over 8,190 bytes): its answer
    quoted the line, token and all, and so did its log (README: the token never appears in
    logs). Patches aiohttp's request handler once per process (aiohttp is pinned)."""
    handler_class: Any = web_protocol.RequestHandler
    if not getattr(handler_class, "_salespulse_redacts", False):
        original = handler_class.handle_error

        def handle_error(
            self: Any,
            request: Any,
            status: int = 500,
            exc: BaseException | None = None,
            message: str | None = None,
        ) -> web.StreamResponse:
            return original(self, request, status, exc, redacted(message) if message else message)

        handler_class.handle_error = handle_error
        handler_class._salespulse_redacts = True
    server_log = logging.getLogger("aiohttp.server")
    if _LOG_FILTER not in server_log.filters:
        server_log.addFilter(_LOG_FILTER)
