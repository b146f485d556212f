"""salespulse's events/s over each peer's, per shape: the median over rounds.

Why rounds: on this shared 2-core VM the same worker drained the wide shape at 13,049 to
19,633 events/s over one evening and Quix Streams at 15,870 to 20,188, so one run's ratio
moved from 0.76x to 1.03x with no change of code (bench/HISTORY.md, 2026-12-05). A round
runs every consumer once, in the same order, on the same topics; each round's ratio pairs
runs made minutes apart, and the goals judge the median of the rounds' ratios, which one
slow or fast run cannot move.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import median
from typing import Any, Protocol

#: the shape the issue's goals are for, when the run has it
GOAL_SHAPE = "wide"


class Measured(Protocol):
    """What a ratio needs of a run (bench.throughput.Run)."""

    consumer: str
    shape: str
    round: int

    @property
    def rate(self) -> float | None: ...

    @property
    def rate_queryable(self) -> float | None: ...


def repeated_shape(shapes: Sequence[str]) -> str:
    """The shape whose throughput runs are repeated: the goals' shape, else the first."""
    return GOAL_SHAPE if GOAL_SHAPE in shapes else shapes[0]


def _median(values: Iterable[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return median(known) if known else None


def ratios(runs: Sequence[Measured]) -> dict[str, dict[str, dict[str, Any]]]:
    """shape -> peer -> {"queryable", "committed": the median over rounds, "rounds": each
    round's pair}. salespulse is taken until queryable and until committed, each peer until
    committed; a round lacking either run, or a peer with no rate, gives no pair."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    by_round = {(r.consumer, r.shape, r.round): r for r in runs}
    for sp in sorted((r for r in runs if r.consumer == "salespulse"), key=lambda r: r.round):
        for peer in dict.fromkeys(r.consumer for r in runs if r.consumer != "salespulse"):
            other = by_round.get((peer, sp.shape, sp.round))
            if other is None or not other.rate:
                continue
            pairs = out.setdefault(sp.shape, {}).setdefault(peer, {"rounds": []})["rounds"]
            pairs.append(
                {
                    "round": sp.round,
                    "queryable": sp.rate_queryable / other.rate if sp.rate_queryable else None,
                    "committed": sp.rate / other.rate if sp.rate else None,
                }
            )
    for peers in out.values():
        for entry in peers.values():
            entry["queryable"] = _median(p["queryable"] for p in entry["rounds"])
            entry["committed"] = _median(p["committed"] for p in entry["rounds"])
    return out
