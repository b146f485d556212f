"""Decoding and validation of input records: the hot path every event goes through.

Valid records take one pass of msgspec's compiled typed decoder (about 1 us, an order of
magnitude faster than interpreting the JSON Schemas in schemas/). Only a record that fails,
or whose times may need a second look, is parsed a second time (`_decode_again`), member by
member, to accept what JSON Schema accepts and msgspec does not, or to classify the failure.
Nothing here raises on any input bytes: every outcome is an event or a :class:`Rejection`.

Decisions the schemas in schemas/ mirror:

* JSON has one number type, so an integral float (``4.0``) is accepted where an integer is
  required (csat, nps, schema_version) exactly as JSON Schema's ``"type": "integer"`` does;
  ``4.5`` is a schema violation. ``true``/``false`` are never numbers.
* ``schema_version``: absent or 1 is accepted; any other integer is
  ``unsupported_schema_version`` and wins over every other schema error (a v2 event may
  legitimately look different); a non-integer (``"1"``, ``true``, ``null``) is a
  ``schema_violation``.
* Timestamps: RFC 3339 with a mandatory offset (``Z``/``z`` or ``+hh:mm``; ``+hhmm``, which
  msgspec reads, is refused); a space or lowercase ``t`` as separator and any number of
  fraction digits are accepted; digits past the microsecond are cut, not rounded; a leap
  second (``23:59:60``) is the last microsecond before it.
* Of a key repeated in one object the last value counts, and every value must be valid.
* A JSON ``null`` (as well as a Kafka null or empty value) on sales.targets is a delete.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, TypeAlias, cast

import msgspec
import orjson

from streams.domain.events import (
    ACTIVITY_TYPES,
    DEAL_OUTCOMES,
    SCHEMA_VERSION,
    SCOPES,
    Activity,
    AwareDatetime,
    Deal,
    Event,
    Feedback,
    Scope,
    TargetCommand,
    TargetValue,
    is_valid_metric,
    is_valid_period,
)
from streams.domain.vocabulary import (
    DEADLETTER_REASONS,
    FUTURE_EVENT_TIME,
    INPUT_KINDS,
    INVALID_JSON,
    PAYLOAD_TOO_LARGE,
    SCHEMA_VIOLATION,
    UNKNOWN_CURRENCY,
    UNSUPPORTED_SCHEMA_VERSION,
)

#: Every dead-letter reason of the contract.
REASONS: Final[frozenset[str]] = frozenset(DEADLETTER_REASONS)
KINDS: Final[tuple[str, ...]] = INPUT_KINDS
MAX_DETAIL_CHARS: Final = 500  # details may quote the payload; keep dead-letter records small

Decoded: TypeAlias = Activity | Deal | Feedback | TargetCommand


@dataclass(frozen=True)
class Rejection:
    """Why a record was refused: a contract dead-letter reason and a human-readable detail."""

    reason: str
    detail: str


# Integer fields per type whose integral-float spelling (4.0) JSON Schema accepts.
_INT_FIELDS: Final[dict[type, tuple[str, ...]]] = {
    Activity: ("schema_version",),
    Deal: ("schema_version",),
    Feedback: ("schema_version", "csat", "nps"),
    TargetValue: (),
}
_ENUMS: Final[dict[str, tuple[str, ...]]] = {
    "$.activity": ACTIVITY_TYPES,
    "$.outcome": DEAL_OUTCOMES,
    "$.scope": SCOPES,
}
_TIME_HINT: Final = "expected an RFC 3339 timestamp with offset, e.g. 2026-11-27T10:00:00Z"


def _clip(text: str) -> str:
    """Bound a detail's length."""
    return text if len(text) <= MAX_DETAIL_CHARS else text[: MAX_DETAIL_CHARS - 3] + "..."


def _json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _describe(err: msgspec.ValidationError) -> str:
    """Turn msgspec's "<msg> - at `$.path`" into "$.path: <msg>", with friendlier wording."""
    msg = str(err)
    path = "$"
    head, sep, tail = msg.rpartition(" - at `")
    if sep and tail.endswith("`"):
        msg, path = head, tail[:-1]
    if msg.startswith("$"):  # our own __post_init__ messages already name the path
        return _clip(msg)
    if msg.startswith("Object missing required field `"):
        field = msg[len("Object missing required field `") : -1]
        return _clip(f"{path}.{field}: required field is missing")
    if msg == "Invalid RFC3339 encoded datetime":
        msg = _TIME_HINT
    elif msg == "Expected `datetime` with a timezone component":
        msg = _TIME_HINT + " (the offset is missing)"
    elif msg.startswith("Invalid enum value") and path in _ENUMS:
        msg = f"{msg[0].lower()}{msg[1:]}; expected one of {', '.join(_ENUMS[path])}"
    elif msg.startswith("Expected `object`, got `"):
        msg = "expected a JSON object, got " + msg[len("Expected `object`, got `") : -1]
    else:
        msg = msg[0].lower() + msg[1:]
    return _clip(f"{path}: {msg}")


def _integral(value: object) -> bool:
    """An int or an integral float, but never a bool (JSON Schema's notion of integer)."""
    t = type(value)
    return t is int or (t is float and value.is_integer())  # type: ignore[attr-defined]


class EventDecoder:
    """Decodes and validates records of the four input topics; one instance per worker."""

    def __init__(
        self,
        *,
        known_currencies: frozenset[str],
        max_payload_bytes: int,
        max_clock_skew: timedelta,
    ) -> None:
        """known_currencies must include the base currency (the keys of SALES_FX_RATES + base)."""
        self._currencies = known_currencies
        self._max_bytes = max_payload_bytes
        self._skew = max_clock_skew

    # -- public API ---------------------------------------------------------------------

    def activity(self, raw: bytes | None, now: datetime) -> Activity | Rejection:
        """Decode a sales.activities value; ``now`` (aware) bounds the event time."""
        return self._event(Activity, raw, now)  # type: ignore[return-value]

    def deal(self, raw: bytes | None, now: datetime) -> Deal | Rejection:
        """Decode a sales.deals value."""
        return self._event(Deal, raw, now)  # type: ignore[return-value]

    def feedback(self, raw: bytes | None, now: datetime) -> Feedback | Rejection:
        """Decode a sales.feedback value."""
        return self._event(Feedback, raw, now)  # type: ignore[return-value]

    def target(self, key: bytes | None, raw: bytes | None) -> TargetCommand | Rejection:
        """Decode a sales.targets record: a set (value object) or a delete (null value)."""
        if key is not None and len(key) > self._max_bytes:
            return self._key_too_large(key)
        if raw is not None and len(raw) > self._max_bytes:
            return self._too_large(raw)
        value: TargetValue | None = None
        if raw is not None and raw.strip() not in (b"", b"null"):
            decoded = _decode(TargetValue, raw)
            if isinstance(decoded, Rejection):
                return decoded
            value = decoded  # type: ignore[assignment]
        parsed = _parse_target_key(key)
        if isinstance(parsed, Rejection):
            return parsed
        text, scope, scope_id, metric, period = parsed
        if value is None:
            return TargetCommand(
                key=text, scope=scope, scope_id=scope_id, metric=metric, period=period, value=None
            )
        for field, expected in (
            ("scope", scope),
            ("scope_id", scope_id),
            ("metric", metric),
            ("period", period),
        ):
            actual = getattr(value, field)
            if actual != expected:
                return Rejection(
                    SCHEMA_VIOLATION,
                    _clip(
                        f"$.{field}: {actual!r} does not match the record key {text!r} "
                        f"(which says {expected!r}); the key must be "
                        "{scope}:{scope_id}:{metric}:{period} of the value"
                    ),
                )
        return TargetCommand(
            key=text,
            scope=value.scope,
            scope_id=value.scope_id,
            metric=value.metric,
            period=value.period,
            value=value.value,
        )

    def decode(
        self, kind: str, key: bytes | None, raw: bytes | None, now: datetime
    ) -> Decoded | Rejection:
        """Dispatch on the input kind: activities, deals, feedback or targets."""
        if key is not None and len(key) > self._max_bytes:
            return self._key_too_large(key)
        if kind == "activities":
            return self.activity(raw, now)
        if kind == "deals":
            return self.deal(raw, now)
        if kind == "feedback":
            return self.feedback(raw, now)
        if kind == "targets":
            return self.target(key, raw)
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(KINDS)}")

    # -- internals ----------------------------------------------------------------------

    def _too_large(self, raw: bytes) -> Rejection:
        return Rejection(
            PAYLOAD_TOO_LARGE,
            f"value is {len(raw)} bytes, more than the {self._max_bytes} allowed "
            "(SALES_MAX_PAYLOAD_BYTES)",
        )

    def _key_too_large(self, key: bytes) -> Rejection:
        """A record travels with its key to its scope's partition, and a key of a megabyte
        made that send fail at every restart (an audit's finding): the key is held to the
        value's limit. The contract's key is the rep_id, at most 64 characters."""
        return Rejection(
            PAYLOAD_TOO_LARGE,
            f"key is {len(key)} bytes, more than the {self._max_bytes} allowed "
            "(SALES_MAX_PAYLOAD_BYTES holds for the key too); key records by rep_id",
        )

    def _event(self, cls: type, raw: bytes | None, now: datetime) -> Event | Rejection:
        """Size, JSON, schema, then the checks that need configuration or the clock."""
        if raw is None:
            return Rejection(INVALID_JSON, "value is null; an event must be a JSON object")
        if len(raw) > self._max_bytes:
            return self._too_large(raw)
        decoded = _decode(cls, raw)
        if isinstance(decoded, Rejection):
            return decoded
        event: Event = decoded  # type: ignore[assignment]
        if isinstance(event, Deal) and event.amount is not None:
            currency = event.currency
            if currency not in self._currencies:
                return Rejection(
                    UNKNOWN_CURRENCY,
                    f"$.currency: {currency!r} is not a known currency; add its rate (value of "
                    f"one {currency} in the base currency) to the SALES_FX_RATES file",
                )
        if event.occurred_at > now + self._skew:
            return Rejection(
                FUTURE_EVENT_TIME,
                f"$.occurred_at: {event.occurred_at.isoformat()} is more than {self._skew} "
                f"ahead of the wall clock {now.isoformat()} (SALES_MAX_CLOCK_SKEW)",
            )
        return event


_DECODERS: dict[type, msgspec.json.Decoder[Any]] = {
    t: msgspec.json.Decoder(t) for t in (Activity, Deal, Feedback, TargetValue)
}
_EVENT_TYPES: dict[str, type] = {"activities": Activity, "deals": Deal, "feedback": Feedback}
#: the members each type reads; the typed decoder ignores the others
_FIELD_NAMES: dict[type, frozenset[str]] = {
    t: frozenset(t.__struct_fields__) for t in (Activity, Deal, Feedback, TargetValue)
}


def decode_payload(kind: str, raw: bytes) -> Event | Rejection:
    """The typed event in an input value that ingestion accepted, by the very decoding
    ingestion used (integral floats and all): what validation accepts, the fold accepts."""
    return _decode(_EVENT_TYPES[kind], raw)  # type: ignore[return-value]


def _decode(cls: type, raw: bytes) -> object:
    """Typed decode plus schema_version; returns the Struct or a Rejection."""
    if not raw.isascii():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Rejection(INVALID_JSON, _clip(f"value is not valid UTF-8: {exc}"))
    try:
        obj = _DECODERS[cls].decode(raw)
    except msgspec.ValidationError as exc:
        return _decode_again(cls, raw, None, exc)
    except msgspec.DecodeError as exc:
        return _invalid_json(raw, exc)
    except RecursionError:
        return Rejection(INVALID_JSON, "JSON nested too deeply to decode")
    except (ValueError, TypeError, OverflowError) as exc:  # defensive: never raise
        return Rejection(SCHEMA_VIOLATION, _clip(f"$: {exc}"))
    if getattr(obj, "schema_version", SCHEMA_VERSION) != SCHEMA_VERSION:
        return _unsupported(obj.schema_version)
    if _TIME_TO_LOOK_AT.search(raw) or b"\\" in raw:
        return _decode_again(cls, raw, obj, None)
    return obj


#: msgspec also reads "+0100" (RFC 3339 writes the offset "+01:00"), and rounds a fraction
#: of more than six digits to the microsecond, which can carry 23:59:59.9999999 into the
#: next day, month or year. A cheap test on the raw bytes sends only records that may hold
#: such a time down the slow path below, which decides; so does any record with an escape
#: (`\u0039` is a digit the pattern cannot see: an audit's 23:59:59.999999\u0039Z was read as
#: the next day). Anchored on the colon before the minutes: a pattern opening with digits
#: was tried at every digit of ids and dates (2.25 µs a record on the bench data; this 0.64)
_TIME_TO_LOOK_AT = re.compile(rb":[0-9]{2}(?::[0-9]{2})?(?:\.[0-9]{7}|(?:\.[0-9]+)?[+-][0-9]{4}\")")
_TIME_FIELDS: Final = frozenset({"occurred_at", "created_at", "expected_close_at"})
_LEAP_SECOND = re.compile(r"^(.*[Tt ]23:59:)60(?:\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})\Z")
_PAST_MICROSECONDS = re.compile(r"(:[0-9]{2}\.[0-9]{6})[0-9]+")
_OFFSET_WITHOUT_COLON = re.compile(r"[+-][0-9]{4}\Z")


def _decode_again(
    cls: type, raw: bytes, obj: object | None, err: msgspec.ValidationError | None
) -> object:
    """The slow path, for a record the typed decoder refused (`err`) or read in a way that
    needs a second look (`obj`, whose times `_TIME_TO_LOOK_AT` flagged).

    The record is parsed again member by member, repeats of a key and numbers as written
    kept: the version decides first; a colon-less offset is a schema violation; integral
    floats become integers and times are rewritten as they are meant (`_exact_time`);
    unknown members are dropped (the typed decoder ignores them: a number beyond a double's
    range there must not turn these checks off). What is left is decoded typed again, so
    every value of a repeated key is checked and the last one counts, as on the fast path.
    """
    members = _members(raw)
    if isinstance(members, Rejection):
        return members
    if cls is not TargetValue:
        versions = [_plain(value) for name, value in members.pairs if name == "schema_version"]
        if versions and _integral(versions[-1]) and versions[-1] != SCHEMA_VERSION:
            return _unsupported(versions[-1])
    known, integers = _FIELD_NAMES[cls], _INT_FIELDS[cls]
    kept: list[tuple[str, Any]] = []
    changed = False
    for name, value in members.pairs:
        if name not in known:
            continue
        if name in _TIME_FIELDS and isinstance(value, str):
            if _OFFSET_WITHOUT_COLON.search(value):
                return _colonless(name, value)
            text = _exact_time(value)
            if text is not None:
                value, changed = text, True
        elif name in integers and isinstance(value, _Written) and _integral(value.value):
            value, changed = int(value.value), True
        kept.append((name, value))
    if err is None and not changed:
        return obj
    try:
        return _DECODERS[cls].decode(_encoded_members(kept))
    except msgspec.ValidationError as exc:
        return Rejection(SCHEMA_VIOLATION, _describe(exc))
    except (msgspec.DecodeError, ValueError, TypeError, OverflowError, RecursionError):
        # defensive: what was rewritten decodes; a value nested too deep to encode again
        return Rejection(SCHEMA_VIOLATION, _describe(err)) if err is not None else obj


class _Members:
    """A JSON object's members in order, a repeated key as often as it is written."""

    __slots__ = ("pairs",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


class _Written:
    """A JSON number with a fraction or exponent, and its text: `1e400` stays `1e400`."""

    __slots__ = ("text", "value")

    def __init__(self, text: str) -> None:
        self.text = text
        self.value = float(text)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _members(raw: bytes) -> _Members | Rejection:
    """The top-level members of a record, or why it is not a JSON object.

    JSON validity is judged by msgspec, as on the fast path (lone surrogates, nesting
    depth); Python's json module, which keeps repeated keys, only reads what msgspec
    accepted or refused for a number beyond a double's range, after which it checks the
    rest (NaN and Infinity are refused; so are lone surrogates, below)."""
    try:
        msgspec.json.decode(raw)
        checked = True
    except msgspec.ValidationError:  # e.g. 1e400: valid JSON, out of a double's range
        checked = False
    except msgspec.DecodeError as exc:
        return _invalid_json(raw, exc)
    except RecursionError:
        return Rejection(INVALID_JSON, "JSON nested too deeply to decode")
    try:
        value = json.loads(
            raw, object_pairs_hook=_Members, parse_float=_Written, parse_constant=_refuse_constant
        )
    except RecursionError:
        return Rejection(INVALID_JSON, "JSON nested too deeply to decode")
    except ValueError as exc:  # orjson would name the number out of range, not this
        return Rejection(INVALID_JSON, _clip(f"not valid JSON: {exc}"))
    if not checked and (lone := _lone_surrogate(value)) is not None:
        return Rejection(INVALID_JSON, f"not valid JSON: lone UTF-16 surrogate in {lone!r}")
    if not isinstance(value, _Members):
        return Rejection(
            SCHEMA_VIOLATION, f"$: expected a JSON object, got {_json_type(_plain(value))}"
        )
    return value


def _plain(value: Any) -> Any:
    """A value as the generic decoder gives it (a number with a fraction as a float)."""
    return value.value if isinstance(value, _Written) else value


def _lone_surrogate(value: Any) -> str | None:
    """A string (key or value) anywhere in `value` holding a lone surrogate, if any."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return _clip(item)
        elif isinstance(item, _Members):
            pending.extend(item.pairs)
        elif isinstance(item, tuple | list):
            pending.extend(item)
    return None


def _encoded_members(members: list[tuple[str, Any]]) -> bytes:
    """A JSON object of these members, repeats kept, numbers as they were written."""
    parts = [msgspec.json.encode(name) + b":" + _encoded_value(value) for name, value in members]
    return b"{" + b",".join(parts) + b"}"


def _encoded_value(value: Any) -> bytes:
    if isinstance(value, _Written):
        return value.text.encode()
    if isinstance(value, _Members):
        return _encoded_members(value.pairs)
    if isinstance(value, list):
        return b"[" + b",".join(_encoded_value(item) for item in value) + b"]"
    return msgspec.json.encode(value)


def _colonless(name: str, value: str) -> Rejection:
    return Rejection(
        SCHEMA_VIOLATION,
        _clip(
            f"$.{name}: {value!r} has its UTC offset without a colon; RFC 3339 "
            f"writes it {value[:-2]}:{value[-2:]}"
        ),
    )


def _exact_time(value: str) -> str | None:
    """A time the typed decoder would read otherwise than written, as text it reads right
    (None: it reads this one right). A leap second (23:59:60) is the last instant before it:
    RFC 3339 allows them, and Python's datetime cannot hold second 60. A fraction past the
    microsecond is cut: msgspec rounds it, and 23:59:59.9999999 would be the next day."""
    if m := _LEAP_SECOND.match(value):
        return f"{m[1]}59.999999{m[2]}"
    cut = _PAST_MICROSECONDS.sub(r"\1", value, count=1)
    return cut if cut != value else None


_aware_time = msgspec.json.Decoder(AwareDatetime)


class TimestampError(ValueError):
    """Why a text is not a timestamp an event may carry; says what to write instead."""


def read_timestamp(text: str) -> datetime:
    """One RFC 3339 timestamp, read by the rules of events' times (module docstring): the
    API's `from` and `to` take what an event may carry, no more (a `+05:99` offset) and no
    less (a leap second)."""
    if _OFFSET_WITHOUT_COLON.search(text):
        raise TimestampError("has its UTC offset without a colon; RFC 3339 writes +05:30")
    try:
        return _aware_time.decode(msgspec.json.encode(_exact_time(text) or text))
    except msgspec.ValidationError as exc:
        if "timezone" in str(exc):
            raise TimestampError("needs a UTC offset, e.g. 2026-11-27T00:00:00Z") from None
        raise TimestampError("is not an RFC 3339 timestamp, e.g. 2026-11-27T00:00:00Z") from None


def _unsupported(version: object) -> Rejection:
    return Rejection(
        UNSUPPORTED_SCHEMA_VERSION,
        _clip(
            f"$.schema_version: {version!r} is not supported; this worker understands "
            f"schema_version {SCHEMA_VERSION} (or none)"
        ),
    )


#: orjson's complaint about a number beyond a double's range, which is valid JSON (and valid
#: here): a record refused for another reason must not be blamed on it
_NUMBER_ORJSON_REFUSES: Final = "when parsed as double"


def _invalid_json(raw: bytes, exc: Exception) -> Rejection:
    """orjson's messages carry line and column, clearer than msgspec's; use them if it agrees."""
    if not raw.strip():
        return Rejection(INVALID_JSON, "value is empty; an event must be a JSON object")
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError as oerr:
        if _NUMBER_ORJSON_REFUSES not in str(oerr):  # a number this decoder takes (1e400)
            return Rejection(INVALID_JSON, _clip(f"not valid JSON: {oerr}"))
    except RecursionError:
        pass
    return Rejection(INVALID_JSON, _clip(f"not valid JSON: {exc}"))


def _parse_target_key(key: bytes | None) -> tuple[str, Scope, str, str, str] | Rejection:
    """Split ``{scope}:{scope_id}:{metric}:{period}``; scope_id may contain ':'."""
    if key is None:
        return Rejection(
            SCHEMA_VIOLATION,
            "key: a target record needs the key {scope}:{scope_id}:{metric}:{period}",
        )
    try:
        text = key.decode("utf-8")
    except UnicodeDecodeError:
        return Rejection(SCHEMA_VIOLATION, "key: not valid UTF-8")
    scope, _, rest = text.partition(":")
    parts = rest.rsplit(":", 2)
    if len(parts) != 3:
        return Rejection(
            SCHEMA_VIOLATION,
            _clip(f"key: {text!r} is not {{scope}}:{{scope_id}}:{{metric}}:{{period}}"),
        )
    scope_id, metric, period = parts
    problem = None
    if scope not in SCOPES:
        problem = f"scope {scope!r} must be rep or team"
    elif not 1 <= len(scope_id) <= 64:
        problem = "scope_id must be 1-64 characters"
    elif not is_valid_metric(metric):
        problem = f"metric {metric!r} is not a target metric"
    elif not is_valid_period(period):
        problem = f"period {period!r} is not a real day, ISO week, month or quarter"
    if problem:
        return Rejection(SCHEMA_VIOLATION, _clip(f"key: {text!r}: {problem}"))
    return text, cast(Scope, scope), scope_id, metric, period
