"""`salespulse deadletters` against a real broker and worker: the rejected records are
counted and listed, exported as lines, and once fixed `salespulse publish` sends them and the
worker applies them. The whole way back for a rejected record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tests.support.workers import Cluster, eventually, http_get, produce, salespulse, wait_ready


def deal(event_id: str, deal_id: str, currency: str, amount: float) -> dict[str, Any]:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    return {
        "event_id": event_id,
        "occurred_at": when.isoformat(),
        "rep_id": "ann",
        "team_id": "west",
        "deal_id": deal_id,
        "outcome": "won",
        "amount": amount,
        "currency": currency,
    }


async def test_dead_letters_are_listed_exported_fixed_and_sent_again(
    cluster: Cluster, tmp_path: Path
) -> None:
    worker = cluster.start_worker()
    env = cluster.env(worker.port)
    await wait_ready([worker])
    deals, activities = cluster.topic("deals"), cluster.topic("activities")
    unknown = orjson.dumps(deal("e2", "d2", "XYZ", 50))
    await produce(
        cluster.bootstrap,
        [
            (deals, b"ann", deal("e1", "d1", "EUR", 100)),
            (deals, b"ann", unknown),
            (activities, b"ann", b'{"event_id": "a1", '),
            (activities, b"ann", b'{\n "event_id": "a2",\n "activity": "visit"\n}'),
            (activities, b"ann", b'{"event_id": "\xff"}'),
        ],
    )

    async def four_dead_letters() -> dict[str, Any]:
        shown = await salespulse(env, "deadletters", "--format", "json")
        assert shown.returncode == 0, shown.stderr
        doc: dict[str, Any] = orjson.loads(shown.stdout)
        assert doc["total"] == 4, (doc, worker.log_tail())
        return doc

    doc = await eventually(four_dead_letters)
    assert doc["topic"] == cluster.topic("deadletter")
    groups = {(g["topic"], g["reason"]): g["count"] for g in doc["by_topic_and_reason"]}
    assert groups == {
        (deals, "unknown_currency"): 1,
        (activities, "invalid_json"): 2,
        (activities, "schema_violation"): 1,
    }
    assert len(doc["latest"]) == 4
    for since, total in (("10m", 4), ((datetime.now(UTC) + timedelta(hours=1)).isoformat(), 0)):
        recent = await salespulse(env, "deadletters", "--since", since, "--format", "json")
        assert recent.returncode == 0 and orjson.loads(recent.stdout)["total"] == total, recent

    table = await salespulse(env, "deadletters", "--topic", "deals")
    assert table.returncode == 0 and "unknown_currency" in table.stdout, table
    assert "invalid_json" not in table.stdout, "--topic deals leaves the activities out"

    everything = tmp_path / "all.jsonl"
    exported = await salespulse(env, "deadletters", "--export", str(everything))
    assert exported.returncode == 0, exported.stderr
    lines = everything.read_text().splitlines()
    assert sorted(lines) == sorted(
        [unknown.decode(), '{"event_id": "a1", ', '{  "event_id": "a2",  "activity": "visit" }']
    )
    assert "1 not written: its payload is not UTF-8 text" in exported.stderr, exported.stderr

    fix = tmp_path / "fix.jsonl"
    chosen = await salespulse(
        env, "deadletters", "--reason", "unknown_currency", "--export", str(fix)
    )
    assert chosen.returncode == 0 and fix.read_text() == unknown.decode() + "\n", chosen
    assert f"salespulse publish {fix}" in chosen.stderr
    fix.write_text(fix.read_text().replace('"XYZ"', '"EUR"'))
    sent = await salespulse(env, "publish", str(fix))
    assert sent.returncode == 0, sent.stderr

    async def both_deals_won() -> None:
        status, body = await http_get(f"{worker.url}/v1/reps/ann/performance")
        assert status == 200 and body["deals"]["won"] == 2, (body, worker.log_tail())

    await eventually(both_deals_won)
