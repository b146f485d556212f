"""End-to-end throughput: salespulse worker vs the naive Faust agent, on a real broker.

Everything runs on a throwaway single-node Kafka started by deploy/kafka/kafka_local.py on a
free port and a temporary data dir. The events are produced *before* the consumer starts, so
what is measured is how fast a worker drains a backlog: the ceiling of its throughput.

- salespulse: one `python -m streams.cli worker` subprocess (fresh SALES_APP_ID and
  SALES_TOPIC_* names). The clock runs from its first `GET /readyz` == 200 until
  `sales_events_processed_total` (ingested) and the `sales_event_lag_seconds` count
  (applied) both equal N *and* the leaderboard (scope=team, activities_total and deals_won,
  every month of the data) equals what was produced, team by team.
- naive: bench/naive_app.py as a faust worker on the same activity topic with its own app
  id; it reports its own count and the time it reached the expected count.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from streams.generator import DEFAULT_FX_PATH, GeneratorConfig, generate, load_fx_rates
from streams.settings import Settings, Topics
from streams.topics import ensure_topics

REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_LOCAL_PATH = REPO_ROOT / "deploy" / "kafka" / "kafka_local.py"
INPUT_KINDS = ("activities", "deals", "feedback")
POLL_INTERVAL = 0.2
API_POLL_INTERVAL = 0.5


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- broker ---------------------------------------------------------------------------


def load_kafka_local() -> ModuleType:
    """deploy/kafka/kafka_local.py as a module (it is a script, not part of a package)."""
    name = "kafka_local"
    module = sys.modules.get(name)
    if module is None:
        spec = importlib.util.spec_from_file_location(name, KAFKA_LOCAL_PATH)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


@contextmanager
def kafka_broker(base_dir: Path) -> Iterator[str]:
    """A fresh broker on a free port; yields "127.0.0.1:PORT" and stops it afterwards."""
    kafka_local = load_kafka_local()
    t0 = time.monotonic()
    broker = kafka_local.start_broker(
        kafka_local.free_port(), base_dir / "kafka", die_with_parent=True
    )
    log(f"Kafka broker up on {broker.bootstrap} in {time.monotonic() - t0:.1f}s")
    try:
        yield str(broker.bootstrap)
    finally:
        broker.stop()
        log("Kafka broker stopped")


# -- data -----------------------------------------------------------------------------


@dataclass
class Dataset:
    """The produced records and the figures the worker must end up with."""

    records: list[tuple[str, bytes, bytes]]  # (topic kind, key, value)
    by_kind: Counter[str]
    #: month -> team -> count of activity events
    activities: dict[str, Counter[str]]
    #: month -> team -> count of won deals
    deals_won: dict[str, Counter[str]]
    start: datetime
    end: datetime

    @property
    def total(self) -> int:
        return len(self.records)


def build_dataset(n: int, reps: int = 200, teams: int = 10, days: int = 5) -> Dataset:
    """n valid records (no late, duplicate, invalid or reopened ones) over the last days.

    The span (5 days) is shorter than SALES_LATE_GRACE (7 days), so no event can be late,
    and ends a minute ago, so none is ahead of the clock.
    """
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    start = end - timedelta(days=days)
    config = GeneratorConfig(
        context="saas",
        seed=20261127,
        reps=reps,
        teams=teams,
        start=start,
        end=end,
        events=n,
        reopen_rate=0.0,
        fx_rates=load_fx_rates(DEFAULT_FX_PATH),
    )
    records: list[tuple[str, bytes, bytes]] = []
    by_kind: Counter[str] = Counter()
    activities: dict[str, Counter[str]] = defaultdict(Counter)
    deals_won: dict[str, Counter[str]] = defaultdict(Counter)
    for record in generate(config):
        assert record.label == "valid" and record.value is not None and record.key is not None
        event = orjson.loads(record.value)
        month = datetime.fromisoformat(event["occurred_at"]).astimezone(UTC).strftime("%Y-%m")
        if record.topic_kind == "activities":
            activities[month][event["team_id"]] += 1
        elif record.topic_kind == "deals" and event["outcome"] == "won":
            deals_won[month][event["team_id"]] += 1
        by_kind[record.topic_kind] += 1
        records.append((record.topic_kind, record.key.encode(), record.value))
    return Dataset(records, by_kind, dict(activities), dict(deals_won), start, end)


def topics_for(name: str) -> Topics:
    return Topics(**{kind: f"{name}.{kind}" for kind in Topics.__dataclass_fields__})


async def produce(
    bootstrap: str, topics: Topics, records: list[tuple[str, bytes, bytes]]
) -> dict[TopicPartition, int]:
    """Create the app's topics (as the worker would) and send every record, keyed by rep.

    Returns the end offset of every partition written to.
    """
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # retries while leaders settle
    # creates the app's topics as the worker would and waits for their leaders
    await ensure_topics(Settings(kafka_bootstrap=bootstrap, topics=topics))
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    ends: dict[TopicPartition, int] = {}

    async def settle(pending: list[asyncio.Future[Any]]) -> None:
        for meta in await asyncio.gather(*pending):
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
        pending.clear()

    try:
        pending: list[asyncio.Future[Any]] = []
        for kind, key, value in records:
            pending.append(await producer.send(getattr(topics, kind), value, key=key))
            if len(pending) >= 20_000:
                await settle(pending)
        await settle(pending)
    finally:
        await producer.stop()
    return ends


async def committed_records(
    admin: AIOKafkaAdminClient, group: str, ends: dict[TopicPartition, int]
) -> int:
    """How many of the produced records the consumer group has committed."""
    offsets = await admin.list_consumer_group_offsets(group, partitions=list(ends))
    return sum(
        min(max(meta.offset, 0), ends[tp]) if meta is not None else 0
        for tp, meta in ((tp, offsets.get(tp)) for tp in ends)
    )


# -- HTTP -----------------------------------------------------------------------------


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def scrape(url: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """name -> [(labels, value)] of every sample on a /metrics page."""
    status, body = http_get(url + "/metrics")
    if status != 200:
        raise OSError(f"/metrics answered {status}")
    out: dict[str, list[tuple[dict[str, str], float]]] = defaultdict(list)
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[sample.name].append((dict(sample.labels), float(sample.value)))
    return out


def metric_sum(samples: dict[str, list[tuple[dict[str, str], float]]], name: str) -> float:
    return sum(value for _, value in samples.get(name, []))


def leaderboard(url: str, period: str, metric: str) -> dict[str, float] | None:
    query = urllib.parse.urlencode(
        {"period": period, "metric": metric, "scope": "team", "limit": 100}
    )
    status, body = http_get(f"{url}/v1/leaderboard?{query}")
    if status != 200:
        return None
    return {e["id"]: e["value"] for e in orjson.loads(body)["entries"] if e["value"]}


def figures_match(url: str, data: Dataset) -> tuple[bool, str]:
    """Team activities_total and deals_won of every month equal what was produced."""
    for metric, expected in (("activities_total", data.activities), ("deals_won", data.deals_won)):
        for month, per_team in sorted(expected.items()):
            got = leaderboard(url, month, metric)
            want = {team: float(n) for team, n in per_team.items() if n}
            if got is None or {k: float(v) for k, v in got.items()} != want:
                got_total = sum((got or {}).values())
                return False, (
                    f"{metric} {month}: API total {got_total:g}, produced {sum(want.values()):g}"
                )
    return True, "team activities_total and deals_won match for every month"


# -- salespulse -----------------------------------------------------------------------


@dataclass
class Result:
    name: str
    events: int
    seconds: float | None  # None: did not finish
    seconds_wall: float | None = None  # from process start, start-up included
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float | None:
        return self.events / self.seconds if self.seconds else None

    @property
    def rate_wall(self) -> float | None:
        return self.events / self.seconds_wall if self.seconds_wall else None


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_salespulse(
    bootstrap: str,
    data: Dataset,
    name: str,
    base_dir: Path,
    timeout: float,
    worker_env: Mapping[str, str] | None = None,
) -> Result:
    """Produce the dataset to `name`.* topics, then time one worker draining them."""
    log(f"salespulse: producing {data.total:,} events to {name}.* ...")
    t0 = time.monotonic()
    topics = topics_for(name)
    ends = asyncio.run(produce(bootstrap, topics, data.records))
    log(f"salespulse: produced in {time.monotonic() - t0:.1f}s; starting one worker")
    return asyncio.run(
        _time_salespulse(bootstrap, data, name, ends, base_dir, timeout, worker_env or {})
    )


async def _time_salespulse(
    bootstrap: str,
    data: Dataset,
    name: str,
    ends: dict[TopicPartition, int],
    base_dir: Path,
    timeout: float,
    worker_env: Mapping[str, str],
) -> Result:
    from tests.support.workers import Cluster, free_port

    # Cluster.env() gives the worker its own app id, data dir and topic names; keep the
    # default publish interval of sales.performance (the test env shortens it).
    cluster = Cluster(
        bootstrap=bootstrap,
        name=name,
        base_dir=base_dir,
        extra_env={"SALES_PERFORMANCE_MIN_INTERVAL": "1.0", **worker_env},
    )
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    worker = cluster.start_worker(free_port())
    url = worker.url
    label = " ".join(["salespulse worker", *(f"{k}={v}" for k, v in worker_env.items())])
    result = Result(label, data.total, None)
    started = time.monotonic()

    def alive() -> None:
        if not worker.alive():
            raise RuntimeError(f"salespulse worker died:\n{worker.log_tail(400)}")

    async def get(path: str) -> tuple[int, bytes]:
        return await asyncio.to_thread(http_get, url + path)

    try:
        ready_at = None
        while ready_at is None:
            alive()
            try:
                if (await get("/readyz"))[0] == 200:
                    ready_at = time.monotonic()
            except OSError:
                pass
            if ready_at is None:
                if time.monotonic() - started > 120:
                    raise RuntimeError(f"worker never ready:\n{worker.log_tail()}")
                await asyncio.sleep(0.1)
        early = await committed_records(admin, name, ends)
        log(
            f"salespulse: ready {ready_at - started:.1f}s after start "
            f"({early:,} input records already committed); draining the backlog"
        )
        # Progress comes from the group's committed offsets (asked of the broker, no load on
        # the worker); once every input record is committed, the API is asked for the totals.
        # /metrics is not polled meanwhile: a scrape costs the worker's event loop a lot.
        committed = 0
        last_log = 0.0
        done_at = inputs_done_at = None
        why = "figures not checked yet"
        while done_at is None:
            now = time.monotonic()
            if now - ready_at > timeout:
                result.complete = False
                break
            alive()
            committed = await committed_records(admin, name, ends)
            if committed >= data.total and inputs_done_at is None:
                inputs_done_at = time.monotonic()
                log(f"salespulse: every input record committed {inputs_done_at - ready_at:.1f}s")
            if committed >= data.total:
                try:
                    ok, why_now = await asyncio.to_thread(figures_match, url, data)
                except OSError as exc:
                    ok, why_now = False, f"API error {exc}"
                if why_now != why:
                    log(f"salespulse: {why_now}")
                    why = why_now
                if ok:
                    done_at = time.monotonic()
                    break
            if now - last_log > 5:
                last_log = now
                log(f"salespulse: {committed:,} / {data.total:,} input records committed")
            # the API answers from the worker's event loop: ask it less often than the broker
            await asyncio.sleep(API_POLL_INTERVAL if committed >= data.total else POLL_INTERVAL)
        samples = await asyncio.to_thread(scrape, url)
        ingested = metric_sum(samples, "sales_events_processed_total")
        applied = metric_sum(samples, "sales_event_lag_seconds_count")
        rejected = metric_sum(samples, "sales_events_rejected_total")
        duplicates = metric_sum(samples, "sales_events_duplicate_total")
        if done_at is None:
            result.notes.append(
                f"NOT COMPLETE after {timeout:.0f}s: committed {committed:,}, ingested "
                f"{ingested:,.0f}, applied {applied:,.0f} of {data.total:,}; {why}"
            )
            result.seconds = time.monotonic() - ready_at
            result.events = int(applied)
            log("salespulse: " + result.notes[-1] + "\n" + worker.log_tail())
            return result
        result.seconds = done_at - ready_at
        result.seconds_wall = done_at - started
        log(f"salespulse: all {data.total:,} events applied {result.seconds:.2f}s after ready")
        result.notes.append(why)
        if inputs_done_at is not None:
            result.notes.append(
                f"input offsets all committed {inputs_done_at - ready_at:.1f}s after ready; "
                f"the rest ({done_at - inputs_done_at:.1f}s) is the scopes topic backlog"
            )
        result.notes.append(
            f"/metrics: processed {ingested:,.0f}, applied (event lag count) {applied:,.0f}, "
            f"rejected {rejected:g}, duplicates {duplicates:g}"
        )
        t_scrape = time.monotonic()
        await asyncio.to_thread(scrape, url)
        result.notes.append(
            f"one GET /metrics took {(time.monotonic() - t_scrape) * 1000:.0f} ms at the end"
        )
        result.notes.append(await asyncio.to_thread(consumer_lag_note, url, topics_for(name)))
        return result
    finally:
        await admin.close()
        await asyncio.to_thread(cluster.stop)


def consumer_lag_note(url: str, topics: Topics, wait: float = 12.0) -> str:
    """The consumer lag gauges (refreshed every 5 s by the worker) once they settle at 0."""
    watched = {topics.activities, topics.deals, topics.feedback, topics.scopes}
    deadline = time.monotonic() + wait
    lag: dict[str, float] = {}
    while True:
        lag = defaultdict(float)
        for labels, value in scrape(url).get("sales_consumer_lag_records", []):
            if labels.get("topic") in watched:
                lag[labels["topic"].split(".", 1)[1]] += value
        if len(lag) == len(watched) and not any(lag.values()):
            return "consumer lag 0 on every partition of the input and scopes topics"
        if time.monotonic() > deadline:
            return "consumer lag (records) " + ", ".join(f"{k}={v:g}" for k, v in lag.items())
        time.sleep(1.0)


# -- naive ----------------------------------------------------------------------------


def run_naive(
    bootstrap: str, topic: str, expect: int, store: str, base_dir: Path, timeout: float
) -> Result:
    """bench/naive_app.py as a faust worker on `topic`; its own app id and data dir."""
    name = "naive" + store.split(":")[0] + uuid.uuid4().hex[:8]
    work = base_dir / name
    work.mkdir(parents=True)
    progress_file = work / "progress.json"
    log_file = work / "worker.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NAIVE_", "SALES_"))}
    env.update(
        NAIVE_BOOTSTRAP=bootstrap,
        NAIVE_APP_ID=name,
        NAIVE_TOPIC=topic,
        NAIVE_STORE=store,
        NAIVE_DATA_DIR=str(work / "data"),
        NAIVE_EXPECT=str(expect),
        NAIVE_PROGRESS_FILE=str(progress_file),
        PYTHONUNBUFFERED="1",
    )
    label = f"naive Faust agent ({store.rstrip(':/')} table)"
    log(f"{label}: starting; counting {expect:,} activity events")
    started_wall = time.time()
    with log_file.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.naive_app", "worker", "--loglevel", "warn"],
            env=env,
            cwd=REPO_ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    result = Result(label, expect, None)
    progress: dict[str, Any] = {}
    last_log = 0.0
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"naive worker exited {process.returncode}:\n{_tail(log_file)}")
            try:
                progress = json.loads(progress_file.read_text())
            except (OSError, ValueError):
                progress = {}
            if progress.get("done_at"):
                break
            now = time.time()
            if now - started_wall > timeout:
                break
            if now - last_log > 10:
                last_log = now
                log(f"{label}: {progress.get('count', 0):,} / {expect:,}")
            time.sleep(0.2)
    finally:
        _stop(process)
    first = progress.get("first_event_at")
    if progress.get("done_at") and first:
        result.seconds = progress["done_at"] - first
        result.seconds_wall = progress["done_at"] - started_wall
        log(f"{label}: {expect:,} events in {result.seconds:.2f}s after its first event")
    elif first:
        # Stopped at the time limit: the rate over what it did is still its throughput.
        count = int(progress.get("count", 0))
        result.complete = False
        result.events = count
        result.seconds = time.time() - first
        result.notes.append(
            f"stopped at the {timeout:.0f}s limit after {count:,} of {expect:,} events; "
            "rate measured over those"
        )
        log(f"{label}: " + result.notes[-1])
    else:
        result.complete = False
        result.notes.append(f"no event processed within {timeout:.0f}s:\n{_tail(log_file)}")
    return result


# -- all together ---------------------------------------------------------------------


@dataclass
class ThroughputReport:
    data: Dataset
    salespulse: Result | None
    naive: list[Result]


def run(
    n: int,
    *,
    naive: bool = True,
    naive_memory: bool = True,
    naive_timeout: float = 150.0,
    worker_env: Mapping[str, str] | None = None,
) -> ThroughputReport:
    log(f"generating {n:,} events (200 reps, 10 teams, last 5 days) ...")
    t0 = time.monotonic()
    data = build_dataset(n)
    log(
        f"generated in {time.monotonic() - t0:.1f}s: "
        + ", ".join(f"{k} {v:,}" for k, v in sorted(data.by_kind.items()))
    )
    with (
        tempfile.TemporaryDirectory(prefix="salespulse-bench-") as tmp,
        kafka_broker(Path(tmp)) as bootstrap,
    ):
        base = Path(tmp)
        name = "spbench" + uuid.uuid4().hex[:8]
        sp = run_salespulse(
            bootstrap, data, name, base, timeout=max(120.0, n / 500), worker_env=worker_env
        )
        naive_results: list[Result] = []
        if naive:
            topic = topics_for(name).activities
            stores = ["rocksdb://", "memory://"] if naive_memory else ["rocksdb://"]
            for store in stores:
                naive_results.append(
                    run_naive(
                        bootstrap, topic, data.by_kind["activities"], store, base, naive_timeout
                    )
                )
        return ThroughputReport(data, sp, naive_results)
