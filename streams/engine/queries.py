"""Queries over a scope's roll-ups: its figures in a period, target evaluations, team
medians and the performance document (docs/contract.md sections 4 and 6).

Shared by the HTTP API, the sales.performance topic, alerts and the Prometheus collector,
so every consumer sees the same numbers computed by the same code.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from streams.domain.deal_breakdowns import deal_breakdowns
from streams.domain.figures import median, money_out, quadrant
from streams.domain.performance import Figures
from streams.domain.periods import Period, PeriodError, parse_period
from streams.domain.targets import TargetEvaluation, evaluate_target, pipeline_coverage
from streams.domain.vocabulary import LEADERBOARD_METRICS
from streams.engine.items import HourCounts
from streams.engine.rollups import ScopeView

__all__ = ["LEADERBOARD_METRICS"]


def figures_of(view: ScopeView, period_id: str, tz: ZoneInfo) -> Figures:
    agg = view.period(period_id)
    deals = view.deals_in(period_id)
    won = [d for d in deals if d.outcome == "won"]
    start = parse_period(period_id, tz).start.timestamp()
    return Figures(
        by_type=dict(agg.by_type),
        activities_total=agg.activities_total,
        won=len(won),
        lost=sum(1 for d in deals if d.outcome == "lost"),
        revenue_won=sum((Decimal(d.amount_base) for d in won), Decimal(0)),
        cycle_seconds=[d.cycle_seconds for d in won if d.cycle_seconds is not None],
        satisfaction=agg.satisfaction.copy(),
        breakdowns=deal_breakdowns(
            deals, view.cohort_in(period_id), view.pipeline_in(period_id), start
        ),
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


def actual_shown(metric: str, actual: float) -> object:
    """A target's `actual` as its figure is shown: a count (deals won, activities) as an
    integer, as in the document's own figures; revenue as money. `object`: typed float,
    compiled code would hand the count back as a float."""
    return actual if metric == "revenue_won" else int(actual)


def leaderboard_value(figures: Figures, metric: str) -> object:
    """A number, or None. `object`, not `float | int | None`: mypy folds int into float
    there, and compiled code then turns every count into a float (a leaderboard answered
    `"value": 2.0` for two deals won)."""
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
    b = figures.breakdowns
    if metric == "conversion_win_rate":
        return b.conversion_win_rate
    if metric == "retention_rate":
        return b.retention_rate
    if metric == "pipeline_open_amount":
        return money_out(b.pipeline.amount)
    if metric == "customers_new":
        return b.customers_new
    raise ValueError(f"unknown leaderboard metric {metric!r}")


def has_period_data(view: ScopeView, period_id: str) -> bool:
    agg = view.agg(period_id)
    if agg is not None and (agg.by_type or agg.satisfaction.responses):
        return True
    return any(index.get(period_id) for index in view.deal_indexes())


class TeamMedians:
    """A team's medians in a period. A plain class, not a NamedTuple: the fold builds one per
    team and period a batch moves, and a NamedTuple's constructor is interpreted Python
    (4,000 instructions a call, against a few hundred for a compiled one)."""

    __slots__ = ("activities", "members", "revenue")

    def __init__(
        self, activities: float | Decimal | None, revenue: float | Decimal | None, members: int
    ) -> None:
        self.activities = activities
        self.revenue = revenue
        self.members = members

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TeamMedians):
            return NotImplemented
        return (
            self.members == other.members
            and self.activities == other.activities
            and self.revenue == other.revenue
        )

    def __hash__(self) -> int:
        return hash((self.activities, self.revenue, self.members))

    def __repr__(self) -> str:
        return (
            f"TeamMedians(activities={self.activities!r}, revenue={self.revenue!r}, "
            f"members={self.members})"
        )


NO_MEDIANS = TeamMedians(activities=None, revenue=None, members=0)


class MemberFigures(NamedTuple):  # a tuple: built for every member whenever one changes
    """What a team's medians take from one member."""

    activities: int
    revenue: Decimal


def team_members(view: ScopeView, period_id: str) -> dict[str, MemberFigures]:
    """The reps whose latest event in the period was in this team, with their figures
    (`member_rows`). Kept until a member changes (ScopeView.members_moved): the caller must
    not change what it gets."""
    cached: dict[str, MemberFigures] | None = view.member_figures.get(period_id)
    if cached is None:
        cached = view.member_figures[period_id] = {
            rep: MemberFigures(activities, revenue)
            for rep, activities, revenue in member_rows(view, period_id)
        }
    return cached


def member_rows(view: ScopeView, period_id: str) -> Iterator[tuple[str, int, Decimal]]:
    """(rep, activities, revenue) of each rep whose latest event in the period was in this
    team, once each, in no particular order.

    A rep whose events in the period were all in this team is derived here, from the team's
    own hours and closed deals: the team holds all of that rep's figures. A rep with events
    in several teams tells each of them whether it belongs (streams.engine.processor,
    emit_memberships), since no one team sees its latest event. The fold reads these rows
    for every team and period whose medians moved, without building a figure per member.
    """
    agg = view.agg(period_id)
    parts = agg.parts if agg is not None else {}
    closed = view.closed_by_rep.get(period_id, {})
    told = view.members.get(period_id, {})
    for rep, tally in parts.items():
        if rep not in told:
            yield rep, tally.activities, closed[rep][1] if rep in closed else _ZERO
    for rep, (_, revenue) in closed.items():
        if rep not in parts and rep not in told:
            yield rep, 0, revenue
    for rep, member in told.items():
        if member.member:
            yield rep, member.activities, Decimal(member.revenue)


_ZERO = Decimal(0)


def team_medians(view: ScopeView | None, period_id: str) -> TeamMedians:
    """Medians over the reps whose latest event in the period was in this team."""
    if view is None:
        return NO_MEDIANS
    cached: TeamMedians | None = view.medians.get(period_id)
    if cached is None:
        known = view.revenue_medians.get(period_id, _UNKNOWN)
        activities, revenues = _member_values(view, period_id)
        if known is _UNKNOWN:
            known = view.revenue_medians[period_id] = median(revenues)
        cached = view.medians[period_id] = TeamMedians(
            activities=median(activities), revenue=known, members=len(activities)
        )
    return cached


def announced_medians(view: ScopeView | None, period_id: str) -> TeamMedians:
    """The medians a rep's quadrant is measured against: its team's as last announced.

    The fold announces a team's medians at most once a second per partition
    (ScopeProcessor.announce_due) and each announcement republishes the reps whose quadrant
    it moved; a quadrant measured against medians between two announcements could move
    back and forth unseen. A period never announced since the views were built gets its
    current medians now, and the next announcement is compared with those.

    Medians over no rep (no view of the team here yet) are not the team's: askers take them
    as unknown (streams.worker.medians._over_reps).
    """
    if view is None:
        return NO_MEDIANS
    announced: TeamMedians | None = view.announced.get(period_id)
    if announced is None:
        announced = view.announced[period_id] = team_medians(view, period_id)
    return announced


def _member_values(view: ScopeView, period_id: str) -> tuple[list[int], list[Decimal]]:
    """The members' activities and revenues, in no particular order.

    Without a rep of several teams (the usual case) they are read off the team's tallies
    with no per-member object: the fold asks for the medians of every team and period a
    batch touched.
    """
    if view.members.get(period_id):
        rows = list(member_rows(view, period_id))
        return [row[1] for row in rows], [row[2] for row in rows]
    agg = view.agg(period_id)
    parts = agg.parts if agg is not None else {}
    closed = view.closed_by_rep.get(period_id, {})
    count = len(parts) + sum(1 for rep in closed if rep not in parts)
    activities = [tally.activities for tally in parts.values()]
    revenues = [revenue for _, revenue in closed.values()]
    return (
        activities + [0] * (count - len(activities)),
        revenues + [_ZERO] * (count - len(revenues)),
    )


_UNKNOWN = object()


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
    figures = figures_of(view, period.id, tz)
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
    open_amount = money_out(figures.breakdowns.pipeline.amount) or 0.0
    doc["targets"] = [
        target_document(ev, open_amount)
        for _, ev in target_evaluations(
            view, now=now, tz=tz, at_risk_pace=at_risk_pace, only_period=period.id
        )
    ]
    return doc


def target_document(ev: TargetEvaluation, open_amount: float) -> dict[str, Any]:
    """One entry of a document's `targets`; revenue targets also get pipeline_coverage."""
    doc: dict[str, Any] = {
        "metric": ev.metric,
        "target": ev.target,
        "actual": actual_shown(ev.metric, ev.actual),
        "attainment": ev.attainment,
        "expected_by_now": ev.expected_by_now,
        "pace": ev.pace,
        "status": ev.status,
        "projected": ev.projected,
        "gap": ev.gap,
        "required_per_business_day": ev.required_per_business_day,
    }
    if ev.metric == "revenue_won":  # both in cents: a gap under half a cent is no gap
        gap_cents = money_out(Decimal(repr(ev.gap))) or 0.0
        doc["pipeline_coverage"] = pipeline_coverage(open_amount, gap_cents)
    return doc


def latest_activity(view: ScopeView) -> tuple[float, str] | None:
    """A rep's latest activity, (event time, team), from its hour and day records: what a
    worker that has applied none of the rep's events since its views were built knows of it.
    An hour part keeps its latest event's time: an activity's, unless the part also holds
    feedback (then up to an hour later than the activity); a day record's part keeps the
    day's latest event (then up to the end of that day, which is past the late grace)."""
    found: tuple[float, str] | None = None
    for hour in sorted({*view.hours, *view.spills}, reverse=True):
        found = _latest_counted(view.hour_parts(hour, None).items())
        if found is not None:
            break
    for day in sorted(view.days, reverse=True):  # folded days: before the hour records
        record = view.day_record(day)
        if record is None:
            continue
        for quarter in sorted(record.quarters(), reverse=True):
            in_day = _latest_counted(record.hour_parts(quarter).items())
            if in_day is not None:
                return in_day if found is None or in_day > found else found
    return found


def _latest_counted(parts: Iterable[tuple[str, HourCounts]]) -> tuple[float, str] | None:
    """The latest (time, part) of the parts that count activities (a tie: the greater part)."""
    best: tuple[float, str] | None = None
    for part, counts in parts:
        if counts.counts and (best is None or (counts.latest, part) > best):
            best = (counts.latest, part)
    return best
