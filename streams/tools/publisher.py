"""Publish sales events to Kafka from Python, checked by the worker's own rules first.

Build each record with :class:`Activity`, :class:`Deal`, :class:`Feedback` or
:class:`Target`; a constructor raises :class:`InvalidEvent` (a ``ValueError``) naming the
field and the rule when the worker would reject the record, so a mistake surfaces in the
producer rather than on ``sales.deadletter``::

    from streams.tools.publisher import Activity, Deal, Publisher, Target
    from streams.worker.settings import Settings, SettingsError

    call = Activity(rep_id="s01", team_id="t-smb", activity="call",
                    occurred_at="2026-11-27T10:00:00Z", duration_s=300)
    won = Deal(rep_id="s01", team_id="t-smb", deal_id="d-42", outcome="won",
               amount=12000, currency="EUR", occurred_at="2026-11-27T16:30:00+01:00")
    quota = Target(scope="rep", scope_id="s01", metric="revenue_won",
                   period="2026-11", value=50000)

    async with Publisher(Settings.from_env()) as publisher:
        await publisher.send(call)                      # one record, acknowledged
        counts = await publisher.send_many([won, quota])  # {"deals": 1, "targets": 1}

``occurred_at`` (and a deal's ``created_at``) is an aware ``datetime`` or RFC 3339 text with
an offset; ``event_id`` defaults to a new UUID. ``Activity.from_dict({...})`` and
``Activity.from_json(b"...")`` build the same records from a mapping or a JSON value.

The :class:`Publisher` takes its connection (``KAFKA_BOOTSTRAP``, SASL/TLS) and topic names
(``SALES_TOPIC_*``) from :class:`~streams.worker.settings.Settings`, creates missing input
topics as the worker would, keys events by ``rep_id`` and targets by
``{scope}:{scope_id}:{metric}:{period}``. Before sending it checks every record again with
the settings' rules that a constructor cannot know: the currency of an amount must be in the
FX rates (``SALES_FX_RATES``), the event time may not be more than ``SALES_MAX_CLOCK_SKEW``
ahead of now, and a payload may not exceed ``SALES_MAX_PAYLOAD_BYTES``. ``send_many`` checks
all records before sending any (an :class:`InvalidEvents` lists every bad one) and sends
targets first, then events in event-time order. A broker that cannot be reached raises
:class:`~streams.tools.producer.KafkaUnavailable`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Final

from streams.domain.checked_events import (
    Activity,
    CheckedEvent,
    Deal,
    Feedback,
    InvalidEvent,
    Target,
    check,
)
from streams.domain.money import FxRates, FxRatesError
from streams.domain.validation import EventDecoder
from streams.tools.producer import Outgoing, Progress, RecordProducer, ensure_topics
from streams.worker.settings import Settings, SettingsError

__all__ = [
    "Activity",
    "CheckedEvent",
    "Deal",
    "Feedback",
    "InvalidEvent",
    "InvalidEvents",
    "Publisher",
    "Target",
    "decoder_for",
    "in_send_order",
    "send_order",
]


class InvalidEvents(ValueError):
    """Some records of a batch are invalid; ``errors`` holds (index, InvalidEvent) pairs."""

    def __init__(self, errors: Sequence[tuple[int, InvalidEvent]]) -> None:
        self.errors = list(errors)
        lines = [f"record {index}: {error}" for index, error in self.errors[:10]]
        more = len(self.errors) - len(lines)
        if more:
            lines.append(f"... and {more} more")
        head = f"{len(self.errors)} invalid record(s), nothing sent:"
        super().__init__("\n".join([head, *lines]))


def decoder_for(settings: Settings) -> EventDecoder:
    """The decoder a worker with these settings validates its input with (runtime.py);
    a SettingsError when the FX rates file is unusable."""
    try:
        fx = FxRates.load(settings.fx_rates_path, settings.base_currency)
    except (FxRatesError, OSError) as exc:
        raise SettingsError(f"SALES_FX_RATES: {exc}") from None
    return EventDecoder(
        known_currencies=fx.known,
        max_payload_bytes=settings.max_payload_bytes,
        max_clock_skew=settings.max_clock_skew,
    )


_FIRST: Final = datetime.min.replace(tzinfo=UTC)


def send_order(event: CheckedEvent) -> tuple[int, datetime]:
    """Sort key of the send order: targets first, then events by event time.

    Targets go first so that the events they are measured against find them in place; a
    stable sort keeps records of the same time (and targets) in their given order.
    """
    moment = event.occurred_at
    return (0, _FIRST) if moment is None else (1, moment)


def in_send_order(events: Iterable[CheckedEvent]) -> list[CheckedEvent]:
    """Targets first (in their order), then events by event time; ties keep their order."""
    return sorted(events, key=send_order)


class Publisher:
    """Sends checked records to the input topics; use as ``async with Publisher(s) as p``."""

    def __init__(self, settings: Settings | None = None, *, create_topics: bool = True) -> None:
        """``settings`` default to the environment's; ``create_topics`` creates missing
        input topics on entry (8 partitions, targets compacted), as the worker does."""
        self.settings = settings if settings is not None else Settings.from_env()
        self.decoder = decoder_for(self.settings)
        self._create_topics = create_topics
        self._producer: RecordProducer | None = None

    async def __aenter__(self) -> Publisher:
        if self._create_topics:
            await ensure_topics(self.settings, self.settings.topics.inputs())
        producer = RecordProducer(self.settings, linger_ms=5)
        self._producer = await producer.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.__aexit__(exc_type, exc, tb)

    def check(self, event: CheckedEvent, now: datetime | None = None) -> CheckedEvent:
        """``event`` checked with the settings' rules (FX, clock skew, size) at ``now``."""
        moment = now if now is not None else datetime.now(UTC)
        return check(event.kind, event.payload, decoder=self.decoder, now=moment, key=event.key)

    def outgoing(self, event: CheckedEvent) -> Outgoing:
        """(topic, key, value) of a checked record, with the configured topic names."""
        topic: str = getattr(self.settings.topics, event.kind)
        return (topic, event.key.encode("utf-8"), event.payload)

    async def send(self, event: CheckedEvent) -> None:
        """Check and send one record; return when the broker has acknowledged it."""
        await self._send([self.check(event)])

    async def send_many(self, events: Iterable[CheckedEvent]) -> dict[str, int]:
        """Check every record, then send them all in send order; return counts per kind.

        Nothing is sent when any record is invalid (:class:`InvalidEvents`).
        """
        now = datetime.now(UTC)
        checked: list[CheckedEvent] = []
        errors: list[tuple[int, InvalidEvent]] = []
        for index, event in enumerate(events):
            try:
                checked.append(self.check(event, now))
            except InvalidEvent as exc:
                errors.append((index, exc))
        if errors:
            raise InvalidEvents(errors)
        ordered = in_send_order(checked)
        await self._send(ordered)
        return dict(Counter(e.kind for e in ordered))

    async def send_checked(
        self,
        events: Iterable[CheckedEvent],
        *,
        rate: float | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Send records already checked with :meth:`check`, as given (no re-check, no
        re-ordering), ``rate`` per second at most; return how many were acknowledged."""
        return await self._send(events, rate, progress)

    async def _send(
        self,
        events: Iterable[CheckedEvent],
        rate: float | None = None,
        progress: Progress | None = None,
    ) -> int:
        if self._producer is None:
            raise RuntimeError("use the Publisher as `async with Publisher(settings) as p`")
        records = (self.outgoing(e) for e in events)
        return await self._producer.send_records(records, rate=rate, progress=progress)
