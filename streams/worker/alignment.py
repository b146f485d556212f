"""Which fetched input records to fold now and which to leave for a later batch, so that a
catch-up folds its input partitions in step by event time, as Kafka Streams does.

Why: stream time is the largest event time folded, and a catch-up fetches each partition on
its own. A sparse topic's fetch (deals, feedback) reaches days further than a dense one's
(activities): folded as fetched, 30 days of time-ordered backlog lost 92 % of November's
activities as late_event with the default 7-day grace (`python -m bench --only salespulse
--shapes live --events 100000 --worker-env SALES_LATE_GRACE=P7D`: 6,227 of 76,765 left);
with this, the same run ends with every figure matching. The records of a partition that
run ahead of the slowest partition still behind its high watermark by more than `slack`
(half the grace) wait, in the delivery path (streams.worker.delivery), until the slowest one
comes within `slack` of them (`due`).

A partition behind that has not delivered yet (a catch-up's first batches) is waited for;
one that delivered nothing for `patience` seconds is not (a stalled or oddly ending
partition must not stop the others; Kafka Streams' max.task.idle.ms). Records without an
event time (rejected by validation, targets) never make a cut. Pure logic: the batch
handler calls it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

#: a partition's name (Faust's TP in the worker)
P = TypeVar("P", bound=Hashable)

#: how long a partition behind its high watermark that delivers nothing is waited for
PATIENCE_SECONDS = 3.0


@dataclass
class PartitionClock(Generic[P]):
    """Per input partition, how far in event time it has come, and when it last delivered."""

    #: the event time a partition's records still to fold start from, as far as known: that
    #: of the first record it left for later, else the latest it delivered
    reached: dict[P, float] = field(default_factory=dict)
    delivered_at: dict[P, float] = field(default_factory=dict)
    #: partitions behind that never delivered: since when they are waited for
    waiting_since: dict[P, float] = field(default_factory=dict)

    def frontier(
        self,
        latest: Mapping[P, float | None],
        behind: Iterable[P],
        now: float,
        patience: float = PATIENCE_SECONDS,
    ) -> float:
        """The event time the slowest partition still behind has reached: that of its last
        record in this batch (`latest`), else what it reached before (inf: none to wait for;
        -inf: one that never delivered, waited for up to `patience` from when first seen)."""
        reached = float("inf")
        for tp in behind:
            last = latest.get(tp)
            if last is None:
                if tp not in self.delivered_at:  # a catch-up's first batches
                    if now - self.waiting_since.setdefault(tp, now) <= patience:
                        return float("-inf")
                    continue
                if now - self.delivered_at[tp] > patience:
                    continue  # delivers nothing any more: not waited for
                last = self.reached.get(tp)
                if last is None:
                    continue
            reached = min(reached, last)
        return reached

    def cuts(
        self,
        times: Mapping[P, Sequence[float | None]],
        behind: Iterable[P],
        now: float,
        slack: float,
    ) -> dict[P, int]:
        """Per partition of the batch, how many of its records (a prefix, in offset order)
        to fold now: up to the first whose event time passes the frontier by over `slack`.
        Notes what the batch says of each partition (`delivered`)."""
        latest = {tp: _latest(stamps) for tp, stamps in times.items()}
        limit = self.frontier(latest, behind, now) + slack
        cuts = {}
        for tp, stamps in times.items():
            cut = len(stamps)
            for index, stamp in enumerate(stamps):
                if stamp is not None and stamp > limit:
                    cut = index
                    break
            cuts[tp] = cut
        self.delivered(times, latest, cuts, now)
        return cuts

    def due(self, left: Iterable[P], behind: Iterable[P], now: float, slack: float) -> set[P]:
        """Of the partitions with records left for later, those whose first such record a
        cut would now take: within `slack` of the slowest partition still behind, as `cuts`
        judges (all of them once none is behind)."""
        limit = self.frontier({}, behind, now) + slack
        return {tp for tp in left if self.reached.get(tp, float("-inf")) <= limit}

    def delivered(
        self,
        times: Mapping[P, Sequence[float | None]],
        latest: Mapping[P, float | None],
        cuts: Mapping[P, int],
        now: float,
    ) -> None:
        for tp, stamps in times.items():
            if not stamps:
                continue
            self.delivered_at[tp] = now
            self.waiting_since.pop(tp, None)
            cut = cuts[tp]
            head = stamps[cut] if cut < len(stamps) else latest[tp]
            if head is not None:
                self.reached[tp] = head


def _latest(stamps: Iterable[float | None]) -> float | None:
    known = [stamp for stamp in stamps if stamp is not None]
    return max(known) if known else None
