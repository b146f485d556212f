"""One scope's exact figures in one period (docs/contract.md sections 4 and 8.2) and the
groups of its performance document; the formulas live in streams.domain.figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from streams.domain.deal_breakdowns import DealBreakdowns
from streams.domain.figures import (
    activities_per_win,
    avg_cycle_days,
    avg_deal_size,
    money_out,
    revenue_per_activity,
    win_rate,
)
from streams.domain.satisfaction import Satisfaction


@dataclass(frozen=True)
class Figures:
    """Exact (unrounded) figures; rounding happens only in `as_document`."""

    by_type: dict[str, int]
    activities_total: int
    won: int
    lost: int
    revenue_won: Decimal
    cycle_seconds: list[float]
    satisfaction: Satisfaction
    #: section 8.2: sources, reasons, kinds, conversion, pipeline, retention, customers
    breakdowns: DealBreakdowns = field(default_factory=DealBreakdowns)

    @property
    def win_rate(self) -> float | None:
        return win_rate(self.won, self.lost)

    @property
    def avg_deal_size(self) -> Decimal | None:
        return avg_deal_size(self.revenue_won, self.won)

    @property
    def csat_avg(self) -> float | None:
        return self.satisfaction.csat_avg

    def as_document(self) -> dict[str, Any]:
        return {
            "activities": {
                "total": self.activities_total,
                "by_type": {k: v for k, v in sorted(self.by_type.items()) if v > 0},
            },
            "deals": {
                "won": self.won,
                "lost": self.lost,
                "revenue_won": money_out(self.revenue_won),
                "win_rate": self.win_rate,
                "avg_deal_size": money_out(self.avg_deal_size),
                "avg_cycle_days": avg_cycle_days(sum(self.cycle_seconds), len(self.cycle_seconds)),
                **self.breakdowns.deals_document(),
            },
            "satisfaction": self.satisfaction.as_document(),
            "efficiency": {
                "activities_per_win": activities_per_win(self.activities_total, self.won),
                "revenue_per_activity": money_out(
                    revenue_per_activity(self.revenue_won, self.activities_total)
                ),
                **self.breakdowns.efficiency_document(),
            },
            **self.breakdowns.groups_document(),
        }
