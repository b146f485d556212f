"""HTTP API (CONTRACT.md section 6) and /metrics, as Faust web views.

Any worker answers: a request about a rep or team is forwarded to the worker owning it, and
a leaderboard is gathered from every worker and merged.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import faust
import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from yarl import URL

from streams.domain.periods import (
    PeriodError,
    current_period_ids,
    local_day_start,
    parse_period,
    rfc3339,
)
from streams.engine.queries import (
    LEADERBOARD_METRICS,
    figures_of,
    has_period_data,
    leaderboard_value,
    team_medians,
)
from streams.worker.peers import (
    FORWARDED_HEADER,
    OwnerUnknown,
    is_self,
    medians_to_json,
    owner_url,
    peer_get,
    peer_urls,
    performance_anywhere,
)
from streams.worker.runtime import Runtime

MAX_LIMIT = 1000
DEFAULT_SPAN = {"hour": timedelta(days=1), "day": timedelta(days=31)}


class BadRequest(Exception):
    """A request parameter is invalid; the message says which and why."""


def register(rt: Runtime) -> None:
    app = rt.app
    tz = rt.settings.tz

    def json_response(view: faust.web.View, body: Any, status: int = 200) -> Any:
        return view.bytes(orjson.dumps(body), content_type="application/json", status=status)

    def error(view: faust.web.View, status: int, message: str) -> Any:
        return json_response(view, {"error": message}, status)

    def period_param(request: Any) -> str:
        raw = request.query.get("period")
        if not raw:
            return current_period_ids(datetime.now(UTC), tz)["month"]
        try:
            return parse_period(raw, tz).id
        except PeriodError as exc:
            raise BadRequest(f"period: {exc}") from None

    def time_param(request: Any, name: str, default: datetime) -> datetime:
        raw = request.query.get(name)
        if not raw:
            return default
        try:
            value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            raise BadRequest(f"{name}: {raw!r} is not an RFC 3339 timestamp") from None
        if value.tzinfo is None:
            raise BadRequest(f"{name}: {raw!r} needs a UTC offset, e.g. 2026-11-27T00:00:00Z")
        return value

    async def forwarded(view: faust.web.View, request: Any, scope: str) -> Any | None:
        """The owner's answer when another worker owns `scope`; None to answer here."""
        if request.headers.get(FORWARDED_HEADER):
            return None
        try:
            url = owner_url(rt, scope)
        except OwnerUnknown:
            return error(view, 503, "the cluster is rebalancing; retry in a few seconds")
        if url is None:
            return None
        target = URL(str(request.url)).with_host(url.host or "").with_port(url.port)
        try:
            async with app.http_client.get(target, headers={FORWARDED_HEADER: "1"}) as response:
                body = await response.read()
                return view.bytes(body, content_type="application/json", status=response.status)
        except Exception as exc:
            return error(view, 503, f"the worker owning {scope} at {url} did not answer: {exc}")

    def not_ready(view: faust.web.View) -> Any | None:
        if not rt.ready or app.rebalancing:
            return error(view, 503, "the worker is recovering its state; retry in a few seconds")
        return None

    async def performance(view: faust.web.View, request: Any, kind: str, ident: str) -> Any:
        try:
            period_id = period_param(request)
        except BadRequest as exc:
            return error(view, 400, str(exc))
        scope = f"{kind}:{ident}"
        answer = await forwarded(view, request, scope) or not_ready(view)
        if answer is not None:
            return answer
        scope_view = rt.views.get(scope)
        if scope_view is None:
            return error(view, 404, f"no {kind} {ident!r} has been seen")
        doc = await performance_anywhere(
            rt, scope_view, parse_period(period_id, tz), datetime.now(UTC)
        )
        return json_response(view, doc)

    @app.page("/healthz")
    class Health(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any) -> Any:
            return json_response(self, {"status": "ok", "worker": rt.worker_id})

    @app.page("/readyz")
    class Ready(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any) -> Any:
            answer = not_ready(self)
            return answer or json_response(self, {"status": "ready", "worker": rt.worker_id})

    @app.page("/metrics")
    class Metrics(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any) -> Any:
            # aiohttp wants the charset apart from the content type
            content_type = CONTENT_TYPE_LATEST.split(";")[0]
            return self.bytes(generate_latest(rt.registry), content_type=content_type)

    @app.page("/v1/reps/{rep_id}/performance")
    class RepPerformance(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any, rep_id: str) -> Any:
            return await performance(self, request, "rep", rep_id)

    @app.page("/v1/teams/{team_id}/performance")
    class TeamPerformance(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any, team_id: str) -> Any:
            return await performance(self, request, "team", team_id)

    @app.page("/v1/reps/{rep_id}/activity")
    class RepActivity(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any, rep_id: str) -> Any:
            granularity = request.query.get("granularity", "hour")
            if granularity not in ("hour", "day"):
                return error(self, 400, "granularity: must be hour or day")
            now = datetime.now(UTC)
            try:
                end = time_param(request, "to", now)
                start = time_param(request, "from", end - DEFAULT_SPAN[granularity])
            except BadRequest as exc:
                return error(self, 400, str(exc))
            if start > end:
                return error(self, 400, "from: must not be after to")
            scope = "rep:" + rep_id
            answer = await forwarded(self, request, scope) or not_ready(self)
            if answer is not None:
                return answer
            scope_view = rt.views.get(scope)
            if scope_view is None:
                return error(self, 404, f"no rep {rep_id!r} has been seen")
            buckets: dict[datetime, dict[str, int]] = defaultdict(dict)
            for hour, record in scope_view.hours.items():
                instant = datetime.fromtimestamp(hour, tz)
                bucket = instant if granularity == "hour" else local_day_start(instant, tz)
                counts = buckets[bucket]
                for part in record.parts.values():
                    for activity, n in part.counts.items():
                        counts[activity] = counts.get(activity, 0) + n
            out = [
                {
                    "start": rfc3339(bucket),
                    "total": sum(counts.values()),
                    "counts": dict(sorted(counts.items())),
                }
                for bucket, counts in sorted(buckets.items())
                if start <= bucket < end and sum(counts.values()) > 0
            ]
            return json_response(
                self, {"rep_id": rep_id, "granularity": granularity, "buckets": out}
            )

    def leaderboard_query(request: Any) -> dict[str, Any]:
        metric = request.query.get("metric", "revenue_won")
        if metric not in LEADERBOARD_METRICS:
            raise BadRequest(f"metric: must be one of {', '.join(LEADERBOARD_METRICS)}")
        scope = request.query.get("scope", "rep")
        if scope not in ("rep", "team"):
            raise BadRequest("scope: must be rep or team")
        raw_limit = request.query.get("limit", "10")
        try:
            limit = int(raw_limit)
        except ValueError:
            raise BadRequest(f"limit: {raw_limit!r} is not a whole number") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise BadRequest(f"limit: must be between 1 and {MAX_LIMIT}")
        team = request.query.get("team") or None
        if team is not None and scope != "rep":
            raise BadRequest("team: only applies to scope=rep")
        return {
            "period": period_param(request),
            "metric": metric,
            "scope": scope,
            "team": team,
            "limit": limit,
        }

    def local_entries(q: dict[str, Any]) -> list[dict[str, Any]]:
        entries = []
        for scope_view in list(rt.views.scopes.values()):
            if scope_view.kind != q["scope"] or not has_period_data(scope_view, q["period"]):
                continue
            team = scope_view.latest_part(q["period"]) if q["scope"] == "rep" else scope_view.id
            if q["team"] is not None and team != q["team"]:
                continue
            value = leaderboard_value(figures_of(scope_view, q["period"]), q["metric"])
            if value is None:
                continue
            entries.append({"id": scope_view.id, "team_id": team, "value": value})
        return ranked(entries, q["limit"])

    @app.page("/v1/leaderboard")
    class Leaderboard(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any) -> Any:
            try:
                q = leaderboard_query(request)
            except BadRequest as exc:
                return error(self, 400, str(exc))
            answer = not_ready(self)
            if answer is not None:
                return answer
            entries = local_entries(q)
            for url in peer_urls(rt):
                if is_self(rt, url):
                    continue
                query = {k: str(v) for k, v in q.items() if v is not None}
                target = url.with_path("/v1/internal/leaderboard").with_query(query)
                try:
                    status, body = await peer_get(rt, target)
                except Exception as exc:
                    return error(self, 503, f"worker {url} did not answer: {exc}")
                if status != 200:
                    return error(self, 503, f"worker {url} answered {status}: {body}")
                entries.extend(body["entries"])
            top = ranked(entries, q["limit"])
            for rank, entry in enumerate(top, start=1):
                entry["rank"] = rank
            body = {
                "period": q["period"],
                "metric": q["metric"],
                "scope": q["scope"],
                "entries": [
                    {"rank": e["rank"], "id": e["id"], "team_id": e["team_id"], "value": e["value"]}
                    for e in top
                ],
            }
            return json_response(self, body)

    @app.page("/v1/internal/consumer")
    class ConsumerState(faust.web.View):  # type: ignore[misc]
        """What the Kafka consumer of this worker holds: for diagnosing a stalled worker."""

        async def get(self, request: Any) -> Any:
            consumer: Any = app.consumer
            assigned = sorted(consumer.assignment())
            state = []
            for tp in assigned:
                state.append(
                    {
                        "topic": tp.topic,
                        "partition": tp.partition,
                        "highwater": consumer.highwater(tp),
                        "read_offset": consumer._read_offset.get(tp),
                        "committed": consumer._committed_offset.get(tp),
                        "processed_up_to": rt.positions.get((tp.topic, tp.partition)),
                        "paused": tp in consumer._paused_partitions,
                        "active": tp in (consumer._active_partitions or ()),
                        "buffered": tp in consumer._buffered_partitions,
                        "position": await consumer.position(tp),
                    }
                )
            body = {
                "flow_active": app.flow_control.is_active(),
                "suspended": consumer.suspend_flow.is_set(),
                "rebalancing": app.rebalancing,
                "flags": sorted(consumer.diag.flags),
                "partitions": state,
            }
            return json_response(self, body)

    @app.page("/v1/internal/leaderboard")
    class LocalLeaderboard(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any) -> Any:
            try:
                q = leaderboard_query(request)
            except BadRequest as exc:
                return error(self, 400, str(exc))
            answer = not_ready(self)
            return answer or json_response(self, {"entries": local_entries(q)})

    @app.page("/v1/internal/teams/{team_id}/medians")
    class TeamMediansView(faust.web.View):  # type: ignore[misc]
        async def get(self, request: Any, team_id: str) -> Any:
            try:
                period_id = period_param(request)
            except BadRequest as exc:
                return error(self, 400, str(exc))
            medians = team_medians(rt.views.get("team:" + team_id), period_id)
            return json_response(self, medians_to_json(medians))


def ranked(entries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Highest value first, ties broken by id; the first `limit` entries."""
    return sorted(entries, key=lambda e: (-e["value"], e["id"]))[:limit]
