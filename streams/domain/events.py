"""Validated input events (docs/contract.md section 2) as compiled msgspec Structs.

The Structs are both the decoding schema and the in-memory type the rest of the project uses:
msgspec checks types, lengths, ranges and enums in C while it parses, and the few cross-field
rules run in ``__post_init__``, so any instance, decoded or built in code, obeys the contract.
Unknown JSON fields are ignored (msgspec's default). Pure module: no Kafka or faust imports.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, TypeAlias

import msgspec

from streams.domain.periods import MAX_YEAR, MIN_YEAR, PeriodError, parse_period_id
from streams.domain.vocabulary import (
    ACTIVITY_TYPES,
    DEAL_OUTCOMES,
    SCOPES,
    TARGET_METRICS,
    ActivityType,
    DealKind,
    DealOutcome,
    Scope,
)

__all__ = ["ACTIVITY_TYPES", "DEAL_OUTCOMES", "SCOPES", "TARGET_METRICS"]

SCHEMA_VERSION: Final = 1

EventId = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
RepId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
TeamId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
#: the longest deal_id a deal event carries (an activity's is not limited: a longer one
#: names no deal)
MAX_DEAL_ID = 128
DealId = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_DEAL_ID)]
ScopeId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
AwareDatetime = Annotated[datetime, msgspec.Meta(tz=True)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Positive = Annotated[float, msgspec.Meta(gt=0)]
#: The largest deal amount accepted, in the deal's currency (10^15, a thousand trillion):
#: far above any real deal, and low enough that every sum and rounding of money stays exact.
MAX_AMOUNT: Final = 1e15
Amount = Annotated[float, msgspec.Meta(ge=0, le=MAX_AMOUNT)]
# \Z rather than $: Python's $ also matches before a trailing newline.
CurrencyCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}\Z")]
Csat = Annotated[int, msgspec.Meta(ge=1, le=5)]
Nps = Annotated[int, msgspec.Meta(ge=0, le=10)]


def is_valid_period(text: str) -> bool:
    """True for a real calendar day, ISO week, month or quarter (one grammar: periods)."""
    try:
        parse_period_id(text)
    except PeriodError:
        return False
    return True


def is_valid_metric(text: str) -> bool:
    """True for revenue_won, deals_won, activities_total or activities.<activity type>."""
    return text in TARGET_METRICS


def _check_time(path: str, value: datetime | None) -> None:
    """Refuse years whose conversion to another offset could overflow later."""
    if value is not None and not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"{path}: year must be between {MIN_YEAR:04d} and {MAX_YEAR}")


class _Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Fields every input event carries (section 2)."""

    event_id: EventId
    occurred_at: AwareDatetime
    rep_id: RepId
    team_id: TeamId
    schema_version: int = SCHEMA_VERSION


class Activity(_Event, frozen=True, kw_only=True, gc=False):
    """One thing a rep did (sales.activities)."""

    activity: ActivityType
    account_id: str | None = None
    deal_id: str | None = None
    duration_s: NonNegative | None = None
    outcome: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        """Check the time range msgspec's RFC 3339 parser cannot."""
        _check_time("$.occurred_at", self.occurred_at)


class Deal(_Event, frozen=True, kw_only=True, gc=False):
    """A deal outcome (sales.deals).

    Rules: ``amount`` is required when the outcome is won; ``currency`` is required when an
    amount is given. A currency without an amount is accepted (CRMs send the deal currency on
    every event) and carries no value, so it is not checked against the known currencies.
    """

    deal_id: DealId
    outcome: DealOutcome
    amount: Amount | None = None
    currency: CurrencyCode | None = None
    created_at: AwareDatetime | None = None
    account_id: str | None = None
    source: ShortText | None = None
    #: contract section 8.1: the pipeline stage of an open deal, when it is expected to
    #: close, its kind and why a lost deal was lost
    stage: ShortText | None = None
    expected_close_at: AwareDatetime | None = None
    kind: DealKind | None = None  # absent or null: new_business
    lost_reason: ShortText | None = None

    def __post_init__(self) -> None:
        """Cross-field rules a per-field type cannot express."""
        _check_time("$.occurred_at", self.occurred_at)
        _check_time("$.created_at", self.created_at)
        _check_time("$.expected_close_at", self.expected_close_at)
        if self.outcome == "won" and self.amount is None:
            raise ValueError("$.amount: required when outcome is won")
        if self.amount is not None and self.currency is None:
            raise ValueError("$.currency: required when amount is given")


class Feedback(_Event, frozen=True, kw_only=True, gc=False):
    """A customer satisfaction response (sales.feedback): csat and/or nps."""

    csat: Csat | None = None
    nps: Nps | None = None
    account_id: str | None = None
    deal_id: str | None = None

    def __post_init__(self) -> None:
        """At least one score must be present."""
        _check_time("$.occurred_at", self.occurred_at)
        if self.csat is None and self.nps is None:
            raise ValueError("$: at least one of csat or nps is required")


class TargetValue(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The JSON value of a sales.targets record (a quota)."""

    scope: Scope
    scope_id: ScopeId
    metric: str
    period: str
    value: Positive

    def __post_init__(self) -> None:
        """metric and period have grammars plus calendar rules, checked here."""
        if not is_valid_metric(self.metric):
            raise ValueError(
                "$.metric: must be revenue_won, deals_won, activities_total or "
                f"activities.<{'|'.join(ACTIVITY_TYPES)}>, got {self.metric!r}"
            )
        if not is_valid_period(self.period):
            raise ValueError(
                "$.period: must be a real day 2026-11-27, ISO week 2026-W48, month 2026-11 "
                f"or quarter 2026-Q4, got {self.period!r}"
            )


class TargetCommand(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A validated sales.targets record: set ``value`` for the key, or delete it (None)."""

    key: str
    scope: Scope
    scope_id: str
    metric: str
    period: str
    value: float | None


Event: TypeAlias = Activity | Deal | Feedback
