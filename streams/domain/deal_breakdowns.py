"""The deal figures of docs/contract.md section 8.2: breakdowns by source, lost reason and
kind, the creation cohort's conversion, the pipeline by stage, renewals and customers, and
touches per won deal.

Each figure is a pure function of the current states of the deals that fall in the period by
one of three instants: closed deals (won / lost) by `occurred_at`, the cohort by `created_at`,
the pipeline (open / reopened) by `expected_close_at`. Conventions are those of
streams.domain.figures: exact sums, one division, money rounded to cents on output, None for
an empty denominator.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol

from streams.domain.figures import money_out, ratio, win_rate

#: how absent text fields are reported (contract section 8.1)
UNKNOWN = "unknown"
UNSPECIFIED = "unspecified"
NEW_BUSINESS = "new_business"
OPEN_STATES = frozenset({"open", "reopened"})


class DealLike(Protocol):
    """A deal's current state as a scope holds it (streams.engine.items.DealFigure)."""

    @property
    def outcome(self) -> str: ...
    @property
    def occurred_at(self) -> float: ...
    @property
    def amount_base(self) -> str: ...
    @property
    def source(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def lost_reason(self) -> str: ...
    @property
    def stage(self) -> str: ...
    @property
    def account(self) -> str | None: ...
    @property
    def touches(self) -> Mapping[str, int]: ...
    @property
    def first_win_at(self) -> float | None: ...
    @property
    def first_deal(self) -> bool: ...


@dataclass
class SourceClosed:
    won: int = 0
    lost: int = 0
    revenue_won: Decimal = Decimal(0)

    def as_document(self) -> dict[str, Any]:
        return {
            "won": self.won,
            "lost": self.lost,
            "revenue_won": money_out(self.revenue_won),
            "win_rate": win_rate(self.won, self.lost),
        }


@dataclass
class StageOpen:
    count: int = 0
    amount: Decimal = Decimal(0)

    def as_document(self) -> dict[str, Any]:
        return {"count": self.count, "amount": money_out(self.amount)}


@dataclass
class DealBreakdowns:
    """Exact section 8.2 figures of one scope in one period; rounded in `as_document`."""

    by_source: dict[str, SourceClosed] = field(default_factory=dict)
    lost_by_reason: Counter[str] = field(default_factory=Counter)
    revenue_by_kind: dict[str, Decimal] = field(default_factory=dict)
    cohort: Counter[str] = field(default_factory=Counter)  # created, won, lost, open
    cohort_by_source: dict[str, Counter[str]] = field(default_factory=dict)
    pipeline: StageOpen = field(default_factory=StageOpen)
    pipeline_by_stage: dict[str, StageOpen] = field(default_factory=dict)
    renewals_won: int = 0
    renewals_lost: int = 0
    customers_won: int = 0
    customers_new: int = 0
    customers_repeat: int = 0
    won: int = 0
    touches: int = 0
    touches_by_type: Counter[str] = field(default_factory=Counter)

    @property
    def conversion_win_rate(self) -> float | None:
        return ratio(self.cohort["won"], self.cohort["created"])

    @property
    def retention_rate(self) -> float | None:
        return ratio(self.renewals_won, self.renewals_won + self.renewals_lost)

    @property
    def touches_per_won_deal(self) -> float | None:
        return ratio(self.touches, self.won)

    def deals_document(self) -> dict[str, Any]:
        """The fields section 8.2 adds to the `deals` group."""
        return {
            "by_source": {s: agg.as_document() for s, agg in sorted(self.by_source.items())},
            "lost_by_reason": dict(sorted(self.lost_by_reason.items())),
            "revenue_by_kind": {
                kind: money_out(revenue) for kind, revenue in sorted(self.revenue_by_kind.items())
            },
        }

    def efficiency_document(self) -> dict[str, Any]:
        """The fields section 8.2 adds to the `efficiency` group."""
        by_type = {
            t: n / self.won for t, n in sorted(self.touches_by_type.items()) if n > 0 and self.won
        }
        return {
            "touches_per_won_deal": self.touches_per_won_deal,
            "touches_by_type_per_won_deal": by_type,
        }

    def groups_document(self) -> dict[str, Any]:
        """The groups section 8.2 adds to a performance document."""
        c = self.cohort
        return {
            "conversion": {
                "created": c["created"],
                "won": c["won"],
                "lost": c["lost"],
                "open": c["open"],
                "win_rate": self.conversion_win_rate,
                "by_source": {
                    source: {
                        "created": n["created"],
                        "won": n["won"],
                        "win_rate": ratio(n["won"], n["created"]),
                    }
                    for source, n in sorted(self.cohort_by_source.items())
                },
            },
            "pipeline": {
                "open_count": self.pipeline.count,
                "open_amount": money_out(self.pipeline.amount),
                "by_stage": {
                    s: agg.as_document() for s, agg in sorted(self.pipeline_by_stage.items())
                },
            },
            "retention": {
                "renewals_won": self.renewals_won,
                "renewals_lost": self.renewals_lost,
                "rate": self.retention_rate,
            },
            "customers": {
                "won": self.customers_won,
                "new": self.customers_new,
                "repeat": self.customers_repeat,
            },
        }


def deal_breakdowns(
    closed: Iterable[DealLike],
    cohort: Iterable[DealLike],
    pipeline: Iterable[DealLike],
    period_start: float,
) -> DealBreakdowns:
    """The figures of one period from its closed deals (occurred_at in the period), its
    cohort (created_at in the period) and its pipeline (open, expected_close_at in it)."""
    out = DealBreakdowns()
    _add_closed(out, closed, period_start)
    for deal in cohort:
        state = "open" if deal.outcome in OPEN_STATES else deal.outcome
        for counter in (out.cohort, out.cohort_by_source.setdefault(deal.source, Counter())):
            counter["created"] += 1
            counter[state] += 1
    for deal in pipeline:
        if deal.outcome not in OPEN_STATES:
            continue
        amount = Decimal(deal.amount_base)
        for agg in (out.pipeline, out.pipeline_by_stage.setdefault(deal.stage, StageOpen())):
            agg.count += 1
            agg.amount += amount
    return out


def _add_closed(out: DealBreakdowns, closed: Iterable[DealLike], period_start: float) -> None:
    won_accounts: set[str] = set()
    new_accounts: set[str] = set()
    repeat_accounts: set[str] = set()
    for deal in closed:
        if deal.outcome not in ("won", "lost"):
            continue
        source = out.by_source.setdefault(deal.source, SourceClosed())
        if deal.outcome == "lost":
            source.lost += 1
            out.lost_by_reason[deal.lost_reason] += 1
            out.renewals_lost += deal.kind == "renewal"
            continue
        amount = Decimal(deal.amount_base)
        source.won += 1
        source.revenue_won += amount
        out.revenue_by_kind[deal.kind] = out.revenue_by_kind.get(deal.kind, Decimal(0)) + amount
        out.renewals_won += deal.kind == "renewal"
        out.won += 1
        out.touches += sum(deal.touches.values())
        out.touches_by_type.update(deal.touches)
        if deal.account is None:
            continue
        won_accounts.add(deal.account)
        if deal.first_deal:
            new_accounts.add(deal.account)
        if deal.first_win_at is not None and deal.first_win_at < period_start:
            repeat_accounts.add(deal.account)
    out.customers_won = len(won_accounts)
    out.customers_new = len(new_accounts)
    out.customers_repeat = len(repeat_accounts)
