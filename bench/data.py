"""The benchmark's input data: contract-valid events in two shapes, `wide` and `live`.

Bench-only on purpose (no import from `streams`): every consumer in the benchmark, salespulse
included, reads the same bytes, and the figures it must end up with are counted here while
the events are made.

- `wide`: `reps` reps in `teams` teams (rep i is in team i mod teams), `days` days of history
  ending a few minutes ago, event times drawn independently (so they arrive shuffled, not in
  time order), about 92 % activities, 5 % deals, 3 % feedback. Every event_id and deal_id is
  unique, every deal is closed once (won or lost), nothing late, duplicate or invalid.
- `live`: the same records sorted by event time, as a live feed delivers them.

Records are keyed by rep_id. `Dataset.restamped` gives fresh copies with `occurred_at` = now
and new ids, for the latency run.
"""

from __future__ import annotations

import random
from bisect import bisect_right
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

import orjson

INPUT_KINDS = ("activities", "deals", "feedback")
SHAPES = ("wide", "live")
ACTIVITY_MIX = {
    "call": 28,
    "email": 30,
    "meeting": 8,
    "demo": 10,
    "proposal": 4,
    "negotiation": 3,
    "social": 6,
    "event": 2,
    "follow_up": 9,
}
KIND_SHARES = (0.92, 0.05, 0.03)  # activities, deals, feedback
CURRENCIES = (("USD", 1.0), ("EUR", 1.08), ("GBP", 1.27))  # all in the shipped FX table
SOURCES = ("inbound", "outbound", "webinar", "partner", "referral")

#: (topic kind, key, value, event time as epoch seconds)
Record = tuple[str, bytes, bytes, float]


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def month_of(occurred_at: str) -> str:
    """YYYY-MM of a UTC RFC 3339 time as written here (SALES_TIMEZONE is UTC)."""
    return occurred_at[:7]


@dataclass
class Dataset:
    reps: int
    teams: int
    days: float
    start: datetime
    end: datetime
    wide: list[Record]
    by_kind: Counter[str]
    #: month -> team -> applied activity events
    activities: dict[str, Counter[str]]
    #: month -> team -> won deals
    deals_won: dict[str, Counter[str]]
    #: (rep, month) -> activity events
    rep_activities: Counter[tuple[str, str]]

    @property
    def total(self) -> int:
        return len(self.wide)

    def shape(self, name: str) -> list[Record]:
        if name == "wide":
            return self.wide
        if name == "live":
            return sorted(self.wide, key=lambda r: r[3])
        raise ValueError(f"unknown shape {name!r}")

    def describe(self) -> str:
        kinds = ", ".join(f"{k} {self.by_kind[k]:,}" for k in INPUT_KINDS)
        return (
            f"{self.total:,} events ({kinds}); {self.reps:,} reps in {self.teams} teams; "
            f"event times {self.start:%Y-%m-%d %H:%M} .. {self.end:%Y-%m-%d %H:%M} UTC"
        )


class _Maker:
    """Draws the events of `build`; one random source, so a seed gives the same bytes."""

    def __init__(self, reps: int, teams: int, events: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.seed = seed
        self.events = events
        width = len(str(reps))
        self.rep_ids = [f"rep-{i:0{width}d}" for i in range(reps)]
        self.team_ids = [f"team-{i % teams:02d}" for i in range(reps)]
        # some reps are busier than others
        self.rep_cum = list(accumulate(self.rng.uniform(0.5, 1.5) for _ in range(reps)))
        self.kind_cum = list(accumulate(KIND_SHARES))
        self.types = list(ACTIVITY_MIX)
        self.type_cum = list(accumulate(ACTIVITY_MIX.values()))

    def pick(self, cumulative: Sequence[float]) -> int:
        """An index drawn with the weights whose running sums are `cumulative`."""
        x = self.rng.random() * cumulative[-1]
        return min(bisect_right(cumulative, x), len(cumulative) - 1)

    def event(self, i: int, at: datetime) -> tuple[str, dict[str, Any]]:
        r = self.pick(self.rep_cum)
        kind = INPUT_KINDS[self.pick(self.kind_cum)]
        event: dict[str, Any] = {
            "event_id": f"ev-{self.seed}-{i:08d}",
            "occurred_at": rfc3339(at),
            "rep_id": self.rep_ids[r],
            "team_id": self.team_ids[r],
            "schema_version": 1,
            "account_id": f"acct-{self.rng.randrange(20_000):05d}",
        }
        {"activities": self.activity, "deals": self.deal, "feedback": self.feedback}[kind](
            event, i, at
        )
        return kind, event

    def activity(self, event: dict[str, Any], i: int, at: datetime) -> None:
        rng = self.rng
        activity = event["activity"] = self.types[self.pick(self.type_cum)]
        if rng.random() < 0.5:
            event["deal_id"] = f"deal-{self.seed}-{rng.randrange(self.events):08d}"
        if activity in ("call", "meeting", "demo"):
            event["duration_s"] = round(rng.expovariate(1 / 900))
        if activity == "call":
            event["outcome"] = rng.choice(("connected", "voicemail", "no_answer"))
        event["source"] = rng.choice(SOURCES)

    def deal(self, event: dict[str, Any], i: int, at: datetime) -> None:
        rng = self.rng
        event["deal_id"] = f"deal-{self.seed}-{i:08d}"
        event["created_at"] = rfc3339(at - timedelta(days=rng.uniform(1, 90)))
        event["source"] = rng.choice(SOURCES)
        if rng.random() < 0.4:
            currency, rate = rng.choice(CURRENCIES)
            event["outcome"] = "won"
            event["amount"] = float(round(rng.lognormvariate(9.5, 0.6) / rate, 2))
            event["currency"] = currency
        else:
            event["outcome"] = "lost"

    def feedback(self, event: dict[str, Any], i: int, at: datetime) -> None:
        which = self.rng.random()
        if which < 0.75:
            event["csat"] = self.rng.choices((1, 2, 3, 4, 5), (5, 8, 17, 40, 30))[0]
        if which >= 0.5:
            event["nps"] = self.rng.randrange(11)


def build(
    events: int, reps: int, teams: int, days: float, seed: int = 9, now: datetime | None = None
) -> Dataset:
    """`events` events of `reps` reps in `teams` teams over the `days` days ending 5 minutes
    before `now`, in the `wide` order, with the figures they must produce."""
    if teams > reps:
        raise ValueError(f"--teams {teams} exceeds --reps {reps}")
    maker = _Maker(reps, teams, events, seed)
    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0) - timedelta(minutes=5)
    start = end - timedelta(days=days)
    span = (end - start).total_seconds()
    data = Dataset(
        reps,
        teams,
        days,
        start,
        end,
        [],
        Counter(),
        defaultdict(Counter),
        defaultdict(Counter),
        Counter(),
    )
    for i in range(events):
        at = start + timedelta(seconds=maker.rng.random() * span)
        kind, event = maker.event(i, at)
        month, team = month_of(event["occurred_at"]), event["team_id"]
        if kind == "activities":
            data.activities[month][team] += 1
            data.rep_activities[(event["rep_id"], month)] += 1
        elif kind == "deals" and event["outcome"] == "won":
            data.deals_won[month][team] += 1
        data.by_kind[kind] += 1
        data.wide.append((kind, event["rep_id"].encode(), orjson.dumps(event), at.timestamp()))
    return data


def restamped(
    record: Record, at: datetime, suffix: str
) -> tuple[str, bytes, bytes, dict[str, Any]]:
    """A copy of `record` happening at `at`, with new event and deal ids (for the live load).

    Returns (kind, key, value, event); a deal keeps its created_at, so it may lie in the past.
    """
    kind, key, value, _ = record
    event = orjson.loads(value)
    event["occurred_at"] = rfc3339(at)
    event["event_id"] = f"{event['event_id']}-{suffix}"
    if kind == "deals":
        event["deal_id"] = f"{event['deal_id']}-{suffix}"
    return kind, key, orjson.dumps(event), event
