"""The Python publisher API: records checked on construction by the worker's own decoder."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.domain import events
from streams.domain.validation import decode_payload
from streams.tools.producer import KafkaUnavailable
from streams.tools.publisher import (
    Activity,
    CheckedEvent,
    Deal,
    Feedback,
    InvalidEvent,
    Publisher,
    Target,
    in_send_order,
)
from streams.worker.settings import Settings

T0 = "2026-11-27T10:00:00Z"
WHO = {"rep_id": "s01", "team_id": "t-smb"}


def test_a_valid_activity_carries_its_payload_key_and_decoded_value() -> None:
    call = Activity(**WHO, activity="call", occurred_at=T0, duration_s=300, event_id="e-1")
    assert call.kind == "activities"
    assert call.key == "s01"
    assert call.to_dict() == {
        "event_id": "e-1",
        "occurred_at": T0,
        "rep_id": "s01",
        "team_id": "t-smb",
        "activity": "call",
        "duration_s": 300,
    }
    assert isinstance(call.value, events.Activity)
    assert call.value.duration_s == 300.0
    assert call.occurred_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
    # what is sent is what the worker's ingestion accepts, by the very same decoder
    assert decode_payload("activities", call.payload) == call.value


def test_event_ids_default_to_fresh_uuids() -> None:
    one = Activity(**WHO, activity="email", occurred_at=T0)
    two = Activity(**WHO, activity="email", occurred_at=T0)
    assert len(one.value.event_id) == 36
    assert one.value.event_id != two.value.event_id


@pytest.mark.parametrize(
    ("build", "field", "words"),
    [
        (
            lambda: Activity(**WHO, event_id="", activity="call", occurred_at=T0),
            "event_id",
            "length >= 1",
        ),
        (
            lambda: Activity(**WHO, activity="nonsense", occurred_at=T0),
            "activity",
            "expected one of call, email",
        ),
        (
            lambda: Activity(**WHO, activity="call", occurred_at="2026-11-27T10:00:00"),
            "occurred_at",
            "offset is missing",
        ),
        (
            lambda: Activity(**WHO, activity="call", occurred_at=datetime(2026, 11, 27)),
            "occurred_at",
            "offset is missing",
        ),
        (
            lambda: Activity(**WHO, activity="call", occurred_at=T0, duration_s=-1),
            "duration_s",
            ">= 0",
        ),
        (
            lambda: Deal(**WHO, deal_id="d1", outcome="won", occurred_at=T0),
            "amount",
            "required when outcome is won",
        ),
        (
            lambda: Deal(**WHO, deal_id="d1", outcome="won", amount=10, occurred_at=T0),
            "currency",
            "required when amount is given",
        ),
        (
            lambda: Deal(**WHO, deal_id="d1", outcome="lost", currency="eur", occurred_at=T0),
            "currency",
            "[A-Z]{3}",
        ),
        (lambda: Feedback(**WHO, occurred_at=T0, csat=6), "csat", "<= 5"),
        (lambda: Feedback(**WHO, occurred_at=T0), None, "at least one of csat or nps"),
        (
            lambda: Target(
                scope="rep", scope_id="s01", metric="revenue", period="2026-11", value=5
            ),
            "metric",
            "must be revenue_won",
        ),
        (
            lambda: Target(
                scope="rep", scope_id="s01", metric="deals_won", period="2026-13", value=5
            ),
            "period",
            "must be a real day",
        ),
        (
            lambda: Target(
                scope="crew", scope_id="s01", metric="deals_won", period="2026-11", value=5
            ),
            "scope",
            "expected one of rep, team",
        ),
        (
            lambda: Target(
                scope="rep", scope_id="s01", metric="deals_won", period="2026-11", value=0
            ),
            "value",
            "> 0",
        ),
    ],
)
def test_invalid_records_raise_a_value_error_naming_field_and_rule(
    build: Any, field: str | None, words: str
) -> None:
    with pytest.raises(ValueError, match="invalid") as caught:
        build()
    error = caught.value
    assert isinstance(error, InvalidEvent)
    assert error.reason == "schema_violation"
    assert error.field == field
    assert words in str(error)
    if field is not None:
        assert f"$.{field}" in str(error)


def test_deals_take_aware_datetimes_and_decimals() -> None:
    closed = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
    deal = Deal(
        **WHO,
        deal_id="d-42",
        outcome="won",
        amount=Decimal("12000.50"),
        currency="EUR",
        occurred_at=closed,
        created_at=closed - timedelta(days=30),
    )
    assert deal.value.amount == 12000.5
    assert deal.value.created_at == closed - timedelta(days=30)
    assert deal.key == "s01"


def test_targets_are_keyed_by_scope_id_metric_and_period() -> None:
    quota = Target(
        scope="team", scope_id="t-smb", metric="activities.demo", period="2026-Q4", value=40
    )
    assert quota.kind == "targets"
    assert quota.key == "team:t-smb:activities.demo:2026-Q4"
    assert quota.occurred_at is None
    assert isinstance(quota.value, events.TargetCommand) and quota.value.value == 40


def test_from_dict_and_from_json_use_the_same_rules() -> None:
    fields = {"event_id": "f1", "occurred_at": T0, **WHO, "nps": 9, "csat": None}
    feedback = Feedback.from_dict(fields)
    assert "csat" not in feedback.to_dict(), "None is absent"
    raw = (
        b'{"event_id":"f1","occurred_at":"2026-11-27T10:00:00Z",'
        b'"rep_id":"s01","team_id":"t","csat":4.0}'
    )
    assert Feedback.from_json(raw).value.csat == 4, "an integral float is an integer"
    assert Feedback.from_json(raw).payload == raw, "sent byte for byte"
    with pytest.raises(InvalidEvent, match=r"\$.csat"):
        Feedback.from_json(raw.replace(b"4.0", b"4.5"))
    with pytest.raises(InvalidEvent) as caught:
        Activity.from_json(b"{not json")
    assert caught.value.reason == "invalid_json"
    with pytest.raises(InvalidEvent) as caught:
        Deal.from_dict(
            {
                **fields,
                "deal_id": "d",
                "outcome": "won",
                "amount": 1,
                "currency": "USD",
                "schema_version": 2,
            }
        )
    assert caught.value.reason == "unsupported_schema_version"


def test_send_order_puts_targets_first_then_event_time_keeping_ties_in_order() -> None:
    late = Activity(**WHO, activity="call", occurred_at="2026-11-27T12:00:00Z", event_id="late")
    early = Feedback(**WHO, nps=9, occurred_at="2026-11-27T09:00:00+00:00", event_id="early")
    # 10:30 at +01:00 is 09:30 UTC: compared as instants, not as text
    offset = Activity(
        **WHO, activity="demo", occurred_at="2026-11-27T10:30:00+01:00", event_id="mid"
    )
    tie = Activity(**WHO, activity="email", occurred_at="2026-11-27T09:30:00Z", event_id="tie")
    quota = Target(scope="rep", scope_id="s01", metric="deals_won", period="2026-11", value=3)
    ordered = in_send_order([late, offset, quota, tie, early])
    names = [e.key if isinstance(e, Target) else e.value.event_id for e in ordered]  # type: ignore[union-attr]
    assert names == ["rep:s01:deals_won:2026-11", "early", "mid", "tie", "late"]


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")  # nothing listens: never reached here
    return Settings.from_env()


def test_publisher_check_applies_the_rules_that_need_settings(settings: Settings) -> None:
    publisher = Publisher(settings)
    far = datetime.now(UTC) + timedelta(hours=3)
    future = Activity(**WHO, activity="call", occurred_at=far)
    with pytest.raises(InvalidEvent) as caught:
        publisher.check(future)
    assert caught.value.reason == "future_event_time"
    odd = Deal(**WHO, deal_id="d", outcome="won", amount=5, currency="XYZ", occurred_at=T0)
    with pytest.raises(InvalidEvent) as caught:
        publisher.check(odd)
    assert caught.value.reason == "unknown_currency" and caught.value.field == "currency"
    fine = Deal(**WHO, deal_id="d", outcome="won", amount=5, currency="EUR", occurred_at=T0)
    assert publisher.check(fine) == fine
    assert publisher.outgoing(fine) == ("sales.deals", b"s01", fine.payload)


def test_publisher_uses_the_configured_fx_rates_and_topic_names(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rates = tmp_path / "fx.json"
    rates.write_text('{"USD": 1, "XYZ": 0.5}')
    monkeypatch.setenv("SALES_FX_RATES", str(rates))
    monkeypatch.setenv("SALES_TOPIC_DEALS", "crm.deals")
    publisher = Publisher(Settings.from_env())
    deal = Deal(**WHO, deal_id="d", outcome="won", amount=5, currency="XYZ", occurred_at=T0)
    assert publisher.outgoing(publisher.check(deal))[0] == "crm.deals"
    with pytest.raises(InvalidEvent, match="'EUR' is not a known currency"):
        publisher.check(
            Deal(**WHO, deal_id="d", outcome="won", amount=5, currency="EUR", occurred_at=T0)
        )


def test_publisher_without_a_broker_says_so(settings: Settings) -> None:
    async def go() -> None:
        async with Publisher(settings) as publisher:
            await publisher.send(Activity(**WHO, activity="call", occurred_at=T0))

    with pytest.raises(KafkaUnavailable, match="make kafka-up"):
        asyncio.run(go())


def test_send_many_refuses_the_whole_batch_before_sending(settings: Settings) -> None:
    from streams.tools.publisher import InvalidEvents

    good = Activity(**WHO, activity="call", occurred_at=T0)
    future = Activity(**WHO, activity="call", occurred_at=datetime.now(UTC) + timedelta(days=1))
    sent: list[Any] = []

    class Recorder(Publisher):
        async def _send(self, events: Any, rate: Any = None, progress: Any = None) -> int:
            sent.extend(events)
            return len(sent)

    recorder = Recorder(settings, create_topics=False)
    with pytest.raises(InvalidEvents) as caught:
        asyncio.run(recorder.send_many([good, future, good]))
    assert [index for index, _ in caught.value.errors] == [1]
    assert "record 1: invalid activity: $.occurred_at" in str(caught.value)
    assert sent == []
    quota = Target(scope="rep", scope_id="s01", metric="deals_won", period="2026-11", value=3)
    assert asyncio.run(recorder.send_many([good, quota])) == {"targets": 1, "activities": 1}
    assert sent == [quota, good]


def test_checked_events_compare_by_what_is_sent() -> None:
    a = Activity(**WHO, activity="call", occurred_at=T0, event_id="x")
    b = Activity.from_json(a.payload)
    assert a == b and hash(a) == hash(b) and isinstance(a, CheckedEvent)
    assert orjson.loads(a.payload)["event_id"] == "x"
    assert "Activity.from_json" in repr(a)


def test_deal_takes_the_section_8_fields_and_validates_them() -> None:
    from streams.domain.checked_events import Deal, InvalidEvent

    deal = Deal(
        rep_id="r1",
        team_id="t1",
        deal_id="D9",
        outcome="open",
        occurred_at="2026-11-27T10:00:00Z",
        stage="proposal",
        expected_close_at="2026-12-15T17:00:00+01:00",
        kind="renewal",
    )
    assert deal.value.stage == "proposal" and deal.value.kind == "renewal"
    with pytest.raises(InvalidEvent, match="kind"):
        Deal(
            rep_id="r1",
            team_id="t1",
            deal_id="D9",
            outcome="lost",
            occurred_at="2026-11-27T10:00:00Z",
            kind="upsell",
        )
