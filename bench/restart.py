"""Restart cost (issue 10, item 6): how long a salespulse worker holding a year of state for
1,000 reps takes to answer again, and how much memory it needs, after a clean stop and after
a kill.

Folding a year of events through the worker would take hours (the fold handles some 1-3k
events/s), so the state is written straight into the worker's changelog topic
(`<SALES_APP_ID>-scopes-changelog`, compacted, one partition per scope partition) in the exact
format the worker writes: the keys, values and partitions of streams.engine.state, in delta
frames of streams.worker.changelog_frames, built with
its own helpers (`make_key`, `encode_value`, `HourRecord`, `DealSlot`, ...), as if a worker had
folded these events one by one (`StateBuilder` follows streams.engine.processor record by
record). This is the one bench module that imports `streams`.

Synthetic year (`synthesize`): `reps` reps in `teams` teams (rep i in team i mod teams), the
`days` days before today (UTC, SALES_TIMEZONE's default). On each business day each rep is
busy in 3 distinct hours between 08:00 and 18:00 with 1-5 activities each (nine types); one
hour in ten also holds a feedback event; one day in five a deal of the rep closes (won 40 %,
with an amount in USD, EUR or GBP). In the table that is, per rep and busy hour, an hour
record (the ids "a:<id>" / "f:<id>" of its events, counts per team), the team's hour records
(counts per rep), both folded into one day record per scope and day for the days past the
late grace (as the worker's Ticks fold them; before 2026-12-05 the table held hour records
only), per deal its state and the slots it fills in its rep and team, per rep and
period (day, week, month, quarter) the team's member record and the rep's "membership sent"
record, and the stream time of every partition.

Then (`measure`), on a fresh app id whose topics are all created beforehand as the worker
would create them:

1. cold restore: the worker starts on an empty data dir and restores the changelog;
2. after a clean stop: SIGTERM, then a new worker on the same data dir (RocksDB kept);
3. after a kill: SIGKILL, then a new worker: it discards its local state (an unclean stop)
   and restores the changelog again; its group also waits for the killed member to expire.

Each is timed from process start to the first `/readyz` 200, with the peak RSS (VmHWM) then,
and checked: team and rep performance of some months must return the synthesized totals.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import re
import signal
import subprocess
import time
import urllib.parse
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from itertools import accumulate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from bench.data import ACTIVITY_MIX, CURRENCIES
from bench.harness import (
    BrokerInfo,
    Process,
    dir_bytes,
    end_offsets,
    http_get,
    load_kafka_local,
    log,
    session_peak_rss,
    session_rss,
    topic_log_bytes,
)
from bench.throughput import _env, salespulse_command, worker_log_summary
from streams.domain.money import FxRates
from streams.domain.periods import local_date, local_hour_start, local_midnight, periods_of
from streams.engine.items import DealFigure, HourCounts
from streams.engine.rollups import VIEWED_KINDS
from streams.engine.state import (
    DAY,
    DEAL,
    DEAL_STATE,
    DERIVED_MEMBERS,
    HOUR,
    MEMBER,
    MEMBER_SENT,
    NOT_A_MEMBER,
    QUARTER_HOUR,
    STREAM_TIME,
    DayRecord,
    DealSlot,
    DealState,
    DealVersion,
    HourRecord,
    Member,
    encode_value,
    make_key,
    parse_key,
)
from streams.tools.commands.worker import RUNNING_MARKER
from streams.worker.changelog_frames import DELTA, FRAME_BYTES, group_frames
from streams.worker.partitioning import partition_of
from streams.worker.settings import DEFAULT_FX_RATES, Settings
from streams.worker.topics import changelog_topic, create_topics, wanted_topics

PHASES = ("cold", "clean", "kill")
PHASE_LABELS = {
    "cold": "cold (empty data dir)",
    "clean": "after a clean stop",
    "kill": "after a kill",
}
BUSY_HOURS = range(8, 18)  # UTC hours a rep may be busy in
HOURS_PER_DAY = 3
ACTIVITIES_PER_HOUR = (1, 5)
FEEDBACK_SHARE = 0.1  # of busy hours
DEAL_SHARE = 0.2  # of rep business days
POLL_INTERVAL = 0.1
#: the worker's default SALES_LATE_GRACE (7 days) and a day: the days that end before
#: today minus this are day records, as the Ticks of a worker whose stream time is
#: yesterday's last event have folded them
LATE_GRACE = timedelta(days=8)
VIEWS_REBUILT = re.compile(r"views rebuilt from (\d+) records of partitions .* in ([\d.]+)s")

#: (partition, key, value) of one changelog record
Record = tuple[int, bytes, bytes]


# -- the synthetic state ----------------------------------------------------------------


@dataclass(slots=True)
class Event:
    """One event of the synthetic year, as the worker would have received it."""

    kind: str  # activities | feedback | deals
    event_id: str
    at: float  # epoch seconds (millisecond precision, as occurred_at carries it)
    rep: str
    team: str
    activity: str | None = None
    csat: int | None = None
    nps: int | None = None
    deal_id: str | None = None
    created_at: float | None = None
    outcome: str | None = None
    amount: float | None = None
    currency: str | None = None

    def payload(self) -> dict[str, Any]:
        """The event as a contract record (for checking the builder against a real worker)."""

        def text(epoch: float) -> str:
            return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")

        doc: dict[str, Any] = {
            "event_id": self.event_id,
            "occurred_at": text(self.at),
            "rep_id": self.rep,
            "team_id": self.team,
            "schema_version": 1,
        }
        if self.kind == "activities":
            doc["activity"] = self.activity
        elif self.kind == "feedback":
            doc.update({k: v for k, v in (("csat", self.csat), ("nps", self.nps)) if v is not None})
        else:
            doc["deal_id"] = self.deal_id
            doc["outcome"] = self.outcome
            if self.created_at is not None:
                doc["created_at"] = text(self.created_at)
            if self.amount is not None:
                doc["amount"] = self.amount
                doc["currency"] = self.currency
        return doc


@dataclass(slots=True)
class _RepPeriod:
    activities: int = 0
    revenue: Decimal = Decimal(0)
    #: team -> latest event time in the period attributed to it
    teams: dict[str, float] = field(default_factory=dict)

    def saw(self, team: str, at: float) -> None:
        if at >= self.teams.get(team, -1.0):
            self.teams[team] = at


class StateBuilder:
    """The scopes table a worker would hold after folding these events, as changelog
    records: the rules of streams.engine.processor, applied all at once.

    Events must come hour by hour in time order (`flush_hours` then writes the hours seen so
    far); each event id and deal id must be new, and nothing may be late.
    """

    def __init__(self, partitions: int, tz: ZoneInfo, fold_before: float = 0.0) -> None:
        self.partitions = partitions
        self.tz = tz
        #: days that end by then are written as day records, as a worker's Ticks fold them
        self.fold_before = fold_before
        self.fx = FxRates.load(DEFAULT_FX_RATES, "USD")
        self.hours: dict[tuple[str, int], HourRecord] = {}
        self.periods: dict[str, dict[str, _RepPeriod]] = defaultdict(dict)
        self.stream_time: dict[int, float] = {}
        self._hour_periods: dict[int, tuple[str, str, str, str]] = {}
        self._hour_of_minute: dict[int, int] = {}
        self.pending: list[Record] = []  # deal records, written with the next flush

    def partition(self, scope: str) -> int:
        return partition_of(scope, self.partitions)

    def _rep_period(self, rep: str, period: str) -> _RepPeriod:
        facts = self.periods[rep].get(period)
        if facts is None:
            facts = self.periods[rep][period] = _RepPeriod()
        return facts

    def _advance(self, scope: str, at: float) -> None:
        p = self.partition(scope)
        if at > self.stream_time.get(p, 0.0):
            self.stream_time[p] = at

    def _periods_of_hour(self, hour: int) -> tuple[str, str, str, str]:
        periods = self._hour_periods.get(hour)
        if periods is None:
            periods = self._hour_periods[hour] = periods_of(
                datetime.fromtimestamp(hour, UTC), self.tz
            )
        return periods

    def add(self, event: Event) -> None:
        if event.kind == "deals":
            self._deal(event)
            return
        scope = "rep:" + event.rep
        # the local hour of the event's minute (zone offsets are whole minutes): cached
        minute = int(event.at // 60)
        hour = self._hour_of_minute.get(minute)
        if hour is None:
            moment = datetime.fromtimestamp(minute * 60, UTC)
            hour = self._hour_of_minute[minute] = int(local_hour_start(moment, self.tz).timestamp())
        record = self.hours.get((scope, hour))
        if record is None:
            record = self.hours[(scope, hour)] = HourRecord()
        record.ids.append(("a:" if event.kind == "activities" else "f:") + event.event_id)
        part = record.parts.get(event.team)
        if part is None:
            part = record.parts[event.team] = HourCounts()
        if event.at >= part.latest:
            part.latest = event.at
        if event.kind == "activities":
            assert event.activity is not None
            part.counts[event.activity] = part.counts.get(event.activity, 0) + 1
        else:
            part.satisfaction.record(event.csat, event.nps)
        self._advance(scope, event.at)

    def _deal(self, event: Event) -> None:
        assert event.deal_id is not None and event.outcome is not None
        scope = "deal:" + event.deal_id
        amount_base = None
        if event.amount is not None and event.currency is not None:
            amount_base = str(self.fx.to_base(event.amount, event.currency))
        version = DealVersion(
            occurred_at=event.at,
            outcome=event.outcome,
            amount_base=amount_base,
            created_at=event.created_at,
            rep=event.rep,
            team=event.team,
        )
        state = DealState(ids=[event.event_id], current=version, owners=[(event.rep, event.team)])
        self.pending.append(
            (self.partition(scope), make_key(scope, DEAL_STATE), encode_value(state))
        )
        figure = None
        if event.outcome in ("won", "lost"):
            cycle = None
            if event.outcome == "won" and event.created_at is not None:
                cycle = event.at - event.created_at
            figure = DealFigure(
                occurred_at=event.at,
                outcome=event.outcome,
                amount_base=amount_base or "0",
                cycle_seconds=cycle,
                rep=event.rep,
                team=event.team,
            )
        slot = encode_value(DealSlot(figure=figure, seen=[event.at] if figure else []))
        for owner in ("rep:" + event.rep, "team:" + event.team):
            self.pending.append((self.partition(owner), make_key(owner, DEAL, event.deal_id), slot))
        if figure is not None:
            for period in periods_of(datetime.fromtimestamp(event.at, UTC), self.tz):
                facts = self._rep_period(event.rep, period)
                facts.saw(event.team, event.at)
                if figure.outcome == "won":
                    facts.revenue += Decimal(figure.amount_base)
        self._advance(scope, event.at)

    def flush_hours(self) -> Iterator[Record]:
        """The records of every hour (rep and team) and deal seen since the last flush; the
        hours' figures go to the periods' memberships."""
        yield from self.pending
        self.pending.clear()
        teams: dict[tuple[str, int], HourRecord] = {}
        yield from self._hour_records(self.hours)
        for (scope, hour), record in sorted(self.hours.items()):
            rep = scope.split(":", 1)[1]
            activities = sum(part.total() for part in record.parts.values())
            for period in self._periods_of_hour(hour):
                facts = self._rep_period(rep, period)
                facts.activities += activities
                for team, part in record.parts.items():
                    facts.saw(team, part.latest)
            for team, part in record.parts.items():
                key = ("team:" + team, hour)
                team_record = teams.get(key)
                if team_record is None:
                    team_record = teams[key] = HourRecord()
                team_record.parts[rep] = part
        self.hours.clear()
        yield from self._hour_records(teams)

    def _hour_records(self, hours: dict[tuple[str, int], HourRecord]) -> Iterator[Record]:
        """Hour records, those of days that end by `fold_before` folded into day records as
        processor.fold_day does (their event ids gone)."""
        days: dict[tuple[str, int], DayRecord] = {}
        for (scope, hour), record in sorted(hours.items()):
            date = local_date(datetime.fromtimestamp(hour, UTC), self.tz)
            day = int(local_midnight(date, self.tz).timestamp())
            if local_midnight(date + timedelta(days=1), self.tz).timestamp() > self.fold_before:
                yield self.partition(scope), make_key(scope, HOUR, hour), encode_value(record)
                continue
            day_record = days.get((scope, day))
            if day_record is None:
                day_record = days[(scope, day)] = DayRecord()
            for part, counts in record.parts.items():
                day_record.put_part((hour - day) // QUARTER_HOUR, part, counts)
        for (scope, day), day_record in days.items():
            yield self.partition(scope), make_key(scope, DAY, day), encode_value(day_record)

    def finish(self) -> Iterator[Record]:
        """Everything still open, then memberships and the stream time of every partition.

        A rep of one team in a period says nothing (the team derives it); one of several
        tells each team whether it belongs, as the worker does."""
        yield from self.flush_hours()
        for rep, periods in sorted(self.periods.items()):
            scope = "rep:" + rep
            for period, facts in sorted(periods.items()):
                if len(facts.teams) < 2:
                    continue
                latest = max(facts.teams, key=lambda t: facts.teams[t])
                for team in sorted(facts.teams):
                    member = (
                        Member(member=True, activities=facts.activities, revenue=str(facts.revenue))
                        if team == latest
                        else NOT_A_MEMBER
                    )
                    owner = "team:" + team
                    key = make_key(owner, MEMBER, period, rep)
                    yield self.partition(owner), key, encode_value(member)
                sent = make_key(scope, MEMBER_SENT, period)
                yield self.partition(scope), sent, encode_value(sorted(facts.teams))
        self.periods.clear()
        for p, at in sorted(self.stream_time.items()):
            yield p, make_key("", STREAM_TIME, p), encode_value(at)
            yield p, make_key("", DERIVED_MEMBERS, p), encode_value(1)


@dataclass
class Expected:
    """What the synthesized state must answer."""

    reps: list[str]
    teams: list[str]
    first_day: date
    last_day: date
    #: month -> team -> activities / won deals
    team_activities: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    team_won: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    rep_activities: Counter[tuple[str, str]] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)

    def note(self, event: Event, month: str) -> None:
        """Count an event of `month` (YYYY-MM, UTC)."""
        self.events[event.kind] += 1
        if event.kind == "activities":
            self.team_activities[month][event.team] += 1
            self.rep_activities[(event.rep, month)] += 1
        elif event.kind == "deals" and event.outcome == "won":
            self.team_won[month][event.team] += 1

    def samples(self) -> list[tuple[str, str, str]]:
        """(scope kind, id, month) checked after each restore: the first and last team in
        the first and the last month, and the first rep in the last month."""
        months = sorted(self.team_activities)
        if not months:
            return []
        out = [
            ("team", t, m)
            for m in dict.fromkeys((months[0], months[-1]))
            for t in dict.fromkeys((self.teams[0], self.teams[-1]))
        ]
        out.append(("rep", self.reps[0], months[-1]))
        return out

    def want(self, kind: str, ident: str, month: str) -> dict[str, int]:
        if kind == "team":
            return {
                "activities": self.team_activities[month][ident],
                "deals_won": self.team_won[month][ident],
            }
        return {"activities": self.rep_activities[(ident, month)]}


class EventMaker:
    """The events of the synthetic year, day by day (see the module docstring)."""

    def __init__(self, reps: int, teams: int, seed: int) -> None:
        if teams > reps:
            raise ValueError(f"--restart-teams {teams} exceeds --restart-reps {reps}")
        self.rng = random.Random(seed)
        self.seed = seed
        width = len(str(reps))
        self.reps = [f"rep-{i:0{width}d}" for i in range(reps)]
        self.teams = [f"team-{i % teams:02d}" for i in range(reps)]
        self.types = list(ACTIVITY_MIX)
        self.type_cum = list(accumulate(ACTIVITY_MIX.values()))
        self.serial = 0

    def _id(self, prefix: str) -> str:
        self.serial += 1
        return f"{prefix}-{self.seed}-{self.serial:09d}"

    def day(self, day: date) -> list[Event]:
        """The day's events in time order (nothing on Saturdays and Sundays)."""
        if day.weekday() >= 5:
            return []
        rng = self.rng
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
        events: list[Event] = []
        for rep, team in zip(self.reps, self.teams, strict=True):
            for hour in rng.sample(BUSY_HOURS, HOURS_PER_DAY):
                start = int(midnight) * 1000 + hour * 3_600_000
                n = rng.randint(*ACTIVITIES_PER_HOUR)
                kinds = rng.choices(self.types, cum_weights=self.type_cum, k=n)
                for activity in kinds:
                    at = (start + rng.randrange(3_600_000)) / 1000
                    events.append(Event("activities", self._id("ra"), at, rep, team, activity))
                if rng.random() < FEEDBACK_SHARE:
                    at = (start + rng.randrange(3_600_000)) / 1000
                    which = rng.random()
                    csat = rng.choices((1, 2, 3, 4, 5), (5, 8, 17, 40, 30))[0]
                    events.append(
                        Event(
                            "feedback",
                            self._id("rf"),
                            at,
                            rep,
                            team,
                            csat=csat if which < 0.75 else None,
                            nps=rng.randrange(11) if which >= 0.5 else None,
                        )
                    )
            if rng.random() < DEAL_SHARE:
                at = (int(midnight) * 1000 + rng.randrange(8 * 3_600_000, 18 * 3_600_000)) / 1000
                created = round(at - rng.uniform(1, 90) * 86400, 3)
                won = rng.random() < 0.4
                currency, rate = rng.choice(CURRENCIES)
                events.append(
                    Event(
                        "deals",
                        self._id("rd"),
                        at,
                        rep,
                        team,
                        deal_id=self._id("rdeal"),
                        created_at=created,
                        outcome="won" if won else "lost",
                        amount=float(round(rng.lognormvariate(9.5, 0.6) / rate, 2))
                        if won
                        else None,
                        currency=currency if won else None,
                    )
                )
        events.sort(key=lambda e: e.at)
        return events


def synthesize(
    reps: int, teams: int, days: int, partitions: int, seed: int, today: date | None = None
) -> tuple[Iterator[Record], Expected]:
    """The changelog records of the synthetic year (a generator: made while produced) and
    what it must answer (filled as the generator runs)."""
    today = today or datetime.now(UTC).date()
    maker = EventMaker(reps, teams, seed)
    first = today - timedelta(days=days)
    expected = Expected(
        maker.reps, list(dict.fromkeys(maker.teams)), first, today - timedelta(days=1)
    )

    def records() -> Iterator[Record]:
        grace_end = datetime(today.year, today.month, today.day, tzinfo=UTC) - LATE_GRACE
        builder = StateBuilder(partitions, ZoneInfo("UTC"), fold_before=grace_end.timestamp())
        for n in range(days):
            day = first + timedelta(days=n)
            month = f"{day:%Y-%m}"
            for event in maker.day(day):
                expected.note(event, month)
                builder.add(event)
            yield from builder.flush_hours()
        yield from builder.finish()

    return records(), expected


# -- the changelog ----------------------------------------------------------------------


@dataclass
class ChangelogStats:
    records: int = 0
    key_bytes: int = 0
    value_bytes: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    #: changelog records the state records travel in
    frames: int = 0


async def produce_partitioned(
    bootstrap: str, topic: str, records: Iterable[Record], stats: ChangelogStats
) -> None:
    """Send records to their own partition as the worker's checkpoints would: in delta
    frames of FRAME_BYTES (streams.worker.changelog_frames), in big batches."""
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # retries on a fresh topic
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks=1,
        max_batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    await producer.start()
    batches: dict[int, Any] = {}
    pending: list[asyncio.Future[Any]] = []
    ops: dict[int, list[tuple[bytes, bytes | None]]] = defaultdict(list)
    op_bytes: Counter[int] = Counter()
    next_seq: Counter[int] = Counter()

    async def ship(partition: int) -> None:
        batch = batches.pop(partition)
        batch.close()
        pending.append(await producer.send_batch(batch, topic, partition=partition))
        if len(pending) >= 32:
            await asyncio.gather(*pending)
            pending.clear()

    async def frame(partition: int) -> None:
        frames = group_frames(DELTA, next_seq[partition], ops.pop(partition))
        next_seq[partition] += len(frames)
        op_bytes[partition] = 0
        for key, value in frames:
            stats.frames += 1
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:
                await ship(partition)
                batch = batches[partition] = producer.create_batch()
                batch.append(key=key, value=value, timestamp=None)

    try:
        for partition, key, value in records:
            stats.records += 1
            stats.key_bytes += len(key)
            stats.value_bytes += len(value)
            stats.by_kind[parse_key(key)[1]] += 1
            ops[partition].append((key, value))
            op_bytes[partition] += len(key) + len(value)
            if op_bytes[partition] >= FRAME_BYTES:
                await frame(partition)
        for partition in list(ops):
            await frame(partition)
        for partition in list(batches):
            await ship(partition)
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


# -- the worker -------------------------------------------------------------------------


@dataclass
class RestartOptions:
    reps: int
    teams: int
    days: int
    partitions: int
    seed: int
    timeout: float  # per restore, from process start
    worker_env: dict[str, str]
    worker_command: list[str] | None


def check_figures(url: str, expected: Expected) -> tuple[bool, list[str]]:
    """Team (and one rep) performance of the sample months against the synthesized totals."""
    ok, lines = True, []
    for kind, ident, month in expected.samples():
        want = expected.want(kind, ident, month)
        query = urllib.parse.urlencode({"period": month})
        try:
            status, body = http_get(f"{url}/v1/{kind}s/{ident}/performance?{query}")
        except OSError as exc:
            status, body = 0, str(exc).encode()
        got: dict[str, int] = {}
        if status == 200:
            doc = orjson.loads(body)
            got["activities"] = doc["activities"]["total"]
            if "deals_won" in want:
                got["deals_won"] = doc["deals"]["won"]
        good = got == want
        ok = ok and good
        shown = ", ".join(f"{k} {got.get(k, '-')}/{v}" for k, v in want.items())
        lines.append(
            f"{kind} {ident} {month}: {shown}" + ("" if good else f" MISMATCH (HTTP {status})")
        )
    return ok, lines


async def _restore(
    phase: str,
    argv: list[str],
    env: dict[str, str],
    base: Path,
    data_dir: Path,
    admin: AIOKafkaAdminClient,
    app_id: str,
    expected: Expected,
    timeout: float,
) -> tuple[Process, dict[str, Any]]:
    """Start a worker and time it to its first /readyz 200; leaves it running."""
    url = f"http://127.0.0.1:{env['SALES_API_PORT']}"
    log_path = base / app_id / f"worker-{phase}.log"
    process = Process(f"salespulse worker ({phase})", argv, _env(env), log_path)
    # a killed worker stays a member until its session expires: wait for a new member
    _, members_before = await group_state(admin, app_id)
    log(f"restart [{phase}]: starting the worker on {url}")
    process.start()
    wall_start = time.time()
    stable = ready = None
    last_rss = 0.0
    while process.alive():
        now = time.monotonic()
        if stable is None:
            state, members = await group_state(admin, app_id)
            if state == "Stable" and members and not members & members_before:
                stable = time.monotonic()
        try:
            status, _ = await asyncio.to_thread(http_get, f"{url}/readyz", 2.0)
        except OSError:
            status = 0
        if status == 200:
            ready = time.monotonic()
            break
        if now - last_rss >= 1.0:
            last_rss = now
            process.sample_rss()
        if now - process.started > timeout:
            break
        await asyncio.sleep(POLL_INTERVAL)
    figures: dict[str, Any] = {
        "phase": phase,
        "label": PHASE_LABELS[phase],
        "seconds_to_ready": None if ready is None else ready - process.started,
        "seconds_to_group_stable": None if stable is None else stable - process.started,
        "peak_rss_bytes_at_ready": process.sample_rss() or None,
        "rss_bytes_at_ready": session_rss(process.pid) if process.alive() else None,
        "rocksdb_dir_bytes_at_ready": dir_bytes(data_dir),
        "notes": [],
    }
    if ready is None:
        why = "exited" if not process.alive() else f"not ready after {timeout:.0f}s"
        figures["notes"].append(f"worker {why}")
        log(f"restart [{phase}]: worker {why}\n{process.log_tail()}")
        figures["check_ok"] = False
        figures["check"] = []
    else:
        ok, lines = await asyncio.to_thread(check_figures, url, expected)
        figures["check_ok"], figures["check"] = ok, lines
        # the high-water mark once answers come, for what the first queries cost
        figures["peak_rss_bytes"] = session_peak_rss(process.pid)
        log(
            f"restart [{phase}]: ready in {figures['seconds_to_ready']:.1f}s "
            f"(group Stable at {figures['seconds_to_group_stable'] or 0:.1f}s), peak RSS "
            f"{figures['peak_rss_bytes_at_ready'] / 2**20:,.0f} MiB; figures "
            + ("match" if ok else "DO NOT MATCH: " + "; ".join(lines))
        )
    text = log_path.read_text(errors="replace") if log_path.exists() else ""
    rebuilt = VIEWS_REBUILT.findall(text)
    if rebuilt:
        figures["views_records"] = int(rebuilt[-1][0])
        figures["views_rebuild_s"] = float(rebuilt[-1][1])
    figures.update(_log_timeline(text, wall_start))
    figures["discarded_local_state"] = "did not stop cleanly: discarding" in text
    figures["worker_log"] = worker_log_summary(log_path)
    return process, figures


async def group_state(admin: AIOKafkaAdminClient, group: str) -> tuple[str, frozenset[str]]:
    """The group's state on the broker (e.g. Stable) and its member ids."""
    try:
        responses = await admin.describe_consumer_groups([group])
    except KafkaError:
        return "", frozenset()
    for response in responses:
        for g in response.groups:
            # (error_code, group_id, group_state, protocol_type, protocol, members, ...)
            if g[1] == group and g[0] == 0:
                return g[2], frozenset(m[0] for m in g[5])
    return "", frozenset()


LOG_LINE = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3})\] \[\d+\] \[\w+\] (.*)$")


def _log_timeline(text: str, wall_start: float) -> dict[str, float | None]:
    """From the worker's log (Faust's lines, local time): seconds from process start until
    it first joined the group, and how long its recovery read the changelog."""
    joined = read_from = read_to = None
    for line in text.splitlines():
        m = LOG_LINE.match(line)
        if m is None:
            continue
        message = m[2]
        if joined is None and message.startswith("Joined group"):
            joined = m[1]
        elif read_from is None and "Restoring state from changelog topics" in message:
            read_from = m[1]
        elif "Done reading from changelog topics" in message:
            read_to = m[1]

    def at(stamp: str | None) -> float | None:
        if stamp is None:
            return None
        return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp() - wall_start

    start, end = at(read_from), at(read_to)
    return {
        "seconds_to_joined": at(joined),
        "seconds_to_changelog_read": start,
        "changelog_read_s": end - start if start is not None and end is not None else None,
    }


def _stop(process: Process, sig: signal.Signals, wait: float = 120.0) -> tuple[float, int | None]:
    """Signal the worker's session; (seconds until it exited, exit code)."""
    assert process.popen is not None
    if not process.alive():
        return 0.0, process.popen.returncode
    process.sample_rss()
    t0 = time.monotonic()
    os.killpg(process.pid, sig)
    try:
        process.popen.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.popen.wait(timeout=30)
    return time.monotonic() - t0, process.popen.returncode


async def measure(opts: RestartOptions, broker: BrokerInfo, base: Path) -> dict[str, Any]:
    """Synthesize the state into a fresh app's changelog, then the three restores."""

    app_id = f"sprestart-{uuid.uuid4().hex[:6]}"
    data_dir = base / app_id / "data"
    env = {
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "SALES_APP_ID": app_id,
        "SALES_DATA_DIR": str(data_dir),
        "SALES_TOPIC_PARTITIONS": str(opts.partitions),
    }
    env.update({f"SALES_TOPIC_{name.upper()}": f"{app_id}.{name}" for name in _topic_fields()})
    env.update(opts.worker_env)
    # every phase restarts the worker where it was, as a restarted pod or service comes back
    env.setdefault("SALES_API_PORT", str(load_kafka_local().free_port()))
    settings = Settings.from_env(env)
    changelog = changelog_topic(settings)
    topics = [
        *wanted_topics(settings),
        NewTopic(
            changelog,
            settings.topic_partitions,
            settings.replication_factor,
            topic_configs={"cleanup.policy": "compact"},
        ),
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    report: dict[str, Any] = {
        "app_id": app_id,
        "reps": opts.reps,
        "teams": opts.teams,
        "days": opts.days,
        "partitions": settings.topic_partitions,
        "changelog_topic": changelog,
        "phases": [],
    }
    process: Process | None = None
    try:
        if not await create_topics(admin, topics):
            raise RuntimeError(f"topics {[t.name for t in topics]} have no leader after 30 s")
        records, expected = synthesize(
            opts.reps, opts.teams, opts.days, settings.topic_partitions, opts.seed
        )
        log(
            f"restart: synthesizing {opts.days} days of state for {opts.reps:,} reps in "
            f"{opts.teams} teams into {changelog} ..."
        )
        stats = ChangelogStats()
        t0 = time.monotonic()
        await produce_partitioned(broker.bootstrap, changelog, records, stats)
        stats.seconds = time.monotonic() - t0
        ends = await end_offsets(broker.bootstrap, [changelog])
        report.update(
            {
                "first_day": expected.first_day.isoformat(),
                "last_day": expected.last_day.isoformat(),
                "events": dict(expected.events),
                "changelog_records": stats.records,
                "changelog_frames": stats.frames,
                "changelog_end_offsets": sum(ends.values()),
                "changelog_key_bytes": stats.key_bytes,
                "changelog_value_bytes": stats.value_bytes,
                "changelog_bytes": stats.key_bytes + stats.value_bytes,
                "changelog_records_by_kind": dict(stats.by_kind),
                "changelog_log_bytes_on_disk": topic_log_bytes(broker.log_dir, [changelog]),
                "synthesized_in_s": stats.seconds,
                "checked": [f"{k} {i} {m}" for k, i, m in expected.samples()],
            }
        )
        log(
            f"restart: {stats.records:,} state records in {stats.frames:,} changelog frames "
            f"({report['changelog_bytes'] / 2**20:,.1f} MiB key + value) for "
            f"{sum(expected.events.values()):,} events, made and sent in "
            f"{stats.seconds:.1f}s"
        )
        argv = opts.worker_command or salespulse_command()
        for phase in PHASES:
            if process is not None:
                sig = signal.SIGKILL if phase == "kill" else signal.SIGTERM
                seconds, code = await asyncio.to_thread(_stop, process, sig)
                report["phases"][-1]["stop"] = {
                    "signal": sig.name,
                    "seconds": seconds,
                    "exit_code": code,
                    "marker_left": (data_dir / RUNNING_MARKER).exists(),
                }
                process = None
            process, figures = await _restore(
                phase, argv, env, base, data_dir, admin, app_id, expected, opts.timeout
            )
            read_s = figures.get("changelog_read_s")
            if read_s and (phase == "cold" or figures["discarded_local_state"]):
                figures["changelog_records_per_s"] = stats.records / read_s
            report["phases"].append(figures)
            if figures["seconds_to_ready"] is None:
                break
    finally:
        if process is not None:
            seconds, code = await asyncio.to_thread(_stop, process, signal.SIGTERM)
            report["phases"][-1]["stop"] = {
                "signal": "SIGTERM",
                "seconds": seconds,
                "exit_code": code,
                "marker_left": (data_dir / RUNNING_MARKER).exists(),
            }
        await admin.close()
    return report


def _topic_fields() -> list[str]:
    from streams.worker.settings import Topics

    return list(Topics.__dataclass_fields__)


# -- output ------------------------------------------------------------------------------


def print_restart(report: dict[str, Any]) -> None:
    r = report
    kinds = r.get("changelog_records_by_kind", {})
    names = {
        HOUR: "hour",
        DAY: "day",
        DEAL: "deal slot",
        DEAL_STATE: "deal state",
        MEMBER: "member",
        MEMBER_SENT: "membership sent",
        DERIVED_MEMBERS: "derived-membership marker",
        STREAM_TIME: "stream time",
    }
    events = r.get("events", {})
    print(
        f"\nRestart cost (salespulse worker holding {r['days']} days of state of {r['reps']:,} "
        f"reps in {r['teams']} teams)"
    )
    if "changelog_records" not in r:
        print("  no state was written (see the log above)")
        return
    print(
        f"  state: {r['first_day']} .. {r['last_day']}, as if folded from "
        + ", ".join(f"{events.get(k, 0):,} {k}" for k in ("activities", "deals", "feedback"))
    )
    print(
        f"  changelog {r['changelog_topic']} ({r['partitions']} partitions): "
        f"{r['changelog_records']:,} state records in {r.get('changelog_frames', 0):,} frames, "
        f"{r['changelog_bytes'] / 2**20:,.1f} MiB key + value"
        f" ({r['changelog_log_bytes_on_disk'] / 2**20:,.1f} MiB of segments on the broker)"
    )
    print(
        "  records by kind: "
        + ", ".join(
            f"{names.get(k, k)} {n:,}" for k, n in sorted(kinds.items(), key=lambda x: -x[1])
        )
    )
    print(
        f"  {'restart':22s} {'ready s':>8s} {'group s':>8s} {'read s':>7s} {'records/s':>10s}"
        f" {'views s':>8s} {'peak RSS':>9s} {'RSS':>9s} {'RocksDB':>9s}  figures"
    )
    for ph in r["phases"]:
        print(
            f"  {ph['label']:22s} {_f(ph['seconds_to_ready'], '.1f', 8)}"
            f" {_f(ph['seconds_to_group_stable'], '.1f', 8)}"
            f" {_f(ph.get('changelog_read_s'), '.1f', 7)}"
            f" {_f(ph.get('changelog_records_per_s'), ',.0f', 10)}"
            f" {_f(ph.get('views_rebuild_s'), '.1f', 8)}"
            f" {_mib(ph['peak_rss_bytes_at_ready'])} {_mib(ph['rss_bytes_at_ready'])}"
            f" {_mib(ph['rocksdb_dir_bytes_at_ready'])}  "
            + ("match" if ph["check_ok"] else "DO NOT MATCH")
        )
    print(
        "  ready: process start to the first /readyz 200 (the views rebuilt, no rebalance);\n"
        "  group: to the consumer group Stable with the new worker in it (asked of the broker);\n"
        "  read: the worker's recovery reading the changelog, records/s when it read all of it\n"
        "  (its log); views: its rebuild of the views from the table (its log); peak RSS: VmHWM\n"
        "  at ready; RSS: VmRSS at ready; RocksDB: the worker's data dir at ready."
    )
    for ph in r["phases"]:
        stop = ph.get("stop")
        if stop and stop["signal"] == "SIGTERM":
            print(
                f"  SIGTERM of the worker {ph['label']}: exited in {stop['seconds']:.1f}s, "
                f"exit code {stop['exit_code']}, running marker "
                + ("LEFT (an unclean stop)" if stop["marker_left"] else "removed")
            )
    print(f"  figures checked after each restore: {'; '.join(r.get('checked', []))}")
    for ph in r["phases"]:
        views = ph.get("views_records")
        expect = sum(n for kind, n in kinds.items() if kind in VIEWED_KINDS)  # what views hold
        facts = []
        if views is not None and views != expect:
            facts.append(f"views rebuilt from {views:,} records, {expect:,} expected")
        if ph["phase"] == "clean" and ph.get("discarded_local_state"):
            facts.append("the worker discarded its local state: the stop was not clean")
        if not ph["check_ok"]:
            facts.extend(ph["check"])
        facts.extend(ph["notes"])
        for fact in facts:
            print(f"  note ({ph['phase']}): {fact}")
    for ph in r["phases"]:
        if ph["worker_log"]:
            print(f"\n  salespulse worker log ({ph['phase']}): warnings and errors by kind")
            for line in ph["worker_log"]:
                print(f"    {line}")


def _f(value: float | None, fmt: str, width: int) -> str:
    return f"{value:>{width}{fmt}}" if value is not None else f"{'-':>{width}}"


def _mib(value: int | None) -> str:
    return f"{value / 2**20:>5,.0f} MiB" if value else f"{'-':>9s}"
