"""Prometheus metrics (CONTRACT.md section 7).

Business gauges are not kept as gauge objects: a collector computes them at scrape time from
the views of the scopes this worker owns, for the current day, week, month and quarter only.
So a series of a period that has ended, or of a scope that moved to another worker, simply
stops being exported; nothing stale is left behind and no bookkeeping can drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams import __version__
from streams.domain.figures import money_out
from streams.domain.figures import quadrant as quadrant_of
from streams.domain.periods import current_period_ids
from streams.domain.vocabulary import QUADRANTS, TARGET_STATUSES
from streams.engine.queries import TeamMedians, figures_of
from streams.engine.rollups import Views
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
            ["scope", "id", "metric", "period", "kind"],
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
        with_rep = self.settings.metrics_rep_label
        labels = ["scope", "id", "period", "period_kind"]
        revenue = GaugeMetricFamily(
            "sales_revenue_won", "Revenue won in the base currency", labels=labels
        )
        deals = GaugeMetricFamily(
            "sales_deals", "Deals whose current state is won or lost", labels=[*labels, "outcome"]
        )
        activities = GaugeMetricFamily(
            "sales_activities_period", "activities.total in the period", labels=labels
        )
        win_rate = GaugeMetricFamily("sales_win_rate", "won / (won + lost)", labels=labels)
        per_win = GaugeMetricFamily(
            "sales_activities_per_win", "activities.total / deals.won", labels=labels
        )
        per_activity = GaugeMetricFamily(
            "sales_revenue_per_activity", "revenue_won / activities.total", labels=labels
        )
        csat = GaugeMetricFamily("sales_csat_avg", "Mean CSAT", labels=labels)
        nps = GaugeMetricFamily("sales_nps", "Net promoter score", labels=labels)
        t_labels = ["scope", "id", "metric", "period", "period_kind"]
        attainment = GaugeMetricFamily(
            "sales_target_attainment_ratio", "actual / target", labels=t_labels
        )
        pace = GaugeMetricFamily(
            "sales_target_pace_ratio", "actual / expected_by_now", labels=t_labels
        )
        status = GaugeMetricFamily(
            "sales_target_status", "1 for the target's current status", labels=[*t_labels, "status"]
        )
        quadrant = GaugeMetricFamily(
            "sales_rep_quadrant",
            "1 for the rep's current activity/performance quadrant",
            labels=["id", "team", "period", "period_kind", "quadrant"],
        )
        target_active = GaugeMetricFamily(
            "sales_rep_target_active",
            "1 when the rep has a target in a current period",
            labels=["team", "rep"],
        )
        for view in list(self.views.scopes.values()):
            if view.kind not in ("rep", "team"):
                continue
            scope, ident = view.kind, view.id
            if scope == "rep" and not with_rep:
                continue
            for kind, period_id in current.items():
                if period_id not in view.periods and period_id not in view.deal_periods:
                    continue
                f = figures_of(view, period_id)
                base = [scope, ident, period_id, kind]
                revenue.add_metric(base, float(money_out(f.revenue_won) or 0.0))
                deals.add_metric([*base, "won"], f.won)
                deals.add_metric([*base, "lost"], f.lost)
                activities.add_metric(base, f.activities_total)
                doc = f.as_document()
                for family, value in (
                    (win_rate, doc["deals"]["win_rate"]),
                    (per_win, doc["efficiency"]["activities_per_win"]),
                    (per_activity, doc["efficiency"]["revenue_per_activity"]),
                    (csat, doc["satisfaction"]["csat_avg"]),
                    (nps, doc["satisfaction"]["nps"]),
                ):
                    if value is not None:
                        family.add_metric(base, value)
                if scope == "rep":
                    team = view.latest_part(period_id)
                    medians = self.medians.get((team, period_id)) if team else None
                    if medians is not None:
                        q = quadrant_of(
                            f.activities_total, f.revenue_won, medians.activities, medians.revenue
                        )
                        for name in QUADRANTS:
                            quadrant.add_metric(
                                [ident, team or "", period_id, kind, name], int(name == q)
                            )
            kinds = {v: k for k, v in current.items()}
            active = False
            for period_id, ev in self.evaluate(view.scope, now):
                if period_id not in kinds:
                    continue
                active = True
                base = [scope, ident, ev.metric, period_id, kinds[period_id]]
                attainment.add_metric(base, ev.attainment)
                if ev.pace is not None:
                    pace.add_metric(base, ev.pace)
                for status_name in TARGET_STATUSES:
                    status.add_metric([*base, status_name], int(status_name == ev.status))
            if scope == "rep" and active:
                team = view.latest_part(current["month"]) or ""
                target_active.add_metric([team, ident], 1)
        yield from (
            revenue,
            deals,
            activities,
            win_rate,
            per_win,
            per_activity,
            csat,
            nps,
            attainment,
            pace,
            status,
            quadrant,
            target_active,
        )
