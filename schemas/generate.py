"""Generates the JSON Schema files in this directory: ``python schemas/generate.py``.

The schemas are data, but a few rules (real calendar dates, ISO weeks 53, the timestamp
grammar msgspec accepts) need long regular expressions that are safer built by code than typed.
tests/unit/test_schemas.py fails when a committed file differs from what this script writes.
Patterns use [0-9] rather than \\d (Python's \\d also matches non-ASCII digits) and only
ECMA-262 syntax, so any JSON Schema implementation reads them the same way.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from streams.domain import vocabulary
from streams.domain.events import MAX_AMOUNT

HERE = Path(__file__).resolve().parent
BASE_URI = "https://salespulse.example/schemas/"
DIALECT = "https://json-schema.org/draft/2020-12/schema"

# the decoder's lists: schema and decoder cannot disagree on a vocabulary
ACTIVITY_TYPES = list(vocabulary.ACTIVITY_TYPES)
MAX_DOUBLE = 1.7976931348623157e308  # refuses numbers that overflow to infinity (1e400)


def _two_digit_alternation(values: list[int]) -> str:
    """A regex for a set of two-digit numbers, grouped by tens digit: 0[48]|1[26]|..."""
    by_tens: dict[int, list[int]] = {}
    for v in sorted(values):
        by_tens.setdefault(v // 10, []).append(v % 10)
    parts = []
    for tens, units in by_tens.items():
        cls = str(units[0]) if len(units) == 1 else "[" + "".join(map(str, units)) + "]"
        parts.append(f"{tens}{cls}")
    return "|".join(parts)


def _year_mod_400(residues: set[int]) -> str:
    """A regex matching four-digit years whose value mod 400 is in ``residues``."""
    alternatives = []
    for century_mod in range(4):
        centuries = [c for c in range(100) if c % 4 == century_mod]
        endings = [y for y in range(100) if century_mod * 100 + y in residues]
        if endings:
            alternatives.append(
                f"(?:{_two_digit_alternation(centuries)})(?:{_two_digit_alternation(endings)})"
            )
    return "(?:" + "|".join(alternatives) + ")"


def _has_53_weeks(year: int) -> bool:
    return date(year, 12, 28).isocalendar()[1] == 53


# Years 0002-9998: the first and last representable years could overflow on conversion to
# another offset or time zone, so the decoder refuses them as well.
YEAR = "(?!000[01]|9999)[0-9]{4}"
LEAP_YEAR = _year_mod_400({y for y in range(400) if y % 4 == 0 and (y % 100 != 0 or y == 0)})
WEEK53_YEAR = _year_mod_400({y % 400 for y in range(2000, 2400) if _has_53_weeks(y)})
DATE = (
    f"(?:{YEAR}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    f"|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?!000[01]|9999){LEAP_YEAR}-02-29)"
)
WEEK = f"(?:{YEAR}-W(?:0[1-9]|[1-4][0-9]|5[0-2])|(?!000[01]|9999){WEEK53_YEAR}-W53)"
MONTH = f"{YEAR}-(?:0[1-9]|1[0-2])"
QUARTER = f"{YEAR}-Q[1-4]"
PERIOD = f"^(?:{DATE}|{WEEK}|{MONTH}|{QUARTER})$"
TIME = "(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?"
# RFC 3339: the offset has a colon; a leap second is 23:59:60 (read as 23:59:59.999999)
OFFSET = "(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"
LEAP_TIME = "23:59:60(?:\\.[0-9]+)?"
TIMESTAMP = f"^{DATE}[Tt ](?:{TIME}|{LEAP_TIME}){OFFSET}$"
UTC_TIMESTAMP = f"^{DATE}T{TIME}Z$"
METRIC = (
    "^(?:revenue_won|deals_won|activities_total|activities\\.(?:" + "|".join(ACTIVITY_TYPES) + "))$"
)
CURRENCY = "^[A-Z]{3}$"

TIMESTAMP_DESCRIPTION = (
    "RFC 3339 timestamp with a mandatory offset: Z or +hh:mm, never +hhmm (also accepted: "
    "lowercase t/z, a space as separator, any number of fraction digits, a leap second "
    "23:59:60, read as 23:59:59.999999). Years 0002-9998."
)


def string(
    lo: int | None = None, hi: int | None = None, nullable: bool = False, **extra: Any
) -> dict[str, Any]:
    s: dict[str, Any] = {"type": ["string", "null"] if nullable else "string"}
    if lo is not None:
        s["minLength"] = lo
    if hi is not None:
        s["maxLength"] = hi
    s.update(extra)
    return s


def timestamp(nullable: bool = False, description: str = TIMESTAMP_DESCRIPTION) -> dict[str, Any]:
    return {
        "type": ["string", "null"] if nullable else "string",
        "format": "date-time",
        "pattern": TIMESTAMP,
        "description": description,
    }


def number(nullable: bool = False, **extra: Any) -> dict[str, Any]:
    s: dict[str, Any] = {
        "type": ["number", "null"] if nullable else "number",
        "maximum": MAX_DOUBLE,
    }
    s.update(extra)
    return s


def schema(name: str, title: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DIALECT,
        "$id": f"{BASE_URI}{name}.schema.json",
        "title": title,
        "description": description,
        **body,
    }


COMMON_REQUIRED = ["event_id", "occurred_at", "rep_id", "team_id"]
COMMON = {
    "event_id": string(
        1, 128, description="Unique per topic; a repeat is a duplicate and is ignored."
    ),
    "occurred_at": timestamp(description="The event time. " + TIMESTAMP_DESCRIPTION),
    "rep_id": string(1, 64, description="The sales rep."),
    "team_id": string(1, 64, description="The rep's team at that moment; team figures use it."),
    "schema_version": {
        "type": "integer",
        "const": 1,
        "description": "Optional, 1 by default. Any other integer is rejected with reason "
        "unsupported_schema_version, which wins over every other schema error; a non-integer "
        '("1", true, null) is a schema_violation. 1.0 counts as 1 (JSON has one number type).',
    },
}
EVENT_NOTE = (
    " Unknown extra fields are ignored. Checked by the decoder only (not expressible here): "
    "an occurred_at more than SALES_MAX_CLOCK_SKEW ahead of the wall clock (future_event_time) "
    "and lateness against stream time (late_event). Values larger than SALES_MAX_PAYLOAD_BYTES "
    "(payload_too_large) and bytes that are not UTF-8 JSON (invalid_json) never reach the schema."
)

ACTIVITY = schema(
    "activity",
    "Activity event (sales.activities)",
    "What a sales rep did: one input of the sales process." + EVENT_NOTE,
    {
        "type": "object",
        "required": [*COMMON_REQUIRED, "activity"],
        "properties": {
            **COMMON,
            "activity": {"enum": ACTIVITY_TYPES},
            "account_id": string(nullable=True),
            "deal_id": string(nullable=True),
            "duration_s": number(nullable=True, minimum=0, description="Seconds, >= 0."),
            "outcome": string(nullable=True, description="Free text, e.g. connected, voicemail."),
            "source": string(nullable=True, description="The producing system."),
        },
    },
)

DEAL = schema(
    "deal",
    "Deal outcome event (sales.deals)",
    "A deal outcome. For one deal_id the event with the latest occurred_at is the current state. "
    "amount is required when outcome is won; currency is required when amount is given (null "
    "counts as absent). A currency without an amount is accepted and ignored. Checked by the "
    "decoder only: when an amount is given, currency must be a key of SALES_FX_RATES or the "
    "base currency (unknown_currency)." + EVENT_NOTE,
    {
        "type": "object",
        "required": [*COMMON_REQUIRED, "deal_id", "outcome"],
        "properties": {
            **COMMON,
            "deal_id": string(1, 128),
            "outcome": {"enum": list(vocabulary.DEAL_OUTCOMES)},
            "amount": number(
                nullable=True,
                minimum=0,
                maximum=MAX_AMOUNT,
                description="In currency; >= 0 and at most 10^15.",
            ),
            "currency": string(nullable=True, pattern=CURRENCY, description="ISO 4217 code."),
            "created_at": timestamp(
                nullable=True, description="When the opportunity opened. " + TIMESTAMP_DESCRIPTION
            ),
            "account_id": string(nullable=True),
            "source": string(1, 64, nullable=True, description="Lead source or campaign."),
            "stage": string(1, 64, nullable=True, description="Pipeline stage of an open deal."),
            "expected_close_at": timestamp(
                nullable=True,
                description="When an open deal is expected to close. " + TIMESTAMP_DESCRIPTION,
            ),
            "kind": {
                "enum": [*vocabulary.DEAL_KINDS, None],
                "description": "new_business when absent or null.",
            },
            "lost_reason": string(1, 64, nullable=True, description="Why a lost deal was lost."),
        },
        "allOf": [
            {
                "if": {"required": ["outcome"], "properties": {"outcome": {"const": "won"}}},
                "then": {"required": ["amount"], "properties": {"amount": {"type": "number"}}},
            },
            {
                "if": {"required": ["amount"], "properties": {"amount": {"type": "number"}}},
                "then": {"required": ["currency"], "properties": {"currency": {"type": "string"}}},
            },
        ],
    },
)

FEEDBACK = schema(
    "feedback",
    "Customer feedback event (sales.feedback)",
    "Customer satisfaction: csat (1-5) and/or nps (0-10), at least one non-null. Integral "
    "numbers written as 4.0 are accepted as integers, 4.5 is not." + EVENT_NOTE,
    {
        "type": "object",
        "required": COMMON_REQUIRED,
        "properties": {
            **COMMON,
            "csat": {"type": ["integer", "null"], "minimum": 1, "maximum": 5},
            "nps": {"type": ["integer", "null"], "minimum": 0, "maximum": 10},
            "account_id": string(nullable=True),
            "deal_id": string(nullable=True),
        },
        "anyOf": [
            {"required": ["csat"], "properties": {"csat": {"type": "integer"}}},
            {"required": ["nps"], "properties": {"nps": {"type": "integer"}}},
        ],
    },
)

PERIOD_DESCRIPTION = (
    "A calendar period: day 2026-11-27, ISO week 2026-W48 (W53 only in ISO years with 53 "
    "weeks), month 2026-11 or quarter 2026-Q4; real calendar values, years 0002-9998."
)
METRIC_DESCRIPTION = (
    "revenue_won (base currency), deals_won, activities_total or activities.<activity type>."
)

TARGET = schema(
    "target",
    "Target value (sales.targets, compacted)",
    "The value of a quota record. The record key is {scope}:{scope_id}:{metric}:{period} (UTF-8; "
    "scope_id may itself contain ':', so the key is split at the first ':' and the last two). "
    "A null value (Kafka tombstone, empty value or JSON null) deletes the target; then only the "
    "key is checked. Checked by the decoder only: the key is present and valid, and the "
    "value's scope, scope_id, metric and period equal the key's (schema_violation otherwise). "
    "schema_version is not used on this topic. Unknown extra fields are ignored.",
    {
        "type": "object",
        "required": ["scope", "scope_id", "metric", "period", "value"],
        "properties": {
            "scope": {"enum": list(vocabulary.SCOPES)},
            "scope_id": string(1, 64),
            "metric": string(pattern=METRIC, description=METRIC_DESCRIPTION),
            "period": string(pattern=PERIOD, description=PERIOD_DESCRIPTION),
            "value": number(exclusiveMinimum=0, description="The target, > 0."),
        },
    },
)

ALERT = schema(
    "alert",
    "Target alert (sales.alerts)",
    "target_at_risk and target_missed are emitted at most once per target and period, when "
    "that status is first seen; target_achieved and target_achievement_revoked alternate as "
    "corrections take the actual over and under the target (docs/contract.md sections 5 and "
    "8.3). sequence numbers a target and period's alerts 1, 2, ... Consumers must ignore "
    "unknown extra fields.",
    {
        "type": "object",
        "required": [
            "alert_id",
            "kind",
            "sequence",
            "scope",
            "scope_id",
            "metric",
            "period",
            "target",
            "actual",
            "attainment",
            "expected_by_now",
            "emitted_at",
        ],
        "properties": {
            "alert_id": string(1, description="Unique per alert; the same alert re-sent keeps it."),
            "kind": {"enum": list(vocabulary.ALERT_KINDS)},
            "sequence": {
                "type": "integer",
                "minimum": 1,
                "description": "1, 2, ... per target and period, in the order emitted.",
            },
            "scope": {"enum": list(vocabulary.SCOPES)},
            "scope_id": string(1, 64),
            "metric": string(pattern=METRIC, description=METRIC_DESCRIPTION),
            "period": string(pattern=PERIOD, description=PERIOD_DESCRIPTION),
            "target": number(exclusiveMinimum=0),
            "actual": number(minimum=0, description="The figure named by metric."),
            "attainment": number(minimum=0, description="actual / target."),
            "expected_by_now": number(
                minimum=0,
                description="target x the fraction of the period's business days elapsed.",
            ),
            "emitted_at": string(
                format="date-time", pattern=TIMESTAMP, description=TIMESTAMP_DESCRIPTION
            ),
        },
    },
)


def nullable_number(description: str, **extra: Any) -> dict[str, Any]:
    return number(nullable=True, description=description, **extra)


def count(description: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 0, "description": description}


def group(properties: dict[str, Any], later: dict[str, Any] | None = None) -> dict[str, Any]:
    """An object whose `properties` are all required; `later` ones (the contract's section 8,
    version 2) are described but optional, since records a version 1 worker wrote lack them."""
    return {
        "type": "object",
        "required": list(properties),
        "properties": {**properties, **(later or {})},
    }


def money(description: str) -> dict[str, Any]:
    return number(minimum=0, description=f"{description} Base currency, rounded to cents.")


def keyed(names: str, value: dict[str, Any]) -> dict[str, Any]:
    """An object by name (a source, a stage, a reason, a kind, an activity type)."""
    return {
        "type": "object",
        "description": f"By {names}.",
        "propertyNames": {"minLength": 1, "maxLength": 64},
        "additionalProperties": value,
    }


V2 = " (contract section 8.2; absent on records written before version 2)"


QUADRANTS = list(vocabulary.QUADRANTS)

PERFORMANCE = schema(
    "performance",
    "Performance figures of a rep or team for one period",
    "The figures of docs/contract.md sections 4 and 8.2 for one scope and period: the body of GET "
    "/v1/reps/{rep_id}/performance and /v1/teams/{team_id}/performance, and the value on "
    "sales.performance (key {scope}:{id}:{period}). Money is in the base currency, rounded to "
    "cents. team_id and quadrant are required for reps. Consumers must ignore unknown extra "
    "fields.",
    {
        "type": "object",
        "required": [
            "scope",
            "id",
            "period",
            "currency",
            "activities",
            "deals",
            "satisfaction",
            "efficiency",
            "targets",
        ],
        "properties": {
            "scope": {"enum": list(vocabulary.SCOPES)},
            "id": string(1, 64),
            "team_id": string(
                1,
                64,
                nullable=True,
                description="Reps: the team on its latest event in the period; null when the "
                "rep has no such event there (only a deal created in the period, or open and "
                "expected to close in it).",
            ),
            "period": string(pattern=PERIOD, description=PERIOD_DESCRIPTION),
            "currency": string(
                pattern=CURRENCY, description="The base currency (SALES_BASE_CURRENCY)."
            ),
            "activities": group(
                {
                    "total": count("Applied activity events."),
                    "by_type": {
                        "type": "object",
                        "description": "Counts per activity type; only types with a count above 0.",
                        "propertyNames": {"enum": ACTIVITY_TYPES},
                        "additionalProperties": {"type": "integer", "minimum": 1},
                    },
                }
            ),
            "deals": group(
                {
                    "won": count("Deals whose current state is won in the period."),
                    "lost": count("Deals whose current state is lost in the period."),
                    "revenue_won": number(
                        minimum=0, description="Sum of won amounts, base currency, cents."
                    ),
                    "win_rate": nullable_number(
                        "won / (won + lost), 0-1; null when both are 0.", minimum=0, maximum=1
                    ),
                    "avg_deal_size": nullable_number(
                        "revenue_won / won; null when won is 0.", minimum=0
                    ),
                    "avg_cycle_days": nullable_number(
                        "Mean of (occurred_at - created_at) in days over won deals with "
                        "created_at; "
                        "null if none."
                    ),
                },
                {
                    "by_source": keyed(
                        "lead source (unknown when absent)" + V2,
                        group(
                            {
                                "won": count("Won deals of the source."),
                                "lost": count("Lost deals of the source."),
                                "revenue_won": money("Their revenue."),
                                "win_rate": nullable_number(
                                    "won / (won + lost); null when both are 0.",
                                    minimum=0,
                                    maximum=1,
                                ),
                            }
                        ),
                    ),
                    "lost_by_reason": keyed(
                        "lost_reason (unspecified when absent)" + V2,
                        {"type": "integer", "minimum": 1},
                    ),
                    "revenue_by_kind": keyed(
                        "deal kind" + V2,
                        money("Revenue won of the kind."),
                    ),
                },
            ),
            "satisfaction": group(
                {
                    "csat_avg": nullable_number(
                        "Mean csat; null when no responses.", minimum=1, maximum=5
                    ),
                    "csat_count": count("csat responses."),
                    "csat_satisfied_pct": nullable_number(
                        "Share of csat 4-5 in percent; null when no responses.",
                        minimum=0,
                        maximum=100,
                    ),
                    "nps": nullable_number(
                        "% promoters (9-10) minus % detractors (0-6); null when no responses.",
                        minimum=-100,
                        maximum=100,
                    ),
                    "nps_count": count("nps responses."),
                }
            ),
            "efficiency": group(
                {
                    "activities_per_win": nullable_number(
                        "activities.total / deals.won; null when won is 0.", minimum=0
                    ),
                    "revenue_per_activity": nullable_number(
                        "revenue_won / activities.total; null when no activities.", minimum=0
                    ),
                },
                {
                    "touches_per_won_deal": nullable_number(
                        "Mean applied activities carrying the deal_id of each deal won in the "
                        "period (any rep, any time); null when won is 0" + V2 + ".",
                        minimum=0,
                    ),
                    "touches_by_type_per_won_deal": keyed(
                        "activity type (types with touches)" + V2,
                        number(minimum=0),
                    ),
                },
            ),
            "conversion": group(
                {
                    "created": count("Deals whose created_at lies in the period (the cohort)."),
                    "won": count("Of the cohort, currently won."),
                    "lost": count("Of the cohort, currently lost."),
                    "open": count("Of the cohort, currently open or reopened."),
                    "win_rate": nullable_number(
                        "won / created; null when created is 0.", minimum=0, maximum=1
                    ),
                    "by_source": keyed(
                        "lead source (unknown when absent)",
                        group(
                            {
                                "created": count("The source's cohort."),
                                "won": count("Of it, currently won."),
                                "win_rate": nullable_number("won / created.", minimum=0, maximum=1),
                            }
                        ),
                    ),
                }
            )
            | {"description": "The period's cohort of deals" + V2 + "."},
            "pipeline": group(
                {
                    "open_count": count("Open or reopened deals expected to close in the period."),
                    "open_amount": money("Their amounts (0 when absent)."),
                    "by_stage": keyed(
                        "stage (unknown when absent)",
                        group(
                            {
                                "count": count("Deals in the stage."),
                                "amount": money("Their amounts."),
                            }
                        ),
                    ),
                }
            )
            | {"description": "Open deals expected to close in the period" + V2 + "."},
            "retention": group(
                {
                    "renewals_won": count("The period's won deals of kind renewal."),
                    "renewals_lost": count("The period's lost deals of kind renewal."),
                    "rate": nullable_number(
                        "renewals_won / (renewals_won + renewals_lost); null when both are 0.",
                        minimum=0,
                        maximum=1,
                    ),
                }
            )
            | {"description": "Renewals" + V2 + "."},
            "customers": group(
                {
                    "won": count("Distinct accounts among the deals won in the period."),
                    "new": count(
                        "Accounts whose first win lies in the period, a deal of this scope."
                    ),
                    "repeat": count(
                        "Accounts won in the period whose first win lies before its start."
                    ),
                }
            )
            | {"description": "Customers" + V2 + "."},
            "quadrant": {
                "enum": [*QUADRANTS, None],
                "description": "Reps only; null when team_id is null, or while the team's "
                "medians cannot be had (its owner is restarting, or holds no member's figures "
                "for the period yet).",
            },
            "targets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": [
                        "metric",
                        "target",
                        "actual",
                        "attainment",
                        "expected_by_now",
                        "pace",
                        "status",
                    ],
                    "properties": {
                        "metric": string(pattern=METRIC, description=METRIC_DESCRIPTION),
                        "target": number(exclusiveMinimum=0),
                        "actual": number(minimum=0),
                        "attainment": number(minimum=0, description="actual / target."),
                        "expected_by_now": number(minimum=0),
                        "pace": nullable_number(
                            "actual / expected_by_now; null while nothing is expected yet.",
                            minimum=0,
                        ),
                        "status": {"enum": list(vocabulary.TARGET_STATUSES)},
                        "projected": nullable_number(
                            "actual / the elapsed fraction of the period's business time (the "
                            "straight-line run rate to its end); null while none has elapsed; "
                            "actual once the period has ended.",
                            minimum=0,
                        ),
                        "gap": number(minimum=0, description="max(target - actual, 0)."),
                        "required_per_business_day": nullable_number(
                            "gap / business days left (today by the part of it left); 0 when "
                            "gap is 0; null when something is missing and no business time is "
                            "left.",
                            minimum=0,
                        ),
                        "pipeline_coverage": nullable_number(
                            "revenue_won targets only: pipeline.open_amount / gap; null when "
                            "gap is 0" + V2 + ".",
                            minimum=0,
                        ),
                    },
                },
            },
        },
        "if": {"required": ["scope"], "properties": {"scope": {"const": "rep"}}},
        "then": {"required": ["team_id", "quadrant"]},
    },
)

DEADLETTER = schema(
    "deadletter",
    "Dead-letter record (sales.deadletter)",
    "Every rejected input record (docs/contract.md section 5). payload is the original value as "
    "text (payload_encoding utf-8) or base64 when it is not UTF-8; both are null when the "
    "value was a Kafka null. key is text when UTF-8; a key that is not UTF-8 is base64 and then, "
    'only then, key_encoding "base64" is present. received_at is RFC 3339 UTC.',
    {
        "type": "object",
        "required": [
            "reason",
            "detail",
            "topic",
            "partition",
            "offset",
            "key",
            "payload",
            "payload_encoding",
            "received_at",
        ],
        "properties": {
            "reason": {"enum": list(vocabulary.DEADLETTER_REASONS)},
            "detail": string(description="Human-readable: the field path and the rule broken."),
            "topic": string(1),
            "partition": {"type": ["integer", "null"], "minimum": 0},
            "offset": {"type": ["integer", "null"], "minimum": 0},
            "key": string(nullable=True),
            "key_encoding": {"const": "base64", "description": "Present only when key is base64."},
            "payload": string(nullable=True),
            "payload_encoding": {"enum": ["utf-8", "base64", None]},
            "received_at": string(format="date-time", pattern=UTC_TIMESTAMP),
            "payload_truncated": {
                "const": True,
                "description": "Present only when payload was cut to fit the topic's limit.",
            },
            "payload_size": {
                "type": "integer",
                "minimum": 0,
                "description": "Size in bytes of the original value; with payload_truncated.",
            },
            "key_truncated": {"const": True, "description": "Present only when key was cut."},
            "key_size": {"type": "integer", "minimum": 0},
        },
        "allOf": [
            {
                "if": {"properties": {"payload": {"type": "null"}}},
                "then": {"properties": {"payload_encoding": {"type": "null"}}},
                "else": {"properties": {"payload_encoding": {"enum": ["utf-8", "base64"]}}},
            },
            {
                "if": {"required": ["key_encoding"]},
                "then": {"properties": {"key": {"type": "string"}}},
            },
        ],
    },
)

SCHEMAS = {
    "activity": ACTIVITY,
    "deal": DEAL,
    "feedback": FEEDBACK,
    "target": TARGET,
    "alert": ALERT,
    "performance": PERFORMANCE,
    "deadletter": DEADLETTER,
}


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    for name, document in SCHEMAS.items():
        (HERE / f"{name}.schema.json").write_text(render(document), encoding="utf-8")


if __name__ == "__main__":
    main()
