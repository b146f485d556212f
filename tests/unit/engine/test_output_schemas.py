"""What the fold publishes and answers conforms to the JSON Schemas it ships
(schemas/performance.schema.json, schemas/alert.schema.json): checked on the documents of a
generated scenario, not only on the hand-written examples (tests/unit/test_schemas.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator

from tests.unit.engine.fold_output import scenario

SCHEMAS = Path(__file__).resolve().parents[3] / "schemas"


@pytest.fixture(scope="module")
def answered() -> dict[str, Any]:
    # through JSON, as the API and the output topics send it (Decimal, datetime as text)
    return orjson.loads(orjson.dumps(scenario(), default=str))  # type: ignore[no-any-return]


def _errors(name: str, doc: Any) -> list[str]:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    errors = validator.iter_errors(doc)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]


def test_every_performance_document_conforms(answered: dict[str, Any]) -> None:
    docs = {key: doc for key, doc in answered["performance"].items() if doc is not None}
    assert len(docs) > 100 and any(doc["targets"] for doc in docs.values())
    assert {doc["scope"] for doc in docs.values()} == {"rep", "team"}
    for key, doc in docs.items():
        assert _errors("performance", doc) == [], key


def test_every_alert_conforms(answered: dict[str, Any]) -> None:
    alerts = answered["alerts"]
    assert len({alert["kind"] for alert in alerts}) >= 2
    for alert in alerts:
        assert _errors("alert", alert) == [], alert["alert_id"]
