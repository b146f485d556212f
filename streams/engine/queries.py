"""Queries over a scope's roll-ups: its figures in a period, target evaluations, team
medians and the performance document (docs/contract.md sections 4 and 6).

Shared by the HTTP API, the sales.performance topic, alerts and the Prometheus collector,
so every consumer sees the same numbers computed by the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from streams.domain.figures import Figures, median, money_out, quadrant
from streams.domain.periods import Period, PeriodError, parse_period
from streams.domain.targets import TargetEvaluation, evaluate_target
from streams.domain.vocabulary import LEADERBOARD_METRICS
from streams.engine.rollups import ScopeView

__all__ = ["LEADERBOARD_METRICS"]


def figures_of(view: ScopeView, period_id: str) -> Figures:
    agg = view.period(period_id)
    deals = view.deals_in(period_id)
    won = [d for d in deals if d.outcome == "won"]
    return Figures(
        by_type=dict(agg.by_type),
        activities_total=agg.activities_total,
        won=len(won),
        lost=sum(1 for d in deals if d.outcome == "lost"),
        revenue_won=sum((Decimal(d.amount_base) for d in won), Decimal(0)),
        cycle_seconds=[d.cycle_seconds for d in won if d.cycle_seconds is not None],
        satisfaction=agg.satisfaction.copy(),
    )


def metric_actual(view: ScopeView, period_id: str, metric: str) -> float:
    """The figure a target's metric names: revenue in cents-rounded base currency."""
    if metric == "revenue_won":
        return money_out(view.revenue_won(period_id)) or 0.0
    if metric == "deals_won":
        return float(sum(1 for d in view.deals_in(period_id) if d.outcome == "won"))
    agg = view.period(period_id)
    if metric == "activities_total":
        return float(agg.activities_total)
    if metric.startswith("activities."):
        return float(agg.by_type.get(metric.split(".", 1)[1], 0))
    raise ValueError(f"unknown target metric {metric!r}")


def leaderboard_value(figures: Figures, metric: str) -> float | int | None:
    if metric == "revenue_won":
        return money_out(figures.revenue_won)
    if metric == "deals_won":
        return figures.won
    if metric == "activities_total":
        return figures.activities_total
    if metric == "win_rate":
        return figures.win_rate
    if metric == "avg_deal_size":
        return money_out(figures.avg_deal_size)
    if metric == "csat_avg":
        return figures.csat_avg
    raise ValueError(f"unknown leaderboard metric {metric!r}")


def has_period_data(view: ScopeView, period_id: str) -> bool:
    agg = view.periods.get(period_id)
    if agg is not None and (agg.by_type or agg.satisfaction.responses):
        return True
    return bool(view.deal_periods.get(period_id))


@dataclass(frozen=True)
class TeamMedians:
    activities: float | Decimal | None
    revenue: float | Decimal | None
    members: int


def team_medians(view: ScopeView | None, period_id: str) -> TeamMedians:
    """Medians over the reps whose latest event in the period was in this team."""
    members = [] if view is None else list(view.members.get(period_id, {}).values())
    return TeamMedians(
        activities=median([m.activities for m in members]),
        revenue=median([Decimal(m.revenue) for m in members]),
        members=len(members),
    )


def target_evaluations(
    view: ScopeView,
    *,
    now: datetime,
    tz: ZoneInfo,
    at_risk_pace: float,
    only_period: str | None = None,
) -> list[tuple[str, TargetEvaluation]]:
    """(period id, evaluation) for every target of the scope, or of one period."""
    out = []
    for (metric, period_id), value in sorted(view.targets.items()):
        if only_period is not None and period_id != only_period:
            continue
        try:
            period = parse_period(period_id, tz)
        except PeriodError:
            continue  # validated on ingestion; a target never holds a bad period
        evaluation = evaluate_target(
            metric=metric,
            target=value,
            actual=metric_actual(view, period_id, metric),
            period=period,
            now=now,
            tz=tz,
            at_risk_pace=at_risk_pace,
        )
        out.append((period_id, evaluation))
    return out


def performance_document(
    view: ScopeView,
    period: Period,
    *,
    now: datetime,
    tz: ZoneInfo,
    at_risk_pace: float,
    currency: str,
    medians: TeamMedians | None = None,
) -> dict[str, Any]:
    """The body of GET /v1/{reps|teams}/{id}/performance and of sales.performance."""
    figures = figures_of(view, period.id)
    doc: dict[str, Any] = {"scope": view.kind, "id": view.id}
    if view.kind == "rep":
        doc["team_id"] = view.latest_part(period.id)
    doc["period"] = period.id
    doc["currency"] = currency
    doc.update(figures.as_document())
    if view.kind == "rep":
        doc["quadrant"] = (
            quadrant(
                figures.activities_total, figures.revenue_won, medians.activities, medians.revenue
            )
            if medians is not None and doc["team_id"] is not None
            else None
        )
    doc["targets"] = [
        {
            "metric": ev.metric,
            "target": ev.target,
            "actual": ev.actual,
            "attainment": ev.attainment,
            "expected_by_now": ev.expected_by_now,
            "pace": ev.pace,
            "status": ev.status,
            "projected": ev.projected,
            "gap": ev.gap,
            "required_per_business_day": ev.required_per_business_day,
        }
        for _, ev in target_evaluations(
            view, now=now, tz=tz, at_risk_pace=at_risk_pace, only_period=period.id
        )
    ]
    return doc
