"""The JSON Schemas in schemas/ are valid, match their examples, and agree with the decoder.

The schemas document the contract for producers and consumers; the msgspec decoder enforces
it on the hot path. These tests keep the two from drifting apart: every example file gets the
same verdict from both (and, for invalid input events, the reason named in its file name).
"""

from __future__ import annotations

import importlib.util
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from jsonschema import Draft202012Validator

from streams.domain.events import ACTIVITY_TYPES, is_valid_metric, is_valid_period
from streams.domain.validation import EventDecoder, Rejection

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
NAMES = ("activity", "deal", "feedback", "target", "alert", "performance", "deadletter")
INPUT_KINDS = {
    "activity": "activities",
    "deal": "deals",
    "feedback": "feedback",
    "target": "targets",
}
NOW = datetime(2027, 1, 1, tzinfo=UTC)  # after every example's event time


def _load(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _schema(name: str) -> dict[str, Any]:
    return _load(SCHEMAS / f"{name}.schema.json")  # type: ignore[no-any-return]


def _examples(verdict: str) -> list[tuple[str, Path]]:
    found = [
        (name, path)
        for name in NAMES
        for path in sorted((SCHEMAS / "examples" / name / verdict).glob("*.json"))
    ]
    return found


def _id(case: tuple[str, Path]) -> str:
    return f"{case[0]}/{case[1].stem}"


VALID = _examples("valid")
INVALID = _examples("invalid")


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("schemas_generate", SCHEMAS / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def decoder() -> EventDecoder:
    return EventDecoder(
        known_currencies=frozenset({"USD", "EUR", "GBP"}),
        max_payload_bytes=65536,
        max_clock_skew=timedelta(hours=1),
    )


@pytest.mark.parametrize("name", NAMES)
def test_schema_is_valid_2020_12_with_id_title_description(name: str) -> None:
    schema = _schema(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{name}.schema.json")
    assert schema["title"] and schema["description"]


@pytest.mark.parametrize("name", NAMES)
def test_schema_files_are_what_the_generator_writes(name: str) -> None:
    generator = _generator()
    expected = generator.render(generator.SCHEMAS[name])
    actual = (SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")
    assert actual == expected, "run: python schemas/generate.py"


@pytest.mark.parametrize("name", NAMES)
def test_every_schema_has_valid_and_invalid_examples(name: str) -> None:
    assert sum(1 for n, _ in VALID if n == name) >= 3
    assert sum(1 for n, _ in INVALID if n == name) >= 5


@pytest.mark.parametrize("case", VALID, ids=_id)
def test_valid_example_validates(case: tuple[str, Path]) -> None:
    name, path = case
    Draft202012Validator(_schema(name)).validate(_load(path))


@pytest.mark.parametrize("case", INVALID, ids=_id)
def test_invalid_example_fails(case: tuple[str, Path]) -> None:
    name, path = case
    errors = list(Draft202012Validator(_schema(name)).iter_errors(_load(path)))
    assert errors, f"{path.name} should violate {name}.schema.json"


def _target_key(value: Any) -> bytes:
    """The key a producer would use: the value's own fields, or a valid default."""
    parts = {"scope": "rep", "scope_id": "r-1", "metric": "revenue_won", "period": "2026-11"}
    if isinstance(value, dict):
        for field in parts:
            if isinstance(value.get(field), str):
                parts[field] = value[field]
    return ":".join(parts.values()).encode()


def _decode(decoder: EventDecoder, name: str, path: Path) -> object:
    raw = path.read_bytes()
    key = _target_key(_load(path)) if name == "target" else b"rep-ana"
    return decoder.decode(INPUT_KINDS[name], key, raw, NOW)


@pytest.mark.parametrize("case", [c for c in VALID if c[0] in INPUT_KINDS], ids=_id)
def test_decoder_accepts_valid_example(decoder: EventDecoder, case: tuple[str, Path]) -> None:
    result = _decode(decoder, *case)
    assert not isinstance(result, Rejection), result


@pytest.mark.parametrize("case", [c for c in INVALID if c[0] in INPUT_KINDS], ids=_id)
def test_decoder_rejects_invalid_example_with_named_reason(
    decoder: EventDecoder, case: tuple[str, Path]
) -> None:
    name, path = case
    expected_reason, sep, _ = path.stem.partition("__")
    assert sep, f"{path.name}: invalid input examples are named <reason>__<rule>.json"
    result = _decode(decoder, name, path)
    assert isinstance(result, Rejection), result
    assert result.reason == expected_reason, result.detail


# -- the long generated patterns against the Python rules they mirror ----------------------


def _pattern(name: str, *path: str) -> re.Pattern[str]:
    node: Any = _schema(name)["properties"]
    for step in path:
        node = node[step]
    return re.compile(node["pattern"])


def test_period_pattern_matches_is_valid_period_on_every_day_and_week() -> None:
    pattern = _pattern("target", "period")
    for year in (1, 2, 1900, 2000, 2023, 2024, 2026, 2027, 2100, 9998, 9999):
        for month in range(0, 14):
            for day in range(0, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                assert bool(pattern.search(text)) == is_valid_period(text), text
            text = f"{year:04d}-{month:02d}"
            assert bool(pattern.search(text)) == is_valid_period(text), text
        for quarter in range(0, 6):
            text = f"{year:04d}-Q{quarter}"
            assert bool(pattern.search(text)) == is_valid_period(text), text
        for week in range(0, 55):
            text = f"{year:04d}-W{week:02d}"
            assert bool(pattern.search(text)) == is_valid_period(text), text


def test_week_53_pattern_is_right_for_every_year() -> None:
    pattern = _pattern("target", "period")
    for year in range(0, 10000):
        text = f"{year:04d}-W53"
        expected = 2 <= year <= 9998 and date(year, 12, 28).isocalendar()[1] == 53
        assert bool(pattern.search(text)) == expected == is_valid_period(text), text


def test_metric_pattern_matches_is_valid_metric() -> None:
    pattern = _pattern("target", "metric")
    candidates = ["revenue_won", "deals_won", "activities_total", "activities.x", "win_rate", ""]
    candidates += [f"activities.{t}" for t in ACTIVITY_TYPES]
    candidates += ["activities.call.x", "activitiesXcall", "Revenue_won"]
    for text in candidates:
        assert bool(pattern.search(text)) == is_valid_metric(text), text


TIMESTAMPS = [
    "2026-11-27T10:00:00Z",
    "2026-11-27t10:00:00z",
    "2026-11-27 10:00:00+01:00",
    "2026-11-27T10:00:00.123456789-05:30",
    "2026-11-27T10:00:00+0100",
    "2026-11-27T10:00:00-00:00",
    "2028-02-29T00:00:00Z",
    "2027-02-29T00:00:00Z",
    "2026-04-31T00:00:00Z",
    "2026-11-27T10:00:00",
    "2026-11-27T10:00Z",
    "2026-11-27T24:00:00Z",
    "2026-11-27T23:59:60Z",
    "2026-11-27T10:00:00+24:00",
    "2026-11-27T10:00:00+01",
    "2026-11-27T10:00:00.Z",
    "2026-11-27T10:00:00,5Z",
    "2026-11-27",
    "0000-01-01T00:00:00Z",
    "0001-06-01T00:00:00Z",
    "0002-01-01T00:00:00Z",
    "9998-12-31T23:59:59Z",
    "9999-01-01T00:00:00Z",
    "20261127T100000Z",
    "2026-11-27T10:00:00 Z",
]


@pytest.mark.parametrize("text", TIMESTAMPS)
def test_timestamp_pattern_agrees_with_the_decoder(decoder: EventDecoder, text: str) -> None:
    pattern = _pattern("activity", "occurred_at")
    raw = msgspec.json.encode(
        {"event_id": "e", "occurred_at": text, "rep_id": "r", "team_id": "t", "activity": "call"}
    )
    accepted = not isinstance(decoder.activity(raw, datetime(9999, 1, 1, tzinfo=UTC)), Rejection)
    assert bool(pattern.search(text)) == accepted, text
