"""Customer satisfaction counters: the one place that knows what a CSAT or NPS answer adds.

The same counters live in an hour's state, in a period's roll-up and in a scope's figures;
each holds a `Satisfaction` rather than a copy of its six fields.
"""

from __future__ import annotations

from typing import Any

import msgspec


def csat_stats(total: int, count: int, satisfied: int) -> tuple[float | None, int, float | None]:
    """(mean CSAT 1..5, response count, percent of responses scoring 4 or 5).

    ``total`` is the sum of scores. Mean and percent are None when there is no response.
    """
    if count == 0:
        return None, 0, None
    return total / count, count, 100 * satisfied / count


def nps(promoters: int, detractors: int, count: int) -> float | None:
    """Net Promoter Score -100..100: % promoters (9-10) minus % detractors (0-6).

    Computed as ``100 * (promoters - detractors) / count``; None with no response.
    """
    if count == 0:
        return None
    return 100 * (promoters - detractors) / count


class Satisfaction(msgspec.Struct, array_like=True, gc=False):
    csat_sum: int = 0
    csat_n: int = 0
    csat_sat: int = 0  # answers of 4 or 5
    nps_prom: int = 0  # answers of 9 or 10
    nps_det: int = 0  # answers of 0 to 6
    nps_n: int = 0

    def record(self, csat: int | None, nps_score: int | None) -> None:
        """Count one feedback event's answers."""
        if csat is not None:
            self.csat_sum += csat
            self.csat_n += 1
            self.csat_sat += csat >= 4
        if nps_score is not None:
            self.nps_prom += nps_score >= 9
            self.nps_det += nps_score <= 6
            self.nps_n += 1

    def add(self, other: Satisfaction, sign: int = 1) -> None:
        """Add (sign 1) or take away (sign -1) another set of counters."""
        self.csat_sum += sign * other.csat_sum
        self.csat_n += sign * other.csat_n
        self.csat_sat += sign * other.csat_sat
        self.nps_prom += sign * other.nps_prom
        self.nps_det += sign * other.nps_det
        self.nps_n += sign * other.nps_n

    def copy(self) -> Satisfaction:
        return msgspec.structs.replace(self)

    @property
    def responses(self) -> int:
        return self.csat_n + self.nps_n

    @property
    def csat_avg(self) -> float | None:
        return csat_stats(self.csat_sum, self.csat_n, self.csat_sat)[0]

    def as_document(self) -> dict[str, Any]:
        """The `satisfaction` group of the performance document."""
        csat_avg, csat_count, csat_pct = csat_stats(self.csat_sum, self.csat_n, self.csat_sat)
        return {
            "csat_avg": csat_avg,
            "csat_count": csat_count,
            "csat_satisfied_pct": csat_pct,
            "nps": nps(self.nps_prom, self.nps_det, self.nps_n),
            "nps_count": self.nps_n,
        }
