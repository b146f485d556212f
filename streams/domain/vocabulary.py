"""The contract's vocabularies, defined once: every other module and the JSON Schemas
(schemas/generate.py) take their lists from here.

Each list is a `Literal` type for the checker plus a tuple of its values for code that
iterates, validates or exports them; `get_args` keeps the two identical.
"""

from __future__ import annotations

from typing import Final, Literal, TypeAlias, get_args

ActivityType: TypeAlias = Literal[
    "call", "email", "meeting", "demo", "proposal", "negotiation", "social", "event", "follow_up"
]
ACTIVITY_TYPES: Final[tuple[str, ...]] = get_args(ActivityType)

DealOutcome: TypeAlias = Literal["won", "lost", "reopened", "open"]
DEAL_OUTCOMES: Final[tuple[str, ...]] = get_args(DealOutcome)
#: outcomes whose current state counts in no won or lost figure (contract 8.1)
OPEN_OUTCOMES: Final[tuple[str, ...]] = ("reopened", "open")

DealKind: TypeAlias = Literal["new_business", "renewal", "expansion"]
DEAL_KINDS: Final[tuple[str, ...]] = get_args(DealKind)

Scope: TypeAlias = Literal["rep", "team"]
SCOPES: Final[tuple[str, ...]] = get_args(Scope)

#: input kinds, named after their topics without the prefix
INPUT_KINDS: Final[tuple[str, ...]] = ("activities", "deals", "feedback", "targets")

#: metrics a target may name: revenue_won (base currency), deals_won, activities_total and
#: activities.<type> for each activity type
TARGET_METRICS: Final[tuple[str, ...]] = (
    "revenue_won",
    "deals_won",
    "activities_total",
    *(f"activities.{t}" for t in ACTIVITY_TYPES),
)
#: the metrics without a per-type breakdown, for tools that offer a short list
HEADLINE_TARGET_METRICS: Final[tuple[str, ...]] = TARGET_METRICS[:3]

TargetStatus: TypeAlias = Literal[
    "achieved", "missed", "not_started", "on_track", "behind", "at_risk"
]
TARGET_STATUSES: Final[tuple[TargetStatus, ...]] = get_args(TargetStatus)

AlertKind: TypeAlias = Literal[
    "target_at_risk", "target_missed", "target_achieved", "target_achievement_revoked"
]
ALERT_KINDS: Final[tuple[str, ...]] = get_args(AlertKind)

Quadrant: TypeAlias = Literal[
    "high_activity_high_performance",
    "high_activity_low_performance",
    "low_activity_high_performance",
    "low_activity_low_performance",
]
QUADRANTS: Final[tuple[Quadrant, ...]] = get_args(Quadrant)

LEADERBOARD_METRICS: Final[tuple[str, ...]] = (
    "revenue_won",
    "deals_won",
    "activities_total",
    "win_rate",
    "avg_deal_size",
    "csat_avg",
    "target_attainment",  # contract 8.4: the best attainment among the scope's targets
    "conversion_win_rate",  # contract 8.4: section 8.2 figures
    "retention_rate",
    "pipeline_open_amount",
    "customers_new",
)

INVALID_JSON: Final = "invalid_json"
SCHEMA_VIOLATION: Final = "schema_violation"
UNSUPPORTED_SCHEMA_VERSION: Final = "unsupported_schema_version"
UNKNOWN_CURRENCY: Final = "unknown_currency"
LATE_EVENT: Final = "late_event"
FUTURE_EVENT_TIME: Final = "future_event_time"
PAYLOAD_TOO_LARGE: Final = "payload_too_large"
#: a record validation accepted whose fold raised (the exception text is the detail)
PROCESSING_ERROR: Final = "processing_error"

#: every dead-letter reason, in the contract's order
DEADLETTER_REASONS: Final[tuple[str, ...]] = (
    INVALID_JSON,
    SCHEMA_VIOLATION,
    UNSUPPORTED_SCHEMA_VERSION,
    UNKNOWN_CURRENCY,
    LATE_EVENT,
    FUTURE_EVENT_TIME,
    PAYLOAD_TOO_LARGE,
    PROCESSING_ERROR,
)
