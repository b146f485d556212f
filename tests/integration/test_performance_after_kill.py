"""sales.performance is at least once across a kill, for every document it owes.

The publisher works on a time budget, so changed documents wait; a worker killed meanwhile
restarted and republished the periods an event can still reach, but not a period a deal's
move left without data (its old close date's pipeline) nor one before the late grace (its
creation date's cohort): an independent check that killed workers found such documents
stale on the topic. Here the publisher never runs before the kill (its interval is an hour),
so every document of these events is owed when the worker dies after its checkpoint.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from tests.integration.expected_figures import period_ids
from tests.integration.test_crash_restart import EXTRA_ENV
from tests.support.workers import Cluster, eventually, http_get, produce, read_topic, wait_ready


def deal(event_id: str, deal_id: str, outcome: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "rep_id": "r1",
        "team_id": "t1",
        "deal_id": deal_id,
        "outcome": outcome,
        "amount": 500,
        "currency": "USD",
        **extra,
    }


def next_quarter_start(now: datetime) -> datetime:
    first_month = 3 * ((now.month - 1) // 3) + 4
    year = now.year + (first_month > 12)
    return datetime(year, (first_month - 1) % 12 + 1, 1, tzinfo=UTC)


async def test_documents_owed_when_the_worker_was_killed_are_published_after_its_restart(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    close = next_quarter_start(now) + timedelta(days=10, hours=12)
    created_long_ago = now - timedelta(days=100)
    opened, closed = now - timedelta(hours=2), now - timedelta(hours=1)
    events = [  # D1 leaves next quarter's pipeline; D2 leaves an old cohort's open deals
        deal("e1", "D1", "open", opened, created_at=opened.isoformat(),
             expected_close_at=close.isoformat(), stage="demo"),
        deal("e2", "D1", "won", closed, created_at=opened.isoformat()),
        deal("e3", "D2", "open", opened, created_at=created_long_ago.isoformat(),
             expected_close_at=(now + timedelta(days=5)).isoformat()),
        deal("e4", "D2", "lost", closed, created_at=created_long_ago.isoformat()),
    ]  # fmt: skip
    #: the killed member's session: 10 s (EXTRA_ENV), not Faust's 60 s, before the restart
    #: gets its partitions
    session = {k: v for k, v in EXTRA_ENV.items() if k == "SALES_SESSION_TIMEOUT"}
    quiet = Cluster(
        kafka_bootstrap,
        unique_name,
        tmp_path,
        extra_env={**session, "SALES_PERFORMANCE_MIN_INTERVAL": "3600"},
    )
    worker = quiet.start_worker()
    try:
        await wait_ready([worker])
        deals_topic = quiet.topic("deals")
        month = period_ids(now)["month"]
        quarter = period_ids(close)["quarter"]
        cohort = period_ids(created_long_ago)["month"]
        # the open deals first, until every scope shows them: their documents changed (a
        # deal's events folded in one batch would only ever show its last state)
        await produce(kafka_bootstrap, [(deals_topic, b"r1", e) for e in events[::2]])

        async def open_deals_shown() -> None:
            for scope in ("reps/r1", "teams/t1"):
                status, doc = await http_get(
                    f"{worker.url}/v1/{scope}/performance?period={quarter}"
                )
                assert status == 200 and doc["pipeline"]["open_count"] == 1, doc
                status, doc = await http_get(f"{worker.url}/v1/{scope}/performance?period={cohort}")
                assert status == 200 and doc["conversion"]["open"] == 1, doc

        await eventually(open_deals_shown)
        await produce(kafka_bootstrap, [(deals_topic, b"r1", e) for e in events[1::2]])

        async def folded_and_committed() -> None:
            status, doc = await http_get(f"{worker.url}/v1/reps/r1/performance?period={month}")
            assert status == 200 and (doc["deals"]["won"], doc["deals"]["lost"]) == (1, 1), doc
            for scope in ("reps/r1", "teams/t1"):
                _, doc = await http_get(f"{worker.url}/v1/{scope}/performance?period={quarter}")
                assert doc["pipeline"]["open_count"] == 0, doc
            _, status = await http_get(f"{worker.url}/v1/status")
            assert status["lag"] == {"input": 0, "internal": 0}, status

        await eventually(folded_and_committed)
        performance = quiet.topic("performance")
        assert await read_topic(kafka_bootstrap, performance) == [], "published before the kill"
        worker.kill()
    finally:
        quiet.stop()

    restarted = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=session).start_worker(
        worker.port
    )
    wanted = [f"{s}:{p}" for s in ("rep:r1", "team:t1") for p in (quarter, cohort, month)]
    try:
        await wait_ready([restarted])

        async def published() -> dict[str, Any]:
            docs = {
                r.key.decode(): orjson.loads(r.value)
                for r in await read_topic(kafka_bootstrap, performance)
            }
            assert set(wanted) <= set(docs), sorted(docs)
            return docs

        docs = await eventually(published)
        for scope in ("rep:r1", "team:t1"):
            # D1 was in the quarter's pipeline, then won: the quarter holds nothing now
            assert docs[f"{scope}:{quarter}"]["pipeline"]["open_count"] == 0
            assert docs[f"{scope}:{cohort}"]["conversion"] == {
                "created": 1,
                "won": 0,
                "lost": 1,
                "open": 0,
                "win_rate": 0.0,
                "by_source": {"unknown": {"created": 1, "won": 0, "win_rate": 0.0}},
            }
            assert docs[f"{scope}:{month}"]["deals"]["won"] == 1
    finally:
        restarted.stop()
