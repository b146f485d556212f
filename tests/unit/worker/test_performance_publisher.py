"""sales.performance on a time budget: every changed figure is published, oldest first,
once per run however often it changed, and a failed send is tried again."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from streams.domain.periods import periods_of
from streams.domain.retention import Retention
from streams.worker import performance_publisher
from streams.worker.peers import OwnerUnknown
from streams.worker.performance_publisher import (
    PUBLISH_CHUNK,
    PendingPublishes,
    PublishPacer,
    publish_pending,
)
from streams.worker.rate_limited_log import RateLimitedLog
from tests.unit.worker.test_batch_handler import (
    Sent,
    events_of_one_rep,
    handle,
    internal_records,
    runtime,
)
from tests.unit.worker.test_hard_stop import size_error


def test_pending_pairs_come_out_oldest_first_and_once() -> None:
    pending = PendingPublishes()
    pending.add([("rep:a", "2026-11"), ("rep:b", "2026-11")])
    pending.add([("rep:a", "2026-11"), ("rep:c", "2026-11")])  # a keeps its place
    assert len(pending) == 3
    assert pending.take(2) == [("rep:a", "2026-11"), ("rep:b", "2026-11")]
    assert ("rep:a", "2026-11") not in pending
    pending.add([("rep:a", "2026-11")])  # changed again after it was taken: last in line
    assert pending.take(5) == [("rep:c", "2026-11"), ("rep:a", "2026-11")]
    assert not pending


async def folded_runtime() -> tuple[Any, Sent]:
    """A worker that folded one rep's events and then its team's contributions."""
    sent = Sent()
    rt = runtime(sent)
    rt.peers = SimpleNamespace(owner_of=lambda scope: None)  # every team is local
    await handle(rt, events_of_one_rep(rt))
    envelopes = internal_records(rt, sent, time.time())
    await handle(rt, envelopes)
    sent.clear()
    return rt, sent


def published(rt: Any, sent: Sent) -> dict[str, dict[str, Any]]:
    topic = rt.settings.topics.performance
    return {key.decode(): orjson.loads(value) for name, _, key, value in sent if name == topic}


async def test_every_changed_scope_and_period_is_published_with_its_figures() -> None:
    rt, sent = await folded_runtime()
    changed = set(rt.pending)
    assert {scope for scope, _ in changed} == {"rep:r1", "team:t1"}
    runs = 0
    while rt.pending:
        await publish_pending(rt, budget_seconds=0.0)  # one chunk per run at least
        runs += 1
    assert runs == -(-len(changed) // PUBLISH_CHUNK)
    docs = published(rt, sent)
    assert set(docs) == {f"{scope}:{period}" for scope, period in changed}
    month = next(p for s, p in changed if s == "rep:r1" and len(p) == 7)
    rep = docs[f"rep:r1:{month}"]
    assert rep["activities"]["total"] == 3
    assert rep["deals"]["won"] == 1
    assert rep["quadrant"] is not None, "the team's medians were found for the quadrant"
    assert docs[f"team:t1:{month}"]["activities"]["total"] == 3


async def test_a_document_whose_send_fails_is_pending_again() -> None:
    rt, sent = await folded_runtime()
    failing = {("rep:r1", p) for s, p in rt.pending if s == "rep:r1"}
    real_send = rt.app.producer.send
    topic = rt.settings.topics.performance

    async def send(name: str, key: bytes | None, value: bytes | None, *rest: Any) -> Any:
        if name == topic and key is not None and key.decode().startswith("rep:"):
            broken: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            broken.set_exception(ConnectionError("broker went away"))
            return broken
        return await real_send(name, key, value, *rest)

    rt.app.producer.send = send
    await publish_pending(rt, budget_seconds=10.0)
    assert set(rt.pending) == failing
    assert all(key.startswith("team:") for key in published(rt, sent))
    rt.app.producer.send = real_send
    await publish_pending(rt, budget_seconds=10.0)
    assert not rt.pending
    assert {key for key in published(rt, sent) if key.startswith("rep:")} == {
        f"rep:r1:{p}" for _, p in failing
    }


@pytest.mark.parametrize("refused_by", ["broker", "producer"])
async def test_a_document_too_large_for_the_topic_is_said_and_not_sent_again(
    refused_by: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thousands of deal sources make a document past the topic's max.message.bytes: sent
    again, it was refused again at every run, with a warning each time. The broker refuses
    one over the topic's limit in the send's future; the producer one over its request size
    at once. Faust wraps either in a ProducerSendError of its own."""
    fresh = RateLimitedLog(performance_publisher.log, "documents too large", per_interval=100)
    monkeypatch.setattr(performance_publisher, "_too_large_log", fresh)  # a test's own allowance
    rt, sent = await folded_runtime()
    real_send = rt.app.producer.send
    topic = rt.settings.topics.performance
    refused: list[str] = []

    async def send(name: str, key: bytes | None, value: bytes | None, *rest: Any) -> Any:
        if name == topic and key is not None and key.decode().startswith("rep:"):
            refused.append(key.decode())
            if refused_by == "producer":
                raise size_error()
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(size_error())
            return future
        return await real_send(name, key, value, *rest)

    rt.app.producer.send = send
    with caplog.at_level("WARNING"):
        await publish_pending(rt, budget_seconds=10.0)
    assert refused and not rt.pending and not rt.pending.owed()  # neither waits nor is owed
    assert all(key.startswith("team:") for key in published(rt, sent))
    said = [r.getMessage() for r in caplog.records if "max.message.bytes" in r.getMessage()]
    assert len(said) == len(refused), said
    assert f"the {topic} document of rep:r1 in " in said[0] and " bytes, more than " in said[0]
    assert not [r for r in caplog.records if "sent again at the next run" in r.getMessage()]


async def test_a_reps_document_waits_while_its_teams_owner_cannot_be_asked() -> None:
    """Published against no medians, its quadrant would count them as met ("high" twice),
    and no announcement of the team would ever revise it (a CI run saw exactly that on the
    topic after a rebalance, tests/integration/test_scripted_stream.py)."""
    rt, sent = await folded_runtime()
    reps = {pair for pair in rt.pending if pair[0] == "rep:r1"}

    def rebuilding(scope: str) -> None:
        raise OwnerUnknown(scope)

    rt.peers = SimpleNamespace(owner_of=rebuilding)
    await publish_pending(rt, budget_seconds=10.0)
    assert set(rt.pending) == reps, "the rep's documents wait, the team's went out"
    assert published(rt, sent) and all(key.startswith("team:") for key in published(rt, sent))
    rt.peers = SimpleNamespace(owner_of=lambda scope: None)  # the owner is back (local here)
    await publish_pending(rt, budget_seconds=10.0)
    assert not rt.pending
    docs = published(rt, sent)
    assert {key for key in docs if key.startswith("rep:")} == {f"rep:r1:{p}" for _, p in reps}
    month = next(p for _, p in reps if len(p) == 7)
    assert docs[f"rep:r1:{month}"]["quadrant"] == "high_activity_high_performance", (
        "the only member meets its team's medians"
    )


async def test_a_reps_document_waits_until_its_team_holds_figures() -> None:
    """The rep's figures reached its own scope first; its team's are still on their way.
    Measured then, the quadrant counted the missing medians as met, and no announcement
    would have revised it (queries.announced_medians)."""
    rt, sent = await folded_runtime()
    reps = {pair for pair in rt.pending if pair[0] == "rep:r1"}
    team = rt.views.scopes.pop("team:t1")
    await publish_pending(rt, budget_seconds=10.0)
    assert reps <= set(rt.pending), "the rep's documents wait"
    assert not any(key.startswith("rep:") for key in published(rt, sent))
    rt.views.scopes["team:t1"] = team  # its figures arrived
    await publish_pending(rt, budget_seconds=10.0)
    assert not rt.pending
    assert {key for key in published(rt, sent) if key.startswith("rep:")} == {
        f"rep:r1:{p}" for _, p in reps
    }


def test_the_pacer_keeps_the_publisher_to_its_share_of_the_time() -> None:
    pacer = PublishPacer()
    share = pacer.share(backlogged=False)
    assert share == 0.25
    assert pacer.may_run(100.0)
    pacer.ran(started=100.0, busy=0.5, share=share)  # 0.5 s of work: 2 s for a quarter
    assert not pacer.may_run(100.6)  # a timer catching up does not run it back to back
    assert not pacer.may_run(101.9)
    assert pacer.may_run(102.0)


def test_a_backlogged_worker_gives_the_publisher_a_smaller_share() -> None:
    """Folding comes first while the input is behind; the documents catch up later."""
    pacer = PublishPacer()
    share = pacer.share(backlogged=True)
    assert share < pacer.share(backlogged=False)
    pacer.ran(started=100.0, busy=0.5, share=share)
    assert not pacer.may_run(102.0)
    assert pacer.may_run(100.0 + 0.5 / share)


async def test_only_the_publishers_own_work_counts_against_its_budget() -> None:
    """Batches handled while the publisher yields are not its time: counted, a slow batch
    made the pacer hold the publisher back for a minute."""
    rt, _ = await folded_runtime()
    assert rt.pending

    async def slow_batch() -> None:
        time.sleep(0.3)  # the event loop is busy elsewhere while the publisher yields

    started = time.monotonic()
    hog = asyncio.create_task(slow_batch())
    busy = await publish_pending(rt, budget_seconds=10.0)
    await hog
    assert time.monotonic() - started >= 0.3
    assert busy < 0.3
    assert not rt.pending


async def test_a_period_before_the_retention_horizon_is_not_published() -> None:
    """Its records were deleted: a document of zeros would replace its last real one on
    the compacted topic."""
    rt, sent = await folded_runtime()
    rt.processor.retention = Retention(timedelta(days=92), rt.settings.tz)
    old_month = periods_of(datetime.now(UTC) - timedelta(days=400), rt.settings.tz)[2]
    kept = set(rt.pending)
    rt.pending.add([("rep:r1", old_month), ("team:t1", old_month)])
    while rt.pending:
        await publish_pending(rt, budget_seconds=10.0)
    assert set(published(rt, sent)) == {f"{scope}:{period}" for scope, period in kept}


def test_pairs_taken_are_owed_until_settled() -> None:
    """What a checkpoint keeps (streams.worker.unpublished) includes documents on their
    way: a kill before the broker acknowledged one must not lose it."""
    pending = PendingPublishes()
    pending.add([("rep:a", "2026-11"), ("rep:b", "2026-11")])
    taken = pending.take(1)
    assert pending.owed() == {("rep:a", "2026-11"), ("rep:b", "2026-11")}
    pending.add(taken)  # changed again while in flight: owed after the first one settles
    pending.settle(taken)
    assert pending.owed() == {("rep:a", "2026-11"), ("rep:b", "2026-11")}
    pending.take(5)
    pending.settle([("rep:a", "2026-11"), ("rep:b", "2026-11")])
    assert pending.owed() == set() and not pending


async def test_a_publisher_that_fails_midway_owes_what_it_took() -> None:
    rt, _ = await folded_runtime()
    before = rt.pending.owed()

    async def broken(name: str, *rest: Any) -> Any:
        raise RuntimeError("the producer is closing")

    rt.app.producer.send = broken
    try:
        await publish_pending(rt, budget_seconds=10.0)
    except RuntimeError:
        pass
    else:
        raise AssertionError("the publisher's failure was swallowed")
    assert rt.pending.owed() == before and set(rt.pending) == before


async def test_sent_documents_are_no_longer_owed() -> None:
    rt, sent = await folded_runtime()
    assert rt.pending.owed()
    while rt.pending:
        await publish_pending(rt, budget_seconds=10.0)
    assert rt.pending.owed() == set() and published(rt, sent)
