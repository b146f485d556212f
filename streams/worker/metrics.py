"""Prometheus metrics (docs/contract.md section 7).

Business gauges are not kept as gauge objects: a collector computes them at scrape time from
the views of the scopes this worker owns, for the current day, week, month and quarter only.
So a series of a period that has ended, or of a scope that moved to another worker, simply
stops being exported; nothing stale is left behind and no bookkeeping can drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams import __version__
from streams.domain.figures import money_out
from streams.domain.figures import quadrant as quadrant_of
from streams.domain.periods import PeriodKind, current_period_ids
from streams.domain.vocabulary import QUADRANTS, TARGET_STATUSES
from streams.engine.queries import TeamMedians, figures_of
from streams.engine.rollups import ScopeView, Views
from streams.worker.settings import Settings


class PipelineMetrics:
    """Counters and histograms updated by the agents as records flow."""

    def __init__(self, registry: CollectorRegistry, worker: str) -> None:
        self.activities = Counter(
            "sales_activities_total",
            "Applied activity events",
            ["team", "rep", "activity"],
            registry=registry,
        )
        self.processed = Counter(
            "sales_events_processed_total",
            "Input records read and handled (valid or rejected)",
            ["topic"],
            registry=registry,
        )
        self.rejected = Counter(
            "sales_events_rejected_total",
            "Input records sent to the dead-letter topic",
            ["topic", "reason"],
            registry=registry,
        )
        self.duplicates = Counter(
            "sales_events_duplicate_total",
            "Input events ignored because their event_id was already applied",
            ["topic"],
            registry=registry,
        )
        self.event_lag = Histogram(
            "sales_event_lag_seconds",
            "Time from an event's occurred_at to the moment it was applied",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400),
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "sales_consumer_lag_records",
            "Records in a partition not yet processed by this worker",
            ["topic", "partition"],
            registry=registry,
        )
        self.last_activity = Gauge(
            "sales_rep_last_activity_timestamp_seconds",
            "Event time of the rep's latest applied activity",
            ["team", "rep"],
            registry=registry,
        )
        self.alerts = Counter(
            "sales_target_alerts_total",
            "Alerts emitted on sales.alerts, by target and kind",
            ["scope", "id", "metric", "period", "kind", "team"],
            registry=registry,
        )
        info = Gauge(
            "sales_worker_info", "One per running worker", ["worker", "version"], registry=registry
        )
        info.labels(worker=worker, version=__version__).set(1)


class BusinessCollector(Collector):
    """Per-scope gauges for the current periods, computed from the views on scrape."""

    def __init__(
        self,
        views: Views,
        settings: Settings,
        evaluate: Callable[[str, datetime], list[tuple[str, Any]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.views = views
        self.settings = settings
        self.evaluate = evaluate
        self.clock = clock
        #: (team, period) -> medians, fetched before each scrape (streams.worker.medians)
        self.medians: dict[tuple[str, str], TeamMedians | None] = {}

    def wanted_medians(self, now: datetime) -> set[tuple[str, str]]:
        """(team, period) of every rep's team in the current periods: for the quadrants."""
        if not self.settings.metrics_rep_label:
            return set()
        current = current_period_ids(now, self.settings.tz).values()
        wanted = set()
        for view in list(self.views.scopes.values()):
            if view.kind != "rep":
                continue
            for period_id in current:
                team = view.latest_part(period_id)
                if team:
                    wanted.add((team, period_id))
        return wanted

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = self.clock()
        current = current_period_ids(now, self.settings.tz)
        families = _Families.new()
        for view in list(self.views.scopes.values()):
            if view.kind not in ("rep", "team"):
                continue
            if view.kind == "rep" and not self.settings.metrics_rep_label:
                continue
            for kind, period_id in current.items():
                if period_id in view.periods or period_id in view.deal_periods:
                    self._figures(families, view, kind, period_id)
            self._targets(families, view, current, now)
        yield from families.all()

    def _figures(self, fam: _Families, view: ScopeView, kind: str, period_id: str) -> None:
        f = figures_of(view, period_id)
        team = _team_of(view, period_id)
        base = [view.kind, view.id, period_id, kind]
        fam.revenue.add_metric([*base, team], float(money_out(f.revenue_won) or 0.0))
        fam.deals.add_metric([*base, team, "won"], f.won)
        fam.deals.add_metric([*base, team, "lost"], f.lost)
        fam.activities.add_metric(base, f.activities_total)
        doc = f.as_document()
        for family, value in (
            (fam.win_rate, doc["deals"]["win_rate"]),
            (fam.per_win, doc["efficiency"]["activities_per_win"]),
            (fam.per_activity, doc["efficiency"]["revenue_per_activity"]),
            (fam.csat, doc["satisfaction"]["csat_avg"]),
            (fam.nps, doc["satisfaction"]["nps"]),
        ):
            if value is not None:
                family.add_metric(base, value)
        medians = self.medians.get((team, period_id)) if view.kind == "rep" and team else None
        if medians is not None:
            q = quadrant_of(f.activities_total, f.revenue_won, medians.activities, medians.revenue)
            for name in QUADRANTS:
                fam.quadrant.add_metric([view.id, team, period_id, kind, name], int(name == q))

    def _targets(
        self, fam: _Families, view: ScopeView, current: dict[PeriodKind, str], now: datetime
    ) -> None:
        kinds = {v: k for k, v in current.items()}
        active = False
        for period_id, ev in self.evaluate(view.scope, now):
            if period_id not in kinds:
                continue
            active = True
            base = [view.kind, view.id, ev.metric, period_id, kinds[period_id]]
            team = _team_of(view, period_id)
            fam.attainment.add_metric([*base, team], ev.attainment)
            if ev.pace is not None:
                fam.pace.add_metric([*base, team], ev.pace)
            for status_name in TARGET_STATUSES:
                fam.status.add_metric([*base, team, status_name], int(status_name == ev.status))
        if view.kind == "rep" and active:
            fam.target_active.add_metric([_team_of(view, current["month"]), view.id], 1)


def _team_of(view: ScopeView, period_id: str) -> str:
    """The `team` label: a rep's team in the period (its latest event's), a team's own id."""
    if view.kind == "team":
        return view.id
    return view.latest_part(period_id) or ""


@dataclass
class _Families:
    """The gauge families of one scrape."""

    revenue: GaugeMetricFamily
    deals: GaugeMetricFamily
    activities: GaugeMetricFamily
    win_rate: GaugeMetricFamily
    per_win: GaugeMetricFamily
    per_activity: GaugeMetricFamily
    csat: GaugeMetricFamily
    nps: GaugeMetricFamily
    attainment: GaugeMetricFamily
    pace: GaugeMetricFamily
    status: GaugeMetricFamily
    quadrant: GaugeMetricFamily
    target_active: GaugeMetricFamily

    @classmethod
    def new(cls) -> _Families:
        labels = ["scope", "id", "period", "period_kind"]
        t_labels = ["scope", "id", "metric", "period", "period_kind", "team"]

        def gauge(name: str, doc: str, names: list[str]) -> GaugeMetricFamily:
            return GaugeMetricFamily(name, doc, labels=names)

        return cls(
            revenue=gauge(
                "sales_revenue_won", "Revenue won in the base currency", [*labels, "team"]
            ),
            deals=gauge(
                "sales_deals",
                "Deals whose current state is won or lost",
                [*labels, "team", "outcome"],
            ),
            activities=gauge("sales_activities_period", "activities.total in the period", labels),
            win_rate=gauge("sales_win_rate", "won / (won + lost)", labels),
            per_win=gauge("sales_activities_per_win", "activities.total / deals.won", labels),
            per_activity=gauge(
                "sales_revenue_per_activity", "revenue_won / activities.total", labels
            ),
            csat=gauge("sales_csat_avg", "Mean CSAT", labels),
            nps=gauge("sales_nps", "Net promoter score", labels),
            attainment=gauge("sales_target_attainment_ratio", "actual / target", t_labels),
            pace=gauge("sales_target_pace_ratio", "actual / expected_by_now", t_labels),
            status=gauge(
                "sales_target_status", "1 for the target's current status", [*t_labels, "status"]
            ),
            quadrant=gauge(
                "sales_rep_quadrant",
                "1 for the rep's current activity/performance quadrant",
                ["id", "team", "period", "period_kind", "quadrant"],
            ),
            target_active=gauge(
                "sales_rep_target_active",
                "1 when the rep has a target in a current period",
                ["team", "rep"],
            ),
        )

    def all(self) -> Iterator[GaugeMetricFamily]:
        yield from (getattr(self, f.name) for f in fields(self))
