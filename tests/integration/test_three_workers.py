"""Three workers in one group: any worker answers for any rep or team, the leaderboard is the
same on all three.

After the three are ready and have consumed a stream of ~3000 events (20 reps in 4 teams,
some moving team, deals won, lost, reopened and won again, duplicates, null keys), every
worker is asked for the performance of every rep and every team in every period touched,
and every answer equals the independent calculation of tests/integration/expected_figures.py.
Asked with the header that marks a request as already forwarded (so answered locally), each
key is known to exactly one worker, and each worker owns some keys: the other two answers
were forwarded to the owner. Every leaderboard (each metric, rep and team, every month and
quarter) has the same entries on all three workers, equal to the calculation.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import orjson

from tests.integration.expected_figures import Expected, same
from tests.integration.test_crash_restart import EXTRA_ENV, GRACE, Feed, generate
from tests.integration.test_scripted_stream import check_figures
from tests.support.workers import Cluster, eventually, http_get, local_status, wait_ready

#: the contract's section 6 metrics, the ones tests/integration/expected_figures.py computes
#: (section 8.4's are compared in tests/integration/test_section8_figures.py)
LEADERBOARD_METRICS = (
    "revenue_won",
    "deals_won",
    "activities_total",
    "win_rate",
    "avg_deal_size",
    "csat_avg",
)


async def test_three_workers_answer_for_every_key_and_agree_on_leaderboards(
    kafka_bootstrap: str, unique_name: str, tmp_path: Path
) -> None:
    now = datetime.now(UTC)
    events = generate(now, seed=23)
    exp = Expected(events, late_grace=GRACE)
    assert not exp.late
    cluster = Cluster(kafka_bootstrap, unique_name, tmp_path, extra_env=EXTRA_ENV)
    try:
        workers = [cluster.start_worker() for _ in range(3)]
        await wait_ready(workers)
        urls = [w.url for w in workers]
        await Feed(cluster).run(events, chunk=500, pause=0)
        await wait_ready(workers)

        # every figure, on the first worker until it has everything, then on all three
        months = tuple(
            sorted({p for r in exp.reps() for p in exp.periods("rep", r) if len(p) == 7})
        )
        await eventually(lambda: check_figures(exp, urls[:1], periods=months), timeout=120)
        await eventually(lambda: check_figures(exp, urls), timeout=120)

        # each key is owned by exactly one worker; every worker owns some
        keys = [("reps", r) for r in exp.reps()] + [("teams", t) for t in exp.teams()]
        owners: Counter[str] = Counter()
        for kind, ident in keys:
            scope = kind[:-1]
            period = exp.periods(scope, ident)[-1]
            path = f"/v1/{kind}/{ident}/performance?period={period}"
            statuses = [await local_status(url + path) for url in urls]
            assert sorted(statuses) == [200, 503, 503], (kind, ident, statuses)
            owners[urls[statuses.index(200)]] += 1
        assert set(owners) == set(urls), owners

        # the same leaderboards everywhere, equal to the calculation
        periods = sorted(
            {p for r in exp.reps() for p in exp.periods("rep", r) if len(p) == 7 or "-Q" in p}
        )
        for period in periods:
            for scope in ("rep", "team"):
                for metric in LEADERBOARD_METRICS:
                    query = f"period={period}&metric={metric}&scope={scope}&limit=1000"
                    answers = [await http_get(f"{url}/v1/leaderboard?{query}") for url in urls]
                    assert all(status == 200 for status, _ in answers), (query, answers)
                    entries = [orjson.dumps(body["entries"]) for _, body in answers]
                    assert entries[0] == entries[1] == entries[2], (query, answers)
                    want = exp.leaderboard(period, metric, scope, None, 1000)
                    diffs = same(answers[0][1]["entries"], want, loose=metric == "avg_deal_size")
                    assert not diffs, (query, diffs)
        assert all(w.alive() for w in workers)
    finally:
        cluster.stop()
