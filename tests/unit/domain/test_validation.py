"""EventDecoder: every rule and reason of docs/contract.md sections 2, 3 and 5, with boundaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.domain.events import (
    ACTIVITY_TYPES,
    Activity,
    Deal,
    Feedback,
    TargetCommand,
    TargetValue,
    is_valid_period,
)
from streams.domain.validation import (
    KINDS,
    MAX_DETAIL_CHARS,
    REASONS,
    EventDecoder,
    Rejection,
)
from streams.domain.vocabulary import (
    FUTURE_EVENT_TIME,
    INVALID_JSON,
    LATE_EVENT,
    PAYLOAD_TOO_LARGE,
    SCHEMA_VIOLATION,
    UNKNOWN_CURRENCY,
    UNSUPPORTED_SCHEMA_VERSION,
)

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SKEW = timedelta(hours=1)
LIMIT = 4096


@pytest.fixture(scope="module")
def dec() -> EventDecoder:
    return EventDecoder(
        known_currencies=frozenset({"USD", "EUR"}), max_payload_bytes=LIMIT, max_clock_skew=SKEW
    )


def activity(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": "a-1",
        "occurred_at": "2026-11-27T10:00:00Z",
        "rep_id": "rep-ana",
        "team_id": "team-emea",
        "activity": "call",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def deal(**changes: Any) -> dict[str, Any]:
    base = activity(activity=..., deal_id="d-1", outcome="won", amount=100.0, currency="EUR")
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def feedback(**changes: Any) -> dict[str, Any]:
    base = activity(activity=..., csat=5)
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def enc(obj: Any) -> bytes:
    return msgspec.json.encode(obj)


def rejected(result: object, reason: str) -> Rejection:
    assert isinstance(result, Rejection), result
    assert result.reason == reason, result.detail
    return result


# -- happy paths -----------------------------------------------------------------------


def test_activity_decodes_to_struct(dec: EventDecoder) -> None:
    result = dec.activity(enc(activity(duration_s=12, account_id="acc")), NOW)
    assert isinstance(result, Activity)
    assert result.occurred_at == datetime(2026, 11, 27, 10, tzinfo=UTC)
    assert result.duration_s == 12.0 and result.account_id == "acc" and result.schema_version == 1


@pytest.mark.parametrize("kind", ACTIVITY_TYPES)
def test_every_activity_type_is_accepted(dec: EventDecoder, kind: str) -> None:
    assert isinstance(dec.activity(enc(activity(activity=kind)), NOW), Activity)


def test_unknown_fields_are_ignored(dec: EventDecoder) -> None:
    result = dec.activity(enc(activity(extra={"a": [1, 2]}, flag=True)), NOW)
    assert isinstance(result, Activity)


def test_structs_are_frozen(dec: EventDecoder) -> None:
    result = dec.activity(enc(activity()), NOW)
    assert isinstance(result, Activity)
    with pytest.raises(AttributeError):
        result.rep_id = "x"  # type: ignore[misc]


# -- payload_too_large and invalid_json ------------------------------------------------


def test_payload_exactly_at_limit_is_parsed_one_byte_more_is_not(dec: EventDecoder) -> None:
    raw = enc(activity())
    padded = raw[:-1] + b"," + b'"pad":"' + b"x" * (LIMIT - len(raw) - 9) + b'"}'
    assert len(padded) == LIMIT
    assert isinstance(dec.activity(padded, NOW), Activity)
    too_big = padded[:-2] + b'x"}'
    detail = rejected(dec.activity(too_big, NOW), PAYLOAD_TOO_LARGE).detail
    assert str(LIMIT + 1) in detail and "SALES_MAX_PAYLOAD_BYTES" in detail


@pytest.mark.parametrize("topic", ["activities", "deals", "feedback", "targets"])
def test_a_key_over_the_limit_is_payload_too_large(dec: EventDecoder, topic: str) -> None:
    """A record crosses the internal topic with its key: a key of a megabyte made that send
    fail at every restart. Up to the limit any key goes, as the contract says."""
    value = enc(target_value()) if topic == "targets" else enc(activity())
    big_key = b"\xfe" * (LIMIT + 1)
    detail = rejected(dec.decode(topic, big_key, value, NOW), PAYLOAD_TOO_LARGE).detail
    assert f"key is {LIMIT + 1} bytes" in detail and "SALES_MAX_PAYLOAD_BYTES" in detail
    assert isinstance(dec.decode("activities", b"k" * LIMIT, enc(activity()), NOW), Activity)


def test_payload_too_large_is_checked_before_parsing(dec: EventDecoder) -> None:
    rejected(dec.activity(b"\xff" * (LIMIT + 1), NOW), PAYLOAD_TOO_LARGE)
    rejected(dec.target(b"rep:r:deals_won:2026-11", b"{" * (LIMIT + 1)), PAYLOAD_TOO_LARGE)


@pytest.mark.parametrize(
    "raw",
    [None, b"", b"   ", b"{", b"nul", b'{"a":1} x', b"{'a': 1}", b'{"a":NaN}', b"\xef\xbb\xbf{}"],
)
def test_invalid_json(dec: EventDecoder, raw: bytes | None) -> None:
    for kind in ("activities", "deals", "feedback"):
        rejected(dec.decode(kind, None, raw, NOW), INVALID_JSON)


def test_invalid_utf8_is_invalid_json_even_in_an_ignored_field(dec: EventDecoder) -> None:
    raw = enc(activity(note="PLACEHOLDER")).replace(b"PLACEHOLDER", b"\xff\xfe")
    assert "UTF-8" in rejected(dec.activity(raw, NOW), INVALID_JSON).detail


def test_lone_surrogate_escape_is_invalid_json(dec: EventDecoder) -> None:
    raw = enc(activity(rep_id="PLACEHOLDER")).replace(b"PLACEHOLDER", b"\\ud800")
    rejected(dec.activity(raw, NOW), INVALID_JSON)


def test_a_lone_surrogate_beside_a_huge_number_is_blamed_on_the_surrogate(
    dec: EventDecoder,
) -> None:
    """orjson, asked for a clearer message, complained first of 1e400, which is valid here."""
    raw = b'{"x":1e400,' + enc(activity(rep_id="PLACEHOLDER"))[1:]
    raw = raw.replace(b"PLACEHOLDER", b"\\ud800")
    detail = rejected(dec.activity(raw, NOW), INVALID_JSON).detail
    assert "double" not in detail and "infinity" not in detail, detail


def test_deep_nesting_never_raises(dec: EventDecoder) -> None:
    raw = b'{"x":' + b"[" * 2000 + b"]" * 2000 + b"}"
    result = dec.activity(raw, NOW)
    assert isinstance(result, Rejection) and result.reason in REASONS


# -- schema_violation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (activity(rep_id=...), "$.rep_id"),
        (activity(team_id=...), "$.team_id"),
        (activity(event_id=...), "$.event_id"),
        (activity(occurred_at=...), "$.occurred_at"),
        (activity(activity=...), "$.activity"),
        (activity(activity="lunch"), "$.activity"),
        (activity(rep_id=""), "$.rep_id"),
        (activity(rep_id=7), "$.rep_id"),
        (activity(duration_s=-0.5), "$.duration_s"),
        (activity(duration_s="5"), "$.duration_s"),
        (activity(outcome=1), "$.outcome"),
        (activity(account_id=["a"]), "$.account_id"),
    ],
)
def test_schema_violation_names_the_field(
    dec: EventDecoder, payload: dict[str, Any], path: str
) -> None:
    detail = rejected(dec.activity(enc(payload), NOW), SCHEMA_VIOLATION).detail
    assert detail.startswith(f"{path}: "), detail


def test_missing_field_detail(dec: EventDecoder) -> None:
    detail = rejected(dec.activity(enc(activity(rep_id=...)), NOW), SCHEMA_VIOLATION).detail
    assert detail == "$.rep_id: required field is missing"


def test_unknown_activity_lists_the_allowed_values(dec: EventDecoder) -> None:
    detail = rejected(dec.activity(enc(activity(activity="x")), NOW), SCHEMA_VIOLATION).detail
    assert "follow_up" in detail


@pytest.mark.parametrize("value", [[], [1], "text", 3, 1.5, True, None])
def test_non_object_json_is_schema_violation(dec: EventDecoder, value: Any) -> None:
    detail = rejected(dec.activity(enc(value), NOW), SCHEMA_VIOLATION).detail
    assert detail.startswith("$: expected a JSON object")


@pytest.mark.parametrize(("field", "limit"), [("rep_id", 64), ("team_id", 64), ("event_id", 128)])
def test_string_length_boundaries(dec: EventDecoder, field: str, limit: int) -> None:
    assert isinstance(dec.activity(enc(activity(**{field: "x" * limit})), NOW), Activity)
    rejected(dec.activity(enc(activity(**{field: "x" * (limit + 1)})), NOW), SCHEMA_VIOLATION)
    # lengths count characters, not bytes
    assert isinstance(dec.activity(enc(activity(**{field: "é" * limit})), NOW), Activity)


def test_deal_id_boundary(dec: EventDecoder) -> None:
    assert isinstance(dec.deal(enc(deal(deal_id="d" * 128)), NOW), Deal)
    rejected(dec.deal(enc(deal(deal_id="d" * 129)), NOW), SCHEMA_VIOLATION)


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27T10:00:00Z",
        "2026-11-27T10:00:00z",
        "2026-11-27T11:00:00+01:00",
        "2026-11-27T05:00:00-05:00",
        "2026-11-27T10:00:00.000001Z",
    ],
)
def test_timestamps_with_offset_are_accepted(dec: EventDecoder, text: str) -> None:
    result = dec.activity(enc(activity(occurred_at=text)), NOW)
    assert isinstance(result, Activity)
    assert result.occurred_at.astimezone(UTC).replace(microsecond=0) == datetime(
        2026, 11, 27, 10, tzinfo=UTC
    )


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-27T10:00:00",
        "2026-11-27T10:00:00.5",
        "2026-11-27",
        "2026-11-27T10:00Z",
        "27/11/2026 10:00",
        "2026-02-30T10:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-23:59",
        "",
    ],
)
def test_timestamps_without_offset_or_invalid_are_rejected(dec: EventDecoder, text: str) -> None:
    detail = rejected(dec.activity(enc(activity(occurred_at=text)), NOW), SCHEMA_VIOLATION).detail
    assert detail.startswith("$.occurred_at: ")


def test_missing_offset_detail_says_so(dec: EventDecoder) -> None:
    raw = enc(activity(occurred_at="2026-11-27T10:00:00"))
    detail = rejected(dec.activity(raw, NOW), SCHEMA_VIOLATION).detail
    assert "RFC 3339 timestamp with offset" in detail and "offset is missing" in detail


@pytest.mark.parametrize("field", ["duration_s"])
def test_bool_is_not_a_number(dec: EventDecoder, field: str) -> None:
    rejected(dec.activity(enc(activity(**{field: True})), NOW), SCHEMA_VIOLATION)
    rejected(dec.deal(enc(deal(amount=True)), NOW), SCHEMA_VIOLATION)
    rejected(dec.feedback(enc(feedback(csat=True)), NOW), SCHEMA_VIOLATION)
    rejected(dec.feedback(enc(feedback(csat=..., nps=False)), NOW), SCHEMA_VIOLATION)
    key = b"rep:r:deals_won:2026-11"
    value = {"scope": "rep", "scope_id": "r", "metric": "deals_won", "period": "2026-11"}
    rejected(dec.target(key, enc({**value, "value": True})), SCHEMA_VIOLATION)


def test_number_overflowing_to_infinity_is_schema_violation(dec: EventDecoder) -> None:
    raw = enc(activity(duration_s=1)).replace(b'"duration_s":1', b'"duration_s":1e400')
    rejected(dec.activity(raw, NOW), SCHEMA_VIOLATION)


def test_detail_is_bounded(dec: EventDecoder) -> None:
    detail = rejected(dec.activity(enc(activity(activity="x" * 3000)), NOW), SCHEMA_VIOLATION)
    assert len(detail.detail) <= MAX_DETAIL_CHARS


# -- schema_version ----------------------------------------------------------------------


@pytest.mark.parametrize("version", [1, 1.0, ...])
def test_schema_version_1_explicit_or_absent(dec: EventDecoder, version: Any) -> None:
    result = dec.activity(enc(activity(schema_version=version)), NOW)
    assert isinstance(result, Activity) and result.schema_version == 1


@pytest.mark.parametrize("version", [2, 0, -1, 2.0, 10**30])
def test_other_integer_schema_version_is_unsupported(dec: EventDecoder, version: Any) -> None:
    detail = rejected(
        dec.activity(enc(activity(schema_version=version)), NOW), UNSUPPORTED_SCHEMA_VERSION
    ).detail
    assert detail.startswith("$.schema_version: ")


@pytest.mark.parametrize("version", ["1", "2", True, False, None, 1.5, [1], {"v": 1}])
def test_non_integer_schema_version_is_schema_violation(dec: EventDecoder, version: Any) -> None:
    detail = rejected(
        dec.activity(enc(activity(schema_version=version)), NOW), SCHEMA_VIOLATION
    ).detail
    assert detail.startswith("$.schema_version: ")


def test_unsupported_version_wins_over_other_errors(dec: EventDecoder) -> None:
    v2 = {"schema_version": 2, "id": "x", "occurred_at": "not a time"}
    for kind in ("activities", "deals", "feedback"):
        rejected(dec.decode(kind, None, enc(v2), NOW), UNSUPPORTED_SCHEMA_VERSION)
    rejected(
        dec.feedback(enc(feedback(csat=..., schema_version=2)), NOW), UNSUPPORTED_SCHEMA_VERSION
    )
    future = activity(schema_version=2, occurred_at="2030-01-01T00:00:00Z")
    rejected(dec.activity(enc(future), NOW), UNSUPPORTED_SCHEMA_VERSION)
    unknown = deal(schema_version=2, currency="XYZ")
    rejected(dec.deal(enc(unknown), NOW), UNSUPPORTED_SCHEMA_VERSION)


# -- deals ---------------------------------------------------------------------------------


def test_won_deal(dec: EventDecoder) -> None:
    result = dec.deal(enc(deal(created_at="2026-10-01T00:00:00+02:00")), NOW)
    assert isinstance(result, Deal)
    assert result.amount == 100.0 and result.currency == "EUR" and result.created_at is not None


@pytest.mark.parametrize(
    ("payload", "path"),
    [
        (deal(amount=...), "$.amount"),
        (deal(amount=None), "$.amount"),
        (deal(currency=...), "$.currency"),
        (deal(outcome="lost", currency=None), "$.currency"),
        (deal(currency="eur"), "$.currency"),
        (deal(currency="EURO"), "$.currency"),
        (deal(currency="EUR\n"), "$.currency"),
        (deal(amount=-1), "$.amount"),
        (deal(outcome="closed"), "$.outcome"),
        (deal(deal_id=...), "$.deal_id"),
        (deal(deal_id=""), "$.deal_id"),
        (deal(created_at="2026-10-01T00:00:00"), "$.created_at"),
    ],
)
def test_deal_rules(dec: EventDecoder, payload: dict[str, Any], path: str) -> None:
    detail = rejected(dec.deal(enc(payload), NOW), SCHEMA_VIOLATION).detail
    assert detail.startswith(f"{path}: "), detail


def test_won_requires_amount_detail(dec: EventDecoder) -> None:
    detail = rejected(dec.deal(enc(deal(amount=..., currency=...)), NOW), SCHEMA_VIOLATION).detail
    assert detail == "$.amount: required when outcome is won"


@pytest.mark.parametrize("outcome", ["lost", "reopened"])
def test_lost_and_reopened_need_no_amount(dec: EventDecoder, outcome: str) -> None:
    result = dec.deal(enc(deal(outcome=outcome, amount=..., currency=...)), NOW)
    assert isinstance(result, Deal) and result.amount is None


def test_currency_without_amount_is_accepted_and_not_checked(dec: EventDecoder) -> None:
    result = dec.deal(enc(deal(outcome="lost", amount=..., currency="XYZ")), NOW)
    assert isinstance(result, Deal) and result.currency == "XYZ"


def test_unknown_currency(dec: EventDecoder) -> None:
    detail = rejected(dec.deal(enc(deal(currency="XYZ")), NOW), UNKNOWN_CURRENCY).detail
    assert "'XYZ'" in detail and "SALES_FX_RATES" in detail
    rejected(dec.deal(enc(deal(outcome="lost", currency="JPY")), NOW), UNKNOWN_CURRENCY)


def test_schema_violation_comes_before_unknown_currency(dec: EventDecoder) -> None:
    rejected(dec.deal(enc(deal(currency="XYZ", rep_id="")), NOW), SCHEMA_VIOLATION)


def test_zero_amount_and_integer_amount(dec: EventDecoder) -> None:
    result = dec.deal(enc(deal(amount=0)), NOW)
    assert isinstance(result, Deal) and result.amount == 0.0


# -- feedback --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "csat", "nps"),
    [
        ({"csat": 1}, 1, None),
        ({"csat": 5}, 5, None),
        ({"csat": ..., "nps": 0}, None, 0),
        ({"csat": ..., "nps": 10}, None, 10),
        ({"csat": 3, "nps": 7}, 3, 7),
        ({"csat": 4.0}, 4, None),
        ({"csat": None, "nps": 9.0}, None, 9),
    ],
)
def test_feedback_scores(
    dec: EventDecoder, scores: dict[str, Any], csat: int | None, nps: int | None
) -> None:
    result = dec.feedback(enc(feedback(**scores)), NOW)
    assert isinstance(result, Feedback)
    assert (result.csat, result.nps) == (csat, nps)
    assert result.csat is None or type(result.csat) is int


@pytest.mark.parametrize(
    "scores",
    [
        {"csat": 0},
        {"csat": 6},
        {"csat": 4.5},
        {"csat": "5"},
        {"csat": ..., "nps": -1},
        {"csat": ..., "nps": 11},
        {"csat": ..., "nps": 7.5},
        {"csat": 6.0},
        {"csat": ...},
        {"csat": None, "nps": None},
        {"csat": 5, "nps": 0.5},
    ],
)
def test_feedback_violations(dec: EventDecoder, scores: dict[str, Any]) -> None:
    rejected(dec.feedback(enc(feedback(**scores)), NOW), SCHEMA_VIOLATION)


def test_feedback_needs_a_score_detail(dec: EventDecoder) -> None:
    detail = rejected(dec.feedback(enc(feedback(csat=...)), NOW), SCHEMA_VIOLATION).detail
    assert "at least one of csat or nps" in detail


# -- future_event_time -------------------------------------------------------------------


def test_clock_skew_boundary(dec: EventDecoder) -> None:
    at_limit = (NOW + SKEW).isoformat()
    assert isinstance(dec.activity(enc(activity(occurred_at=at_limit)), NOW), Activity)
    beyond = (NOW + SKEW + timedelta(microseconds=1)).isoformat()
    detail = rejected(dec.activity(enc(activity(occurred_at=beyond)), NOW), FUTURE_EVENT_TIME)
    assert beyond in detail.detail and NOW.isoformat() in detail.detail


def test_future_check_uses_the_instant_not_the_wall_time(dec: EventDecoder) -> None:
    # 12:30 at UTC-05:00 is 17:30 UTC: 5.5 h ahead
    raw = enc(activity(occurred_at="2026-11-27T12:30:00-05:00"))
    rejected(dec.activity(raw, NOW), FUTURE_EVENT_TIME)
    now_elsewhere = NOW.astimezone(timezone(timedelta(hours=9)))
    assert isinstance(dec.activity(enc(activity()), now_elsewhere), Activity)


def test_future_applies_to_every_event_kind(dec: EventDecoder) -> None:
    later = "2026-11-27T14:00:00Z"
    rejected(dec.deal(enc(deal(occurred_at=later)), NOW), FUTURE_EVENT_TIME)
    rejected(dec.feedback(enc(feedback(occurred_at=later)), NOW), FUTURE_EVENT_TIME)


def test_unknown_currency_comes_before_future(dec: EventDecoder) -> None:
    raw = enc(deal(currency="XYZ", occurred_at="2030-01-01T00:00:00Z"))
    rejected(dec.deal(raw, NOW), UNKNOWN_CURRENCY)


def test_past_events_are_not_judged_here(dec: EventDecoder) -> None:
    raw = enc(activity(occurred_at="2001-01-01T00:00:00Z"))
    assert isinstance(dec.activity(raw, NOW), Activity)  # lateness needs stream time


# -- targets -----------------------------------------------------------------------------


def target_value(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scope": "rep",
        "scope_id": "rep-ana",
        "metric": "revenue_won",
        "period": "2026-11",
        "value": 1000,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not ...}


def key_of(value: dict[str, Any]) -> bytes:
    return f"{value['scope']}:{value['scope_id']}:{value['metric']}:{value['period']}".encode()


def test_target_set(dec: EventDecoder) -> None:
    value = target_value()
    result = dec.target(key_of(value), enc(value))
    assert result == TargetCommand(
        key="rep:rep-ana:revenue_won:2026-11",
        scope="rep",
        scope_id="rep-ana",
        metric="revenue_won",
        period="2026-11",
        value=1000.0,
    )


def test_scope_id_may_contain_colons(dec: EventDecoder) -> None:
    value = target_value(scope="team", scope_id="acme:emea:", metric="activities.call")
    result = dec.target(key_of(value), enc(value))
    assert isinstance(result, TargetCommand) and result.scope_id == "acme:emea:"


@pytest.mark.parametrize("raw", [None, b"", b"null", b" null "])
def test_target_delete_needs_only_a_valid_key(dec: EventDecoder, raw: bytes | None) -> None:
    result = dec.target(b"team:t:1:deals_won:2026-Q4", raw)
    assert result == TargetCommand(
        key="team:t:1:deals_won:2026-Q4",
        scope="team",
        scope_id="t:1",
        metric="deals_won",
        period="2026-Q4",
        value=None,
    )


@pytest.mark.parametrize(
    "key",
    [
        None,
        b"",
        b"rep:r:revenue_won",
        b"org:r:revenue_won:2026-11",
        b"rep::revenue_won:2026-11",
        b"rep:" + b"r" * 65 + b":revenue_won:2026-11",
        b"rep:r:win_rate:2026-11",
        b"rep:r:revenue_won:2026-13",
        b"rep:r:revenue_won:2027-W53",
        b"rep:r:revenue_won:2027-02-29",
        b"rep:\xff:revenue_won:2026-11",
    ],
)
def test_bad_target_key(dec: EventDecoder, key: bytes | None) -> None:
    detail = rejected(dec.target(key, None), SCHEMA_VIOLATION).detail
    assert detail.startswith("key: ")


@pytest.mark.parametrize(
    ("field", "other"),
    [("scope", "team"), ("scope_id", "rep-bob"), ("metric", "deals_won"), ("period", "2026-12")],
)
def test_value_must_match_key(dec: EventDecoder, field: str, other: str) -> None:
    value = target_value()
    raw = enc({**value, field: other})
    detail = rejected(dec.target(key_of(value), raw), SCHEMA_VIOLATION).detail
    assert detail.startswith(f"$.{field}: ") and "does not match the record key" in detail


@pytest.mark.parametrize(
    "changes",
    [
        {"value": 0},
        {"value": -1},
        {"value": "5"},
        {"value": None},
        {"value": ...},
        {"metric": "activities.lunch"},
        {"period": "2026-W54"},
        {"period": "2026-Q0"},
        {"scope": "org"},
        {"scope_id": ""},
    ],
)
def test_target_value_violations(dec: EventDecoder, changes: dict[str, Any]) -> None:
    value = target_value(**changes)
    rejected(dec.target(b"rep:rep-ana:revenue_won:2026-11", enc(value)), SCHEMA_VIOLATION)


def test_target_invalid_json(dec: EventDecoder) -> None:
    rejected(dec.target(b"rep:r:revenue_won:2026-11", b"{nope"), INVALID_JSON)
    rejected(dec.target(b"rep:r:revenue_won:2026-11", b"[1]"), SCHEMA_VIOLATION)


def test_target_value_struct_validates_on_construction() -> None:
    with pytest.raises(ValueError, match="period"):
        TargetValue(scope="rep", scope_id="r", metric="deals_won", period="2026-W00", value=1)


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("2026-11-27", True),
        ("2026-W48", True),
        ("2026-W53", True),
        ("2020-W53", True),
        ("2027-W53", False),
        ("2026-11", True),
        ("2026-Q4", True),
        ("2024-02-29", True),
        ("2100-02-29", False),
        ("2000-02-29", True),
        ("2026-00", False),
        ("2026-Q5", False),
        ("2026-W00", False),
        ("2026-11-27\n", False),
        ("\uff12\uff10\uff12\uff16-11", False),  # non-ASCII digits
        ("0001-01", False),
        ("9999-01", False),
    ],
)
def test_periods(text: str, ok: bool) -> None:
    assert is_valid_period(text) is ok


# -- dispatcher and constants ------------------------------------------------------------


def test_decode_dispatches(dec: EventDecoder) -> None:
    assert isinstance(dec.decode("activities", b"k", enc(activity()), NOW), Activity)
    assert isinstance(dec.decode("deals", None, enc(deal()), NOW), Deal)
    assert isinstance(dec.decode("feedback", None, enc(feedback()), NOW), Feedback)
    value = target_value()
    assert isinstance(dec.decode("targets", key_of(value), enc(value), NOW), TargetCommand)
    with pytest.raises(ValueError, match="unknown input kind"):
        dec.decode("orders", None, b"{}", NOW)


def test_reason_constants_are_the_contract_reasons() -> None:
    assert {
        "invalid_json",
        "schema_violation",
        "unsupported_schema_version",
        "unknown_currency",
        "late_event",
        "future_event_time",
        "payload_too_large",
        "processing_error",
    } == REASONS
    assert LATE_EVENT == "late_event"


# -- never raises ------------------------------------------------------------------------

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "event_id", "occurred_at", "rep_id", "team_id", "schema_version", "activity", "account_id",
    "deal_id", "duration_s", "outcome", "source", "amount", "currency", "created_at", "csat",
    "nps", "scope", "scope_id", "metric", "period", "value",
]  # fmt: skip
FIELD_VALUES = JSON_VALUES | st.sampled_from(
    [
        "2026-11-27T10:00:00Z",
        "2030-01-01T00:00:00+01:00",
        "2026-11-27T10:00:00",
        "call",
        "won",
        "EUR",
        "XYZ",
        "rep",
        "revenue_won",
        "2026-11",
        1,
        2,
        4.0,
        0,
        "",
    ]
)
OBJECTS = st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=6), FIELD_VALUES, max_size=12)


def check(result: object) -> None:
    if isinstance(result, Rejection):
        assert result.reason in REASONS and result.reason != LATE_EVENT
        assert isinstance(result.detail, str) and result.detail
    else:
        assert isinstance(result, Activity | Deal | Feedback | TargetCommand)


@settings(max_examples=400, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(KINDS),
    key=st.none() | st.binary(max_size=40),
    raw=st.none() | st.binary(max_size=200),
)
def test_random_bytes_never_raise(
    dec: EventDecoder, kind: str, key: bytes | None, raw: bytes | None
) -> None:
    check(dec.decode(kind, key, raw, NOW))


@settings(max_examples=600, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), obj=OBJECTS | JSON_VALUES, key=st.text(max_size=40))
def test_random_json_never_raises(dec: EventDecoder, kind: str, obj: Any, key: str) -> None:
    raw = msgspec.json.encode(obj)
    check(dec.decode(kind, key.encode(), raw, NOW))


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(obj=OBJECTS, kind=st.sampled_from(["activities", "deals", "feedback"]))
def test_near_valid_events_never_raise(dec: EventDecoder, obj: dict[str, Any], kind: str) -> None:
    base = {"activities": activity(), "deals": deal(), "feedback": feedback()}[kind]
    check(dec.decode(kind, None, msgspec.json.encode({**base, **obj}), NOW))


def test_amounts_above_the_maximum_are_schema_violations(dec: EventDecoder) -> None:
    from streams.domain.events import MAX_AMOUNT

    assert isinstance(dec.decode("deals", None, enc(deal(amount=MAX_AMOUNT)), NOW), Deal)
    too_big = dec.decode("deals", None, enc(deal(amount=1e32)), NOW)
    assert isinstance(too_big, Rejection) and too_big.reason == SCHEMA_VIOLATION
    assert "amount" in too_big.detail


@pytest.mark.parametrize("field", ["occurred_at", "created_at", "expected_close_at"])
@pytest.mark.parametrize(
    ("value", "offset"),
    [
        ("2026-11-27T10:00:00+0100", "+01:00"),
        ("2026-11-27T10:00:00.250-0530", "-05:30"),
        ("2026-11-27T10:00:00.123456+0000", "+00:00"),
    ],
)
def test_an_offset_without_colon_is_a_schema_violation(
    dec: EventDecoder, field: str, value: str, offset: str
) -> None:
    payload = deal(outcome="open", amount=..., currency=..., **{field: value})
    result = dec.decode("deals", None, enc(payload), NOW)
    assert isinstance(result, Rejection) and result.reason == SCHEMA_VIOLATION
    assert f"$.{field}" in result.detail and offset in result.detail


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("deals", deal(amount=1200.0, schema_version=1.0, occurred_at="2026-11-27T10:00:00+0100")),
        ("feedback", {**feedback(csat=4.0), "occurred_at": "2026-11-27T10:00:00.5-0530"}),
    ],
)
def test_an_offset_without_colon_is_refused_on_the_slow_path_too(
    dec: EventDecoder, topic: str, payload: dict[str, object]
) -> None:
    """An integral float sends a record down the slow path, which once decoded it again
    without looking at its offsets: the colon-less one was accepted."""
    result = dec.decode(topic, None, enc(payload), NOW)
    assert isinstance(result, Rejection) and result.reason == SCHEMA_VIOLATION, result
    assert "$.occurred_at" in result.detail and "without a colon" in result.detail


def test_a_leap_second_is_the_last_instant_before_it(dec: EventDecoder) -> None:
    result = dec.decode("activities", None, enc(activity(occurred_at="2026-11-26T23:59:60Z")), NOW)
    assert isinstance(result, Activity)
    assert result.occurred_at == datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC)


@pytest.mark.parametrize("field", ["occurred_at", "created_at", "expected_close_at"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # msgspec rounds to the microsecond: this one was the next day, month and quarter
        ("2026-09-30T23:59:59.9999999-04:00", datetime(2026, 10, 1, 3, 59, 59, 999999, tzinfo=UTC)),
        (
            "2026-11-30T23:59:59.99999999999Z",
            datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        ("2026-11-30T10:00:00.1234565+00:00", datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-30T10:00:00.1234564Z", datetime(2026, 11, 30, 10, 0, 0, 123456, tzinfo=UTC)),
        ("2026-11-30T23:59:60.99999999Z", datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_fraction_digits_past_the_microsecond_are_cut_not_rounded(
    dec: EventDecoder, field: str, value: str, expected: datetime
) -> None:
    """An instant stays in its period: 23:59:59.9999999 is not the next day."""
    payload = deal(outcome="open", amount=..., currency=..., **{field: value})
    if field == "occurred_at":
        payload["created_at"] = "2026-01-01T00:00:00Z"
    result = dec.decode("deals", None, enc(payload), datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert isinstance(result, Deal), result
    assert getattr(result, field) == expected


@pytest.mark.parametrize("field", ["occurred_at", "created_at", "expected_close_at"])
def test_an_escaped_digit_past_the_microsecond_is_cut_too(dec: EventDecoder, field: str) -> None:
    """`\\u0039` is the digit 9, which the raw-bytes test for a seventh digit did not see:
    23:59:59.999999\\u0039Z was read, rounded, as the next day (an audit's finding)."""
    payload = deal(outcome="open", amount=..., currency=..., **{field: "@TIME@"})
    if field == "occurred_at":
        payload["created_at"] = "2026-01-01T00:00:00Z"
    raw = enc(payload).replace(b"@TIME@", b"2026-11-30T23:59:59.999999\\u0039Z")
    result = dec.decode("deals", None, raw, datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert isinstance(result, Deal), result
    assert getattr(result, field) == datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)


def test_an_escaped_offset_without_colon_is_refused_as_such(dec: EventDecoder) -> None:
    raw = enc(activity(occurred_at="@TIME@")).replace(
        b"@TIME@", b"2026-11-26T10:00:00+01\\u00300"
    )  # +0100
    result = dec.decode("activities", None, raw, NOW)
    assert isinstance(result, Rejection) and result.reason == SCHEMA_VIOLATION, result
    assert "without a colon" in result.detail


def test_a_cut_fraction_with_an_integral_float_elsewhere(dec: EventDecoder) -> None:
    """The slow path (csat 4.0 refused by the typed decoder) cuts the fraction too."""
    payload = {"event_id": "f1", "occurred_at": "2026-11-30T23:59:59.9999999Z", "rep_id": "r1"}
    payload |= {"team_id": "t1", "csat": 4.0}
    result = dec.decode("feedback", None, enc(payload), datetime(2026, 12, 1, 12, tzinfo=UTC))
    assert isinstance(result, Feedback)
    assert result.occurred_at == datetime(2026, 11, 30, 23, 59, 59, 999999, tzinfo=UTC)
    assert result.csat == 4


# -- the slow path checks what the fast path checks (an independent validator's findings) --

_A = b'"event_id":"a-1","rep_id":"r","team_id":"t","activity":"call"'
_F = b'"event_id":"f-1","occurred_at":"2026-11-27T10:00:00Z","rep_id":"r","team_id":"t"'
_HUGE = b',"x":1e400'  # valid JSON, beyond a double: msgspec refuses it, in an unknown field too


@pytest.mark.parametrize(
    ("topic", "raw", "detail"),
    [
        # a number beyond a double's range elsewhere turned the time checks off
        (
            "activities",
            b"{" + _A + b',"occurred_at":"2026-11-27T10:00:00+0100"' + _HUGE + b"}",
            "without a colon",
        ),
        # only the last of a repeated key was checked
        (
            "activities",
            b'{"event_id":"a-1","rep_id":"r","team_id":"t",'
            b'"occurred_at":"2016-12-31T23:59:60Z","activity":"bogus","activity":"email"}',
            "$.activity",
        ),
        (
            "activities",
            b"{" + _A + b',"occurred_at":"2026-11-27T10:00:00+0100",'
            b'"occurred_at":"2026-11-27T09:00:00Z"}',
            "without a colon",
        ),
        (
            "feedback",
            b'{"event_id":"f-1","occurred_at":"2026-11-27T10:00:00Z","rep_id":null,'
            b'"rep_id":"r","team_id":"t","csat":4.0}',
            "$.rep_id",
        ),
        # a leap second with a line feed after it: the line feed was dropped
        ("activities", b"{" + _A + b',"occurred_at":"2016-12-31T23:59:60Z\\n"}', "$.occurred_at"),
    ],
)
def test_the_slow_path_refuses_what_the_fast_path_refuses(
    dec: EventDecoder, topic: str, raw: bytes, detail: str
) -> None:
    result = dec.decode(topic, None, raw, NOW)
    assert isinstance(result, Rejection) and result.reason == SCHEMA_VIOLATION, result
    assert detail in result.detail


@pytest.mark.parametrize(
    ("topic", "raw", "expected"),
    [
        (
            "feedback",
            b"{" + _F + b',"csat":4.0' + _HUGE + b"}",
            datetime(2026, 11, 27, 10, tzinfo=UTC),
        ),
        (
            "activities",
            b"{" + _A + b',"occurred_at":"2016-12-31T23:59:60Z"' + _HUGE + b"}",
            datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            "activities",
            b"{" + _A + b',"occurred_at":"2026-11-26T23:59:59.9999999Z"' + _HUGE + b"}",
            datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        # RFC 3339 allows a lower-case t or a space; the leap second needed an upper-case T
        (
            "activities",
            b"{" + _A + b',"occurred_at":"2016-12-31t23:59:60Z"}',
            datetime(2016, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        ),
        (
            "activities",
            b"{" + _A + b',"occurred_at":"2016-12-31 23:59:60+01:00"}',
            datetime(2016, 12, 31, 22, 59, 59, 999999, tzinfo=UTC),
        ),
    ],
)
def test_the_slow_path_accepts_what_the_fast_path_accepts(
    dec: EventDecoder, topic: str, raw: bytes, expected: datetime
) -> None:
    result = dec.decode(topic, None, raw, NOW)
    assert not isinstance(result, Rejection), result
    assert result.occurred_at == expected  # type: ignore[union-attr]


def test_of_a_repeated_key_the_last_valid_value_counts_on_the_slow_path(dec: EventDecoder) -> None:
    result = dec.decode("feedback", None, b"{" + _F + b',"csat":4.0,"csat":3}', NOW)
    assert isinstance(result, Feedback) and result.csat == 3, result


@pytest.mark.parametrize(
    "raw",
    [
        b"{" + _F + b',"csat":4.0,"x":' + b"[" * 998 + b"]" * 998 + b"}",
        b'{"event_id":"f-1","occurred_at":"2026-11-27T10:00:00Z","rep_id":"r","team_id":1e400,'
        b'"csat":5,"x":.5}',
        b"{" + _F + b',"csat":4.0' + _HUGE + b',"y":NaN}',
        b"{" + _F + b',"csat":4.0' + _HUGE + b',"y":"\\ud800"}',
    ],
)
def test_invalid_json_behind_a_schema_error_is_invalid_json(dec: EventDecoder, raw: bytes) -> None:
    result = dec.decode("feedback", None, raw, NOW)
    assert isinstance(result, Rejection) and result.reason == INVALID_JSON, result
