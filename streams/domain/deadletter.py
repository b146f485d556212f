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
#: what the record's fields other than the payload and key may take, at the most
_ENVELOPE_BYTES = 2_048


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

    Never longer than `max_bytes`: a payload (or key) that would not fit is cut, the record
    says so (`payload_truncated: true`, `payload_size` in bytes), and the record's topic,
    partition and offset still lead to the original in the input topic.
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
    budget = max(max_bytes - _ENVELOPE_BYTES, 0)
    if key is not None and len(orjson.dumps(record["key"])) > budget // 4:
        record["key"] = _fitting(record["key"], budget // 4)
        record["key_truncated"] = True
        record["key_size"] = len(key)
    if payload is not None:
        record["payload"] = _fitting(record["payload"], budget - len(orjson.dumps(record["key"])))
        record["payload_truncated"] = True
        record["payload_size"] = len(payload)
    return orjson.dumps(record)


def _fitting(text: str, budget: int) -> str:
    """The longest prefix of `text` whose JSON encoding takes at most `budget` bytes.

    Escapes make the encoding up to six times the text (a NUL is \\u0000), so the cut is
    found by shrinking from an estimate rather than by counting characters.
    """
    cut = min(len(text), max(budget, 0))
    while cut > 0:
        size = len(orjson.dumps(text[:cut]))
        if size <= budget:
            return text[:cut]
        cut = min(cut - 1, cut * budget // size)
    return ""
