"""Leaderboards: the entries one worker holds, and their merge across workers.

The contract's ordering (highest value first, ties broken by id) and its team filter live
here, so the HTTP layer only parses parameters and gathers entries from peers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from streams.engine.queries import figures_of, has_period_data, leaderboard_value, metric_actual
from streams.engine.rollups import ScopeView, Views

TARGET_ATTAINMENT = "target_attainment"


@dataclass(frozen=True)
class LeaderboardQuery:
    period: str
    metric: str
    scope: str  # "rep" | "team"
    team: str | None
    limit: int
    #: with metric target_attainment: only targets of this metric count
    target_metric: str | None = None

    def as_params(self) -> dict[str, str]:
        """The query as request parameters, to ask a peer for its entries."""
        params = {
            "period": self.period,
            "metric": self.metric,
            "scope": self.scope,
            "limit": str(self.limit),
        }
        if self.team is not None:
            params["team"] = self.team
        if self.target_metric is not None:
            params["target_metric"] = self.target_metric
        return params


def local_entries(views: Views, q: LeaderboardQuery) -> list[dict[str, Any]]:
    """The best `q.limit` entries among the scopes of these views; null values left out."""
    entries = []
    value: object  # int for counts, float for the rest: not typed float (leaderboard_value)
    for view in list(views.scopes.values()):
        if view.kind != q.scope:
            continue
        if q.metric == TARGET_ATTAINMENT:
            value = best_attainment(view, q.period, q.target_metric)
        elif has_period_data(view, q.period):
            value = leaderboard_value(figures_of(view, q.period, views.tz), q.metric)
        else:
            continue
        team = view.latest_part(q.period) if q.scope == "rep" else view.id
        if q.team is not None and team != q.team:
            continue
        entries.append({"id": view.id, "team_id": team, "value": value})
    return ranked(entries, q.limit)


def best_attainment(view: ScopeView, period_id: str, metric: str | None) -> float | None:
    """The highest actual / target among the scope's targets in the period (of one metric
    when given); None without such a target."""
    attainments = [
        metric_actual(view, period_id, target_metric) / value
        for (target_metric, target_period), value in view.targets.items()
        if target_period == period_id and metric in (None, target_metric)
    ]
    return max(attainments, default=None)


def ranked(entries: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Highest value first, ties broken by id; the first `limit` entries, numbered. An entry
    without a value is left out: null, or a ratio past the largest double (1 / a target of
    1e-310), which JSON would carry as null; a peer may send either."""
    valued = [
        e for e in entries if isinstance(e["value"], int | float) and math.isfinite(e["value"])
    ]
    top = sorted(valued, key=lambda e: (-e["value"], e["id"]))[:limit]
    return [
        {"rank": rank, "id": e["id"], "team_id": e["team_id"], "value": e["value"]}
        for rank, e in enumerate(top, start=1)
    ]


def leaderboard_document(q: LeaderboardQuery, entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The body of GET /v1/leaderboard from every worker's entries."""
    return {
        "period": q.period,
        "metric": q.metric,
        "scope": q.scope,
        "entries": ranked(entries, q.limit),
    }
