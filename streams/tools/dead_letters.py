"""What sits on the dead-letter topic: counted by topic and reason, the latest listed, and the
payloads written back out as event lines to fix and send again with `salespulse publish`.

Nothing is lost only if an operator can get a rejected record back: the dead letter holds it
(docs/contract.md section 5), and this module turns it into a line `publish` reads. A payload
that cannot be one (not UTF-8, cut to fit the topic, a null value) is named with the reason
and where the original still lies. Pure: no Kafka import; the command reads the topic.
"""

from __future__ import annotations

import heapq
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TextIO

import orjson

from streams.domain.checked_events import target_key


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One dead-letter record, as the worker wrote it (`streams.domain.deadletter`)."""

    reason: str
    detail: str
    topic: str
    partition: int | None
    offset: int | None
    payload: str | None
    payload_encoding: str | None
    received_at: str
    truncated: bool
    document: dict[str, Any]

    @property
    def where(self) -> str:
        """`sales.deals[3]@1207`: the original record in its input topic."""
        return f"{self.topic}[{self.partition}]@{self.offset}"


def parse(value: bytes | None) -> DeadLetter | None:
    """The dead letter in a record's value, or None when it is not one (another writer)."""
    try:
        doc = orjson.loads(value) if value else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("reason"), str):
        return None
    payload = doc.get("payload")
    return DeadLetter(
        reason=doc["reason"],
        detail=str(doc.get("detail") or ""),
        topic=str(doc.get("topic") or "?"),
        partition=_int_or_none(doc.get("partition")),
        offset=_int_or_none(doc.get("offset")),
        payload=payload if isinstance(payload, str) else None,
        payload_encoding=doc.get("payload_encoding"),
        received_at=str(doc.get("received_at") or ""),
        truncated=bool(doc.get("payload_truncated")),
        document=doc,
    )


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(slots=True)
class Selection:
    """Which dead letters to look at: by input topic and reason (empty: all of them)."""

    topics: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()

    def wants(self, letter: DeadLetter) -> bool:
        return (not self.topics or letter.topic in self.topics) and (
            not self.reasons or letter.reason in self.reasons
        )


@dataclass(slots=True)
class Group:
    """The dead letters of one input topic and reason."""

    count: int = 0
    first_received: str = ""
    last_received: str = ""

    def add(self, received_at: str) -> None:
        self.count += 1
        if not self.first_received or received_at < self.first_received:
            self.first_received = received_at
        if received_at > self.last_received:
            self.last_received = received_at


@dataclass(slots=True)
class Review:
    """Counts by (input topic, reason), the `keep` latest by received_at, and what was on
    the topic that is not a dead letter. Built one record at a time: a dead-letter topic
    may hold far more than fits in memory."""

    keep: int
    groups: dict[tuple[str, str], Group] = field(default_factory=dict)
    not_dead_letters: int = 0
    _latest: list[tuple[str, int, DeadLetter]] = field(default_factory=list)
    _seen: int = 0

    @property
    def total(self) -> int:
        return sum(group.count for group in self.groups.values())

    def add(self, letter: DeadLetter) -> None:
        group = self.groups.get((letter.topic, letter.reason))
        if group is None:
            group = self.groups[(letter.topic, letter.reason)] = Group()
        group.add(letter.received_at)
        if self.keep <= 0:
            return
        self._seen += 1  # a tie on received_at keeps the one read later
        entry = (letter.received_at, self._seen, letter)
        if len(self._latest) < self.keep:
            heapq.heappush(self._latest, entry)
        else:
            heapq.heappushpop(self._latest, entry)

    def latest(self) -> list[DeadLetter]:
        """The kept dead letters, newest first."""
        return [letter for _, _, letter in sorted(self._latest, reverse=True)]

    def by_topic_and_reason(self) -> list[tuple[str, str, Group]]:
        """Largest groups first; ties by topic, then reason."""
        return sorted(
            ((topic, reason, group) for (topic, reason), group in self.groups.items()),
            key=lambda row: (-row[2].count, row[0], row[1]),
        )


@dataclass(frozen=True, slots=True)
class Unexportable:
    """Why a payload cannot be written as a line; the original still lies at the dead
    letter's topic, partition and offset (until the topic's retention removes it)."""

    why: str


CUT = Unexportable("its payload was cut to fit the dead-letter topic")
NULL = Unexportable("the record's value was a Kafka null: there is nothing to send")
EMPTY = Unexportable("the record's value was empty: there is nothing to send")
BINARY = Unexportable("its payload is not UTF-8 text (kept as base64)")
BROKEN = Unexportable("its payload is invalid JSON over several lines")
REKEYED = Unexportable(
    "a target whose record key does not match its value: `publish` would key it by its "
    "value; set it with `salespulse targets set`"
)


def export_line(letter: DeadLetter) -> str | Unexportable:
    """The line to write for a dead letter, or why there is none.

    A text payload is written exactly as it was received, so `publish` checks the very bytes
    the worker rejected. One spread over several lines is written with its line breaks as
    spaces: in valid JSON a raw line break can only stand between tokens, so nothing else
    changes (repeated keys and numbers stay as written; compacted by a JSON library, a
    refused repeated key came back valid and 30 digits came back as a float). Invalid JSON
    over several lines, whose breaks may sit inside a string, is left to the operator, as is
    a target refused for its key: a line carries no key.
    """
    if letter.truncated:
        return CUT
    if letter.payload is None:
        return NULL
    if letter.payload_encoding not in (None, "utf-8"):
        return BINARY
    text = letter.payload
    if not text.strip():
        return EMPTY
    try:
        value = json.loads(text)  # strict: no raw line break inside a string
    except (ValueError, RecursionError):
        value = _INVALID
    if _rekeyed_target(value, letter.document.get("key")):
        return REKEYED
    if "\n" not in text and "\r" not in text:
        return text
    if value is _INVALID:
        return BROKEN
    return text.replace("\r", " ").replace("\n", " ")


#: a payload that is not JSON
_INVALID = object()


def _rekeyed_target(value: object, key: object) -> bool:
    """Is this payload (decoded) a target whose record key is not the one it makes?"""
    if not isinstance(key, str) or not isinstance(value, dict):
        return False
    if not {"scope", "metric", "period"} <= value.keys():
        return False
    return key != target_key(value)  # the key `publish` would give it


@dataclass(slots=True)
class Export:
    """Writes the lines of an export to `sink` as they come (a dead-letter topic may hold
    more than fits in memory), and counts the dead letters it could not write, by reason
    with the first one's place (where the operator reads the original).

    `cutoff` (epoch seconds: now minus the late grace) counts the written events older than
    it: once the worker's stream time is near the present they are late, so sent again they
    come back as late_event, whatever was fixed.
    """

    sink: TextIO
    cutoff: float | None = None
    written: int = 0
    old: int = 0
    skipped: Counter[Unexportable] = field(default_factory=Counter)
    first_skipped: dict[Unexportable, str] = field(default_factory=dict)

    def add(self, letter: DeadLetter) -> None:
        line = export_line(letter)
        if isinstance(line, Unexportable):
            self.skipped[line] += 1
            self.first_skipped.setdefault(line, letter.where)
            return
        self.sink.write(line + "\n")
        self.written += 1
        occurred = event_time(line)
        if self.cutoff is not None and occurred is not None and occurred < self.cutoff:
            self.old += 1


def event_time(line: str) -> float | None:
    """The epoch seconds of a line's `occurred_at`, when it has a readable one."""
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    text = event.get("occurred_at") if isinstance(event, dict) else None
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment.timestamp() if moment.tzinfo is not None else None
