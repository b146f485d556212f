"""Deals whose contributions are far larger than the internal topic's envelopes guess, against
a real broker and worker: each carries a 50 KB account_id (valid input: the field has no
length limit but the payload's). A rep's 200 won deals, fetched in one or two batches,
made envelopes of several MB to its team's partition, which the producer refused
(MessageSizeTooLargeError): the worker stopped without committing, and again at every
start. Envelopes are now cut by their encoded size: every deal counts, the worker runs on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.workers import Cluster, eventually, http_get, produce, wait_ready

DEALS = 200
ACCOUNT_CHARS = 50_000


async def test_deals_with_huge_account_ids_all_count_and_the_worker_runs_on(
    cluster: Cluster,
) -> None:
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    first = max(now - timedelta(minutes=30), month_start)  # all in this month
    deals = [
        {
            "event_id": f"e{n}",
            "occurred_at": (first + timedelta(milliseconds=n)).isoformat(),
            "rep_id": "ada",
            "team_id": "west",
            "deal_id": f"deal-{n}",
            "outcome": "won",
            "amount": 100,
            "currency": "USD",
            "account_id": f"{n:05d}" + "a" * ACCOUNT_CHARS,
        }
        for n in range(DEALS)
    ]
    # a first start makes the topics; all the deals are on them before the second, whose
    # first fetches hold them all
    worker = cluster.start_worker()
    await wait_ready([worker])
    worker.stop()
    await produce(cluster.bootstrap, [(cluster.topic("deals"), b"ada", deal) for deal in deals])
    worker = cluster.start_worker(worker.port)
    await wait_ready([worker])
    period = now.strftime("%Y-%m")

    async def all_counted() -> bool:
        for scope in ("reps/ada", "teams/west"):
            status, body = await http_get(f"{worker.url}/v1/{scope}/performance?period={period}")
            if status != 200 or body["deals"]["won"] != DEALS:
                return False
            assert body["deals"]["revenue_won"] == 100 * DEALS, body["deals"]
        return True

    await eventually(all_counted, timeout=120)
    assert worker.alive(), worker.log_tail()
    assert "MessageSizeTooLargeError" not in worker.log_path.read_text(errors="replace")
