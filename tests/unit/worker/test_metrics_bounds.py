"""SALES_METRICS_MAX_SCOPES bounds the rep and team label values on /metrics: the gauges of
the BusinessCollector and the per-rep counter of PipelineMetrics (the last-activity gauge:
test_last_activity.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.periods import current_period_ids, rfc3339
from streams.domain.vocabulary import DEADLETTER_REASONS
from streams.worker import metrics
from streams.worker.metrics import OTHER, PipelineMetrics
from streams.worker.settings import Settings
from tests.unit.engine.scope_harness import Harness, activity, deal, target
from tests.unit.worker.business_collector import business_collector
from tests.unit.worker.two_workers import MONTH, NOW, scenario, two_workers


def samples(registry: CollectorRegistry, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            if s.name == name:
                out[tuple(sorted(s.labels.items()))] = s.value
    return out


def label_values(registry: CollectorRegistry, name: str, label: str) -> set[str]:
    return {dict(k)[label] for k in samples(registry, name)}


# -- PipelineMetrics: sales_activities_total and the last-activity gauge ------------------------


def test_activities_beyond_the_bound_are_counted_as_other() -> None:
    registry = CollectorRegistry()
    m = PipelineMetrics(registry, "w", max_scopes=2)
    for rep in ("r1", "r2", "r3", "r4", "r3"):
        m.activities.labels(team="t1", rep=rep, activity="call").inc(2)
    counts = {dict(k)["rep"]: v for k, v in samples(registry, "sales_activities_total").items()}
    assert counts == {"r1": 2.0, "r2": 2.0, OTHER: 6.0}
    dropped = samples(registry, "sales_metrics_series_dropped_total")
    assert dropped == {(("kind", "rep"),): 2.0, (("kind", "team"),): 0.0}


@pytest.mark.parametrize("cached", [100_000, 2])
def test_remembered_series_count_the_same_as_fresh_ones(
    cached: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The wrappers remember each label set's series; forgetting them (a cache of 2, cleared
    again and again) changes no count and drops no value twice."""
    monkeypatch.setattr(metrics, "MAX_CACHED_SERIES", cached)
    registry = CollectorRegistry()
    m = PipelineMetrics(registry, "w", max_scopes=2)
    for rep in ("r1", "r2", "r3", "r1", "r4", "r3", "r2", "r1"):
        for kind in ("call", "email"):
            m.activities.labels(team="t1", rep=rep, activity=kind).inc()
    counts = samples(registry, "sales_activities_total")
    assert {(dict(k)["rep"], dict(k)["activity"]): v for k, v in counts.items()} == {
        ("r1", "call"): 3.0,
        ("r1", "email"): 3.0,
        ("r2", "call"): 2.0,
        ("r2", "email"): 2.0,
        (OTHER, "call"): 3.0,
        (OTHER, "email"): 3.0,
    }
    dropped = samples(registry, "sales_metrics_series_dropped_total")
    assert dropped == {(("kind", "rep"),): 2.0, (("kind", "team"),): 0.0}


def test_teams_are_bounded_too() -> None:
    registry = CollectorRegistry()
    m = PipelineMetrics(registry, "w", max_scopes=1)
    m.activities.labels(team="t1", rep="r1", activity="call").inc()
    m.activities.labels(team="t2", rep="r1", activity="email").inc()
    assert {dict(k)["team"] for k in samples(registry, "sales_activities_total")} == {"t1", OTHER}
    dropped = samples(registry, "sales_metrics_series_dropped_total")
    assert dropped[(("kind", "team"),)] == 1.0


def test_the_default_bound_is_ten_thousand() -> None:
    registry = CollectorRegistry()
    m = PipelineMetrics(registry, "w")
    for i in range(10_001):
        m.activities.labels(team="t", rep=f"r{i}", activity="call").inc()
    reps = label_values(registry, "sales_activities_total", "rep")
    assert len(reps) == 10_001 and OTHER in reps and "r10000" not in reps


# -- BusinessCollector: the period gauges ------------------------------------------------------


def collector_of(h: Harness, part: int, max_scopes: int) -> tuple[CollectorRegistry, Any]:
    settings = Settings.from_env({"SALES_METRICS_MAX_SCOPES": str(max_scopes)})
    views = h.parts[part].views
    collector = business_collector(views, settings, lambda: NOW)
    registry = CollectorRegistry()
    registry.register(collector)
    return registry, collector


def exported(registry: CollectorRegistry, scope: str) -> set[str]:
    return {
        dict(k)["id"]
        for k in samples(registry, "sales_activities_period")
        if dict(k)["scope"] == scope
    }


def dropped_gauge(registry: CollectorRegistry) -> dict[str, float]:
    return {
        dict(k)["kind"]: v for k, v in samples(registry, "sales_metrics_scopes_dropped").items()
    }


def test_gauges_keep_every_scope_within_the_bound() -> None:
    registry, _ = collector_of(scenario(), 1, max_scopes=10)
    assert exported(registry, "team") == {"t1", "t2"}
    assert dropped_gauge(registry) == {"rep": 0.0, "team": 0.0}


def test_gauges_prefer_scopes_with_a_target_then_the_most_recent() -> None:
    """One partition, five reps: r5 has a target, r4 is the most recent, then r3."""
    h = Harness(partitions=1)
    start = NOW.replace(day=1, hour=9)
    items: list[Any] = [
        activity(f"a{i}", f"r{i}", "t1", rfc3339(start + timedelta(minutes=i)), "call")
        for i in range(1, 5)
    ]
    items += [
        activity("a5", "r5", "t2", rfc3339(start), "call"),
        deal("d5", "D5", "r5", "t2", rfc3339(start), "won", 10),
        target("rep:r5", "deals_won", MONTH, 1.0),
    ]
    h.run(items, NOW)
    registry, collector = collector_of(h, 0, max_scopes=3)
    assert exported(registry, "rep") == {"r5", "r4", "r3"}
    assert exported(registry, "team") == {"t1", "t2"}
    assert dropped_gauge(registry) == {"rep": 2.0, "team": 0.0}
    targets = samples(registry, "sales_target_attainment_ratio")
    assert {dict(k)["id"] for k in targets} == {"r5"}
    # the quadrant medians are asked for the exported reps' teams only
    wanted = collector.wanted_medians(NOW)
    assert {team for team, _ in wanted} == {"t1", "t2"}
    registry, collector = collector_of(h, 0, max_scopes=1)
    assert exported(registry, "rep") == {"r5"} and exported(registry, "team") == {"t1"}
    assert {team for team, _ in collector.wanted_medians(NOW)} == {"t2"}
    # the choice is the same at every scrape
    assert exported(registry, "rep") == {"r5"}


def test_scopes_with_nothing_current_are_not_counted_as_dropped() -> None:
    h = Harness(partitions=1)
    old = NOW - timedelta(days=200)
    assert current_period_ids(old, h.tz)["quarter"] != current_period_ids(NOW, h.tz)["quarter"]
    h.run([activity(f"o{i}", f"old{i}", "t-old", rfc3339(old), "call") for i in range(5)], old)
    h.run([activity("n1", "r1", "t1", rfc3339(NOW.replace(day=1, hour=9)), "call")], NOW)
    assert len(h.parts[0].views.scopes) == 8  # 6 reps, 2 teams
    registry, _ = collector_of(h, 0, max_scopes=1)
    assert exported(registry, "rep") == {"r1"}
    assert dropped_gauge(registry) == {"rep": 0.0, "team": 0.0}


async def test_metrics_endpoint_reports_the_bound_per_worker() -> None:
    """Through /metrics of the two in-process workers: worker 0 owns r1 (with a target) and
    r3, worker 1 owns r2 and the teams t1 and t2; with a bound of 1 each keeps one of each."""
    async with two_workers({"SALES_METRICS_MAX_SCOPES": "1"}) as clients:
        seen = []
        for client in clients:
            response = await client.get("/metrics")
            assert response.status == 200
            text = await response.text()
            families = {f.name: f for f in text_string_to_metric_families(text)}
            values = {
                (s.labels["scope"], s.labels["id"])
                for s in families["sales_activities_period"].samples
            }
            dropped = {
                s.labels["kind"]: s.value for s in families["sales_metrics_scopes_dropped"].samples
            }
            seen.append((values, dropped))
    assert seen[0] == ({("rep", "r1")}, {"rep": 1.0, "team": 0.0})
    assert seen[1] == ({("rep", "r2"), ("team", "t1")}, {"rep": 0.0, "team": 1.0})


def test_batch_histogram_matches_prometheus_histogram() -> None:
    """The event-lag histogram filled per batch reads exactly like prometheus_client's."""
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from streams.worker.metrics import BatchHistogram

    values = [0.0, 0.05, 0.07, 1.0, 3.0, 86400.0, 1e9]
    bounds = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400)
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    batch = BatchHistogram("lag_seconds", "doc", bounds)
    ours.register(batch)
    batch.observe_many(values[:3])
    batch.observe_many(values[3:])
    reference = Histogram("lag_seconds", "doc", buckets=bounds, registry=theirs)
    for value in values:
        reference.observe(value)

    def samples(registry: CollectorRegistry) -> list[str]:
        return [
            line
            for line in generate_latest(registry).decode().splitlines()
            if line.startswith("lag_seconds_") and "_created" not in line
        ]

    assert samples(ours) == samples(theirs)


def test_input_counters_are_exported_at_zero_from_the_start() -> None:
    """A series born at its first increment starts at 1, which rate() never counts: every
    (topic, reason) of sales_events_rejected_total is there at 0 before any reject."""
    registry = CollectorRegistry()
    m = PipelineMetrics(registry, "w")
    m.start_at_zero(("a", "d", "f"), "t")
    rejected = samples(registry, "sales_events_rejected_total")
    assert len(rejected) == 4 * len(DEADLETTER_REASONS) == 32
    assert set(rejected.values()) == {0.0}
    assert label_values(registry, "sales_events_processed_total", "topic") == {"a", "d", "f", "t"}
    assert label_values(registry, "sales_events_duplicate_total", "topic") == {"a", "d", "f"}
    m.rejected.labels(topic="a", reason="late_event").inc()
    assert (
        samples(registry, "sales_events_rejected_total")[(("reason", "late_event"), ("topic", "a"))]
        == 1.0
    )


def test_event_lag_buckets_reach_past_the_default_late_grace() -> None:
    """An event applied days after it happened (a replay within the grace) falls in a
    bucket of its own size: with a day as the last bound every quantile read one day."""
    from streams.worker.metrics import EVENT_LAG_BUCKETS
    from streams.worker.settings import Settings

    grace = Settings.from_env({}).late_grace.total_seconds()
    assert list(EVENT_LAG_BUCKETS) == sorted(set(EVENT_LAG_BUCKETS))
    assert any(bound >= grace for bound in EVENT_LAG_BUCKETS)
    assert sum(3 * 86400 < bound <= grace for bound in EVENT_LAG_BUCKETS) >= 2
