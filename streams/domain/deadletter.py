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


def deadletter_record(
    *,
    rejection: Rejection,
    topic: str,
    partition: int | None,
    offset: int | None,
    key: bytes | None,
    payload: bytes | None,
    received_at: datetime,
) -> bytes:
    """The JSON value to produce on sales.deadletter for one rejected record."""
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
    return orjson.dumps(record)
