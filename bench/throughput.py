"""Issue 9 throughput runs: every consumer drains the same pre-produced backlog, one at a time.

For each shape (`wide`, `live`) the dataset is produced once to its own three input topics
(8 partitions, keyed by rep). Then each consumer runs alone as its own process with its own
consumer group on those topics:

- `aiokafka`: the plain aiokafka loop (bench/peers.py)
- `naive`: the textbook Faust agent (bench/naive_app.py), on a fixed number of events
- `quix`: Quix Streams with a 1-day tumbling window per rep (bench/peers.py)
- `salespulse`: the `salespulse worker` console script, configured by environment

The clock starts when the consumer's group is first Stable on the broker (members joined,
partitions assigned) and stops when the group has committed every input offset (for the naive
agent: its fixed number of events); a second figure runs from process start. For salespulse
a third stops when its HTTP API answers the produced totals (team activities_total and
deals_won of every month). All of it is asked of the broker and the API from outside, so every
consumer is measured the same way.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.data import INPUT_KINDS, Dataset, month_of, rfc3339
from bench.harness import (
    BrokerInfo,
    GroupWatch,
    Process,
    compacted_size,
    cpu_seconds,
    dir_bytes,
    end_offsets,
    http_get,
    load_kafka_local,
    log,
    produce,
    session_rss,
    topic_log_bytes,
    topics_matching,
)

POLL_INTERVAL = 0.2
API_FROM_SHARE = 0.8  # ask the API once this share of the input is committed
API_MIN_INTERVAL = 0.25
API_COST_FACTOR = 10.0  # wait 10x as long as the last API check took before the next
CONSUMERS = ("aiokafka", "naive", "quix", "salespulse")
LABELS = {
    "aiokafka": "plain aiokafka loop",
    "naive": "naive Faust agent",
    "quix": "Quix Streams",
    "salespulse": "salespulse worker",
}
#: topics the salespulse worker is told about (SALES_TOPIC_<NAME>); inputs are the shape's
WORKER_TOPICS = ("targets", "alerts", "performance", "deadletter", "scopes")
LATE_GRACE_DAYS = 60


@dataclass
class Run:
    consumer: str
    label: str
    shape: str
    events: int  # events the rates are over
    seconds: float | None = None  # group Stable -> input offsets committed
    seconds_wall: float | None = None  # process start -> input offsets committed
    seconds_queryable: float | None = None  # group Stable -> API totals match (salespulse)
    startup: float | None = None  # process start -> group Stable
    peak_rss: int = 0
    #: CPU seconds over the same span as `seconds` (group Stable -> input offsets committed):
    #: the consumer's processes, and the broker's (which serves every consumer alike)
    cpu: float | None = None
    broker_cpu: float | None = None
    complete: bool = True
    #: which of the shape's rounds (`--rounds`) this run was, from 1
    round: int = 1
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rate(self) -> float | None:
        return self.events / self.seconds if self.seconds else None

    @property
    def rate_wall(self) -> float | None:
        return self.events / self.seconds_wall if self.seconds_wall else None

    @property
    def rate_queryable(self) -> float | None:
        return self.events / self.seconds_queryable if self.seconds_queryable else None

    @property
    def rate_cpu(self) -> float | None:
        """Events per CPU-second of the consumer: steadier between runs than events/s."""
        return self.events / self.cpu if self.cpu else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "consumer": self.consumer,
            "label": self.label,
            "shape": self.shape,
            "round": self.round,
            "events": self.events,
            "seconds_to_committed": self.seconds,
            "events_per_s_committed": self.rate,
            "seconds_wall_to_committed": self.seconds_wall,
            "events_per_s_wall": self.rate_wall,
            "seconds_to_queryable": self.seconds_queryable,
            "events_per_s_queryable": self.rate_queryable,
            "startup_s": self.startup,
            "cpu_s_to_committed": self.cpu,
            "events_per_cpu_s": self.rate_cpu,
            "broker_cpu_s_to_committed": self.broker_cpu,
            "peak_rss_bytes": self.peak_rss or None,
            "complete": self.complete,
            "notes": self.notes,
            **self.extra,
        }


@dataclass
class Options:
    """What the consumer runs need of the command line."""

    partitions: int
    naive_events: int
    timeout: float
    latency_seconds: float
    latency_rate: float | None
    sample_every: int
    worker_env: Mapping[str, str]
    #: argv of the worker instead of `salespulse worker --loglevel info`
    worker_command: list[str] | None
    #: salespulse workers in one consumer group (the issue's goals are for one)
    workers: int = 1


@dataclass
class ShapeTopics:
    shape: str
    inputs: dict[str, str]  # kind -> topic
    ends: dict[TopicPartition, int]

    @property
    def names(self) -> list[str]:
        return [self.inputs[k] for k in INPUT_KINDS]


# -- one consumer ---------------------------------------------------------------------


def _env(extra: Mapping[str, str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("SALES_", "KAFKA_", "NAIVE_", "Quix__"))
    }
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def salespulse_command() -> list[str]:
    script = Path(sys.executable).with_name("salespulse")
    if script.exists():
        return [str(script), "worker", "--loglevel", "info"]
    found = shutil.which("salespulse")
    if found is None:
        raise RuntimeError("no `salespulse` console script: run `make install` first")
    return [found, "worker", "--loglevel", "info"]


def figures_match(url: str, data: Dataset) -> tuple[bool, str]:
    """Team activities_total, then deals_won, of every month equal what was produced."""
    for metric, expected in (("activities_total", data.activities), ("deals_won", data.deals_won)):
        for month, per_team in sorted(expected.items()):
            query = urllib.parse.urlencode(
                {"period": month, "metric": metric, "scope": "team", "limit": 1000}
            )
            status, body = http_get(f"{url}/v1/leaderboard?{query}")
            want = {team: float(n) for team, n in per_team.items() if n}
            got: dict[str, float] = {}
            if status == 200:
                got = {
                    e["id"]: float(e["value"]) for e in orjson.loads(body)["entries"] if e["value"]
                }
            if got != want:
                return False, (
                    f"{metric} {month}: API total {sum(got.values()):g} (HTTP {status}), "
                    f"produced {sum(want.values()):g}"
                )
    return True, "team activities_total and deals_won match the input for every month"


class ApiWatch:
    """Asks the worker's API whether the totals are there, sparingly: it answers from the
    worker's event loop, so every question costs the worker time. Asks only near the end
    (API_FROM_SHARE of the inputs committed) and at most 1/API_COST_FACTOR of the time."""

    def __init__(self, check: Callable[[], tuple[bool, str]]) -> None:
        self.check = check
        self.last = 0.0
        self.interval = API_MIN_INTERVAL
        self.why = ""

    async def answered(self, now: float, committed: int, target: int) -> float | None:
        """The moment the totals were seen to match, or None."""
        if committed < API_FROM_SHARE * target or now - self.last < self.interval:
            return None
        self.last = now
        try:
            ok, self.why = await asyncio.to_thread(self.check)
        except OSError as exc:
            ok, self.why = False, f"API: {exc}"
        asked = time.monotonic()
        self.interval = max(API_MIN_INTERVAL, API_COST_FACTOR * (asked - now))
        return asked if ok else None


@dataclass
class Timing:
    """Moments (monotonic) of one consumer run."""

    started: float
    stable: float | None = None
    committed: float | None = None
    queryable: float | None = None
    #: CPU seconds (consumer, broker) used by those moments
    cpu_started: tuple[float, float] = (0.0, 0.0)
    cpu_stable: tuple[float, float] | None = None
    cpu_committed: tuple[float, float] | None = None
    #: the inputs were committed by the poll that first saw the group Stable: the run took
    #: less than one poll (POLL_INTERVAL), which is too short to time
    within_first_poll: bool = False

    def fill(self, run: Run, committed: int) -> None:
        """Put the run's seconds from these moments (from group Stable, else process start)."""
        if self.within_first_poll:
            run.notes.append(
                f"committed within the poll that first saw the group Stable (every "
                f"{POLL_INTERVAL} s): too short to time, so no rate; give it more events"
            )
            run.startup = (self.stable or self.started) - self.started
            return
        start = self.stable
        if start is None:
            start = self.started
            if self.committed:
                run.notes.append("group never seen Stable: timed from process start")
        run.startup = start - self.started
        cpu_start = self.cpu_stable if self.stable is not None else self.cpu_started
        if self.cpu_committed is not None and cpu_start is not None:
            run.cpu = self.cpu_committed[0] - cpu_start[0]
            run.broker_cpu = self.cpu_committed[1] - cpu_start[1]
        if self.committed:
            run.seconds = self.committed - start
            run.seconds_wall = self.committed - self.started
        elif committed:
            run.events = committed  # incomplete: the rate over what it did
            run.seconds = time.monotonic() - start
        if self.queryable:
            run.seconds_queryable = self.queryable - start


async def drive(
    process: Process,
    watch: GroupWatch,
    run: Run,
    target: int,
    timeout: float,
    api_check: Callable[[], tuple[bool, str]] | None = None,
    *,
    broker_pid: int,
    consumer_cpu: Callable[[], float] | None = None,
) -> None:
    """Start `process` and time it until `target` input records are committed (and, with
    `api_check`, until that answers True), measuring the CPU the consumer (`consumer_cpu`,
    else the process's session) and the broker used meanwhile. Leaves the process running."""

    def cpu_now() -> tuple[float, float]:
        used = consumer_cpu() if consumer_cpu is not None else process.cpu_seconds()
        return used, cpu_seconds(broker_pid)

    broker_at_start = cpu_seconds(broker_pid)
    process.start()
    t = Timing(process.started, cpu_started=(0.0, broker_at_start))
    api = ApiWatch(api_check) if api_check is not None else None
    committed = 0
    last_log = last_rss = 0.0
    while process.alive():
        now = time.monotonic()
        first_stable = t.stable is None and await watch.stable()
        if first_stable:
            t.stable = time.monotonic()
            t.cpu_stable = cpu_now()
        committed = await watch.committed()
        if committed >= target and t.committed is None:
            t.committed = time.monotonic()
            t.cpu_committed = cpu_now()
            t.within_first_poll = first_stable
            log(f"{run.label} [{run.shape}]: {committed:,} input records committed")
        if api is not None and t.queryable is None:
            t.queryable = await api.answered(now, committed, target)
        if now - last_rss >= 1.0:
            last_rss = now
            process.sample_rss()
        if t.committed and (api is None or t.queryable):
            break
        why = f"; {api.why}" if api is not None and api.why and not t.queryable else ""
        if now - process.started > timeout:
            run.complete = False
            run.notes.append(
                f"stopped at the {timeout:.0f}s limit: {committed:,} of {target:,} input "
                f"records committed{why}"
            )
            log(f"{run.label} [{run.shape}]: {run.notes[-1]}\n{process.log_tail()}")
            break
        if now - last_log >= 10:
            last_log = now
            log(f"{run.label} [{run.shape}]: {committed:,} / {target:,} committed{why}")
        await asyncio.sleep(POLL_INTERVAL)
    else:
        run.complete = False
        run.notes.append(f"process exited {process.popen.returncode if process.popen else '?'}")
        log(f"{run.label} [{run.shape}] exited:\n{process.log_tail()}")
    run.peak_rss = process.sample_rss()
    t.fill(run, committed)
    if api is not None and not t.queryable and run.complete:
        run.complete = False
        run.notes.append(f"API totals never matched: {api.why}")


async def run_peer(
    consumer: str,
    opts: Options,
    broker: BrokerInfo,
    admin: AIOKafkaAdminClient,
    topics: ShapeTopics,
    base: Path,
) -> Run:
    total = sum(topics.ends.values())
    group = f"bench-{consumer}-{topics.shape}-{uuid.uuid4().hex[:6]}"
    work = base / group
    target = min(opts.naive_events, total) if consumer == "naive" else total
    run = Run(consumer, LABELS[consumer], topics.shape, target)
    names = ",".join(topics.names)
    if consumer == "naive":
        argv = [sys.executable, "-m", "bench.naive_app", "worker", "--loglevel", "warn"]
        env = _env(
            {
                "NAIVE_BOOTSTRAP": broker.bootstrap,
                "NAIVE_APP_ID": group,
                "NAIVE_TOPICS": names,
                "NAIVE_PARTITIONS": str(opts.partitions),
                "NAIVE_STORE": "memory://",
                "NAIVE_DATA_DIR": str(work / "data"),
            }
        )
        if target < total:
            run.notes.append(
                f"consumed the first {target:,} of {total:,} input records (--naive-events), "
                "then stopped; events/s is over those"
            )
    else:
        argv = [sys.executable, "-m", "bench.peers", consumer, "--bootstrap", broker.bootstrap]
        argv += ["--group", group, "--topics", names, "--state-dir", str(work / "state")]
        env = _env({})
    process = Process(run.label, argv, env, work / "process.log")
    log(f"{run.label} [{topics.shape}]: starting (group {group}); {target:,} events")
    try:
        await drive(
            process,
            GroupWatch(admin, group, topics.ends),
            run,
            target,
            opts.timeout,
            broker_pid=broker.pid,
        )
    finally:
        await asyncio.to_thread(process.stop)
    _log_result(run)
    return run


def _log_result(run: Run) -> None:
    parts = [f"{run.events:,} events"]
    if run.rate:
        parts.append(f"committed in {run.seconds:.2f}s = {run.rate:,.0f}/s")
    if run.rate_queryable:
        parts.append(f"queryable in {run.seconds_queryable:.2f}s = {run.rate_queryable:,.0f}/s")
    if run.rate_cpu:
        parts.append(f"CPU {run.cpu:.2f}s = {run.rate_cpu:,.0f} events per CPU-second")
    if run.broker_cpu is not None:
        parts.append(f"broker CPU {run.broker_cpu:.2f}s")
    parts.append(f"peak RSS {run.peak_rss / 2**20:.0f} MiB")
    log(f"{run.label} [{run.shape}]: " + ", ".join(parts) + ("" if run.complete else " INCOMPLETE"))


@dataclass
class Worker:
    """A running salespulse worker, kept after its timed run for the follow-up measures."""

    process: Process
    app_id: str
    url: str
    data_dir: Path
    #: the group's other workers (`--workers`), each with its own API port and data dir
    others: list[Worker] = field(default_factory=list)

    @property
    def everyone(self) -> list[Worker]:
        return [self, *self.others]


async def start_salespulse(
    opts: Options,
    broker: BrokerInfo,
    admin: AIOKafkaAdminClient,
    topics: ShapeTopics,
    data: Dataset,
    base: Path,
) -> tuple[Run, Worker]:
    app_id = f"spbench-{topics.shape}-{uuid.uuid4().hex[:6]}"
    env = {
        "KAFKA_BOOTSTRAP": broker.bootstrap,
        "SALES_APP_ID": app_id,
        "SALES_TOPIC_PARTITIONS": str(opts.partitions),
        "SALES_LATE_GRACE": f"P{LATE_GRACE_DAYS}D",
        # the clock advance after the wide run sends events grace + 1 day ahead
        "SALES_MAX_CLOCK_SKEW": f"P{LATE_GRACE_DAYS + 30}D",
    }
    env.update({f"SALES_TOPIC_{k.upper()}": v for k, v in topics.inputs.items()})
    env.update({f"SALES_TOPIC_{k.upper()}": f"{app_id}.{k}" for k in WORKER_TOPICS})
    env.update(opts.worker_env)
    label = LABELS["salespulse"]
    run = Run("salespulse", label, topics.shape, sum(topics.ends.values()))
    if opts.worker_env or opts.worker_command:
        extra = " ".join(
            [*(opts.worker_command or []), *(f"{k}={v}" for k, v in opts.worker_env.items())]
        )
        run.notes.append(f"worker run as configured: {extra}")
    if opts.workers > 1:
        run.notes.append(
            f"{opts.workers} workers in one consumer group, each its own process; peers run "
            "as one process each"
        )
    argv = opts.worker_command or salespulse_command()
    workers: list[Worker] = []
    for i in range(opts.workers):
        port = load_kafka_local().free_port()
        suffix = f"-{i + 1}" if i else ""
        data_dir = base / app_id / f"data{suffix}"
        own = {"SALES_API_PORT": str(port), "SALES_DATA_DIR": str(data_dir)}
        process = Process(label, argv, _env({**env, **own}), base / app_id / f"worker{suffix}.log")
        workers.append(Worker(process, app_id, f"http://127.0.0.1:{port}", data_dir))
    worker = workers[0]
    worker.others = workers[1:]
    for other in worker.others:  # `drive` starts the first and times from its start
        other.process.start()
    watch = GroupWatch(admin, app_id, topics.ends)
    log(f"salespulse [{topics.shape}]: starting {opts.workers} worker(s) {app_id}, {worker.url}")
    try:
        await drive(
            worker.process,
            watch,
            run,
            run.events,
            opts.timeout,
            api_check=lambda: figures_match(worker.url, data),
            broker_pid=broker.pid,
            consumer_cpu=lambda: sum(each.process.cpu_seconds() for each in workers),
        )
    except BaseException:  # the caller stops the first worker only once this returned
        for each in worker.everyone:
            await asyncio.to_thread(each.process.stop)
        raise
    # VmHWM is each process's own peak: one reading at the end is enough for the others
    run.peak_rss += sum(other.process.sample_rss() for other in worker.others)
    _log_result(run)
    if run.complete:
        run.notes.append("team activities_total and deals_won matched the input for every month")
    return run, worker


def worker_dirs_bytes(worker: Worker) -> int:
    """Bytes in the data dirs of the group's workers (RocksDB, offsets)."""
    return sum(dir_bytes(each.data_dir) for each in worker.everyone)


LOG_PROBLEMS = re.compile(r"\b(WARNING|ERROR|CRITICAL|Traceback)\b|Error\b")


def worker_log_summary(path: Path, limit: int = 15) -> list[str]:
    """The worker log's warnings and errors (the log itself is temporary), one line per
    kind of message (numbers ignored): "<count>x <first such line>", most frequent first."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    kinds: dict[str, list[Any]] = {}
    for line in lines:
        if LOG_PROBLEMS.search(line):
            # "[date] [pid] [LEVEL] message": group by the message without its numbers
            key = re.sub(r"[\d.+-]+", "#", line.split("] ", 3)[-1])
            kinds.setdefault(key, [0, line[:300]])[0] += 1
    ranked = sorted(kinds.values(), key=lambda kind: -kind[0])
    return [f"{count}x {first}" for count, first in ranked[:limit]]


async def run_salespulse(
    opts: Options,
    broker: BrokerInfo,
    admin: AIOKafkaAdminClient,
    topics: ShapeTopics,
    data: Dataset,
    base: Path,
    *,
    latency: bool,
    state: bool,
) -> tuple[Run, dict[str, Any]]:
    """The timed salespulse run, then on the same worker its changelog figures and, if asked
    (and the run completed), the latency and the state after the grace.

    Returns the run and {"worker_log": [...], "latency": {...}, "state": {...}}.
    """
    from bench import latency as latency_probe

    run, worker = await start_salespulse(opts, broker, admin, topics, data, base)
    followups: dict[str, Any] = {}
    try:
        run.extra.update(await changelog_figures(broker, admin, worker, data.total))
        rate = opts.latency_rate or 0.5 * (run.rate_queryable or run.rate or 0)
        if not run.complete:
            run.notes.append("no state or latency measure: the run is incomplete")
        elif latency and rate > 0:
            log(f"latency: {rate:,.0f} events/s for {opts.latency_seconds:g}s ...")
            figures = await latency_probe.measure(
                worker.url,
                broker.bootstrap,
                topics.inputs,
                data,
                rate,
                opts.latency_seconds,
                opts.sample_every,
            )
            figures.update(steady_memory(worker))
            followups["latency"] = {"shape": topics.shape, **figures}
        if run.complete and state:
            figures = await state_after_grace(broker, admin, worker, topics, data)
            followups["state"] = {"shape": topics.shape, **figures}
    finally:
        # all at once: one stopping first makes the others rebalance (and warn) for nothing
        await asyncio.gather(*(asyncio.to_thread(each.process.stop) for each in worker.everyone))
        for each in worker.everyone:
            log(f"salespulse [{topics.shape}]: worker stopped; log {each.process.log_path}")
        followups["worker_log"] = [
            line for each in worker.everyone for line in worker_log_summary(each.process.log_path)
        ]
    return run, followups


def steady_memory(worker: Worker) -> dict[str, Any]:
    """The worker's resident memory after the latency run's steady load (not the drain's
    peak), and what its RocksDB databases hold of it (`sales_store_memory_bytes`)."""
    rss = sum(session_rss(each.process.pid) for each in worker.everyone)
    store = 0.0
    for each in worker.everyone:
        status, body = http_get(each.url + "/metrics")
        for line in body.decode().splitlines() if status == 200 else []:
            if line.startswith("sales_store_memory_bytes "):
                store += float(line.split()[1])
    log(f"after the steady load: RSS {rss / 2**20:,.0f} MiB, RocksDB {store / 2**20:,.1f} MiB")
    return {"rss_after_bytes": rss, "store_memory_bytes": int(store)}


async def changelog_figures(
    broker: BrokerInfo,
    admin: AIOKafkaAdminClient,
    worker: Worker,
    input_events: int,
    settle: float = 3.0,
    limit: float = 90.0,
) -> dict[str, Any]:
    """Records in the worker's changelog topics (end offsets) per input event.

    The worker may still be writing its changelog when its figures are already queryable
    (its producer buffer drains after), so this waits until the end offsets have not moved
    for `settle` seconds (at most `limit`).
    """
    started = time.monotonic()
    records, steady_since = -1, started
    names: list[str] = []
    while True:
        names = await topics_matching(admin, worker.app_id, "-changelog")
        now_records = sum((await end_offsets(broker.bootstrap, names)).values())
        now = time.monotonic()
        if now_records != records:
            records, steady_since = now_records, now
        elif now - steady_since >= settle or now - started >= limit:
            break
        await asyncio.sleep(0.5)
    return {
        "changelog_topics": names,
        "changelog_records": records,
        "changelog_records_per_input_event": records / input_events if input_events else None,
        "changelog_settled_after_s": round(steady_since - started, 1),
    }


#: the worker prunes the event ids of hours beyond the grace once a minute, at most 20,000
#: records a partition at a time: how long the state measurement waits for that to end
PRUNE_WAIT = 420.0
PRUNE_POLL = 70.0  # a little over the worker's tick (SALES_EVALUATION_INTERVAL, 60 s)


async def settled_changelog(
    broker: BrokerInfo,
    admin: AIOKafkaAdminClient,
    worker: Worker,
    input_events: int,
    deadline: float,
) -> dict[str, Any]:
    """The changelog figures once the worker stopped rewriting records (its pruning of old
    event ids): two reads a tick apart with the same record count, or the deadline."""
    figures = await changelog_figures(broker, admin, worker, input_events)
    while time.monotonic() + PRUNE_POLL < deadline and worker.process.alive():
        await asyncio.sleep(PRUNE_POLL)
        again = await changelog_figures(broker, admin, worker, input_events)
        log(
            f"salespulse: changelog {figures['changelog_records']:,} -> "
            f"{again['changelog_records']:,} records (waiting for the pruning of old ids)"
        )
        if again["changelog_records"] == figures["changelog_records"]:
            return again
        figures = again
    return figures


async def state_after_grace(
    broker: BrokerInfo,
    admin: AIOKafkaAdminClient,
    worker: Worker,
    topics: ShapeTopics,
    data: Dataset,
    commit_wait: float = 4.0,
) -> dict[str, Any]:
    """Move stream time past the late grace of every event, then measure the state left.

    64 activity events of bench-only reps (`zz-clock-NN`, team `zz-clock`, so every scope
    partition likely gets one) at the data's end + grace + 1 day: by the contract every event
    of the data is then older than stream time minus the grace. The state is then measured as
    the compacted size of the worker's changelog topics (read to the end: key + value bytes
    of the latest non-null record per key), divided by reps x days of the data.
    """
    before = await changelog_figures(broker, admin, worker, data.total)
    rocks_before = worker_dirs_bytes(worker)
    at = data.end + timedelta(days=LATE_GRACE_DAYS + 1)
    occurred_at = rfc3339(at)
    records = []
    for n in range(64):
        rep = f"zz-clock-{n:02d}"
        event = {
            "event_id": f"zz-clock-{n:02d}-{int(at.timestamp())}",
            "occurred_at": occurred_at,
            "rep_id": rep,
            "team_id": "zz-clock",
            "activity": "email",
        }
        records.append((topics.inputs["activities"], rep.encode(), orjson.dumps(event)))
    extra_ends = await produce(broker.bootstrap, records)
    watch = GroupWatch(admin, worker.app_id, {**topics.ends, **extra_ends})
    target = sum(watch.ends.values())
    deadline = time.monotonic() + 180
    committed = 0
    while time.monotonic() < deadline and worker.process.alive():
        committed = await watch.committed()
        if committed >= target:
            break
        await asyncio.sleep(POLL_INTERVAL)
    query = urllib.parse.urlencode({"period": month_of(occurred_at)})
    status, applied = 0, False
    while not applied and time.monotonic() < deadline and worker.process.alive():
        status, body = await asyncio.to_thread(
            http_get, f"{worker.url}/v1/reps/zz-clock-63/performance?{query}"
        )
        applied = status == 200 and orjson.loads(body)["activities"]["total"] == 1
        if not applied:
            await asyncio.sleep(1.0)
    await asyncio.sleep(commit_wait)  # let the worker flush its changelog
    after = await settled_changelog(broker, admin, worker, data.total, deadline + PRUNE_WAIT)
    log(
        f"salespulse [{topics.shape}]: stream time moved to {occurred_at} "
        f"({'applied' if applied else f'NOT applied: HTTP {status}'}); reading "
        f"{after['changelog_records']:,} changelog records"
    )
    compacted = await compacted_size(broker.bootstrap, after["changelog_topics"])
    rep_days = data.reps * data.days
    return {
        "clock_advance_to": occurred_at,
        "clock_advance_applied": applied,
        "clock_advance_committed": committed >= target,
        "changelog_records_before_advance": before["changelog_records"],
        "changelog_records_after_advance": after["changelog_records"],
        "changelog_log_bytes_on_disk": topic_log_bytes(broker.log_dir, after["changelog_topics"]),
        "state_keys": compacted.state_keys,
        "state_bytes": compacted.state_bytes,
        "state_bytes_complete": compacted.complete,
        "state_records_read": compacted.read,
        "changelog_compacted_records": compacted.log_keys,
        "changelog_compacted_bytes": compacted.log_bytes,
        "rep_days": rep_days,
        "state_bytes_per_rep_day": compacted.state_bytes / rep_days,
        "changelog_compacted_bytes_per_rep_day": compacted.log_bytes / rep_days,
        "rocksdb_dir_bytes_before_advance": rocks_before,
        "rocksdb_dir_bytes_after_advance": worker_dirs_bytes(worker),
    }
