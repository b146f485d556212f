"""Per-event cost of validating sales.activities values: msgspec decoder vs JSON Schema.

Why this exists: validation runs on every input record, so the decoder is compiled msgspec
rather than a JSON Schema interpreter. This measures the difference on realistic payloads:
``EventDecoder.activity`` (bytes in, validated Struct out, all checks) against
``Draft202012Validator.validate`` on an already orjson-parsed dict (validation only, which
flatters jsonschema: it does not parse, convert timestamps or classify failures).

Run: ``python -m bench.bench_validation [n]``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from jsonschema import Draft202012Validator

from streams.domain.events import ACTIVITY_TYPES
from streams.domain.validation import EventDecoder, Rejection

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "schemas" / "activity.schema.json"
NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)


def payloads(n: int, seed: int = 7) -> list[bytes]:
    """Activity values like a CRM sends: varied types, optional fields present or not."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
    out = []
    for i in range(n):
        event: dict[str, Any] = {
            "event_id": f"act-{i:08d}-{rng.getrandbits(32):08x}",
            "occurred_at": (start + timedelta(seconds=rng.randrange(36000))).isoformat(),
            "rep_id": f"rep-{rng.randrange(200):03d}",
            "team_id": f"team-{rng.randrange(12):02d}",
            "activity": rng.choice(ACTIVITY_TYPES),
        }
        if rng.random() < 0.5:
            event["schema_version"] = 1
        if rng.random() < 0.8:
            event["account_id"] = f"acc-{rng.randrange(5000)}"
        if rng.random() < 0.4:
            event["deal_id"] = f"deal-{rng.randrange(20000)}"
        if rng.random() < 0.6:
            event["duration_s"] = round(rng.uniform(10, 3600), 1)
        if rng.random() < 0.5:
            event["outcome"] = rng.choice(["connected", "voicemail", "no_answer", "replied"])
        if rng.random() < 0.7:
            event["source"] = rng.choice(["salesforce", "hubspot", "gong", "outreach"])
        out.append(orjson.dumps(event))
    return out


def _per_event_us(fn: Callable[[], None], n: int, repeat: int = 3) -> float:
    """Best of ``repeat`` runs, in microseconds per event (best is least disturbed by noise)."""
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / n * 1e6


def run(n: int = 20000) -> dict[str, float]:
    """Measure both validators on the same n payloads; returns microseconds per event."""
    raw = payloads(n)
    parsed = [orjson.loads(r) for r in raw]
    decoder = EventDecoder(
        known_currencies=frozenset({"USD"}),
        max_payload_bytes=65536,
        max_clock_skew=timedelta(hours=1),
    )
    validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))

    for r in raw[:100]:  # warm up and check both accept everything
        assert not isinstance(decoder.activity(r, NOW), Rejection)
    for p in parsed[:100]:
        validator.validate(p)

    def msgspec_decoder() -> None:
        activity = decoder.activity
        for r in raw:
            activity(r, NOW)

    def jsonschema_validate() -> None:
        validate = validator.validate
        for p in parsed:
            validate(p)

    def orjson_parse_only() -> None:
        loads = orjson.loads
        for r in raw:
            loads(r)

    decoder_us = _per_event_us(msgspec_decoder, n)
    jsonschema_us = _per_event_us(jsonschema_validate, n, repeat=1 if n > 5000 else 3)
    return {
        "events": float(n),
        "avg_payload_bytes": sum(map(len, raw)) / n,
        "decoder_us_per_event": decoder_us,
        "orjson_parse_us_per_event": _per_event_us(orjson_parse_only, n),
        "jsonschema_validate_us_per_event": jsonschema_us,
        "jsonschema_to_decoder_ratio": jsonschema_us / decoder_us,
    }


if __name__ == "__main__":
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for name, value in run(count).items():
        print(f"{name:34s} {value:12.3f}")
