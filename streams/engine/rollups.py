"""In-memory views derived from the scopes table, for queries, alerts and metrics.

The table is the truth (changelog-backed, recovered after a crash); these views only roll
its records up per period so that a query, a leaderboard or a scrape never scans hour
records. They are rebuilt from the table after every rebalance and updated record by record
as batches write, through `Views.apply`, which takes the new value and the old one from the
views themselves, so that every roll-up is adjusted by the exact difference (integers: no
drift).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from sys import intern
from typing import Any
from zoneinfo import ZoneInfo

import msgspec

from streams.domain.periods import LocalHours, local_date, local_midnight, parse_period, periods_of
from streams.domain.satisfaction import Satisfaction
from streams.engine.items import DealFigure, HourCounts
from streams.engine.state import (
    ALERTS,
    DAY,
    DEAL,
    DEAL_STATE,
    HOUR,
    MEMBER,
    MEMBER_SENT,
    QUARTER_HOUR,
    TARGET,
    DayRecord,
    DealState,
    HourRecord,
    Member,
    decode_value,
    encode_value,
    merged_parts,
)

#: the record kinds the views roll up
VIEWED_KINDS = frozenset({HOUR, DAY, DEAL, TARGET, ALERTS, MEMBER, MEMBER_SENT})
#: the record kinds Views.apply reads: those and a deal's state, for its event ids' index
APPLIED_KINDS = VIEWED_KINDS | {DEAL_STATE}


_NO_FEEDBACK = Satisfaction()
#: hours whose periods are remembered before the cache starts again (about 11 years)
MAX_CACHED_HOURS = 100_000
#: an hour bucket's length (a local hour is one real hour; periods.LocalHours)
HOUR_SECONDS = 3600
#: the day record decoded last, with the bytes it came from (`ScopeView.day_record`)
_decoded_day: list[tuple[bytes, DayRecord] | None] = [None]
#: an hour whose records hold this many event ids keeps their set (`ScopeView.hour_ids`)
BUSY_HOUR_IDS = 64


class PartChange:
    """What one part of an hour record changed by: worked out once, applied to each of the
    hour's periods (a day, a week, a month and a quarter).

    A plain class, not a dataclass: compiled, its `__init__` is native, where a dataclass
    keeps the one the decorator generates in Python (the fold builds one per record)."""

    part: str
    #: activity type -> count difference (zero differences left out)
    counts: dict[str, int]
    #: counters to take away and to add; None where there is nothing to do
    satisfaction_old: Satisfaction | None
    satisfaction_new: Satisfaction | None
    #: +1 the part appeared in the hour, -1 it went, 0 it changed (a whole day record
    #: coming or going: plus or minus the number of its hours)
    presence: int
    #: the part's latest event time, when it is still there
    latest: float | None

    def __init__(
        self,
        part: str,
        counts: dict[str, int],
        satisfaction_old: Satisfaction | None,
        satisfaction_new: Satisfaction | None,
        presence: int,
        latest: float | None,
    ) -> None:
        self.part = part
        self.counts = counts
        self.satisfaction_old = satisfaction_old
        self.satisfaction_new = satisfaction_new
        self.presence = presence
        self.latest = latest

    @classmethod
    def between(cls, part: str, old: HourCounts | None, new: HourCounts | None) -> PartChange:
        if old is None:  # a new part (most of wide input): its counts are the change
            counts = new.counts if new is not None else {}
        else:
            counts = dict(new.counts) if new is not None else {}
            for activity, n in old.counts.items():
                counts[activity] = counts.get(activity, 0) - n
        # most parts hold no feedback: nothing to add or take away
        sat_old = old.satisfaction if old is not None and old.satisfaction != _NO_FEEDBACK else None
        sat_new = new.satisfaction if new is not None and new.satisfaction != _NO_FEEDBACK else None
        if sat_old is not None and sat_new is not None and sat_old == sat_new:
            sat_old = sat_new = None
        return PartChange(
            part,
            {activity: n for activity, n in counts.items() if n},
            sat_old,
            sat_new,
            (new is not None) - (old is not None),
            new.latest if new is not None else None,
        )


class PartTally:
    """One part's share of a period: the hours it has counts in, and its activities. One
    object per part, not a dict of each: an hour rolled into a period updates both with one
    lookup, where two dicts took four dict operations (2.5 % of the fold)."""

    hours: int
    activities: int

    def __init__(self) -> None:
        self.hours = 0
        self.activities = 0


class PeriodAgg:
    """Counters of one scope in one period, summed over its hour records. Plain dicts: wide
    input builds tens of thousands of these (a plain class, as `PartChange`)."""

    by_type: dict[str, int]
    satisfaction: Satisfaction
    #: latest event time seen from hour records, and the part (team of a rep) it came from
    latest: float
    latest_part: str
    #: parts (teams of a rep, reps of a team) with hour counts in the period, and their
    #: activities there (a team's members' activities: its medians)
    parts: dict[str, PartTally]

    def __init__(self) -> None:
        self.by_type = {}
        self.satisfaction = Satisfaction()
        self.latest = 0.0
        self.latest_part = ""
        self.parts = {}

    def apply(self, change: PartChange) -> bool:
        """Apply what one part of one hour record (or of a whole day record: `presence`
        then counts its hours) changed by; returns whether the part joined the period or
        left it (its first hours in the period came, or its last went)."""
        by_type = self.by_type
        moved = 0
        for activity, delta in change.counts.items():
            moved += delta
            total = by_type.get(activity, 0) + delta
            if total:
                by_type[activity] = total
            else:
                del by_type[activity]
        if change.satisfaction_old is not None:
            self.satisfaction.add(change.satisfaction_old, -1)
        if change.satisfaction_new is not None:
            self.satisfaction.add(change.satisfaction_new, +1)
        regrouped = False
        if moved or change.presence:
            part = change.part
            tally = self.parts.get(part)
            if tally is None:
                tally = self.parts[part] = PartTally()
            tally.activities += moved
            if change.presence:
                tally.hours += change.presence
                regrouped = change.presence > 0 and tally.hours == change.presence
            if tally.hours <= 0:  # its last hour in the period went
                del self.parts[part]
                regrouped = True
        latest = change.latest
        if latest is not None and (
            latest > self.latest or (latest == self.latest and change.part >= self.latest_part)
        ):  # a tie of two parts at one instant goes to the greater (`_latest_part`)
            self.latest = latest
            self.latest_part = change.part
        return regrouped

    @property
    def activities_total(self) -> int:
        return sum(self.by_type.values())


@dataclass
class ScopeView:
    scope: str
    partition: int
    hours: dict[int, HourRecord] = field(default_factory=dict)
    #: hour -> spill number -> the hour's spill records (a busy hour's later events)
    spills: dict[int, dict[int, HourRecord]] = field(default_factory=dict)
    #: local day start -> the day's hours past the grace, encoded as in the table (decoded
    #: only when an hour of it is asked for): a long history is mostly day records, and
    #: decoded they took half of the views' memory; an hour record shadows its hour
    days: dict[int, bytes] = field(default_factory=dict)
    periods: dict[str, PeriodAgg] = field(default_factory=dict)
    deals: dict[str, DealFigure] = field(default_factory=dict)
    #: period -> deals closed (won or lost) in it, by occurred_at
    deal_periods: dict[str, set[str]] = field(default_factory=dict)
    #: period -> deals created in it (the cohort), by created_at
    cohort_periods: dict[str, set[str]] = field(default_factory=dict)
    #: period -> open or reopened deals expected to close in it, by expected_close_at
    pipeline_periods: dict[str, set[str]] = field(default_factory=dict)
    targets: dict[tuple[str, str], float] = field(default_factory=dict)
    alerts: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: (metric, period) -> the target's status at its last evaluation by this process: a
    #: status the clock moves (a period ending, a pace crossing) republishes the document
    statuses: dict[tuple[str, str], str] = field(default_factory=dict, compare=False)
    #: period -> rep -> what a rep with events in several teams in the period told the team
    #: (queries.team_members); every other rep's membership the team derives itself
    members: dict[str, dict[str, Member]] = field(default_factory=dict)
    member_sent: dict[str, list[str]] = field(default_factory=dict)
    #: a team's period -> rep -> (its closed deals, its revenue won) in the period: with the
    #: periods' parts (and their activities), what the team derives its members from
    closed_by_rep: dict[str, dict[str, tuple[int, Decimal]]] = field(default_factory=dict)
    #: a rep's period -> team -> its closed deals there: with the periods' parts, whether
    #: the rep had events in several teams, asked for every period a batch touches
    closed_teams: dict[str, dict[str, int]] = field(default_factory=dict)
    #: every part (a rep's team, a team's rep) that had counts or closed deals here since
    #: the views were built, gone ones too: a rep with one at most never had events in
    #: several teams, in any period (`never_told_teams`)
    parts_seen: set[str] = field(default_factory=set, compare=False)
    #: period -> the team's medians over its members (queries.team_medians), dropped whenever
    #: a member's figures change: the fold, the publisher and the API ask for them often
    medians: dict[str, Any] = field(default_factory=dict)
    #: period -> the revenue median alone, kept while only members' activities change (a
    #: rep's every event moves its activities; its revenue moves with a won deal)
    revenue_medians: dict[str, Any] = field(default_factory=dict)
    #: period -> its members and their figures (queries.team_members), dropped with `medians`
    member_figures: dict[str, Any] = field(default_factory=dict)
    #: period -> the team's medians as last announced to its members: what their quadrants
    #: are measured against (queries.announced_medians, ScopeProcessor.announce_due)
    announced: dict[str, Any] = field(default_factory=dict, compare=False)
    #: period -> when an announcement last moved those medians (epoch seconds): a member's
    #: figures still on their way then republish on arrival (ScopeProcessor.announce_due)
    medians_moved_at: dict[str, float] = field(default_factory=dict, compare=False)
    #: hour -> the event ids its records hold, for busy hours (`hour_ids`): a batch checks
    #: its events against them instead of building the set again from the records
    id_sets: dict[int, set[str]] = field(default_factory=dict)
    #: day period id -> its local start, shared by every view of one `Views`: how `agg`
    #: finds the day record of a day whose roll-up is left to it
    day_starts: dict[str, int] = field(default_factory=dict, compare=False, repr=False)

    def agg(self, period_id: str) -> PeriodAgg | None:
        """A period's roll-up. A day whose hours all lie in its day record (past the
        grace) keeps no roll-up: built here from the record when asked, it is what its
        hours summed to (`Views.leave_day_to_record`). A year of days held 39 % of the
        views' memory, and such a day's figures never move but for its day record."""
        agg = self.periods.get(period_id)
        if agg is not None or not self.days:
            return agg
        day = self.day_starts.get(period_id)
        if day is None or day not in self.days:
            return None
        return day_agg(self.day_record(day))

    def rolls_up(self, period_id: str) -> bool:
        """Does the view roll anything up in the period (held, or left to a day record)?"""
        if period_id in self.periods:
            return True
        day = self.day_starts.get(period_id) if self.days else None
        return day is not None and day in self.days

    def holds_records(self) -> bool:
        """Does the view hold any table record (a view rebuilt from the table exists only
        for a scope with one)?"""
        return bool(
            self.hours
            or self.spills
            or self.days
            or self.deals
            or self.targets
            or self.alerts
            or self.members
            or self.member_sent
        )

    def never_told_teams(self) -> bool:
        """A rep that never had events in several teams and never told a team about a
        period: it has nothing to tell any team (`in_several_teams` is False in every
        period), so a batch skips its periods without asking each (emit_memberships)."""
        return not self.member_sent and len(self.parts_seen) <= 1

    def members_moved(self, period_id: str, *, revenue: bool) -> None:
        """A member of the period joined, left or changed: drop what was derived from them
        (with `revenue`, the revenue median too). `in` and `del`, not `pop(key, None)`:
        compiled, the first two are native and pop is a generic method call, and this runs
        for each period of each team hour a batch changes."""
        if period_id in self.medians:
            del self.medians[period_id]
        if period_id in self.member_figures:
            del self.member_figures[period_id]
        if revenue and period_id in self.revenue_medians:
            del self.revenue_medians[period_id]

    @property
    def kind(self) -> str:
        return self.scope.split(":", 1)[0]

    @property
    def id(self) -> str:
        return self.scope.split(":", 1)[1]

    def hour_records(self, hour: int) -> list[HourRecord]:
        """The records that hold an hour: its first, then the spills it has not absorbed."""
        base = self.hours.get(hour)
        spills = self.spills.get(hour)
        if not spills:
            return [base] if base is not None else []
        absorbed = base.absorbed if base is not None else 0
        live = [spills[n] for n in sorted(spills) if n > absorbed]
        return [base, *live] if base is not None else live

    def holds_ids(self, hour: int) -> bool:
        """Do the hour's records still hold event ids (the pruning has not reached it)?"""
        if hour not in self.spills:  # the usual case: one record, no list of records built
            base = self.hours.get(hour)
            return base is not None and bool(base.ids)
        return any(record.ids for record in self.hour_records(hour))

    def hour_record(self, key: tuple[Any, ...]) -> HourRecord | None:
        """The record of an hour key: its first record, or spill `key[3]`."""
        if len(key) > 3:
            return self.spills.get(key[2], {}).get(key[3])
        return self.hours.get(key[2])

    def hour_ids(self, hour: int) -> AbstractSet[str]:
        """The ids of the events the hour's records count; read only. Kept (and updated as
        records are applied) once the hour holds BUSY_HOUR_IDS: building the set for each
        batch cost a busy hour O(its events) per batch."""
        known = self.id_sets.get(hour)
        if known is not None:
            return known
        ids = {i for record in self.hour_records(hour) for i in record.ids}
        if len(ids) >= BUSY_HOUR_IDS:
            self.id_sets[hour] = ids
        return ids

    def spill_numbers(self, hour: int) -> list[int]:
        """The numbers of an hour's spill records, absorbed ones included, in order."""
        return sorted(self.spills.get(hour, ()))

    def hour_parts(self, hour: int, day: int | None) -> dict[str, HourCounts]:
        """What an hour holds: its hour records' parts, else its day record's (or none)."""
        if hour not in self.spills:  # the usual case: one record, its parts as they are
            base = self.hours.get(hour)
            if base is not None:
                return base.parts
        else:
            records = self.hour_records(hour)
            if records:
                return merged_parts(records)
        # no hour record (most of wide input is a new hour): what its day record holds
        day_record = self.day_record(day) if day is not None else None
        if day_record is None or day is None:
            return {}
        return day_record.hour_parts((hour - day) // QUARTER_HOUR)

    def day_record(self, day: int) -> DayRecord | None:
        """A day record, decoded; read only. The last one decoded is kept: a Tick that
        folds a day deletes its hours one by one, and each asks for the day's parts."""
        raw = self.days.get(day)
        if raw is None:
            return None
        cached = _decoded_day[0]
        if cached is not None and cached[0] is raw:
            return cached[1]
        record: DayRecord = decode_value(DAY, raw)
        _decoded_day[0] = (raw, record)
        return record

    def every_hour(self) -> dict[int, dict[str, HourCounts]]:
        """Every hour with counts, from hour and day records, hour records first."""
        out = {hour: self.hour_parts(hour, None) for hour in {*self.hours, *self.spills}}
        for day, raw in self.days.items():
            record: DayRecord = decode_value(DAY, raw)
            for quarter in record.quarters():
                hour = day + quarter * QUARTER_HOUR
                if hour not in out:
                    out[hour] = record.hour_parts(quarter)
        return out

    def period(self, period_id: str) -> PeriodAgg:
        agg = self.agg(period_id)
        return agg if agg is not None else PeriodAgg()

    def deals_in(self, period_id: str) -> list[DealFigure]:
        """The deals closed (won or lost) in the period."""
        ids = self.deal_periods.get(period_id)
        return [self.deals[d] for d in sorted(ids)] if ids else []

    def cohort_in(self, period_id: str) -> list[DealFigure]:
        return [self.deals[d] for d in sorted(self.cohort_periods.get(period_id, ()))]

    def pipeline_in(self, period_id: str) -> list[DealFigure]:
        return [self.deals[d] for d in sorted(self.pipeline_periods.get(period_id, ()))]

    def deal_indexes(self) -> tuple[dict[str, set[str]], ...]:
        """The period -> deals indexes: closed, created (the cohort), open (the pipeline)."""
        return (self.deal_periods, self.cohort_periods, self.pipeline_periods)

    def deal_period_ids(self) -> set[str]:
        """Every period some deal falls in, by any of its instants."""
        return {period for index in self.deal_indexes() for period in index}

    def revenue_won(self, period_id: str) -> Decimal:
        return _revenue_won(self.deals_in(period_id))

    def latest_part(self, period_id: str) -> str | None:
        """The team on a rep's latest event in the period (activities, feedback, deals)."""
        return _latest_part(self.agg(period_id), self.deals_in(period_id))

    def in_several_teams(self, period_id: str) -> bool:
        """Were the rep's events in the period attributed to several teams (as
        `membership(period_id).teams` lists them)? From tallies: no deal is looked at."""
        agg = self.agg(period_id)
        teams = agg.parts.keys() if agg is not None else set()
        if len(teams) > 1:
            return True
        closed = self.closed_teams.get(period_id)
        return closed is not None and len(teams | closed.keys()) > 1

    def membership(self, period_id: str) -> Membership:
        """What a rep tells its teams about a period, its closed deals listed once."""
        agg = self.agg(period_id)
        deals = self.deals_in(period_id)
        return Membership(
            teams=_teams_in(agg, deals),
            latest=_latest_part(agg, deals),
            activities=agg.activities_total if agg is not None else 0,
            revenue=_revenue_won(deals),
        )


def day_agg(record: DayRecord | None) -> PeriodAgg | None:
    """A day's roll-up from its day record alone: each part's hours summed at once, as a
    rebuild rolls a whole day into its week (`_day_changes`; every hour of a part carries
    the day's latest time of the part). None for a record with no hour."""
    changes = _day_changes(record, +1) if record is not None else []
    if not changes:
        return None
    agg = PeriodAgg()
    for change in changes:
        agg.apply(change)
    return agg


class Membership:
    """A rep's teams in a period, the one on its latest event, and its figures there (a
    plain class, as `PartChange`)."""

    teams: set[str]
    latest: str | None
    activities: int
    revenue: Decimal

    def __init__(
        self, *, teams: set[str], latest: str | None, activities: int, revenue: Decimal
    ) -> None:
        self.teams = teams
        self.latest = latest
        self.activities = activities
        self.revenue = revenue


def _revenue_won(deals: list[DealFigure]) -> Decimal:
    return sum((Decimal(f.amount_base) for f in deals if f.outcome == "won"), Decimal(0))


def _latest_part(agg: PeriodAgg | None, deals: list[DealFigure]) -> str | None:
    """The team on a rep's latest event in a period: of events at one instant in several
    teams, the greatest team id, so that no order of delivery or batching changes it (the
    contract has no rule for that tie; a deal's own tie, between its events, is settled
    before: its current state)."""
    best: tuple[float, str] | None = (agg.latest, agg.latest_part) if agg else None
    for figure in deals:
        candidate = (figure.occurred_at, figure.team)
        if best is None or candidate >= best:
            best = candidate
    return best[1] if best else None


def _teams_in(agg: PeriodAgg | None, deals: list[DealFigure]) -> set[str]:
    teams = set(agg.parts) if agg else set()
    teams.update(f.team for f in deals)
    return teams


class Views:
    """Every scope this worker owns, rolled up per period."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.scopes: dict[str, ScopeView] = {}
        #: tuple[str, ...], not of four: compiled code keeps a fixed-length tuple unboxed and
        #: built a new one at each loop over an hour's periods (1.6 % of the fold)
        self._hour_periods: dict[int, tuple[str, ...]] = {}
        self._hour_days: dict[int, tuple[int, int]] = {}
        self.local_hours = LocalHours(tz)
        #: partition -> hour -> scopes whose records of the hour still hold event ids, so
        #: the ids of hours no event can reach any more are pruned without scanning every hour
        self.hours_with_ids: dict[int, dict[int, set[str]]] = {}
        #: partition -> local day start -> scope -> its hours of the day with a first hour
        #: record: what folds into day records once the day is past the grace (a Tick scanned
        #: every hour of every scope for it, a fifth of a second per partition a minute)
        self.hours_by_day: dict[int, dict[int, dict[str, set[int]]]] = {}
        #: partition -> deal scope -> its latest event time, of deals whose state still
        #: holds event ids: a Tick drops them once that time is past the grace, without
        #: reading every deal (no view rolls a deal's own state up; this is all it keeps)
        self.deals_with_ids: dict[int, dict[str, float]] = {}
        #: day period id -> local day start, of every day an hour or a day record was in
        #: (a few thousand strings at most, never cleared: ScopeView.agg reads it)
        self.day_starts: dict[str, int] = {}

    def clear(self) -> None:
        self.scopes.clear()
        self.hours_with_ids.clear()
        self.hours_by_day.clear()
        self.deals_with_ids.clear()

    def get(self, scope: str) -> ScopeView | None:
        return self.scopes.get(scope)

    def rep_part(self, rep: str, team: str, hour: int, part: HourCounts) -> HourCounts:
        """`part` (a rep's part of a team hour, decoded from the internal topic), or the
        equal part this worker's view of the rep's hour holds: the team hour then shares it
        instead of keeping a copy of each member's counts (a tenth of a wide fold's memory).
        Parts in the views are never changed in place, so sharing one is safe."""
        view = self.scopes.get("rep:" + rep)
        if view is None:
            return part
        record = view.hours.get(hour)
        if record is None or hour in view.spills:
            return part  # a busy hour's part is spread over its spill records
        held = record.parts.get(team)
        return held if held is not None and held == part else part

    def share_member_parts(self) -> int:
        """After a rebuild, each team hour decoded from the table holds its own copy of its
        members' parts: give it the rep hours' equal ones (`rep_part`), as the fold does.
        Only the values change, each for an equal one: no figure moves. Returns how many."""
        shared = 0
        for view in self.scopes.values():
            if view.kind != "team":
                continue
            team = view.id
            for hour, record in view.hours.items():
                parts = record.parts
                for rep, part in parts.items():
                    held = self.rep_part(rep, team, hour, part)
                    if held is not part:
                        parts[rep] = held  # an existing key: the dict keeps its size
                        shared += 1
        return shared

    def view(self, scope: str, partition: int) -> ScopeView:
        view = self.scopes.get(scope)
        if view is None:
            view = self.scopes[scope] = ScopeView(scope, partition, day_starts=self.day_starts)
        return view

    def hour_periods(self, hour: int) -> tuple[str, ...]:
        periods = self._hour_periods.get(hour)
        if periods is None:
            if len(self._hour_periods) >= MAX_CACHED_HOURS:
                self._hour_periods.clear()
            periods = periods_of(datetime.fromtimestamp(hour, UTC), self.tz)
            self._hour_periods[hour] = periods
            if periods[0] not in self.day_starts:
                self.day_starts[periods[0]] = self.day_of(hour)[0]
        return periods

    def day_of(self, hour: int) -> tuple[int, int]:
        """(start, end) epoch seconds of the local day holding an hour."""
        day = self._hour_days.get(hour)
        if day is None:
            if len(self._hour_days) >= MAX_CACHED_HOURS:
                self._hour_days.clear()
            date = local_date(datetime.fromtimestamp(hour, UTC), self.tz)
            start = int(local_midnight(date, self.tz).timestamp())
            end = int(local_midnight(date + timedelta(days=1), self.tz).timestamp())
            day = self._hour_days[hour] = (start, end)
        return day

    def instant_periods(self, epoch: float) -> tuple[str, ...]:
        """The periods of an instant are those of its local hour (a day holds whole hours)."""
        return self.hour_periods(self.local_hours.start_of_epoch(epoch))

    def in_partition(self, partition: int) -> list[ScopeView]:
        """The views of one partition's scopes (a list: a caller may add views meanwhile)."""
        return [view for view in self.scopes.values() if view.partition == partition]

    def folded_until(self, partition: int) -> float:
        """The end of the latest day record, or of the latest rep hour pruned of its ids,
        that the partition's scopes hold (0.0: none). Ticks fold and prune oldest first,
        up to their horizon: every event time before this instant was folded, so state
        written before the folded instant was recorded (processor.FOLDED_BEFORE) still
        keeps it late."""
        until = 0.0
        for view in self.in_partition(partition):
            if view.days:
                until = max(until, self.day_of(max(view.days))[1])
            if view.scope.startswith("rep:"):  # a team's hours never hold ids
                for hour, record in view.hours.items():
                    if not record.ids and hour + HOUR_SECONDS > until:
                        until = float(hour + HOUR_SECONDS)
        return until

    def forget_before(self, partition: int, dropped: Callable[[str], bool]) -> None:
        """Drop what the partition's views derived for periods before SALES_RETENTION's
        horizon, once their records are deleted (processor.cut_to_horizon): empty roll-ups,
        memberships, alerts and medians. A deal's figure went with its record (`apply`),
        and the periods indexing only it with it. A view left with no record goes, as a
        view rebuilt from the table would never have been."""
        for view in self.in_partition(partition):
            for held in (
                view.periods,
                view.members,
                view.member_sent,
                view.medians,
                view.revenue_medians,
                view.member_figures,
                view.announced,
                view.medians_moved_at,
            ):
                for period_id in [p for p in held if dropped(p)]:
                    del held[period_id]
            for pair in [pair for pair in view.alerts if dropped(pair[1])]:
                del view.alerts[pair]
            for pair in [pair for pair in view.statuses if dropped(pair[1])]:
                del view.statuses[pair]
            if not view.holds_records():  # as unknown as after a restart: 404, not zeros
                del self.scopes[view.scope]

    def rolled_up_periods(self, view: ScopeView) -> set[str]:
        """The periods the view rolls hours up in: held, or left to a day record."""
        return {*view.periods, *(self.hour_periods(day)[0] for day in view.days)}

    def recent_scope_periods(self, since: datetime) -> set[tuple[str, str]]:
        """(scope, period) of every rep and team period with data that ends after `since`."""
        out: set[tuple[str, str]] = set()
        # a few hundred distinct periods among a year of them per scope: each parsed once
        # (parsing each pair took 1.3 s of a restart on a year of 1,000 reps)
        recent: dict[str, bool] = {}
        for scope, view in self.scopes.items():
            if view.kind not in ("rep", "team"):
                continue
            for period_id in {*self.rolled_up_periods(view), *view.deal_period_ids()}:
                ends_after = recent.get(period_id)
                if ends_after is None:
                    ends_after = recent[period_id] = parse_period(period_id, self.tz).end > since
                if ends_after:
                    out.add((scope, period_id))
        return out

    def drop_partitions(self, keep: Iterable[int]) -> None:
        kept = set(keep)
        for scope in [s for s, v in self.scopes.items() if v.partition not in kept]:
            del self.scopes[scope]
        for index in (self.hours_with_ids, self.hours_by_day, self.deals_with_ids):
            for partition in [p for p in index if p not in kept]:
                del index[partition]

    def apply(
        self, key: tuple[Any, ...], partition: int, new: Any, raw: bytes | None = None
    ) -> Collection[str]:
        """Apply one record's new value (None: deleted); return the period ids whose figures
        it changed. The views hold every record as the table does, so the old value is the
        one they hold: the fold need not decode what it replaces. They keep `new` itself, so
        the fold must not change a value after handing it over (it never writes a record twice
        in a batch once its first flush has passed). `raw`: its encoding, if known."""
        scope, kind = key[0], key[1]
        if kind == DEAL_STATE and scope:
            self._index_deal_ids(scope, partition, new)
            return set()
        if not scope or kind not in VIEWED_KINDS:
            return set()  # account and stream-time state: the fold reads it, no query does
        view = self.view(scope, partition)
        if kind == HOUR:
            return self._apply_hour(view, key, new)
        if kind == DAY:
            day = key[2]
            old_day = view.day_record(day)
            if new is None:
                view.days.pop(day, None)
            else:
                view.days[day] = raw if raw is not None else encode_value(new)
            # with no hour record of the day, before or after, its roll-up is its record's
            left = not self.holds_hours_of(view, day)
            changed = self._apply_day(view, day, old_day, new, left_to_record=left)
            if left:
                self.leave_day_to_record(view, day)
            return changed
        if kind == DEAL:
            figure = shared_strings(new.figure) if new is not None else None
            return self._apply_deal(view, key[2], view.deals.get(key[2]), figure)
        if kind == TARGET:
            if new is None:
                view.targets.pop((key[2], key[3]), None)
            else:
                view.targets[(key[2], key[3])] = new
            return {key[3]}
        if kind == ALERTS:
            view.alerts[(key[2], key[3])] = list(new or [])
            return set()
        if kind == MEMBER:
            period, rep = key[2], key[3]
            old = view.members.get(period, {}).get(rep)
            view.members_moved(
                period,
                revenue=old is None
                or new is None
                or (old.member, old.revenue) != (new.member, new.revenue),
            )
            if new is None:
                view.members.get(period, {}).pop(rep, None)
            else:
                view.members.setdefault(period, {})[rep] = new
            return {period}
        if kind == MEMBER_SENT:
            view.member_sent[key[2]] = list(new or [])
            return set()
        return set()

    def _apply_hour(
        self, view: ScopeView, key: tuple[Any, ...], new: HourRecord | None
    ) -> tuple[str, ...]:
        hour = key[2]
        # no hour record before or after: the hour is what its day record holds, if any
        day = self.day_of(hour)[0] if view.days else None
        if day is not None and day in view.days:
            self.take_day_from_record(view, day)
        before = view.hour_parts(hour, day)
        if hour in view.id_sets:
            _update_ids(view, hour, view.hour_record(key), new)
        if len(key) > 3:
            spills = view.spills.setdefault(hour, {})
            if new is None:
                spills.pop(key[3], None)
                if not spills:
                    del view.spills[hour]
            else:
                spills[key[3]] = new
        elif new is None:
            if view.hours.pop(hour, None) is not None:
                self._index_hour(view, hour, present=False)
        else:
            if hour not in view.hours:
                self._index_hour(view, hour, present=True)
            view.hours[hour] = new
        after = view.hour_parts(hour, day)
        _index(
            self.hours_with_ids.setdefault(view.partition, {}),
            hour,
            view.scope,
            present=view.holds_ids(hour),
        )
        changed = self._apply_parts(view, hour, before, after)
        # the last hour record of a day with a day record went
        if (
            day is not None
            and new is None
            and day in view.days
            and not self.holds_hours_of(view, day)
        ):
            self.leave_day_to_record(view, day)
        return changed

    def holds_hours_of(self, view: ScopeView, day: int) -> bool:
        """Does the view hold an hour record (a first one or a spill) of the local day?"""
        if self.hours_by_day.get(view.partition, {}).get(day, {}).get(view.scope):
            return True
        if not view.spills:
            return False
        end = self.day_of(day)[1]
        return any(day <= hour < end for hour in view.spills)

    def take_day_from_record(self, view: ScopeView, day: int) -> None:
        """An hour record of a day left to its day record comes (a rebuild of a Tick cut
        short between the two): the day's roll-up is held again, from the record, before
        the hour changes it."""
        period_id = self.hour_periods(day)[0]
        if period_id not in view.periods and not self.holds_hours_of(view, day):
            agg = day_agg(view.day_record(day))
            view.periods[period_id] = agg if agg is not None else PeriodAgg()

    def leave_day_to_record(self, view: ScopeView, day: int) -> None:
        """A day with a day record and no hour record (a Tick folded it, or a rebuild
        read it) drops its roll-up, built from the record when asked (`ScopeView.agg`)."""
        view.periods.pop(self.hour_periods(day)[0], None)

    def _index_deal_ids(self, scope: str, partition: int, state: DealState | None) -> None:
        if state is None or not state.ids or state.current is None:
            due = self.deals_with_ids.get(partition)
            if due is not None:
                due.pop(scope, None)
        else:
            self.deals_with_ids.setdefault(partition, {})[scope] = state.current.occurred_at

    def _index_hour(self, view: ScopeView, hour: int, *, present: bool) -> None:
        """Index (or no longer) an hour's first record under its local day."""
        by_day = self.hours_by_day.setdefault(view.partition, {})
        day = self.day_of(hour)[0]
        _index(by_day.setdefault(day, {}), view.scope, hour, present=present)
        if not by_day[day]:
            del by_day[day]

    def _apply_day(
        self,
        view: ScopeView,
        day: int,
        old: DayRecord | None,
        new: DayRecord | None,
        *,
        left_to_record: bool,
    ) -> set[str]:
        if left_to_record and (old is None or new is None):
            # a whole day comes (a rebuild) or goes (SALES_RETENTION) with no hour record:
            # one change per part for the day's week, month and quarter, not one per hour
            whole = new if new is not None else old
            if whole is None:
                return set()
            changes = _day_changes(whole, +1 if new is not None else -1)
            if not changes:
                return set()
            return set(self._roll(view, self.hour_periods(day), changes, skip_day=True))
        changed: set[str] = set()
        quarters = (old.quarters() if old is not None else set()) | (
            new.quarters() if new is not None else set()
        )
        for quarter in quarters:
            hour = day + quarter * QUARTER_HOUR
            if view.hour_records(hour):
                continue  # the hour records hold this hour's truth
            old_parts = old.hour_parts(quarter) if old is not None else {}
            new_parts = new.hour_parts(quarter) if new is not None else {}
            changed.update(
                self._apply_parts(view, hour, old_parts, new_parts, skip_day=left_to_record)
            )
        return changed

    def _apply_parts(
        self,
        view: ScopeView,
        hour: int,
        old_parts: dict[str, HourCounts],
        new_parts: dict[str, HourCounts],
        *,
        skip_day: bool = False,
    ) -> tuple[str, ...]:
        """Roll what an hour's parts changed by into the hour's periods; returns those whose
        figures moved. `skip_day`: the day's roll-up is left to its day record."""
        changes = _part_changes(old_parts, new_parts)
        if not changes:
            return ()
        return self._roll(view, self.hour_periods(hour), changes, skip_day=skip_day)

    def _roll(
        self,
        view: ScopeView,
        periods: tuple[str, ...],
        changes: list[PartChange],
        *,
        skip_day: bool,
    ) -> tuple[str, ...]:
        """Roll part changes into periods (a day's, then its week's, month's and
        quarter's); returns the periods if a figure moved."""
        seen = view.parts_seen
        for c in changes:
            seen.add(c.part)
        # a day record gives each hour of a part the day's latest time, which the periods
        # already hold: an hour moving into its day record changes no figure
        moved = False
        for c in changes:
            if (
                c.counts
                or c.presence
                or c.satisfaction_new is not None
                or c.satisfaction_old is not None
            ):
                moved = True
                break
        aggs = view.periods
        #: periods a part joined or left: a team's members there changed, and so may the
        #: revenue median (a member without revenue counts); the usual new hour of a part
        #: already in the period leaves it as it was
        regrouped: list[str] = []
        for period_id in periods[1:] if skip_day else periods:
            agg = aggs.get(period_id)
            if agg is None:
                agg = aggs[period_id] = PeriodAgg()
            if moved:  # the usual case: no need to watch the latest event time
                joined = False
                for change in changes:
                    if agg.apply(change):
                        joined = True
                if joined:
                    regrouped.append(period_id)
                continue
            latest, latest_part = agg.latest, agg.latest_part
            for change in changes:
                agg.apply(change)  # no count, no presence: no part joins or leaves
            moved = latest != agg.latest or latest_part != agg.latest_part
        if view.medians or view.revenue_medians or view.member_figures:
            # a team's members and their activities come from its hours (queries.team_members)
            for period_id in periods:
                view.members_moved(period_id, revenue=period_id in regrouped)
        return periods if moved else ()

    def _apply_deal(
        self, view: ScopeView, deal_id: str, old: DealFigure | None, new: DealFigure | None
    ) -> set[str]:
        if old is not None and new is not None and _placed_alike(old, new):
            # most contributions only add a touch (an activity carrying the deal_id): the
            # deal stays in the same periods with the same revenue, so no index, tally or
            # member figure moves; its periods' figures (touches) do
            view.deals[deal_id] = new
            return {
                period_id
                for _, instant in self._deal_instants(view, new)
                for period_id in self.instant_periods(instant)
            }
        changed: set[str] = set()
        if old is not None:
            for index, instant in self._deal_instants(view, old):
                for period_id in self.instant_periods(instant):
                    # an emptied period goes, as from views rebuilt from the table (a scope
                    # with nothing else there is left out of /metrics either way); its
                    # documents are republished, with the deal's figures gone
                    _index(index, period_id, deal_id, present=False)
                    changed.add(period_id)
            view.deals.pop(deal_id, None)
        if new is not None:
            for index, instant in self._deal_instants(view, new):
                for period_id in self.instant_periods(instant):
                    index.setdefault(period_id, set()).add(deal_id)
                    changed.add(period_id)
            view.deals[deal_id] = new
        if view.scope.startswith("team:"):
            _count_closed(self, view, old, -1)
            _count_closed(self, view, new, +1)
        else:
            _count_closed_team(self, view, old, -1)
            _count_closed_team(self, view, new, +1)
        for period_id in changed:  # a team's members' revenue comes from its deals
            view.members_moved(period_id, revenue=True)
        return changed

    @staticmethod
    def _deal_instants(
        view: ScopeView, figure: DealFigure
    ) -> list[tuple[dict[str, set[str]], float]]:
        """The period indexes a deal belongs to, each with the instant that places it."""
        out: list[tuple[dict[str, set[str]], float]] = []
        if figure.closed:
            out.append((view.deal_periods, figure.occurred_at))
        if figure.created_at is not None:
            out.append((view.cohort_periods, figure.created_at))
        if figure.expected_close_at is not None and not figure.closed:
            out.append((view.pipeline_periods, figure.expected_close_at))
        return out


def _part_changes(
    old_parts: dict[str, HourCounts], new_parts: dict[str, HourCounts]
) -> list[PartChange]:
    """What each part of an hour changed by. Only the parts that changed: a team's hour
    has a part per rep, and a batch usually changes one of them (the fold's copy of a team
    hour shares the others: `is`)."""
    changes = []
    for part, new in new_parts.items():
        old = old_parts.get(part)
        if old is not new and old != new:
            changes.append(PartChange.between(part, old, new))
    for part, old in old_parts.items():
        if part not in new_parts:
            changes.append(PartChange.between(part, old, None))
    return changes


def shared_strings(figure: DealFigure | None) -> DealFigure | None:
    """The figure with its names and vocabulary words (rep, team, outcome, source, kind,
    lost reason, stage) as one shared string each: decoded, every figure carried copies of
    its own, 6.8 of the 54.2 MiB of views of a year of 200 reps (bench.retention_state)."""
    if figure is None:
        return None
    return msgspec.structs.replace(
        figure,
        outcome=intern(figure.outcome),
        rep=intern(figure.rep),
        team=intern(figure.team),
        source=intern(figure.source),
        kind=intern(figure.kind),
        lost_reason=intern(figure.lost_reason),
        stage=intern(figure.stage),
    )


def _day_changes(record: DayRecord, sign: int) -> list[PartChange]:
    """What a whole day record adds (sign 1) or takes away (-1), per part: its hours'
    counts and feedback summed, and how many hours it has counts in."""
    changes = []
    for name, part in record.parts.items():
        if not part.hours:
            continue
        counts: dict[str, int] = {}
        satisfaction = Satisfaction()
        feedback = False
        for tally in part.hours.values():
            for activity, n in tally.counts.items():
                counts[activity] = counts.get(activity, 0) + sign * n
            if tally.satisfaction is not None and tally.satisfaction != _NO_FEEDBACK:
                satisfaction.add(tally.satisfaction)
                feedback = True
        changes.append(
            PartChange(
                name,
                {activity: n for activity, n in counts.items() if n},
                satisfaction if feedback and sign < 0 else None,
                satisfaction if feedback and sign > 0 else None,
                sign * len(part.hours),
                part.latest if sign > 0 else None,
            )
        )
    return changes


def _placed_alike(old: DealFigure, new: DealFigure) -> bool:
    """Do two figures of a deal fall in the same periods, with the same outcome, revenue
    and owner? Then the views' indexes and tallies hold for both."""
    return (
        old.occurred_at == new.occurred_at
        and old.outcome == new.outcome
        and old.amount_base == new.amount_base
        and old.rep == new.rep
        and old.team == new.team
        and old.created_at == new.created_at
        and old.expected_close_at == new.expected_close_at
    )


def _count_closed(views: Views, view: ScopeView, figure: DealFigure | None, sign: int) -> None:
    """Add (sign 1) or take away (-1) a closed deal of a team to its rep's tally."""
    if figure is None or not figure.closed:
        return
    won = Decimal(figure.amount_base) if figure.outcome == "won" else _ZERO
    for period_id in views.instant_periods(figure.occurred_at):
        of_period = view.closed_by_rep.setdefault(period_id, {})
        count, revenue = of_period.get(figure.rep, (0, _ZERO))
        count += sign
        if count:
            of_period[figure.rep] = (count, revenue + sign * won)
        else:
            del of_period[figure.rep]
            if not of_period:
                del view.closed_by_rep[period_id]


def _index(index: dict[Any, set[Any]], key: Any, member: Any, *, present: bool) -> None:
    """Add `member` to the set under `key`, or take it out (an emptied set goes)."""
    members = index.get(key)
    if present:
        if members is None:
            index[key] = {member}
        else:
            members.add(member)
    elif members is not None:
        members.discard(member)
        if not members:
            del index[key]


def _update_ids(view: ScopeView, hour: int, old: HourRecord | None, new: HourRecord | None) -> None:
    """Keep a busy hour's id set: a record that only gained ids (the fold appends) adds
    them; any other change (pruned, absorbed, deleted) drops the set, built again if asked."""
    if new is None or (old is not None and len(new.ids) < len(old.ids)):
        del view.id_sets[hour]
        return
    known = 0
    if old is not None and old.ids:
        known = len(old.ids)
        if new.ids[known - 1] != old.ids[-1]:  # not the same list grown: build it again
            del view.id_sets[hour]
            return
    view.id_sets[hour].update(islice(new.ids, known, None))


def _count_closed_team(views: Views, view: ScopeView, figure: DealFigure | None, sign: int) -> None:
    """Add (sign 1) or take away (-1) a closed deal of a rep to its team's tally."""
    if figure is None or not figure.closed:
        return
    view.parts_seen.add(figure.team)
    for period_id in views.instant_periods(figure.occurred_at):
        of_period = view.closed_teams.setdefault(period_id, {})
        count = of_period.get(figure.team, 0) + sign
        if count:
            of_period[figure.team] = count
        else:
            del of_period[figure.team]
            if not of_period:
                del view.closed_teams[period_id]


_ZERO = Decimal(0)
