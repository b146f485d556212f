"""generate, replay and targets against a real broker: what is sent is what is read back."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from streams.tools import cli
from streams.tools.producer import topic_partitions
from streams.worker.settings import Settings
from tests.support.workers import produce

pytestmark = pytest.mark.integration

SPAN = ["--start", "2026-11-02", "--end", "2026-11-13T18:00"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, unique_name: str) -> Settings:
    """Settings on the test broker with topics of this test only."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    for kind in ("activities", "deals", "feedback", "targets"):
        monkeypatch.setenv(f"SALES_TOPIC_{kind.upper()}", f"{unique_name}.{kind}")
    return Settings.from_env()


def run_cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


async def _read_all(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    partitions = await topic_partitions(settings, topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    await asyncio.sleep(0)
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for messages in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend((m.key, m.value) for m in messages)
    finally:
        await consumer.stop()
    return out


def read_all(settings: Settings, topic: str) -> list[tuple[bytes | None, bytes | None]]:
    return asyncio.run(_read_all(settings, topic))


def test_generate_to_kafka_reads_back_the_right_counts(env: Settings, tmp_path: Path) -> None:
    args = ["generate", "--seed", "5", *SPAN, "--events", "3000", "--invalid-rate", "0.02"]
    assert run_cli([*args, "--output", str(tmp_path / "expected.jsonl")]) == 0
    expected = Counter(
        json.loads(line)["topic"] for line in (tmp_path / "expected.jsonl").read_text().splitlines()
    )
    assert run_cli(args) == 0
    topics = env.topics
    for topic in (topics.activities, topics.deals, topics.feedback):
        records = read_all(env, topic)
        assert len(records) == expected[topic], topic
        assert len(asyncio.run(topic_partitions(env, topic))) == env.topic_partitions
    keyed = 0
    for key, value in read_all(env, topics.activities):
        try:
            event = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            continue  # a deliberately invalid record
        if "rep_id" in event:
            assert key == event["rep_id"].encode(), "records are keyed by rep_id"
            keyed += 1
    assert keyed > 2500


def test_replay_sends_a_file_byte_for_byte(env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    assert (
        run_cli(
            [
                "generate",
                "--seed",
                "9",
                *SPAN,
                "--events",
                "1500",
                "--invalid-rate",
                "0.1",
                "--duplicate-rate",
                "0.05",
                "--output",
                str(path),
            ]
        )
        == 0
    )
    assert run_cli(["replay", str(path), "--rate", "5000"]) == 0
    expected: dict[str, Counter[tuple[bytes | None, bytes | None]]] = {}
    for line in path.read_bytes().splitlines():
        item = orjson.loads(line)
        value = item["value_raw"].encode() if "value_raw" in item else orjson.dumps(item["value"])
        expected.setdefault(item["topic"], Counter())[(item["key"].encode(), value)] += 1
    for topic, records in expected.items():
        assert Counter(read_all(env, topic)) == records, topic
    raw = [v for _, v in read_all(env, env.topics.activities) + read_all(env, env.topics.deals)]
    assert any(v is not None and not v.endswith(b"}") for v in raw), "bad JSON went out as is"


def test_targets_set_list_delete_round_trip(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["targets", "list", "--format", "json"]) == 0
    assert orjson.loads(capsys.readouterr().out) == []

    assert (
        run_cli(
            [
                "targets",
                "set",
                "--scope",
                "rep",
                "--id",
                "r1",
                "--metric",
                "revenue_won",
                "--period",
                "2026-11",
                "--value",
                "50000",
            ]
        )
        == 0
    )
    sheet = tmp_path / "targets.csv"
    sheet.write_text(
        "scope,scope_id,metric,period,value\n"
        "team,t-smb,deals_won,2026-11,12\n"
        "rep,r1,activities.demo,2026-Q4,40.5\n"
        "rep,r1,revenue_won,2026-11,60000\n"
    )
    assert run_cli(["targets", "set", "--file", str(sheet)]) == 0
    capsys.readouterr()

    assert run_cli(["targets", "list", "--format", "json"]) == 0
    listed = {
        f"{t['scope']}:{t['scope_id']}:{t['metric']}:{t['period']}": t["value"]
        for t in orjson.loads(capsys.readouterr().out)
    }
    assert listed == {
        "rep:r1:revenue_won:2026-11": 60000,  # the later value replaced the first
        "team:t-smb:deals_won:2026-11": 12,
        "rep:r1:activities.demo:2026-Q4": 40.5,
    }

    assert (
        run_cli(
            [
                "targets",
                "delete",
                "--scope",
                "rep",
                "--id",
                "r1",
                "--metric",
                "revenue_won",
                "--period",
                "2026-11",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert run_cli(["targets", "list", "--format", "csv", "--scope", "rep"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines == ["scope,scope_id,metric,period,value", "rep,r1,activities.demo,2026-Q4,40.5"]

    records = read_all(env, env.topics.targets)
    assert (b"rep:r1:revenue_won:2026-11", None) in records, "delete is a tombstone"
    assert asyncio.run(_cleanup_policy(env, env.topics.targets)) == "compact"


def test_targets_list_shows_what_the_worker_holds(
    env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record the worker refuses changes nothing there: list showed -5, and dropped a
    target whose later record was not JSON, while the worker kept using the earlier value."""
    set_args = ["targets", "set", "--scope", "rep", "--metric", "deals_won", "--period", "2026-11"]
    assert run_cli([*set_args, "--id", "r1", "--value", "5"]) == 0
    assert run_cli([*set_args, "--id", "r2", "--value", "7"]) == 0
    refused = [
        (
            b"rep:r1:deals_won:2026-11",
            orjson.dumps(
                {
                    "scope": "rep",
                    "scope_id": "r1",
                    "metric": "deals_won",
                    "period": "2026-11",
                    "value": -5,
                }
            ),
        ),
        (b"rep:r2:deals_won:2026-11", b"{not json"),
    ]
    asyncio.run(produce(env.kafka_bootstrap, [(env.topics.targets, k, v) for k, v in refused]))
    capsys.readouterr()
    assert run_cli(["targets", "list", "--format", "json"]) == 0
    listed = {t["scope_id"]: t["value"] for t in orjson.loads(capsys.readouterr().out)}
    assert listed == {"r1": 5, "r2": 7}


async def _cleanup_policy(settings: Settings, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        response = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    for resource in response[0].resources:
        for name, value, *_ in resource[4]:
            if name == "cleanup.policy":
                return str(value)
    return ""
