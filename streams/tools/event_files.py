"""Event files for `salespulse publish`: reading, recognising, validating and reporting.

Two formats, told apart by the file name (``.csv``; ``.jsonl``, ``.ndjson``, ``.json``) or,
for other names and stdin, by the first non-blank character (``{`` is JSON lines):

* JSON lines: one event object per line, exactly the JSON value sent to Kafka (the line's
  bytes are validated and sent as they are). Blank lines are skipped.
* CSV: a header row of field names, then one event per row. Cells are trimmed; an empty cell
  is an absent field; the fields the contract wants as numbers (amount, duration_s, csat,
  nps, schema_version and a target's value) are converted when they look like numbers.

The kind of each record (activities, deals, feedback, targets) is given (``--kind``) or
recognised from its fields (:func:`streams.domain.checked_events.recognise_kind`). Every
record is then checked by the worker's own decoder; nothing here talks to Kafka.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import orjson

from streams.domain.checked_events import (
    SINGULAR,
    CheckedEvent,
    InvalidEvent,
    check,
    recognise_kind,
)
from streams.domain.validation import EventDecoder
from streams.tools.publisher import send_order

#: fields the contract wants as numbers: CSV cells for them are converted
NUMERIC_FIELDS: Final = frozenset(
    {"amount", "duration_s", "csat", "nps", "schema_version", "value"}
)
#: reasons for problems found before the decoder (besides its dead-letter reasons)
UNKNOWN_KIND: Final = "unknown_kind"
MALFORMED_ROW: Final = "malformed_row"
#: a CSV header names at least one of these, or it is no CSV of sales records
HEADER_FIELDS: Final = frozenset(
    {"event_id", "occurred_at", "rep_id", "team_id", "scope", "scope_id", "metric", "period"}
)
UNREADABLE: Final = "unreadable"

_NUMBER = re.compile(
    r"[+-]?(?:[0-9]+(?P<frac>\.[0-9]*)?|(?P<dot>\.[0-9]+))(?P<exp>[eE][+-]?[0-9]+)?"
)
_BOM: Final = b"\xef\xbb\xbf"
_KIND_HINT: Final = (
    "cannot tell whether this is an activity, deal, feedback or target: an activity has "
    "`activity`, a deal `outcome` and `deal_id`, feedback `csat` or `nps`, a target `scope`, "
    "`metric` and `period` (or give --kind)"
)


@dataclass(frozen=True)
class SourceRecord:
    """One record read from a file: its JSON value, or why it could not be made one."""

    file: str
    line: int
    kind: str | None
    raw: bytes | None
    problem: tuple[str, str] | None = None  # (reason, detail) found while reading


@dataclass(frozen=True)
class LineError:
    """A record the worker would refuse (or that could not be read), with its place."""

    file: str
    line: int
    kind: str | None
    reason: str
    detail: str
    field: str | None = None

    def text(self) -> str:
        """``events.jsonl:3: deal: $.amount: required when outcome is won (schema_violation)``"""
        what = f"{SINGULAR[self.kind]}: " if self.kind in SINGULAR else ""
        return f"{self.file}:{self.line}: {what}{self.detail} ({self.reason})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "kind": self.kind,
            "reason": self.reason,
            "field": self.field,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class Located:
    """A valid record and where it came from."""

    file: str
    line: int
    event: CheckedEvent


@dataclass
class Validation:
    """Every record of the input files, checked: the valid ones and the errors."""

    files: list[str] = field(default_factory=list)
    valid: list[Located] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)

    @property
    def records(self) -> int:
        return len(self.valid) + len(self.errors)

    def by_kind(self) -> dict[str, int]:
        counts = Counter(item.event.kind for item in self.valid)
        return {kind: counts[kind] for kind in SINGULAR if counts[kind]}

    def in_send_order(self) -> list[Located]:
        """Targets first, then events by event time; ties keep file and line order."""
        return sorted(self.valid, key=lambda item: send_order(item.event))


# -- reading ----------------------------------------------------------------------------------


def file_format(name: str, data: bytes) -> str:
    """``csv`` or ``jsonl``, from the file name or, failing that, the first character."""
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    return "jsonl" if data.lstrip(_BOM + b" \t\r\n").startswith(b"{") else "csv"


def read_records(name: str, data: bytes, kind: str | None = None) -> Iterator[SourceRecord]:
    """The records of one file's contents, in the format its name or content says."""
    data = data.removeprefix(_BOM)
    if file_format(name, data) == "csv":
        return read_csv(name, data, kind)
    return read_jsonl(name, data, kind)


def read_jsonl(name: str, data: bytes, kind: str | None = None) -> Iterator[SourceRecord]:
    """One record per non-blank line; the line's bytes are the value as sent."""
    for number, line in enumerate(data.split(b"\n"), 1):
        raw = line.strip()
        if not raw:
            continue
        if kind is not None:
            yield SourceRecord(name, number, kind, raw)
            continue
        try:
            fields = _fields(raw)
        except ValueError as exc:
            # orjson counts lines within the value: the file's line number is the one that matters
            detail = f"not valid JSON: {str(exc).replace(': line 1 column', ': column')}"
            yield SourceRecord(name, number, None, raw, ("invalid_json", detail))
            continue
        yield _recognised(name, number, fields, raw)


def _fields(raw: bytes) -> object:
    """A line's JSON value, to tell its kind. orjson refuses a number beyond a double's range
    (`1e400`), which is valid JSON and which the worker ignores in an unknown field: such a
    line is read by Python's json module instead, and the decoder judges it."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(raw, parse_constant=_not_json)
        except (ValueError, RecursionError):
            raise ValueError(str(exc)) from None


def _not_json(name: str) -> object:
    raise ValueError(f"{name} is not a JSON value")


def _recognised(name: str, number: int, fields: object, raw: bytes) -> SourceRecord:
    if not isinstance(fields, dict):
        kind_name = type(fields).__name__
        detail = f"$: expected a JSON object, got {_JSON_TYPES.get(kind_name, kind_name)}"
        return SourceRecord(name, number, None, raw, ("schema_violation", detail))
    recognised = recognise_kind(fields)
    if recognised is None:
        hint = _KIND_HINT
        if "topic" in fields and ("value" in fields or "value_raw" in fields):
            hint = "a `salespulse generate` record: send such files with `salespulse replay`"
        return SourceRecord(name, number, None, raw, (UNKNOWN_KIND, hint))
    return SourceRecord(name, number, recognised, raw)


_JSON_TYPES: Final = {
    "list": "array",
    "str": "string",
    "int": "number",
    "float": "number",
    "bool": "boolean",
    "NoneType": "null",
}


def csv_value(name: str, cell: str) -> object:
    """A cell as JSON wants it: None when empty, a number for numeric fields, else text."""
    text = cell.strip()
    if not text:
        return None
    if name in NUMERIC_FIELDS:
        match = _NUMBER.fullmatch(text)
        if match:
            whole = not (match["frac"] or match["dot"] or match["exp"])
            return int(text) if whole else float(text)
    return text


def read_csv(
    name: str, data: bytes, kind: str | None = None, *, needs: tuple[str, ...] = ()
) -> Iterator[SourceRecord]:
    """One record per row after the header; the row's line number is where it starts. A
    header without every column of `needs` is a problem of line 1 (an empty file too)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        detail = f"not valid UTF-8 ({exc.reason} at byte {exc.start}); save the file as UTF-8"
        yield SourceRecord(name, line, kind, None, (UNREADABLE, detail))
        return
    if not text.strip() and not needs:
        return  # an empty file holds no records, as an empty JSON-lines file does
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [cell.strip() for cell in next(reader, [])]
        if not set(needs) <= set(header):
            detail = f"needs a header row: {','.join(needs)}"
            yield SourceRecord(name, 1, kind, None, (UNREADABLE, detail))
            return
        if not any(header):
            yield SourceRecord(name, 1, kind, None, (UNREADABLE, "no header row of field names"))
            return
        if not HEADER_FIELDS & set(header):
            detail = (
                "the first line names none of the fields of an event or a target (event_id, "
                "occurred_at, rep_id, ...; scope, scope_id, metric, period, value): not a CSV "
                "of sales records (a JSON-lines file needs the .jsonl name or a line opening "
                "with {)"
            )
            yield SourceRecord(name, 1, kind, None, (UNREADABLE, detail))
            return
        if repeated := sorted(n for n, c in Counter(header).items() if n and c > 1):
            detail = f"the header names {', '.join(repeated)} more than once"
            yield SourceRecord(name, 1, kind, None, (UNREADABLE, detail))
            return
        start = reader.line_num + 1
        for row in reader:
            number, start = start, reader.line_num + 1
            if any(cell.strip() for cell in row):
                yield _csv_record(name, number, header, row, kind)
    except csv.Error as exc:  # e.g. a cell past the csv module's field size limit
        yield SourceRecord(name, reader.line_num, kind, None, (UNREADABLE, f"not CSV: {exc}"))


def _csv_record(
    name: str, number: int, header: list[str], row: list[str], kind: str | None
) -> SourceRecord:
    """One row: as many cells as the header names, none under an unnamed column."""
    if len(row) != len(header):
        detail = f"the row has {len(row)} cells but the header names {len(header)} fields"
        return SourceRecord(name, number, kind, None, (MALFORMED_ROW, detail))
    if any(cell.strip() for h, cell in zip(header, row, strict=True) if not h):
        detail = "the row has a value under a column the header does not name"
        return SourceRecord(name, number, kind, None, (MALFORMED_ROW, detail))
    fields = {h: csv_value(h, cell) for h, cell in zip(header, row, strict=True) if h}
    present = {k: v for k, v in fields.items() if v is not None}
    raw = orjson.dumps(present)
    if kind is not None:
        return SourceRecord(name, number, kind, raw)
    return _recognised(name, number, present, raw)


# -- validating -------------------------------------------------------------------------------


def validate(
    records: Iterable[SourceRecord], decoder: EventDecoder, now: datetime, into: Validation
) -> Validation:
    """Check every record as the worker's ingestion would at ``now``; collect into ``into``."""
    for record in records:
        if record.problem is not None or record.raw is None or record.kind is None:
            reason, detail = record.problem or (UNREADABLE, "no value")
            into.errors.append(LineError(record.file, record.line, record.kind, reason, detail))
            continue
        try:
            event = check(record.kind, record.raw, decoder=decoder, now=now)
        except InvalidEvent as exc:
            error = LineError(
                record.file, record.line, record.kind, exc.reason, exc.detail, exc.field
            )
            into.errors.append(error)
            continue
        into.valid.append(Located(record.file, record.line, event))
    return into


def validate_sources(
    sources: Iterable[tuple[str, bytes]], decoder: EventDecoder, now: datetime, kind: str | None
) -> Validation:
    """Read and check each (display name, contents) in turn."""
    result = Validation()
    for name, data in sources:
        result.files.append(name)
        validate(read_records(name, data, kind), decoder, now, result)
    return result


# -- reporting --------------------------------------------------------------------------------


def counts_text(counts: dict[str, int]) -> str:
    """``activities 6, deals 2`` (kinds in the contract's order)."""
    return ", ".join(f"{kind} {n}" for kind, n in counts.items()) or "none"


@dataclass
class Outcome:
    """What `publish` decided and did: the basis of its summary and its exit code."""

    status: str  # invalid | dry_run | sent | nothing | kafka_unavailable | interrupted
    exit_code: int
    sent: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    message: str = ""
    destination: str = ""
    duration_s: float = 0.0


def decide(validation: Validation, *, skip_invalid: bool, dry_run: bool) -> Outcome:
    """Whether to send, and the outcome if not: invalid input sends nothing unless
    ``skip_invalid``; a dry run never sends, and exits as the real run would."""
    invalid = len(validation.errors)
    refused = bool(invalid) and (not skip_invalid or not validation.valid)
    if dry_run:  # the exit code a real run would have, up to the sending
        return Outcome("dry_run", 1 if refused else 0, skipped=invalid if skip_invalid else 0)
    if invalid and not skip_invalid:
        return Outcome("invalid", 1)
    if not validation.valid:
        return Outcome("nothing", 1 if refused else 0, skipped=invalid)
    return Outcome("send", 0, skipped=invalid)


def summary_text(validation: Validation, outcome: Outcome) -> str:
    """The one-line summary `publish` prints on stderr."""
    valid, invalid = len(validation.valid), len(validation.errors)
    records = validation.records
    kinds = counts_text(validation.by_kind())
    if outcome.status == "invalid":
        return (
            f"{invalid} of {records} records are invalid: nothing sent (fix them, or use "
            f"--skip-invalid to send the {valid} valid ones)"
        )
    if outcome.status == "dry_run":
        return f"dry run: {valid} valid records ({kinds}), {invalid} invalid; nothing sent"
    if outcome.status == "nothing":
        if not records:
            return f"no records in {', '.join(validation.files)}: nothing sent"
        skipped = f"; skipped {invalid} invalid" if invalid else ""
        return f"no valid records to send{skipped}"
    if outcome.status in ("kafka_unavailable", "interrupted"):
        return outcome.message
    sent = sum(outcome.sent.values())
    skipped = f"; skipped {outcome.skipped} invalid" if outcome.skipped else ""
    return (
        f"sent {sent} records ({counts_text(outcome.sent)}) to {outcome.destination} "
        f"in {outcome.duration_s:.1f}s{skipped}"
    )


def report_document(validation: Validation, outcome: Outcome, *, dry_run: bool) -> dict[str, Any]:
    """The `--format json` document: per-record errors and a summary."""
    return {
        "files": validation.files,
        "records": validation.records,
        "valid": len(validation.valid),
        "invalid": len(validation.errors),
        "valid_by_kind": validation.by_kind(),
        "errors": [error.as_dict() for error in validation.errors],
        "status": outcome.status,
        "dry_run": dry_run,
        "sent": outcome.sent,
        "skipped": outcome.skipped,
        "destination": outcome.destination or None,
        "message": outcome.message or summary_text(validation, outcome),
        "duration_s": round(outcome.duration_s, 3),
        "exit_code": outcome.exit_code,
    }
