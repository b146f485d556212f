"""Once-only alerts wait until their status has held for a moment (SALES_ALERT_SETTLE).

`target_at_risk` and `target_missed` are emitted once per target and period and never taken
back (contract section 5). A target is evaluated on its own partition, while what makes its
figure may still be on its way there: a deal folded on its deal's partition reaches the
rep's figures a batch later through the internal topic, and `salespulse publish` sends a
file's targets before its events. Alerted at first sight, a target published with the deal
that meets it alerted `target_missed` with an actual of 0, then `target_achieved` 9 ms later
(an audit's finding): a false alert that no later record corrects.

So a once-only status is first held here, and alerted only if an evaluation at least
`settle` seconds later, made while the worker is not draining a backlog (whose figures are
partial until it has caught up), still finds it. The swings (`target_achieved`,
`target_achievement_revoked`) follow the figure at once, as before: a later evaluation
corrects them. What waits is kept in memory: a restarted worker sees the status again at its
next evaluation and waits once more; nothing is lost, an alert comes `settle` seconds later.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from streams.domain.targets import ONCE_ONLY
from streams.domain.vocabulary import AlertKind

#: seconds before a partition whose held alerts were due is asked again for an evaluation
#: (its owner was draining a backlog, or the request went to a partition since revoked)
ASK_AGAIN_SECONDS: Final = 10.0

#: a target and period of a scope: (scope, metric, period)
TargetKey = tuple[str, str, str]


@dataclass(slots=True)
class Held:
    """A once-only alert seen due, not yet emitted."""

    kind: str
    since: float  # epoch seconds of the evaluation that first saw it
    partition: int
    asked: float | None = None  # when its partition was last asked to evaluate it again


class AlertSettling:
    """The once-only alerts held back, per target and period."""

    def __init__(self, settle_seconds: float) -> None:
        self.settle = settle_seconds
        self.held: dict[TargetKey, Held] = {}

    def admit(
        self,
        key: TargetKey,
        partition: int,
        due: Sequence[AlertKind],
        now: float,
        *,
        draining: bool,
    ) -> list[AlertKind]:
        """Of the alerts an evaluation found due, those to emit now."""
        if self.settle <= 0:
            return list(due)
        once = [kind for kind in due if kind in ONCE_ONLY]
        if not once:
            self.held.pop(key, None)
            return list(due)
        held = self.held.get(key)
        if held is None or held.kind != once[0]:
            self.held[key] = Held(once[0], now, partition)
        elif now - held.since >= self.settle and not draining:
            del self.held[key]
            return list(due)
        return [kind for kind in due if kind not in ONCE_ONLY]

    def forget(self, key: TargetKey) -> None:
        """The target was set again or deleted: a status seen of the old one is not the new
        one's (a target deleted and re-set, then met, alerted `target_missed` at once with
        an actual of 0, its wait counted from the first target's evaluation)."""
        self.held.pop(key, None)

    def due(self, now: float, owned: set[int]) -> dict[int, list[str]]:
        """Per owned partition, the scopes to evaluate again: their held alerts have waited
        long enough. Alerts held for partitions no longer owned are forgotten (their new
        owner evaluates the targets itself)."""
        scopes: dict[int, set[str]] = {}
        for key, held in list(self.held.items()):
            if held.partition not in owned:
                del self.held[key]
            elif now - held.since >= self.settle and (
                held.asked is None or now - held.asked >= ASK_AGAIN_SECONDS
            ):
                held.asked = now
                scopes.setdefault(held.partition, set()).add(key[0])
        return {partition: sorted(names) for partition, names in scopes.items()}
