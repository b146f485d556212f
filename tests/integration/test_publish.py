"""`salespulse publish` and the Python publisher against a real broker.

Every topic of a test has one partition, so the order the records were sent in is the order
they are read back in.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer

from streams.tools import cli
from streams.tools.producer import ensure_topics, topic_partitions
from streams.tools.publisher import Activity, Deal, Feedback, Publisher, Target
from streams.worker.settings import Settings

pytestmark = pytest.mark.integration

KINDS = ("activities", "deals", "feedback", "targets")

# event times interleave across the two files: the send order is not the file order
JSONL = [
    {
        "event_id": "j1",
        "occurred_at": "2026-11-20T15:00:00Z",
        "rep_id": "s01",
        "team_id": "t1",
        "activity": "call",
        "duration_s": 120,
    },
    {
        "event_id": "j2",
        "occurred_at": "2026-11-20T09:00:00-05:00",  # 14:00Z: before j1
        "rep_id": "s02",
        "team_id": "t1",
        "deal_id": "d-7",
        "outcome": "won",
        "amount": 5400.5,
        "currency": "EUR",
        "created_at": "2026-10-01T10:00:00Z",
    },
    {"scope": "rep", "scope_id": "s01", "metric": "revenue_won", "period": "2026-11", "value": 5e4},
    {
        "event_id": "j3",
        "occurred_at": "2026-11-21T10:00:00Z",
        "rep_id": "s02",
        "team_id": "t1",
        "nps": 9,
    },
]
CSV = (
    "event_id,occurred_at,rep_id,team_id,activity,deal_id,outcome,amount,currency,csat\n"
    "c1,2026-11-20T16:00:00Z,s03,t2,demo,,,,,\n"
    "c2,2026-11-19T10:00:00Z,s03,t2,,d-9,lost,,,\n"
    "c3,2026-11-20T14:30:00Z,s01,t1,,,,,,4\n"
    "c4,2026-11-20T13:00:00Z,s01,t1,email,,,,,\n"
)
#: event ids (targets: their key) in event-time order, targets first
EXPECTED_ORDER = [
    "rep:s01:revenue_won:2026-11",
    "c2",  # 19th
    "c4",  # 20th 13:00
    "j2",  # 14:00Z
    "c3",  # 14:30
    "j1",  # 15:00
    "c1",  # 16:00
    "j3",  # 21st
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, kafka_bootstrap: str, unique_name: str) -> Settings:
    """Settings on the test broker with one-partition topics of this test only."""
    monkeypatch.setenv("KAFKA_BOOTSTRAP", kafka_bootstrap)
    monkeypatch.setenv("SALES_TOPIC_PARTITIONS", "1")
    for kind in KINDS:
        monkeypatch.setenv(f"SALES_TOPIC_{kind.upper()}", f"{unique_name}.{kind}")
    return Settings.from_env()


def run_cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


Read = tuple[str, bytes | None, bytes | None, int]  # topic, key, value, timestamp


async def _read_all(settings: Settings, topics: list[str]) -> list[Read]:
    """Every record of the topics, each topic in offset order."""
    partitions = [tp for topic in topics for tp in await topic_partitions(settings, topic)]
    if not partitions:
        return []
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap, enable_auto_commit=False
    )
    await consumer.start()
    await asyncio.sleep(0)
    out: list[Read] = []
    try:
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        while any([await consumer.position(tp) < ends[tp] for tp in partitions]):
            for tp, messages in (await consumer.getmany(timeout_ms=1000)).items():
                out.extend((tp.topic, m.key, m.value, m.timestamp) for m in messages)
    finally:
        await consumer.stop()
    return out


def read_all(settings: Settings) -> list[Read]:
    names = [getattr(settings.topics, kind) for kind in KINDS]
    return asyncio.run(_read_all(settings, names))


def write_inputs(tmp_path: Path) -> tuple[Path, Path]:
    jsonl = tmp_path / "crm.jsonl"
    jsonl.write_bytes(b"\n".join(orjson.dumps(line) for line in JSONL) + b"\n")
    sheet = tmp_path / "dialer.csv"
    sheet.write_text(CSV)
    return jsonl, sheet


def name_of(value: bytes | None) -> str:
    body = orjson.loads(value or b"null")
    if "event_id" in body:
        return str(body["event_id"])
    return f"{body['scope']}:{body['scope_id']}:{body['metric']}:{body['period']}"


def test_one_invalid_line_sends_nothing(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(ensure_topics(env, env.topics.inputs()))  # they exist, and stay empty
    jsonl, sheet = write_inputs(tmp_path)
    lines = jsonl.read_bytes().splitlines()
    broken = orjson.loads(lines[1])
    broken["currency"] = "XYZ"  # not in the FX rates: the worker would dead-letter it
    lines[1] = orjson.dumps(broken)
    jsonl.write_bytes(b"\n".join(lines) + b"\n")

    assert run_cli(["publish", str(jsonl), str(sheet)]) == 1
    err = capsys.readouterr().err
    assert f"{jsonl}:2: deal: $.currency: 'XYZ' is not a known currency" in err
    assert "nothing sent" in err
    assert run_cli(["publish", "--dry-run", str(jsonl), str(sheet)]) == 1
    capsys.readouterr()
    assert read_all(env) == []


def test_jsonl_and_csv_arrive_in_event_time_order_keyed_by_rep(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jsonl, sheet = write_inputs(tmp_path)
    assert run_cli(["publish", str(jsonl), str(sheet)]) == 0
    err = capsys.readouterr().err
    assert "sent 8 records (activities 3, deals 2, feedback 2, targets 1)" in err
    assert f"Kafka at {env.kafka_bootstrap}" in err

    records = read_all(env)
    assert len(records) == 8
    topics = env.topics
    by_topic: dict[str, list[str]] = {}
    for topic, key, value, _ in records:
        body = orjson.loads(value or b"null")
        if topic == topics.targets:
            assert key == b"rep:s01:revenue_won:2026-11"
        else:
            assert key == body["rep_id"].encode(), "events are keyed by rep_id"
        by_topic.setdefault(topic, []).append(name_of(value))
    assert by_topic == {
        topics.activities: ["c4", "j1", "c1"],
        topics.deals: ["c2", "j2"],
        topics.feedback: ["c3", "j3"],
        topics.targets: ["rep:s01:revenue_won:2026-11"],
    }
    # across topics, the producer's timestamps follow the event-time order
    stamped = sorted(records, key=lambda r: EXPECTED_ORDER.index(name_of(r[2])))
    stamps = [r[3] for r in stamped]
    assert stamps == sorted(stamps)

    # a JSON-lines value is sent byte for byte; CSV numbers are numbers
    values = {name_of(v): v for _, _, v, _ in records}
    assert values["j2"] == orjson.dumps(JSONL[1])
    assert orjson.loads(values["c1"] or b"") == {
        "event_id": "c1",
        "occurred_at": "2026-11-20T16:00:00Z",
        "rep_id": "s03",
        "team_id": "t2",
        "activity": "demo",
    }
    assert orjson.loads(values["c3"] or b"")["csat"] == 4


def test_skip_invalid_sends_only_the_valid_lines(
    env: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(orjson.dumps(JSONL[0]) + b"\n" + b"{broken\n" + orjson.dumps(JSONL[3]) + b"\n")
    assert run_cli(["publish", "--skip-invalid", "--format", "json", str(path)]) == 0
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["status"] == "sent" and doc["skipped"] == 1
    assert doc["sent"] == {"activities": 1, "feedback": 1}
    assert [(e["line"], e["reason"]) for e in doc["errors"]] == [(2, "invalid_json")]
    assert sorted(name_of(v) for _, _, v, _ in read_all(env)) == ["j1", "j3"]


def test_the_python_publisher(env: Settings) -> None:
    quota = Target(scope="team", scope_id="t1", metric="deals_won", period="2026-11", value=3)
    won = Deal(
        rep_id="s01",
        team_id="t1",
        deal_id="d-1",
        outcome="won",
        amount=100,
        currency="USD",
        occurred_at="2026-11-20T12:00:00Z",
    )
    call = Activity(rep_id="s02", team_id="t1", activity="call", occurred_at="2026-11-20T11:00:00Z")
    score = Feedback(rep_id="s01", team_id="t1", csat=5, occurred_at="2026-11-19T09:00:00Z")

    async def go() -> dict[str, int]:
        async with Publisher(env) as publisher:
            await publisher.send(call)
            return await publisher.send_many([won, score, quota])

    assert asyncio.run(go()) == {"targets": 1, "feedback": 1, "deals": 1}
    records = read_all(env)
    assert sorted((topic, key, value) for topic, key, value, _ in records) == sorted(
        [
            (env.topics.activities, b"s02", call.payload),
            (env.topics.deals, b"s01", won.payload),
            (env.topics.feedback, b"s01", score.payload),
            (env.topics.targets, b"team:t1:deals_won:2026-11", quota.payload),
        ]
    )
