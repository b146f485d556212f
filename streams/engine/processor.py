"""The scope processor: folds one envelope of items into the scopes table.

Pure logic: it reads records through a `get` callable, returns the records to write, the
items to send on, dead letters and alerts, and never touches Kafka itself. The worker's
batch handler (streams/worker/batch_handler.py) feeds it one partition's envelopes at a
time and applies what it returns, so each table key is written at most once per batch and
all writes of a batch land in one changelog partition, in order.

Crash safety under at-least-once delivery rests on three rules:
- the ids of the events counted in an hour live in the same record as the counts, so a
  replayed event is recognised as seen exactly when its count survived;
- everything sent on to other scopes is an absolute value, re-sent whenever a batch touches
  it, even if the batch was all replays: a lost send is repaired and a repeated one is
  harmless;
- the partition's stream time is written last, after the records it was derived from.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from streams.domain.alert_settling import AlertSettling
from streams.domain.deal_breakdowns import NEW_BUSINESS, UNKNOWN, UNSPECIFIED
from streams.domain.events import MAX_DEAL_ID, Activity, Deal, Feedback
from streams.domain.figures import is_high
from streams.domain.money import FxRates, UnknownCurrency
from streams.domain.periods import rfc3339
from streams.domain.retention import Retention
from streams.domain.targets import TargetEvaluation, alerts_due
from streams.domain.validation import MAX_DETAIL_CHARS, Rejection, decode_payload
from streams.domain.vocabulary import (
    LATE_EVENT,
    PROCESSING_ERROR,
    UNKNOWN_CURRENCY,
)
from streams.engine.account_wins import AccountWinsSet
from streams.engine.deal_ids import DealEventIds
from streams.engine.deal_touches import DealTouches
from streams.engine.former_parties import FORMER_ACCOUNT_CHARS, FORMER_OWNERS, remember
from streams.engine.hour_slot import HourSlot
from streams.engine.items import (
    AccountDealItem,
    DealContribution,
    DealFigure,
    DecodedEvent,
    FirstWinItem,
    Foldable,
    ForgetTouches,
    HourCounts,
    Item,
    MemberItem,
    RawEvent,
    Republish,
    TargetItem,
    TeamHourItem,
    Tick,
    TouchItem,
)
from streams.engine.queries import (
    TeamMedians,
    actual_shown,
    member_rows,
    target_evaluations,
    team_medians,
)
from streams.engine.rollups import APPLIED_KINDS, HOUR_SECONDS, ScopeView, Views
from streams.engine.state import (
    ALERTS,
    DAY,
    DEAL,
    DEAL_STATE,
    DERIVED_MEMBERS,
    FOLD_SETTINGS,
    FOLDED_BEFORE,
    FORGOT_TOUCHES,
    HOUR,
    MAX_IDS_PER_RECORD,
    MEMBER,
    MEMBER_SENT,
    NOT_A_MEMBER,
    QUARTER_HOUR,
    STREAM_TIME,
    TARGET,
    DayRecord,
    DealSlot,
    DealState,
    DealVersion,
    FoldSettings,
    HourRecord,
    Member,
    decode_value,
    encode_key,
    encode_value,
    merged_parts,
    read_folded_before,
    read_stream_time,
)

#: hour records (and deal states) pruned of their event ids per Tick and partition
PRUNE_PER_TICK = 20_000
#: hour records folded into day records per Tick and partition
COMPACT_PER_TICK = 20_000
#: a day's hour records are not folded into one larger than this (too_large_for_a_day)
DAY_RECORD_MAX_BYTES = 3 * 1024 * 1024
#: parts of hours below which a day record cannot come near DAY_RECORD_MAX_BYTES
DAY_PART_HOURS_CHECKED = 5_000
#: records of periods before SALES_RETENTION's horizon deleted per Tick and partition
RETAIN_PER_TICK = 100_000
#: the old bytes of a record taken from the views, not read: never equal to an encoded value
#: (0xc1 is the one byte msgpack never uses), so a put of it is always written
_UNREAD = b"\xc1"


class UndecodablePayload(ValueError):
    """A payload ingestion accepted that no longer decodes (a different rates file, say)."""


_NOTHING_AHEAD = float("-inf")


def _decoded(raw: RawEvent) -> Any:
    event = decode_payload(raw.kind, raw.payload)
    if isinstance(event, Rejection):
        raise UndecodablePayload(f"{event.reason}: {event.detail}")
    return event


@dataclass(frozen=True)
class DeadLetter:
    raw: RawEvent
    reason: str
    detail: str


@dataclass
class BatchResult:
    writes: dict[bytes, bytes | None] = field(default_factory=dict)
    outbox: list[Item] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    #: scope -> periods whose figures changed, for the performance topic (per scope: a
    #: pair per period and record cost 3 % of the fold)
    changed: dict[str, set[str]] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)
    duplicates: Counter[str] = field(default_factory=Counter)
    #: (team, rep, activity) -> activities applied
    activities: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    #: seconds between event time and now, per applied event
    lags: list[float] = field(default_factory=list)
    #: (team, rep) -> latest event time of an activity applied in this batch
    last_activity: dict[tuple[str, str], float] = field(default_factory=dict)
    #: records deleted as before SALES_RETENTION's horizon (a Tick), and that horizon
    dropped_records: int = 0
    dropped_before: float = 0.0

    def changed_pairs(self) -> list[tuple[str, str]]:
        """(scope, period) of every figure that changed."""
        return [(scope, period) for scope, periods in self.changed.items() for period in periods]


def _first_scope_hours(
    by_hour: dict[int, set[str]], hours: list[int], limit: int
) -> list[tuple[str, int]]:
    """The first `limit` (scope, hour) pairs of these hours, without listing the rest: a
    long backlog of old hours is worked through a Tick at a time."""
    pairs: list[tuple[str, int]] = []
    for hour in hours:
        for scope in sorted(by_hour[hour]):
            if len(pairs) == limit:
                return pairs
            pairs.append((scope, hour))
    return pairs


def alert_id(scope: str, metric: str, period: str, kind: str, sequence: int) -> str:
    """Stable id: a replay after a crash re-sends the same alert with the same id."""
    text = f"{scope}\x1f{metric}\x1f{period}\x1f{kind}\x1f{sequence}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return digest[:32]


#: a team's medians are announced to its members (queries.announced_medians) at most this
#: often per partition: computed after every batch that touched a team, they took a fifth of
#: the fold's instructions on wide data, and most were replaced a batch later
ANNOUNCE_SECONDS = 1.0
#: ... and at most this often while the worker drains a backlog (`ScopeProcessor.draining`):
#: sales.performance steps back then anyway, and the announcements (fresh medians for every
#: team period a batch touched, then a republish per member whose quadrant moved) took some
#: 5-15 % of the worker's CPU draining wide data (alternate runs: bench/HISTORY.md)
DRAINING_ANNOUNCE_SECONDS = 5.0
#: how far two workers' clocks may disagree: a rep's figures sent (by the sender's clock)
#: up to this long after the team's medians moved (by the team's) still republish on arrival
SEND_CLOCK_SLACK_SECONDS = 60.0


class ScopeProcessor:
    def __init__(
        self,
        *,
        views: Views,
        fx: FxRates,
        tz: ZoneInfo,
        late_grace_seconds: float,
        at_risk_pace: float,
        announce_seconds: float = ANNOUNCE_SECONDS,
        draining_announce_seconds: float = DRAINING_ANNOUNCE_SECONDS,
        retention: Retention | None = None,
        alert_settle_seconds: float = 0.0,
    ) -> None:
        self.views = views
        #: once-only alerts seen due, held until they settle (SALES_ALERT_SETTLE)
        self.settling = AlertSettling(alert_settle_seconds)
        #: SALES_RETENTION: the periods before its horizon keep no state here
        self.retention = retention if retention is not None else Retention(None, tz)
        #: partition -> the horizon its state was last cut to, in this process (a
        #: restarted worker cuts again at its first Tick)
        self.retained_from: dict[int, float] = {}
        self.fx = fx
        self.tz = tz
        self.late_grace = late_grace_seconds
        self.at_risk_pace = at_risk_pace
        self.announce_seconds = announce_seconds
        self.draining_announce_seconds = draining_announce_seconds
        #: the worker is draining a backlog (its last input fetch came back full): medians
        #: are announced at most every `draining_announce_seconds`, and the worker waits
        #: for each batch's sends (batch_handler.hand_over)
        self.draining = False
        #: partitions whose first batch in this process ran: memberships known to follow
        #: the derived rule, fold settings recorded
        self.members_checked: set[int] = set()
        #: partition -> (team scope, period) -> rep -> when the earliest of its figures that
        #: reached the team since its medians in the period were last announced was sent
        #: (epoch seconds; in memory: a restarted owner republishes every period an event can
        #: still reach)
        self.unannounced: dict[int, dict[tuple[str, str], dict[str, float]]] = {}
        #: (team scope, period) whose last announcement was lost with the views that held
        #: it: the next one republishes every member (`members_unannounced`)
        self.announcement_lost: set[tuple[str, str]] = set()
        #: partition -> when its teams' medians were last announced (epoch seconds)
        self.announced_at: dict[int, float] = {}
        #: (scope, day) whose hours stay in hour records: too many for one day record
        self.days_too_large: set[tuple[str, int]] = set()

    def announce_due(self, partition: int, now: float, *, force: bool = False) -> list[Republish]:
        """Announce the medians of the partition's teams whose members changed, if the
        last announcement is ANNOUNCE_SECONDS old (DRAINING_ANNOUNCE_SECONDS while the worker
        drains a backlog; or `force`): the reps whose quadrant may have moved republish.

        A rep's quadrant is measured against its team's announced medians, never against
        medians between two announcements, so comparing each announcement with the one
        before finds every document whose quadrant moved. A member whose figures reached
        the team since then republishes if the medians moved after those figures were sent
        (less SEND_CLOCK_SLACK_SECONDS): its document counted figures the team did not have
        when it compared, and may have been measured against medians since replaced,
        however long the figures took to arrive. Called after each batch and by the
        worker's timer, so an idle partition's last changes are announced too.
        """
        pending = self.unannounced.get(partition)
        if not pending:
            return []
        interval = self.announce_seconds
        if self.draining and self.draining_announce_seconds > interval:
            interval = self.draining_announce_seconds
        if not force and now - self.announced_at.get(partition, -1e18) < interval:
            return []
        self.announced_at[partition] = now
        del self.unannounced[partition]
        out: list[Republish] = []
        for (scope, period_id), changed in pending.items():
            view = self.views.get(scope)
            lost = (scope, period_id) in self.announcement_lost
            if lost:
                self.announcement_lost.discard((scope, period_id))
            if view is None:
                continue
            before: TeamMedians | None = view.announced.get(period_id)
            after = team_medians(view, period_id)
            view.announced[period_id] = after
            if lost:  # its members' documents were measured against medians now unknown
                out.extend(
                    Republish("rep:" + row[0], period_id) for row in member_rows(view, period_id)
                )
                continue
            if before is None:
                continue  # no document used other medians
            if after != before:
                moved_at = view.medians_moved_at[period_id] = now
            else:
                moved_at = view.medians_moved_at.get(period_id, -1e18)
                if moved_at < sent_floor(min(changed.values(), default=now), now):
                    continue  # no document of a member used other medians
            # in the team's member order, unsorted: a republish only marks the rep's
            # document, so no order of them means anything (medians that did not move
            # move no quadrant: only members whose figures reached the team republish)
            out.extend(
                Republish("rep:" + rep, period_id)
                for rep, activities, revenue in member_rows(view, period_id)
                if (rep in changed and moved_at >= sent_floor(changed[rep], now))
                or quadrant_moved(activities, revenue, before, after)
            )
        return out

    def members_unannounced(self, team_periods: Iterable[tuple[int, str, str]]) -> None:
        """The views were built anew (a restart, a rebalance): what each team last announced
        went with the old ones, and its members' documents on sales.performance were
        measured against it. The next announcement of each (partition, team scope, period)
        given republishes every member, measured against the medians announced from then
        on; a kill before it loses nothing, the next rebuild asks again."""
        for partition, scope, period_id in team_periods:
            self.unannounced.setdefault(partition, {}).setdefault((scope, period_id), {})
            self.announcement_lost.add((scope, period_id))

    def members_reached(
        self, partition: int, changed: dict[str, dict[str, set[str]]], sent: float
    ) -> None:
        """Reps whose figures reached their teams in a batch (team -> period -> reps), to
        announce (`announce_due`); `sent`: when the earliest of the batch's internal records
        was sent."""
        if not changed:
            return
        pending = self.unannounced.setdefault(partition, {})
        for team, by_period in changed.items():
            for period_id, reps in by_period.items():
                team_period = (team, period_id)
                known = pending.get(team_period)
                if known is None:
                    pending[team_period] = dict.fromkeys(reps, sent)
                    continue
                for rep in reps:
                    earlier = known.get(rep)
                    if earlier is None or sent < earlier:
                        known[rep] = sent

    def process(
        self,
        partition: int,
        items: Sequence[Foldable],
        get: Callable[[bytes], bytes | None],
        now: datetime,
        sent: float | None = None,
    ) -> BatchResult:
        """Fold a batch; an input record whose handling raises is dead-lettered and the
        batch is folded again without it, so every other record still applies exactly.
        `sent`: when the earliest of the batch's internal records was sent (epoch seconds,
        the sender's clock; None: now).

        Handling only reads the views (they change in `finish`) and writes to the batch's
        own cache, so a fresh pass without the failing record starts from a clean state.
        A failure that belongs to no input record (an internal item, or `finish`) raises:
        the caller must stop without committing.
        """
        failed: dict[int, str] = {}
        while True:
            batch = _Batch(self, partition, get, now, sent)
            if partition not in self.members_checked:
                batch.resend_legacy_memberships()
                batch.record_fold_settings()
                batch.record_folded_before()
            index = -1
            try:
                for index, item in enumerate(items):
                    if index not in failed:
                        batch.handle(item)
            except Exception as exc:
                if index < 0 or not isinstance(items[index], RawEvent | DecodedEvent):
                    raise
                failed[index] = f"{type(exc).__name__}: {exc}"[:MAX_DETAIL_CHARS]
                continue
            result = batch.finish()
            self.members_checked.add(partition)
            for index, detail in sorted(failed.items()):
                failing = items[index]
                assert isinstance(failing, RawEvent | DecodedEvent)
                raw = failing if isinstance(failing, RawEvent) else failing.raw
                result.deadletters.append(
                    DeadLetter(raw, PROCESSING_ERROR, f"the fold raised {detail}; not applied")
                )
            return result


class _Batch:
    def __init__(
        self,
        proc: ScopeProcessor,
        partition: int,
        get: Callable[[bytes], bytes | None],
        now: datetime,
        sent: float | None,
    ) -> None:
        self.proc = proc
        self.partition = partition
        self.get = get
        self.now = now
        self.now_ts = now.timestamp()
        self.sent = self.now_ts if sent is None else sent
        self.result = BatchResult()
        # key bytes -> (key tuple, old bytes, current value)
        self.records: dict[bytes, tuple[tuple[Any, ...], bytes | None, Any]] = {}
        #: keys put since the last flush, in the order they were first put
        self.dirty: dict[bytes, None] = {}
        self.encoded_keys: dict[tuple[Any, ...], bytes] = {}
        self.stream_time_key = ("", STREAM_TIME, partition)
        self.stream_time = read_stream_time(get, partition) or 0.0  # 0.0: no event yet
        self.initial_stream_time = self.stream_time
        #: event times before it are in day records or hours pruned of their ids: late
        #: whatever the grace (raised since, it applies to later times only)
        self.folded_before_key = ("", FOLDED_BEFORE, partition)
        folded = read_folded_before(get, partition)
        self.folded_before = folded if folded is not None else 0.0
        self.folded_before_recorded = folded is not None
        #: SALES_RETENTION's horizon now (None: everything is kept): an event before it
        #: still counts for its deal, but no hour of it is kept (retention.py)
        self.horizon = proc.retention.horizon(now)
        self.cut = False
        self.touched_hours: set[tuple[str, int]] = set()
        self.slots: dict[tuple[str, int], HourSlot] = {}
        self.touched_deals: set[str] = set()
        self.touches_of: dict[str, DealTouches] = {}
        self.ids_of: dict[str, DealEventIds] = {}
        self.accounts_of: dict[str, AccountWinsSet] = {}
        #: deals that had events of their own in this batch (replays included)
        self.deals_with_events: set[str] = set()
        #: account scope -> its first win before this batch, and the deals that reported
        self.first_before: dict[str, tuple[float, str] | None] = {}
        self.account_askers: dict[str, set[str]] = {}
        self.rep_periods: dict[str, set[str]] = {}
        self.eval_scopes: set[str] = set()
        #: team scope -> period -> reps whose membership or figures changed in this batch
        #: (nested: a pair per period of each team hour cost 1 % of the fold)
        self.members_changed: dict[str, dict[str, set[str]]] = {}
        #: a Tick asks for the pruning of event ids no event can reach any more
        self.sweep = False
        #: the folded instant of the written state, as the Tick said (None: not said)
        self.written_folded_before: float | None = None
        #: deal_id -> touch ids its deal may forget (ForgetTouches), gathered by the sweep
        self.forgets: dict[str, list[str]] = {}
        #: rep partition -> before when it sent touches the deals here forgot (lazy)
        self.forgot: dict[int, float] | None = None
        #: the latest event time before the record being folded in its input partition
        #: (`DecodedEvent.ahead`): it counts for the record's lateness
        self.ahead = _NOTHING_AHEAD

    # -- record cache -----------------------------------------------------------------
    def key_bytes(self, key: tuple[Any, ...]) -> bytes:
        """A key's bytes, encoded once per batch (a record is usually loaded, then put)."""
        kb = self.encoded_keys.get(key)
        if kb is None:
            kb = self.encoded_keys[key] = encode_key(key)
        return kb

    def load(self, key: tuple[Any, ...]) -> Any:
        kb = self.key_bytes(key)
        entry = self.records.get(kb)
        if entry is not None:
            return entry[2]
        raw = self.get(kb)
        value = decode_value(key[1], raw) if raw is not None else None
        self.records[kb] = (key, raw, value)
        return value

    def load_team_hour(self, key: tuple[Any, ...]) -> HourRecord | None:
        """A team's hour record, copied from the views: a team hour holds a part per rep,
        and a batch replaces a few. The copy shares the unchanged parts with the views, so
        they see at once which parts changed (`Views._apply_parts`); a team's parts are
        replaced, never changed in place."""
        return self.load_hour(key, copy_parts=False)

    def load_rep_hour(self, key: tuple[Any, ...]) -> HourRecord | None:
        """A rep's hour record (first or spill), copied from the views with its parts,
        which an event changes in place."""
        return self.load_hour(key, copy_parts=True)

    def load_hour(self, key: tuple[Any, ...], *, copy_parts: bool) -> HourRecord | None:
        """An hour record copied from the views (which hold every record of the table as
        of this batch's start) instead of read and decoded: a busy hour's records hold a
        thousand event ids each."""
        kb = self.key_bytes(key)
        entry = self.records.get(kb)
        if entry is not None:
            value: HourRecord | None = entry[2]
            return value
        view = self.proc.views.get(key[0])
        held = view.hour_record(key) if view is not None else None
        if held is None:
            self.known_absent(key)
            return None
        parts = (
            {part: _copied(counts) for part, counts in held.parts.items()}
            if copy_parts
            else dict(held.parts)
        )
        value = HourRecord(
            ids=list(held.ids), parts=parts, absorbed=held.absorbed, touched=list(held.touched)
        )
        self.records[kb] = (key, _UNREAD, value)
        return value

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        kb = self.key_bytes(key)
        entry = self.records.get(kb)
        old = entry[1] if entry is not None else self.get(kb)
        self.records[kb] = (key, old, value)
        self.dirty[kb] = None

    def put_in_batch(self, keys: list[tuple[Any, ...]]) -> bool:
        """Whether this batch put any of these records (before its first flush)."""
        return any(self.key_bytes(key) in self.dirty for key in keys)

    def flush(self) -> None:
        """Encode changed records, hand them to the views; each key once per batch."""
        views = self.proc.views
        dirty, self.dirty = self.dirty, {}
        for kb in dirty:
            key, old_raw, value = self.records[kb]
            new_raw = encode_value(value) if value is not None else None
            if new_raw == old_raw:
                continue
            self.result.writes[kb] = new_raw
            if key[1] in APPLIED_KINDS:
                periods = views.apply(key, self.partition, value, new_raw)
                if periods:
                    self.changed(key[0], periods)
            # the next flush compares against what this one wrote
            self.records[kb] = (key, new_raw, value)

    # -- items --------------------------------------------------------------------------
    def handle(self, item: Foldable) -> None:
        # by exact type: items are final structs, and a member or republish item (most of
        # the internal topic) no longer walks a chain of isinstance checks
        _HANDLERS[type(item)](self, item)

    def handle_raw(self, item: RawEvent) -> None:
        """A record validated by another worker: decoded again, by the same decoder, and
        judged late against its reader's stream time too (a catch-up's deal 30 days older
        than the records before it was applied where its deal's partition had just begun)."""
        self.ahead = item.ahead
        event = _decoded(item)
        if item.kind == "deals":
            self.handle_deal(item, event)
        else:
            self.handle_rep_event(item, event)

    def handle_decoded(self, item: DecodedEvent) -> None:
        self.ahead = item.ahead
        event = item.event
        if isinstance(event, Deal):
            self.handle_deal(item.raw, event)
        else:
            self.handle_rep_event(item.raw, event)

    def handle_target(self, item: TargetItem) -> None:
        if self.dropped(item.period):
            return  # a period before the horizon: never evaluated, its figures are gone
        key = (item.scope, TARGET, item.metric, item.period)
        if self.load(key) != item.value:  # the same value published again waits on
            self.proc.settling.forget((item.scope, item.metric, item.period))
        self.put(key, item.value)
        self.eval_scopes.add(item.scope)

    def handle_team_hour(self, item: TeamHourItem) -> None:
        scope, hour, rep = item.scope, item.hour, item.rep  # read once
        if self.horizon is not None and hour < self.horizon:
            return  # a rep partition behind the horizon's move: no hour before it is kept
        part = self.proc.views.rep_part(rep, scope.removeprefix("team:"), hour, item.part)
        key = (scope, HOUR, hour)
        record = self.load_team_hour(key)
        views = self.proc.views
        if record is None:
            # a rep's partition may run behind this one: its hour may be in a day record.
            # One the views do not hold is in no table (a Tick writes day records in
            # `finish`, after every item): no read for it
            day = views.day_of(hour)[0]
            view = views.get(scope)
            day_key = (scope, DAY, day)
            day_record: DayRecord | None = (
                self.load(day_key) if view is not None and day in view.days else None
            )
            if day_record is not None:
                quarter, rest = divmod(hour - day, QUARTER_HOUR)
                if not rest and _newer(part, day_record.hour_parts(quarter).get(rep)):
                    day_record.put_part(quarter, rep, part)
                    self.put(day_key, day_record)
                    self.member_changing(scope, views.hour_periods(hour), rep)
                if not rest:
                    return
            record = HourRecord()
        if _newer(part, record.parts.get(rep)):
            record.parts[rep] = part
            self.put(key, record)
            self.member_changing(scope, views.hour_periods(hour), rep)

    def member_changing(self, team: str, periods: Iterable[str], rep: str) -> None:
        """Rep `rep`'s figures in team `team` may change in these periods: the team's
        medians there are announced again (ScopeProcessor.announce_due)."""
        by_period = self.members_changed.get(team)
        if by_period is None:
            by_period = self.members_changed[team] = {}
        for period_id in periods:
            reps = by_period.get(period_id)
            if reps is None:
                by_period[period_id] = {rep}
            else:
                reps.add(rep)

    def handle_member(self, item: MemberItem) -> None:
        """What a rep with events in several teams says; `derive` hands it back to the team."""
        if self.dropped(item.period):
            return
        member_key = (item.scope, MEMBER, item.period, item.rep)
        member = (
            None
            if item.derive
            else Member(member=True, activities=item.activities, revenue=item.revenue)
            if item.member
            else NOT_A_MEMBER
        )
        if self.load(member_key) != member:
            self.member_changing(item.scope, (item.period,), item.rep)
            self.put(member_key, member)

    def dropped(self, period_id: str) -> bool:
        """Is the period before SALES_RETENTION's horizon (its state deleted or to be)?"""
        return self.horizon is not None and self.proc.retention.dropped(period_id, self.horizon)

    def handle_republish(self, item: Republish) -> None:
        self.changed(item.scope, (item.period,))

    def changed(self, scope: str, periods: Collection[str]) -> None:
        known = self.result.changed.get(scope)
        if known is None:
            self.result.changed[scope] = set(periods)
        else:
            known.update(periods)

    def handle_tick(self, item: Tick) -> None:
        """A Tick naming a scope asks for its targets only (an alert held to settle);
        the minute's Tick, naming none, for every target and the sweep."""
        if item.scope:
            self.eval_scopes.add(item.scope)
            return
        self.sweep = True
        written = item.written_folded_before
        if written is not None and (
            self.written_folded_before is None or written > self.written_folded_before
        ):
            self.written_folded_before = written
        self.eval_scopes.update(
            view.scope for view in self.proc.views.in_partition(self.partition) if view.targets
        )

    def is_late(self, occurred: float) -> bool:
        """Against stream time as the record's arrival saw it: the batch folds in event-time
        order, so an event behind much newer ones in its partition would otherwise be
        judged before them, as if it came first, and applied however old it is."""
        seen = self.stream_time if self.stream_time >= self.ahead else self.ahead
        return occurred < seen - self.proc.late_grace or occurred < self.folded_before

    def reject_late(self, raw: RawEvent, occurred_at: datetime) -> None:
        seen = self.stream_time if self.stream_time >= self.ahead else self.ahead
        grace_limit = seen - self.proc.late_grace
        if grace_limit >= self.folded_before:
            why = "stream time minus SALES_LATE_GRACE"
            limit = grace_limit
        else:
            why = "what this partition's state already folded (SALES_LATE_GRACE was raised"
            why += " since: the larger grace applies to later event times)"
            limit = self.folded_before
        at = rfc3339(datetime.fromtimestamp(limit, UTC))
        self.result.deadletters.append(
            DeadLetter(
                raw,
                LATE_EVENT,
                f"occurred_at {rfc3339(occurred_at)} is older than {why} ({at}); the event "
                "was not applied",
            )
        )

    def seen_again(self, occurred: float, topic: str) -> None:
        """A duplicate, or the replay of an event applied before a crash.

        Its time was seen, so it counts for stream time: a crash between the event's record
        and the stream-time record must not make a late event look on time on replay.
        """
        self.result.duplicates[topic] += 1
        if occurred > self.stream_time:
            self.stream_time = occurred

    def advance(self, occurred: float, topic: str) -> None:
        if occurred > self.stream_time:
            self.stream_time = occurred
        self.result.applied[topic] += 1
        self.result.lags.append(self.now_ts - occurred)

    def handle_rep_event(self, raw: RawEvent, event: Activity | Feedback) -> None:
        # each field read once: events and records are Structs, whose attributes the
        # compiled fold reads through the generic (slower) lookup
        event_key = ("a:" if isinstance(event, Activity) else "f:") + event.event_id
        occurred_at = event.occurred_at
        occurred = occurred_at.timestamp()
        scope = raw.scope
        if self.horizon is not None and occurred < self.horizon:
            self.past_horizon(raw, event, occurred)
            return
        hour = self.proc.views.local_hours.start_of_epoch(occurred)
        slot = self.hour_slot(scope, hour)
        self.touched_hours.add((scope, hour))  # and so its periods (emit_memberships)
        if slot.counted(event_key):
            self.seen_again(occurred, raw.topic)
            self.touch(event, occurred)  # kept by id at the deal: a replay repairs a lost send
            return
        if self.is_late(occurred):
            self.reject_late(raw, occurred_at)
            return
        key, record = slot.current(MAX_IDS_PER_RECORD)
        record.ids.append(event_key)
        slot.ids.add(event_key)
        deal_id = self.touch(event, occurred)
        if deal_id is not None:
            record.touched.append((deal_id, event.event_id))  # forgotten at the sweep
        team = event.team_id
        parts = record.parts
        part = parts.get(team)
        if part is None:
            part = parts[team] = HourCounts()
        if occurred >= part.latest:
            part.latest = occurred
        if isinstance(event, Activity):
            activity = event.activity
            counts = part.counts
            counts[activity] = counts.get(activity, 0) + 1
            result = self.result
            activities = result.activities  # a Counter's += on a new key costs more
            rep = event.rep_id
            what = (team, rep, activity)
            activities[what] = activities.get(what, 0) + 1
            who = (team, rep)
            if occurred > result.last_activity.get(who, 0.0):
                result.last_activity[who] = occurred
        else:
            part.satisfaction.record(event.csat, event.nps)
        self.put(key, record)
        self.advance(occurred, raw.topic)

    def past_horizon(self, raw: RawEvent, event: Activity | Feedback, occurred: float) -> None:
        """An event before SALES_RETENTION's horizon that is not late (a replay of old
        history, say): applied for what outlives its periods, its touch of a deal (the
        deal keeps its touches by event id, so a repeat counts once), and no hour record:
        its periods are dropped."""
        if self.is_late(occurred):
            self.reject_late(raw, event.occurred_at)
            return
        self.touch(event, occurred)
        self.advance(occurred, raw.topic)

    def hour_slot(self, scope: str, hour: int) -> HourSlot:
        """The hour's records, loaded once per batch; its spills are known from the views,
        which hold every record of the table as of this batch's start."""
        slot = self.slots.get((scope, hour))
        if slot is None:
            view = self.proc.views.get(scope)
            if view is None or (hour not in view.hours and hour not in view.spills):
                # most hours of wide input are new: the table holds none of their records
                held = self.known_absent((scope, HOUR, hour))
                slot = (
                    HourSlot.new(scope, hour)
                    if held is None
                    else HourSlot.load(scope, hour, self.load_rep_hour, [], frozenset())
                )
            else:
                numbers = view.spill_numbers(hour)
                seen = view.hour_ids(hour)
                slot = HourSlot.load(scope, hour, self.load_rep_hour, numbers, seen)
            self.slots[(scope, hour)] = slot
        return slot

    def known_absent(self, key: tuple[Any, ...]) -> Any:
        """A record the views say the table does not hold: no read for it. Returns what
        this batch holds for it (None unless the batch wrote it already)."""
        kb = self.key_bytes(key)
        entry = self.records.get(kb)
        if entry is None:
            self.records[kb] = (key, None, None)
            return None
        return entry[2]

    def handle_deal(self, raw: RawEvent, event: Deal) -> None:
        key = (raw.scope, DEAL_STATE)
        state = self.load(key) or DealState()
        self.touched_deals.add(raw.scope)
        self.deals_with_events.add(raw.scope)
        occurred = event.occurred_at.timestamp()
        ids = self.deal_ids(raw.scope, state)
        if event.event_id in ids.ids:
            self.seen_again(occurred, raw.topic)
            return
        if self.is_late(occurred):
            self.reject_late(raw, event.occurred_at)
            return
        amount_base: str | None = None
        if event.amount is not None and event.currency is not None:
            try:
                amount_base = str(self.proc.fx.to_base(event.amount, event.currency))
            except UnknownCurrency:
                self.result.deadletters.append(
                    DeadLetter(
                        raw,
                        UNKNOWN_CURRENCY,
                        f"currency {event.currency!r} has no rate in SALES_FX_RATES any more; "
                        "add it to the rates file and replay the record",
                    )
                )
                return
        version = deal_version(event, amount_base)
        spilled = ids.add(event.event_id, MAX_IDS_PER_RECORD)
        # the latest occurred_at is current; on a tie the one processed later wins
        if state.current is None or occurred >= state.current.occurred_at:
            state.current = version
        owner = (event.rep_id, event.team_id)
        if owner not in state.owners:
            state.owners.append(owner)
        self.put(key, state)
        if spilled is not None:  # after the state: should only the state land, a replay
            self.put(*spilled)  # applies the event again, which changes nothing in it
        self.advance(occurred, raw.topic)

    def handle_contribution(self, item: DealContribution) -> None:
        key = (item.scope, DEAL, item.deal_id)
        slot: DealSlot | None = self.load(key)
        seen = set(slot.seen) if slot is not None else set()
        if item.figure is not None and item.figure.closed:
            seen.add(item.figure.occurred_at)
        if item.scope.startswith("rep:"):
            # every period the deal ever touched: a move or a retraction changes them all
            periods = self.rep_periods.setdefault(item.scope, set())
            for occurred in seen:
                periods.update(self.proc.views.instant_periods(occurred))
        new: DealSlot | None = DealSlot(figure=item.figure, seen=sorted(seen))
        if self.gone_before_horizon(item.figure, seen):
            new = None  # in dropped periods only: as cut_to_horizon deletes it
        if slot == new:
            return
        if item.scope.startswith("team:"):
            # a team's closed deals give its members' revenue, and members (team_members)
            for figure in (slot.figure if slot is not None else None, item.figure):
                if figure is not None and figure.closed:
                    closed_in = self.proc.views.instant_periods(figure.occurred_at)
                    self.member_changing(item.scope, closed_in, figure.rep)
        self.put(key, new)

    def gone_before_horizon(self, figure: DealFigure | None, seen: set[float]) -> bool:
        """Does a deal give a scope nothing in a period SALES_RETENTION keeps? A deal won
        years ago and touched today changes only dropped periods: its slot goes."""
        horizon = self.horizon
        return (
            horizon is not None
            and (figure is None or lies_before(figure, horizon))
            and all(instant < horizon for instant in seen)
        )

    def touch(self, event: Activity | Feedback, occurred: float) -> str | None:
        """An activity carrying a deal_id counts as a touch of that deal (section 8.2);
        returns the deal_id it touched, if any."""
        if isinstance(event, Activity) and (deal_id := _deal_touched(event)) is not None:
            deal = "deal:" + deal_id
            item = TouchItem(deal, event.event_id, event.activity, occurred, self.partition)
            self.result.outbox.append(item)
            return deal_id
        return None

    def handle_touch(self, item: TouchItem) -> None:
        key = (item.scope, DEAL_STATE)
        state: DealState = self.load(key) or DealState()
        touches = self.deal_touches(item.scope, state)
        if item.event_id in touches.ids or self.forgotten(item):
            return
        spilled = state.touches_spilled
        record_key, record = touches.add(item.event_id, item.activity, MAX_IDS_PER_RECORD)
        if record_key is None or state.touches_spilled != spilled:
            self.put(key, state)
        if record_key is not None:
            self.put(record_key, record)
        self.touched_deals.add(item.scope)

    def handle_forget_touches(self, item: ForgetTouches) -> None:
        """The touching reps' partition applies no activity before `item.before` any more:
        these touches' ids go (their counts stay), and a touch it sends again of such an
        activity is known by its time."""
        key = (item.scope, DEAL_STATE)
        state: DealState | None = self.load(key)
        if state is None:
            return
        state_changed, records = self.deal_touches(item.scope, state).forget(item.event_ids)
        if state_changed:
            self.put(key, state)
        for record_key, record in records:
            self.put(record_key, record)
        forgot = self.forgot_touches()
        if item.before > forgot.get(item.source, item.before - 1.0):
            forgot[item.source] = item.before  # one record a partition, written once a batch
            self.put(("", FORGOT_TOUCHES, self.partition), forgot)

    def forgot_touches(self) -> dict[int, float]:
        """Per rep partition, the instant before which this partition's deals forgot the
        touches it sent: one small record a partition (in each deal's state it cost more
        than the id it let go)."""
        if self.forgot is None:
            held: dict[int, float] | None = self.load(("", FORGOT_TOUCHES, self.partition))
            self.forgot = dict(held) if held is not None else {}
        return self.forgot

    def forgotten(self, item: TouchItem) -> bool:
        """A touch a deal here counted and forgot, sent again: its rep's partition said it
        applies no activity before that instant any more, so one before it is no new touch
        (its id is not among those the deal holds, or it would be a duplicate anyway)."""
        if item.occurred is None or item.source is None:
            return False  # an earlier version's
        before = self.forgot_touches().get(item.source)
        return before is not None and item.occurred < before

    def deal_touches(self, scope: str, state: DealState) -> DealTouches:
        """A deal's touches, loaded once per batch (again if its state was replaced)."""
        touches = self.touches_of.get(scope)
        if touches is None or touches.state is not state:
            touches = self.touches_of[scope] = DealTouches.load(
                scope, state, self.load, MAX_IDS_PER_RECORD
            )
        return touches

    def deal_ids(self, scope: str, state: DealState) -> DealEventIds:
        """A deal's event ids, loaded once per batch (again if its state was replaced)."""
        ids = self.ids_of.get(scope)
        if ids is None or ids.state is not state:
            ids = self.ids_of[scope] = DealEventIds.load(
                scope, state, self.load, MAX_IDS_PER_RECORD
            )
        return ids

    def account_wins(self, scope: str) -> AccountWinsSet:
        """An account's won deals, loaded once per batch (only this batch's
        `handle_account_deal` changes them)."""
        wins = self.accounts_of.get(scope)
        if wins is None:
            wins = self.accounts_of[scope] = AccountWinsSet.load(
                scope, self.load, MAX_IDS_PER_RECORD
            )
        return wins

    def handle_account_deal(self, item: AccountDealItem) -> None:
        """An account keeps its won deals, to know its first win (customers.new/repeat)."""
        wins = self.account_wins(item.scope)
        if item.scope not in self.first_before:
            self.first_before[item.scope] = wins.first()
        self.account_askers.setdefault(item.scope, set()).add(item.deal_id)
        if wins.won_at(item.deal_id) == item.won_at:
            return
        for key, record in wins.set(item.deal_id, item.won_at):
            self.put(key, record)

    def handle_first_win(self, item: FirstWinItem) -> None:
        key = (item.scope, DEAL_STATE)
        state: DealState | None = self.load(key)
        if state is None or state.current is None or state.current.account != item.account:
            return  # the deal moved to another account since: that one will answer
        said = (item.account, item.at, item.deal_id)
        if (state.first_account, state.first_win_at, state.first_deal_id) == said:
            return
        state.first_account, state.first_win_at, state.first_deal_id = said
        self.put(key, state)
        self.touched_deals.add(item.scope)

    # -- end of batch -------------------------------------------------------------------
    def finish(self) -> BatchResult:
        if self.sweep:
            self.cut_to_horizon()
            self.compact_days()
            self.prune_event_ids()
            self.prune_deal_ids()
            self.mark_folded()
            self.emit_forgets()
        self.emit_deal_contributions()
        self.emit_first_wins()
        self.emit_team_hours()
        self.flush()
        self.emit_memberships()
        self.flush()
        self.evaluate_alerts()
        self.flush()
        self.proc.members_reached(self.partition, self.members_changed, self.sent)
        self.result.outbox.extend(self.proc.announce_due(self.partition, self.now_ts))
        if self.stream_time != self.initial_stream_time:
            self.put(self.stream_time_key, self.stream_time)
            self.flush()
        if self.cut:
            self.proc.views.forget_before(self.partition, self.dropped)
        return self.result

    def emit_deal_contributions(self) -> None:
        for scope in sorted(self.touched_deals):
            state: DealState | None = self.load((scope, DEAL_STATE))
            if state is None or state.current is None:
                continue  # touches of a deal with no event yet
            deal_id = scope.split(":", 1)[1]
            figure = deal_figure(deal_id, state, self.deal_touches(scope, state).totals())
            if scope in self.deals_with_events:
                self.emit_account_wins(scope, deal_id, state)
            reps = dict.fromkeys(rep for rep, _ in state.owners)
            teams = dict.fromkeys(team for _, team in state.owners)
            for rep in reps:
                share = figure if figure is not None and figure.rep == rep else None
                self.result.outbox.append(DealContribution("rep:" + rep, deal_id, share))
            for team in teams:
                share = figure if figure is not None and figure.team == team else None
                self.result.outbox.append(DealContribution("team:" + team, deal_id, share))
            if scope in self.deals_with_events:
                owners = remember(state.owners, (figure.rep, figure.team), _one, FORMER_OWNERS)
                if owners != state.owners:
                    state.owners = owners
                    self.put((scope, DEAL_STATE), state)

    def prune_event_ids(self) -> None:
        """Drop the event ids of hours that end before stream time minus the late grace.

        Any event of such an hour is late, so its ids can never recognise a duplicate again
        (a repeat is dead-lettered as late_event instead). The stream time used is the one
        persisted before this batch: a replay after a crash starts from it or a later one,
        so a replayed event of a pruned hour is late for the replay too, never counted twice.
        At most PRUNE_PER_TICK records a tick, so a backlog of old state is pruned gradually.
        The deals the hour's events touched are told to forget those touches
        (`forget_touches`).
        """
        horizon = self.sweep_horizon()
        views = self.proc.views
        by_hour = views.hours_with_ids.get(self.partition, {})
        aged_hours = sorted(hour for hour in by_hour if hour + HOUR_SECONDS <= horizon)
        for scope, hour in _first_scope_hours(by_hour, aged_hours, PRUNE_PER_TICK):
            slot = self.hour_slot(scope, hour)
            key, base = slot.records[0]
            view = views.get(scope)
            numbers = view.spill_numbers(hour) if view is not None else []
            keys = [key, *((scope, HOUR, hour, n) for n in numbers)]
            if base is None or self.put_in_batch(keys):
                continue
            present = slot.present()
            if not any(record.ids for record in present):
                continue
            # the first record absorbs the spills before they are deleted: a view ignores
            # the absorbed ones, so a crash between the writes counts nothing twice
            absorbed = max([base.absorbed, *numbers])
            self.put(key, HourRecord(ids=[], parts=merged_parts(present), absorbed=absorbed))
            for spill in keys[1:]:
                self.put(spill, None)
            self.forget_touches(present, hour)

    def sweep_horizon(self) -> float:
        """Hours ending before this lose their event ids and fold into days: stream time
        minus the late grace, the stream time being the one persisted before this batch;
        no later than the written folded instant, if the Tick said it (`forget_touches`:
        a minute behind, that instant is the previous Tick's horizon)."""
        horizon = self.initial_stream_time - self.proc.late_grace
        written = self.written_folded_before
        return written if written is not None and written < horizon else horizon

    def forget_touches(self, records: Iterable[HourRecord | None], hour: int) -> None:
        """The deals these records of an hour touched may forget those touch ids: no event
        of the hour can be applied here again. Judged by the folded instant the written
        state held (the Tick's): events before it are late whatever the grace, and the
        forget may reach the deal before this batch's state is written, but a crash then
        restores state at least that far. A repeat the restored hour still knows sends its
        touch again (as any repeat does: it repairs a lost send); the deal knows it by its
        time (`forgotten`). Without it (a Tick of an earlier version) the ids stay."""
        written = self.written_folded_before
        if written is None or hour + HOUR_SECONDS > written:
            return
        for record in records:
            if record is not None:
                for deal_id, event_id in record.touched:
                    self.forgets.setdefault(deal_id, []).append(event_id)

    def emit_forgets(self) -> None:
        """One ForgetTouches per deal, in chunks of MAX_IDS_PER_RECORD ids (envelopes
        stay far below Kafka's message limit however busy the hour was)."""
        before = self.written_folded_before
        if not self.forgets or before is None:
            return
        for deal_id, ids in sorted(self.forgets.items()):
            for start in range(0, len(ids), MAX_IDS_PER_RECORD):
                chunk = ids[start : start + MAX_IDS_PER_RECORD]
                item = ForgetTouches("deal:" + deal_id, self.partition, before, chunk)
                self.result.outbox.append(item)
        self.forgets = {}

    def prune_deal_ids(self) -> None:
        """Drop a deal's event ids once its latest event is before stream time minus the
        late grace: every event of the deal is then late, so a repeat is dead-lettered as
        late_event instead of recognised by its id, as in a pruned hour (the stream time is
        the one persisted before this batch, and mark_folded keeps them late whatever the
        grace later is). Oldest first, at most PRUNE_PER_TICK deals a tick."""
        horizon = self.initial_stream_time - self.proc.late_grace
        due = self.proc.views.deals_with_ids.get(self.partition, {})
        aged = sorted((latest, scope) for scope, latest in due.items() if latest < horizon)
        for _, scope in aged[:PRUNE_PER_TICK]:
            key = (scope, DEAL_STATE)
            state: DealState | None = self.load(key)
            if state is None or state.current is None or state.current.occurred_at >= horizon:
                continue  # an event of this batch moved the deal on
            for gone in self.deal_ids(scope, state).clear():
                self.put(gone, None)
            self.put(key, state)

    def mark_folded(self) -> None:
        """Event times before the sweep's horizon may now be in day records or in hours
        pruned of their ids: whatever the grace later is, they stay late (is_late)."""
        horizon = self.initial_stream_time - self.proc.late_grace
        if horizon > self.folded_before:
            self.folded_before = horizon
            self.put(self.folded_before_key, horizon)

    def cut_to_horizon(self) -> None:
        """Delete the partition's state of the periods before SALES_RETENTION's horizon:
        day and hour records, memberships, targets and their alerts, and what a deal
        gives a rep or a team there (a slot lying wholly before it). The deals' own state,
        their touches and accounts stay (a deal's cohort or first win may reach back
        years). At most
        RETAIN_PER_TICK records a Tick; runs first, so the compaction and the pruning of
        ids leave alone what it deleted (`put_in_batch`)."""
        horizon = self.horizon
        if horizon is None or self.proc.retained_from.get(self.partition, -1.0) >= horizon:
            return
        budget = RETAIN_PER_TICK
        for view in self.proc.views.in_partition(self.partition):
            for key in expired_keys(view, horizon, self.dropped):
                if budget <= 0:
                    return  # the next Tick goes on
                if key[1] == HOUR:
                    self.forget_touches([view.hour_record(key)], key[2])
                self.put(key, None)
                budget -= 1
                self.result.dropped_records += 1
                self.result.dropped_before = horizon
        self.cut = True
        self.proc.retained_from[self.partition] = horizon

    def compact_days(self) -> None:
        """Fold the hour records of every local day that ends before stream time minus the
        late grace into one day record per scope and day, and delete them.

        No event can reach such a day any more (it is late), so its event ids go too. The day
        record is written before the hours are deleted, and a view counts an hour once
        whichever of the two holds it: a crash between the writes loses nothing, and the
        replayed Tick finishes the fold. Hours this batch wrote wait for the next Tick, so a
        delete never lands before the day record that replaces it. The deals its hours'
        events touched are told to forget those touches (`forget_touches`).
        """
        horizon = self.sweep_horizon()
        views = self.proc.views
        budget = COMPACT_PER_TICK
        by_day = views.hours_by_day.get(self.partition, {})
        for day in sorted(by_day):
            if budget <= 0 or views.day_of(day)[1] > horizon:
                break  # the later days end later
            if self.horizon is not None and day < self.horizon:
                continue  # cut_to_horizon deletes it (in a later Tick, if out of budget)
            for scope, hours in sorted(by_day[day].items()):
                view = views.get(scope)
                aligned = sorted(hour for hour in hours if not (hour - day) % QUARTER_HOUR)
                if view is not None and aligned:
                    budget -= self.fold_day(view, day, aligned)

    def fold_day(self, view: ScopeView, day: int, hours: list[int]) -> int:
        """Fold one day's hours into its day record; returns the records deleted. A day with
        an hour whose spills are not absorbed yet waits: the pruning absorbs them first."""
        keys: list[tuple[Any, ...]] = []
        for hour in hours:
            if len(view.hour_records(hour)) != 1:
                return 0
            spills = view.spill_numbers(hour)
            keys += [(view.scope, HOUR, hour, n) for n in spills]  # absorbed: leftovers
            keys.append((view.scope, HOUR, hour))
        if self.put_in_batch(keys):
            return 0
        day_key = (view.scope, DAY, day)
        if self.too_large_for_a_day(day_key, keys):
            return 0
        record: DayRecord = self.load(day_key) or DayRecord()
        for key in keys:
            hour_record: HourRecord | None = self.load(key)
            if hour_record is None or len(key) > 3:
                continue  # a spill left over is absorbed: its touches went with the pruning
            self.forget_touches([hour_record], key[2])
            quarter = (key[2] - day) // QUARTER_HOUR
            for part, counts in hour_record.parts.items():
                record.put_part(quarter, part, counts)
        self.put(day_key, record)
        for key in keys:
            self.put(key, None)
        return len(keys)

    def too_large_for_a_day(self, day_key: tuple[Any, ...], keys: list[tuple[Any, ...]]) -> bool:
        """Whether a day record of these hours (and of the day record already there) could
        pass DAY_RECORD_MAX_BYTES: the hours stay in their own records then, each bounded
        by the reps of one hour. Measured: a team day costs some 300 bytes per rep active
        nine hours, so about 13,000 such reps passed the 4 MiB a changelog record holds,
        and the worker stopped. Encoded only past DAY_PART_HOURS_CHECKED parts of hours
        (an hour record holds more than its share of a day record: an upper bound)."""
        memo = (day_key[0], day_key[2])
        days_too_large = self.proc.days_too_large
        if memo in days_too_large:
            return True
        held = [self.load(key) for key in keys if len(key) == 3]
        existing: DayRecord | None = self.load(day_key)
        part_hours = sum(len(record.parts) for record in held if record is not None)
        if existing is not None:
            part_hours += sum(len(part.hours) for part in existing.parts.values())
        if part_hours <= DAY_PART_HOURS_CHECKED:
            return False
        size = sum(len(encode_value(record)) for record in [existing, *held] if record is not None)
        if size <= DAY_RECORD_MAX_BYTES:
            return False
        days_too_large.add(memo)
        return True

    def emit_account_wins(self, scope: str, deal_id: str, state: DealState) -> None:
        """Tell the deal's account whether it is won, and its former accounts that it is not
        (the ones told longest ago are then forgotten past a budget: former_parties)."""
        current = state.current
        assert current is not None
        account = current.account or None
        won_at = current.occurred_at if current.outcome == "won" else None
        told = list(state.accounts)
        if account is not None and account not in told:
            told.append(account)
        for party in told:
            at = won_at if party == account else None
            self.result.outbox.append(AccountDealItem("account:" + party, deal_id, at))
        kept = remember(state.accounts, account, len, FORMER_ACCOUNT_CHARS)
        if kept != state.accounts:
            state.accounts = kept
            self.put((scope, DEAL_STATE), state)

    def emit_first_wins(self) -> None:
        """Answer every deal that reported, and all won deals when the first win moved."""
        for scope in sorted(self.account_askers):
            wins = self.account_wins(scope)
            first = wins.first()
            recipients = set(self.account_askers[scope])
            if first != self.first_before.get(scope):
                recipients.update(wins.deal_ids())
            account = scope.split(":", 1)[1]
            at, first_id = first if first is not None else (None, None)
            for deal_id in sorted(recipients):
                self.result.outbox.append(FirstWinItem("deal:" + deal_id, account, at, first_id))

    def emit_team_hours(self) -> None:
        # unsorted: each item is one rep's absolute part of one team hour, so no order of
        # them means anything (sorting the batch's hours cost 1 % of the fold)
        for scope, hour in self.touched_hours:
            present = self.hour_slot(scope, hour).present()
            if not present:
                continue
            rep = scope.split(":", 1)[1]
            for team, part in merged_parts(present).items():
                self.result.outbox.append(TeamHourItem("team:" + team, hour, rep, part))

    def emit_memberships(self) -> None:
        """Tell the teams of a rep with events in several teams in a period whether it
        belongs to each (it does to the team on its latest event in the period).

        A rep whose events in a period were all in one team says nothing: that team derives
        the rep's membership and figures from its own records (queries.team_members). Once a
        rep has spoken for a period, it keeps every team it told up to date, and when it is
        back to one team it hands the period back to the teams (`derive`).
        """
        views = self.proc.views
        for scope, hour in self.touched_hours:
            view = views.get(scope)
            if view is not None and not view.never_told_teams():  # most reps: one team
                self.rep_periods.setdefault(scope, set()).update(views.hour_periods(hour))
        for scope, periods in self.rep_periods.items():  # unsorted, as the team hours
            view = views.get(scope)
            if view is None or view.never_told_teams():
                continue
            for period_id in periods:
                if self.dropped(period_id):
                    continue  # a deal's old period: its memberships are gone with it
                sent = view.member_sent.get(period_id)
                if sent or view.in_several_teams(period_id):
                    self.tell_teams(view, period_id, sent or [])

    def tell_teams(self, view: ScopeView, period_id: str, sent: list[str]) -> None:
        said = view.membership(period_id)
        teams = said.teams.union(sent)
        derive = len(said.teams) <= 1
        revenue = str(said.revenue)
        for team in sorted(teams):
            member = team == said.latest
            self.result.outbox.append(
                MemberItem(
                    "team:" + team, period_id, view.id, member, said.activities, revenue, derive
                )
            )
        if derive:
            self.put((view.scope, MEMBER_SENT, period_id), None)
        elif not teams.issubset(sent):
            self.put((view.scope, MEMBER_SENT, period_id), sorted(teams))

    def resend_legacy_memberships(self) -> None:
        """Once per partition, in its first batch: memberships sent under the earlier rule,
        where every rep told its teams, are sent again under this one (a team took a missing
        record for "not a member"; it now derives the rep)."""
        key = ("", DERIVED_MEMBERS, self.partition)
        if self.load(key) is not None:
            return
        for view in self.proc.views.in_partition(self.partition):
            if view.member_sent:
                self.rep_periods.setdefault(view.scope, set()).update(view.member_sent)
        self.put(key, 1)

    def record_fold_settings(self) -> None:
        """Once per partition, in its first batch: the settings its records depend on, so
        a worker started later with others refuses them (Runtime.check_fold_settings)."""
        key = ("", FOLD_SETTINGS, self.partition)
        if self.load(key) is None:  # never rewritten: other settings stop the worker first
            self.put(key, FoldSettings(self.proc.tz.key, self.proc.fx.base))

    def record_folded_before(self) -> None:
        """Once per partition, in its first batch: state folded by a version that did not
        record the folded instant (`mark_folded`) takes it from its day records and pruned
        hours, so a grace raised in the same restart still finds what they folded late."""
        if self.folded_before_recorded:
            return
        until = self.proc.views.folded_until(self.partition)
        if until > self.folded_before:
            self.folded_before = until
            self.put(self.folded_before_key, until)

    def evaluate_alerts(self) -> None:
        scopes = set(self.eval_scopes)
        for scope, periods in self.result.changed.items():
            view = self.proc.views.get(scope)
            # most scopes have no target: no generator built for them
            if view is not None and view.targets and any(p in periods for _, p in view.targets):
                scopes.add(scope)
        for scope in sorted(scopes):
            view = self.proc.views.get(scope)
            if view is None or view.partition != self.partition:
                continue
            evaluations = target_evaluations(
                view, now=self.now, tz=self.proc.tz, at_risk_pace=self.proc.at_risk_pace
            )
            for period_id, ev in evaluations:
                if self.dropped(period_id):
                    continue  # its figures are gone: no status, no alert
                self.status_seen(view, ev.metric, period_id, ev.status)
                emitted = view.alerts.get((ev.metric, period_id), [])
                due = self.proc.settling.admit(
                    (scope, ev.metric, period_id),
                    self.partition,
                    alerts_due(ev.status, emitted),
                    self.now_ts,
                    draining=self.proc.draining,
                )
                for kind in due:
                    self.result.alerts.append(
                        self.alert(scope, period_id, ev, kind, len(emitted) + 1)
                    )
                    emitted = [*emitted, kind]
                if due:
                    self.put((scope, ALERTS, ev.metric, period_id), emitted)

    def status_seen(self, view: ScopeView, metric: str, period_id: str, status: str) -> None:
        """A target's status moved since its last evaluation here, by figures or by the
        clock alone (its period ended, its pace crossed a bound): sales.performance gets
        the document again, as the API shows it. Not at first sight (after a restart or a
        rebalance): that would republish every period that ever had a target."""
        pair = (metric, period_id)
        last = view.statuses.get(pair)
        if last != status:
            view.statuses[pair] = status
            if last is not None:
                self.changed(view.scope, (period_id,))

    def alert(
        self, scope: str, period_id: str, ev: TargetEvaluation, kind: str, sequence: int
    ) -> dict[str, Any]:
        """One sales.alerts record; `sequence` counts the target and period's alerts."""
        scope_kind, scope_id = scope.split(":", 1)
        return {
            "alert_id": alert_id(scope, ev.metric, period_id, kind, sequence),
            "kind": kind,
            "sequence": sequence,
            "scope": scope_kind,
            "scope_id": scope_id,
            "metric": ev.metric,
            "period": period_id,
            "target": ev.target,
            "actual": actual_shown(ev.metric, ev.actual),
            "attainment": ev.attainment,
            "expected_by_now": ev.expected_by_now,
            "emitted_at": rfc3339(self.now),
        }


_HANDLERS: dict[type, Callable[[_Batch, Any], None]] = {
    RawEvent: _Batch.handle_raw,
    DecodedEvent: _Batch.handle_decoded,
    TargetItem: _Batch.handle_target,
    TeamHourItem: _Batch.handle_team_hour,
    DealContribution: _Batch.handle_contribution,
    TouchItem: _Batch.handle_touch,
    ForgetTouches: _Batch.handle_forget_touches,
    AccountDealItem: _Batch.handle_account_deal,
    FirstWinItem: _Batch.handle_first_win,
    MemberItem: _Batch.handle_member,
    Republish: _Batch.handle_republish,
    Tick: _Batch.handle_tick,
}


def _one(_: object) -> int:
    return 1


def _deal_touched(event: Activity | Feedback) -> str | None:
    """The deal an activity touches: its deal_id, unless no deal event can carry one that
    long (MAX_DEAL_ID: it names no deal, and its hour record, which keeps the deal ids its
    events touched, would grow past Kafka's message limit with some 20 of 60 KB)."""
    if isinstance(event, Activity) and event.deal_id and len(event.deal_id) <= MAX_DEAL_ID:
        return event.deal_id
    return None


def minute_tick(get: Callable[[bytes], bytes | None], partition: int) -> Tick:
    """The minute's Tick of a partition whose written state `get` reads (the store, without
    what batches since the last checkpoint staged: a restart restores at least that far):
    it says the state's folded instant (-inf: nothing written yet, and it prunes nothing).
    Deals forget touches by it (`_Batch.forget_touches`)."""
    written = read_folded_before(get, partition)
    return Tick(written_folded_before=written if written is not None else float("-inf"))


def expired_keys(
    view: ScopeView, horizon: float, dropped: Callable[[str], bool]
) -> list[tuple[Any, ...]]:
    """The keys of a scope's records that belong to periods before the horizon only."""
    scope = view.scope
    keys: list[tuple[Any, ...]] = [(scope, DAY, day) for day in view.days if day < horizon]
    keys += [(scope, HOUR, hour) for hour in view.hours if hour < horizon]
    for hour, spills in view.spills.items():
        if hour < horizon:
            keys += [(scope, HOUR, hour, n) for n in spills]
    for period_id, reps in view.members.items():
        if dropped(period_id):
            keys += [(scope, MEMBER, period_id, rep) for rep in reps]
    keys += [(scope, MEMBER_SENT, p) for p, sent in view.member_sent.items() if sent and dropped(p)]
    keys += [(scope, TARGET, metric, p) for metric, p in view.targets if dropped(p)]
    keys += [(scope, ALERTS, m, p) for (m, p), sent in view.alerts.items() if sent and dropped(p)]
    keys += [(scope, DEAL, d) for d, figure in view.deals.items() if lies_before(figure, horizon)]
    return keys


def lies_before(figure: DealFigure, horizon: float) -> bool:
    """Does a deal's figure (what it gives a rep or a team) lie wholly before the horizon:
    every period it falls in dropped? Its occurred_at counts even for an open deal: a deal's
    current version is its latest, so no earlier version (DealSlot.seen) lies after it."""
    return (
        figure.occurred_at < horizon
        and (figure.created_at is None or figure.created_at < horizon)
        and (figure.expected_close_at is None or figure.expected_close_at < horizon)
    )


def _copied(counts: HourCounts) -> HourCounts:
    return HourCounts(dict(counts.counts), counts.satisfaction.copy(), counts.latest)


def _newer(part: HourCounts, held: HourCounts | None) -> bool:
    """Does a rep's part of a team hour replace the one the team holds? Only when it counts
    more events: a part only grows, so an older item (one that travelled the internal topic
    while a newer one was folded where it was made, or a replay's) never takes counts away,
    and an equal one changes nothing."""
    return held is None or part.events() > held.events()


def deal_version(event: Deal, amount_base: str | None) -> DealVersion:
    return DealVersion(
        occurred_at=event.occurred_at.timestamp(),
        outcome=event.outcome,
        amount_base=amount_base,
        created_at=event.created_at.timestamp() if event.created_at else None,
        rep=event.rep_id,
        team=event.team_id,
        expected_close_at=(
            event.expected_close_at.timestamp() if event.expected_close_at else None
        ),
        stage=event.stage,
        kind=event.kind,
        source=event.source,
        lost_reason=event.lost_reason,
        account=event.account_id or None,
    )


def deal_figure(deal_id: str, state: DealState, touches: dict[str, int]) -> DealFigure:
    """What a deal's current state contributes to the rep and team it is attributed to;
    `touches` per activity type, over its state and its touch records."""
    current = state.current
    assert current is not None
    cycle = None
    if current.outcome == "won" and current.created_at is not None:
        cycle = current.occurred_at - current.created_at
    knows_first = current.account is not None and state.first_account == current.account
    return DealFigure(
        occurred_at=current.occurred_at,
        outcome=current.outcome,
        amount_base=current.amount_base or "0",
        cycle_seconds=cycle,
        rep=current.rep,
        team=current.team,
        created_at=current.created_at,
        expected_close_at=current.expected_close_at,
        source=current.source or UNKNOWN,
        kind=current.kind or NEW_BUSINESS,
        lost_reason=current.lost_reason or UNSPECIFIED,
        stage=current.stage or UNKNOWN,
        account=current.account,
        touches=touches,
        first_win_at=state.first_win_at if knows_first else None,
        first_deal=(knows_first and current.outcome == "won" and state.first_deal_id == deal_id),
    )


def sent_floor(sent: float, now: float) -> float:
    """How early a move of a team's medians may be and still be missed by the document of
    figures sent at `sent`: the send time by the sender's clock, less the slack for clocks
    that disagree (a sender's clock ahead of this one counts as now)."""
    return min(sent, now) - SEND_CLOCK_SLACK_SECONDS


def quadrant_moved(
    activities: int, revenue: Decimal, before: TeamMedians, after: TeamMedians
) -> bool:
    """Does a member's quadrant differ under the team's old and new medians?"""
    # a quadrant is the pair of these two sides
    if before.activities != after.activities and is_high(activities, before.activities) != is_high(
        activities, after.activities
    ):
        return True
    if before.revenue == after.revenue:
        return False
    return is_high(revenue, before.revenue) != is_high(revenue, after.revenue)
