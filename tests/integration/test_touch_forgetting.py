"""A deal forgets its touches' ids once no event can repeat them, through a real worker:
the minute's Tick carries the stream time the partition's written state had reached, the
rep's hour tells the deal, and the deal's state in the changelog ends with no touch ids and
the same counts (streams.engine.processor, `forget_touches`)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from streams.engine.state import DEAL_STATE, HOUR, DealState, decode_value, make_key, parse_key
from streams.worker.changelog_frames import Frame, is_frame_key
from streams.worker.settings import Settings
from streams.worker.topics import changelog_topic
from tests.support.workers import Cluster, eventually, http_get, produce, read_topic, wait_ready


def stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def latest_state(cluster: Cluster, env: dict[str, str]) -> dict[bytes, bytes]:
    """Every state record as the changelog holds it last (frames applied in order)."""
    state: dict[bytes, bytes] = {}
    records = await read_topic(cluster.bootstrap, changelog_topic(Settings.from_env(env)))
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        if not (record.value and is_frame_key(record.key)):
            continue
        for key, value in msgspec.msgpack.decode(record.value, type=Frame).ops:
            if value is None:
                state.pop(key, None)
            else:
                state[key] = value
    return state


async def test_a_worker_forgets_the_touch_ids_of_hours_past_the_grace(cluster: Cluster) -> None:
    ticking = dataclasses.replace(
        cluster, extra_env={**cluster.extra_env, "SALES_EVALUATION_INTERVAL": "1"}
    )
    worker = ticking.start_worker()
    await wait_ready([worker])
    old = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=10)
    topic = cluster.topic("activities")

    def call(n: int, at: datetime, deal: str | None = "D1") -> tuple[str, bytes, dict[str, Any]]:
        body = {"event_id": f"c{n}", "occurred_at": stamp(at), "rep_id": "r1", "team_id": "t1"}
        return topic, b"r1", {**body, "activity": "call", **({"deal_id": deal} if deal else {})}

    won = {
        "event_id": "w1",
        "occurred_at": stamp(old + timedelta(minutes=30)),
        "deal_id": "D1",
        "rep_id": "r1",
        "team_id": "t1",
        "outcome": "won",
        "amount": 1000.0,
        "currency": "USD",
    }
    await produce(
        cluster.bootstrap,
        [
            *(call(n, old + timedelta(minutes=n)) for n in range(5)),
            (cluster.topic("deals"), b"r1", won),
        ],
    )
    month = old.strftime("%Y-%m")

    async def touches() -> Any:
        status, body = await http_get(f"{worker.url}/v1/reps/r1/performance?period={month}")
        assert status == 200, body
        efficiency = body.get("efficiency") or {}
        assert efficiency.get("touches_per_won_deal") == 5.0, body
        return body

    before = await eventually(touches, timeout=60)
    deal_key = make_key("deal:D1", DEAL_STATE)
    state = await latest_state(cluster, worker.env)
    assert sorted(decode_value(DEAL_STATE, state[deal_key]).touch_ids) == [
        f"c{n}" for n in range(5)
    ]
    # ten days later: the old hour is past the 7-day grace once the state has it written
    await produce(cluster.bootstrap, [call(9, old + timedelta(days=10), deal=None)])

    async def forgotten() -> None:
        records = await latest_state(cluster, worker.env)
        deal: DealState = decode_value(DEAL_STATE, records[deal_key])
        assert deal.touch_ids == [] and deal.touches == {"call": 5}, deal
        hours = [
            decode_value(HOUR, value)
            for key, value in records.items()
            if parse_key(key)[:2] == ("rep:r1", HOUR)
        ]
        assert hours and not any(hour.touched for hour in hours), hours

    await eventually(forgotten, timeout=90, interval=2)
    after = await touches()  # the counts stay
    assert after["efficiency"] == before["efficiency"], (before, after)
