"""The HTTP API (README "HTTP API"), /healthz, /readyz and /metrics as aiohttp handlers.

Any worker answers: a request about a rep or team is forwarded to the worker owning it, and
a leaderboard gathers every worker's entries. Handlers only parse parameters and route; the
figures, buckets and rankings come from streams.engine. They run on Faust's web server
(`install` adds them to its aiohttp application) and, in unit tests, on a plain aiohttp
application with a fake backend. `install` also puts streams.worker.http_guard in front of
every route: the optional bearer token, size limits, and JSON errors instead of a bare 500.
Every parameter is checked here, so a bad one answers 400, never an exception.
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from yarl import URL

from streams.domain.durations import iso_duration
from streams.domain.events import is_valid_metric
from streams.domain.periods import (
    MAX_YEAR,
    MIN_YEAR,
    PeriodError,
    current_period_ids,
    parse_period,
    previous_period_id,
)
from streams.domain.validation import TimestampError, read_timestamp
from streams.domain.vocabulary import LEADERBOARD_METRICS
from streams.engine.activity import activity_buckets
from streams.engine.leaderboard import (
    LeaderboardQuery,
    leaderboard_document,
    local_entries,
)
from streams.worker import http_guard
from streams.worker.group_status import group_document, unanswered, worker_line
from streams.worker.medians import MEDIANS_PATH, HasMedians, local_medians, performance_for
from streams.worker.peers import FORWARDED_HEADER, OwnerUnknown
from streams.worker.settings import Settings

MAX_LIMIT = 1000
DEFAULT_SPAN = {"hour": timedelta(days=1), "day": timedelta(days=31)}
INTERNAL_LEADERBOARD_PATH = "/v1/internal/leaderboard"
INTERNAL_STATUS_PATH = "/v1/internal/status"
#: how long `GET /v1/status` waits for each other worker's line
PEER_STATUS_SECONDS = 5.0


class ApiBackend(HasMedians, Protocol):
    """What the handlers need of a worker (streams.worker.runtime.Runtime in production)."""

    @property
    def registry(self) -> CollectorRegistry: ...

    @property
    def worker_id(self) -> str: ...

    def is_ready(self) -> bool: ...

    async def prepare_scrape(self) -> None: ...

    async def consumer_state(self) -> dict[str, Any]: ...

    def kafka_contact(self) -> dict[str, Any] | None: ...

    def busy_share(self) -> float | None: ...


BACKEND: web.AppKey[ApiBackend] = web.AppKey("salespulse_backend")


class BadRequest(Exception):
    """A request parameter is invalid; the message says which and why."""

    status = 400


class PeriodGone(BadRequest):
    """A period before SALES_RETENTION's horizon: its figures were deleted, not zero."""

    status = 410


def refuse_dropped(settings: Settings, period_id: str, name: str) -> None:
    refusal = settings.retention_rule.refusal(period_id, datetime.now(UTC))
    if refusal is not None:
        raise PeriodGone(f"{name}: {refusal}")


def install(app: web.Application, backend: ApiBackend) -> None:
    """The routes and, in front of every route of `app`, the guard (http_guard)."""
    app[BACKEND] = backend
    http_guard.redact_parser_errors()
    for index, middleware in enumerate(http_guard.middlewares(backend.settings)):
        app.middlewares.insert(index, middleware)
    app.router.add_routes(ROUTES)


def _backend(request: web.Request) -> ApiBackend:
    return request.app[BACKEND]


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(body), status=status, content_type="application/json")


error = http_guard.json_error


# -- parameters -------------------------------------------------------------------------------


def known_params(request: web.Request, *names: str) -> None:
    """Refuse a parameter the route does not take, or one given twice: a misspelt name
    (`perod=2026-11`) was ignored, and the answer was the default's, with no word."""
    for name in request.query:
        if name not in names:
            takes = f"this route takes {', '.join(names)}" if names else "this route takes none"
            raise BadRequest(f"{name}: not a parameter here; {takes}")
        if len(request.query.getall(name)) > 1:
            raise BadRequest(f"{name}: given more than once")


#: a "+" not encoded in a query string reads as a space: before the offset's digits, it was one
_OFFSET_SIGN_AS_SPACE = re.compile(r" (?=[0-9]{2}:[0-9]{2}\Z)")


def period_param(request: web.Request) -> str:
    tz = _backend(request).settings.tz
    raw = request.query.get("period")
    if not raw:
        return current_period_ids(datetime.now(UTC), tz)["month"]
    try:
        period_id = parse_period(raw, tz).id
    except PeriodError as exc:
        raise BadRequest(f"period: {exc}") from None
    refuse_dropped(_backend(request).settings, period_id, "period")
    return period_id


def compare_param(request: web.Request, period_id: str) -> str | None:
    """`compare=previous` adds the same document for the period just before."""
    compare = request.query.get("compare") or None
    if compare not in (None, "previous"):
        raise BadRequest("compare: the only comparison is previous")
    if compare == "previous":
        try:
            previous_period_id(period_id)
        except PeriodError as exc:
            raise BadRequest(f"compare: {exc}") from None
    return compare


def time_param(request: web.Request, name: str, default: datetime) -> datetime:
    raw = request.query.get(name)
    if not raw:
        return default
    try:
        value = read_timestamp(_OFFSET_SIGN_AS_SPACE.sub("+", raw))
    except TimestampError as exc:
        raise BadRequest(f"{name}: {raw!r} {exc}") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        # the first and last years overflow when converted or shifted by a default span
        raise BadRequest(f"{name}: the year must be {MIN_YEAR:04d} to {MAX_YEAR}")
    return value


def team_param(request: web.Request) -> str | None:
    team = request.query.get("team") or None
    problem = team and http_guard.check_id("team", team)
    if problem:
        raise BadRequest(problem)
    return team


def leaderboard_query(request: web.Request) -> LeaderboardQuery:
    q = request.query
    known_params(request, "period", "metric", "scope", "team", "limit", "target_metric")
    metric = q.get("metric") or "revenue_won"
    if metric not in LEADERBOARD_METRICS:
        raise BadRequest(f"metric: must be one of {', '.join(LEADERBOARD_METRICS)}")
    scope = q.get("scope") or "rep"
    if scope not in ("rep", "team"):
        raise BadRequest("scope: must be rep or team")
    raw_limit = q.get("limit") or "10"
    if not (raw_limit.isascii() and raw_limit.isdigit()):  # int() takes " 5", "+5", "1_0"
        raise BadRequest(f"limit: {raw_limit!r} is not a whole number")
    limit = int(raw_limit)
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
    team = team_param(request)
    if team is not None and scope != "rep":
        raise BadRequest("team: only applies to scope=rep")
    target_metric = q.get("target_metric") or None
    if target_metric is not None:
        if metric != "target_attainment":
            raise BadRequest("target_metric: only applies to metric=target_attainment")
        if not is_valid_metric(target_metric):
            raise BadRequest(f"target_metric: {target_metric!r} is not a target metric")
    return LeaderboardQuery(period_param(request), metric, scope, team, limit, target_metric)


# -- routing ----------------------------------------------------------------------------------


async def forwarded(request: web.Request, scope: str) -> web.Response | None:
    """The owner's answer when another worker owns `scope`; None to answer here."""
    peers = _backend(request).peers
    try:
        url = peers.owner_of(scope)
    except OwnerUnknown:
        return error(503, "the cluster is rebalancing; retry in a few seconds")
    if url is None:
        return None
    if request.headers.get(FORWARDED_HEADER):
        # a peer sent it on, and the scope has moved since (or a client set the header):
        # never a 404, which would say the scope was never seen
        return error(503, f"{scope} is now owned by the worker at {url}; retry")
    # the path and query exactly as received (never the Host header), on the owner
    rel = request.rel_url
    target = URL.build(
        scheme=url.scheme,
        authority=url.raw_authority,
        path=rel.raw_path,
        query_string=rel.raw_query_string,
        encoded=True,
    )
    try:
        status, body = await peers.get(target)
    except Exception as exc:
        return error(503, f"the worker owning {scope} at {url} did not answer: {exc}")
    return relayed(f"the worker owning {scope} at {url}", status, body)


def relayed(who: str, status: int, body: bytes) -> web.Response:
    """A peer's answer passed on when it is a JSON answer of the API, else a 503 saying why."""
    if status == 401:
        return error(503, f"{who} refused this worker's token: SALES_API_TOKEN differs")
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return error(503, f"{who} answered {status} without a JSON body")
    if status >= 500 and status != 503:
        return error(503, f"{who} answered {status}")
    return web.Response(body=body, status=status, content_type="application/json")


def not_ready(request: web.Request) -> web.Response | None:
    if not _backend(request).is_ready():
        return error(503, "the worker is recovering its state; retry in a few seconds")
    return None


async def owned_view(request: web.Request, kind: str, ident: str) -> Any:
    """The scope's view here, or the response that answers instead (forwarded, 503, 404)."""
    scope = f"{kind}:{ident}"
    answer = await forwarded(request, scope) or not_ready(request)
    if answer is not None:
        return answer
    view = _backend(request).views.get(scope)
    if view is None:
        return error(404, f"no {kind} {ident!r} has been seen")
    return view


# -- handlers ---------------------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    """Alive; with `kafka`, whether the broker answers (a worker without contact still serves
    the figures it has: streams.worker.kafka_contact)."""
    backend = _backend(request)
    body: dict[str, Any] = {"status": "ok", "worker": backend.worker_id}
    kafka = backend.kafka_contact()
    if kafka is not None:
        body["kafka"] = kafka
    return json_response(body)


async def readyz(request: web.Request) -> web.Response:
    answer = not_ready(request)
    return answer or json_response({"status": "ready", "worker": _backend(request).worker_id})


async def metrics(request: web.Request) -> web.Response:
    backend = _backend(request)
    await backend.prepare_scrape()
    body = generate_latest(backend.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _performance(request: web.Request, kind: str, ident: str) -> web.Response:
    try:
        known_params(request, "period", "compare")
        period_id = period_param(request)
        compare = compare_param(request, period_id)
    except BadRequest as exc:
        return error(exc.status, str(exc))
    view = await owned_view(request, kind, ident)
    if isinstance(view, web.Response):
        return view
    backend = _backend(request)
    now = datetime.now(UTC)
    doc = await performance_for(backend, view, parse_period(period_id, backend.settings.tz), now)
    if compare == "previous":
        previous = parse_period(previous_period_id(period_id), backend.settings.tz)
        # null: before SALES_RETENTION's horizon, the period's figures are no longer kept
        doc["previous"] = (
            await performance_for(backend, view, previous, now)
            if backend.settings.retention_rule.refusal(previous.id, now) is None
            else None
        )
    return json_response(doc)


async def rep_performance(request: web.Request) -> web.Response:
    return await _performance(request, "rep", request.match_info["rep_id"])


async def team_performance(request: web.Request) -> web.Response:
    return await _performance(request, "team", request.match_info["team_id"])


async def rep_activity(request: web.Request) -> web.Response:
    rep_id = request.match_info["rep_id"]
    granularity = request.query.get("granularity") or "hour"
    if granularity not in ("hour", "day"):
        return error(400, "granularity: must be hour or day")
    try:
        known_params(request, "granularity", "from", "to")
        end = time_param(request, "to", datetime.now(UTC))
        start = time_param(request, "from", end - DEFAULT_SPAN[granularity])
    except BadRequest as exc:
        return error(exc.status, str(exc))
    if start > end:
        return error(400, "from: must not be after to")
    settings = _backend(request).settings
    refusal = settings.retention_rule.refuse_instant(start, datetime.now(UTC))
    if refusal is not None:
        return error(410, f"from: {refusal}")
    view = await owned_view(request, "rep", rep_id)
    if isinstance(view, web.Response):
        return view
    tz = _backend(request).settings.tz
    buckets = activity_buckets(view, granularity, start, end, tz)  # type: ignore[arg-type]
    return json_response({"rep_id": rep_id, "granularity": granularity, "buckets": buckets})


async def leaderboard(request: web.Request) -> web.Response:
    try:
        q = leaderboard_query(request)
    except BadRequest as exc:
        return error(exc.status, str(exc))
    answer = not_ready(request)
    if answer is not None:
        return answer
    backend = _backend(request)
    entries = local_entries(backend.views, q)
    for url in backend.peers.others():
        target = url.with_path(INTERNAL_LEADERBOARD_PATH).with_query(q.as_params())
        try:
            status, body = await backend.peers.get_json(target)
        except Exception as exc:
            return error(503, f"worker {url} did not answer: {exc}")
        if status == 401:
            return error(503, f"worker {url} refused this worker's token: SALES_API_TOKEN differs")
        if status != 200 or not isinstance(body, dict) or not isinstance(body.get("entries"), list):
            return error(503, f"worker {url} answered {status}: {body}")
        entries.extend(body["entries"])
    return json_response(leaderboard_document(q, entries))


async def internal_leaderboard(request: web.Request) -> web.Response:
    try:
        q = leaderboard_query(request)
    except BadRequest as exc:
        return error(exc.status, str(exc))
    answer = not_ready(request)
    return answer or json_response({"entries": local_entries(_backend(request).views, q)})


async def internal_medians(request: web.Request) -> web.Response:
    try:
        period_id = period_param(request)
    except BadRequest as exc:
        return error(exc.status, str(exc))
    teams = request.query.getall("team", [])
    problem = next(filter(None, (http_guard.check_id("team", t) for t in teams)), None)
    if problem is not None:
        return error(400, problem)
    announced = request.query.get("announced") == "1"  # sales.performance's (medians.py)
    # 503 while the views are rebuilt: the asker takes its medians as unknown for now
    return not_ready(request) or json_response(
        local_medians(_backend(request).views, teams, period_id, announced=announced)
    )


async def status(request: web.Request) -> web.Response:
    """The whole group as this worker sees it: every worker's line and what is wrong
    (streams.worker.group_status). 200 whenever it answers: the document says whether all
    is well."""
    try:
        known_params(request)  # it takes none
    except BadRequest as exc:
        return error(exc.status, str(exc))
    backend = _backend(request)
    own = await _own_line(request)
    own["url"] = str(request.url.origin())
    others = await asyncio.gather(*(_peer_line(backend, url) for url in backend.peers.others()))
    document = group_document(backend.worker_id, [own, *others], backend.settings.topic_partitions)
    return json_response(document)


async def internal_status(request: web.Request) -> web.Response:
    return json_response(await _own_line(request))


async def _own_line(request: web.Request) -> dict[str, Any]:
    backend = _backend(request)
    topics = backend.settings.topics
    retention = backend.settings.retention
    return worker_line(
        worker=backend.worker_id,
        ready=backend.is_ready(),
        kafka=backend.kafka_contact(),
        consumer=await backend.consumer_state(),
        inputs=topics.inputs(),
        internal=topics.scopes,
        retention=None if retention is None else iso_duration(retention),
        busy=backend.busy_share(),
    )


async def _peer_line(backend: ApiBackend, url: URL) -> dict[str, Any]:
    """A peer's own line, or why there is none; a peer gets PEER_STATUS_SECONDS to answer."""
    try:
        answered, body = await asyncio.wait_for(
            backend.peers.get_json(url.with_path(INTERNAL_STATUS_PATH)), PEER_STATUS_SECONDS
        )
    except Exception as exc:  # any failure to reach it is what the line reports
        return unanswered(str(url), f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc))
    if answered == 401:
        return unanswered(str(url), "refused this worker's token: SALES_API_TOKEN differs")
    if answered != 200 or not isinstance(body, dict) or "lag" not in body:
        return unanswered(str(url), f"answered {answered}")
    return {**body, "url": str(url)}


async def internal_consumer(request: web.Request) -> web.Response:
    """What the Kafka consumer of this worker holds: for diagnosing a stalled worker."""
    return json_response(await _backend(request).consumer_state())


ROUTES = [
    web.get("/healthz", healthz),
    web.get("/readyz", readyz),
    web.get("/metrics", metrics),
    web.get("/v1/reps/{rep_id}/performance", rep_performance),
    web.get("/v1/teams/{team_id}/performance", team_performance),
    web.get("/v1/reps/{rep_id}/activity", rep_activity),
    web.get("/v1/leaderboard", leaderboard),
    web.get(INTERNAL_LEADERBOARD_PATH, internal_leaderboard),
    web.get(MEDIANS_PATH, internal_medians),
    web.get("/v1/internal/consumer", internal_consumer),
    web.get("/v1/status", status),
    web.get(INTERNAL_STATUS_PATH, internal_status),
]
