"""`sales_rep_last_activity_timestamp_seconds`: when each rep this worker owns last did
something, labelled with the team of that activity, for the RepInactive alert.

One series per rep, exported at scrape time, as the business gauges are: a rep who moves to
another team leaves no series under the old one (RepInactive fired for it, on the old team),
and a rep whose partition went to another worker leaves none here. The time comes from what
batches applied, exact, and, for a rep no batch has touched since the views were built (a
restart, a rebalance), from the views: an inactive rep keeps its series across a restart,
and an older activity applied after one cannot set its time back. The views keep no time
of activities alone, so that one can be later than the activity: within its hour if the rep
also had feedback then, within its day once the day is folded (queries.latest_activity).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from streams.engine.queries import latest_activity
from streams.engine.rollups import Views
from streams.worker.metrics import LabelBudget

NAME = "sales_rep_last_activity_timestamp_seconds"


class LastActivities(Collector):
    def __init__(
        self, views: Views, budget: LabelBudget, ready: Callable[[], bool], *, enabled: bool
    ) -> None:
        self.views = views
        #: SALES_METRICS_MAX_SCOPES: reps and teams beyond it get no series
        self.budget = budget
        #: False while the views are rebuilt: nothing is exported from half-built views
        self.ready = ready
        #: SALES_METRICS_REP_LABEL: off, no per-rep series at all
        self.enabled = enabled
        #: rep -> (latest activity time, its team); None: the views know no activity of it
        self.latest: dict[str, tuple[float, str] | None] = {}

    def clear(self) -> None:
        """The views are built again: what they hold is the truth again."""
        self.latest.clear()

    def applied(self, rep: str, team: str, at: float) -> None:
        """A batch applied an activity of `rep` in `team` at event time `at`."""
        held = self._held(rep)
        self.latest[rep] = (at, team) if held is None or (at, team) > held else held

    def team_of(self, rep: str) -> str | None:
        """The team of the rep's latest activity (None: none known)."""
        held = self._held(rep)
        return held[1] if held is not None else None

    def _held(self, rep: str) -> tuple[float, str] | None:
        """The rep's latest activity: as batches applied it, else read from the views once."""
        if rep not in self.latest:
            view = self.views.get("rep:" + rep)
            self.latest[rep] = latest_activity(view) if view is not None else None
        return self.latest[rep]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            NAME, "Event time of the rep's latest applied activity", labels=["team", "rep"]
        )
        if self.enabled and self.ready():
            for _, view in sorted(self.views.scopes.items()):
                if view.kind != "rep":
                    continue
                rep = view.id
                held = self._held(rep)
                if held is None:
                    continue
                at, team = held
                if self.budget.admit("team", team) and self.budget.admit("rep", rep):
                    family.add_metric([team, rep], at)
        yield family
