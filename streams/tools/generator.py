"""Seeded, realistic sales event streams for demos, tests and benchmarks.

Pure Python (no Kafka): `generate(config)` yields `Record`s that `streams.tools.producer` sends
or the `generate` command writes as JSON lines. The same config (seed *and* time span)
always yields byte-identical records, so a failing test or a benchmark can be replayed.

The model is deliberately simple but shaped like the businesses sales leaders run:
reps have profiles (busy but not closing, efficient, steady), work business hours on
weekdays in the configured time zone, do a context-specific mix of activities, and close
deals after context-specific cycles in several currencies. Late, duplicate and invalid
records are mixed in at configurable rates to exercise the worker's dead-letter path.
"""

from __future__ import annotations

import heapq
import math
import os
import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from streams.domain.money import FxRates
from streams.domain.periods import rfc3339
from streams.domain.vocabulary import INPUT_KINDS

DEFAULT_FX_PATH = Path(__file__).resolve().parents[1] / "data" / "fx_rates.json"

#: input topic kinds (attributes of `streams.worker.settings.Topics`)
TOPIC_KINDS = INPUT_KINDS

#: local business hours in which reps work (start inclusive, end exclusive)
BUSINESS_START = time(9, 0)
BUSINESS_END = time(18, 0)
BUSINESS_DAY_SECONDS = (
    datetime.combine(date.min, BUSINESS_END) - datetime.combine(date.min, BUSINESS_START)
).total_seconds()

#: currencies quoted without minor units
ZERO_DECIMAL_CURRENCIES = frozenset({"JPY", "KRW", "CLP", "ISK", "VND", "HUF"})


@dataclass(frozen=True)
class Profile:
    """How a kind of rep works: relative weights and outcomes, not absolute counts."""

    name: str
    activity_weight: float
    deal_weight: float
    win_rate: float
    amount_factor: float
    csat_mean: float


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("busy_not_closing", 2.4, 0.8, 0.15, 0.8, 3.5),
        Profile("efficient", 0.7, 1.0, 0.62, 1.45, 4.4),
        Profile("steady", 1.0, 0.9, 0.36, 1.0, 4.0),
    )
}


@dataclass(frozen=True)
class Context:
    """A kind of business: what its reps do, how long deals take, what they are worth."""

    name: str
    description: str
    activity_mix: Mapping[str, float]
    team_names: tuple[str, ...]
    cycle_days_median: float
    amount_median: float  # in the base currency
    currency_mix: Mapping[str, float]
    sources: tuple[str, ...]
    deal_share: float = 0.05
    feedback_share: float = 0.03
    #: first letter of rep ids (s01, c01, a01): contexts sent to one broker never share reps
    rep_prefix: str = "s"


CONTEXTS: dict[str, Context] = {
    c.name: c
    for c in (
        Context(
            name="saas",
            description="a startup selling a SaaS product: calls, emails and demos",
            activity_mix={
                "call": 30,
                "email": 30,
                "demo": 14,
                "follow_up": 10,
                "meeting": 7,
                "proposal": 4,
                "negotiation": 3,
                "social": 2,
            },
            team_names=("smb", "midmarket", "enterprise", "emea", "apac"),
            cycle_days_median=30,
            amount_median=14_000,
            currency_mix={"USD": 60, "EUR": 22, "GBP": 10, "CAD": 5, "AUD": 3},
            sources=("inbound", "outbound", "webinar", "partner", "trial"),
        ),
        Context(
            name="consulting",
            rep_prefix="c",
            description="a consulting firm: meetings and proposals, long cycles, big tickets",
            activity_mix={
                "meeting": 30,
                "proposal": 14,
                "email": 20,
                "call": 14,
                "negotiation": 8,
                "follow_up": 9,
                "event": 5,
            },
            team_names=("strategy", "technology", "operations", "finance", "people"),
            cycle_days_median=65,
            amount_median=85_000,
            currency_mix={"EUR": 40, "USD": 30, "GBP": 20, "CHF": 10},
            sources=("referral", "existing_client", "rfp", "event", "partner"),
            deal_share=0.035,
        ),
        Context(
            name="agency",
            rep_prefix="a",
            description="a digital marketing agency: social, email and events",
            activity_mix={
                "social": 26,
                "email": 26,
                "event": 10,
                "call": 14,
                "meeting": 11,
                "proposal": 8,
                "follow_up": 5,
            },
            team_names=("social", "search", "brand", "content", "performance"),
            cycle_days_median=18,
            amount_median=7_500,
            currency_mix={"USD": 45, "EUR": 25, "GBP": 20, "AUD": 10},
            sources=("social", "referral", "event", "inbound", "cold_email"),
            deal_share=0.06,
        ),
    )
}

#: deliberately invalid records the generator can emit, with the dead-letter reason expected
INVALID_KINDS = (
    "invalid_json",
    "schema_violation",
    "unknown_currency",
    "unsupported_schema_version",
)


@dataclass(frozen=True)
class Record:
    """One record to produce: `topic_kind` names a `Topics` attribute, `value` is raw bytes.

    `label` says what the record is meant to be (`valid`, `late`, `duplicate` or
    `invalid:<reason>`); it is for tests and statistics and is never sent.
    """

    topic_kind: str
    key: str | None
    value: bytes | None
    label: str = "valid"

    @property
    def is_json(self) -> bool:
        return not self.label.startswith("invalid:invalid_json")

    def jsonl(self, topic: str) -> bytes:
        """The JSON-lines form read by `salespulse replay` (bad JSON goes in `value_raw`)."""
        head = b'{"topic":' + orjson.dumps(topic) + b',"key":' + orjson.dumps(self.key)
        if self.value is None:
            return head + b',"value":null}'
        if self.is_json:
            return head + b',"value":' + self.value + b"}"
        return head + b',"value_raw":' + orjson.dumps(self.value.decode("utf-8", "replace")) + b"}"


@dataclass(frozen=True)
class Rep:
    rep_id: str
    team_id: str
    profile: Profile
    activity_weight: float
    deal_weight: float
    accounts: tuple[str, ...]


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that determines the output; equal configs give identical records."""

    context: str = "saas"
    seed: int = 42
    reps: int = 12
    teams: int = 3
    start: datetime | None = None
    end: datetime | None = None
    events: int = 10_000
    late_rate: float = 0.0
    duplicate_rate: float = 0.0
    invalid_rate: float = 0.0
    timezone: str = "UTC"
    base_currency: str = "USD"
    fx_rates: Mapping[str, float] = field(default_factory=lambda: {"USD": 1.0})
    late_grace: timedelta = timedelta(days=7)
    reopen_rate: float = 0.04

    def __post_init__(self) -> None:
        if self.context not in CONTEXTS:
            raise ValueError(
                f"unknown context {self.context!r}: choose one of {', '.join(CONTEXTS)}"
            )
        if self.reps < 1 or self.teams < 1:
            raise ValueError("--reps and --teams must be at least 1")
        if self.teams > self.reps:
            raise ValueError(
                f"--teams {self.teams} exceeds --reps {self.reps}: every team needs a rep"
            )
        for name in ("late_rate", "duplicate_rate", "invalid_rate", "reopen_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name.replace('_', '-')} must be between 0 and 1, not {value}")
        if self.late_rate + self.duplicate_rate + self.invalid_rate > 1.0:
            raise ValueError("late + duplicate + invalid rates must add up to at most 1")
        if self.events < 0:
            raise ValueError("--events must be >= 0")
        for bound in (self.start, self.end):
            if bound is not None and bound.tzinfo is None:
                raise ValueError("start and end must carry a time zone")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def span(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """The history span; defaults to the 30 days ending now."""
        end = self.end or (now or datetime.now(self.tz))
        start = self.start or end - timedelta(days=30)
        if start >= end:
            raise ValueError(f"start {start.isoformat()} is not before end {end.isoformat()}")
        return start, end


def load_fx_rates(
    path: str | os.PathLike[str] | None = None, base_currency: str = "USD"
) -> dict[str, float]:
    """The worker's FX table (SALES_FX_RATES or the shipped file), as plain floats.

    Only currencies the worker can convert may appear in valid deals, so the generator reads
    the same file through the same loader; a missing file leaves just the base currency.
    """
    fx_path = Path(path or os.environ.get("SALES_FX_RATES") or DEFAULT_FX_PATH)
    if not fx_path.exists():
        return {base_currency: 1.0}
    fx = FxRates.load(fx_path, base_currency)
    return {code: float(fx.to_base(1, code)) for code in sorted(fx.known)}


def local_rfc3339(moment: datetime, tz: ZoneInfo) -> str:
    """RFC 3339 with the zone's offset and milliseconds, as upstream systems write it."""
    return rfc3339(moment.astimezone(tz), "milliseconds")


class BusinessClock:
    """Maps a position in business time (seconds) to a wall-clock moment inside a span.

    Spreading events over business seconds rather than calendar seconds is what keeps
    nights and weekends quiet.
    """

    def __init__(self, start: datetime, end: datetime, tz: ZoneInfo) -> None:
        self.windows: list[tuple[datetime, float]] = []  # (window start, length in s)
        self.total = 0.0
        day = start.astimezone(tz).date()
        last = end.astimezone(tz).date()
        while day <= last:
            if day.weekday() < 5:
                open_ = datetime.combine(day, BUSINESS_START, tz)
                close = datetime.combine(day, BUSINESS_END, tz)
                lo, hi = max(open_, start), min(close, end)
                if hi > lo:
                    length = (hi - lo).total_seconds()
                    self.windows.append((lo, length))
                    self.total += length
            day += timedelta(days=1)
        self._index = 0
        self._consumed = 0.0

    @property
    def business_days(self) -> float:
        return self.total / BUSINESS_DAY_SECONDS

    def at(self, offset: float) -> datetime:
        """Moment at `offset` business seconds; offsets must be asked in increasing order."""
        while self._index < len(self.windows) - 1:
            length = self.windows[self._index][1]
            if offset < self._consumed + length:
                break
            self._consumed += length
            self._index += 1
        start, length = self.windows[self._index]
        return start + timedelta(seconds=min(offset - self._consumed, length - 0.001))


def in_business_hours(moment: datetime, tz: ZoneInfo) -> bool:
    local = moment.astimezone(tz)
    return local.weekday() < 5 and BUSINESS_START <= local.time() < BUSINESS_END


def snap_to_business(moment: datetime, tz: ZoneInfo, forward: bool = True) -> datetime:
    """The nearest business moment after (or before) `moment`, keeping its minutes as jitter.

    Reopens, re-closes and late events are computed by adding or subtracting hours; snapping
    them keeps every generated event inside business hours.
    """
    if in_business_hours(moment, tz):
        return moment
    local = moment.astimezone(tz)
    jitter = timedelta(minutes=local.minute, seconds=local.second)
    day = local.date()
    if forward:
        if local.time() >= BUSINESS_END or local.weekday() >= 5:
            day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return datetime.combine(day, BUSINESS_START, tz) + jitter
    if local.time() < BUSINESS_START or local.weekday() >= 5:
        day -= timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return datetime.combine(day, BUSINESS_END, tz) - timedelta(minutes=1) - jitter


def business_days_in_month(year: int, month: int) -> int:
    first = date(year, month, 1)
    nxt = date(year + month // 12, month % 12 + 1, 1)
    return sum(1 for n in range((nxt - first).days) if (first + timedelta(n)).weekday() < 5)


class SalesSimulator:
    """The state of a simulated sales org; `record_at(t)` emits its next record at time t."""

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.context = CONTEXTS[config.context]
        self.tz = config.tz
        self.rng = random.Random(config.seed)
        self._id_rng = self.rng
        self.reps = self._build_org()
        fx = config.fx_rates
        mix = {c: w for c, w in self.context.currency_mix.items() if c in fx}
        self.currencies = list(mix) or [config.base_currency]
        self.currency_weights = list(mix.values()) or [1.0]
        self.unknown_currency = next(c for c in ("XYZ", "ZZZ", "XTS", "QQQ") if c not in fx)
        self.activity_types = list(self.context.activity_mix)
        self.activity_weights = list(self.context.activity_mix.values())
        self._kind_cum = _cumulative(
            [
                1.0 - self.context.deal_share - self.context.feedback_share,
                self.context.deal_share,
                self.context.feedback_share,
            ]
        )
        self._rep_cum = {
            "activities": _cumulative([r.activity_weight for r in self.reps]),
            "deals": _cumulative([r.deal_weight for r in self.reps]),
            "feedback": _cumulative([1.0 for _ in self.reps]),
        }
        self._deal_seq = 0
        self.open_deals: dict[str, list[tuple[str, str]]] = {
            r.rep_id: [self._new_deal(r) for _ in range(3)] for r in self.reps
        }
        self._scheduled: list[tuple[datetime, int, Record]] = []
        self._sched_seq = 0
        self._recent: list[Record] = []
        self._invalid_counter = 0

    # -- organisation -----------------------------------------------------------------

    def _build_org(self) -> list[Rep]:
        cfg, rng = self.config, self.rng
        names = [f"t-{n}" for n in self.context.team_names]
        names += [f"t-{n}" for n in range(len(names) + 1, cfg.teams + 1)]
        teams = names[: cfg.teams]
        order = list(PROFILES)
        profiles = [PROFILES[order[i % len(order)]] for i in range(cfg.reps)]
        rng.shuffle(profiles)
        width = max(2, len(str(cfg.reps)))
        reps = []
        for i, profile in enumerate(profiles):
            accounts = tuple(f"acct-{rng.randrange(10_000):04d}" for _ in range(rng.randint(8, 20)))
            reps.append(
                Rep(
                    rep_id=f"{self.context.rep_prefix}{i + 1:0{width}d}",
                    team_id=teams[i % len(teams)],
                    profile=profile,
                    activity_weight=profile.activity_weight * rng.uniform(0.85, 1.15),
                    deal_weight=profile.deal_weight * rng.uniform(0.85, 1.15),
                    accounts=accounts,
                )
            )
        return reps

    def _new_deal(self, rep: Rep) -> tuple[str, str]:
        self._deal_seq += 1
        deal_id = f"d-{self.context.rep_prefix}{self.config.seed}-{self._deal_seq:06d}"
        return (deal_id, self.rng.choice(rep.accounts))

    # -- records ----------------------------------------------------------------------

    def _event_id(self) -> str:
        return str(uuid.UUID(int=self._id_rng.getrandbits(128), version=4))

    def _pick_rep(self, kind: str) -> Rep:
        cum = self._rep_cum[kind]
        return self.reps[_bisect(cum, self.rng.random() * cum[-1])]

    def _base(self, rep: Rep, at: datetime) -> dict[str, Any]:
        return {
            "event_id": self._event_id(),
            "occurred_at": local_rfc3339(at, self.tz),
            "rep_id": rep.rep_id,
            "team_id": rep.team_id,
            "schema_version": 1,
        }

    def _activity(self, rep: Rep, at: datetime) -> dict[str, Any]:
        rng = self.rng
        kind = rng.choices(self.activity_types, self.activity_weights)[0]
        event = self._base(rep, at)
        event["activity"] = kind
        deal_id, account = rng.choice(self.open_deals[rep.rep_id])
        if rng.random() < 0.6:
            event["deal_id"] = deal_id
            event["account_id"] = account
        else:
            event["account_id"] = rng.choice(rep.accounts)
        if kind in ("call", "meeting", "demo", "negotiation", "event"):
            mean = {"call": 420, "meeting": 2400, "demo": 2700, "negotiation": 1800}.get(kind, 5400)
            event["duration_s"] = round(rng.expovariate(1 / mean))
        if kind == "call":
            event["outcome"] = rng.choices(("connected", "voicemail", "no_answer"), (50, 30, 20))[0]
        event["source"] = rng.choice(self.context.sources)
        return event

    def _amount(self, rep: Rep) -> tuple[float, str]:
        rng = self.rng
        base = self.context.amount_median * rep.profile.amount_factor * math.exp(rng.gauss(0, 0.55))
        currency = rng.choices(self.currencies, self.currency_weights)[0]
        local = base / self.config.fx_rates.get(currency, 1.0)
        if currency in ZERO_DECIMAL_CURRENCIES:
            return float(round(local, -2)), currency
        return float(round(local / 10) * 10), currency

    def _close(
        self, rep: Rep, at: datetime, deal_id: str, account: str, created: datetime
    ) -> dict[str, Any]:
        event = self._base(rep, at)
        event["deal_id"] = deal_id
        event["account_id"] = account
        event["created_at"] = local_rfc3339(created, self.tz)
        event["source"] = self.rng.choice(self.context.sources)
        if self.rng.random() < rep.profile.win_rate:
            event["outcome"] = "won"
            event["amount"], event["currency"] = self._amount(rep)
        else:
            event["outcome"] = "lost"
        return event

    def _deal(self, rep: Rep, at: datetime, schedule: bool) -> dict[str, Any]:
        rng = self.rng
        pool = self.open_deals[rep.rep_id]
        deal_id, account = pool.pop(0)
        pool.append(self._new_deal(rep))
        cycle = self.context.cycle_days_median * math.exp(rng.gauss(0, 0.45))
        created = at - timedelta(days=max(1.0, cycle))
        event = self._close(rep, at, deal_id, account, created)
        if schedule and rng.random() < self.config.reopen_rate:
            reopen_at = snap_to_business(at + timedelta(hours=rng.uniform(2, 96)), self.tz)
            reopened = self._base(rep, reopen_at)
            reopened.update(deal_id=deal_id, account_id=account, outcome="reopened")
            self._schedule(reopen_at, Record("deals", rep.rep_id, orjson.dumps(reopened)))
            reclose_at = snap_to_business(reopen_at + timedelta(days=rng.uniform(1, 10)), self.tz)
            reclosed = self._close(rep, reclose_at, deal_id, account, created)
            self._schedule(reclose_at, Record("deals", rep.rep_id, orjson.dumps(reclosed)))
        return event

    def _feedback(self, rep: Rep, at: datetime) -> dict[str, Any]:
        rng = self.rng
        event = self._base(rep, at)
        deal_id, account = rng.choice(self.open_deals[rep.rep_id])
        event["account_id"] = account
        if rng.random() < 0.5:
            event["deal_id"] = deal_id
        which = rng.random()
        mood = rng.gauss(rep.profile.csat_mean, 0.9)
        if which < 0.75:
            event["csat"] = min(5, max(1, round(mood)))
        if which >= 0.5:
            event["nps"] = min(10, max(0, round(mood * 2.2 + rng.gauss(0, 1.2) - 0.5)))
        return event

    def _schedule(self, at: datetime, record: Record) -> None:
        self._sched_seq += 1
        heapq.heappush(self._scheduled, (at, self._sched_seq, record))

    def _valid(self, at: datetime, schedule: bool = True) -> tuple[str, Rep, dict[str, Any]]:
        kind_index = _bisect(self._kind_cum, self.rng.random())
        kind = ("activities", "deals", "feedback")[kind_index]
        rep = self._pick_rep(kind)
        if kind == "activities":
            return kind, rep, self._activity(rep, at)
        if kind == "deals":
            return kind, rep, self._deal(rep, at, schedule)
        return kind, rep, self._feedback(rep, at)

    def _invalid(self, at: datetime) -> Record:
        reason = INVALID_KINDS[self._invalid_counter % len(INVALID_KINDS)]
        self._invalid_counter += 1
        rng = self.rng
        if reason == "unknown_currency":
            rep = self._pick_rep("deals")
            deal_id, account = self._new_deal(rep)
            event = self._base(rep, at)
            event.update(deal_id=deal_id, account_id=account, outcome="won")
            event["amount"], _ = self._amount(rep)
            event["currency"] = self.unknown_currency
            return Record("deals", rep.rep_id, orjson.dumps(event), f"invalid:{reason}")
        kind, rep, event = self._valid(at, schedule=False)
        if reason == "invalid_json":
            text = orjson.dumps(event)
            return Record(kind, rep.rep_id, text[: len(text) // 2], f"invalid:{reason}")
        if reason == "unsupported_schema_version":
            event["schema_version"] = 2
        else:
            breakage = rng.randrange(4)
            if breakage == 0:
                del event["rep_id"]
            elif breakage == 1:
                event["occurred_at"] = at.astimezone(self.tz).strftime("%Y-%m-%d %H:%M:%S")
            elif kind == "activities":
                event["activity"] = "fax"
            elif kind == "deals":
                event["outcome"], event["amount"] = "won", -abs(event.get("amount", 100.0))
                event.setdefault("currency", self.currencies[0])
            else:
                event["csat"] = 9
        return Record(kind, rep.rep_id, orjson.dumps(event), f"invalid:{reason}")

    def record_at(self, at: datetime) -> Record:
        """The next record at moment `at` (a due reopen/re-close comes first)."""
        if self._scheduled and self._scheduled[0][0] <= at:
            return heapq.heappop(self._scheduled)[2]
        cfg = self.config
        draw = self.rng.random()
        if draw < cfg.invalid_rate:
            return self._invalid(at)
        draw -= cfg.invalid_rate
        if draw < cfg.duplicate_rate and self._recent:
            original = self.rng.choice(self._recent)
            return Record(original.topic_kind, original.key, original.value, "duplicate")
        draw -= cfg.duplicate_rate
        if 0 <= draw < cfg.late_rate:
            behind = cfg.late_grace + timedelta(hours=self.rng.uniform(6, 96))
            kind, rep, event = self._valid(
                snap_to_business(at - behind, self.tz, forward=False), schedule=False
            )
            return Record(kind, rep.rep_id, orjson.dumps(event), "late")
        kind, rep, event = self._valid(at)
        record = Record(kind, rep.rep_id, orjson.dumps(event))
        if len(self._recent) >= 64:
            self._recent[self.rng.randrange(64)] = record
        else:
            self._recent.append(record)
        return record

    def history(self, start: datetime, end: datetime, count: int) -> Iterator[Record]:
        """`count` records spread over the business hours of [start, end], in time order."""
        if count == 0:
            return
        clock = BusinessClock(start, end, self.tz)
        if clock.total <= 0:
            raise ValueError(
                f"{start.isoformat()} .. {end.isoformat()} contains no business hours "
                f"(weekdays {BUSINESS_START:%H:%M}-{BUSINESS_END:%H:%M} in {self.tz.key}): "
                "widen the span with --days or --start/--end"
            )
        step = clock.total / count
        for k in range(count):
            yield self.record_at(clock.at((k + self.rng.random()) * step))

    def live(self, clock: Callable[[], datetime]) -> Iterator[Record]:
        """Endless records stamped with `clock()` at the moment each one is pulled.

        Live event ids come from a fresh random source: a second demo with the same seed
        must add new events, not repeat the ids of the first one's live tail.
        """
        self._id_rng = random.Random()
        while True:
            yield self.record_at(clock())


def generate(config: GeneratorConfig, now: datetime | None = None) -> Iterator[Record]:
    """`config.events` records over the configured span, deterministic for a fixed span."""
    start, end = config.span(now)
    return SalesSimulator(config).history(start, end, config.events)


def month_elapsed(now: datetime, tz: ZoneInfo) -> float:
    """Share of the month's business days elapsed at `now` (the current day pro rata)."""
    local = now.astimezone(tz)
    first = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    elapsed = BusinessClock(first, local, tz).business_days
    return max(elapsed, 0.25) / business_days_in_month(local.year, local.month)


def demo_targets(config: GeneratorConfig, now: datetime) -> list[Record]:
    """Monthly targets for every rep and team, scaled to what `generate(config)` produces.

    The month-to-date figures are estimated from the generated pace over the span; see
    `targets_for` for how ambition is spread.
    """
    start, end = config.span(now)
    sim = SalesSimulator(config)
    span_days = BusinessClock(start, end, sim.tz).business_days or 1.0
    per_rep: dict[str, dict[str, float]] = {
        r.rep_id: {"revenue_won": 0.0, "deals_won": 0.0, "activities_total": 0.0} for r in sim.reps
    }
    deal_state: dict[str, tuple[str, float]] = {}
    for record in sim.history(start, end, config.events):
        if record.label != "valid" or record.value is None:
            continue
        event = orjson.loads(record.value)
        rep = event["rep_id"]
        if record.topic_kind == "activities":
            per_rep[rep]["activities_total"] += 1
        elif record.topic_kind == "deals":
            amount = event.get("amount", 0.0) * config.fx_rates.get(event.get("currency", ""), 1.0)
            deal_state[event["deal_id"]] = (rep, amount if event["outcome"] == "won" else -1.0)
    for rep, amount in deal_state.values():
        if amount >= 0:
            per_rep[rep]["deals_won"] += 1
            per_rep[rep]["revenue_won"] += amount
    local = now.astimezone(sim.tz)
    month_days = business_days_in_month(local.year, local.month)
    elapsed = month_elapsed(now, sim.tz)
    to_date = {
        rep: {m: v / span_days * month_days * elapsed for m, v in figures.items()}
        for rep, figures in per_rep.items()
    }
    teams = {r.rep_id: r.team_id for r in sim.reps}
    return targets_for(to_date, teams, f"{local.year:04d}-{local.month:02d}", elapsed, config.seed)


def targets_for(
    to_date: Mapping[str, Mapping[str, float]],
    teams: Mapping[str, str],
    period: str,
    elapsed: float,
    seed: int,
) -> list[Record]:
    """Targets = month-to-date figure projected to the month end x a factor per scope.

    Factors from 0.6 to 2.5 make some targets achieved already, some on track and some
    clearly at risk (pace = 1 / factor). A scope with nothing yet is measured against a
    share of the average, so no target is trivial.
    """
    rng = random.Random(seed + 1)
    metrics = ("revenue_won", "deals_won", "activities_total")
    mean = {m: sum(f.get(m, 0.0) for f in to_date.values()) / max(1, len(to_date)) for m in metrics}
    records: list[Record] = []
    team_totals: dict[str, dict[str, float]] = {}
    for rep_id in sorted(to_date):
        factor = rng.choice((0.6, 0.85, 1.0, 1.35, 1.8, 2.5))
        totals = team_totals.setdefault(teams[rep_id], dict.fromkeys(metrics, 0.0))
        for metric in metrics:
            monthly = max(to_date[rep_id].get(metric, 0.0), 0.3 * mean[metric]) / elapsed
            totals[metric] += monthly
            records.append(_target("rep", rep_id, metric, period, monthly * factor))
    for team_id, totals in sorted(team_totals.items()):
        factor = rng.choice((0.9, 1.1, 1.4))
        for metric, monthly in totals.items():
            records.append(_target("team", team_id, metric, period, monthly * factor))
    return records


def target_record(
    scope: str, scope_id: str, metric: str, period: str, value: float | None
) -> Record:
    """A `sales.targets` record; `value=None` is the tombstone that deletes the target."""
    key = f"{scope}:{scope_id}:{metric}:{period}"
    if value is None:
        return Record("targets", key, None)
    body = {
        "scope": scope,
        "scope_id": scope_id,
        "metric": metric,
        "period": period,
        "value": value,
    }
    return Record("targets", key, orjson.dumps(body))


def _target(scope: str, scope_id: str, metric: str, period: str, raw: float) -> Record:
    if metric == "revenue_won":
        value: float = max(1000.0, round(raw, -3))
    elif metric == "deals_won":
        value = float(max(1, math.ceil(raw)))
    else:
        value = float(max(10, round(raw, -1)))
    return target_record(scope, scope_id, metric, period, value)


def _cumulative(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def _bisect(cumulative: list[float], x: float) -> int:
    lo, hi = 0, len(cumulative) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cumulative[mid] > x:
            hi = mid
        else:
            lo = mid + 1
    return lo
