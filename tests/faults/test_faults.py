"""Fault injection against real Kafka: crashes, a broker crash and a clean broker restart,
rebalances, cut dead letters.

One scenario, two sizes (FAULTS_SIZE, see tests/faults/conftest.py). Workers of one group
consume a seeded stream of every input kind (activities, deals with reopened and corrected
histories, feedback, targets) with duplicates, late and invalid records, produced in waves
(tests/faults/plan.py) while, at random instants of the stream (seeded):

- workers are SIGKILLed and restarted (some with their data dir deleted),
- the broker is SIGKILLed and started again on the same data dir and port, and stopped
  cleanly (a controlled shutdown, as in a rolling restart) and started again,
- a worker joins the group and (full size) one leaves it with SIGTERM,
- every worker runs against a dead-letter topic created beforehand with
  max.message.bytes=4096 (FAULTS_DEADLETTER_MAX_BYTES), so the dead letters of big invalid
  records must be cut.

Then every worker is stopped, one fresh worker (empty data dir) restores the state from the
changelog and catches up, and the test proves:

1. every figure of every rep and team, in every day, week, month and quarter touched, equals
   the independent calculation of tests/integration/expected_figures.py (nothing lost,
   nothing counted twice, late records not applied, the latest event of a deal wins);
2. every target has its expected alert kinds on sales.alerts, and no other kind;
3. every rejected record (invalid, late) is on sales.deadletter with its reason, matched by
   topic, partition and offset, with its original payload (or a cut prefix of it, marked,
   when the record would not fit the topic), and nothing else is dead-lettered;
4. the workers' logs show no recovery that waited 30 s for changelog records, no line that
   failed to format, and the Kafka client's errors during the broker restart held back.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.faults.harness import (
    BrokerControl,
    FaultRunner,
    Feed,
    Progress,
    create_deadletter_topic,
    describe_workers,
    log,
    schedule,
    wait_ready,
)
from tests.faults.plan import (
    DEADLETTER_TOPIC_LIMIT,
    SIZES,
    Plan,
    Record,
    TargetPlan,
    alert_kinds,
    build_plan,
    period_bounds,
)
from tests.integration.expected_figures import Expected, same
from tests.integration.test_scripted_stream import check_figures
from tests.support.workers import Cluster, eventually, http_get, read_topic

SIZE = os.environ.get("FAULTS_SIZE", "reduced")
EXTRA_ENV = {
    "SALES_LATE_GRACE": "P2D",
    "SALES_EVALUATION_INTERVAL": "2",
    # a killed member leaves the group after 10 s instead of Faust's default 60 s
    "SALES_SESSION_TIMEOUT": "10",
}
CHUNK = 250
INPUT_KINDS = ("activities", "deals", "feedback", "targets")


@pytest.mark.parametrize("size", [SIZE])
async def test_faults_lose_nothing_and_count_nothing_twice(
    size: str,
    fault_broker: BrokerControl,
    unique_name: str,
    tmp_path: Path,
    pytestconfig: pytest.Config,
) -> None:
    assert size in SIZES, f"FAULTS_SIZE must be one of {sorted(SIZES)}, not {size!r}"
    seed = int(os.environ.get("FAULTS_SEED") or random.SystemRandom().randrange(1, 10**9))
    shown = shown_anyway(pytestconfig)
    with shown():
        log(f"{size} scenario, seed {seed} (FAULTS_SEED={seed} FAULTS_SIZE={size} replays it)")
    started = time.monotonic()
    limit = int(os.environ.get("FAULTS_DEADLETTER_MAX_BYTES") or DEADLETTER_TOPIC_LIMIT)
    plan = build_plan(SIZES[size], seed, limit)
    log(f"plan: {plan.counts}; dead-letter topic limit {plan.deadletter_limit} bytes")
    cluster = Cluster(fault_broker.bootstrap, unique_name, tmp_path, extra_env=EXTRA_ENV)
    feed = Feed(fault_broker.bootstrap, {k: cluster.topic(k) for k in INPUT_KINDS})
    progress = Progress(fault_broker.bootstrap, unique_name, cluster.topic("scopes"))
    progress.diagnose = lambda: describe_workers(cluster.workers)
    rng = random.Random(seed)
    faults = schedule(plan.size, rng, sum(len(w) for w in plan.waves))
    runner = FaultRunner(cluster, fault_broker, feed, rng)
    progress.check = lambda: runner.check_alive("while the group worked through the stream")
    try:
        await create_deadletter_topic(
            fault_broker.bootstrap, cluster.topic("deadletter"), plan.deadletter_limit
        )
        workers = [cluster.start_worker(), cluster.start_worker()]
        await wait_ready(workers, "starting")
        await feed.start()

        # targets first, each applied (and alerting on actual 0) before any event
        targets_sent_at = datetime.now(UTC)
        await feed.send(plan.initial_targets)
        initial = [t for t in plan.targets if t.kinds is None]
        await eventually(lambda: targets_visible(workers[0].url, initial), timeout=120)

        await produce_with_faults(plan, feed, progress, runner, faults)
        await progress.wait_settled(feed.ends, "the whole stream")
        runner.check_alive("at the end of the stream")
        produced_s = time.monotonic() - started

        # every worker stopped; a fresh one restores everything from the changelog
        cluster.stop()
        runner.retired.extend(cluster.workers)
        fresh = cluster.start_worker()
        await wait_ready([fresh], "a fresh start after every worker stopped")
        await progress.wait_settled(feed.ends, "the fresh worker's catch-up")

        # every check runs; the failures are reported together at the end
        exp = plan.exp
        failures: list[str] = []

        async def check(name: str, run: Callable[[], Awaitable[Any]]) -> Any:
            try:
                return await run()
            except AssertionError as exc:
                failures.append(f"{name}: {exc}")
                return "FAILED"

        compared = await check(
            "figures", lambda: eventually(lambda: compare_figures(exp, fresh.url), timeout=120)
        )
        boards = await check("leaderboards", lambda: compare_leaderboards(exp, fresh.url))
        await check(
            "targets",
            lambda: eventually(lambda: check_target_entries(plan, fresh.url), timeout=60),
        )
        alerts = await check(
            "alerts",
            lambda: eventually(
                lambda: check_alerts(cluster, plan, targets_sent_at), timeout=90, interval=2
            ),
        )
        dead = await check("dead letters", lambda: check_dead_letters(cluster, plan))
        group = await check(
            "group status", lambda: eventually(lambda: check_group_status(fresh.url), timeout=60)
        )
        outage_lines = await check("worker logs", lambda: check_worker_logs(cluster))
        summary = (
            "summary: "
            + orjson.dumps(
                {
                    "size": size,
                    "seed": seed,
                    "produced": plan.counts,
                    "faults": runner.counts,
                    "broker_kills": fault_broker.kills,
                    "broker_clean_stops": fault_broker.clean_stops,
                    "outage_log_lines": outage_lines,
                    "dead_letters": dead,
                    "group_status": group,
                    "alerts": alerts,
                    "figures_compared": compared,
                    "leaderboards_compared": boards,
                    "seconds_to_settle": round(produced_s, 1),
                    "seconds_total": round(time.monotonic() - started, 1),
                }
            ).decode()
        )
        with shown():
            log(summary)
            for line in runner.done:
                log(line)
        if failures:
            timeline = "\n".join(runner.done)
            logs = ", ".join(str(w.log_path) for w in cluster.workers)
            raise AssertionError(
                f"after the faults (FAULTS_SEED={seed} FAULTS_SIZE={size}), "
                f"{len(failures)} check(s) failed. Faults:\n{timeline}\nWorker logs: {logs}\n\n"
                + "\n\n".join(failures)
            )
        assert runner.counts["kill"] == plan.size.kills
        assert fault_broker.kills == plan.size.broker_kills
        assert fault_broker.clean_stops == plan.size.broker_stops
    finally:
        await feed.stop()
        await progress.close()
        cluster.stop()


#: a worker process logs aiokafka's "Unable connect to node" once per 10 s of an outage
#: (streams.worker.repeated_logs); a log file holds every process that ran on its port
OUTAGE_LINES_PER_LOG = 40
#: what Faust logs once recovery waited 30 s for a changelog partition that has records left
RECOVERY_STALLED = "No event received for active tp"


async def check_worker_logs(cluster: Cluster) -> int:
    """What the worker logs show went right even where the figures cannot tell:

    - no recovery waited 30 s for changelog records (fetched records dropped once left one
      waiting until the next rebalance; a later rebalance hid it from the figures);
    - no line failed to format (logging's own "--- Logging error ---");
    - the Kafka client's connection errors during the broker's restart were held back
      (some 800 per worker before), and a worker said when contact was lost and when it
      came back. Returns how many of the client's errors were logged.
    """
    logs = {p.name: p.read_text(errors="replace") for p in cluster.base_dir.glob("worker-*.log")}
    stalled = sorted(name for name, text in logs.items() if RECOVERY_STALLED in text)
    assert not stalled, f"a recovery waited 30 s or more for changelog records in {stalled}"
    broken = sorted(name for name, text in logs.items() if "--- Logging error ---" in text)
    assert not broken, f"log records that failed to format in {broken}"
    counts = {name: text.count("Unable connect to node") for name, text in sorted(logs.items())}
    noisy = {name: n for name, n in counts.items() if n > OUTAGE_LINES_PER_LOG}
    assert not noisy, f"repeated connection errors not held back: {noisy}"
    told = sorted(name for name, text in logs.items() if told_the_outage(text))
    assert told, "no worker log says it lost contact with Kafka and got it back (kafka_contact)"
    return sum(counts.values())


def told_the_outage(log_text: str) -> bool:
    """The log says the broker's outage began and, later, that it ended."""
    lost = log_text.find("lost contact with Kafka at ")
    return lost >= 0 and log_text.find(" answers again after ", lost) > lost


def shown_anyway(config: pytest.Config) -> Callable[[], contextlib.AbstractContextManager[Any]]:
    """A context in which output reaches the terminal even when pytest captures it (the
    seed and the summary); the rest of the progress lines show with -s or on failure."""
    capture = config.pluginmanager.getplugin("capturemanager")
    if capture is None:
        return contextlib.nullcontext
    return capture.global_and_fixture_disabled  # type: ignore[no-any-return]


async def produce_with_faults(
    plan: Plan, feed: Feed, progress: Progress, runner: FaultRunner, faults: list[Any]
) -> None:
    """Waves in order, wave j only once wave j-2 is processed and committed; faults set off
    at their record index, one at a time, while production goes on."""
    pending = list(faults)
    current: asyncio.Task[None] | None = None
    wave_ends: list[dict[tuple[str, int], int]] = []
    index = 0
    for j, wave in enumerate(plan.waves):
        if j >= 2:
            await progress.wait_processed(wave_ends[j - 2], f"wave {j - 2}")
        for i in range(0, len(wave), CHUNK):
            chunk = wave[i : i + CHUNK]
            await feed.send(chunk)
            index += len(chunk)
            while pending and pending[0].at <= index:
                if current is not None:
                    await current  # one fault at a time; its failure fails the test
                current = asyncio.create_task(runner.run(pending.pop(0)))
            if current is not None and current.done():
                await current
        wave_ends.append(dict(feed.ends))
        log(f"wave {j} produced ({feed.sent} records)")
    if current is not None:
        await current
    assert not pending


async def targets_visible(url: str, targets: list[TargetPlan]) -> None:
    for t in targets:
        scope, ident, metric, period = t.key
        status, doc = await http_get(f"{url}/v1/{scope}s/{ident}/performance?period={period}")
        assert status == 200, (t.key, status, doc)
        assert metric in {x["metric"] for x in doc["targets"]}, (t.key, doc["targets"])


async def compare_figures(exp: Expected, url: str) -> int:
    await check_figures(exp, [url])
    return sum(len(exp.periods("rep", r)) for r in exp.reps()) + sum(
        len(exp.periods("team", t)) for t in exp.teams()
    )


async def compare_leaderboards(exp: Expected, url: str) -> int:
    periods = sorted({p for r in exp.reps() for p in exp.periods("rep", r)})
    days = [p for p in periods if len(p) == 10]
    wanted = [p for p in periods if len(p) != 10] + days[:1] + days[-1:]
    diffs: list[str] = []
    n = 0
    for period in wanted:
        for scope in ("rep", "team"):
            for metric in ("revenue_won", "deals_won", "activities_total", "win_rate"):
                want = exp.leaderboard(period, metric, scope, None, 1000)
                query = f"period={period}&metric={metric}&scope={scope}&limit=1000"
                status, body = await http_get(f"{url}/v1/leaderboard?{query}")
                n += 1
                if status != 200:
                    diffs.append(f"{query}: {status} {body}")
                    continue
                diffs.extend(f"{query}: {d}" for d in same(body["entries"], want))
    assert not diffs, "\n".join(diffs[:40])
    return n


async def check_target_entries(plan: Plan, url: str) -> None:
    now = datetime.now(UTC)
    problems = []
    for t in plan.targets:
        scope, ident, metric, period = t.key
        status, doc = await http_get(f"{url}/v1/{scope}s/{ident}/performance?period={period}")
        assert status == 200, (t.key, status, doc)
        got = {x["metric"]: x for x in doc["targets"]}
        entry = got.get(metric)
        if entry is None:
            problems.append(f"{t.key}: no target in {doc['targets']}")
            continue
        if entry["target"] != t.value or entry["actual"] != pytest.approx(t.final, rel=1e-12):
            problems.append(f"{t.key}: {entry} != target {t.value}, actual {t.final}")
        achieved = t.final >= t.value
        if achieved:
            want = {"achieved"}
        elif period_bounds(period)[1] <= now:
            want = {"missed"}
        else:
            want = {"not_started", "on_track", "behind", "at_risk"}
        if entry["status"] not in want:
            problems.append(f"{t.key}: status {entry['status']}, expected one of {want}")
    assert not problems, "\n".join(problems)


async def check_alerts(cluster: Cluster, plan: Plan, sent_at: datetime) -> dict[str, Any]:
    alerts = [
        orjson.loads(m.value) for m in await read_topic(cluster.bootstrap, cluster.topic("alerts"))
    ]
    kinds: dict[tuple[str, ...], set[str]] = defaultdict(set)
    ids: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for a in alerts:
        key = (a["scope"], a["scope_id"], a["metric"], a["period"])
        kinds[key].add(a["kind"])
        ids[(*key, a["kind"], str(a.get("sequence")))].add(a["alert_id"])
    now = datetime.now(UTC)
    problems = []
    by_key = {t.key: t for t in plan.targets}
    for key, t in by_key.items():
        required, optional = alert_kinds(t, sent_at, now)
        got = kinds.get(key, set())
        if not required <= got or not got <= required | optional:
            problems.append(f"{key}: alerts {sorted(got)}, required {sorted(required)}")
    for key in set(kinds) - set(by_key):
        problems.append(f"{key}: alerts {sorted(kinds[key])} for a target never set")
    for key, values in ids.items():
        if len(values) != 1:
            problems.append(f"{key}: several alert ids {values} for one alert")
    assert not problems, "\n".join(problems)
    return {
        "records": len(alerts),
        "targets": len(by_key),
        "by_kind": dict(Counter(a["kind"] for a in alerts)),
        "repeated": len(alerts) - len(ids),
    }


def original_text(record: Record) -> tuple[str | None, str | None]:
    if record.value is None:
        return None, None
    try:
        return record.value.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return base64.b64encode(record.value).decode("ascii"), "base64"


async def check_group_status(url: str) -> str:
    """After everything settled, the one worker left says all is well: every internal
    partition folded by it, nothing waiting, Kafka reached (`GET /v1/status`)."""
    status, doc = await http_get(f"{url}/v1/status")
    assert status == 200, doc
    assert doc["status"] == "ok" and doc["problems"] == [], doc
    (line,) = doc["workers"]
    assert line["partitions"] == list(range(doc["partitions"])), doc
    assert doc["lag"] == {"input": 0, "internal": 0}, doc
    return str(doc["status"])


async def check_dead_letters(cluster: Cluster, plan: Plan) -> dict[str, Any]:
    messages = await read_topic(cluster.bootstrap, cluster.topic("deadletter"))
    found: dict[tuple[str, int, int], list[dict[str, Any]]] = defaultdict(list)
    problems: list[str] = []
    for m in messages:
        if len(m.value) > plan.deadletter_limit:
            problems.append(f"a dead letter of {len(m.value)} bytes passed the topic's limit")
        dead = orjson.loads(m.value)
        found[(dead["topic"], dead["partition"], dead["offset"])].append(dead)
    expected = {r.where: r for r in plan.rejected()}
    assert all(where is not None for where in expected)
    cut = 0
    for where, record in expected.items():
        cut += record.cut
        letters = found.get(where)  # type: ignore[arg-type]
        if not letters:
            problems.append(f"{where}: no dead letter for a {record.reason} record")
            continue
        text, encoding = original_text(record)
        for dead in letters:
            if dead["reason"] != record.reason:
                problems.append(f"{where}: reason {dead['reason']}, expected {record.reason}")
            if dead["key"] != (record.key.decode() if record.key is not None else None):
                problems.append(f"{where}: key {dead['key']!r} != {record.key!r}")
            if dead["payload_encoding"] != encoding:
                problems.append(f"{where}: payload_encoding {dead['payload_encoding']}")
            if record.cut:
                size = len(record.value or b"")
                ok = (
                    dead.get("payload_truncated") is True
                    and dead.get("payload_size") == size
                    and text is not None
                    and text.startswith(dead["payload"])
                    and len(dead["payload"]) < len(text)
                )
                if not ok:
                    problems.append(f"{where}: a big record's dead letter is not cut as promised")
            elif dead["payload"] != text or "payload_truncated" in dead:
                problems.append(f"{where}: payload {str(dead['payload'])[:80]!r} != original")
    unexpected = [(w, d[0]["reason"]) for w, d in found.items() if w not in expected]
    for where, reason in unexpected[:20]:
        problems.append(f"{where}: dead-lettered ({reason}) but valid")
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:40])
    return {
        "records": len(messages),
        "rejected_records": len(expected),
        "by_reason": dict(Counter(r.reason for r in expected.values())),
        "cut": cut,
        "repeated": len(messages) - len(found),
    }
