"""Reprocessing beside a running deployment (README, Reprocessing): a second app id on the
same broker and input topics reads the inputs from the start into state of its own, with
an internal topic named after it, and answers the same figures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.clock import clear_of_month_start
from tests.support.workers import (
    Cluster,
    Worker,
    eventually,
    free_port,
    http_get,
    produce,
    records_written,
    wait_ready,
)

OUTPUTS = ("alerts", "performance", "deadletter")


def events(now: datetime) -> list[tuple[str, bytes, dict[str, Any]]]:
    out: list[tuple[str, bytes, dict[str, Any]]] = []
    for i in range(12):
        rep = f"r{i % 3}"
        out.append(
            (
                "activities",
                rep.encode(),
                {
                    "event_id": f"a{i}",
                    "occurred_at": (now - timedelta(minutes=i)).isoformat(),
                    "rep_id": rep,
                    "team_id": "west",
                    "activity": ("call", "demo", "email")[i % 3],
                },
            )
        )
    for i, (outcome, amount) in enumerate((("won", 1200.5), ("lost", 300), ("won", 80))):
        out.append(
            (
                "deals",
                b"r1",
                {
                    "event_id": f"d{i}",
                    "occurred_at": (now - timedelta(minutes=30 + i)).isoformat(),
                    "rep_id": "r1",
                    "team_id": "west",
                    "deal_id": f"deal-{i}",
                    "outcome": outcome,
                    "amount": amount,
                    "currency": "EUR",
                },
            )
        )
    return out


async def figures(worker: Worker) -> dict[str, Any]:
    """The groups of the performance documents that input alone decides."""
    found = {}
    for path in ("reps/r0", "reps/r1", "reps/r2", "teams/west"):
        status, doc = await http_get(f"{worker.url}/v1/{path}/performance")
        assert status == 200, (path, doc)
        found[path] = {group: doc[group] for group in ("activities", "deals", "efficiency")}
    return found


async def test_a_second_app_id_reprocesses_the_inputs_into_its_own_state(
    cluster: Cluster,
) -> None:
    now = clear_of_month_start(datetime.now(UTC).replace(microsecond=0), timedelta(minutes=40))
    first = cluster.start_worker()
    await wait_ready([first])
    await produce(
        cluster.bootstrap, [(cluster.topic(kind), key, e) for kind, key, e in events(now)]
    )

    async def all_applied() -> dict[str, Any]:
        # a deal's figure reaches its team and its rep in batches of their own partitions:
        # the team's alone once made this snapshot before the rep's (ci85, three processes)
        found = await figures(first)
        assert found["teams/west"]["activities"]["total"] == 12, found
        for scope in ("teams/west", "reps/r1"):
            assert (found[scope]["deals"]["won"], found[scope]["deals"]["lost"]) == (2, 1), found
        return found

    before = await eventually(all_applied)

    second_id = f"{cluster.name}-v2"
    port = free_port()
    env = cluster.env(port)
    del env["SALES_TOPIC_SCOPES"]  # the default: named after the app id
    env["SALES_APP_ID"] = second_id
    env["SALES_DATA_DIR"] = str(cluster.base_dir / f"{second_id}-data")
    env.update({f"SALES_TOPIC_{kind.upper()}": f"{second_id}.{kind}" for kind in OUTPUTS})
    second = Worker(port, env, cluster.base_dir / f"{second_id}.log").start()
    cluster.workers.append(second)
    await wait_ready([second])

    async def same_figures() -> None:
        assert await figures(second) == before, second.log_tail()

    await eventually(same_figures)
    assert await records_written(cluster.bootstrap, f"{second_id}.scopes"), "its own internal"
    assert await figures(first) == before, "the first deployment counted nothing twice"
