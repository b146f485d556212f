"""sales.performance: the figures of every scope and period that changed, rate-limited.

Wide, shuffled input changes thousands of (scope, period) figures per second, and each
document costs far more than folding the event that changed it (its figures, a rep's team
medians). Published as fast as they change, the documents took most of the event loop and
starved the fold. So the publisher works on a time budget: each run (every
SALES_PERFORMANCE_MIN_INTERVAL) spends at most PUBLISH_SHARE of that interval, oldest change
first; what is left waits for the next run, and a scope and period changed many times in the
meantime is published once, with its latest figures. While the input is backlogged the share
drops to PUBLISH_SHARE_BEHIND: folding comes first, and what is published once the worker
has caught up carries every change made meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from time import monotonic
from typing import TYPE_CHECKING, Any

import orjson

from streams.domain.periods import PeriodError, parse_period
from streams.worker.medians import performance_documents
from streams.worker.outgoing import PRODUCER_REQUEST_BYTES, too_large
from streams.worker.rate_limited_log import RateLimitedLog

if TYPE_CHECKING:  # the runtime holds the pending set defined here
    from streams.worker.runtime import Runtime

log = logging.getLogger(__name__)

ScopePeriod = tuple[str, str]

#: the most of each interval the publisher may spend; the fold gets the rest
PUBLISH_SHARE = 0.25
#: the same while the input is backlogged (batch_handler.is_backlogged: its last fetch came
#: back full, or held records that waited in Kafka over BACKLOG_SECONDS, 0.3 s)
PUBLISH_SHARE_BEHIND = 0.05
#: documents built between two looks at the clock (and two yields to the event loop)
PUBLISH_CHUNK = 50


class PendingPublishes:
    """(scope, period) pairs whose figures changed and are not published yet, oldest first;
    and those taken to be published and not delivered yet (`owed`: what a checkpoint keeps,
    streams.worker.unpublished)."""

    def __init__(self) -> None:
        self._pending: dict[ScopePeriod, None] = {}
        self._in_flight: set[ScopePeriod] = set()
        #: pairs added since the last `take_added`: what a checkpoint may not hold yet
        self._added: set[ScopePeriod] = set()

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, pair: object) -> bool:
        return pair in self._pending

    def __iter__(self) -> Iterator[ScopePeriod]:
        return iter(list(self._pending))

    def add(self, pairs: Iterable[ScopePeriod]) -> None:
        """A pair already waiting keeps its place (a dict update keeps a key's position): it
        is published once, when its turn comes."""
        fresh = dict.fromkeys(pairs)
        self._pending.update(fresh)
        self._added.update(fresh)

    def take_added(self) -> set[ScopePeriod]:
        """The pairs added since the last call."""
        added, self._added = self._added, set()
        return added

    def take(self, n: int) -> list[ScopePeriod]:
        """The `n` oldest pairs, no longer pending: in flight until `settle`d."""
        taken: list[ScopePeriod] = []
        pending = self._pending
        for pair in pending:
            if len(taken) == n:
                break
            taken.append(pair)
        for pair in taken:
            del pending[pair]
        self._in_flight.update(taken)
        return taken

    def settle(self, pairs: Iterable[ScopePeriod]) -> None:
        """Taken pairs whose documents were delivered, skipped, or put back (`add`): a
        publisher run settles everything it took at its end, once."""
        self._in_flight.difference_update(pairs)

    def owed(self) -> set[ScopePeriod]:
        """Every pair whose latest document is not known to be on the topic."""
        return {*self._pending, *self._in_flight}

    def owed_count(self) -> int:
        """How many pairs are owed, about (one pending and in flight counts twice)."""
        return len(self._pending) + len(self._in_flight)


class PublishPacer:
    """Keeps the publisher to its share of the time, however often its timer fires.

    Faust's timer catches up after the event loop was busy (several runs back to back), so
    a budget per run alone let the publisher take most of the loop again on a backlog.
    After a run that worked t seconds, the next may start t / share seconds after it began.
    """

    def __init__(self) -> None:
        self.next_start = 0.0

    @staticmethod
    def share(backlogged: bool) -> float:
        return PUBLISH_SHARE_BEHIND if backlogged else PUBLISH_SHARE

    def may_run(self, now: float) -> bool:
        return now >= self.next_start

    def ran(self, started: float, busy: float, share: float) -> None:
        self.next_start = started + busy / share


async def publish_pending(rt: Runtime, budget_seconds: float) -> float:
    """Publish pending documents for about `budget_seconds` of work; returns the seconds
    spent building and sending them.

    Only the publisher's own work counts: between chunks it yields, and the batches handled
    meanwhile are not its time (counted, they made the pacer hold it back for a minute).
    A document whose send fails goes back to the pending set, so the next run tries again;
    so does a rep's document whose team's medians are not to be had yet (`documents`).
    """
    taken: list[ScopePeriod] = []
    try:
        busy = await _publish(rt, budget_seconds, taken)
    except BaseException:
        rt.pending.add(taken)  # not known to be delivered: owed still
        raise
    finally:
        rt.pending.settle(taken)
    return busy


async def _publish(rt: Runtime, budget_seconds: float, taken: list[ScopePeriod]) -> float:
    """`publish_pending`'s work; `taken` collects the pairs it took."""
    busy = 0.0
    now = datetime.now(UTC)
    topic = rt.settings.topics.performance
    producer: Any = rt.app.producer
    sent: list[tuple[ScopePeriod, int, Any]] = []
    waiting: list[ScopePeriod] = []
    while rt.pending:  # at least one chunk per run, whatever the budget: progress
        started = monotonic()
        pairs = rt.pending.take(PUBLISH_CHUNK)
        taken += pairs
        ready, unmeasured = await documents(rt, pairs, now)
        waiting += unmeasured
        for pair, key, value in ready:
            try:  # one past the producer's request size is refused here, not in the future
                future = await producer.send(topic, key, value, None, None, None)
            except Exception as exc:
                if not too_large(exc):
                    raise
                _say_too_large(topic, pair, len(value))
                continue
            sent.append((pair, len(value), future))
        busy += monotonic() - started
        await asyncio.sleep(0)  # documents are CPU work: let batches and commits run
        if busy >= budget_seconds:
            break
    if waiting:  # after the loop: not asked for again in this run
        rt.pending.add(waiting)
        log.debug("%d sales.performance documents wait for their team's medians", len(waiting))
    outcomes = await asyncio.gather(*(future for *_, future in sent), return_exceptions=True)
    failed = []
    for (pair, size, _), outcome in zip(sent, outcomes, strict=True):
        if too_large(outcome):  # sent again, it would be refused again, at every run
            _say_too_large(topic, pair, size)
        elif _failed(outcome):
            failed.append(pair)
    if failed:
        rt.pending.add(failed)
        log.warning(
            "%d sales.performance documents were not delivered (first: %s: %s); they are "
            "sent again at the next run",
            len(failed),
            failed[0],
            next(o for o in outcomes if _failed(o)),
        )
    return busy


def _failed(outcome: object) -> bool:
    return isinstance(outcome, BaseException)


#: a document too large for the topic is said, not sent again: the operator sees which
_too_large_log = RateLimitedLog(
    log, "sales.performance documents too large to publish", where="their figures are on the API"
)


def _say_too_large(topic: str, pair: ScopePeriod, size: int) -> None:
    scope, period = pair
    _too_large_log.add(
        "the %s document of %s in %s is %d bytes, more than %s takes (its max.message.bytes, "
        "or the producer's request size of %d bytes): not published, and not tried again until "
        "its figures change (the API answers them). Raise the topic's max.message.bytes",
        topic,
        scope,
        period,
        size,
        topic,
        PRODUCER_REQUEST_BYTES,
    )


async def documents(
    rt: Runtime, pairs: list[ScopePeriod], now: datetime
) -> tuple[list[tuple[ScopePeriod, bytes, bytes]], list[ScopePeriod]]:
    """(pair, key, JSON value) of each pair's document, and the pairs that wait: reps whose
    team owner could not be asked for its medians (rebuilding its views after a rebalance,
    say) or holds no figures of the team in the period yet (medians._over_reps). Published then,
    such a document counted the missing medians as met (both halves of its quadrant
    "high"), and no announcement of the team would ever revise it: a wrong quadrant on the
    topic for good. Pairs with no figures are skipped."""
    wanted = []
    retention = rt.processor.retention
    for scope, period_id in pairs:
        view = rt.views.get(scope)
        if view is None or view.kind not in ("rep", "team"):
            continue
        try:
            period = parse_period(period_id, rt.settings.tz)
        except PeriodError:
            continue
        if retention.refusal(period_id, now) is not None:
            continue  # deleted, not zero: the topic keeps the period's last document
        wanted.append(((scope, period_id), view, period))
    docs = await performance_documents(
        rt, [(view, period) for _, view, period in wanted], now, announced=True
    )
    ready = []
    waiting = []
    for (pair, view, period), (doc, measured) in zip(wanted, docs, strict=True):
        if measured:
            ready.append((pair, f"{view.kind}:{view.id}:{period.id}".encode(), orjson.dumps(doc)))
        else:
            waiting.append(pair)
    return ready, waiting
