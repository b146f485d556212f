"""Runtime.rebuild_views: the views derived again from the table after a rebalance, with the
collector held, yielding to the event loop, and not ready (to batches, timers, the API and
/metrics) until they are whole."""

from __future__ import annotations

import asyncio
import gc
from functools import partial
from types import SimpleNamespace
from typing import Any

from faust.types import TP

from streams.engine import state
from streams.worker import runtime
from streams.worker.alert_outbox import AlertOutbox
from streams.worker.performance_publisher import PendingPublishes
from streams.worker.runtime import Runtime
from streams.worker.settings import Settings
from streams.worker.unpublished import UnpublishedRecords

CHANGELOG = "salespulse-scopes-changelog"


class RecordingViews:
    """Views that record what is applied, and whether the collector was on meanwhile."""

    def __init__(self) -> None:
        self.applied: list[tuple[tuple[Any, ...], bool]] = []

    def clear(self) -> None:
        self.applied.clear()

    def apply(
        self, key: tuple[Any, ...], partition: int, new: Any, raw: bytes | None = None
    ) -> set[str]:
        self.applied.append((key, gc.isenabled()))
        return set()

    def recent_scope_periods(self, since: Any) -> set[tuple[str, str]]:
        return set()

    def share_member_parts(self) -> int:
        return 0


def target(scope: str, period: str, value: float) -> tuple[bytes, bytes]:
    key = state.make_key(scope, state.TARGET, "activities_total", period)
    return key, state.encode_value(value)


def worker(databases: dict[int, list[tuple[bytes, bytes]]]) -> Any:
    """The parts of a Runtime a rebuild uses, over in-memory partition databases."""
    data = SimpleNamespace(
        partition=lambda p: SimpleNamespace(state_items=lambda: iter(databases[p]))
    )
    changelog = SimpleNamespace(get_topic_name=lambda: CHANGELOG)
    fake = SimpleNamespace(
        table=SimpleNamespace(data=data, changelog_topic=changelog),
        views=RecordingViews(),
        processor=SimpleNamespace(
            unannounced={"team:x": 1},
            announcement_lost={("team:x", "2026-12")},
            members_unannounced=lambda team_periods: list(team_periods),
        ),
        partition_of=lambda scope: 0 if scope.startswith("rep:a") else 1,
        pending=PendingPublishes(),
        unpublished=UnpublishedRecords(),
        alert_outbox=AlertOutbox(),
        last_activity=SimpleNamespace(cleared=0),
        settings=Settings.from_env({}),
        ready=True,  # from before the rebalance
        rebuilds=0,
        app=SimpleNamespace(rebalancing_count=1),
    )
    fake.last_activity.clear = lambda: setattr(
        fake.last_activity, "cleared", fake.last_activity.cleared + 1
    )
    fake._apply_table = partial(Runtime._apply_table, fake)
    fake.republish_after_rebuild = partial(Runtime.republish_after_rebuild, fake)
    return fake


def owed(partition: int, chunk: int, pairs: list[tuple[str, str]]) -> tuple[bytes, bytes]:
    return state.make_key("", state.UNPUBLISHED, partition, chunk), state.encode_value(pairs)


def test_a_rebuild_publishes_again_what_the_partitions_last_checkpoint_still_owed() -> None:
    """The checkpoint kept the documents not yet on sales.performance (a pipeline period a
    deal left, an old cohort): whoever rebuilds the partition publishes them, and knows
    which records hold them, so the next checkpoint rewrites or deletes exactly those."""
    w = worker(
        {
            0: [
                target("rep:a", "2026-12", 5.0),
                owed(0, 0, [("rep:a", "2027-Q1"), ("rep:a", "2026-08")]),
                owed(0, 1, [("rep:a", "2027-01")]),
            ],
            1: [owed(1, 0, [("rep:b", "2027-Q1")])],
        }
    )
    asyncio.run(Runtime.rebuild_views(w, {TP(CHANGELOG, 0)}))
    assert w.pending.owed() == {("rep:a", "2027-Q1"), ("rep:a", "2026-08"), ("rep:a", "2027-01")}
    assert w.unpublished.chunks == {0: 2}
    assert not w.processor.announcement_lost  # lost with the old views: asked anew
    assert w.last_activity.cleared == 1  # what batches told it: read from the views again
    assert [key for key, _ in w.views.applied] == [
        ("rep:a", state.TARGET, "activities_total", "2026-12")
    ]


def test_the_views_are_rebuilt_with_collections_held_then_frozen() -> None:
    """Everything a rebuild makes lives on: no collection rescans it while it is built (one
    runs in the freeze after), and the collector is on again when the worker goes on."""
    w = worker({0: [target("rep:a", "2026-12", 5.0)], 1: [target("rep:b", "2026-12", 7.0)]})
    gc.enable()
    asyncio.run(Runtime.rebuild_views(w, {TP(CHANGELOG, 0)}))
    # only partition 0's scope, applied while the collector was held
    assert w.views.applied == [(("rep:a", state.TARGET, "activities_total", "2026-12"), False)]
    assert gc.isenabled() and gc.get_freeze_count() > 0
    assert w.ready and not w.processor.unannounced


def test_a_long_rebuild_yields_to_the_event_loop_and_is_not_ready_until_whole() -> None:
    """Heartbeats, probes and scrapes run while a long history rebuilds (a rebuild longer
    than the group session had the group drop the worker); meanwhile the worker says it is
    not ready, so that nothing reads half-built views."""
    n = 2 * runtime.REBUILD_YIELD_RECORDS + 5
    records = [target("rep:a", f"2026-12-{i:06d}", float(i)) for i in range(n)]
    w = worker({0: records})
    seen: list[tuple[bool, int]] = []

    async def meanwhile(rebuild: asyncio.Task[None]) -> None:
        while not rebuild.done():
            seen.append((w.ready, len(w.views.applied)))
            await asyncio.sleep(0)

    async def both() -> None:
        rebuild = asyncio.create_task(Runtime.rebuild_views(w, {TP(CHANGELOG, 0)}))
        await asyncio.gather(rebuild, meanwhile(rebuild))

    asyncio.run(both())
    during = [applied for ready, applied in seen if 0 < applied < n]
    assert len(during) >= 2, seen[:5]  # it yielded mid-rebuild, more than once
    assert not [ready for ready, applied in seen if ready], "ready before the views were whole"
    assert len(w.views.applied) == n and w.ready


def test_a_rebuild_overtaken_by_a_newer_one_stops() -> None:
    """A rebalance during a rebuild starts another: the first stops at its next yield, so
    that the views hold the new assignment's partitions only."""
    n = 3 * runtime.REBUILD_YIELD_RECORDS
    old = [target("rep:a", f"2026-12-{i:06d}", 1.0) for i in range(n)]
    new = [target("rep:b", f"2026-12-{i:06d}", 2.0) for i in range(5)]
    w = worker({0: old, 1: new})

    async def both() -> None:
        first = asyncio.create_task(Runtime.rebuild_views(w, {TP(CHANGELOG, 0)}))
        while not w.views.applied and not first.done():  # the first is under way
            await asyncio.sleep(0)
        second = asyncio.create_task(Runtime.rebuild_views(w, {TP(CHANGELOG, 1)}))
        await asyncio.gather(first, second)

    asyncio.run(both())
    assert {key[0] for key, _ in w.views.applied} == {"rep:b"}
    assert len(w.views.applied) == 5 and w.ready


def test_a_rebuild_stops_when_a_rebalance_begins() -> None:
    """A rebalance during a rebuild changes the stores under it: it stops at its next yield,
    not ready, and the recovery that follows rebuilds (its rewind is skipped meanwhile)."""
    n = 3 * runtime.REBUILD_YIELD_RECORDS
    w = worker({0: [target("rep:a", f"2026-12-{i:06d}", 1.0) for i in range(n)]})
    done: list[bool] = []

    async def both() -> None:
        rebuild = asyncio.create_task(Runtime.rebuild_views(w, {TP(CHANGELOG, 0)}))
        while not w.views.applied and not rebuild.done():
            await asyncio.sleep(0)
        w.app.rebalancing_count += 1  # Faust's on_rebalance_start
        done.append(await rebuild)

    asyncio.run(both())
    assert done == [False] and not w.ready
    assert 0 < len(w.views.applied) < n


def test_a_rebuild_finds_the_alerts_its_partitions_still_owe() -> None:
    """Alerts the last checkpoint wrote with the state and that were not known delivered
    (worker.alert_outbox): the rebuilt worker sends them at its next checkpoint."""
    alert = b'{"alert_id":"x","kind":"target_achieved"}'
    outbox = (state.make_key("", state.ALERT_OUTBOX, 0), state.encode_value([alert]))
    w = worker({0: [outbox], 1: []})
    w.alert_outbox.owed[1] = [b"owed on a partition now elsewhere"]
    asyncio.run(Runtime.rebuild_views(w, {TP(CHANGELOG, 0)}))
    to_send, _ = w.alert_outbox.take()
    assert to_send[0] == [alert] and w.alert_outbox.owed == {0: [alert]}
    assert 1 not in w.alert_outbox.owed, "another worker's to send now"


def test_a_rebuild_hands_the_views_each_deal_state_for_its_event_ids() -> None:
    """The views index the deals whose state still holds event ids, so a Tick drops them
    once the deal is past the grace (ScopeProcessor.prune_deal_ids): a rebuilt worker must
    know them too. Account and stream-time records no view reads are not decoded."""
    deal = state.DealState(ids=["e1"])
    account = state.AccountWins(won={"d": 1.0})
    w = worker(
        {
            1: [
                (state.make_key("deal:d", state.DEAL_STATE), state.encode_value(deal)),
                (state.make_key("account:c", state.ACCOUNT), state.encode_value(account)),
            ]
        }
    )
    asyncio.run(Runtime.rebuild_views(w, {TP(CHANGELOG, 1)}))
    assert [key for key, _ in w.views.applied] == [("deal:d", state.DEAL_STATE)]
