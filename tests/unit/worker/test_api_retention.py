"""SALES_RETENTION at the API: a period before the horizon answers 410 Gone, never zeros;
the settings are checked in test_api_settings. Two in-process workers, no Kafka (two_workers.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from streams.domain.periods import current_period_ids, periods_of, previous_period_id
from streams.worker import api
from streams.worker.settings import Settings
from tests.unit.worker.two_workers import consumer_holding, two_workers

pytestmark = pytest.mark.asyncio(loop_scope="session")

UTC_ZONE = Settings().tz


async def get(client: TestClient, path: str) -> tuple[int, Any]:
    response = await client.get(path)
    return response.status, await response.json()


def periods_ago(days: int) -> tuple[str, str, str, str]:
    """(day, week, month, quarter) of an instant `days` ago by the real clock, as the API
    judges the horizon by it."""
    return periods_of(datetime.now(UTC) - timedelta(days=days), UTC_ZONE)


async def test_a_period_before_the_horizon_answers_410_everywhere() -> None:
    old_day, old_week, old_month, old_quarter = periods_ago(200)
    async with two_workers({"SALES_RETENTION": "P92D"}) as clients:
        for client in clients:
            for period in (old_day, old_week, old_month, old_quarter):
                status, body = await get(client, f"/v1/reps/r1/performance?period={period}")
                assert status == 410, (period, body)
                assert body["error"].startswith(f"period: {period} starts before ")
                assert "SALES_RETENTION=P92D:" in body["error"]
            status, _ = await get(client, f"/v1/teams/t1/performance?period={old_month}")
            assert status == 410
            status, _ = await get(client, f"/v1/leaderboard?period={old_quarter}")
            assert status == 410
            status, body = await get(client, "/v1/reps/r1/performance")  # the current month
            assert (
                status == 200
                and body["period"] == current_period_ids(datetime.now(UTC), UTC_ZONE)["month"]
            )


async def test_the_previous_of_a_kept_period_may_be_gone() -> None:
    """With P92D the quarter before this one is kept, the one before that is not."""
    now = datetime.now(UTC)
    last_quarter = previous_period_id(current_period_ids(now, UTC_ZONE)["quarter"])
    async with two_workers({"SALES_RETENTION": "P92D"}) as clients:
        status, doc = await get(
            clients[0], f"/v1/reps/r1/performance?period={last_quarter}&compare=previous"
        )
    assert status == 200 and doc["period"] == last_quarter
    assert doc["previous"] is None


async def test_activity_from_before_the_horizon_answers_410() -> None:
    start = (datetime.now(UTC) - timedelta(days=200)).strftime("%Y-%m-%dT%H:00:00Z")
    async with two_workers({"SALES_RETENTION": "P92D"}) as clients:
        status, body = await get(clients[1], f"/v1/reps/r1/activity?granularity=day&from={start}")
        assert status == 410 and body["error"].startswith("from: ")
        status, _ = await get(clients[1], "/v1/reps/r1/activity?granularity=day")
        assert status == 200


async def test_without_retention_every_period_answers() -> None:
    async with two_workers() as clients:
        status, body = await get(
            clients[0], f"/v1/reps/r1/performance?period={periods_ago(900)[2]}"
        )
    assert status == 200 and body["activities"]["total"] == 0


async def test_the_status_names_each_workers_retention_and_a_disagreement() -> None:
    async with two_workers({"SALES_RETENTION": "P400D", "SALES_TOPIC_PARTITIONS": "2"}) as clients:
        workers = [client.app[api.BACKEND] for client in clients]
        for index, worker in enumerate(workers):
            worker.consumer = consumer_holding([index])
        status, doc = await get(clients[0], "/v1/status")
        assert status == 200 and doc["status"] == "ok", doc
        assert [w["retention"] for w in doc["workers"]] == ["P400D", "P400D"]
        workers[1].settings = replace(workers[1].settings, retention=None)
        status, doc = await get(clients[1], "/v1/status")
    assert doc["status"] == "degraded"
    assert doc["problems"][0].startswith("workers disagree on SALES_RETENTION (w0 P400D, w1 unset)")
