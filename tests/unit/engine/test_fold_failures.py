"""No record the decoder accepts is lost in the fold, and one that raises loses nothing else.

A record whose handling raises is dead-lettered as processing_error and the rest of its
batch applies exactly as if it had never been there.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.validation import EventDecoder, Rejection
from streams.domain.vocabulary import LEADERBOARD_METRICS, PROCESSING_ERROR
from streams.engine.items import RawEvent, Tick
from streams.engine.leaderboard import LeaderboardQuery, local_entries
from streams.engine.queries import target_evaluations
from streams.worker.metrics import BusinessCollector
from streams.worker.settings import Settings
from tests.unit.engine.scope_harness import FX_PATH, Harness, activity, deal, target

EXAMPLES = Path(__file__).resolve().parents[3] / "schemas" / "examples"
KIND_OF = {"activity": "activities", "deal": "deals", "feedback": "feedback"}
NOW = datetime(2026, 11, 27, 12, tzinfo=UTC)
MONTH = "2026-11"


def broken(kind: str, payload: bytes) -> RawEvent:
    return RawEvent("rep:r1", kind, "sales." + kind, 0, 999, b"r1", payload)


@pytest.mark.parametrize("position", [0, 1, 2])
def test_a_record_that_raises_is_dead_lettered_and_the_rest_applies(position: int) -> None:
    good = [
        activity("a1", "r1", "t1", "2026-11-26T10:00:00Z", "call"),
        activity("a2", "r1", "t1", "2026-11-26T11:00:00Z", "email"),
    ]
    bad = broken("activities", b'{"event_id": "x", "occurred_at": ')
    items: list[Any] = list(good)
    items.insert(position, bad)
    h = Harness(partitions=1)
    h.run(items, NOW)
    clean = Harness(partitions=1)
    clean.run(good, NOW)
    assert [(d.raw, d.reason) for d in h.deadletters] == [(bad, PROCESSING_ERROR)]
    assert "not applied" in h.deadletters[0].detail
    for scope in ("rep:r1", "team:t1"):
        assert h.figures(scope, MONTH, NOW) == clean.figures(scope, MONTH, NOW)
    assert h.applied == clean.applied


def test_two_failing_records_in_one_batch() -> None:
    good = deal("d1", "D1", "r1", "t1", "2026-11-26T10:00:00Z", "won", 100)
    bad1 = broken("deals", b"[]")
    bad2 = broken("feedback", b'{"csat": "five"}')
    h = Harness(partitions=1)
    h.run([bad1, good, bad2], NOW)
    assert sorted(d.reason for d in h.deadletters) == [PROCESSING_ERROR, PROCESSING_ERROR]
    assert h.figures("rep:r1", MONTH, NOW)["deals"]["won"] == 1


def _decoder() -> EventDecoder:
    from streams.domain.money import FxRates

    fx = FxRates.load(FX_PATH, "USD")
    # no clock bound: examples may lie in the future of NOW
    return EventDecoder(
        known_currencies=fx.known, max_payload_bytes=65536, max_clock_skew=timedelta(days=99999)
    )


def _valid_examples() -> list[tuple[str, dict[str, Any]]]:
    out = []
    for folder, kind in KIND_OF.items():
        for path in sorted((EXAMPLES / folder / "valid").glob("*.json")):
            out.append((kind, json.loads(path.read_text())))
    return out


def _fold_accepts(kind: str, payload: bytes) -> None:
    """If the decoder accepts the payload, the fold applies it (or rejects it as late),
    with and without SALES_RETENTION (its cut, and a target of a period it dropped)."""
    decoded = _decoder().decode(kind, b"r", payload, NOW)
    if isinstance(decoded, Rejection):
        return
    for retention in (None, timedelta(days=92)):
        _fold_with(kind, payload, decoded, retention)


def _fold_with(kind: str, payload: bytes, decoded: Any, retention: timedelta | None) -> None:
    scope = "deal:" + decoded.deal_id if kind == "deals" else "rep:" + decoded.rep_id
    h = Harness(partitions=1, grace=1e12, retention=retention)
    item = RawEvent(scope, kind, "sales." + kind, 0, 1, b"r", payload)
    targets = [target("rep:" + decoded.rep_id, "revenue_won", MONTH, 1e15)]
    if retention is not None:
        targets.append(target("rep:" + decoded.rep_id, "deals_won", "0002-Q1", 1.0))
    h.run([item, *targets, Tick()], NOW)
    assert [d.reason for d in h.deadletters] == []
    assert sum(h.applied.values()) == 1
    # every read path over the result: documents, leaderboards and the metrics collector
    for s in h.scopes():
        if not s.startswith("deal:"):
            for period in (MONTH, "2026-W48", "2026-Q4"):
                h.performance(s, period, NOW)
    views = h.parts[0].views
    for scope_kind in ("rep", "team"):
        for metric in LEADERBOARD_METRICS:
            local_entries(views, LeaderboardQuery(MONTH, metric, scope_kind, None, 10))
    settings = Settings.from_env({})
    collector = BusinessCollector(
        views,
        settings,
        lambda s, now: target_evaluations(views.get(s), now=now, tz=settings.tz, at_risk_pace=0.8),
        clock=lambda: NOW,
    )
    list(collector.collect())


@pytest.mark.parametrize(("kind", "example"), _valid_examples())
def test_every_valid_example_folds(kind: str, example: dict[str, Any]) -> None:
    _fold_accepts(kind, orjson.dumps(example))


INTEGRAL_FLOATS = [
    ("activities", {"schema_version": 1.0}),
    ("feedback", {"csat": 4.0}),
    ("feedback", {"nps": 9.0, "csat": 5.0}),
    ("deals", {"schema_version": 1.0, "amount": 10.0}),
]


@pytest.mark.parametrize(("kind", "patch"), INTEGRAL_FLOATS)
def test_integral_floats_and_repeated_keys_fold(kind: str, patch: dict[str, Any]) -> None:
    base = next(e for k, e in _valid_examples() if k == kind)
    payload = orjson.dumps({**base, **patch})
    _fold_accepts(kind, payload)
    # a repeated key: JSON decoders keep the last value
    repeated = payload[:-1] + b', "event_id": "again"}'
    _fold_accepts(kind, repeated)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    case=st.sampled_from(_valid_examples()),
    field=st.sampled_from(
        ["csat", "nps", "amount", "duration_s", "schema_version", "currency", "created_at"]
    ),
    value=st.one_of(
        st.none(),
        st.integers(-3, 12),
        st.floats(allow_nan=False, allow_infinity=False),
        st.sampled_from(["USD", "EUR", "", "2026-11-01T00:00:00Z", "1e400", 1e15, 9.99e14]),
        st.booleans(),
    ),
)
def test_mutated_examples_never_break_the_fold(
    case: tuple[str, dict[str, Any]], field: str, value: Any
) -> None:
    kind, example = case
    _fold_accepts(kind, orjson.dumps({**example, field: value}))
