"""State records of the scopes table, and their keys.

All state of a scope (a rep, a team or a deal) lives in one changelog-backed table,
partitioned like the scopes topic, so a worker owns a scope's events and its state together.
Keys are msgpack tuples `(scope, kind, *rest)`: unambiguous whatever characters ids hold.

Each record is written whole and at most once per batch. What must change together lives in
one record (an hour's counts and the ids of the events counted in it), so a crash can never
leave a count without the id that makes its replay a duplicate.
"""

from __future__ import annotations

from typing import Any

import msgspec

from streams.engine.items import DealFigure, HourCounts

# record kinds (second element of a key)
HOUR = "h"  # (scope, "h", hour_epoch) -> HourRecord
DEAL = "d"  # (scope, "d", deal_id) -> DealSlot (what a deal contributes to a rep or team)
DEAL_STATE = "s"  # ("deal:<id>", "s") -> DealState
TARGET = "t"  # (scope, "t", metric, period) -> float
ALERTS = "a"  # (scope, "a", metric, period) -> list of alert kinds already emitted
MEMBER = "m"  # (team scope, "m", period, rep) -> Member
MEMBER_SENT = "ms"  # (rep scope, "ms", period) -> list of teams sent membership for
STREAM_TIME = "st"  # ("", "st", partition) -> float epoch seconds
ACCOUNT = "ac"  # ("account:<id>", "ac") -> AccountWins


class HourRecord(msgspec.Struct, array_like=True):
    """One scope's local clock hour: counts per part (team for a rep, rep for a team)."""

    ids: list[str] = []
    parts: dict[str, HourCounts] = {}


class DealVersion(msgspec.Struct, array_like=True, frozen=True):
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


class DealState(msgspec.Struct, array_like=True):
    ids: list[str] = []
    current: DealVersion | None = None
    #: every (rep, team) the deal was ever attributed to; each gets its absolute share
    owners: list[tuple[str, str]] = []
    #: ids of the applied activities carrying this deal_id, and their count per type
    touch_ids: list[str] = []
    touches: dict[str, int] = {}
    #: every account the deal was ever reported to (a corrected account_id is retracted)
    accounts: list[str] = []
    #: what the account of `first_account` last said of its first win: when, and which deal
    first_account: str | None = None
    first_win_at: float | None = None
    first_deal_id: str | None = None


class AccountWins(msgspec.Struct, array_like=True):
    """One account's currently won deals: deal_id -> won occurred_at (for its first win)."""

    won: dict[str, float] = {}


class DealSlot(msgspec.Struct, array_like=True):
    """What one deal contributes to one rep or team, and every event time it ever held.

    The times let a replayed contribution re-announce every period the deal ever touched,
    even when the replay itself changes nothing (the first run already wrote it).
    """

    figure: DealFigure | None = None
    seen: list[float] = []


class Member(msgspec.Struct, array_like=True, frozen=True):
    member: bool
    activities: int
    revenue: str


_key_encoder = msgspec.msgpack.Encoder()
_key_decoder = msgspec.msgpack.Decoder(tuple)
_value_encoder = msgspec.msgpack.Encoder()


def make_key(scope: str, kind: str, *rest: str | int) -> bytes:
    return _key_encoder.encode((scope, kind, *rest))


def parse_key(key: bytes) -> tuple[Any, ...]:
    return tuple(_key_decoder.decode(key))


def encode_value(value: Any) -> bytes:
    return _value_encoder.encode(value)


_decoders: dict[str, msgspec.msgpack.Decoder[Any]] = {
    HOUR: msgspec.msgpack.Decoder(HourRecord),
    DEAL: msgspec.msgpack.Decoder(DealSlot),
    DEAL_STATE: msgspec.msgpack.Decoder(DealState),
    TARGET: msgspec.msgpack.Decoder(float),
    ALERTS: msgspec.msgpack.Decoder(list[str]),
    MEMBER: msgspec.msgpack.Decoder(Member),
    MEMBER_SENT: msgspec.msgpack.Decoder(list[str]),
    STREAM_TIME: msgspec.msgpack.Decoder(float),
    ACCOUNT: msgspec.msgpack.Decoder(AccountWins),
}


def decode_value(kind: str, data: bytes) -> Any:
    return _decoders[kind].decode(data)
