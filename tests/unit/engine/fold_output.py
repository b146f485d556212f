"""Everything the fold answers for one generated scenario, printed as JSON with sorted keys:
what `test_compiled_parity` compares between the compiled modules and their sources.

Run as `python -m tests.unit.engine.fold_output [--pure]`; `--pure` imports every module
the build compiles from its source, as a build with SALES_COMPILE=0 would.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from importlib.abc import MetaPathFinder
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=UTC)
KINDS = {"activities": "activities", "deals": "deals", "feedback": "feedback"}


class SourceFirst(MetaPathFinder):
    """Finds streams.domain and streams.engine modules as their .py sources, never as the
    compiled copies beside them (Python's own finder prefers those)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(("streams.domain.", "streams.engine.")):
            return None
        source = ROOT.joinpath(*fullname.split(".")).with_suffix(".py")
        return importlib.util.spec_from_file_location(fullname, source) if source.exists() else None


def scenario() -> dict[str, Any]:
    from streams.engine.leaderboard import LeaderboardQuery, local_entries
    from streams.engine.queries import LEADERBOARD_METRICS
    from streams.tools.generator import GeneratorConfig, SalesSimulator
    from tests.unit.engine.scope_harness import Harness, period_ids, raw_event, target

    start = NOW - timedelta(days=40)
    config = GeneratorConfig(
        seed=11,
        reps=10,
        teams=3,
        start=start,
        end=NOW,
        events=2_500,
        duplicate_rate=0.02,
        late_rate=0.02,
    )
    items: list[Any] = []
    periods: set[str] = set()
    for record in SalesSimulator(config).history(start, NOW, config.events):
        payload = orjson.loads(record.value or b"null")
        items.append(raw_event(KINDS[record.topic_kind], payload))
        periods.update(period_ids(datetime.fromisoformat(payload["occurred_at"]), config.tz))
    reps = sorted({item.scope for item in items if item.scope.startswith("rep:")})
    for i, rep in enumerate(reps):  # counts, money and activity types, met and missed
        items.append(target(rep, "activities_total", "2026-11", 40.0 + 30 * i))
        items.append(target(rep, "revenue_won", "2026-11", 5_000.0 * (i + 1)))
        items.append(target(rep, "deals_won", "2026-W48", 1.0 + i % 3))
    h = Harness(4, tz="UTC")
    h.run(items, NOW, batch_size=300)
    out: dict[str, Any] = {
        "shown": {"|".join(map(str, k)): v for k, v in h.shown(h.scopes(), periods, NOW).items()},
        "performance": {
            f"{scope}|{period}": h.performance(scope, period, NOW)
            for scope in sorted(h.scopes())
            for period in sorted(periods)
        },
        "alerts": h.alerts,
        "deadletters": [[d.reason, d.detail] for d in h.deadletters],
        "duplicates": dict(h.duplicates),
    }
    for part in h.parts:
        for metric in LEADERBOARD_METRICS:
            for scope in ("rep", "team"):
                q = LeaderboardQuery("2026-11", metric, scope, None, 1_000)
                out[f"leaderboard|{part.index}|{metric}|{scope}"] = local_entries(part.views, q)
    compiled = sys.modules["streams.engine.processor"].__file__ or ""
    out["compiled"] = not compiled.endswith(".py")
    return out


def main(argv: list[str]) -> None:
    if "--pure" in argv:
        sys.meta_path.insert(0, SourceFirst())
    sys.stdout.buffer.write(orjson.dumps(scenario(), option=orjson.OPT_SORT_KEYS, default=str))


if __name__ == "__main__":
    main(sys.argv[1:])
