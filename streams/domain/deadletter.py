"""Dead-letter records (docs/contract.md section 5): every rejected input record, never dropped.

The record carries the original bytes so an operator can fix and replay them: the value as
text when it is UTF-8 (``payload_encoding`` "utf-8"), else base64 ("base64"), and null (with a
null ``payload_encoding``) when the value was a Kafka null. The key is text when UTF-8; a key
that is not UTF-8 is base64 and, only then, the record gets an extra ``"key_encoding":
"base64"`` field. Pure module: no Kafka or faust imports.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import orjson

from streams.domain.periods import rfc3339
from streams.domain.validation import Rejection


def _text_or_base64(data: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 text when possible, so the common case stays readable."""
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii"), "base64"


def rfc3339_utc(moment: datetime) -> str:
    """RFC 3339 in UTC with a Z and milliseconds; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return rfc3339(moment, "milliseconds", utc_z=True)


#: Kafka's default limit is 1 MiB per message; a dead letter stays safely below it unless
#: the worker learns a smaller limit from the topic's max.message.bytes
DEFAULT_MAX_BYTES = 1_000_000
#: what the truncation fields take at the most (`"key_truncated":true,"key_size":...`)
_FLAGS_BYTES = 128


def deadletter_key(key: bytes | None, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes | None:
    """The Kafka key of the dead letter of a record with this key: the same, cut to an
    eighth of `max_bytes` when longer. The key counts toward the broker's message limit as
    the value does: a whole 600 kB key made the dead letter too large to produce, and the
    worker stopped on the record at every restart. The value says the key's whole size."""
    if key is None or len(key) <= max_bytes // 8:
        return key
    return key[: max_bytes // 8]


def deadletter_record(
    *,
    rejection: Rejection,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    payload: bytes | None,
    received_at: datetime,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> bytes:
    """The JSON value to produce on sales.deadletter for one rejected record.

    Never longer than `max_bytes`: a key or payload that would not fit is cut, and the record
    says so (`key_truncated` / `payload_truncated: true`, `key_size` / `payload_size` in
    bytes, only for what was cut); its topic, partition and offset still lead to the
    original in the input topic.
    """
    record: dict[str, Any] = {
        "reason": rejection.reason,
        "detail": rejection.detail,
        "topic": topic,
        "partition": partition,
        "offset": offset,
        "key": None,
        "payload": None,
        "payload_encoding": None,
        "received_at": rfc3339_utc(received_at),
    }
    if key is not None:
        record["key"], key_encoding = _text_or_base64(key)
        if key_encoding != "utf-8":
            record["key_encoding"] = key_encoding
    if payload is not None:
        record["payload"], record["payload_encoding"] = _text_or_base64(payload)
    data = orjson.dumps(record)
    if len(data) <= max_bytes:
        return data
    return _cut_to_fit(record, key, payload, max_bytes)


def _cut_to_fit(
    record: dict[str, Any], key: bytes | None, payload: bytes | None, max_bytes: int
) -> bytes:
    """Cut the key to a quarter of what the other fields leave, then the payload to the
    rest. The other fields are measured, not assumed: a detail quoting a long value of
    4-byte characters took more than a fixed allowance."""
    empty = {**record, "key": "" if key is not None else None}
    empty["payload"] = "" if payload is not None else None
    if len(orjson.dumps(empty)) + _FLAGS_BYTES > max_bytes // 2:  # a detail that long
        record["detail"] = empty["detail"] = _fitting(record["detail"], max_bytes // 4)
    budget = max(max_bytes - len(orjson.dumps(empty)) - _FLAGS_BYTES, 0)
    if key is not None and len(orjson.dumps(record["key"])) - 2 > budget // 4:
        record["key"] = _fitting(record["key"], budget // 4)
        record["key_truncated"] = True
        record["key_size"] = len(key)
    if payload is not None:
        room = budget - (len(orjson.dumps(record["key"])) - 2 if key is not None else 0)
        fitted = _fitting(record["payload"], room)
        if fitted != record["payload"]:
            record["payload"] = fitted
            record["payload_truncated"] = True
            record["payload_size"] = len(payload)
    return orjson.dumps(record)


def _fitting(text: str, budget: int) -> str:
    """The longest prefix of `text` whose JSON encoding (quotes aside) takes at most
    `budget` bytes.

    Escapes make the encoding up to six times the text (a NUL is \\u0000), so the cut is
    found by shrinking from an estimate rather than by counting characters.
    """
    cut = min(len(text), max(budget, 0))
    while cut > 0:
        size = len(orjson.dumps(text[:cut])) - 2
        if size <= budget:
            return text[:cut]
        cut = min(cut - 1, cut * budget // max(size, 1))
    return ""
