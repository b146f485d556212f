"""Ingestion against the real broker: every reject reaches the dead-letter topic with its
reason and original bytes, and the valid records after it are still processed."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from streams.worker.outgoing import PRODUCER_REQUEST_BYTES
from tests.support.clock import clear_of_month_start
from tests.support.topics import create_topic
from tests.support.workers import (
    Cluster,
    eventually,
    folded_records_deleted,
    http_get,
    produce,
    read_topic,
    topic_partitions,
    wait_ready,
)


def activity(event_id: str, rep: str, when: datetime, kind: str = "call") -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": when.isoformat(),
        "rep_id": rep,
        "team_id": "north",
        "activity": kind,
    }


async def test_rejects_reach_deadletter_and_valid_records_still_count(cluster: Cluster) -> None:
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = clear_of_month_start(datetime.now(UTC).replace(microsecond=0), timedelta(minutes=10))
    acts, deals, feedback = (
        cluster.topic("activities"),
        cluster.topic("deals"),
        cluster.topic("feedback"),
    )
    too_large = orjson.dumps({**activity("big", "ana", now), "source": "x" * 70_000})
    not_utf8 = b'{"event_id": "\xff\xfe"}'
    rejects: list[tuple[str, bytes | None, bytes, str]] = [
        (acts, b"ana", b"{not json", "invalid_json"),
        (acts, b"ana", not_utf8, "invalid_json"),
        (
            acts,
            None,
            orjson.dumps({**activity("v2", "ana", now), "schema_version": 2}),
            "unsupported_schema_version",
        ),
        (
            acts,
            b"ana",
            orjson.dumps({**activity("s1", "ana", now), "activity": "lunch"}),
            "schema_violation",
        ),
        (acts, b"ana", too_large, "payload_too_large"),
        (
            acts,
            b"ana",
            orjson.dumps(activity("fut", "ana", now + timedelta(hours=3))),
            "future_event_time",
        ),
        (
            deals,
            b"ana",
            orjson.dumps(
                {
                    **activity("d1", "ana", now),
                    "deal_id": "D1",
                    "outcome": "won",
                    "amount": 10,
                    "currency": "XYZ",
                }
            ),
            "unknown_currency",
        ),
        (feedback, b"ana", orjson.dumps({**activity("f1", "ana", now)}), "schema_violation"),
    ]
    valid = [activity(f"ok{i}", "ana", now - timedelta(minutes=i), "email") for i in range(5)]
    records: list[tuple[str, bytes | None, Any]] = []
    for topic, key, payload, _ in rejects:
        records.append((topic, key, payload))
        records.append((acts, b"ana", valid.pop() if valid else None))
    records = [r for r in records if r[2] is not None]
    await produce(cluster.bootstrap, records)

    async def all_rejects_arrived() -> list[Any]:
        dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
        assert len(dead) >= len(rejects), worker.log_tail()
        return dead

    dead = await eventually(all_rejects_arrived)
    by_payload: dict[bytes, dict[str, Any]] = {}
    for message in dead:
        doc = orjson.loads(message.value)
        original = (
            base64.b64decode(doc["payload"])
            if doc["payload_encoding"] == "base64"
            else doc["payload"].encode()
        )
        by_payload[original] = doc
    assert len(dead) == len(rejects), [orjson.loads(m.value)["reason"] for m in dead]
    for topic, key, payload, reason in rejects:
        doc = by_payload[payload]
        assert doc["reason"] == reason, doc
        assert doc["topic"] == topic
        assert doc["detail"]
        assert isinstance(doc["partition"], int) and isinstance(doc["offset"], int)
        assert doc["key"] == (key.decode() if key else None)
        assert doc["received_at"]

    async def valid_counted() -> None:
        status, body = await http_get(f"{worker.url}/v1/reps/ana/performance")
        assert status == 200, body
        assert body["activities"] == {"total": 5, "by_type": {"email": 5}}

    await eventually(valid_counted)
    status, metrics = await http_get(worker.url + "/metrics")
    assert status == 200
    for _, _, _, reason in rejects:
        assert f'reason="{reason}"' in metrics
    # the worker's RocksDB databases hold their memtables in the one budget the gauge reads
    assert 0 < unlabelled(metrics, "sales_store_memory_bytes") <= 128 * 2**20
    # the worker's event loop is timed from its start (streams.worker.loop_busy)
    assert unlabelled(metrics, "sales_worker_busy_seconds_total") > 0
    assert worker.alive(), "a bad record must never stop the worker"


def unlabelled(metrics: str, name: str) -> float:
    """The value of a series without labels in a /metrics text."""
    (value,) = [
        float(line.split()[1]) for line in metrics.splitlines() if line.startswith(name + " ")
    ]
    return value


async def test_topics_created_at_startup_and_folded_internal_records_deleted(
    cluster: Cluster,
) -> None:
    cluster.extra_env = {"SALES_INTERNAL_PURGE_INTERVAL": "0.5"}
    worker = cluster.start_worker()
    await wait_ready([worker])
    topics = await topic_partitions(cluster.bootstrap)
    for kind in ("activities", "deals", "feedback", "targets", "alerts", "deadletter"):
        assert topics[cluster.topic(kind)][0] == 8
    assert topics[cluster.topic("targets")][1].get("cleanup.policy") == "compact"
    # the changelog takes any record the producer sends: a state record is never cut
    changelog = topics[f"{cluster.name}-scopes-changelog"][1]
    assert changelog.get("cleanup.policy") == "compact"
    assert changelog.get("max.message.bytes") == str(PRODUCER_REQUEST_BYTES)
    # the internal topic keeps records until the worker deleted them, folded
    internal = topics[cluster.topic("scopes")][1]
    assert (internal.get("retention.ms"), internal.get("retention.bytes")) == ("-1", "-1")

    # won deals and records keyed by no rep cross the internal topic
    now = clear_of_month_start(datetime.now(UTC).replace(microsecond=0), timedelta(minutes=5))
    deals = [
        {**activity(f"d{n}", f"r{n}", now), "deal_id": f"D{n}", "outcome": "won",
         "amount": 10, "currency": "USD"}
        for n in range(8)
    ]  # fmt: skip
    await produce(cluster.bootstrap, [(cluster.topic("deals"), None, deal) for deal in deals])

    async def counted() -> None:
        status, body = await http_get(f"{worker.url}/v1/teams/north/performance")
        assert status == 200 and body["deals"]["won"] == 8, body

    await eventually(counted)
    # (envelopes carry many items: how many records the deals made is not theirs to say)
    await eventually(
        lambda: folded_records_deleted(cluster.bootstrap, cluster.name, cluster.topic("scopes"))
    )
    assert worker.alive(), worker.log_tail()


async def test_late_event_goes_to_deadletter(cluster: Cluster) -> None:
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = datetime.now(UTC).replace(microsecond=0)
    acts = cluster.topic("activities")
    late = activity("late", "bo", now - timedelta(days=8))
    await produce(
        cluster.bootstrap,
        [(acts, b"bo", activity("recent", "bo", now)), (acts, b"bo", late)],
    )

    async def rejected() -> dict[str, Any]:
        dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
        assert dead
        return orjson.loads(dead[0].value)

    doc = await eventually(rejected)
    assert doc["reason"] == "late_event"
    assert orjson.loads(doc["payload"]) == late
    status, body = await http_get(f"{worker.url}/v1/reps/bo/performance")
    assert status == 200
    assert body["activities"]["total"] == 1


async def test_a_dead_letter_over_the_topics_limit_arrives_cut_and_nothing_is_lost(
    cluster: Cluster,
) -> None:
    """The dead-letter topic takes at most 8 KB per record; 60 KB bad records still get
    there (payloads cut, sizes said), several in one fetched batch (a producer batch of two
    cut dead letters would not fit the topic), and the valid records around them count.
    So does a bad record with a 6 KB key, which the dead letter used to carry whole as its
    Kafka key: too large to produce, the worker stopped on it at every restart."""
    await create_topic(
        cluster.topic("deadletter"),
        8,
        configs={"max.message.bytes": "8192"},
        bootstrap_servers=cluster.bootstrap,
    )
    worker = cluster.start_worker()
    await wait_ready([worker])
    now = datetime.now(UTC).replace(microsecond=0)
    acts = cluster.topic("activities")
    big_bad = b'{"event_id": "' + b"\x00" * 60_000  # invalid JSON, escapes six-fold
    long_key = b"k" * 6000
    bogus = orjson.dumps(activity("c9", "cy", now) | {"activity": "bogus"})
    records: list[tuple[str, bytes | None, Any]] = [
        (acts, b"cy", orjson.dumps(activity("c1", "cy", now))),
        *[(acts, b"cy", big_bad)] * 4,
        (acts, long_key, bogus),
        (acts, b"cy", orjson.dumps(activity("c2", "cy", now))),
    ]
    await produce(cluster.bootstrap, records)

    async def arrived() -> list[dict[str, Any]]:
        dead = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
        assert len(dead) == 5, worker.log_tail()
        assert all(len(r.key or b"") + len(r.value) <= 8192 for r in dead)
        return [orjson.loads(record.value) for record in dead]

    docs = await eventually(arrived)
    for doc in docs:
        if doc["reason"] == "schema_violation":  # the long key's
            assert doc["key_truncated"] is True and doc["key_size"] == len(long_key)
            assert doc["payload"] == bogus.decode() and "payload_truncated" not in doc
            continue
        assert doc["reason"] == "invalid_json"
        assert doc["payload_truncated"] is True and doc["payload_size"] == len(big_bad)
        assert big_bad.decode().startswith(doc["payload"])
    assert sorted(doc["reason"] for doc in docs) == ["invalid_json"] * 4 + ["schema_violation"]

    async def both_counted() -> None:
        status, body = await http_get(f"{worker.url}/v1/reps/cy/performance")
        assert status == 200 and body["activities"]["total"] == 2, body

    await eventually(both_counted)
    assert worker.alive()
