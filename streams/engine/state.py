"""State records of the scopes table, and their keys.

All state of a scope (a rep, a team or a deal) lives in one changelog-backed table,
partitioned like the scopes topic, so a worker owns a scope's events and its state together.
Keys are msgpack tuples `(scope, kind, *rest)`: unambiguous whatever characters ids hold.

Records are Structs with ``gc=False``: trees that never reference back, which the cyclic
garbage collector need not track (streams.worker.garbage_collection); keep them so.

Each record is written whole and at most once per batch. What must change together lives in
one record (an hour's counts and the ids of the events counted in it), so a crash can never
leave a count without the id that makes its replay a duplicate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from streams.domain.satisfaction import Satisfaction
from streams.engine.items import DealFigure, HourCounts

# record kinds (second element of a key)
HOUR = "h"  # (scope, "h", hour_epoch[, spill]) -> HourRecord
DAY = "dy"  # (scope, "dy", local_day_start_epoch) -> DayRecord (hours past the late grace)
DEAL = "d"  # (scope, "d", deal_id) -> DealSlot (what a deal contributes to a rep or team)
DEAL_STATE = "s"  # ("deal:<id>", "s") -> DealState
TARGET = "t"  # (scope, "t", metric, period) -> float
ALERTS = "a"  # (scope, "a", metric, period) -> list of alert kinds already emitted
MEMBER = "m"  # (team scope, "m", period, rep) -> Member (a rep of several teams said)
MEMBER_SENT = "ms"  # (rep scope, "ms", period) -> list of teams sent membership for
DERIVED_MEMBERS = "dm"  # ("", "dm", partition) -> 1: memberships re-sent under that rule
STREAM_TIME = "st"  # ("", "st", partition) -> float epoch seconds
ACCOUNT = "ac"  # ("account:<id>", "ac") -> AccountWins
TOUCHES = "tc"  # ("deal:<id>", "tc", n) -> TouchRecord (a busy deal's later touches)
DEAL_IDS = "di"  # ("deal:<id>", "di", n) -> DealIdRecord (a busy deal's later event ids)
FOLD_SETTINGS = "fs"  # ("", "fs", partition) -> FoldSettings the partition was folded with
FOLDED_BEFORE = "fb"  # ("", "fb", partition) -> float: event times before it were folded
#: ("", "ft", partition) -> {rep partition: instant}: the deals here forgot the touches that
#: partition sent of activities before that instant (processor.handle_forget_touches)
FORGOT_TOUCHES = "ft"
#: ("", "pp", partition, chunk) -> [[scope, period], ...]: sales.performance documents
#: changed and not yet delivered when the checkpoint was taken (worker.unpublished)
UNPUBLISHED = "pp"
#: ("", "ao", partition) -> [alert JSON, ...]: alerts marked sent in the state and not yet
#: known delivered (worker.alert_outbox)
ALERT_OUTBOX = "ao"


#: event ids one hour record holds before the hour's next events go to a spill record (and
#: touch ids a deal's state holds before its touch records start). Never raise it: a deal
#: reads its touch records only once its state holds this many (DealTouches.load)
MAX_IDS_PER_RECORD = 1_000


class HourRecord(msgspec.Struct, array_like=True, gc=False):
    """One scope's local clock hour: counts per part (team for a rep, rep for a team).

    A busy hour does not grow one record without bound: once a record holds
    MAX_IDS_PER_RECORD event ids, the hour's next events go to spill records keyed
    `(scope, "h", hour, n)`, n = 1, 2, ..., each with its own counts and ids, so each write
    stays one record with the ids of what it counts. The hour is the sum of its records.
    Once no event can reach the hour, its first record absorbs the spills (`absorbed`: the
    spills up to n are in it, and a view ignores them until they are deleted).
    """

    ids: list[str] = []
    parts: dict[str, HourCounts] = {}
    absorbed: int = 0
    #: (deal_id, event_id as the touch carries it) of this record's events that touched a
    #: deal: the deal is told to forget them once no event of the hour can come again
    touched: list[tuple[str, str]] = []


def merged_parts(records: list[HourRecord]) -> dict[str, HourCounts]:
    """The parts of an hour held in several records, summed (latest: the latest)."""
    if len(records) == 1:
        return records[0].parts
    out: dict[str, HourCounts] = {}
    for record in records:
        for name, part in record.parts.items():
            into = out.get(name)
            if into is None:
                into = out[name] = HourCounts({}, Satisfaction(), part.latest)
            for activity, n in part.counts.items():
                into.counts[activity] = into.counts.get(activity, 0) + n
            into.satisfaction.add(part.satisfaction)
            if part.latest > into.latest:
                into.latest = part.latest
    return out


class HourTally(msgspec.Struct, array_like=True, gc=False):
    """One part's hour inside a day record: its counts, and its feedback when it has any."""

    counts: dict[str, int] = {}
    satisfaction: Satisfaction | None = None


class DayPart(msgspec.Struct, array_like=True, gc=False):
    """One part's hours of a local day: per quarter-hour offset from the day's start, and
    its latest event time of the day (a day is the smallest period, so its maximum is all
    a period ever asks)."""

    latest: float = 0.0
    hours: dict[int, HourTally] = {}


class DayRecord(msgspec.Struct, array_like=True, gc=False):
    """The hour records of a local day that no event can reach any more, folded into one.

    An hour record costs a key and a record; a day of them, once past the late grace, takes
    a fifth of the bytes here, with every hour's counts kept for the activity buckets. An
    hour record of the same hour, when one exists, holds the newer truth."""

    parts: dict[str, DayPart] = {}

    def quarters(self) -> set[int]:
        return {q for part in self.parts.values() for q in part.hours}

    def hour_parts(self, quarter: int) -> dict[str, HourCounts]:
        """The parts of one of its hours, as the hour record held them (each with the
        part's latest time of the day)."""
        out: dict[str, HourCounts] = {}
        for name, part in self.parts.items():
            tally = part.hours.get(quarter)
            if tally is not None:
                satisfaction = tally.satisfaction or Satisfaction()
                out[name] = HourCounts(tally.counts, satisfaction, part.latest)
        return out

    def put_part(self, quarter: int, name: str, counts: HourCounts) -> None:
        """Set one part of one hour to what an hour record (or a team hour item) says."""
        part = self.parts.get(name)
        if part is None:
            part = self.parts[name] = DayPart(counts.latest, {})
        elif counts.latest > part.latest:
            part.latest = counts.latest
        empty = counts.satisfaction == Satisfaction()
        part.hours[quarter] = HourTally(dict(counts.counts), None if empty else counts.satisfaction)


#: a day record's hours are keyed by their offset from the day's start in quarter hours
#: (every zone offset in use is a whole number of them): one byte instead of five
QUARTER_HOUR = 900


class DealVersion(msgspec.Struct, array_like=True, frozen=True, gc=False):
    occurred_at: float
    outcome: str  # won | lost | reopened | open
    amount_base: str | None
    created_at: float | None
    rep: str
    team: str
    # contract section 8.1 (None: absent from the event)
    expected_close_at: float | None = None
    stage: str | None = None
    kind: str | None = None
    source: str | None = None
    lost_reason: str | None = None
    account: str | None = None


class DealState(msgspec.Struct, array_like=True, gc=False):
    #: ids of the deal's applied events, the first MAX_IDS_PER_RECORD of them (later ones
    #: in DealIdRecords), until its latest event is past the late grace
    ids: list[str] = []
    current: DealVersion | None = None
    #: the (rep, team) the deal is attributed to, last, and the former ones; each gets its
    #: absolute share (formers told longest ago are forgotten past a budget: former_parties)
    owners: list[tuple[str, str]] = []
    #: ids of the applied activities carrying this deal_id, and their count per type (the
    #: first MAX_IDS_PER_RECORD of them; later ones in TouchRecords)
    touch_ids: list[str] = []
    touches: dict[str, int] = {}
    #: the account the deal is reported to, last, and the former ones, told they hold
    #: nothing of it (those told longest ago are forgotten past a budget: former_parties)
    accounts: list[str] = []
    #: what the account of `first_account` last said of its first win: when, and which deal
    first_account: str | None = None
    first_win_at: float | None = None
    first_deal_id: str | None = None
    #: whether touch records were written: once ids are forgotten (ForgetTouches), the
    #: state may hold fewer than MAX_IDS_PER_RECORD of them with records after it
    touches_spilled: bool = False
    #: whether deal id records were written (DealIdRecord; until its ids are pruned)
    ids_spilled: bool = False


class TouchRecord(msgspec.Struct, array_like=True, gc=False):
    """Touches of a deal past the MAX_IDS_PER_RECORD its state holds: their activity ids
    and their count per type, together, like an hour's spill (records n = 1, 2, ...)."""

    ids: list[str] = []
    touches: dict[str, int] = {}


class DealIdRecord(msgspec.Struct, array_like=True, gc=False):
    """Ids of a deal's events past the MAX_IDS_PER_RECORD its state holds (records n = 1, 2,
    ...): a deal updated every few seconds within the late grace once kept them all in its
    state, and some 30,000 passed the 4 MiB a changelog record holds."""

    ids: list[str] = []


class AccountWins(msgspec.Struct, array_like=True, gc=False):
    """One account's currently won deals: deal_id -> won occurred_at (for its first win)."""

    won: dict[str, float] = {}


class DealSlot(msgspec.Struct, array_like=True, gc=False):
    """What one deal contributes to one rep or team, and every event time it ever held.

    The times let a replayed contribution re-announce every period the deal ever touched,
    even when the replay itself changes nothing (the first run already wrote it).
    """

    figure: DealFigure | None = None
    seen: list[float] = []


class Member(msgspec.Struct, array_like=True, frozen=True, gc=False):
    member: bool
    activities: int
    revenue: str


#: a rep of several teams in a period says it is not this team's member: the team must not
#: derive it from its records (queries.team_members)
NOT_A_MEMBER = Member(member=False, activities=0, revenue="0")


class FoldSettings(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The settings a partition's records were folded with that the records cannot be read
    without: hours and days are local to the time zone, money is in the base currency. A
    worker started with others would mix them (streams.worker.runtime checks)."""

    timezone: str
    base_currency: str

    def differences(self, timezone: str, base_currency: str) -> list[str]:
        """What differs from these settings, as `NAME was 'x', is 'y'`."""
        found = []
        if self.timezone != timezone:
            found.append(f"SALES_TIMEZONE was {self.timezone!r}, is {timezone!r}")
        if self.base_currency != base_currency:
            found.append(f"SALES_BASE_CURRENCY was {self.base_currency!r}, is {base_currency!r}")
        return found


_key_encoder = msgspec.msgpack.Encoder()
_key_decoder = msgspec.msgpack.Decoder(tuple)
_value_encoder = msgspec.msgpack.Encoder()


def make_key(scope: str, kind: str, *rest: str | int) -> bytes:
    return _key_encoder.encode((scope, kind, *rest))


#: a key tuple's bytes (`make_key(*key)`), and a record's: the encoders' own methods, so the
#: fold's compiled loop calls into msgspec with no Python frame in between
encode_key = _key_encoder.encode
encode_value = _value_encoder.encode


def parse_key(key: bytes) -> tuple[Any, ...]:
    return tuple(_key_decoder.decode(key))


_decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {
    HOUR: msgspec.msgpack.Decoder(HourRecord),
    DAY: msgspec.msgpack.Decoder(DayRecord),
    DEAL: msgspec.msgpack.Decoder(DealSlot),
    DEAL_STATE: msgspec.msgpack.Decoder(DealState),
    TARGET: msgspec.msgpack.Decoder(float),
    ALERTS: msgspec.msgpack.Decoder(list[str]),
    MEMBER: msgspec.msgpack.Decoder(Member),
    MEMBER_SENT: msgspec.msgpack.Decoder(list[str]),
    STREAM_TIME: msgspec.msgpack.Decoder(float),
    DERIVED_MEMBERS: msgspec.msgpack.Decoder(int),
    ACCOUNT: msgspec.msgpack.Decoder(AccountWins),
    TOUCHES: msgspec.msgpack.Decoder(TouchRecord),
    DEAL_IDS: msgspec.msgpack.Decoder(DealIdRecord),
    FOLD_SETTINGS: msgspec.msgpack.Decoder(FoldSettings),
    FOLDED_BEFORE: msgspec.msgpack.Decoder(float),
    FORGOT_TOUCHES: msgspec.msgpack.Decoder(dict[int, float]),
    UNPUBLISHED: msgspec.msgpack.Decoder(list[tuple[str, str]]),
    ALERT_OUTBOX: msgspec.msgpack.Decoder(list[bytes]),
}


def decode_value(kind: str, data: bytes) -> Any:
    return _decoders[kind].decode(data)


def read_folded_before(get: Callable[[bytes], bytes | None], partition: int) -> float | None:
    """The instant before which a partition's events are late whatever the grace (None:
    not recorded yet: processor.mark_folded)."""
    raw = get(make_key("", FOLDED_BEFORE, partition))
    return float(decode_value(FOLDED_BEFORE, raw)) if raw else None


def read_stream_time(get: Callable[[bytes], bytes | None], partition: int) -> float | None:
    """A partition's stream time as its state holds it (None: no event seen yet)."""
    raw = get(make_key("", STREAM_TIME, partition))
    return float(decode_value(STREAM_TIME, raw)) if raw else None
