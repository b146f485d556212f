"""Team medians wherever the team is owned: the one path to a rep's quadrant.

A rep's quadrant compares it with the medians of its team, and the team may be owned by
another worker. The HTTP API, the sales.performance publisher and /metrics all get medians
through `medians_for`, which asks each owner once per period for all the teams it needs
(in as few requests as the API's query string limit allows).

The API and /metrics take the team's current medians. sales.performance takes the medians
the team last announced (queries.announced_medians): its documents are revised when an
announcement moves a quadrant, which finds every moved document only if each was measured
against an announced state.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol
from urllib.parse import quote

from yarl import URL

from streams.domain.periods import Period
from streams.engine.queries import (
    TeamMedians,
    announced_medians,
    performance_document,
    team_medians,
)
from streams.engine.rollups import ScopeView, Views
from streams.worker.http_guard import MAX_QUERY_BYTES
from streams.worker.peers import OwnerUnknown, PeerDirectory
from streams.worker.settings import Settings

log = logging.getLogger(__name__)

MEDIANS_PATH = "/v1/internal/medians"

TeamPeriod = tuple[str, str]


class HasMedians(Protocol):
    @property
    def views(self) -> Views: ...

    @property
    def peers(self) -> PeerDirectory: ...

    @property
    def settings(self) -> Settings: ...


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


def local_medians(
    views: Views, teams: Iterable[str], period: str, *, announced: bool = False
) -> dict[str, Any]:
    """The body of the internal medians endpoint: this worker's teams in one period (a team
    whose medians are over no rep left out: the asker takes them as unknown, `_over_reps`,
    as did versions before it applied that rule itself)."""
    medians = announced_medians if announced else team_medians
    found = {team: _over_reps(medians(views.get("team:" + team), period)) for team in teams}
    return {team: medians_to_json(m) for team, m in found.items() if m is not None}


async def medians_for(
    rt: HasMedians, pairs: Iterable[TeamPeriod], *, announced: bool = False
) -> dict[TeamPeriod, TeamMedians | None]:
    """Medians of each (team, period), current or as `announced`; None where the owner
    cannot be asked right now, or holds the figures of no rep in the period (`_over_reps`)."""
    local = announced_medians if announced else team_medians
    asked = [("announced", "1")] if announced else []
    out: dict[TeamPeriod, TeamMedians | None] = {}
    remote: dict[tuple[URL, str], list[str]] = defaultdict(list)
    owners: dict[str, URL | OwnerUnknown | None] = {}  # a team is asked for in many periods
    for team, period in sorted(set(pairs)):
        if team not in owners:
            try:
                owners[team] = rt.peers.owner_of("team:" + team)
            except OwnerUnknown as exc:
                owners[team] = exc
        owner = owners[team]
        if isinstance(owner, OwnerUnknown):
            out[(team, period)] = None
            continue
        if owner is None:
            out[(team, period)] = _over_reps(local(rt.views.get("team:" + team), period))
        else:
            remote[(owner, period)].append(team)
    for (owner, period), all_teams in remote.items():
        for teams in team_chunks(period, all_teams):
            answers = await _ask(
                rt,
                owner.with_path(MEDIANS_PATH).with_query(
                    [("period", period), *asked, *(("team", t) for t in teams)]
                ),
            )
            for team in teams:
                body = answers.get(team)
                out[(team, period)] = _over_reps(
                    medians_from_json(body) if body is not None else None
                )
    return out


def _over_reps(medians: TeamMedians | None) -> TeamMedians | None:
    """None for medians over no rep. A rep is asking, and a rep is one of its team's members
    in any period it has the team as its latest (its hours or closed deals are the team's):
    medians over none mean the rep's figures are still on their way to the team's owner.
    Taken as medians, they count as met, and the quadrant would be "high" twice."""
    return medians if medians is not None and medians.members > 0 else None


def team_chunks(period: str, teams: list[str]) -> Iterator[list[str]]:
    """The teams split so that each request's query string stays within MAX_QUERY_BYTES
    (counted fully percent-encoded, an upper bound of what yarl sends, with room for
    `announced`)."""
    budget = MAX_QUERY_BYTES - len("period=" + quote(period, safe="") + "&announced=1")
    chunk: list[str] = []
    used = 0
    for team in teams:
        cost = len("&team=" + quote(team, safe=""))
        if chunk and used + cost > budget:
            yield chunk
            chunk, used = [], 0
        chunk.append(team)
        used += cost
    if chunk:
        yield chunk


async def _ask(rt: HasMedians, url: URL) -> dict[str, Any]:
    try:
        status, body = await rt.peers.get_json(url)
    except Exception:  # a peer that is restarting must not fail the caller
        return {}
    if status == 401:
        log.warning("worker %s refused this worker's token: SALES_API_TOKEN differs", url.origin())
    if status != 200 or not isinstance(body, dict):
        return {}
    return body


async def performance_for(
    rt: HasMedians, view: ScopeView, period: Period, now: datetime
) -> dict[str, Any]:
    """A scope's performance document with its quadrant from its team's owner."""
    ((doc, _),) = await performance_documents(rt, [(view, period)], now)
    return doc


async def performance_documents(
    rt: HasMedians,
    wanted: list[tuple[ScopeView, Period]],
    now: datetime,
    *,
    announced: bool = False,
) -> list[tuple[dict[str, Any], bool]]:
    """The documents of many scopes and periods, asking each team owner once for all the
    medians the reps among them need (a request per document would cost a round trip each);
    quadrants against the announced medians for sales.performance (module docstring).

    With each, whether its quadrant is measured: False for a rep whose team's owner could
    not be asked (rebuilding its views, restarting, unreachable) or holds no figures of the
    team in the period yet; its quadrant is then null. The API answers with it;
    sales.performance waits instead, since no announcement would ever revise a document
    measured against nothing."""
    teams: dict[tuple[str, str], str | None] = {}
    for view, period in wanted:
        if view.kind == "rep":
            teams[(view.scope, period.id)] = view.latest_part(period.id)
    medians = await medians_for(
        rt,
        [(team, period_id) for (_, period_id), team in teams.items() if team],
        announced=announced,
    )
    s = rt.settings
    docs = []
    for view, period in wanted:
        team = teams.get((view.scope, period.id))
        known = medians.get((team, period.id)) if team else None
        document = performance_document(
            view,
            period,
            now=now,
            tz=s.tz,
            at_risk_pace=s.at_risk_pace,
            currency=s.base_currency,
            medians=known,
        )
        docs.append((document, not team or known is not None))
    return docs
