"""The period gauges of contract section 8.4 on /metrics: sales_pipeline_open_amount,
sales_conversion_win_rate, sales_retention_rate and sales_customers_new, per scope and current
period, with the values of section 8.2 computed from deals carrying the section 8.1 fields;
and the breakdown gauges (pipeline by stage, conversion by source), whose stage and source
labels are bounded by SALES_METRICS_MAX_BREAKDOWN (the rest summed under "other").

The collector reads them from the performance document (`figures_of(...).as_document()`), so
these tests go through the engine: deals are played through the scope harness, and the gauges
must equal the contract's figures worked out by hand below.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from streams.domain.periods import current_period_ids, rfc3339
from streams.engine.queries import figures_of
from streams.engine.rollups import Views
from streams.worker import metrics
from streams.worker.metrics import BREAKDOWN_OTHER, BusinessCollector, bounded_breakdown
from streams.worker.settings import Settings
from tests.unit.engine.scope_harness import DAY, Harness, activity, deal
from tests.unit.worker.business_collector import business_collector
from tests.unit.worker.two_workers import NOW

#: the wall clock of these tests: ten minutes into NOW's hour, so every event below (NOW plus
#: a few seconds) is today, in the past, and in the same day, week, month and quarter
WALL = NOW + timedelta(minutes=10)
KINDS = ("day", "week", "month", "quarter")
V2_GAUGES = (
    "sales_pipeline_open_amount",
    "sales_conversion_win_rate",
    "sales_retention_rate",
    "sales_customers_new",
)
LABELS = {"scope", "id", "period", "period_kind"}
#: the breakdown gauges -> their extra label
BREAKDOWN_GAUGES = {
    "sales_pipeline_stage_open_amount": "stage",
    "sales_pipeline_stage_open_count": "stage",
    "sales_conversion_source_win_rate": "source",
    "sales_conversion_source_created": "source",
}


def at(seconds: int) -> str:
    return rfc3339(NOW + timedelta(seconds=seconds))


def ago(days: float) -> str:
    return rfc3339(NOW - timedelta(days=days))


def scrape(
    h: Harness, part: int = 0, max_scopes: int = 100, max_breakdown: int = 20, ready: bool = True
) -> dict[str, dict[Any, float]]:
    """metric name -> {(scope, id, period_kind): value} of one scrape of partition `part`
    ({(scope, id, period_kind, stage or source): value} for the breakdown gauges)."""
    settings = Settings.from_env(
        {
            "SALES_METRICS_MAX_SCOPES": str(max_scopes),
            "SALES_METRICS_MAX_BREAKDOWN": str(max_breakdown),
        }
    )
    views = h.parts[part].views
    collector = business_collector(views, settings, lambda: WALL, ready=lambda: ready)
    if not ready:  # nor does it ask peers for the medians of its quadrants
        assert collector.wanted_medians(WALL) == set()
    registry = CollectorRegistry()
    registry.register(collector)
    current = current_period_ids(WALL, settings.tz)
    out: dict[str, dict[Any, float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for s in family.samples:
            if s.name in V2_GAUGES or s.name == "sales_activities_period":
                assert set(s.labels) == LABELS, (s.name, s.labels)
                assert s.labels["period"] == current[s.labels["period_kind"]]
                key = (s.labels["scope"], s.labels["id"], s.labels["period_kind"])
                out.setdefault(s.name, {})[key] = s.value
            elif s.name in BREAKDOWN_GAUGES:
                extra = BREAKDOWN_GAUGES[s.name]
                assert set(s.labels) == LABELS | {extra}, (s.name, s.labels)
                assert s.labels["period"] == current[s.labels["period_kind"]]
                key = (s.labels["scope"], s.labels["id"], s.labels["period_kind"], s.labels[extra])
                out.setdefault(s.name, {})[key] = s.value
    return out


def played(items: list[Any]) -> Harness:
    """The items through a one-partition harness whose grace admits deals 100 days old."""
    h = Harness(partitions=1, grace=200 * DAY)
    h.run(items, WALL)
    assert not h.deadletters, h.deadletters
    return h


def book() -> list[Any]:
    """Rep r1 and r2 of team t1. In every current period (all of it happens today):

    r1  D0 won 100 days ago, account A1 (A1's first win: before every current period)
        D1 won 1000 USD, renewal, account A1, created today      -> renewal won, A1 repeat
        D2 lost, renewal, account A2, created today              -> renewal lost
        D3 won 500 USD, account A3, created 100 days ago         -> A3's first win: new
        D4 open 2000 USD, stage proposal, closes today, created today      -> pipeline
        D5 open 300 USD, closes in 200 days, created today       -> cohort, not pipeline
        D6 won 100 USD then reopened, closes today, created today -> pipeline, cohort open
        D7 won 50 USD, account A3, later than D3                 -> A3 still counted once
    r2  D8 open 400 USD, no created_at, closes today             -> pipeline only

    r1: pipeline 2000 + 100 = 2100; cohort D1 D2 D4 D5 D6 (created 5, won 1) -> 0.2;
        renewals 1 won, 1 lost -> 0.5; new customers: A3 -> 1 (A1's first win is D0).
    r2: pipeline 400; no cohort, no renewals (null: no sample); new customers 0.
    t1: pipeline 2500; cohort 0.2; retention 0.5; new customers 1.
    """
    today = rfc3339(NOW)
    closes = rfc3339(NOW + timedelta(minutes=5))
    return [
        deal("e0", "D0", "r1", "t1", ago(100), "won", 70, account_id="A1"),
        deal(
            "e1",
            "D1",
            "r1",
            "t1",
            at(10),
            "won",
            1000,
            kind="renewal",
            account_id="A1",
            created_at=today,
        ),
        deal(
            "e2",
            "D2",
            "r1",
            "t1",
            at(20),
            "lost",
            kind="renewal",
            account_id="A2",
            created_at=today,
        ),
        deal("e3", "D3", "r1", "t1", at(30), "won", 500, account_id="A3", created_at=ago(100)),
        deal(
            "e4",
            "D4",
            "r1",
            "t1",
            at(40),
            "open",
            2000,
            stage="proposal",
            expected_close_at=closes,
            created_at=today,
        ),
        deal(
            "e5",
            "D5",
            "r1",
            "t1",
            at(50),
            "open",
            300,
            stage="qualification",
            expected_close_at=rfc3339(NOW + timedelta(days=200)),
            created_at=today,
        ),
        deal("e6", "D6", "r1", "t1", at(60), "won", 100, created_at=today),
        deal(
            "e6b",
            "D6",
            "r1",
            "t1",
            at(70),
            "reopened",
            100,
            expected_close_at=closes,
            created_at=today,
        ),
        deal("e7", "D7", "r1", "t1", at(80), "won", 50, account_id="A3", created_at=ago(100)),
        deal("e8", "D8", "r2", "t1", at(90), "open", 400, expected_close_at=closes),
        activity("a1", "r1", "t1", at(5), "call"),
    ]


#: gauge -> (r1, r2, t1), as worked out in book()'s docstring; None: no sample
EXPECTED_VALUES: dict[str, tuple[float | None, float | None, float | None]] = {
    "sales_pipeline_open_amount": (2100.0, 400.0, 2500.0),
    "sales_conversion_win_rate": (0.2, None, 0.2),
    "sales_retention_rate": (0.5, None, 0.5),
    "sales_customers_new": (1.0, 0.0, 1.0),
}
SCOPES = (("rep", "r1"), ("rep", "r2"), ("team", "t1"))
EXPECTED = {
    gauge: dict(zip(SCOPES, values, strict=True)) for gauge, values in EXPECTED_VALUES.items()
}


def test_the_families_and_their_definitions_agree() -> None:
    assert set(metrics._GAUGES) == {f.name for f in fields(metrics._Families)}
    names = {name for name, _, _ in metrics._GAUGES.values()}
    assert set(V2_GAUGES) <= names
    for field_name in metrics.DOCUMENT_GAUGES:  # labelled like sales_win_rate
        assert set(metrics._GAUGES[field_name][2]) == LABELS, field_name


@pytest.mark.parametrize("gauge", V2_GAUGES)
def test_v2_gauges_have_the_contract_figures(gauge: str) -> None:
    got = scrape(played(book())).get(gauge, {})
    want = {
        (scope, ident, kind): value
        for (scope, ident), value in EXPECTED[gauge].items()
        for kind in KINDS
        if value is not None  # a null figure exports no sample
    }
    assert got == pytest.approx(want), gauge


def test_nothing_is_exported_while_the_views_are_rebuilt() -> None:
    """Half-built views would export wrong figures: a scrape during a rebuild has no
    business gauge (Runtime.rebuild_views), and the next one has them all again."""
    h = played(book())
    assert scrape(h)["sales_activities_period"]
    assert scrape(h, ready=False) == {}


def test_a_null_figure_exports_no_sample_but_a_zero_does() -> None:
    got = scrape(played(book()))
    # r2 has figures (its open deal) in every current period ...
    assert {k for k in got["sales_pipeline_open_amount"] if k[1] == "r2"} == {
        ("rep", "r2", kind) for kind in KINDS
    }
    # ... no cohort and no renewal: no sample, while its 0 new customers are one
    assert not any(k[1] == "r2" for k in got.get("sales_conversion_win_rate", {}))
    assert not any(k[1] == "r2" for k in got.get("sales_retention_rate", {}))
    assert got["sales_customers_new"][("rep", "r2", "month")] == 0.0


def test_gauges_before_any_v2_field_are_zero_or_absent() -> None:
    """Only a won deal without the 8.1 fields: pipeline 0 and no new customer (no account);
    no cohort (no created_at) and no renewal: no conversion or retention sample."""
    got = scrape(played([deal("e1", "D1", "r1", "t1", at(10), "won", 10)]))
    for kind in KINDS:
        assert got["sales_pipeline_open_amount"][("rep", "r1", kind)] == 0.0
        assert got["sales_customers_new"][("team", "t1", kind)] == 0.0
    assert "sales_conversion_win_rate" not in got and "sales_retention_rate" not in got


def test_a_correction_moves_the_gauges() -> None:
    """A later event for D4 (won) takes it out of the pipeline; D1 lost turns the renewal
    rate to 0 and A1 no longer counts as won in the period."""
    h = played(book())
    h.run(
        [
            deal(
                "e4b",
                "D4",
                "r1",
                "t1",
                at(100),
                "won",
                2000,
                stage="proposal",
                created_at=rfc3339(NOW),
            ),
            deal(
                "e1b",
                "D1",
                "r1",
                "t1",
                at(110),
                "lost",
                kind="renewal",
                account_id="A1",
                created_at=rfc3339(NOW),
            ),
        ],
        WALL,
    )
    got = scrape(h)
    month = ("rep", "r1", "month")
    assert got["sales_pipeline_open_amount"][month] == pytest.approx(100.0)  # D6 only
    assert got["sales_retention_rate"][month] == 0.0  # 0 won / (0 + 2) lost
    # cohort D1 D2 D4 D5 D6: D4 is now won, D1 lost -> 1 / 5
    assert got["sales_conversion_win_rate"][month] == pytest.approx(0.2)
    assert got["sales_customers_new"][month] == 1.0  # A3


def test_an_open_deal_of_an_earlier_period_counts_in_the_pipeline_of_its_close() -> None:
    """r3's only deal was opened 40 days ago (an earlier month) and is expected to close
    today: the current month's pipeline of r3 and of its team has it."""
    h = played([deal("e1", "D9", "r3", "t3", ago(40), "open", 800, expected_close_at=at(120))])
    got = scrape(h)
    for scope, ident in (("rep", "r3"), ("team", "t3")):
        assert got["sales_pipeline_open_amount"][(scope, ident, "month")] == 800.0
        assert got["sales_pipeline_open_amount"][(scope, ident, "day")] == 800.0


def test_v2_gauges_respect_the_scope_bound() -> None:
    """SALES_METRICS_MAX_SCOPES=1: the new gauges cover the same one rep and one team as the
    other period gauges (r1, the most recently active, since no rep has a target)."""
    items = [*book(), activity("a9", "r1", "t1", at(200), "call")]
    got = scrape(played(items), max_scopes=1)
    exported = {k[:2] for k in got["sales_activities_period"]}
    assert exported == {("rep", "r1"), ("team", "t1")}
    for gauge in ("sales_pipeline_open_amount", "sales_customers_new"):
        assert {k[:2] for k in got[gauge]} == exported, gauge


# ------------------------------------------------ pipeline by stage, conversion by source


def breakdown_book() -> list[Any]:
    """Rep r1 and r2 of team t1; every deal created today, the open ones closing today.

    r1  P1 open 1000 USD, proposal, referral     P2 open 500 USD, proposal, webinar
        P3 open 300 USD, negotiation, referral   P4 open, no amount, qualification, ads
        W1 won 200 USD, referral
    r2  P5 open 700 USD, negotiation, source "other" (a real source named so)
        P6 open 50 USD, no stage, no source (-> "unknown")
        W2 won 100 USD, webinar                  L1 lost, ads

    pipeline.by_stage  r1: proposal 2 / 1500, negotiation 1 / 300, qualification 1 / 0
                       r2: negotiation 1 / 700, unknown 1 / 50
                       t1: proposal 2 / 1500, negotiation 2 / 1000, qualification 1 / 0,
                           unknown 1 / 50
    conversion.by_source (created, won)
                       r1: referral 3, 1; webinar 1, 0; ads 1, 0
                       r2: other 1, 0; webinar 1, 1; ads 1, 0; unknown 1, 0
                       t1: referral 3, 1; webinar 2, 1; ads 2, 0; other 1, 0; unknown 1, 0
    """
    today = rfc3339(NOW)
    closes = rfc3339(NOW + timedelta(minutes=5))

    def opened(event: str, ident: str, rep: str, n: int, amount: float | None, **kw: Any) -> Any:
        return deal(
            event,
            ident,
            rep,
            "t1",
            at(n),
            "open",
            amount,
            created_at=today,
            expected_close_at=closes,
            **kw,
        )

    return [
        opened("b1", "P1", "r1", 10, 1000, stage="proposal", source="referral"),
        opened("b2", "P2", "r1", 20, 500, stage="proposal", source="webinar"),
        opened("b3", "P3", "r1", 30, 300, stage="negotiation", source="referral"),
        opened("b4", "P4", "r1", 40, None, stage="qualification", source="ads"),
        deal("b5", "W1", "r1", "t1", at(50), "won", 200, created_at=today, source="referral"),
        opened("b6", "P5", "r2", 60, 700, stage="negotiation", source="other"),
        opened("b7", "P6", "r2", 70, 50),
        deal("b8", "W2", "r2", "t1", at(80), "won", 100, created_at=today, source="webinar"),
        deal("b9", "L1", "r2", "t1", at(90), "lost", created_at=today, source="ads"),
    ]


def breakdowns(got: dict[str, dict[Any, float]], gauge: str, scope: str, ident: str) -> Any:
    """{label value: value} of one breakdown gauge of one scope in the current month, after
    checking that every period kind has the same (all of it happens today)."""
    per_kind = {
        kind: {k[3]: v for k, v in got.get(gauge, {}).items() if k[:3] == (scope, ident, kind)}
        for kind in KINDS
    }
    assert all(values == per_kind["month"] for values in per_kind.values()), per_kind
    return per_kind["month"]


def test_breakdown_gauges_have_the_document_figures() -> None:
    got = scrape(played(breakdown_book()))
    # t1 = r1 + r2 (r1: proposal 1500 (2 deals), negotiation 300, qualification 0; r2:
    # negotiation 700, no stage 50; sources r1: referral 3, webinar 1, ads 1; r2: other 1,
    # webinar 1, ads 1, none 1)
    want = {
        "sales_pipeline_stage_open_amount": {
            "proposal": 1500.0,
            "negotiation": 1000.0,
            "qualification": 0.0,
            "unknown": 50.0,
        },
        "sales_pipeline_stage_open_count": {
            "proposal": 2,
            "negotiation": 2,
            "qualification": 1,
            "unknown": 1,
        },
        "sales_conversion_source_created": {
            "referral": 3,
            "webinar": 2,
            "ads": 2,
            "other": 1,
            "unknown": 1,
        },
        "sales_conversion_source_win_rate": {
            "referral": 1 / 3,
            "webinar": 0.5,
            "ads": 0.0,
            "other": 0.0,
            "unknown": 0.0,
        },
    }
    for gauge, values in want.items():
        assert breakdowns(got, gauge, "team", "t1") == pytest.approx(values), gauge
        # per rep they are in the API only: a gauge per rep and stage would multiply series
        assert breakdowns(got, gauge, "rep", "r1") == {}, gauge
        assert breakdowns(got, gauge, "rep", "r2") == {}, gauge


def test_breakdown_gauges_equal_the_performance_documents() -> None:
    """For every scope and current period, the gauges are the document's by_stage and
    by_source (the API's and sales.performance's figures), entry for entry."""
    h = played([*book(), *breakdown_book()])
    got = scrape(h)
    views = h.parts[0].views
    current = current_period_ids(WALL, Settings().tz)
    for view in views.scopes.values():
        for kind, period_id in current.items():
            doc = figures_of(view, period_id, Settings().tz).as_document()
            key = (view.kind, view.id, kind)
            by_stage = doc["pipeline"]["by_stage"]
            by_source = doc["conversion"]["by_source"]
            for gauge, want in (
                ("sales_pipeline_stage_open_amount", {k: v["amount"] for k, v in by_stage.items()}),
                ("sales_pipeline_stage_open_count", {k: v["count"] for k, v in by_stage.items()}),
                (
                    "sales_conversion_source_created",
                    {k: v["created"] for k, v in by_source.items()},
                ),
                (
                    "sales_conversion_source_win_rate",
                    {k: v["win_rate"] for k, v in by_source.items() if v["win_rate"] is not None},
                ),
            ):
                values = {k[3]: v for k, v in got.get(gauge, {}).items() if k[:3] == key}
                assert values == pytest.approx(want if view.kind == "team" else {}), (gauge, key)


def test_the_bound_merges_the_smallest_into_other() -> None:
    """SALES_METRICS_MAX_BREAKDOWN=3: at most 3 stages and 3 sources per scope and period.

    t1's stages by amount: proposal 1500, negotiation 1000, unknown 50, qualification 0 ->
    proposal, negotiation and "other" = unknown + qualification (2 deals, 50).
    t1's sources by created: referral 3, then ads 2 and webinar 2 (tie: by name, ads first),
    unknown 1, and the real source "other" 1 -> referral, ads and "other" = webinar +
    unknown + other: created 4, won 1, win rate 1 / 4 (recomputed, not a mean of rates)."""
    got = scrape(played(breakdown_book()), max_breakdown=3)
    t1 = ("team", "t1")
    assert breakdowns(got, "sales_pipeline_stage_open_amount", *t1) == {
        "proposal": 1500.0,
        "negotiation": 1000.0,
        "other": 50.0,
    }
    assert breakdowns(got, "sales_pipeline_stage_open_count", *t1) == {
        "proposal": 2,
        "negotiation": 2,
        "other": 2,
    }
    assert breakdowns(got, "sales_conversion_source_created", *t1) == {
        "referral": 3,
        "ads": 2,
        "other": 4,
    }
    assert breakdowns(got, "sales_conversion_source_win_rate", *t1) == pytest.approx(
        {"referral": 1 / 3, "ads": 0.0, "other": 0.25}
    )


def test_a_bound_of_one_merges_everything() -> None:
    got = scrape(played(breakdown_book()), max_breakdown=1)
    assert breakdowns(got, "sales_pipeline_stage_open_amount", "team", "t1") == {"other": 2550.0}
    assert breakdowns(got, "sales_pipeline_stage_open_count", "team", "t1") == {"other": 6}
    assert breakdowns(got, "sales_conversion_source_created", "team", "t1") == {"other": 9}
    assert breakdowns(got, "sales_conversion_source_win_rate", "team", "t1") == pytest.approx(
        {"other": 2 / 9}
    )


def test_a_real_other_merges_with_the_rest_and_money_sums_exactly() -> None:
    stages = {
        "other": {"count": 1, "amount": 0.1},
        "a": {"count": 1, "amount": 0.2},
        "b": {"count": 1, "amount": 9.0},
        "c": {"count": 2, "amount": 0.2},
    }
    got = bounded_breakdown(stages, 2, "amount", metrics._merge_stages)
    # b keeps its own; a and c (tied at 0.2) and the real "other" are merged
    assert got == {"b": stages["b"], BREAKDOWN_OTHER: {"count": 4, "amount": 0.5}}
    assert got[BREAKDOWN_OTHER]["amount"] == 0.5  # not 0.1 + 0.2 + 0.2 in binary floats
    # within the bound, the real "other" stays as it is (one of the `limit` label values)
    assert bounded_breakdown(stages, 4, "amount", metrics._merge_stages) == {
        **stages,
        BREAKDOWN_OTHER: {"count": 1, "amount": 0.1},
    }
    assert bounded_breakdown({}, 1, "amount", metrics._merge_stages) == {}


def test_a_null_win_rate_exports_no_sample() -> None:
    """A source whose win rate is null (no deal created) exports its created count but no
    win rate, and so does "other" when the merged sources created nothing."""
    empty = {"created": 0, "won": 0, "win_rate": None}
    doc = {"pipeline": {"by_stage": {}}, "conversion": {"by_source": {"x": empty, "y": empty}}}
    for limit, sources in ((20, {"x", "y"}), (1, {"other"})):
        settings = Settings.from_env({"SALES_METRICS_MAX_BREAKDOWN": str(limit)})
        collector = BusinessCollector(Views(settings.tz), settings, lambda scope, now: [])
        fam = metrics._Families.new()
        collector._breakdowns(fam, ["team", "t1", "2024-05", "month"], doc)
        assert fam.source_win_rate.samples == []
        created = {s.labels["source"]: s.value for s in fam.source_created.samples}
        assert created == dict.fromkeys(sources, 0)
        assert fam.stage_open_amount.samples == fam.stage_open_count.samples == []


def test_breakdown_gauges_follow_the_scope_bound() -> None:
    """SALES_METRICS_MAX_SCOPES=1 and the rep label: the breakdown gauges cover the same
    scopes as the other period gauges."""
    items = [*breakdown_book(), activity("a9", "r1", "t1", at(200), "call")]
    got = scrape(played(items), max_scopes=1)
    exported = {k[:2] for k in got["sales_activities_period"] if k[0] == "team"}
    assert exported
    for gauge in BREAKDOWN_GAUGES:
        assert {k[:2] for k in got.get(gauge, {})} == exported, gauge
