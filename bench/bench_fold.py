"""Per-event cost of the fold alone: the bench data through `ScopeProcessor`, no Kafka.

Why this exists: the worker's throughput on wide data is bound by the fold (its hours,
views, team contributions and medians), and a whole-worker run on a shared 2-core VM varies
by 20 % from run to run. This runs the same fold in one process, on the partitions the
worker would use (rep scopes where their records are keyed, other scopes by murmur2), in
batches of the given size, with what the fold sends on folded as a worker owning every
partition folds it: the order-free items in the same batch, the others encoded and
decoded as on the internal topic and folded in the next batch, until nothing is left. It
reports the best rate of `repeat` runs in CPU time (noise only ever adds time) and the
internal items each input event made, by kind. Its clock moves on by each batch's share of
a second at CLOCK_EVENTS_PER_S; republishes are counted, not folded (the worker marks them
itself).

Run: ``python -m bench.bench_fold [events] [batch] [shape] [repeat] [days]`` (defaults 30000
4000 wide 3 30). Compare two commits by running it in a worktree of each, alternately. A
fraction of a day as `days` gives busy hours, as under the latency bench's live load (every
event stamped with the moment it was sent): ``60000 800 live 2 0.04``.

A `repeat` of 0 builds the inputs and folds nothing: under valgrind's instruction counter,
the difference between a run with 1 and one with 0 is the fold's instructions, a measure the
shared VM's noise does not move (bench/README.md). Set BENCH_FOLD_NOW (an ISO instant with
its offset) so that both runs fold the same data: the event times follow the clock.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from bench.data import build
from bench.throughput import LATE_GRACE_DAYS
from streams.domain.events import Activity, Deal, Feedback
from streams.domain.money import FxRates
from streams.domain.validation import EventDecoder
from streams.engine.items import (
    ORDER_FREE,
    DecodedEvent,
    Foldable,
    Item,
    Republish,
    decode_envelope,
    encode_envelope,
)
from streams.engine.processor import ScopeProcessor
from streams.engine.rollups import Views
from streams.worker.batch_handler import scope_item
from streams.worker.garbage_collection import tune_collector
from streams.worker.partitioning import partition_of
from streams.worker.settings import DEFAULT_FX_RATES

PARTITIONS = 8
GRACE = LATE_GRACE_DAYS * 86_400.0  # as the throughput bench: nothing in the data is late
#: the fold's clock moves on by each batch's share of a second at this rate (about the
#: worker's on wide data), so what the fold does per second happens as often as in a worker
CLOCK_EVENTS_PER_S = 10_000
TOPICS = {"activities": "sales.activities", "deals": "sales.deals", "feedback": "sales.feedback"}


def decoded_inputs(
    events: int, shape: str, fx: FxRates, now: datetime, days: float = 30
) -> list[DecodedEvent]:
    """The bench data (1,000 reps, 50 teams, over `days`), validated and routed as
    ingestion does (batch_handler.scope_item)."""
    data = build(events, reps=1000, teams=50, days=days, now=now)
    decoder = EventDecoder(
        known_currencies=fx.known,
        max_payload_bytes=1 << 20,
        max_clock_skew=timedelta(minutes=5),
    )
    out = []
    for offset, (kind, key, payload, _) in enumerate(data.shape(shape)):
        event = decoder.decode(kind, key, payload, now)
        if not isinstance(event, Activity | Deal | Feedback):
            raise ValueError(f"the bench data must be valid: {event}")
        msg = SimpleNamespace(
            topic=TOPICS[kind], partition=0, offset=offset, key=key, value=payload
        )
        item = scope_item(kind, event, msg)
        assert isinstance(item, DecodedEvent)
        out.append(item)
    return out


def fold_all(
    inputs: list[DecodedEvent], batch: int, fx: FxRates, now: datetime
) -> tuple[float, Counter[str]]:
    """CPU seconds to fold every input and everything it sent on; internal items by kind
    (and under "through Kafka" those that went through the internal topic)."""
    tz = ZoneInfo("UTC")
    # one processor and one set of views for every partition, as in the worker (their
    # caches of hours and periods are shared)
    proc = ScopeProcessor(views=Views(tz), fx=fx, tz=tz, late_grace_seconds=GRACE, at_risk_pace=0.8)
    stores: list[dict[bytes, bytes]] = [{} for _ in range(PARTITIONS)]
    sent: Counter[str] = Counter()
    pending: list[Foldable] = []
    started = time.process_time()
    start = 0
    while start < len(inputs) or pending:
        # what the last batch sent on comes first, as the worker takes the internal topic first
        chunk: list[Foldable] = [*pending, *inputs[start : start + batch]]
        start += batch
        clock = now + timedelta(seconds=min(start, len(inputs)) / CLOCK_EVENTS_PER_S)
        onward = fold_batch(proc, stores, chunk, clock, sent)
        sent["through Kafka"] += len(onward)
        pending = list(decode_envelope(encode_envelope(onward))) if onward else []
    last = (now + timedelta(seconds=len(inputs) / CLOCK_EVENTS_PER_S)).timestamp()
    for p in range(PARTITIONS):  # what the worker's timer announces within a second
        sent.update(type(item).__name__ for item in proc.announce_due(p, last, force=True))
    return time.process_time() - started, sent


def fold_batch(
    proc: ScopeProcessor,
    stores: list[dict[bytes, bytes]],
    chunk: list[Foldable],
    clock: datetime,
    sent: Counter[str],
) -> list[Item]:
    """Fold one batch as the worker owning every partition does (batch_handler.fold_round):
    the order-free items it makes in a second round, the rest returned for the next batch."""
    rounds: dict[int, list[Foldable]] = defaultdict(list)
    for item in chunk:
        rounds[partition_of(item.scope, PARTITIONS)].append(item)
    onward: list[Item] = []
    while rounds:
        here: dict[int, list[Foldable]] = defaultdict(list)
        for p, items in sorted(rounds.items()):
            result = proc.process(p, items, stores[p].get, clock)
            for key, value in result.writes.items():
                if value is None:
                    stores[p].pop(key, None)
                else:
                    stores[p][key] = value
            sent.update(type(item).__name__ for item in result.outbox)
            for item in result.outbox:
                # a republish only marks a document: the worker keeps those of the
                # partitions it owns out of Kafka and the fold (batch_handler.republish_here)
                if isinstance(item, ORDER_FREE):
                    here[partition_of(item.scope, PARTITIONS)].append(item)
                elif type(item) is not Republish:
                    onward.append(item)
        rounds = here
    return onward


def main(argv: list[str]) -> None:
    events = int(argv[0]) if argv else 30_000
    batch = int(argv[1]) if len(argv) > 1 else 4000
    shape = argv[2] if len(argv) > 2 else "wide"
    repeat = int(argv[3]) if len(argv) > 3 else 3
    days = float(argv[4]) if len(argv) > 4 else 30.0
    # a fixed instant gives the same data, hour for hour, in every run: instruction counts
    # of two commits then differ by their code alone
    pinned = os.environ.get("BENCH_FOLD_NOW")
    now = datetime.fromisoformat(pinned) if pinned else datetime.now(UTC)
    tune_collector()  # as the worker does
    fx = FxRates.load(DEFAULT_FX_RATES, "USD")
    inputs = decoded_inputs(events, shape, fx, now, days)
    if repeat == 0:  # the setup alone, to subtract from a run under an instruction counter
        print(f"built {len(inputs):,} inputs; nothing folded (repeat 0)")
        return
    runs = [fold_all(inputs, batch, fx, now) for _ in range(repeat)]
    best, sent = min(runs, key=lambda run: run[0])
    kafka = sent.pop("through Kafka")
    items = ", ".join(f"{kind} {n / events:.2f}" for kind, n in sent.most_common())
    print(
        f"fold, {events:,} {shape} events over {days:g} days in batches of {batch:,} "
        f"on {PARTITIONS} partitions"
    )
    print(f"  best of {repeat}: {events / best:,.0f} events/s of CPU ({best:.2f} s)")
    print(f"  internal items per input event: {sum(sent.values()) / events:.2f} ({items})")
    print(f"  of which through the internal topic: {kafka / events:.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
