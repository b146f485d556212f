"""Items carried on the internal scopes topic, batched into envelopes.

Ingestion validates input records and routes them to the scope that owns them: an activity
or feedback to its rep, a deal to its deal_id, a target to its rep or team. Scopes in turn
send *absolute* contributions to other scopes (a rep's hour to its team, a deal's current
state to every rep and team it was ever attributed to). Absolute values, never deltas, make
every hop idempotent: replaying a batch after a crash rewrites the same values instead of
counting them twice. The most frequent ones (`ORDER_FREE`) need no order either, and skip the
topic when the worker that made them owns their scope.

One Kafka message carries an envelope of many items bound for the same partition, so the
per-message cost of Kafka and Faust is paid once per batch, not once per event.

Items are Structs with ``gc=False``, like the state records (streams.engine.state): no item
ever references back to what holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from streams.domain.events import Activity, Deal, Feedback
from streams.domain.satisfaction import Satisfaction


class RawEvent(msgspec.Struct, tag="raw", array_like=True, frozen=True, gc=False):
    """A validated input record, still as its original bytes (needed for the dead-letter)."""

    scope: str  # "rep:<rep_id>" for activities and feedback, "deal:<deal_id>" for deals
    kind: str  # "activities" | "deals" | "feedback"
    topic: str
    partition: int
    offset: int
    key: bytes | None
    payload: bytes
    #: the latest event time before it in its input partition, as its reader saw it
    #: (DecodedEvent.ahead), for its lateness where it is folded (absent before 2026-12-07)
    ahead: float = float("-inf")


@dataclass(slots=True)  # one per input record: a frozen dataclass is slower to build
class DecodedEvent:
    """A RawEvent folded by the worker that validated it, with what validation decoded, so
    the fold never decodes it again. Never sent: the internal topic carries the RawEvent."""

    raw: RawEvent
    event: Activity | Deal | Feedback
    #: the latest event time of the records before it in its input partition, in this
    #: batch: the batch folds in event-time order, and this keeps an event that arrived
    #: behind much newer ones late, as it is in arrival order (contract: stream time)
    ahead: float = float("-inf")

    @property
    def scope(self) -> str:
        return self.raw.scope


class TargetItem(msgspec.Struct, tag="target", array_like=True, frozen=True, gc=False):
    scope: str  # "rep:<id>" or "team:<id>"
    metric: str
    period: str
    value: float | None  # None deletes the target


class HourCounts(msgspec.Struct, array_like=True, gc=False):
    """What one rep did in one team in one local clock hour."""

    counts: dict[str, int] = {}
    satisfaction: Satisfaction = msgspec.field(default_factory=Satisfaction)
    latest: float = 0.0  # epoch seconds of the latest event in this part

    def total(self) -> int:
        return sum(self.counts.values())

    def events(self) -> int:
        """How many events the part counts: an activity once, a feedback once per answer
        (it carries at least one). A rep's part grows with every event it takes and loses
        none, so of two parts of one rep's hour the one counting more events is the newer."""
        satisfaction = self.satisfaction
        return self.total() + satisfaction.csat_n + satisfaction.nps_n


class TeamHourItem(msgspec.Struct, tag="team_hour", array_like=True, frozen=True, gc=False):
    """Absolute: rep `rep`'s part of team `scope`'s hour `hour` is now `part`. The team
    keeps the part that counts the most events (`HourCounts.events`), so items of one part
    may arrive in any order."""

    scope: str
    hour: int
    rep: str
    part: HourCounts


class DealFigure(msgspec.Struct, array_like=True, frozen=True, gc=False):
    """The current state of one deal, as the scopes it is attributed to count it."""

    occurred_at: float  # epoch seconds
    outcome: str  # "won" | "lost" | "open" | "reopened"
    amount_base: str  # Decimal text in the base currency ("0" when without amount)
    cycle_seconds: float | None  # occurred_at - created_at, won deals with created_at only
    rep: str
    team: str
    # contract section 8.2: the cohort (created_at), the pipeline (expected_close_at) and
    # the breakdowns; absent text fields as the contract reports them
    created_at: float | None = None
    expected_close_at: float | None = None
    source: str = "unknown"
    kind: str = "new_business"
    lost_reason: str = "unspecified"
    stage: str = "unknown"
    account: str | None = None
    #: applied activities carrying this deal_id, per activity type
    touches: dict[str, int] = {}
    #: the first win of the deal's account (None: no won deal), and whether it is this deal
    first_win_at: float | None = None
    first_deal: bool = False

    @property
    def closed(self) -> bool:
        return self.outcome in ("won", "lost")


class DealContribution(msgspec.Struct, tag="deal", array_like=True, frozen=True, gc=False):
    """Absolute: deal `deal_id` now contributes `figure` (or nothing) to `scope`."""

    scope: str
    deal_id: str
    figure: DealFigure | None


class TouchItem(msgspec.Struct, tag="touch", array_like=True, frozen=True, gc=False):
    """An applied activity `event_id` of type `activity` carries deal `scope`'s deal_id.
    The deal keeps its touches by event id: items may arrive in any order, and again,
    until its rep's partition says none can come again (ForgetTouches)."""

    scope: str  # "deal:<deal_id>"
    event_id: str
    activity: str
    #: the activity's time and the partition of the rep that sent it (None: a touch of an
    #: earlier version): one before what that partition said it forgot is one sent again
    occurred: float | None = None
    source: int | None = None


class ForgetTouches(msgspec.Struct, tag="forget_touches", array_like=True, frozen=True, gc=False):
    """Deal `scope` may drop these touch ids (their counts stay): partition `source`, where
    their reps live, applies no activity before `before` any more (the folded instant its
    written state held, as its Tick said). A touch it sends again of such an activity (a
    repeat, or a replay after a crash) is known by its time: from `source`, before `before`,
    and not among the ids the deal holds."""

    scope: str  # "deal:<deal_id>"
    source: int
    before: float
    event_ids: list[str]


class AccountDealItem(msgspec.Struct, tag="account_deal", array_like=True, frozen=True, gc=False):
    """Absolute: deal `deal_id` of account `scope` is won at `won_at` (None: not won)."""

    scope: str  # "account:<account_id>"
    deal_id: str
    won_at: float | None


class FirstWinItem(msgspec.Struct, tag="first_win", array_like=True, frozen=True, gc=False):
    """Absolute: account `account`'s first win is deal `deal_id` at `at` (None: no win)."""

    scope: str  # "deal:<deal_id>" of a deal of the account
    account: str
    at: float | None
    deal_id: str | None


class MemberItem(msgspec.Struct, tag="member", array_like=True, frozen=True, gc=False):
    """Absolute: in `period`, rep `rep` is (or is not) a member of team `scope`; with
    `derive`, the team derives it from its own records again (the rep is back to one team)."""

    scope: str
    period: str
    rep: str
    member: bool
    activities: int
    revenue: str  # Decimal text
    derive: bool = False  # absent in envelopes of earlier versions


class Republish(msgspec.Struct, tag="republish", array_like=True, frozen=True, gc=False):
    """Tells a rep's owner that its team's medians moved: its quadrant may have changed."""

    scope: str
    period: str


class Tick(msgspec.Struct, tag="tick", array_like=True, frozen=True, gc=False):
    """Asks the partition's owner to evaluate every target it holds (once a minute), or
    one scope's targets (`scope`: an alert held to settle, streams.domain.alert_settling;
    a worker of an earlier version takes it for the minute's Tick)."""

    scope: str = ""
    #: the instant before which the partition's events are late whatever the grace, as its
    #: written state held it when the Tick was sent (the worker's store, written only once
    #: the changelog has it; -inf: nothing written yet). Hours before it are pruned and
    #: their deals told to forget their touches. None: not said (an earlier version's
    #: Tick): hours are pruned as before and no deal is told anything
    written_folded_before: float | None = None


Item = (
    RawEvent
    | TargetItem
    | TeamHourItem
    | DealContribution
    | TouchItem
    | ForgetTouches
    | AccountDealItem
    | FirstWinItem
    | MemberItem
    | Republish
    | Tick
)


#: what the fold takes: the items of the internal topic, and input decoded in this process
Foldable = Item | DecodedEvent

#: items whose order means nothing where they are folded: a worker owning their scope folds
#: them in the batch that made them instead of sending them through the internal topic (the
#: other absolute items replace what their scope held, so an older one must never overtake a
#: newer one: on the topic they keep the order they were made in, across rebalances)
ORDER_FREE: tuple[type[Item], ...] = (TeamHourItem, TouchItem)


class Envelope(msgspec.Struct, array_like=True, gc=False):
    items: list[Item]


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Envelope)


def encode_envelope(items: list[Item]) -> bytes:
    return _encoder.encode(Envelope(items))


class UnreadableEnvelope(ValueError):
    """An internal-topic record this version cannot read: written by a worker of a version
    whose items differ, or by something that is not a salespulse worker. Its contributions
    cannot be skipped without wrong figures, so the worker stops on it (batch_handler)."""


def decode_envelope(data: bytes) -> list[Item]:
    try:
        return _decoder.decode(data).items
    except (msgspec.DecodeError, TypeError) as exc:  # TypeError: a record with no value
        raise UnreadableEnvelope(str(exc)) from exc
