"""A multi-partition driver for ScopeProcessor, and an independent oracle for its figures.

`Harness` simulates a cluster of N partitions of the scopes topic, each with its own worker
(one `Views` and one `ScopeProcessor`) and its own table (a dict). Items are routed by a
deterministic hash of their scope, so a rep, its team and its deals usually live on
different partitions and every cross-partition flow (deal -> reps and teams, rep hour ->
team, rep membership -> team) goes through the outbox, as it would through Kafka.

`Oracle` recomputes the figures of docs/contract.md sections 4 and 8.2 straight from the input
events, by the contract's definitions, without any code from `streams` except the FX rates table
(the period ids are computed here, in the contract's own format). Tests compare the two.
"""

from __future__ import annotations

import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, ItemsView, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from streams.domain.money import FxRates
from streams.domain.periods import parse_period
from streams.domain.retention import Retention
from streams.engine.activity import activity_buckets
from streams.engine.items import (
    Foldable,
    Item,
    RawEvent,
    Republish,
    TargetItem,
    Tick,
    decode_envelope,
    encode_envelope,
)
from streams.engine.processor import BatchResult, DeadLetter, ScopeProcessor, minute_tick
from streams.engine.queries import announced_medians, performance_document, team_medians
from streams.engine.rollups import ScopeView, Views
from streams.engine.state import decode_value, parse_key

FX_PATH = Path(__file__).resolve().parents[3] / "streams" / "data" / "fx_rates.json"
DAY = 86_400.0
GRACE = 7 * DAY

TOPICS = {"activities": "sales.activities", "deals": "sales.deals", "feedback": "sales.feedback"}


# -- building input items ----------------------------------------------------------------


def ts(value: str | datetime) -> str:
    """RFC 3339 text of an aware datetime (or the text itself)."""
    if isinstance(value, datetime):
        assert value.tzinfo is not None
        return value.isoformat()
    return value


_offsets: Counter[str] = Counter()


def _raw(kind: str, scope: str, payload: dict[str, Any]) -> RawEvent:
    topic = TOPICS[kind]
    _offsets[topic] += 1
    return RawEvent(
        scope=scope,
        kind=kind,
        topic=topic,
        partition=0,
        offset=_offsets[topic],
        key=payload["rep_id"].encode(),
        payload=orjson.dumps(payload),
    )


def raw_event(kind: str, payload: dict[str, Any]) -> RawEvent:
    """Route a plain input dict the way ingestion does: deals by deal_id, the rest by rep."""
    payload = dict(payload)
    payload["occurred_at"] = ts(payload["occurred_at"])
    for name in ("created_at", "expected_close_at"):
        if payload.get(name) is not None:
            payload[name] = ts(payload[name])
    scope = "deal:" + payload["deal_id"] if kind == "deals" else "rep:" + payload["rep_id"]
    return _raw(kind, scope, payload)


def activity(
    event_id: str, rep: str, team: str, at: str | datetime, type_: str = "call", **extra: Any
) -> RawEvent:
    """An activity; `extra` adds optional fields (deal_id, account_id, duration_s, ...)."""
    return raw_event(
        "activities",
        {
            "event_id": event_id,
            "occurred_at": at,
            "rep_id": rep,
            "team_id": team,
            "activity": type_,
            **extra,
        },
    )


def deal(
    event_id: str,
    deal_id: str,
    rep: str,
    team: str,
    at: str | datetime,
    outcome: str,
    amount: float | None = None,
    currency: str | None = "USD",
    created_at: str | datetime | None = None,
    **extra: Any,
) -> RawEvent:
    """A deal event; `extra` adds the optional fields of contract section 8.1 (stage,
    expected_close_at, kind, source, lost_reason, account_id), as given (None stays null)."""
    payload: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": at,
        "rep_id": rep,
        "team_id": team,
        "deal_id": deal_id,
        "outcome": outcome,
        **extra,
    }
    if amount is not None:
        payload["amount"] = amount
        payload["currency"] = currency
    if created_at is not None:
        payload["created_at"] = created_at
    return raw_event("deals", payload)


def feedback(
    event_id: str,
    rep: str,
    team: str,
    at: str | datetime,
    csat: int | None = None,
    nps: int | None = None,
) -> RawEvent:
    payload: dict[str, Any] = {
        "event_id": event_id,
        "occurred_at": at,
        "rep_id": rep,
        "team_id": team,
    }
    if csat is not None:
        payload["csat"] = csat
    if nps is not None:
        payload["nps"] = nps
    return raw_event("feedback", payload)


def target(scope: str, metric: str, period: str, value: float | None) -> TargetItem:
    return TargetItem(scope, metric, period, value)


def payload_of(item: RawEvent) -> dict[str, Any]:
    return orjson.loads(item.payload)


# -- the simulated cluster -----------------------------------------------------------------


def crc_route(n: int) -> Callable[[str], int]:
    return lambda scope: zlib.crc32(scope.encode()) % n


#: (batch number, partition, items) -> None, or (writes kept, outbox mode); writes kept is
#: None for all, an int for that many, a float for that fraction of the batch's writes
CrashPlan = Callable[[int, int, list[Item]], "tuple[int | float | None, str] | None"]


def crash_batch(victim: int, keep: int | float | None, outbox: str) -> CrashPlan:
    """A plan that crashes batch number `victim` as `Harness.run` describes."""

    def plan(n: int, p: int, batch: list[Item]) -> tuple[int | float | None, str] | None:
        return (keep, outbox) if n == victim else None

    return plan


@dataclass
class Partition:
    index: int
    views: Views
    proc: ScopeProcessor
    store: dict[bytes, bytes] = field(default_factory=dict)


class Harness:
    def __init__(
        self,
        partitions: int = 4,
        *,
        tz: str = "UTC",
        grace: float = GRACE,
        at_risk_pace: float = 0.8,
        base: str = "USD",
        route: Callable[[str], int] | None = None,
        announce_seconds: float = 0.0,
        retention: timedelta | None = None,
        alert_settle: float = 0.0,
    ) -> None:
        """`announce_seconds` 0: a team's medians are announced after every batch (the
        worker announces at most once a second; its batches share a clock, these do not).
        `alert_settle` 0: once-only alerts are sent at first sight (the worker's default
        holds them 5 s, streams.domain.alert_settling)."""
        self.n = partitions
        self.alert_settle = alert_settle
        self.announce_seconds = announce_seconds
        self.tz = ZoneInfo(tz)
        self.grace = grace
        self.retention = retention
        self.at_risk_pace = at_risk_pace
        self.base = base
        self.fx = FxRates.load(FX_PATH, base)
        self.route = route or crc_route(partitions)
        self.parts = [self._new_partition(i) for i in range(partitions)]
        self.deadletters: list[DeadLetter] = []
        self.alerts: list[dict[str, Any]] = []
        self.duplicates: Counter[str] = Counter()
        self.applied: Counter[str] = Counter()
        self.activities: Counter[tuple[str, str, str]] = Counter()
        self.changed: set[tuple[str, str]] = set()
        self.batches = 0

    def _new_partition(self, index: int, store: dict[bytes, bytes] | None = None) -> Partition:
        views = Views(self.tz)
        proc = ScopeProcessor(
            views=views,
            fx=self.fx,
            tz=self.tz,
            late_grace_seconds=self.grace,
            at_risk_pace=self.at_risk_pace,
            announce_seconds=self.announce_seconds,
            retention=Retention(self.retention, self.tz),
            alert_settle_seconds=self.alert_settle,
        )
        return Partition(index, views, proc, store if store is not None else {})

    # routing ------------------------------------------------------------------------------
    def partition_of(self, scope: str) -> int:
        p = self.route(scope)
        assert 0 <= p < self.n
        return p

    def group(self, items: Iterable[Item]) -> dict[int, list[Item]]:
        """Items per partition, in their original order; a Tick goes to every partition."""
        groups: dict[int, list[Item]] = defaultdict(list)
        for item in items:
            if isinstance(item, Tick):
                for p in range(self.n):
                    groups[p].append(item)
            else:
                groups[self.partition_of(item.scope)].append(item)
        return groups

    # one batch ----------------------------------------------------------------------------
    def process(
        self, p: int, items: list[Item], now: datetime, sent: datetime | None = None
    ) -> BatchResult:
        """Process one batch on partition p; collects side outputs, applies nothing.
        `sent`: when its internal items were sent (None: now)."""
        part = self.parts[p]
        at = sent.timestamp() if sent is not None else None
        result = part.proc.process(p, list(items), part.store.get, now, at)
        self.batches += 1
        self.deadletters.extend(result.deadletters)
        self.alerts.extend(result.alerts)
        self.duplicates.update(result.duplicates)
        self.applied.update(result.applied)
        self.activities.update(result.activities)
        self.changed.update(result.changed_pairs())
        return result

    def apply_writes(
        self, p: int, writes: dict[bytes, bytes | None], limit: int | None = None
    ) -> None:
        """Apply the first `limit` writes (all when None), in changelog order."""
        store = self.parts[p].store
        for i, (key, value) in enumerate(writes.items()):
            if limit is not None and i >= limit:
                break
            if value is None:
                store.pop(key, None)
            else:
                store[key] = value

    def step(
        self, p: int, items: list[Item], now: datetime, sent: datetime | None = None
    ) -> BatchResult:
        result = self.process(p, items, now, sent)
        self.apply_writes(p, result.writes)
        return result

    # until quiescent ----------------------------------------------------------------------
    def run(
        self,
        items: Iterable[Item],
        now: datetime,
        *,
        batch_size: int | None = None,
        max_rounds: int = 50,
        crash: CrashPlan | None = None,
        sent: datetime | None = None,
    ) -> list[BatchResult]:
        """Process items per partition in batches, then feed outboxes back until empty.
        `sent`: when `items` were sent, if they are internal items held since (what the
        batches send on is sent at `now`).

        `crash(batch_number, partition, items)` may return (keep_writes, outbox_mode) to crash
        that batch: its first `keep_writes` writes (None: all) reach the table, its outbox is
        "lost", sent "once" or "twice", the partition's worker restarts (views rebuilt from
        the table) and processes the same batch again. batch_number counts every batch this
        harness processed before, so a plan can aim at one batch of a clean run.
        """
        results: list[BatchResult] = []
        pending: list[Item] = list(items)
        rounds = 0
        while pending:
            rounds += 1
            assert rounds <= max_rounds, "outbox never became empty"
            outbox: list[Item] = []
            for p, group in sorted(self.group(pending).items()):
                size = batch_size or len(group)
                for start in range(0, len(group), size):
                    batch = group[start : start + size]
                    held = sent if rounds == 1 else None
                    plan = crash(self.batches, p, batch) if crash is not None else None
                    if plan is not None:
                        keep, mode = plan
                        first = self.process(p, batch, now, held)
                        if isinstance(keep, float):  # a fraction of the batch's writes
                            keep = int(len(first.writes) * keep)
                        self.apply_writes(p, first.writes, keep)
                        outbox.extend(first.outbox * {"lost": 0, "once": 1, "twice": 2}[mode])
                        self.restart(p)
                    result = self.step(p, batch, now, held)
                    results.append(result)
                    outbox.extend(result.outbox)
            pending = outbox
        return results

    def tick(self, now: datetime) -> list[BatchResult]:
        """The minute's Tick of an earlier version: it says nothing of the written state."""
        return self.run([Tick()], now)

    def worker_tick(self, now: datetime) -> list[BatchResult]:
        """The minute's Tick as a worker sends it: each partition's says the folded instant
        its table holds (streams.worker.timers.minute_tick), so hours are pruned, and their
        touches forgotten, a Tick after they are folded."""
        results: list[BatchResult] = []
        sent: list[Item] = []
        for p in range(self.n):
            results.append(self.step(p, [minute_tick(self.parts[p].store.get, p)], now))
            sent.extend(results[-1].outbox)
        return results + self.run(sent, now)

    # crash and restart --------------------------------------------------------------------
    def restart(self, p: int) -> None:
        """A new worker takes partition p over: its views are rebuilt from the table only."""
        self.parts[p] = self._new_partition(p, self.parts[p].store)
        rebuild_views(self.parts[p].views, p, self.parts[p].store)

    def crash_and_replay(
        self,
        items: list[Item],
        now: datetime,
        *,
        keep_writes: int | float | None,
        outbox: str = "lost",
        partition: int | None = None,
    ) -> int:
        """Run items, crashing the first batch (of `partition`, if given) as `run` describes;
        return the number of the crashed batch."""
        assert outbox in ("lost", "once", "twice")
        crashed: list[int] = []

        def plan(n: int, p: int, batch: list[Item]) -> tuple[int | float | None, str] | None:
            if crashed or (partition is not None and p != partition):
                return None
            crashed.append(n)
            return keep_writes, outbox

        self.run(items, now, crash=plan)
        assert crashed, "no batch was crashed"
        return crashed[0]

    # queries ------------------------------------------------------------------------------
    def views_of(self, scope: str) -> Views:
        return self.parts[self.partition_of(scope)].views

    def view(self, scope: str) -> ScopeView | None:
        return self.views_of(scope).get(scope)

    def performance(
        self, scope: str, period: str, now: datetime, *, announced: bool = False
    ) -> dict[str, Any] | None:
        """performance_document of a scope, a rep's medians from its team's owner: current
        ones as the API's, or `announced` ones as sales.performance's."""
        view = self.view(scope)
        if view is None:
            return None
        medians = None
        if view.kind == "rep":
            team = view.latest_part(period)
            if team is not None:
                medians = (announced_medians if announced else team_medians)(
                    self.view("team:" + team), period
                )
        return performance_document(
            view,
            parse_period(period, self.tz),
            now=now,
            tz=self.tz,
            at_risk_pace=self.at_risk_pace,
            currency=self.base,
            medians=medians,
        )

    def figures(
        self, scope: str, period: str, now: datetime, *, announced: bool = False
    ) -> dict[str, Any] | None:
        """The performance document without targets (figures only)."""
        doc = self.performance(scope, period, now, announced=announced)
        if doc is not None:
            doc.pop("targets")
        return doc

    def scopes(self) -> set[str]:
        return {s for part in self.parts for s in part.views.scopes}

    def snapshot(
        self, scopes: Iterable[str], periods: Iterable[str], now: datetime
    ) -> dict[tuple[str, str], dict[str, Any] | None]:
        periods = list(periods)
        return {(s, p): self.figures(s, p, now) for s in sorted(scopes) for p in periods}

    def unique_alerts(self) -> dict[str, dict[str, Any]]:
        """Alerts by alert_id (a replay after a crash may send the same id again)."""
        return {a["alert_id"]: a for a in self.alerts}

    def store_items(self, p: int) -> ItemsView[bytes, bytes]:
        return self.parts[p].store.items()

    def shown(self, scopes: Iterable[str], periods: Iterable[str], now: datetime) -> dict[Any, Any]:
        """Every figure of the scopes in the periods, and their hour and day activity
        buckets of the surrounding year: what a change of state layout must keep."""
        periods = list(periods)
        start, end = (
            datetime(now.year - 1, 1, 1, tzinfo=UTC),
            datetime(now.year + 1, 1, 1, tzinfo=UTC),
        )
        out: dict[Any, Any] = {}
        for scope in scopes:
            for period in periods:
                out[(scope, period)] = self.figures(scope, period, now)
            view = self.view(scope)
            for granularity in ("hour", "day"):
                out[(scope, granularity)] = (
                    activity_buckets(view, granularity, start, end, self.tz)  # type: ignore[arg-type]
                    if view is not None
                    else None
                )
        return out

    def records(self, kind: str) -> dict[tuple[Any, ...], Any]:
        """Every table record of a kind, on any partition, by key."""
        out = {}
        for part in self.parts:
            for kb, raw in part.store.items():
                key = parse_key(kb)
                if key[1] == kind:
                    out[key] = decode_value(kind, raw)
        return out


class OneWorker:
    """Every scope on partition 0 of one worker: what it sends on goes out encoded and comes
    back, as through the internal topic. `now` is its clock unless a batch says otherwise."""

    def __init__(self, now: datetime) -> None:
        tz = ZoneInfo("UTC")
        self.now = now
        self.views = Views(tz)
        self.proc = ScopeProcessor(
            views=self.views,
            fx=FxRates.load(FX_PATH, "USD"),
            tz=tz,
            late_grace_seconds=GRACE,
            at_risk_pace=0.8,
        )
        self.store: dict[bytes, bytes] = {}

    def batch(self, items: list[Foldable], now: datetime | None = None) -> list[Foldable]:
        """Fold one batch; returns what it sent on (republishes left out: they only mark),
        as read back from the topic."""
        result = self.proc.process(0, items, self.store.get, now or self.now)
        for key, value in result.writes.items():
            if value is None:
                self.store.pop(key, None)
            else:
                self.store[key] = value
        onward = [item for item in result.outbox if type(item) is not Republish]
        return list(decode_envelope(encode_envelope(onward))) if onward else []

    def settle(self, items: list[Foldable]) -> None:
        pending = items
        while pending:
            pending = self.batch(pending)

    def view(self, scope: str) -> ScopeView:
        view = self.views.get(scope)
        assert view is not None, scope
        return view


def rebuild_views(views: Views, partition: int, store: dict[bytes, bytes]) -> Views:
    """Rebuild views from a table, record by record, as a worker does after a rebalance."""
    for kb, raw in store.items():
        key = parse_key(kb)
        views.apply(key, partition, decode_value(key[1], raw), raw)
    views.share_member_parts()
    return views


# -- the oracle -----------------------------------------------------------------------------

CENT = Decimal("0.01")
#: exact decimal arithmetic for money (sums and conversions never round before output)
_EXACT = Context(prec=200)


def cents(x: Decimal) -> float:
    return float(x.quantize(CENT, rounding=ROUND_HALF_UP))


def period_ids(instant: datetime, tz: ZoneInfo) -> tuple[str, str, str, str]:
    d: date = instant.astimezone(tz).date()
    iso = d.isocalendar()
    return (
        d.isoformat(),
        f"{iso.year:04d}-W{iso.week:02d}",
        f"{d.year:04d}-{d.month:02d}",
        f"{d.year:04d}-Q{(d.month - 1) // 3 + 1}",
    )


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class _Acc:
    by_type: Counter[str] = field(default_factory=Counter)
    won: int = 0
    lost: int = 0
    revenue: Decimal = Decimal(0)
    cycles: list[float] = field(default_factory=list)
    csat: list[int] = field(default_factory=list)
    nps: list[int] = field(default_factory=list)
    latest: tuple[float, int, str] | None = None  # (time, order, team) of a rep's latest event


class Oracle:
    """Figures straight from the contract, over events that are all applied (none late).

    Events are given in processing order; duplicates (same topic and event_id) are skipped.
    Section 8.2 (`figures_82`): a deal's current state is its event with the latest
    occurred_at (on a tie the later-processed one) and every field of a deal is the current
    state's; closed figures go by its occurred_at, the cohort by its created_at, the pipeline
    (open or reopened) by its expected_close_at; a touch is an applied activity carrying the
    deal_id (any rep, any time); an account's first win is the earliest (occurred_at, deal_id)
    among the deals currently won for it, whichever scope they belong to.
    """

    def __init__(self, events: Sequence[RawEvent], tz: ZoneInfo, fx: FxRates) -> None:
        self.tz = tz
        self.fx = fx
        self.currency = fx.base
        self.acc: dict[tuple[str, str], _Acc] = defaultdict(_Acc)
        seen: set[tuple[str, str]] = set()
        deals: dict[str, tuple[float, int, dict[str, Any]]] = {}
        #: deal_id -> activity type -> applied activities carrying that deal_id (section 8.2)
        self.touches: dict[str, Counter[str]] = defaultdict(Counter)
        for order, raw in enumerate(events):
            data = payload_of(raw)
            if (raw.topic, data["event_id"]) in seen:
                continue
            seen.add((raw.topic, data["event_id"]))
            at = _dt(data["occurred_at"])
            if raw.kind == "deals":
                current = deals.get(data["deal_id"])
                # the latest occurred_at is current; on a tie, the one processed later
                if current is None or at.timestamp() >= current[0]:
                    deals[data["deal_id"]] = (at.timestamp(), order, data)
                continue
            if raw.kind == "activities" and data.get("deal_id") is not None:
                self.touches[data["deal_id"]][data["activity"]] += 1
            rep, team = data["rep_id"], data["team_id"]
            for period in period_ids(at, tz):
                for scope in ("rep:" + rep, "team:" + team):
                    acc = self.acc[(scope, period)]
                    if raw.kind == "activities":
                        acc.by_type[data["activity"]] += 1
                    else:
                        if data.get("csat") is not None:
                            acc.csat.append(data["csat"])
                        if data.get("nps") is not None:
                            acc.nps.append(data["nps"])
                self._latest("rep:" + rep, period, at.timestamp(), order, team)
        #: deal_id -> the payload of the deal's current state
        self.current: dict[str, dict[str, Any]] = {d: v[2] for d, v in deals.items()}
        #: account_id -> (occurred_at, deal_id) of its first win (section 8.2 customers)
        self.first_win: dict[str, tuple[float, str]] = {}
        for deal_id, data in sorted(self.current.items()):
            account = data.get("account_id")
            if data["outcome"] != "won" or account is None:
                continue
            win = (_dt(data["occurred_at"]).timestamp(), deal_id)
            if account not in self.first_win or win < self.first_win[account]:
                self.first_win[account] = win
        for at_ts, order, data in deals.values():
            if data["outcome"] not in ("won", "lost"):
                continue
            at = _dt(data["occurred_at"])
            for period in period_ids(at, tz):
                for scope in ("rep:" + data["rep_id"], "team:" + data["team_id"]):
                    acc = self.acc[(scope, period)]
                    if data["outcome"] == "lost":
                        acc.lost += 1
                        continue
                    acc.won += 1
                    acc.revenue = _EXACT.add(acc.revenue, self.amount_base(data))
                    if data.get("created_at"):
                        acc.cycles.append((at - _dt(data["created_at"])).total_seconds())
                self._latest("rep:" + data["rep_id"], period, at_ts, order, data["team_id"])

    def _latest(self, scope: str, period: str, at: float, order: int, team: str) -> None:
        acc = self.acc[(scope, period)]
        # at one instant in several teams: the greatest team id (README, Decisions)
        if acc.latest is None or (at, team) >= (acc.latest[0], acc.latest[2]):
            acc.latest = (at, order, team)

    def team_of(self, rep: str, period: str) -> str | None:
        acc = self.acc.get(("rep:" + rep, period))
        return acc.latest[2] if acc and acc.latest else None

    def members(self, team: str, period: str) -> list[str]:
        return sorted(
            scope.split(":", 1)[1]
            for (scope, p), acc in self.acc.items()
            if p == period and scope.startswith("rep:") and acc.latest and acc.latest[2] == team
        )

    def figures(self, scope: str, period: str) -> dict[str, Any]:
        acc = self.acc.get((scope, period), _Acc())
        total = sum(acc.by_type.values())
        doc: dict[str, Any] = {"scope": scope.split(":")[0], "id": scope.split(":", 1)[1]}
        if scope.startswith("rep:"):
            doc["team_id"] = acc.latest[2] if acc.latest else None
        doc["period"] = period
        doc["currency"] = self.currency
        doc["activities"] = {
            "total": total,
            "by_type": {k: v for k, v in sorted(acc.by_type.items()) if v > 0},
        }
        doc["deals"] = {
            "won": acc.won,
            "lost": acc.lost,
            "revenue_won": cents(acc.revenue),
            "win_rate": acc.won / (acc.won + acc.lost) if acc.won + acc.lost else None,
            "avg_deal_size": cents(acc.revenue / acc.won) if acc.won else None,
            "avg_cycle_days": sum(acc.cycles) / len(acc.cycles) / DAY if acc.cycles else None,
        }
        n = len(acc.csat)
        m = len(acc.nps)
        doc["satisfaction"] = {
            "csat_avg": sum(acc.csat) / n if n else None,
            "csat_count": n,
            "csat_satisfied_pct": 100 * sum(1 for c in acc.csat if c >= 4) / n if n else None,
            "nps": (
                100 * (sum(1 for x in acc.nps if x >= 9) - sum(1 for x in acc.nps if x <= 6)) / m
                if m
                else None
            ),
            "nps_count": m,
        }
        doc["efficiency"] = {
            "activities_per_win": total / acc.won if acc.won else None,
            "revenue_per_activity": cents(acc.revenue / total) if total else None,
        }
        v2 = self.figures_82(scope, period)
        doc["deals"].update(v2.pop("deals"))
        doc["efficiency"].update(v2.pop("efficiency"))
        doc.update(v2)
        if scope.startswith("rep:"):
            doc["quadrant"] = self.quadrant(scope.split(":", 1)[1], period)
        return doc

    # -- section 8.2 ----------------------------------------------------------------------

    def amount_base(self, data: dict[str, Any]) -> Decimal:
        """A deal event's amount in the base currency, exact; 0 when it has none."""
        if data.get("amount") is None or data.get("currency") is None:
            return Decimal(0)
        return _EXACT.multiply(Decimal(str(data["amount"])), self.fx.rate(data["currency"]))

    def _in(self, instant: str | None, period: str) -> bool:
        return instant is not None and period in period_ids(_dt(instant), self.tz)

    def deals_of(self, scope: str) -> list[tuple[str, dict[str, Any]]]:
        """(deal_id, current state) of the deals attributed to a scope: the rep and team of
        the current state, in deal_id order."""
        kind, ident = scope.split(":", 1)
        field_ = {"rep": "rep_id", "team": "team_id"}[kind]
        return [(d, data) for d, data in sorted(self.current.items()) if data[field_] == ident]

    def figures_82(self, scope: str, period: str) -> dict[str, Any]:
        """The section 8.2 fields of a scope's document: {"deals": {...}, "efficiency": {...},
        "conversion", "pipeline", "retention", "customers"}."""
        mine = self.deals_of(scope)
        closed = [
            (d, x)
            for d, x in mine
            if x["outcome"] in ("won", "lost") and self._in(x["occurred_at"], period)
        ]
        won = [(d, x) for d, x in closed if x["outcome"] == "won"]
        lost = [x for _, x in closed if x["outcome"] == "lost"]
        cohort = [x for _, x in mine if self._in(x.get("created_at"), period)]
        pipeline = [
            x
            for _, x in mine
            if x["outcome"] in ("open", "reopened") and self._in(x.get("expected_close_at"), period)
        ]

        def source(x: dict[str, Any]) -> str:
            return x.get("source") or "unknown"

        def kind(x: dict[str, Any]) -> str:
            return x.get("kind") or "new_business"

        with localcontext(_EXACT):
            by_source: dict[str, dict[str, Any]] = {}
            for s in sorted({source(x) for _, x in closed}):
                w = [x for _, x in won if source(x) == s]
                n_lost = sum(1 for x in lost if source(x) == s)
                by_source[s] = {
                    "won": len(w),
                    "lost": n_lost,
                    "revenue_won": cents(sum((self.amount_base(x) for x in w), Decimal(0))),
                    "win_rate": len(w) / (len(w) + n_lost),
                }
            lost_by_reason = Counter(x.get("lost_reason") or "unspecified" for x in lost)
            revenue_by_kind = {
                k: cents(sum((self.amount_base(x) for _, x in won if kind(x) == k), Decimal(0)))
                for k in sorted({kind(x) for _, x in won})
            }
            states = Counter(
                "open" if x["outcome"] in ("open", "reopened") else x["outcome"] for x in cohort
            )
            conversion_by_source: dict[str, dict[str, Any]] = {}
            for s in sorted({source(x) for x in cohort}):
                created = sum(1 for x in cohort if source(x) == s)
                n_won = sum(1 for x in cohort if source(x) == s and x["outcome"] == "won")
                conversion_by_source[s] = {
                    "created": created,
                    "won": n_won,
                    "win_rate": n_won / created,
                }
            by_stage: dict[str, dict[str, Any]] = {}
            for st in sorted({x.get("stage") or "unknown" for x in pipeline}):
                of_stage = [x for x in pipeline if (x.get("stage") or "unknown") == st]
                by_stage[st] = {
                    "count": len(of_stage),
                    "amount": cents(sum((self.amount_base(x) for x in of_stage), Decimal(0))),
                }
            open_amount = sum((self.amount_base(x) for x in pipeline), Decimal(0))
        renewals_won = sum(1 for _, x in won if kind(x) == "renewal")
        renewals_lost = sum(1 for x in lost if kind(x) == "renewal")
        accounts = {x["account_id"] for _, x in won if x.get("account_id") is not None}
        new = {
            account
            for d, x in won
            if (account := x.get("account_id")) is not None and self.first_win[account][1] == d
        }
        # the first win is at or before every won deal of its account, so for an account won
        # in the period "before the period's start" is "not in the period"
        repeat = {a for a in accounts if not self._in_ts(self.first_win[a][0], period)}
        touches: Counter[str] = Counter()
        for d, _ in won:
            touches.update(self.touches.get(d, Counter()))
        n_won = len(won)
        return {
            "deals": {
                "by_source": by_source,
                "lost_by_reason": dict(sorted(lost_by_reason.items())),
                "revenue_by_kind": revenue_by_kind,
            },
            "efficiency": {
                "touches_per_won_deal": sum(touches.values()) / n_won if n_won else None,
                "touches_by_type_per_won_deal": (
                    {t: n / n_won for t, n in sorted(touches.items()) if n > 0} if n_won else {}
                ),
            },
            "conversion": {
                "created": len(cohort),
                "won": states["won"],
                "lost": states["lost"],
                "open": states["open"],
                "win_rate": states["won"] / len(cohort) if cohort else None,
                "by_source": conversion_by_source,
            },
            "pipeline": {
                "open_count": len(pipeline),
                "open_amount": cents(open_amount),
                "by_stage": by_stage,
            },
            "retention": {
                "renewals_won": renewals_won,
                "renewals_lost": renewals_lost,
                "rate": (
                    renewals_won / (renewals_won + renewals_lost)
                    if renewals_won + renewals_lost
                    else None
                ),
            },
            "customers": {"won": len(accounts), "new": len(new), "repeat": len(repeat)},
        }

    def _in_ts(self, epoch: float, period: str) -> bool:
        return period in period_ids(datetime.fromtimestamp(epoch, UTC), self.tz)

    def quadrant(self, rep: str, period: str) -> str | None:
        team = self.team_of(rep, period)
        if team is None:
            return None
        members = self.members(team, period)

        def med(values: list[Decimal]) -> Decimal:
            values = sorted(values)
            k = len(values) // 2
            return values[k] if len(values) % 2 else (values[k - 1] + values[k]) / 2

        acts = [Decimal(sum(self.acc[("rep:" + m, period)].by_type.values())) for m in members]
        revs = [self.acc[("rep:" + m, period)].revenue for m in members]
        mine = self.acc[("rep:" + rep, period)]
        a = "high" if sum(mine.by_type.values()) >= med(acts) else "low"
        r = "high" if mine.revenue >= med(revs) else "low"
        return f"{a}_activity_{r}_performance"


def close(a: Any, b: Any, rel: float = 1e-9) -> bool:
    """Deep equality, floats within a relative tolerance (sums in another order)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if not isinstance(a, int | float) or not isinstance(b, int | float):
            return False
        return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
    return type(a) is type(b) and a == b


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc,arg-type]
