"""Inhibitions of deploy/alertmanager/alertmanager.yml, against Debian's Alertmanager: alerts
posted to its API as Prometheus would, then read back with their state.

While a worker has no contact with Kafka (KafkaUnreachable) its figures are frozen while the
clock runs on, so RepInactive and SalesTargetAtRisk wait; everything else goes on, and they
come back once contact does.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.conftest import AlertmanagerServer
from tests.support.workers import eventually


def alert(name: str, ends: datetime, **labels: str) -> dict[str, Any]:
    start = datetime.now(UTC) - timedelta(minutes=5)
    return {
        "labels": {"alertname": name, **labels},
        "startsAt": start.isoformat(),
        "endsAt": ends.isoformat(),
    }


def target_alert(name: str, ends: datetime, severity: str, rep: str, period: str) -> dict[str, Any]:
    """A rep's revenue target alert, labelled as alert_rules.yml labels it."""
    return alert(
        name,
        ends,
        severity=severity,
        category="business",
        scope="rep",
        id=rep,
        metric="revenue_won",
        period=period,
        team="n",
    )


async def post(am: AlertmanagerServer, alerts: list[dict[str, Any]]) -> None:
    def call() -> int:
        request = urllib.request.Request(
            f"{am.url}/api/v2/alerts",
            data=json.dumps(alerts).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    assert await asyncio.to_thread(call) == 200


async def states(am: AlertmanagerServer) -> dict[str, str]:
    """alertname -> state (active, suppressed) of every unresolved alert it holds."""
    return {a["labels"]["alertname"]: a["status"]["state"] for a in await am.alerts()}


async def test_business_alerts_wait_while_a_worker_cannot_reach_kafka(alertmanager: Any) -> None:
    am: AlertmanagerServer = alertmanager()
    await am.ready()
    later = datetime.now(UTC) + timedelta(hours=1)
    kafka = alert(
        "KafkaUnreachable",
        later,
        severity="page",
        category="pipeline",
        job="salespulse",
        instance="w1:6066",
    )
    await post(
        am,
        [
            kafka,
            alert("RepInactive", later, severity="info", category="business", rep="r1", team="n"),
            target_alert("SalesTargetAtRisk", later, "ticket", "r1", "2026-12"),
            target_alert("SalesTargetMissed", later, "info", "r2", "2026-11"),
            alert(
                "ConsumerLagHigh",
                later,
                severity="ticket",
                category="pipeline",
                topic="sales.activities",
            ),
        ],
    )

    async def held() -> None:
        assert await states(am) == {
            "KafkaUnreachable": "active",
            "RepInactive": "suppressed",
            "SalesTargetAtRisk": "suppressed",
            "SalesTargetMissed": "active",
            "ConsumerLagHigh": "active",
        }

    await eventually(held, timeout=30, interval=0.5)

    # contact is back: the alert resolves (Prometheus sends it with an end in the past)
    await post(am, [{**kafka, "endsAt": (datetime.now(UTC) - timedelta(seconds=1)).isoformat()}])

    async def released() -> None:
        got = await states(am)
        assert got.get("RepInactive") == "active" and got.get("SalesTargetAtRisk") == "active"
        assert "KafkaUnreachable" not in got

    await eventually(released, timeout=30, interval=0.5)
