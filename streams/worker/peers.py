"""Asking the worker that owns a scope: owner lookup and peer requests.

Ownership comes from Faust's partition assignor (the table's changelog partitions), so
the owner of a key is the worker processing its partition. A forwarded request carries a
header; a worker never forwards a request that was already forwarded, so a stale
assignment during a rebalance cannot bounce a request between workers.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from yarl import URL

from streams.domain.periods import Period
from streams.engine.queries import TeamMedians, performance_document, team_medians
from streams.engine.rollups import ScopeView

if TYPE_CHECKING:
    from streams.worker.runtime import Runtime

FORWARDED_HEADER = "X-Salespulse-Forwarded"


class OwnerUnknown(Exception):
    """No worker owns the key right now (start-up or rebalance): retry shortly."""


def _ident(url: URL) -> tuple[str, int]:
    return (url.host or "", int(url.port or 80))


def owner_url(rt: Runtime, scope: str) -> URL | None:
    """URL of the worker owning `scope`, or None when it is this worker."""
    from streams.worker.runtime import TABLE_NAME

    try:
        url = rt.app.router.key_store(TABLE_NAME, scope.encode())
    except KeyError:
        raise OwnerUnknown(scope) from None
    if _ident(URL(str(url))) == _ident(URL(str(rt.app.conf.canonical_url))):
        return None
    return URL(str(url))


def peer_urls(rt: Runtime) -> list[URL]:
    """Every worker of the group (this one included), from the assignor's metadata."""
    from streams.worker.runtime import TABLE_NAME

    hosts = rt.app.router.table_metadata(TABLE_NAME)
    urls = {URL(str(h)) for h in hosts} | {URL(str(rt.app.conf.canonical_url))}
    return sorted(urls, key=str)


def is_self(rt: Runtime, url: URL) -> bool:
    return _ident(url) == _ident(URL(str(rt.app.conf.canonical_url)))


async def peer_get(rt: Runtime, url: URL) -> tuple[int, Any]:
    async with rt.app.http_client.get(url, headers={FORWARDED_HEADER: "1"}) as response:
        body = await response.read()
        return response.status, orjson.loads(body) if body else None


async def team_medians_anywhere(rt: Runtime, team: str, period: str) -> TeamMedians | None:
    """A team's medians from its owner, wherever it runs; None when it cannot be asked."""
    scope = "team:" + team
    try:
        url = owner_url(rt, scope)
    except OwnerUnknown:
        return None
    if url is None:
        return team_medians(rt.views.get(scope), period)
    target = url.with_path(f"/v1/internal/teams/{team}/medians").with_query(period=period)
    try:
        status, body = await peer_get(rt, target)
    except Exception:  # a peer that is restarting must not fail the caller
        return None
    if status != 200 or not isinstance(body, dict):
        return None
    return medians_from_json(body)


def medians_to_json(medians: TeamMedians) -> dict[str, Any]:
    return {
        "activities": None if medians.activities is None else str(medians.activities),
        "revenue": None if medians.revenue is None else str(medians.revenue),
        "members": medians.members,
    }


def medians_from_json(body: dict[str, Any]) -> TeamMedians:
    return TeamMedians(
        activities=None if body["activities"] is None else Decimal(body["activities"]),
        revenue=None if body["revenue"] is None else Decimal(body["revenue"]),
        members=int(body["members"]),
    )


async def performance_anywhere(
    rt: Runtime, view: ScopeView, period: Period, now: datetime
) -> dict[str, Any]:
    """A scope's performance document; a rep's quadrant uses its team's medians, wherever
    that team is owned. Shared by the HTTP API and the sales.performance publisher."""
    medians = None
    if view.kind == "rep":
        team = view.latest_part(period.id)
        if team:
            medians = await team_medians_anywhere(rt, team, period.id)
    return performance_document(
        view,
        period,
        now=now,
        tz=rt.settings.tz,
        at_risk_pace=rt.settings.at_risk_pace,
        currency=rt.settings.base_currency,
        medians=medians,
    )
