"""The README's worked example of the section 8.2 figures ("What the figures mean") is what
the worker computes: its tables of events go through the engine, and the document must match
the JSON the README shows, number for number."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from tests.unit.engine.scope_harness import Harness, activity, deal, target

README = (Path(__file__).resolve().parents[3] / "README.md").read_text()
EXAMPLE = README.split("**A worked example.**", 1)[1].split("Line by line:", 1)[0]
ASKED_AT = datetime(2026, 11, 16, tzinfo=UTC)
#: groups the README shows only in part; every other object is shown whole
PARTIAL = {"", "deals", "efficiency", "targets[0]"}


def tables(text: str) -> list[list[dict[str, str]]]:
    """Every markdown table of `text` as rows of {header: cell} (empty cells left out)."""
    found: list[list[dict[str, str]]] = []
    for block in re.findall(r"((?:^\|.*\|\n)+)", text, flags=re.M):
        lines = [[c.strip() for c in line.strip()[1:-1].split("|")] for line in block.splitlines()]
        header, rows = lines[0], lines[2:]
        found.append([{h: c for h, c in zip(header, row, strict=True) if c} for row in rows])
    return found


def instant(cell: str) -> str:
    """`2026-10-12 15:00` or `2026-09-21` (00:00) as RFC 3339 in UTC."""
    return cell.replace(" ", "T") + ":00Z" if " " in cell else cell + "T00:00:00Z"


def events() -> list[Any]:
    deals, activities = tables(EXAMPLE)
    items: list[tuple[str, Any]] = []
    for n, row in enumerate(deals):
        at = instant(row.pop("occurred_at (UTC)"))
        extra = {k: instant(v) if k == "expected_close_at" else v for k, v in row.items()}
        amount = extra.pop("amount", None)
        created = instant(extra.pop("created_at"))
        deal_id, outcome = extra.pop("deal_id"), extra.pop("outcome")
        value = None if amount is None else float(amount.replace(",", ""))
        item = deal(f"d{n}", deal_id, "r1", "t1", at, outcome, value, "USD", created, **extra)
        items.append((at, item))
    for n, row in enumerate(activities):
        at = instant(row["occurred_at (UTC)"])
        item = activity(
            f"a{n}", row["rep_id"], row["team_id"], at, row["activity"], deal_id=row["deal_id"]
        )
        items.append((at, item))
    return [item for _, item in sorted(items, key=lambda pair: pair[0])]


def same(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` differs from `expected` (floats to 1e-9; PARTIAL objects may hold more)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not an object"]
        problems = [] if path in PARTIAL or set(expected) == set(actual) else [f"{path}: keys"]
        for key, value in expected.items():
            inner = f"{path}.{key}" if path else key
            problems += same(value, actual.get(key), inner)
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: {actual!r}"]
        return [p for i, e in enumerate(expected) for p in same(e, actual[i], f"{path}[{i}]")]
    if isinstance(expected, float) and isinstance(actual, int | float):
        return [] if math.isclose(expected, actual, rel_tol=1e-9) else [f"{path}: {actual!r}"]
    return [] if expected == actual else [f"{path}: {actual!r}, README {expected!r}"]


def test_the_worked_example_is_what_the_worker_answers() -> None:
    shown = orjson.loads(EXAMPLE.split("```json", 1)[1].split("```", 1)[0])
    harness = Harness(partitions=3)
    harness.run(events(), ASKED_AT)
    harness.run([target("rep:r1", "revenue_won", "2026-11", 30_000.0)], ASKED_AT)
    assert not harness.deadletters
    doc = harness.performance("rep:r1", "2026-11", ASKED_AT)
    assert doc is not None
    assert same(shown, doc) == []


def test_the_example_tables_read_as_the_readme_says() -> None:
    deals, activities = tables(EXAMPLE)
    assert len(deals) == 15 and len(activities) == 7
    assert {row["deal_id"] for row in deals} == {f"d{n}" for n in range(10)}
