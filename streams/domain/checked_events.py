"""Input records built in code and checked on construction, by the worker's own decoder.

The msgspec Structs of :mod:`streams.domain.events` are the decoded, in-memory form of an
event; built directly they check only what msgspec checks at decode time, which is nothing.
The classes here are the way to *write* an input record: a constructor turns its arguments
into the JSON payload that goes to Kafka, decodes that payload with the very decoder the
worker's ingestion uses (:mod:`streams.domain.validation`) and raises :class:`InvalidEvent`
when ingestion would dead-letter it. There is one set of rules: the decoder's.

    >>> Activity(rep_id="s01", team_id="t-smb", activity="nonsense",
    ...          occurred_at="2026-11-27T10:00:00Z")
    Traceback (most recent call last):
    InvalidEvent: invalid activity: $.activity: invalid enum value 'nonsense'; expected one of ...

Construction checks everything that needs no configuration: types, lengths, ranges, enums,
timestamps with offsets, cross-field rules (a won deal needs an amount, an amount a currency,
feedback a csat or an nps), target metrics, periods and keys. Three rules depend on the
worker's settings and the clock, so :func:`check` applies them with a configured
:class:`~streams.domain.validation.EventDecoder` (the publisher does this before it sends):
the currency of an amount must be in the FX rates, the event time may not be ahead of the
wall clock by more than SALES_MAX_CLOCK_SKEW, and a payload may not exceed
SALES_MAX_PAYLOAD_BYTES. Lateness depends on the stream time the worker has seen and cannot
be judged by a producer.

Pure module: no Kafka, Faust or HTTP imports.
"""

from __future__ import annotations

import re
import sys
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Final, TypeAlias, TypeVar

import msgspec

from streams.domain import events
from streams.domain.validation import Decoded, EventDecoder, Rejection, decode_payload
from streams.domain.vocabulary import INPUT_KINDS, SCHEMA_VIOLATION

__all__ = [
    "Activity",
    "CheckedEvent",
    "Deal",
    "Feedback",
    "InvalidEvent",
    "Target",
    "check",
    "event_class",
    "recognise_kind",
    "target_key",
]

#: the singular noun of each input kind, for messages
SINGULAR: Final[dict[str, str]] = {
    "activities": "activity",
    "deals": "deal",
    "feedback": "feedback",
    "targets": "target",
}

_ENCODER = msgspec.json.Encoder(decimal_format="number")
# Checks without configuration: no size limit, no currency list (targets use neither).
_STRUCTURAL = EventDecoder(
    known_currencies=frozenset(), max_payload_bytes=sys.maxsize, max_clock_skew=timedelta(0)
)
_FIELD = re.compile(r"^\$\.([A-Za-z0-9_]+)|^(key):")

Self = TypeVar("Self", bound="CheckedEvent")


class InvalidEvent(ValueError):
    """A record the worker would dead-letter: ``reason`` (the dead-letter reason), ``detail``
    (``$.field: rule``) and ``field`` (the field named, when one is)."""

    def __init__(self, kind: str, reason: str, detail: str) -> None:
        self.kind = kind
        self.reason = reason
        self.detail = detail
        match = _FIELD.match(detail)
        self.field: str | None = (match.group(1) or match.group(2)) if match else None
        super().__init__(f"invalid {SINGULAR.get(kind, kind)}: {detail} ({reason})")


def recognise_kind(fields: Mapping[str, Any]) -> str | None:
    """The input kind a record's fields suggest, or None.

    ``activity`` makes an activity (activities may carry ``outcome`` and ``deal_id`` too);
    else ``outcome`` with ``deal_id`` a deal; else ``csat`` or ``nps`` feedback; else
    ``scope``, ``metric`` and ``period`` a target. Absent and null fields do not count.
    """

    def has(name: str) -> bool:
        return fields.get(name) is not None

    if has("activity"):
        return "activities"
    if has("outcome") and has("deal_id"):
        return "deals"
    if has("csat") or has("nps"):
        return "feedback"
    if has("scope") and has("metric") and has("period"):
        return "targets"
    return None


def target_key(fields: Mapping[str, Any]) -> str:
    """``{scope}:{scope_id}:{metric}:{period}`` of a target value (missing parts are empty)."""
    parts = (fields.get(name) for name in ("scope", "scope_id", "metric", "period"))
    return ":".join("" if part is None else str(part) for part in parts)


def _decode(
    kind: str, key: bytes | None, raw: bytes, decoder: EventDecoder | None, now: datetime | None
) -> Decoded | Rejection:
    if kind not in INPUT_KINDS:
        raise ValueError(f"unknown input kind {kind!r}; expected one of {', '.join(INPUT_KINDS)}")
    if kind == "targets":
        return (decoder or _STRUCTURAL).target(key, raw)
    if decoder is None or now is None:
        return decode_payload(kind, raw)
    return decoder.decode(kind, key, raw, now)


class CheckedEvent:
    """A validated input record: ``kind``, ``key`` and ``payload`` are what is sent to Kafka,
    ``value`` is the decoded record (a :mod:`streams.domain.events` Struct, or a
    TargetCommand for a target)."""

    kind: ClassVar[str] = ""
    __slots__ = ("key", "payload", "value")

    key: str
    payload: bytes
    value: Decoded

    @classmethod
    def from_json(cls: type[Self], raw: bytes) -> Self:
        """The record whose JSON value is ``raw`` (sent byte for byte as given)."""
        return cls._checked(raw, None, None, None)

    @classmethod
    def from_dict(cls: type[Self], fields: Mapping[str, Any]) -> Self:
        """The record with these JSON fields (None values are left out, as absent)."""
        body = {name: value for name, value in fields.items() if value is not None}
        try:
            raw = _ENCODER.encode(body)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidEvent(cls.kind, SCHEMA_VIOLATION, f"$: {exc}") from None
        return cls._checked(raw, target_key(body) if cls.kind == "targets" else None, None, None)

    @classmethod
    def _checked(
        cls: type[Self],
        raw: bytes,
        key: str | None,
        decoder: EventDecoder | None,
        now: datetime | None,
    ) -> Self:
        """Decode ``raw`` (with ``decoder`` and ``now``, or structurally); raise if refused."""
        if cls.kind == "targets" and key is None:
            try:
                fields = msgspec.json.decode(raw)
            except (msgspec.DecodeError, RecursionError):
                fields = None
            key = target_key(fields) if isinstance(fields, dict) else ""
        key_bytes = None if key is None else key.encode("utf-8")
        result = _decode(cls.kind, key_bytes, raw, decoder, now)
        if isinstance(result, Rejection):
            raise InvalidEvent(cls.kind, result.reason, result.detail)
        event = cls.__new__(cls)
        event._set(raw, result)
        return event

    def _set(self, raw: bytes, value: Decoded) -> None:
        self.payload = raw
        self.value = value
        if isinstance(value, events.TargetCommand):
            self.key = value.key
        else:
            self.key = value.rep_id

    def _adopt(self, body: dict[str, Any]) -> None:
        """Constructors: become the checked record of ``body``."""
        other = self.from_dict(body)
        self._set(other.payload, other.value)

    @property
    def occurred_at(self) -> datetime | None:
        """The event time (None for a target, which has none)."""
        value = self.value
        return None if isinstance(value, events.TargetCommand) else value.occurred_at

    def to_dict(self) -> dict[str, Any]:
        """The JSON value as a dict."""
        decoded: dict[str, Any] = msgspec.json.decode(self.payload)
        return decoded

    def __repr__(self) -> str:
        return f"{type(self).__name__}.from_json({self.payload!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CheckedEvent):
            return NotImplemented
        return (self.kind, self.key, self.payload) == (other.kind, other.key, other.payload)

    def __hash__(self) -> int:
        return hash((self.kind, self.key, self.payload))


Moment: TypeAlias = datetime | str


def _body(event_id: str | None, **fields: Any) -> dict[str, Any]:
    """The JSON body: a fresh UUID when no event_id is given, None fields left out."""
    return {"event_id": str(uuid.uuid4()) if event_id is None else event_id, **fields}


class Activity(CheckedEvent):
    """A sales.activities record: one thing a rep did (docs/contract.md section 2)."""

    kind = "activities"
    __slots__ = ()
    value: events.Activity

    def __init__(
        self,
        *,
        rep_id: str,
        team_id: str,
        activity: str,
        occurred_at: Moment,
        event_id: str | None = None,
        account_id: str | None = None,
        deal_id: str | None = None,
        duration_s: float | None = None,
        outcome: str | None = None,
        source: str | None = None,
    ) -> None:
        """``occurred_at``: an aware datetime or RFC 3339 text; ``event_id``: a UUID if None."""
        body = _body(
            event_id,
            occurred_at=occurred_at,
            rep_id=rep_id,
            team_id=team_id,
            activity=activity,
            account_id=account_id,
            deal_id=deal_id,
            duration_s=duration_s,
            outcome=outcome,
            source=source,
        )
        self._adopt(body)


class Deal(CheckedEvent):
    """A sales.deals record: a deal won, lost, reopened or open (amount required when won)."""

    kind = "deals"
    __slots__ = ()
    value: events.Deal

    def __init__(
        self,
        *,
        rep_id: str,
        team_id: str,
        deal_id: str,
        outcome: str,
        occurred_at: Moment,
        amount: float | Decimal | None = None,
        currency: str | None = None,
        created_at: Moment | None = None,
        event_id: str | None = None,
        account_id: str | None = None,
        source: str | None = None,
        stage: str | None = None,
        expected_close_at: Moment | None = None,
        kind: str | None = None,
        lost_reason: str | None = None,
    ) -> None:
        """``amount`` (>= 0, in ``currency``) is required when ``outcome`` is won."""
        body = _body(
            event_id,
            occurred_at=occurred_at,
            rep_id=rep_id,
            team_id=team_id,
            deal_id=deal_id,
            outcome=outcome,
            amount=amount,
            currency=currency,
            created_at=created_at,
            account_id=account_id,
            source=source,
            stage=stage,
            expected_close_at=expected_close_at,
            kind=kind,
            lost_reason=lost_reason,
        )
        self._adopt(body)


class Feedback(CheckedEvent):
    """A sales.feedback record: csat (1-5) and/or nps (0-10)."""

    kind = "feedback"
    __slots__ = ()
    value: events.Feedback

    def __init__(
        self,
        *,
        rep_id: str,
        team_id: str,
        occurred_at: Moment,
        csat: int | None = None,
        nps: int | None = None,
        event_id: str | None = None,
        account_id: str | None = None,
        deal_id: str | None = None,
    ) -> None:
        """At least one of ``csat`` and ``nps``."""
        body = _body(
            event_id,
            occurred_at=occurred_at,
            rep_id=rep_id,
            team_id=team_id,
            csat=csat,
            nps=nps,
            account_id=account_id,
            deal_id=deal_id,
        )
        self._adopt(body)


class Target(CheckedEvent):
    """A sales.targets record: a quota, keyed ``{scope}:{scope_id}:{metric}:{period}``."""

    kind = "targets"
    __slots__ = ()
    value: events.TargetCommand

    def __init__(
        self, *, scope: str, scope_id: str, metric: str, period: str, value: float
    ) -> None:
        """``metric``: revenue_won, deals_won, activities_total or activities.<type>;
        ``period``: 2026-11-27, 2026-W48, 2026-11 or 2026-Q4; ``value`` > 0."""
        body = {
            "scope": scope,
            "scope_id": scope_id,
            "metric": metric,
            "period": period,
            "value": value,
        }
        self._adopt(body)


_CLASSES: Final[dict[str, type[CheckedEvent]]] = {
    cls.kind: cls for cls in (Activity, Deal, Feedback, Target)
}


def event_class(kind: str) -> type[CheckedEvent]:
    """Activity, Deal, Feedback or Target for an input kind (activities, deals, ...)."""
    try:
        return _CLASSES[kind]
    except KeyError:
        raise ValueError(
            f"unknown input kind {kind!r}; expected one of {', '.join(INPUT_KINDS)}"
        ) from None


def check(
    kind: str, raw: bytes, *, decoder: EventDecoder, now: datetime, key: str | None = None
) -> CheckedEvent:
    """The record of ``kind`` whose JSON value is ``raw``, checked exactly as the worker's
    ingestion checks it (FX currencies, clock skew and payload size from ``decoder``, the
    event time against ``now``); raises :class:`InvalidEvent` with the dead-letter reason.

    A target's key is ``key`` if given, else derived from its value.
    """
    return event_class(kind)._checked(raw, key, decoder, now)
