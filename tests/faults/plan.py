"""The stream of the fault-injection scenario, built in full (seeded) before anything runs.

Every record is produced in *waves*. Wave j holds the valid events whose event time lies in
[T0 + j*STEP, T0 + (j+1)*STEP), a few of the previous window's events delivered one wave
late, duplicates, late records and invalid records, shuffled. The runner produces wave j only
once every record of wave j-2 is processed and its offsets committed (tests/faults/harness.py),
which is what makes lateness deterministic despite crashes, replays and parallel partitions:

- an on-time record (time >= W_s - STEP when sent in wave s) is folded before wave s+2 is
  produced, so no stream time it meets exceeds W_{s+2}: it is at most 3*STEP = 36 h behind,
  12 h inside SALES_LATE_GRACE (P2D), whatever order the workers take the partitions in;
- a late record sent in wave j is at least GRACE + 12 h older than an event already applied
  (and committed, so it survives any crash) on the partition of the internal topic where its
  lateness is judged: the partition of its rep (activities, feedback) or of its deal (deals),
  README "Decisions": stream time is kept per partition of the internal topic, records are
  routed by rep and deals by deal_id, placed by Kafka's murmur2 partitioner.

So every record is on time or late by at least 12 h, in any processing order. The plan also
feeds the order-dependent calculator (tests/integration/expected_figures.py) and checks that
it judges exactly the planned records late.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from aiokafka.partitioner import murmur2

from tests.integration.expected_figures import (
    Expected,
    business_fraction,
    period_bounds,
    period_ids,
)

GRACE = timedelta(days=2)
STEP = timedelta(hours=12)
MARGIN = timedelta(hours=12)
PARTITIONS = 8
#: max.message.bytes of the dead-letter topic, created before any worker starts
#: (FAULTS_DEADLETTER_MAX_BYTES overrides it)
DEADLETTER_TOPIC_LIMIT = 4096
#: SALES_MAX_PAYLOAD_BYTES (the default)
MAX_PAYLOAD_BYTES = 65536
ACTIVITY_TYPES = (
    "call",
    "email",
    "meeting",
    "demo",
    "proposal",
    "negotiation",
    "social",
    "event",
    "follow_up",
)
CURRENCIES = ("USD", "EUR", "GBP", "JPY", "CHF", "SEK")
#: deal histories: won, lost, reopened, corrected (won twice), flipped both ways
DEAL_PATHS = (
    ("won",),
    ("won",),
    ("lost",),
    ("won", "reopened"),
    ("won", "reopened", "won"),
    ("lost", "won"),
    ("won", "lost"),
    ("won", "won"),
    ("reopened",),
)
HUGE = 1e12


@dataclass(frozen=True)
class Size:
    name: str
    #: valid events (activities, deals, feedback); duplicates, late and invalid come on top
    events: int
    days: int
    reps: int
    teams: int
    kills: int
    add_worker: bool
    remove_worker: bool
    broker_kills: int = 1
    #: clean broker stops (SIGTERM: leadership moved away first), then restarts
    broker_stops: int = 1


SIZES = {
    "reduced": Size(
        "reduced",
        events=20_000,
        days=6,
        reps=32,
        teams=6,
        kills=2,
        add_worker=True,
        remove_worker=False,
    ),
    "full": Size(
        "full",
        events=200_000,
        days=14,
        reps=60,
        teams=8,
        kills=6,
        add_worker=True,
        remove_worker=True,
    ),
}

TargetKey = tuple[str, str, str, str]  # scope, scope_id, metric, period


@dataclass
class Record:
    kind: str  # activities | deals | feedback | targets
    key: bytes | None
    value: bytes | None
    role: str  # valid | duplicate | late | invalid | target
    #: the dead-letter reason expected (late and invalid records)
    reason: str | None = None
    #: the event (valid, duplicate and late records), for the calculator
    event: dict[str, Any] | None = None
    #: the dead letter of this record must be cut to fit the dead-letter topic
    cut: bool = False
    #: where the broker put it: (topic, partition, offset), filled in when produced
    where: tuple[str, int, int] | None = None


@dataclass
class TargetPlan:
    key: TargetKey
    value: float
    final: float
    #: "initial": sent before the stream (judged at check time); otherwise the alert kinds
    #: that must arrive, fixed when the plan was made
    kinds: frozenset[str] | None = None


@dataclass
class Plan:
    seed: int
    size: Size
    deadletter_limit: int
    now: datetime
    t0: datetime
    t_end: datetime
    initial_targets: list[Record]
    waves: list[list[Record]]
    targets: list[TargetPlan]
    exp: Expected
    counts: dict[str, Any] = field(default_factory=dict)

    def records(self) -> list[Record]:
        return [*self.initial_targets, *(r for wave in self.waves for r in wave)]

    def rejected(self) -> list[Record]:
        return [r for r in self.records() if r.reason is not None]


def partition_of(scope_key: str) -> int:
    """Kafka's default partitioner, as README says scopes are placed (rep id, "deal:<id>")."""
    return (murmur2(scope_key.encode()) & 0x7FFFFFFF) % PARTITIONS


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


class CachedExpected(Expected):
    """The calculator with its team and median look-ups cached (the stream is large).

    Nothing changes after construction, so caching cannot change an answer.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._team_cache: dict[tuple[str, str], str | None] = {}
        self._members: dict[tuple[str, str], list[str]] | None = None

    def team_of(self, rep: str, period: str) -> str | None:
        key = (rep, period)
        if key not in self._team_cache:
            self._team_cache[key] = super().team_of(rep, period)
        return self._team_cache[key]

    def members(self, team: str, period: str) -> list[str]:
        if self._members is None:
            index: dict[tuple[str, str], list[str]] = defaultdict(list)
            for scope, rep, p in list(self.accs):
                if scope == "rep":
                    owner = self.team_of(rep, p)
                    if owner is not None:
                        index[(owner, p)].append(rep)
            self._members = dict(index)
        return self._members.get((team, period), [])


class Builder:
    def __init__(self, size: Size, seed: int, now: datetime, deadletter_limit: int) -> None:
        self.size = size
        self.deadletter_limit = deadletter_limit
        self.rng = random.Random(seed)
        self.seed = seed
        self.now = now
        self.t_end = (now - timedelta(hours=2)).replace(microsecond=0)
        self.t0 = self.t_end - timedelta(days=size.days)
        self.n_waves = int((self.t_end - self.t0) / STEP)
        self.reps = [f"r{i:02d}" for i in range(size.reps)]
        self.teams = [f"team-{i}" for i in range(size.teams)]
        #: some reps are busier than others (cumulative weights, for random.choices)
        self.weights = list(itertools.accumulate(1 + (i % 4) for i in range(size.reps)))
        # some reps move to another team at some moment
        self.moves: dict[str, datetime] = {
            rep: self.t0 + (self.t_end - self.t0) * self.rng.uniform(0.3, 0.7)
            for i, rep in enumerate(self.reps)
            if i % 7 == 3
        }
        self.used: set[datetime] = set()
        self.serial = 0
        self.waves: list[list[Record]] = [[] for _ in range(self.n_waves)]
        #: partition -> wave -> latest event time of the valid events sent in that wave
        self.latest: dict[int, dict[int, datetime]] = defaultdict(dict)

    # -- time ------------------------------------------------------------------------------
    def wave_of(self, moment: datetime) -> int:
        return min(int((moment - self.t0) / STEP), self.n_waves - 1)

    def window(self, wave: int) -> datetime:
        return self.t0 + STEP * wave

    def moment(self, lo: datetime, hi: datetime) -> datetime:
        """A random instant in [lo, hi) to the millisecond, never used before (no ties)."""
        span_ms = int((hi - lo) / timedelta(milliseconds=1))
        assert span_ms > 0, (lo, hi)
        while True:
            when = lo + timedelta(milliseconds=self.rng.randrange(span_ms))
            if when not in self.used:
                self.used.add(when)
                return when

    def team(self, rep: str, when: datetime) -> str:
        i = int(rep[1:])
        moved = rep in self.moves and when >= self.moves[rep]
        return self.teams[(i + moved) % len(self.teams)]

    # -- events ----------------------------------------------------------------------------
    def base(self, prefix: str, rep: str, when: datetime) -> dict[str, Any]:
        self.serial += 1
        return {
            "event_id": f"{prefix}{self.seed}-{self.serial}",
            "occurred_at": iso(when),
            "rep_id": rep,
            "team_id": self.team(rep, when),
        }

    def activity(self, rep: str, when: datetime) -> dict[str, Any]:
        event = {**self.base("a", rep, when), "activity": self.rng.choice(ACTIVITY_TYPES)}
        roll = self.rng.random()
        if roll < 0.3:
            event["duration_s"] = self.rng.randint(0, 3600)
        if roll < 0.5:
            event["account_id"] = f"acct-{self.rng.randint(1, 400)}"
        if roll > 0.9:
            event["source"] = "dialer"
        return event

    def feedback(self, rep: str, when: datetime) -> dict[str, Any]:
        scores: dict[str, int] = {}
        if self.rng.random() < 0.8:
            scores["csat"] = self.rng.randint(1, 5)
        if not scores or self.rng.random() < 0.5:
            scores["nps"] = self.rng.randint(0, 10)
        return {**self.base("f", rep, when), **scores}

    def deal_path(self, deal_id: str) -> list[dict[str, Any]]:
        rng = self.rng
        path = rng.choice(DEAL_PATHS)
        rep = rng.choices(self.reps, cum_weights=self.weights)[0]
        other = rng.choice(self.reps)
        reassigned = rng.random() < 0.1  # a later event names another rep (and team)
        when = self.moment(self.t0, self.t_end - timedelta(hours=1))
        created = when - timedelta(days=rng.uniform(1, 60))
        events = []
        for step, outcome in enumerate(path):
            if step:
                hi = min(when + timedelta(hours=36), self.t_end)
                lo = when + timedelta(minutes=30)
                if lo >= hi:
                    break
                when = self.moment(lo, hi)
            owner = other if reassigned and step else rep
            body: dict[str, Any] = {"deal_id": deal_id, "outcome": outcome}
            if outcome == "won":
                body["amount"] = round(rng.uniform(100, 80_000), rng.choice((0, 2, 3)))
                body["currency"] = rng.choice(CURRENCIES)
                if rng.random() < 0.7:
                    body["created_at"] = iso(created)
            elif outcome == "lost" and rng.random() < 0.3:
                body["created_at"] = iso(created)
            events.append({**self.base("d", owner, when), **body})
        return events

    def key_for(self, event: dict[str, Any]) -> bytes | None:
        """Mostly the rep (as the contract recommends), else null or a wrong key."""
        roll = self.rng.random()
        if roll < 0.75:
            return event["rep_id"].encode()
        if roll < 0.9:
            return None
        return self.rng.choice([event["team_id"], "someone-else", "x"]).encode()

    @staticmethod
    def scope_partition(kind: str, event: dict[str, Any]) -> int:
        if kind == "deals":
            return partition_of("deal:" + event["deal_id"])
        return partition_of(event["rep_id"])

    def add_valid(self, kind: str, event: dict[str, Any]) -> None:
        when = datetime.fromisoformat(event["occurred_at"])
        wave = self.wave_of(when)
        if wave + 1 < self.n_waves and self.rng.random() < 0.05:
            wave += 1  # delivered one wave late: still well within the grace
        record = Record(kind, self.key_for(event), orjson.dumps(event), "valid", event=event)
        self.waves[wave].append(record)
        p = self.scope_partition(kind, event)
        if when > self.latest[p].get(wave, self.t0):
            self.latest[p][wave] = when
        if self.rng.random() < 0.03:  # re-sent: same bytes, maybe another key
            again = wave
            if wave == self.wave_of(when) and wave + 1 < self.n_waves and self.rng.random() < 0.5:
                again = wave + 1
            key = record.key if self.rng.random() < 0.5 else self.key_for(event)
            self.waves[again].append(Record(kind, key, record.value, "duplicate", event=event))

    def build_events(self) -> None:
        total = self.size.events
        n_activities = int(total * 0.80)
        n_feedback = int(total * 0.06)
        for _ in range(n_activities):
            rep = self.rng.choices(self.reps, cum_weights=self.weights)[0]
            self.add_valid("activities", self.activity(rep, self.moment(self.t0, self.t_end)))
        for _ in range(n_feedback):
            rep = self.rng.choice(self.reps)
            self.add_valid("feedback", self.feedback(rep, self.moment(self.t0, self.t_end)))
        made = n_activities + n_feedback
        deal = 0
        while made < total:
            deal += 1
            for event in self.deal_path(f"D{self.seed}-{deal}")[: total - made]:
                self.add_valid("deals", event)
                made += 1

    # -- late records ----------------------------------------------------------------------
    def reference(self, partition: int, wave: int) -> datetime | None:
        """The latest event time applied (and committed) on `partition` before `wave` is sent."""
        times = [t for w, t in self.latest[partition].items() if w <= wave - 2]
        return max(times) if times else None

    def build_late(self) -> None:
        per_wave = max(1, self.size.events // 100 // self.n_waves)
        late_deals = 0
        for wave in range(2, self.n_waves):
            made = 0
            for _ in range(per_wave * 20):
                if made >= per_wave:
                    break
                kind = self.rng.choices(("activities", "feedback", "deals"), (6, 2, 2))[0]
                rep = self.rng.choice(self.reps)
                deal_id = f"L{self.seed}-{late_deals + 1}"
                p = partition_of("deal:" + deal_id) if kind == "deals" else partition_of(rep)
                ref = self.reference(p, wave)
                if ref is None or ref - GRACE - MARGIN <= self.t0 + timedelta(hours=1):
                    continue
                # inside the stream's span (a wrongly applied one shows in compared periods)
                when = self.moment(self.t0, ref - GRACE - MARGIN)
                if kind == "activities":
                    event = self.activity(rep, when)
                elif kind == "feedback":
                    event = self.feedback(rep, when)
                else:
                    late_deals += 1
                    event = {
                        **self.base("d", rep, when),
                        "deal_id": deal_id,
                        "outcome": "won",
                        "amount": 5000,
                        "currency": "USD",
                    }
                record = Record(
                    kind, self.key_for(event), orjson.dumps(event), "late", "late_event", event
                )
                self.waves[wave].append(record)
                made += 1
                if self.rng.random() < 0.1:  # a late record re-sent is late again
                    again = min(wave + self.rng.randint(0, 1), self.n_waves - 1)
                    self.waves[again].append(
                        Record(kind, record.key, record.value, "late", "late_event", event)
                    )

    # -- invalid records -------------------------------------------------------------------
    def invalid(self, index: int) -> Record:
        rng = self.rng
        rep = rng.choice(self.reps)
        when = self.moment(self.t0, self.t_end)
        act = self.activity(rep, when)
        key = rep.encode()

        def js(value: Any) -> bytes:
            return orjson.dumps(value)

        def won(**extra: Any) -> dict[str, Any]:
            return {**self.base("d", rep, when), "deal_id": "X", "outcome": "won", **extra}

        # a bad record too big for the dead-letter topic: its dead letter must be cut
        limit = self.deadletter_limit
        pad = "x" * rng.randint(limit + 500, limit + 16_000)
        builders: list[tuple[str, str, bytes | None, bool]] = [
            ("activities", "invalid_json", js(act)[:-7], False),
            ("activities", "invalid_json", b'{"event_id": "big", "note": "' + pad.encode(), True),
            ("activities", "invalid_json", b"\xff\xfe not utf-8 \x80", False),
            ("activities", "invalid_json", None, False),
            ("activities", "schema_violation", js({**act, "activity": "visit"}), False),
            ("activities", "schema_violation", js([act]), False),
            ("activities", "schema_violation", js({**act, "duration_s": -5}), False),
            ("activities", "unsupported_schema_version", js({**act, "schema_version": 2}), False),
            (
                "activities",
                "future_event_time",
                js({**act, "occurred_at": iso(self.now + timedelta(days=3))}),
                False,
            ),
            (
                "activities",
                "payload_too_large",
                js({**act, "note": "y" * (MAX_PAYLOAD_BYTES + 100)}),
                True,
            ),
            ("deals", "schema_violation", js(won()), False),
            ("deals", "unknown_currency", js(won(amount=10, currency="XYZ")), False),
            ("deals", "invalid_json", b'{"deal_id": "D", "pad": "' + pad.encode() + b"}", True),
            ("feedback", "schema_violation", js({**self.base("f", rep, when), "csat": 9}), False),
            ("feedback", "schema_violation", js(self.base("f", rep, when)), False),
        ]
        # a metric no valid target uses, so no valid target shares the (compacted) key
        period = period_ids(when)["month"]
        target_key = f"rep:{rep}:activities.meeting:{period}"
        target_value = {
            "scope": "rep",
            "scope_id": rep,
            "metric": "activities.meeting",
            "period": period,
            "value": 0,
        }
        target_builders: list[tuple[str, str, bytes | None, bool]] = [
            ("targets", "schema_violation", js(target_value), False),
            ("targets", "invalid_json", b'{"scope": "rep", "value": ', False),
            (
                "targets",
                "schema_violation",
                js({**target_value, "value": 5, "scope_id": "zz"}),
                False,
            ),
        ]
        if index % 8 == 7:
            kind, reason, value, cut = rng.choice(target_builders)
            return Record(kind, target_key.encode(), value, "invalid", reason, cut=cut)
        kind, reason, value, cut = builders[index % len(builders)]
        return Record(kind, key, value, "invalid", reason, cut=cut)

    def build_invalid(self) -> None:
        n = max(len(SIZES), self.size.events // 100)
        for index in range(n):
            self.waves[self.rng.randrange(self.n_waves)].append(self.invalid(index))

    def add_bursts(self) -> None:
        """A burst of rejects (after the waves are shuffled): 24 bad records of about 2 KB in
        a row with one key, so one partition, one fetched batch and one dead-letter partition:
        each dead letter fits the topic, two together do not."""
        for wave in (1, self.n_waves // 2):
            rep = self.rng.choice(self.reps)
            burst = []
            for i in range(24):
                event = self.activity(rep, self.moment(self.window(wave), self.window(wave + 1)))
                value = orjson.dumps({**event, "note": "n" * 1800})[: -2 - i % 5]
                burst.append(Record("activities", rep.encode(), value, "invalid", "invalid_json"))
            at = self.rng.randrange(len(self.waves[wave]) + 1)
            self.waves[wave][at:at] = burst


def events_in_order(initial: list[Record], waves: list[list[Record]]) -> list[tuple[str, Any]]:
    return [
        (r.kind, r.event)
        for r in [*initial, *(r for wave in waves for r in wave)]
        if r.event is not None
    ]


def target_record(key: TargetKey, value: float) -> Record:
    scope, scope_id, metric, period = key
    body = {"scope": scope, "scope_id": scope_id, "metric": metric, "period": period}
    return Record(
        "targets",
        ":".join(key).encode(),
        orjson.dumps({**body, "value": value}),
        "target",
    )


def choose_targets(b: Builder, exp: Expected) -> tuple[list[TargetPlan], list[TargetPlan]]:
    """Targets whose alerts are certain: sent before the stream, and sent during it."""
    rng = b.rng
    day_end = period_ids(b.t_end)["day"]
    days = sorted({period_ids(b.t0 + timedelta(days=i))["day"] for i in range(b.size.days)})
    ended_days = [d for d in days if d != day_end and period_bounds(d)[0] >= b.t0]
    assert len(ended_days) >= 3, ended_days

    def actual(scope: str, ident: str, metric: str, period: str) -> float:
        return float(exp.actual(scope, ident, metric, period))

    used: set[TargetKey] = set()

    def pick(scope: str, metric: str, period: str, *, with_data: bool = True) -> TargetKey:
        """A target key not taken yet, on a scope with a figure of at least 1 (or any)."""
        idents = exp.reps() if scope == "rep" else exp.teams()
        keys = [(scope, i, metric, period) for i in idents]
        good = [k for k in keys if k not in used and (not with_data or actual(*k) >= 1)]
        assert good, (scope, metric, period)
        key = rng.choice(good)
        used.add(key)
        return key

    initial: list[TargetPlan] = []

    def add(key: TargetKey, value: float) -> None:
        initial.append(TargetPlan(key, value, actual(*key)))

    d1, d2, d3 = rng.sample(ended_days, 3)
    add(pick("rep", "revenue_won", d1, with_data=False), HUGE)
    key = pick("rep", "activities_total", d2)
    add(key, actual(*key))
    key = pick("team", "deals_won", d3)
    add(key, actual(*key))
    add(pick("team", "revenue_won", period_ids(b.now)["quarter"], with_data=False), HUGE)
    end_ids = period_ids(b.t_end)
    key = pick("rep", "activities.call", end_ids["quarter"])
    add(key, max(1.0, actual(*key) // 2))
    key = pick("team", "activities_total", end_ids["week"])
    add(key, actual(*key))
    add(pick("rep", "deals_won", end_ids["month"], with_data=False), 1e6)
    key = pick("rep", "revenue_won", end_ids["month"])
    add(key, round(actual(*key) / 2, 2) or 1.0)

    # during the stream: a target on a day whose events were all applied (and committed)
    # before it is sent is achieved at once; a huge one on an ended day is missed at once
    during: list[TargetPlan] = []
    for wave in range(4, b.n_waves, max(1, b.n_waves // 4)):
        done = [d for d in ended_days if period_bounds(d)[1] <= b.window(wave - 3)]
        if not done:
            continue
        day = rng.choice(done)
        key = pick("rep", "activities_total", day)
        value = actual(*key)
        during.append(TargetPlan(key, value, value, frozenset({"target_achieved"})))
        metric = rng.choice(("revenue_won", "deals_won", "activities.email"))
        key = pick("team", metric, day, with_data=False)
        during.append(TargetPlan(key, HUGE, actual(*key), frozenset({"target_missed"})))
        for plan in during[-2:]:
            record = target_record(plan.key, plan.value)
            b.waves[wave].insert(rng.randrange(len(b.waves[wave]) + 1), record)
    return initial, during


def build_plan(
    size: Size,
    seed: int,
    deadletter_limit: int = DEADLETTER_TOPIC_LIMIT,
    now: datetime | None = None,
) -> Plan:
    assert 4096 <= deadletter_limit <= 60_000, deadletter_limit  # too-large records are cut
    now = now or datetime.now(UTC)
    b = Builder(size, seed, now, deadletter_limit)
    b.build_events()
    b.build_late()
    b.build_invalid()
    for wave in b.waves:
        b.rng.shuffle(wave)
    b.add_bursts()
    exp = CachedExpected(events_in_order([], b.waves), late_grace=GRACE)
    planned_late = [r.event for wave in b.waves for r in wave if r.role == "late"]
    judged_late = [e for _, e in exp.late]
    assert judged_late == planned_late, "the calculator and the plan disagree on lateness"
    initial, during = choose_targets(b, exp)
    keys = [t.key for t in initial + during]
    assert len(set(keys)) == len(keys), keys
    plan = Plan(
        seed=seed,
        size=size,
        deadletter_limit=deadletter_limit,
        now=now,
        t0=b.t0,
        t_end=b.t_end,
        initial_targets=[target_record(t.key, t.value) for t in initial],
        waves=b.waves,
        targets=initial + during,
        exp=exp,
    )
    records = plan.records()
    deal_events = Counter(
        r.event["deal_id"] for r in records if r.role == "valid" and r.kind == "deals" and r.event
    )
    roles = Counter(r.role for r in records)
    plan.counts = {
        "records": len(records),
        "records_by_topic": dict(Counter(r.kind for r in records)),
        "waves": len(b.waves),
        "valid_by_kind": dict(Counter(r.kind for r in records if r.role == "valid")),
        "duplicates": roles["duplicate"],
        "late": roles["late"],
        "invalid": roles["invalid"],
        "invalid_by_reason": dict(Counter(r.reason for r in records if r.role == "invalid")),
        "cut_dead_letters": sum(1 for r in records if r.cut),
        "targets": roles["target"],
        "deals_with_history": sum(1 for n in deal_events.values() if n > 1),
    }
    return plan


#: SALES_AT_RISK_PACE of the workers (the default)
AT_RISK_PACE = 0.8


def alert_kinds(
    target: TargetPlan, sent_at: datetime, checked_at: datetime
) -> tuple[set[str], set[str]]:
    """(kinds that must arrive, kinds that may arrive) for a target sent before any event
    (actual 0 when it arrives), judged from the wall clock when it was sent and now.

    `target_at_risk` and `target_missed` wait for their status to hold (SALES_ALERT_SETTLE,
    5 s): one seen only while the events were still arriving may never be sent, and one is
    owed only if the final figures still call for it."""
    if target.kinds is not None:
        return set(target.kinds), set()
    period = target.key[3]
    _, stop = period_bounds(period)
    achieved = target.final >= target.value
    required: set[str] = set()
    optional: set[str] = set()
    if stop <= sent_at and not achieved:
        required.add("target_missed")  # missed from the start, and in the end
    elif stop <= checked_at:
        optional.add("target_missed")  # seen while the events that meet it were arriving
    if stop > sent_at:
        fraction = business_fraction(period, checked_at)
        expected = target.value * fraction
        if not achieved and stop > checked_at and target.final < AT_RISK_PACE * expected * 0.99:
            required.add("target_at_risk")  # at risk now, and for longer than the settle
        elif fraction > 0:
            optional.add("target_at_risk")
    if achieved:
        required.add("target_achieved")
        if target.key[2] in ("revenue_won", "deals_won"):
            # a reopened or corrected deal may take it below again on the way (contract 8.3)
            optional.add("target_achievement_revoked")
    return required, optional
