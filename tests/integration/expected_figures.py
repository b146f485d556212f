"""An independent calculator of the figures docs/contract.md sections 2-4 and 6 promise.

Written from the contract's definitions only: it does not import anything from `streams`
(no figures, periods, pacing, processor or FX code), so a bug there cannot hide itself by
being shared with the test. Input is the list of plain event dicts in the order they are
processed (`(kind, event)`, kind in activities|deals|feedback), which only matters for
duplicates, ties between deal events and late events.

Conventions the contract leaves to judgement, stated here so a reader can check them:
- Stream time is the largest event time of the events applied so far (one global clock);
  tests that rely on lateness make sure the worker's clock has seen the newer event first.
- A rep's `team_id` in a period is the team on its latest applied activity or feedback in
  the period or on a deal whose current state counts in the period. Scenarios must avoid
  exact ties there; `team_of` refuses to guess on one.
- The leaderboard lists every scope with data in the period whose value is not null.
"""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

FX_RATES_PATH = Path(__file__).resolve().parents[2] / "streams" / "data" / "fx_rates.json"
PERIOD_KINDS = ("day", "week", "month", "quarter")
CENT = Decimal("0.01")
UTC_ZONE = ZoneInfo("UTC")


def load_rates(path: Path = FX_RATES_PATH, base: str = "USD") -> dict[str, Decimal]:
    """Code -> value of one unit in `base`, exact decimals of the JSON text."""
    raw = json.loads(path.read_text(), parse_float=Decimal, parse_int=Decimal)
    base_value = raw.get(base, Decimal(1))
    return {code: Decimal(value) / base_value for code, value in raw.items()}


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert value.tzinfo is not None, text
    return value


def cents(value: Decimal) -> Decimal:
    """Rounded to cents, half up (away from zero on an exact half)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


# -- calendar ------------------------------------------------------------------------------


def period_ids(instant: datetime, tz: ZoneInfo = UTC_ZONE) -> dict[str, str]:
    day = instant.astimezone(tz).date()
    iso = day.isocalendar()
    return {
        "day": day.isoformat(),
        "week": f"{iso[0]:04d}-W{iso[1]:02d}",
        "month": f"{day.year:04d}-{day.month:02d}",
        "quarter": f"{day.year:04d}-Q{(day.month - 1) // 3 + 1}",
    }


def period_days(period_id: str) -> tuple[date, date]:
    """(first local day, local day after the last) of a period id."""
    if "-W" in period_id:
        year, week = period_id.split("-W")
        first = date.fromisocalendar(int(year), int(week), 1)
        return first, first + timedelta(days=7)
    if "-Q" in period_id:
        year, quarter = (int(x) for x in period_id.split("-Q"))
        first = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return first, end
    parts = [int(x) for x in period_id.split("-")]
    if len(parts) == 3:
        first = date(*parts)
        return first, first + timedelta(days=1)
    year, month = parts
    first = date(year, month, 1)
    end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return first, end


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz).astimezone(UTC)


def period_bounds(period_id: str, tz: ZoneInfo = UTC_ZONE) -> tuple[datetime, datetime]:
    first, end = period_days(period_id)
    return midnight(first, tz), midnight(end, tz)


def business_fraction(period_id: str, now: datetime, tz: ZoneInfo = UTC_ZONE) -> float:
    """Share of the period's Monday-Friday days elapsed at `now`; today by its elapsed part."""
    first, end = period_days(period_id)
    start, stop = period_bounds(period_id, tz)
    if now <= start:
        return 0.0
    if now >= stop:
        return 1.0
    days = [first + timedelta(days=i) for i in range((end - first).days)]
    business = [d for d in days if d.weekday() < 5]
    if not business:
        return 0.0
    today = now.astimezone(tz).date()
    elapsed = float(sum(1 for d in business if d < today))
    if today.weekday() < 5:
        day_start, day_end = midnight(today, tz), midnight(today + timedelta(days=1), tz)
        elapsed += (now - day_start) / (day_end - day_start)
    return elapsed / len(business)


def median(values: list[Decimal]) -> Decimal | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


# -- accumulation --------------------------------------------------------------------------


@dataclass
class Acc:
    by_type: Counter[str] = field(default_factory=Counter)
    won: int = 0
    lost: int = 0
    revenue: Decimal = Decimal(0)
    cycles: list[float] = field(default_factory=list)
    csat: list[int] = field(default_factory=list)
    nps: list[int] = field(default_factory=list)
    #: (event time, team) of every event that decides a rep's team in the period
    stamps: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_type.values())


@dataclass
class TargetEval:
    expected_by_now: float
    pace: float | None
    status: str


class Expected:
    def __init__(
        self,
        events: list[tuple[str, dict[str, Any]]],
        *,
        late_grace: timedelta,
        tz: ZoneInfo = UTC_ZONE,
        rates: dict[str, Decimal] | None = None,
        currency: str = "USD",
    ) -> None:
        self.tz = tz
        self.rates = rates if rates is not None else load_rates(base=currency)
        self.currency = currency
        self.accs: dict[tuple[str, str, str], Acc] = defaultdict(Acc)
        self.hours: dict[str, Counter[tuple[datetime, str]]] = defaultdict(Counter)
        self.late: list[tuple[str, dict[str, Any]]] = []
        self.duplicates: Counter[str] = Counter()
        self.seen_reps: set[str] = set()
        self.seen_teams: set[str] = set()
        seen: set[tuple[str, str]] = set()
        stream_time: datetime | None = None
        deals: dict[str, tuple[datetime, dict[str, Any]]] = {}
        for kind, event in events:
            key = (kind, event["event_id"])
            if key in seen:
                self.duplicates[kind] += 1
                continue
            when = parse_time(event["occurred_at"])
            if stream_time is not None and when < stream_time - late_grace:
                self.late.append((kind, event))
                continue
            seen.add(key)
            stream_time = when if stream_time is None else max(stream_time, when)
            if kind == "deals":
                current = deals.get(event["deal_id"])
                if current is None or when >= current[0]:
                    deals[event["deal_id"]] = (when, event)
                continue
            self.seen_reps.add(event["rep_id"])
            self.seen_teams.add(event["team_id"])
            for acc, is_rep in self._accs(event["rep_id"], event["team_id"], when):
                if is_rep:
                    acc.stamps.append((when, event["team_id"]))
                if kind == "activities":
                    acc.by_type[event["activity"]] += 1
                else:
                    if event.get("csat") is not None:
                        acc.csat.append(event["csat"])
                    if event.get("nps") is not None:
                        acc.nps.append(event["nps"])
            if kind == "activities":
                hour = when.astimezone(tz).replace(minute=0, second=0, microsecond=0)
                self.hours[event["rep_id"]][(hour, event["activity"])] += 1
        for when, event in deals.values():
            if event["outcome"] not in ("won", "lost"):
                continue
            self.seen_reps.add(event["rep_id"])
            self.seen_teams.add(event["team_id"])
            for acc, is_rep in self._accs(event["rep_id"], event["team_id"], when):
                if is_rep:
                    acc.stamps.append((when, event["team_id"]))
                if event["outcome"] == "lost":
                    acc.lost += 1
                    continue
                acc.won += 1
                acc.revenue += self.to_base(event["amount"], event["currency"])
                if event.get("created_at"):
                    cycle = when - parse_time(event["created_at"])
                    acc.cycles.append(cycle.total_seconds())
        for _, event in deals.values():
            self._deal_presence(event)

    def _deal_presence(self, event: dict[str, Any]) -> None:
        """Section 8.2: a deal also belongs to the periods of its created_at (the cohort)
        and, while open, of its expected_close_at (the pipeline). Its rep and team have data
        there (the leaderboard lists them) even with nothing else in the period."""
        instants = []
        if event.get("created_at"):
            instants.append(parse_time(event["created_at"]))
        if event["outcome"] not in ("won", "lost") and event.get("expected_close_at"):
            instants.append(parse_time(event["expected_close_at"]))
        for instant in instants:
            self.seen_reps.add(event["rep_id"])
            self.seen_teams.add(event["team_id"])
            self._accs(event["rep_id"], event["team_id"], instant)  # present, nothing counted

    def _accs(self, rep: str, team: str, when: datetime) -> list[tuple[Acc, bool]]:
        out = []
        for period in period_ids(when, self.tz).values():
            out.append((self.accs[("rep", rep, period)], True))
            out.append((self.accs[("team", team, period)], False))
        return out

    def to_base(self, amount: float | int, currency: str) -> Decimal:
        return Decimal(str(amount)) * self.rates[currency]

    # -- queries -------------------------------------------------------------------------
    def acc(self, scope: str, ident: str, period: str) -> Acc:
        return self.accs.get((scope, ident, period)) or Acc()

    def periods(self, scope: str, ident: str) -> list[str]:
        return sorted(p for (s, i, p) in self.accs if s == scope and i == ident)

    def reps(self) -> list[str]:
        return sorted(self.seen_reps)

    def teams(self) -> list[str]:
        return sorted(self.seen_teams)

    def team_of(self, rep: str, period: str) -> str | None:
        stamps = self.acc("rep", rep, period).stamps
        if not stamps:
            return None
        latest = max(when for when, _ in stamps)
        teams = {team for when, team in stamps if when == latest}
        assert len(teams) == 1, f"scenario has a tie for the team of {rep} in {period}"
        return teams.pop()

    def members(self, team: str, period: str) -> list[str]:
        return [
            rep
            for (scope, rep, p) in list(self.accs)
            if scope == "rep" and p == period and self.team_of(rep, period) == team
        ]

    def quadrant(self, rep: str, period: str) -> str | None:
        team = self.team_of(rep, period)
        if team is None:
            return None
        members = self.members(team, period)
        acts = median([Decimal(self.acc("rep", m, period).total) for m in members])
        revs = median([self.acc("rep", m, period).revenue for m in members])
        me = self.acc("rep", rep, period)
        activity = "high" if acts is None or me.total >= acts else "low"
        perf = "high" if revs is None or me.revenue >= revs else "low"
        return f"{activity}_activity_{perf}_performance"

    def figures(self, scope: str, ident: str, period: str) -> dict[str, Any]:
        """The performance document without `targets` (numbers unrounded except revenue)."""
        a = self.acc(scope, ident, period)
        closed = a.won + a.lost
        doc: dict[str, Any] = {"scope": scope, "id": ident}
        if scope == "rep":
            doc["team_id"] = self.team_of(ident, period)
        doc.update(
            {
                "period": period,
                "currency": self.currency,
                "activities": {
                    "total": a.total,
                    "by_type": {t: n for t, n in sorted(a.by_type.items()) if n > 0},
                },
                "deals": {
                    "won": a.won,
                    "lost": a.lost,
                    "revenue_won": cents(a.revenue),
                    "win_rate": a.won / closed if closed else None,
                    "avg_deal_size": a.revenue / a.won if a.won else None,
                    "avg_cycle_days": (sum(a.cycles) / len(a.cycles) / 86400 if a.cycles else None),
                },
                "satisfaction": {
                    "csat_avg": sum(a.csat) / len(a.csat) if a.csat else None,
                    "csat_count": len(a.csat),
                    "csat_satisfied_pct": (
                        100 * sum(1 for c in a.csat if c >= 4) / len(a.csat) if a.csat else None
                    ),
                    "nps": (
                        100
                        * (sum(1 for n in a.nps if n >= 9) - sum(1 for n in a.nps if n <= 6))
                        / len(a.nps)
                        if a.nps
                        else None
                    ),
                    "nps_count": len(a.nps),
                },
                "efficiency": {
                    "activities_per_win": a.total / a.won if a.won else None,
                    "revenue_per_activity": a.revenue / a.total if a.total else None,
                },
            }
        )
        if scope == "rep":
            doc["quadrant"] = self.quadrant(ident, period)
        return doc

    def actual(self, scope: str, ident: str, metric: str, period: str) -> Decimal:
        a = self.acc(scope, ident, period)
        if metric == "revenue_won":
            return cents(a.revenue)
        if metric == "deals_won":
            return Decimal(a.won)
        if metric == "activities_total":
            return Decimal(a.total)
        assert metric.startswith("activities."), metric
        return Decimal(a.by_type.get(metric.split(".", 1)[1], 0))

    def evaluate(
        self, target: float, actual: Decimal, period: str, now: datetime, at_risk_pace: float
    ) -> TargetEval:
        expected = target * business_fraction(period, now, self.tz)
        pace = float(actual) / expected if expected > 0 else None
        _, end = period_bounds(period, self.tz)
        if actual >= Decimal(str(target)):
            status = "achieved"
        elif now >= end:
            status = "missed"
        elif expected == 0:
            status = "not_started"
        elif float(actual) >= expected:
            status = "on_track"
        elif float(actual) < at_risk_pace * expected:
            status = "at_risk"
        else:
            status = "behind"
        return TargetEval(expected, pace, status)

    def activity(
        self, rep: str, granularity: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        buckets: dict[datetime, Counter[str]] = defaultdict(Counter)
        for (hour, activity), n in self.hours.get(rep, Counter()).items():
            bucket = hour if granularity == "hour" else midnight(hour.date(), self.tz)
            buckets[bucket][activity] += n
        return [
            {"start": bucket, "total": sum(c.values()), "counts": dict(sorted(c.items()))}
            for bucket, c in sorted(buckets.items())
            if start <= bucket < end and sum(c.values()) > 0
        ]

    def leaderboard(
        self, period: str, metric: str, scope: str, team: str | None, limit: int
    ) -> list[dict[str, Any]]:
        idents = self.reps() if scope == "rep" else self.teams()
        entries = []
        for ident in idents:
            a = self.accs.get((scope, ident, period))
            if a is None:
                continue
            doc = self.figures(scope, ident, period)
            team_id = doc["team_id"] if scope == "rep" else ident
            if team is not None and team_id != team:
                continue
            value = {
                "revenue_won": doc["deals"]["revenue_won"],
                "deals_won": doc["deals"]["won"],
                "activities_total": doc["activities"]["total"],
                "win_rate": doc["deals"]["win_rate"],
                "avg_deal_size": doc["deals"]["avg_deal_size"],
                "csat_avg": doc["satisfaction"]["csat_avg"],
            }[metric]
            if value is None:
                continue
            entries.append({"id": ident, "team_id": team_id, "value": value})
        entries.sort(key=lambda e: (-e["value"], e["id"]))
        return [{"rank": i, **e} for i, e in enumerate(entries[:limit], start=1)]


# -- comparison ----------------------------------------------------------------------------

#: money figures the contract does not say are rounded: allow either way of rounding
LOOSE_MONEY = {"avg_deal_size", "revenue_per_activity"}


def same(actual: Any, expected: Any, path: str = "$", *, loose: bool = False) -> list[str]:
    """Differences between an API answer and an expected value, as readable lines.

    Decimals are money: exactly the cents (half up), or within half a cent for the money
    figures the contract does not say are rounded (and everywhere with `loose`).
    """
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        out = []
        if set(actual) != set(expected) and path.endswith(("by_type", "counts")):
            out.append(f"{path}: keys {sorted(actual)} != {sorted(expected)}")
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing")
                continue
            out.extend(same(actual[key], value, f"{path}.{key}", loose=loose))
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return [
            x
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for x in same(a, e, f"{path}[{i}]", loose=loose)
        ]
    if expected is None or isinstance(expected, str | bool):
        return [] if actual == expected else [f"{path}: expected {expected!r}, got {actual!r}"]
    if isinstance(expected, int):
        ok = isinstance(actual, int | float) and actual == expected
        return [] if ok else [f"{path}: expected {expected!r}, got {actual!r}"]
    if not isinstance(actual, int | float) or isinstance(actual, bool):
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    name = path.rsplit(".", 1)[-1]
    if isinstance(expected, Decimal):
        if loose or name in LOOSE_MONEY:
            ok = math.isclose(actual, float(expected), abs_tol=0.005 + 1e-9)
        else:  # cents, half up: exactly the rounded value
            ok = actual == float(expected)
    else:
        ok = actual == pytest.approx(expected, rel=1e-9, abs=1e-9)
    return [] if ok else [f"{path}: expected {expected!r}, got {actual!r}"]
