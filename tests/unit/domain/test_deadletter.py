"""deadletter_record: the contract's dead-letter JSON, valid against its JSON Schema."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from streams.domain.deadletter import deadletter_key, deadletter_record, rfc3339_utc
from streams.domain.validation import REASONS, Rejection
from streams.domain.vocabulary import SCHEMA_VIOLATION

SCHEMA = json.loads(
    (Path(__file__).resolve().parents[3] / "schemas" / "deadletter.schema.json").read_text()
)
VALIDATOR = Draft202012Validator(SCHEMA)
AT = datetime(2026, 11, 27, 13, 40, 0, 123456, tzinfo=UTC)
REJECTION = Rejection(SCHEMA_VIOLATION, "$.rep_id: required field is missing")


def record(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "rejection": REJECTION,
        "topic": "sales.activities",
        "partition": 3,
        "offset": 1042,
        "key": b"rep-ana",
        "payload": b'{"event_id":"a-1"}',
        "received_at": AT,
    }
    args.update(changes)
    out = orjson.loads(deadletter_record(**args))
    VALIDATOR.validate(out)
    return out  # type: ignore[no-any-return]


def test_utf8_record_has_the_contract_fields() -> None:
    assert record() == {
        "reason": "schema_violation",
        "detail": "$.rep_id: required field is missing",
        "topic": "sales.activities",
        "partition": 3,
        "offset": 1042,
        "key": "rep-ana",
        "payload": '{"event_id":"a-1"}',
        "payload_encoding": "utf-8",
        "received_at": "2026-11-27T13:40:00.123Z",
    }


def test_non_utf8_payload_is_base64() -> None:
    out = record(payload=b"\xff\x00{")
    assert out["payload_encoding"] == "base64"
    assert base64.b64decode(out["payload"]) == b"\xff\x00{"


def test_null_payload_and_null_key() -> None:
    out = record(payload=None, key=None)
    assert out["payload"] is None and out["payload_encoding"] is None
    assert out["key"] is None and "key_encoding" not in out


def test_empty_payload_is_empty_text() -> None:
    out = record(payload=b"")
    assert out["payload"] == "" and out["payload_encoding"] == "utf-8"


def test_non_utf8_key_is_base64_with_key_encoding() -> None:
    out = record(key=b"\xfe\xff")
    assert out["key_encoding"] == "base64"
    assert base64.b64decode(out["key"]) == b"\xfe\xff"


def test_utf8_key_has_no_key_encoding() -> None:
    out = record(key="rep-é".encode())
    assert out["key"] == "rep-é" and "key_encoding" not in out


def test_unknown_partition_and_offset() -> None:
    out = record(partition=None, offset=None)
    assert out["partition"] is None and out["offset"] is None


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (AT, "2026-11-27T13:40:00.123Z"),
        (
            datetime(2026, 11, 27, 14, 40, tzinfo=timezone(timedelta(hours=1))),
            "2026-11-27T13:40:00.000Z",
        ),
        (datetime(2026, 11, 27, 13, 40), "2026-11-27T13:40:00.000Z"),
    ],
)
def test_received_at_is_rfc3339_utc(moment: datetime, text: str) -> None:
    assert rfc3339_utc(moment) == text
    assert record(received_at=moment)["received_at"] == text


@pytest.mark.parametrize("reason", sorted(REASONS))
def test_every_reason_is_valid(reason: str) -> None:
    assert record(rejection=Rejection(reason, "why"))["reason"] == reason


@given(
    key=st.none() | st.binary(max_size=30),
    payload=st.none() | st.binary(max_size=100),
    detail=st.text(),
)
def test_payload_and_key_round_trip(key: bytes | None, payload: bytes | None, detail: str) -> None:
    out = record(key=key, payload=payload, rejection=Rejection(SCHEMA_VIOLATION, detail))
    for field, original in (("key", key), ("payload", payload)):
        encoding = out.get(f"{field}_encoding", "utf-8" if out[field] is not None else None)
        if original is None:
            assert out[field] is None
        elif encoding == "base64":
            assert base64.b64decode(out[field]) == original
        else:
            assert out[field].encode() == original
    assert out["detail"] == detail


# -- bounded size ---------------------------------------------------------------------


def _bounded(
    payload: bytes, key: bytes | None = b"r1", limit: int = 10_000, detail: str = "x"
) -> dict[str, Any]:
    data = deadletter_record(
        rejection=Rejection(SCHEMA_VIOLATION, detail),
        topic="sales.activities",
        partition=3,
        offset=41,
        key=key,
        payload=payload,
        received_at=AT,
        max_bytes=limit,
    )
    assert len(data) <= limit
    return orjson.loads(data)


def test_a_small_record_is_not_cut() -> None:
    doc = _bounded(b'{"event_id": "e1"}')
    assert "payload_truncated" not in doc and doc["payload"] == '{"event_id": "e1"}'


@pytest.mark.parametrize(
    "payload",
    [b"a" * 5_000_000, b"\x00" * 200_000, b'"\\' * 100_000, bytes(range(256)) * 4000],
    ids=["plain", "nul-escapes", "quotes", "binary"],
)
def test_a_large_payload_is_cut_to_fit_and_says_so(payload: bytes) -> None:
    doc = _bounded(payload)
    assert doc["payload_truncated"] is True
    assert doc["payload_size"] == len(payload)
    assert (doc["topic"], doc["partition"], doc["offset"]) == ("sales.activities", 3, 41)
    if doc["payload_encoding"] == "utf-8":
        assert payload.decode().startswith(doc["payload"])
    else:
        assert base64.b64encode(payload).decode().startswith(doc["payload"])
    assert len(doc["payload"]) > 1000


def test_a_huge_key_is_cut_too_and_only_what_was_cut_says_so() -> None:
    """The payload of a record with a long key used to say `payload_truncated` although it
    was whole, and `salespulse deadletters --export` skipped it."""
    doc = _bounded(b"{}", key=b"k" * 50_000)
    assert doc["key_truncated"] is True and doc["key_size"] == 50_000
    assert doc["payload"] == "{}" and "payload_truncated" not in doc
    assert "payload_size" not in doc


def test_a_long_detail_of_wide_characters_still_fits() -> None:
    """The fields besides key and payload were assumed to take 2 kB at most; a detail
    quoting 500 emoji took more, and the record passed its limit."""
    data = deadletter_record(
        rejection=Rejection(SCHEMA_VIOLATION, "$.activity: " + "\U0001f642" * 3000),
        topic="sales.activities",
        partition=0,
        offset=7,
        key="\U0001f642".encode() * 5000,
        payload=b'{"pad": "' + b"x" * 30_000 + b'"}',
        received_at=AT,
        max_bytes=20_000,
    )
    assert len(data) <= 20_000
    doc = orjson.loads(data)
    assert doc["payload_truncated"] and doc["key_truncated"] and doc["detail"]


def test_the_dead_letters_kafka_key_is_bounded() -> None:
    assert deadletter_key(None, 8192) is None
    assert deadletter_key(b"r1", 8192) == b"r1"
    assert deadletter_key(b"k" * 5000, 8192) == b"k" * 1024


@settings(max_examples=60, deadline=None)
@given(
    payload=st.binary(max_size=30_000) | st.text(max_size=20_000).map(str.encode),
    key=st.none() | st.binary(max_size=20_000) | st.text(max_size=8_000).map(str.encode),
    detail=st.text(max_size=3_000),
    limit=st.integers(min_value=4096, max_value=40_000),
)
def test_every_record_fits_its_limit(
    payload: bytes, key: bytes | None, detail: str, limit: int
) -> None:
    doc = _bounded(payload, key, limit, detail)
    for field, original in (("key", key), ("payload", payload)):
        if original is None:
            continue
        whole = original.decode() if doc.get(f"{field}_encoding", "utf-8") == "utf-8" else None
        text = whole if whole is not None else base64.b64encode(original).decode()
        assert text.startswith(doc[field])
        assert (doc[field] != text) == (f"{field}_truncated" in doc)
