"""Seeded, realistic sales event streams for demos, tests and benchmarks.

Pure Python (no Kafka): `generate(config)` yields `Record`s that `streams.tools.producer` sends
or the `generate` command writes as JSON lines. The same config (seed *and* time span)
always yields byte-identical records, so a failing test or a benchmark can be replayed.

The model is deliberately simple but shaped like the businesses sales leaders run:
reps have profiles (busy but not closing, efficient, steady), work business hours on
weekdays in the configured time zone and do a context-specific mix of activities, many of
them on one of their open deals (`deal_id`). Deals carry the fields of contract section 8.1:
each opens (`outcome` open, with `created_at`, a stage, an expected close and usually an
expected amount), moves through the context's stages and closes won or lost (with a reason),
a few are reopened and closed again; they are new business, expansion or renewals of an
account, from a lead source or campaign, in several currencies. Late, duplicate and invalid
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


#: why new business is lost, and why a renewal churns (relative weights)
LOST_REASONS: Mapping[str, float] = {"price": 30, "competitor": 25, "timing": 20, "no_decision": 25}
CHURN_REASONS: Mapping[str, float] = {
    "budget_cut": 35,
    "price": 25,
    "competitor": 20,
    "no_decision": 20,
}

#: how often a CRM leaves an optional deal field out (the worker reports `unknown`,
#: `unspecified` or `new_business` then: README, "What the figures mean")
MISSING_SOURCE = 0.04
MISSING_STAGE = 0.03
MISSING_LOST_REASON = 0.1
#: share of new-business deals whose `kind` is left out (new_business is the default)
OMITTED_KIND = 0.3
#: share of new-business deals whose amount is already known in their first stage
EARLY_AMOUNT = 0.5


@dataclass(frozen=True)
class DealModel:
    """How a context's deals run (contract section 8.1): stages, kinds, sources, losses.

    New business goes through every stage, expansion skips the first, renewals have their own
    short path. Kinds are weighted by `kind_mix`; their amounts and cycles are the context's
    medians times `kind_amount` and `kind_cycle`. New business comes from `sources`, expansion
    and renewals from `customer_sources`.
    """

    stages: tuple[str, ...]
    renewal_stages: tuple[str, ...]
    kind_mix: Mapping[str, float]
    kind_amount: Mapping[str, float]
    kind_cycle: Mapping[str, float]
    sources: Mapping[str, float]
    customer_sources: Mapping[str, float]

    def stages_of(self, kind: str) -> tuple[str, ...]:
        if kind == "renewal":
            return self.renewal_stages
        return self.stages[1:] if kind == "expansion" else self.stages


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
    deals: DealModel
    #: share of records that are deal events (every stage move is one)
    deal_share: float = 0.1
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
            amount_median=12_000,
            currency_mix={"USD": 60, "EUR": 22, "GBP": 10, "CAD": 5, "AUD": 3},
            deals=DealModel(
                stages=("qualification", "demo", "proposal", "negotiation"),
                renewal_stages=("renewal_review", "negotiation"),
                kind_mix={"new_business": 72, "expansion": 20, "renewal": 8},
                kind_amount={"new_business": 1.0, "expansion": 0.45, "renewal": 0.9},
                kind_cycle={"new_business": 1.0, "expansion": 0.6, "renewal": 0.5},
                sources={"inbound": 30, "outbound": 25, "trial": 20, "webinar": 15, "partner": 10},
                customer_sources={"customer_success": 75, "inbound": 25},
            ),
            deal_share=0.09,
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
            deals=DealModel(
                stages=("discovery", "scoping", "proposal", "contracting"),
                renewal_stages=("account_review", "proposal"),
                kind_mix={"new_business": 55, "expansion": 40, "renewal": 5},
                kind_amount={"new_business": 1.0, "expansion": 0.6, "renewal": 0.8},
                kind_cycle={"new_business": 1.0, "expansion": 0.7, "renewal": 0.5},
                sources={"referral": 45, "rfp": 18, "partner": 15, "event": 12, "inbound": 10},
                customer_sources={"existing_client": 65, "referral": 35},
            ),
            deal_share=0.05,
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
            deals=DealModel(
                stages=("brief", "pitch", "proposal", "negotiation"),
                renewal_stages=("retainer_review", "negotiation"),
                kind_mix={"new_business": 45, "expansion": 15, "renewal": 40},
                kind_amount={"new_business": 1.0, "expansion": 0.5, "renewal": 1.0},
                kind_cycle={"new_business": 1.0, "expansion": 0.7, "renewal": 0.6},
                sources={
                    "referral": 22,
                    "campaign-spring-webinar": 18,
                    "campaign-linkedin-ads": 16,
                    "inbound": 15,
                    "event": 15,
                    "campaign-q4-newsletter": 14,
                },
                customer_sources={"account_management": 1},
            ),
            deal_share=0.1,
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


@dataclass
class Deal:
    """One opportunity: its plan, decided when it is created, and how far it has come.

    Step 0 opens it in its first stage, step i (0 < i < len(stages)) moves it to stage i, and
    step `closes_at` closes it: won after the last stage, lost at an earlier or the last step.
    `due[i]` is when step i is planned; a step is written at the rep's next deal event after
    that (or earlier, when the rep's pipeline is full and nothing is due).
    """

    deal_id: str
    rep: Rep
    account: str
    kind: str
    source: str | None
    created: datetime
    stages: tuple[str, ...]
    due: tuple[datetime, ...]
    wins: bool
    closes_at: int
    amount: float
    currency: str
    expected_close: datetime
    amount_known_early: bool
    write_kind: bool
    step: int = 0

    @property
    def next_due(self) -> datetime:
        return self.due[self.step]


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
    """The state of a simulated sales org; `record_at(t)` emits its next record at time t.

    Every rep keeps a pipeline of open deals (`Deal`). A deal event either moves the rep's
    most overdue deal one step (next stage, or its close) or, when none is due and the
    pipeline has room, opens a new deal; so deal events stay a fixed share of the records
    while deals take the context's cycle. The pipeline starts full of deals created before
    the span, so closes, conversions and pipeline figures show from the first event.
    """

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        self.context = CONTEXTS[config.context]
        self.tz = config.tz
        self.rng = random.Random(config.seed)
        self._id_rng = self.rng
        self._account_seq = 0
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
        #: open deals per rep; None until the first record (or `history`) starts them
        self.pipelines: dict[str, list[Deal]] | None = None
        self._pipeline_size = {r.rep_id: 6 for r in self.reps}
        #: accounts each rep can sell expansions and renewals to, and those won in the stream
        self.customers: dict[str, list[str]] = {r.rep_id: list(r.accounts) for r in self.reps}
        self.won_accounts: dict[str, list[str]] = {r.rep_id: [] for r in self.reps}
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
            accounts = tuple(self._new_account() for _ in range(rng.randint(8, 20)))
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

    def _new_account(self) -> str:
        """A customer or prospect id no other rep, context or seed uses."""
        self._account_seq += 1
        return f"acct-{self.context.rep_prefix}{self.config.seed}-{self._account_seq:05d}"

    # -- deals: plans ---------------------------------------------------------------------

    def _pick_kind(self, rep: Rep) -> str:
        model = self.context.deals
        kind = self.rng.choices(list(model.kind_mix), list(model.kind_mix.values()))[0]
        return kind if self.customers[rep.rep_id] else "new_business"

    def _account_for(self, rep: Rep, kind: str) -> str:
        """A new prospect for new business, an existing customer otherwise: expansion mostly
        follows a recent win (land and expand), renewals mostly older contracts."""
        if kind == "new_business":
            return self._new_account()
        won = self.won_accounts[rep.rep_id]
        if won and self.rng.random() < (0.75 if kind == "expansion" else 0.3):
            return self.rng.choice(won)
        return self.rng.choice(self.customers[rep.rep_id])

    def _win_probability(self, rep: Rep, kind: str) -> float:
        rate = rep.profile.win_rate
        if kind == "renewal":
            return 0.65 + 0.3 * rate
        if kind == "expansion":
            return min(0.9, 1.3 * rate + 0.05)
        return rate

    def _plan_deal(self, rep: Rep, created: datetime) -> Deal:
        """A new deal created at `created`, its outcome and timing decided up front."""
        rng, model = self.rng, self.context.deals
        kind = self._pick_kind(rep)
        stages = model.stages_of(kind)
        cycle = (
            self.context.cycle_days_median * model.kind_cycle[kind] * math.exp(rng.gauss(0, 0.45))
        )
        cycle = max(cycle, 2.0)
        weights = _cumulative([rng.uniform(0.6, 1.4) for _ in stages])
        due = (created, *(created + timedelta(days=cycle * w / weights[-1]) for w in weights))
        wins = rng.random() < self._win_probability(rep, kind)
        count = len(stages)
        closes_at = count
        if not wins:  # lost deals drop out at any step, early ones more often
            closes_at = rng.choices(range(1, count + 1), range(count, 0, -1))[0]
        sources = model.sources if kind == "new_business" else model.customer_sources
        source = rng.choices(list(sources), list(sources.values()))[0]
        amount, currency = self._amount(rep, model.kind_amount[kind])
        self._deal_seq += 1
        return Deal(
            deal_id=f"d-{self.context.rep_prefix}{self.config.seed}-{self._deal_seq:06d}",
            rep=rep,
            account=self._account_for(rep, kind),
            kind=kind,
            source=None if rng.random() < MISSING_SOURCE else source,
            created=created,
            stages=stages,
            due=due,
            wins=wins,
            closes_at=closes_at,
            amount=amount,
            currency=currency,
            expected_close=created + timedelta(days=cycle * rng.uniform(0.5, 1.1)),
            amount_known_early=kind != "new_business" or rng.random() < EARLY_AMOUNT,
            write_kind=kind != "new_business" or rng.random() >= OMITTED_KIND,
        )

    def _backdate(self, deal: Deal, start: datetime) -> Deal:
        """The deal as it stands at `start` after being created some time before it."""
        span = deal.due[deal.closes_at] - deal.created
        created = snap_to_business(deal.created - span * self.rng.random(), self.tz, False)
        shift = deal.created - created
        deal.created = created
        deal.due = tuple(moment - shift for moment in deal.due)
        deal.expected_close -= shift
        deal.step = next(
            (i for i in range(1, deal.closes_at) if deal.due[i] > start), deal.closes_at
        )
        return deal

    def start_pipelines(self, start: datetime, sizes: Mapping[str, int] | None = None) -> None:
        """Fill every rep's pipeline with deals created before `start` (at most once)."""
        if self.pipelines is not None:
            return
        self._pipeline_size.update(sizes or {})
        self.pipelines = {
            r.rep_id: [
                self._backdate(self._plan_deal(r, start), start)
                for _ in range(self._pipeline_size[r.rep_id])
            ]
            for r in self.reps
        }

    def pipeline_sizes(self, count: int, calendar_days: float) -> dict[str, int]:
        """Open deals per rep that keep deals on their planned cycle at this density.

        A rep's deal events per day times the mean cycle, divided by the events a deal
        takes (its open and stage events and its close; lost deals take fewer).
        """
        context, model = self.context, self.context.deals
        mix_total = sum(model.kind_mix.values())
        steps = cycle = 0.0
        for kind, weight in model.kind_mix.items():
            steps += weight / mix_total * (len(model.stages_of(kind)) + 1) * 0.85
            cycle += weight / mix_total * context.cycle_days_median * model.kind_cycle[kind] * 1.1
        weights = sum(r.deal_weight for r in self.reps)
        per_day = count * context.deal_share / max(calendar_days, 1.0) / weights
        return {
            r.rep_id: min(60, max(2, round(per_day * r.deal_weight * cycle / steps)))
            for r in self.reps
        }

    # -- deals: events --------------------------------------------------------------------

    def _deal_event(self, deal: Deal, at: datetime, outcome: str) -> dict[str, Any]:
        """The deal's state at `at` as a `sales.deals` event (section 8.1 fields)."""
        event = self._base(deal.rep, at)
        event["deal_id"] = deal.deal_id
        event["outcome"] = outcome
        if outcome in ("open", "reopened"):
            stage = deal.stages[min(deal.step, len(deal.stages) - 1)]
            if self.rng.random() >= MISSING_STAGE:
                event["stage"] = stage
            if deal.step > 0 or deal.amount_known_early:
                event["amount"], event["currency"] = deal.amount, deal.currency
            event["expected_close_at"] = local_rfc3339(deal.expected_close, self.tz)
        elif outcome == "won":
            discount = self.rng.uniform(0.85, 1.0)
            event["amount"] = _round_amount(deal.amount * discount, deal.currency)
            event["currency"] = deal.currency
        elif self.rng.random() >= MISSING_LOST_REASON:
            reasons = CHURN_REASONS if deal.kind == "renewal" else LOST_REASONS
            event["lost_reason"] = self.rng.choices(list(reasons), list(reasons.values()))[0]
        if deal.write_kind:
            event["kind"] = deal.kind
        if deal.source is not None:
            event["source"] = deal.source
        event["account_id"] = deal.account
        event["created_at"] = local_rfc3339(deal.created, self.tz)
        return event

    def _step(self, deal: Deal, at: datetime) -> dict[str, Any]:
        """Write the deal's next step at `at`: open, move to the next stage, or close."""
        if deal.step < deal.closes_at:
            if deal.expected_close < at + timedelta(days=1):  # slipped: the rep moves it out
                deal.expected_close = at + timedelta(days=self.rng.uniform(3, 15))
            event = self._deal_event(deal, at, "open")
            deal.step += 1
            return event
        outcome = "won" if deal.wins else "lost"
        self._closed(deal, outcome)
        event = self._deal_event(deal, at, outcome)
        if self.rng.random() < self.config.reopen_rate:
            self._schedule_reopen(deal, at)
        return event

    def _closed(self, deal: Deal, outcome: str) -> None:
        """Take a closed deal out of the pipeline; a win makes a customer, a lost renewal
        loses one (churn)."""
        assert self.pipelines is not None
        self.pipelines[deal.rep.rep_id].remove(deal)
        customers = self.customers[deal.rep.rep_id]
        won = self.won_accounts[deal.rep.rep_id]
        if outcome == "won":
            if deal.account not in customers:
                customers.append(deal.account)
            if deal.account not in won:
                won.append(deal.account)
        elif deal.kind == "renewal" and len(customers) > 1:
            for accounts in (customers, won):
                if deal.account in accounts:
                    accounts.remove(deal.account)

    def _schedule_reopen(self, deal: Deal, at: datetime) -> None:
        """Reopen the closed deal a little later and close it again (won or lost anew)."""
        rng = self.rng
        reopen_at = snap_to_business(at + timedelta(hours=rng.uniform(2, 96)), self.tz)
        reclose_at = snap_to_business(reopen_at + timedelta(days=rng.uniform(1, 10)), self.tz)
        deal.step = len(deal.stages) - 1
        deal.expected_close = reclose_at
        reopened = self._deal_event(deal, reopen_at, "reopened")
        self._schedule(reopen_at, Record("deals", deal.rep.rep_id, orjson.dumps(reopened)))
        outcome = "won" if rng.random() < self._win_probability(deal.rep, deal.kind) else "lost"
        reclosed = self._deal_event(deal, reclose_at, outcome)
        self._schedule(reclose_at, Record("deals", deal.rep.rep_id, orjson.dumps(reclosed)))

    def _pipeline(self, rep: Rep, at: datetime) -> list[Deal]:
        self.start_pipelines(at)
        assert self.pipelines is not None
        return self.pipelines[rep.rep_id]

    def _deal(self, rep: Rep, at: datetime) -> dict[str, Any]:
        """The rep's next deal event: its most overdue deal's next step or, when none is
        due and the pipeline has room, a new deal (when full, the next one comes early)."""
        pipeline = self._pipeline(rep, at)
        deal = min(pipeline, key=lambda d: d.next_due, default=None)
        if deal is None or (deal.next_due > at and len(pipeline) < self._pipeline_size[rep.rep_id]):
            deal = self._plan_deal(rep, at)
            pipeline.append(deal)
        return self._step(deal, at)

    def _detached_deal(self, rep: Rep, at: datetime) -> dict[str, Any]:
        """A closed deal of its own, in no pipeline: for late and invalid records."""
        deal = self._plan_deal(rep, at - timedelta(days=self.context.cycle_days_median))
        deal.step = deal.closes_at
        return self._deal_event(deal, at, "won" if deal.wins else "lost")

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
        """An activity; 60% of them touch one of the rep's open deals (carry its deal_id)."""
        rng = self.rng
        kind = rng.choices(self.activity_types, self.activity_weights)[0]
        event = self._base(rep, at)
        event["activity"] = kind
        pipeline = self._pipeline(rep, at)
        deal = rng.choice(pipeline) if pipeline else None
        if deal is not None and rng.random() < 0.6:
            event["deal_id"] = deal.deal_id
            event["account_id"] = deal.account
        else:
            event["account_id"] = rng.choice(self.customers[rep.rep_id])
        if kind in ("call", "meeting", "demo", "negotiation", "event"):
            mean = {"call": 420, "meeting": 2400, "demo": 2700, "negotiation": 1800}.get(kind, 5400)
            event["duration_s"] = round(rng.expovariate(1 / mean))
        if kind == "call":
            event["outcome"] = rng.choices(("connected", "voicemail", "no_answer"), (50, 30, 20))[0]
        if "deal_id" in event and deal is not None and deal.source is not None:
            event["source"] = deal.source
        else:
            event["source"] = rng.choice(list(self.context.deals.sources))
        return event

    def _amount(self, rep: Rep, factor: float = 1.0) -> tuple[float, str]:
        rng = self.rng
        median = self.context.amount_median * factor * rep.profile.amount_factor
        base = median * math.exp(rng.gauss(0, 0.55))
        currency = rng.choices(self.currencies, self.currency_weights)[0]
        return _round_amount(base / self.config.fx_rates.get(currency, 1.0), currency), currency

    def _feedback(self, rep: Rep, at: datetime) -> dict[str, Any]:
        rng = self.rng
        event = self._base(rep, at)
        pipeline = self._pipeline(rep, at)
        if pipeline:
            deal = rng.choice(pipeline)
            event["account_id"] = deal.account
            if rng.random() < 0.5:
                event["deal_id"] = deal.deal_id
        else:
            event["account_id"] = rng.choice(self.customers[rep.rep_id])
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

    def _valid(self, at: datetime, detached: bool = False) -> tuple[str, Rep, dict[str, Any]]:
        """A valid event at `at`; `detached` ones (late, to be broken) leave the deals alone."""
        kind_index = _bisect(self._kind_cum, self.rng.random())
        kind = ("activities", "deals", "feedback")[kind_index]
        rep = self._pick_rep(kind)
        if kind == "activities":
            return kind, rep, self._activity(rep, at)
        if kind == "deals":
            if detached:
                return kind, rep, self._detached_deal(rep, at)
            return kind, rep, self._deal(rep, at)
        return kind, rep, self._feedback(rep, at)

    def _invalid(self, at: datetime) -> Record:
        reason = INVALID_KINDS[self._invalid_counter % len(INVALID_KINDS)]
        self._invalid_counter += 1
        rng = self.rng
        if reason == "unknown_currency":
            rep = self._pick_rep("deals")
            event = self._detached_deal(rep, at)
            event["outcome"] = "won"
            event["amount"], _ = self._amount(rep)
            event["currency"] = self.unknown_currency
            event.pop("lost_reason", None)
            return Record("deals", rep.rep_id, orjson.dumps(event), f"invalid:{reason}")
        kind, rep, event = self._valid(at, detached=True)
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
        self.start_pipelines(at)
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
                snap_to_business(at - behind, self.tz, forward=False), detached=True
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
        return (record for _, record in self.timed_history(start, end, count))

    def timed_history(
        self, start: datetime, end: datetime, count: int
    ) -> Iterator[tuple[datetime, Record]]:
        """`history`, each record with the moment it was made at (a late record's
        occurred_at lies before it; an invalid one may have none)."""
        if count == 0:
            return
        clock = BusinessClock(start, end, self.tz)
        if clock.total <= 0:
            raise ValueError(
                f"{start.isoformat()} .. {end.isoformat()} contains no business hours "
                f"(weekdays {BUSINESS_START:%H:%M}-{BUSINESS_END:%H:%M} in {self.tz.key}): "
                "widen the span with --days or --start/--end"
            )
        days = (end - start).total_seconds() / 86400
        self.start_pipelines(start, self.pipeline_sizes(count, days))
        step = clock.total / count
        for k in range(count):
            at = clock.at((k + self.rng.random()) * step)
            yield at, self.record_at(at)

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

    Factors from 0.85 to 2.5 make some targets on track and some clearly at risk (pace =
    1 / factor); one of 0.8 x the elapsed share sets a target of 80 % of the month-to-date
    figure: achieved already, however early in the month. A scope with nothing yet is
    measured against a share of the average, so no target is trivial.
    """
    rng = random.Random(seed + 1)
    metrics = ("revenue_won", "deals_won", "activities_total")
    mean = {m: sum(f.get(m, 0.0) for f in to_date.values()) / max(1, len(to_date)) for m in metrics}
    records: list[Record] = []
    team_totals: dict[str, dict[str, float]] = {}
    for rep_id in sorted(to_date):
        factor = rng.choice((0.8 * elapsed, 0.85, 0.95, 1.35, 1.8, 2.5))
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


def _round_amount(amount: float, currency: str) -> float:
    """Amounts as CRMs hold them: whole hundreds without minor units, else tens."""
    if currency in ZERO_DECIMAL_CURRENCIES:
        return float(round(amount, -2))
    return float(round(amount / 10) * 10)


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
