"""Prometheus metrics (docs/contract.md sections 7 and 8.4).

Business gauges are not kept as gauge objects: a collector computes them at scrape time from
the views of the scopes this worker owns, for the current day, week, month and quarter only.
So a series of a period that has ended, or of a scope that moved to another worker, simply
stops being exported; nothing stale is left behind and no bookkeeping can drift. The figure
gauges (DOCUMENT_GAUGES, including section 8.4's pipeline, conversion, retention and new
customers) are read from the scope's performance document, labelled {scope, id, period,
period_kind}; a null figure exports no sample. Pipeline by stage and conversion by source
(pipeline.by_stage, conversion.by_source) have gauges of their own with a `stage` or `source`
label; stages and sources are free text from the input, so those labels are bounded too
(SALES_METRICS_MAX_BREAKDOWN, see bounded_breakdown).

Label values are bounded (SALES_METRICS_MAX_SCOPES, per worker), so that a flood of new rep or
team ids cannot flood Prometheus:
- the gauges cover at most that many reps and that many teams per scrape: those with a target
  in a current period first, then the most recently active, then by id. The gauge
  `sales_metrics_scopes_dropped{kind}` says how many were left out at this scrape. A gauge,
  not a counter: the choice is made afresh at every scrape, so "left out now" is a state; a
  counter would add the same scopes again at every scrape and grow with the scrape rate.
- `sales_activities_total` and `sales_rep_last_activity_timestamp_seconds` give series to
  the first that many reps and teams this worker sees. Beyond, activities are counted under
  rep (or team) "_other" and the last-activity gauge is not set; the counter
  `sales_metrics_series_dropped_total{kind}` counts each rep or team id refused (once). A
  counter: a counter series cannot be handed back, so a refusal is an event that stays.
- the stage and source gauges have at most SALES_METRICS_MAX_BREAKDOWN label values per scope
  and period: beyond, the largest keep their own series and the rest are merged into "other"
  (amounts and counts summed, the win rate recomputed; a stage or source really named "other"
  is merged into it as well). A gauge per value, so the choice is made afresh at every scrape.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from streams import __version__
from streams.domain.figures import money_out
from streams.domain.figures import quadrant as quadrant_of
from streams.domain.periods import PeriodKind, current_period_ids
from streams.domain.vocabulary import DEADLETTER_REASONS, QUADRANTS, TARGET_STATUSES
from streams.engine.queries import TeamMedians, figures_of
from streams.engine.rollups import ScopeView, Views
from streams.worker.loop_busy import LoopBusy, LoopBusyCollector
from streams.worker.settings import DEFAULT_METRICS_MAX_SCOPES, Settings
from streams.worker.store_memory import StoreMemory

#: upper bounds of `sales_event_lag_seconds`, up to a month: events up to the late grace
#: (7 days by default) are applied, and with a day as the last bound every quantile of a
#: history's replay read 86,400 s while the mean lag was 3 to 4 days
EVENT_LAG_BUCKETS: tuple[float, ...] = (
    *(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
    *(86400, 2 * 86400, 4 * 86400, 7 * 86400, 14 * 86400, 30 * 86400),
)
#: the rep or team label of activities beyond SALES_METRICS_MAX_SCOPES
OTHER = "_other"
BOUNDED_KINDS = ("rep", "team")


class LabelBudget:
    """The distinct rep and team label values that get series of their own: the first
    `limit` of each kind this worker sees. A refused value is counted once in `dropped`."""

    def __init__(self, limit: int, dropped: Counter) -> None:
        self.limit = limit
        self.dropped = dropped
        self.admitted: dict[str, set[str]] = {k: set() for k in BOUNDED_KINDS}
        self.refused: dict[str, set[str]] = {k: set() for k in BOUNDED_KINDS}

    def admit(self, kind: str, value: str) -> bool:
        admitted = self.admitted[kind]
        if value in admitted:
            return True
        if len(admitted) < self.limit:
            admitted.add(value)
            return True
        refused = self.refused[kind]
        if value not in refused:
            refused.add(value)
            self.dropped.labels(kind=kind).inc()
        return False


#: label values whose series are remembered (past the budget, values are not bounded)
MAX_CACHED_SERIES = 100_000


def _bound(cache: dict[Any, Any]) -> None:
    if len(cache) >= MAX_CACHED_SERIES:
        cache.clear()


class BoundedActivities:
    """`sales_activities_total`: reps and teams beyond the budget counted as "_other"."""

    def __init__(self, counter: Counter, budget: LabelBudget) -> None:
        self.counter = counter
        self.budget = budget
        #: (team, rep, activity) -> its series: a batch adds to hundreds, and the client's
        #: `labels` (checks, a lock) cost more than the count; a value once admitted or
        #: refused stays so, and these series are never removed
        self.children: dict[tuple[str, str, str], Counter] = {}

    def labels(self, *, team: str, rep: str, activity: str) -> Counter:
        key = (team, rep, activity)
        child = self.children.get(key)
        if child is None:
            _bound(self.children)
            child = self.children[key] = self.counter.labels(
                team=team if self.budget.admit("team", team) else OTHER,
                rep=rep if self.budget.admit("rep", rep) else OTHER,
                activity=activity,
            )
        return child


class BatchHistogram(Collector):
    """A histogram filled a batch at a time: plain integer buckets, no lock per value.

    prometheus_client's Histogram takes a lock and a few calls per observation; the event
    lag is observed for every applied event, so the batch handler hands over all of a
    batch's values at once and the buckets are made cumulative only when scraped.
    """

    def __init__(self, name: str, documentation: str, bounds: Sequence[float]) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = sorted(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe_many(self, values: Iterable[float]) -> None:
        bounds, counts = self.bounds, self.counts
        total = 0.0
        for value in values:
            counts[bisect_left(bounds, value)] += 1
            total += value
        self.total += total

    def collect(self) -> Iterator[HistogramMetricFamily]:
        cumulative, buckets = 0, []
        for bound, count in zip([*self.bounds, float("inf")], self.counts, strict=True):
            cumulative += count
            buckets.append(
                ("+Inf" if bound == float("inf") else floatToGoString(bound), cumulative)
            )
        yield HistogramMetricFamily(
            self.name, self.documentation, buckets=buckets, sum_value=self.total
        )


class PipelineMetrics:
    """Counters and histograms updated by the agents as records flow."""

    def __init__(
        self,
        registry: CollectorRegistry,
        worker: str,
        max_scopes: int = DEFAULT_METRICS_MAX_SCOPES,
    ) -> None:
        self._per_rep(registry, max_scopes)
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
        self.event_lag = BatchHistogram(
            "sales_event_lag_seconds",
            "Time from an event's occurred_at to the moment it was applied",
            EVENT_LAG_BUCKETS,
        )
        registry.register(self.event_lag)
        self.consumer_lag = Gauge(
            "sales_consumer_lag_records",
            "Records in a partition not yet processed by this worker",
            ["topic", "partition"],
            registry=registry,
        )
        self.alerts = Counter(
            "sales_target_alerts_total",
            "Alerts emitted on sales.alerts, by target and kind",
            ["scope", "id", "metric", "period", "kind", "team"],
            registry=registry,
        )
        self._worker_health(registry, worker)

    def _worker_health(self, registry: CollectorRegistry, worker: str) -> None:
        """What an operator watches a worker by, beyond the contract's metrics."""
        self.kafka_contact = Gauge(
            "sales_kafka_last_contact_timestamp_seconds",
            "When Kafka last answered this worker's metadata request (Unix time; the alert "
            "KafkaUnreachable watches its age)",
            registry=registry,
        )
        self.store_memory = Gauge(
            "sales_store_memory_bytes",
            "What the worker's RocksDB databases hold in memory: their shared block cache and "
            "the memtables charged to it (budget: SALES_STORE_MEMORY_BYTES)",
            registry=registry,
        )
        #: the event loop's working time, counted once timers.register hands it the loop
        self.loop_busy = LoopBusy()
        registry.register(LoopBusyCollector(self.loop_busy))
        info = Gauge(
            "sales_worker_info", "One per running worker", ["worker", "version"], registry=registry
        )
        info.labels(worker=worker, version=__version__).set(1)

    def start_at_zero(self, event_topics: Iterable[str], targets_topic: str) -> None:
        """Export every input topic's counters from the start, at 0: a series that appears
        at its first increment starts at 1, which rate() and increase() never count (the
        first rejects of a kind, after each restart, would never reach DeadLetterRateHigh)."""
        for topic in [*event_topics, targets_topic]:
            self.processed.labels(topic=topic)
            for reason in DEADLETTER_REASONS:
                self.rejected.labels(topic=topic, reason=reason)
        for topic in event_topics:
            self.duplicates.labels(topic=topic)

    def watch_store_memory(self, memory: StoreMemory) -> None:
        self.store_memory.set_function(memory.used_bytes)

    def _per_rep(self, registry: CollectorRegistry, max_scopes: int) -> None:
        """The metrics labelled by rep and team, bounded to `max_scopes` values of each."""
        self.series_dropped = Counter(
            "sales_metrics_series_dropped_total",
            "Rep or team ids given no series of their own in sales_activities_total (counted "
            'as "_other") and sales_rep_last_activity_timestamp_seconds '
            "(SALES_METRICS_MAX_SCOPES)",
            ["kind"],
            registry=registry,
        )
        for kind in BOUNDED_KINDS:
            self.series_dropped.labels(kind=kind)
        self.budget = LabelBudget(max_scopes, self.series_dropped)
        self.activities = BoundedActivities(
            Counter(
                "sales_activities_total",
                "Applied activity events",
                ["team", "rep", "activity"],
                registry=registry,
            ),
            self.budget,
        )


class BusinessCollector(Collector):
    """Per-scope gauges for the current periods, computed from the views on scrape."""

    def __init__(
        self,
        views: Views,
        settings: Settings,
        evaluate: Callable[[str, datetime], list[tuple[str, Any]]],
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        ready: Callable[[], bool] = lambda: True,
        home_team: Callable[[str], str | None] = lambda rep: None,
    ) -> None:
        self.views = views
        self.settings = settings
        self.evaluate = evaluate
        self.clock = clock
        #: rep -> the team of its latest activity: the `team` label of a rep's target series
        #: in a period without events of the rep (last_activity.LastActivities.team_of)
        self.home_team = home_team
        #: False while the views are being rebuilt: no business gauge is exported then
        #: (a half-built view would export wrong figures; the series resume next scrape)
        self.ready = ready
        #: (team, period) -> medians, fetched before each scrape (streams.worker.medians)
        self.medians: dict[tuple[str, str], TeamMedians | None] = {}

    def _team_of(self, view: ScopeView, period_id: str) -> str:
        """The `team` label: a rep's team in the period (its latest event's), else the team
        of its latest activity (a rep with a target and no event yet this month was labelled
        `team=""`: its at-risk alert missed the team's route, the team's panels missed it);
        a team's own id."""
        if view.kind == "team":
            return view.id
        return view.latest_part(period_id) or self.home_team(view.id) or ""

    def wanted_medians(self, now: datetime) -> set[tuple[str, str]]:
        """(team, period) of every exported rep's team in the current periods: for quadrants."""
        if not self.settings.metrics_rep_label or not self.ready():
            return set()
        current = current_period_ids(now, self.settings.tz)
        wanted = set()
        for view in self.exported(current)[0]:
            if view.kind != "rep":
                continue
            for period_id in current.values():
                team = view.latest_part(period_id)
                if team:
                    wanted.add((team, period_id))
        return wanted

    def exported(self, current: dict[PeriodKind, str]) -> tuple[list[ScopeView], dict[str, int]]:
        """The rep and team views this scrape exports, and how many of each kind it leaves
        out: at most settings.metrics_max_scopes of each kind among those with anything in
        a current period; those with a target there first, then the most recently active,
        then by id."""
        period_ids = set(current.values())
        candidates: dict[str, list[ScopeView]] = {kind: [] for kind in BOUNDED_KINDS}
        exportable = BOUNDED_KINDS if self.settings.metrics_rep_label else ("team",)
        for view in list(self.views.scopes.values()):
            if view.kind in exportable and _has_current(view, period_ids):
                candidates[view.kind].append(view)
        limit = self.settings.metrics_max_scopes
        chosen: list[ScopeView] = []
        dropped: dict[str, int] = {}
        for kind, views in candidates.items():
            if len(views) > limit:
                views = sorted(views, key=lambda v: _rank(v, period_ids))[:limit]
            dropped[kind] = len(candidates[kind]) - len(views)
            chosen.extend(views)
        return chosen, dropped

    def collect(self) -> Iterator[GaugeMetricFamily]:
        if not self.ready():
            return
        now = self.clock()
        current = current_period_ids(now, self.settings.tz)
        families = _Families.new()
        views, dropped = self.exported(current)
        for view in views:
            for kind, period_id in current.items():
                if _has_figures(view, period_id):
                    self._figures(families, view, kind, period_id)
            self._targets(families, view, current, now)
        for scope_kind, count in dropped.items():
            families.scopes_dropped.add_metric([scope_kind], count)
        yield from families.all()

    def _figures(self, fam: _Families, view: ScopeView, kind: str, period_id: str) -> None:
        f = figures_of(view, period_id, self.settings.tz)
        team = self._team_of(view, period_id)
        base = [view.kind, view.id, period_id, kind]
        fam.revenue.add_metric([*base, team], float(money_out(f.revenue_won) or 0.0))
        fam.deals.add_metric([*base, team, "won"], f.won)
        fam.deals.add_metric([*base, team, "lost"], f.lost)
        fam.activities.add_metric(base, f.activities_total)
        doc = f.as_document()
        for name, (group, key) in DOCUMENT_GAUGES.items():
            value = doc[group][key]
            if value is not None:  # a null figure exports no sample
                getattr(fam, name).add_metric(base, value)
        if view.kind == "team":  # per rep they are in the API: label values stay few
            self._breakdowns(fam, base, doc)
        medians = self.medians.get((team, period_id)) if view.kind == "rep" and team else None
        if medians is not None:
            q = quadrant_of(f.activities_total, f.revenue_won, medians.activities, medians.revenue)
            for name in QUADRANTS:
                fam.quadrant.add_metric([view.id, team, period_id, kind, name], int(name == q))

    def _breakdowns(self, fam: _Families, base: list[str], doc: dict[str, Any]) -> None:
        """A team's pipeline by stage and conversion by source, at most
        settings.metrics_max_breakdown stages and sources (bounded_breakdown); a null win rate
        exports no sample."""
        limit = self.settings.metrics_max_breakdown
        stages = bounded_breakdown(doc["pipeline"]["by_stage"], limit, "amount", _merge_stages)
        for stage, agg in stages.items():
            fam.stage_open_amount.add_metric([*base, stage], agg["amount"])
            fam.stage_open_count.add_metric([*base, stage], agg["count"])
        sources = bounded_breakdown(
            doc["conversion"]["by_source"], limit, "created", _merge_sources
        )
        for source, agg in sources.items():
            fam.source_created.add_metric([*base, source], agg["created"])
            if agg["win_rate"] is not None:
                fam.source_win_rate.add_metric([*base, source], agg["win_rate"])

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
            team = self._team_of(view, period_id)
            fam.attainment.add_metric([*base, team], ev.attainment)
            if ev.pace is not None:
                fam.pace.add_metric([*base, team], ev.pace)
            if ev.projected is not None:
                fam.projected.add_metric([*base, team], ev.projected / ev.target)
            for status_name in TARGET_STATUSES:
                fam.status.add_metric([*base, team, status_name], int(status_name == ev.status))
        if view.kind == "rep" and active:
            fam.target_active.add_metric([self._team_of(view, current["month"]), view.id], 1)


#: the {scope, id, period, period_kind} gauges read from the performance document (contract
#: sections 4 and 8.2): _Families field -> (group, field) of the document
DOCUMENT_GAUGES: dict[str, tuple[str, str]] = {
    "win_rate": ("deals", "win_rate"),
    "per_win": ("efficiency", "activities_per_win"),
    "per_activity": ("efficiency", "revenue_per_activity"),
    "csat": ("satisfaction", "csat_avg"),
    "nps": ("satisfaction", "nps"),
    # contract section 8.4
    "pipeline_open_amount": ("pipeline", "open_amount"),
    "conversion_win_rate": ("conversion", "win_rate"),
    "retention_rate": ("retention", "rate"),
    "customers_new": ("customers", "new"),
}


#: the stage or source label of the values beyond SALES_METRICS_MAX_BREAKDOWN, and of a stage
#: or source really named so (merged with them)
BREAKDOWN_OTHER = "other"

Breakdown = Mapping[str, Mapping[str, Any]]


def bounded_breakdown(
    values: Breakdown,
    limit: int,
    rank: str,
    merge: Callable[[list[Mapping[str, Any]]], dict[str, Any]],
) -> dict[str, Mapping[str, Any]]:
    """At most `limit` entries of a breakdown of the performance document (label value ->
    figures, e.g. pipeline.by_stage): all of them if they fit, else the `limit` - 1 with the
    largest `rank` figure (ties by name) and BREAKDOWN_OTHER, the others merged by `merge`.
    An entry really named "other" is always merged into BREAKDOWN_OTHER."""
    named = {k: v for k, v in values.items() if k != BREAKDOWN_OTHER}
    merged = [values[BREAKDOWN_OTHER]] if BREAKDOWN_OTHER in values else []
    if len(named) + bool(merged) > limit:
        ranked = sorted(named, key=lambda k: (-named[k][rank], k))
        merged += [named.pop(k) for k in ranked[limit - 1 :]]
    out: dict[str, Mapping[str, Any]] = dict(named)
    if merged:
        out[BREAKDOWN_OTHER] = merge(merged)
    return out


def _total(parts: Iterable[Mapping[str, Any]], key: str) -> float:
    """The sum of a figure of the document over `parts`, without binary float error on money
    rounded to cents."""
    return float(sum((Decimal(str(p[key])) for p in parts), Decimal(0)))


def _merge_stages(parts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """pipeline.by_stage entries merged: count and amount summed."""
    return {"count": _total(parts, "count"), "amount": _total(parts, "amount")}


def _merge_sources(parts: list[Mapping[str, Any]]) -> dict[str, Any]:
    """conversion.by_source entries merged: created and won summed, win rate recomputed."""
    created, won = _total(parts, "created"), _total(parts, "won")
    return {"created": created, "won": won, "win_rate": won / created if created else None}


def _has_figures(view: ScopeView, period_id: str) -> bool:
    """Whether the view has figures in the period: hour or day records (activities,
    feedback) or deals, closed (occurred_at), created (created_at: the cohort) or open
    (expected_close_at: the pipeline)."""
    return view.rolls_up(period_id) or any(period_id in index for index in view.deal_indexes())


def _has_current(view: ScopeView, period_ids: set[str]) -> bool:
    """Whether the view has figures or a target in one of the periods."""
    return any(_has_figures(view, period_id) for period_id in period_ids) or any(
        period in period_ids for _, period in view.targets
    )


def _rank(view: ScopeView, period_ids: set[str]) -> tuple[bool, float, str]:
    """Sort key of the views to export first: with a current target, most recent, by id."""
    latest = 0.0
    for period_id in period_ids:
        agg = view.agg(period_id)
        if agg is not None:
            latest = max(latest, agg.latest)
        for index in view.deal_indexes():
            for deal in index.get(period_id, ()):
                latest = max(latest, view.deals[deal].occurred_at)
    has_target = any(period in period_ids for _, period in view.targets)
    return (not has_target, -latest, view.id)


_LABELS = ("scope", "id", "period", "period_kind")
_T_LABELS = ("scope", "id", "metric", "period", "period_kind", "team")

#: _Families field -> (metric name, help, label names)
_GAUGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "revenue": ("sales_revenue_won", "Revenue won in the base currency", (*_LABELS, "team")),
    "deals": (
        "sales_deals",
        "Deals whose current state is won or lost",
        (*_LABELS, "team", "outcome"),
    ),
    "activities": ("sales_activities_period", "activities.total in the period", _LABELS),
    "win_rate": ("sales_win_rate", "won / (won + lost)", _LABELS),
    "per_win": ("sales_activities_per_win", "activities.total / deals.won", _LABELS),
    "per_activity": ("sales_revenue_per_activity", "revenue_won / activities.total", _LABELS),
    "csat": ("sales_csat_avg", "Mean CSAT", _LABELS),
    "nps": ("sales_nps", "Net promoter score", _LABELS),
    "pipeline_open_amount": (
        "sales_pipeline_open_amount",
        "pipeline.open_amount: open or reopened deals expected to close in the period, "
        "base currency",
        _LABELS,
    ),
    "conversion_win_rate": (
        "sales_conversion_win_rate",
        "conversion.win_rate: won / created over the deals created in the period",
        _LABELS,
    ),
    "retention_rate": (
        "sales_retention_rate",
        "retention.rate: renewals won / (renewals won + renewals lost)",
        _LABELS,
    ),
    "customers_new": (
        "sales_customers_new",
        "customers.new: accounts whose first win lies in the period and is this scope's",
        _LABELS,
    ),
    "stage_open_amount": (
        "sales_pipeline_stage_open_amount",
        "pipeline.by_stage amount: open or reopened deals of the stage expected to close in "
        'the period, base currency (stages beyond SALES_METRICS_MAX_BREAKDOWN: "other")',
        (*_LABELS, "stage"),
    ),
    "stage_open_count": (
        "sales_pipeline_stage_open_count",
        "pipeline.by_stage count: open or reopened deals of the stage expected to close in "
        'the period (stages beyond SALES_METRICS_MAX_BREAKDOWN: "other")',
        (*_LABELS, "stage"),
    ),
    "source_win_rate": (
        "sales_conversion_source_win_rate",
        "conversion.by_source win rate: won / created over the deals of the source created in "
        'the period (sources beyond SALES_METRICS_MAX_BREAKDOWN: "other")',
        (*_LABELS, "source"),
    ),
    "source_created": (
        "sales_conversion_source_created",
        "conversion.by_source created: deals of the source created in the period (sources "
        'beyond SALES_METRICS_MAX_BREAKDOWN: "other")',
        (*_LABELS, "source"),
    ),
    "attainment": ("sales_target_attainment_ratio", "actual / target", _T_LABELS),
    "pace": ("sales_target_pace_ratio", "actual / expected_by_now", _T_LABELS),
    "projected": (
        "sales_target_projected_ratio",
        "projected / target: the straight-line run rate to the period's end",
        _T_LABELS,
    ),
    "status": (
        "sales_target_status",
        "1 for the target's current status",
        (*_T_LABELS, "status"),
    ),
    "quadrant": (
        "sales_rep_quadrant",
        "1 for the rep's current activity/performance quadrant",
        ("id", "team", "period", "period_kind", "quadrant"),
    ),
    "target_active": (
        "sales_rep_target_active",
        "1 when the rep has a target in a current period",
        ("team", "rep"),
    ),
    "scopes_dropped": (
        "sales_metrics_scopes_dropped",
        "Reps or teams with figures in a current period left out of the gauges at "
        "this scrape (SALES_METRICS_MAX_SCOPES)",
        ("kind",),
    ),
}


@dataclass
class _Families:
    """The gauge families of one scrape (their names, help and labels: _GAUGES)."""

    revenue: GaugeMetricFamily
    deals: GaugeMetricFamily
    activities: GaugeMetricFamily
    win_rate: GaugeMetricFamily
    per_win: GaugeMetricFamily
    per_activity: GaugeMetricFamily
    csat: GaugeMetricFamily
    nps: GaugeMetricFamily
    pipeline_open_amount: GaugeMetricFamily
    conversion_win_rate: GaugeMetricFamily
    retention_rate: GaugeMetricFamily
    customers_new: GaugeMetricFamily
    stage_open_amount: GaugeMetricFamily
    stage_open_count: GaugeMetricFamily
    source_win_rate: GaugeMetricFamily
    source_created: GaugeMetricFamily
    attainment: GaugeMetricFamily
    pace: GaugeMetricFamily
    projected: GaugeMetricFamily
    status: GaugeMetricFamily
    quadrant: GaugeMetricFamily
    target_active: GaugeMetricFamily
    scopes_dropped: GaugeMetricFamily

    @classmethod
    def new(cls) -> _Families:
        return cls(
            **{
                field_name: GaugeMetricFamily(name, doc, labels=list(labels))
                for field_name, (name, doc, labels) in _GAUGES.items()
            }
        )

    def all(self) -> Iterator[GaugeMetricFamily]:
        yield from (getattr(self, f.name) for f in fields(self))
