"""What the benchmark needs around its consumers: a broker, topics, offsets, processes, sizes.

Nothing here imports `streams`: the salespulse worker is started as the `salespulse` console
script with environment variables, like every peer is started as its own process.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from streams.worker import topics as worker_topics
from streams.worker.changelog_frames import LogMeta, Overlay, apply_record, is_state_key

REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_LOCAL_PATH = REPO_ROOT / "deploy" / "kafka" / "kafka_local.py"


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


@dataclass
class BrokerInfo:
    bootstrap: str
    #: the broker's log dir (one sub-directory per topic partition)
    log_dir: Path
    version: str
    pid: int


def exit_on_sigterm() -> None:
    """Make SIGTERM (a `kill`, a CI timeout) end the bench as Ctrl-C would: by an exception,
    so that its `with` blocks stop the broker and remove the temporary directory. Killed by
    the signal's default action, each run left its broker's data behind in /tmp, some
    250 MB a run. Python runs the handler between bytecodes: a signal that lands just before
    a blocking call waits for the call to return, which the bench's polling loops bound."""

    def stop(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


@contextmanager
def kafka_broker(base_dir: Path) -> Iterator[BrokerInfo]:
    """A fresh single-node broker on a free port and a temporary data dir; stopped afterwards."""
    kafka_local = load_kafka_local()
    t0 = time.monotonic()
    data_dir = base_dir / "kafka"
    broker = kafka_local.start_broker(kafka_local.free_port(), data_dir, die_with_parent=True)
    log(f"Kafka {broker.version} up on {broker.bootstrap} in {time.monotonic() - t0:.1f}s")
    try:
        yield BrokerInfo(
            str(broker.bootstrap), data_dir.resolve() / "kraft", broker.version, broker.pid
        )
    finally:
        broker.stop()
        log("Kafka broker stopped")


def topic_log_bytes(log_dir: Path, topics: Iterable[str]) -> int:
    """Bytes of the segment files (*.log) of every partition of `topics` on the broker's disk."""
    names = set(topics)
    total = 0
    for part in log_dir.iterdir():
        topic, _, index = part.name.rpartition("-")
        if topic in names and index.isdigit():
            total += sum(f.stat().st_size for f in part.glob("*.log"))
    return total


def dir_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


# -- topics and offsets ---------------------------------------------------------------


async def create_topics(bootstrap: str, names: Sequence[str], partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if not await worker_topics.create_topics(
            admin, [NewTopic(n, partitions, 1) for n in names]
        ):
            raise RuntimeError(f"topics {names} have no leader after 30 s")
    finally:
        await admin.close()


async def produce(
    bootstrap: str, records: Iterable[tuple[str, bytes, bytes]]
) -> dict[TopicPartition, int]:
    """Send (topic, key, value) records (default partitioner: by key); return end offsets."""
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=512 * 1024, acks=1
    )
    await producer.start()
    ends: dict[TopicPartition, int] = {}
    pending: list[asyncio.Future[Any]] = []

    async def settle() -> None:
        for meta in await asyncio.gather(*pending):
            tp = TopicPartition(meta.topic, meta.partition)
            ends[tp] = max(ends.get(tp, 0), meta.offset + 1)
        pending.clear()

    try:
        for topic, key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 20_000:
                await settle()
        await settle()
    finally:
        await producer.stop()
    return ends


async def end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[TopicPartition, int]:
    if not topics:
        return {}
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(t, p)
            for t in topics
            for p in sorted(consumer.partitions_for_topic(t) or ())
        ]
        return dict(await consumer.end_offsets(tps)) if tps else {}
    finally:
        await consumer.stop()


class GroupWatch:
    """Asks the broker (never the consumer) about one consumer group."""

    def __init__(self, admin: AIOKafkaAdminClient, group: str, ends: Mapping[TopicPartition, int]):
        self.admin = admin
        self.group = group
        self.ends = dict(ends)

    async def committed(self) -> int:
        """Input records the group has committed (each partition counted up to its end)."""
        try:
            offsets = await self.admin.list_consumer_group_offsets(
                self.group, partitions=list(self.ends)
            )
        except KafkaError:  # e.g. no coordinator yet on a fresh broker
            return 0
        return sum(
            min(max(meta.offset, 0), end)
            for tp, end in self.ends.items()
            if (meta := offsets.get(tp)) is not None
        )

    async def stable(self) -> bool:
        """The group has members and a finished rebalance (state Stable)."""
        try:
            responses = await self.admin.describe_consumer_groups([self.group])
        except KafkaError:  # coordinator not there yet
            return False
        for response in responses:
            for group in response.groups:
                # (error_code, group_id, group_state, protocol_type, protocol, members, ...)
                if group[1] == self.group and group[0] == 0 and group[2] == "Stable" and group[5]:
                    return True
        return False


async def topics_matching(admin: AIOKafkaAdminClient, *parts: str) -> list[str]:
    return sorted(t for t in await admin.list_topics() if all(p in t for p in parts))


@dataclass
class Compacted:
    """What changelog topics retain once compacted, and the table state they recover to."""

    #: records read
    read: int
    #: key + value bytes of the latest non-null record per key: the log once compacted
    log_keys: int
    log_bytes: int
    #: state records recovery rebuilds from those records (frames unpacked), their bytes
    state_keys: int
    state_bytes: int
    #: every partition was read to its end
    complete: bool


async def compacted_size(
    bootstrap: str, topics: Sequence[str], timeout: float = 240.0
) -> Compacted:
    """Read `topics` to their end and recover them as the worker's store would
    (streams.worker.changelog_frames)."""
    ends = await end_offsets(bootstrap, topics)
    ends = {tp: end for tp, end in ends.items() if end > 0}
    if not ends:
        return Compacted(0, 0, 0, 0, 0, True)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        fetch_max_bytes=16 * 1024 * 1024,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    latest: dict[tuple[str, int, bytes], int] = {}
    stores: dict[tuple[str, int], Overlay] = {}
    metas: dict[tuple[str, int], LogMeta] = {}
    read = 0
    deadline = time.monotonic() + timeout
    try:
        consumer.assign(list(ends))
        await consumer.seek_to_beginning(*ends)
        remaining = set(ends)
        while remaining and time.monotonic() < deadline:
            batch = await consumer.getmany(*remaining, timeout_ms=1000, max_records=50_000)
            for tp, messages in batch.items():
                read += len(messages)
                where = (tp.topic, tp.partition)
                store = stores.setdefault(where, Overlay(_EMPTY))
                meta = metas.setdefault(where, LogMeta())
                for m in messages:
                    key = (tp.topic, tp.partition, m.key or b"")
                    if m.value is None:
                        latest.pop(key, None)
                    else:
                        latest[key] = len(key[2]) + len(m.value)
                    apply_record(store, meta, m.key or b"", m.value)
                if messages and messages[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        state = [
            len(key) + len(value)
            for store in stores.values()
            for key, value in store.writes.items()
            if value is not None and is_state_key(key)
        ]
        return Compacted(
            read, len(latest), sum(latest.values()), len(state), sum(state), not remaining
        )
    finally:
        await consumer.stop()


class _Empty:
    """An empty store partition, under the Overlay that collects what recovery writes."""

    def get(self, key: bytes) -> bytes | None:
        return None

    def state_keys(self) -> list[bytes]:
        return []

    def put(self, key: bytes, value: bytes) -> None:
        raise AssertionError("writes go to the overlay")

    def delete(self, key: bytes) -> None:
        raise AssertionError("writes go to the overlay")


_EMPTY = _Empty()


# -- processes ------------------------------------------------------------------------


@dataclass
class Process:
    """A consumer under test, in its own session (so it and its children stop together)."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    started: float = 0.0  # monotonic
    peak_rss: int = 0

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as out:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=REPO_ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                # its own session keeps it from a Ctrl-C meant for the bench; this stops it
                # when the bench is killed instead, before its `finally` could
                preexec_fn=load_kafka_local().sigterm_when_parent_exits,
            )
        self.started = time.monotonic()
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def sample_rss(self) -> int:
        """Peak RSS so far (VmHWM) summed over the process and its session's children."""
        if self.alive():
            self.peak_rss = max(self.peak_rss, session_peak_rss(self.pid))
        return self.peak_rss

    def cpu_seconds(self) -> float:
        """CPU time used so far by the process and its session's children (0.0 once gone)."""
        return cpu_seconds(self.pid, session=True) if self.alive() else 0.0

    def stop(self) -> None:
        if not self.alive():
            return
        self.sample_rss()
        os.killpg(self.pid, signal.SIGTERM)
        assert self.popen is not None
        try:
            self.popen.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _proc_stats(pid: int, *, session: bool) -> Iterator[tuple[Path, list[str]]]:
    """Each live process's /proc entry and the fields of its `stat` after the ")" that ends
    the command name (state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    utime stime ...): process `pid`, or with `session` every process of session `pid`.
    Linux only; a process gone meanwhile is left out."""
    proc = Path("/proc")
    for entry in proc.iterdir() if session else [proc / str(pid)]:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if session and int(fields[3]) != pid:
                continue
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        yield entry, fields


def cpu_seconds(pid: int, *, session: bool = False) -> float:
    """CPU time (user + system, every thread) a process has used so far, in seconds; with
    `session`, summed over every live process of session `pid` (a consumer and its
    children). 0.0 off Linux or once the process is gone.

    Why: whole-process rates on a shared 2-core VM move by some 20 % between runs of the same
    code, with the broker on the same cores; the CPU a consumer spent on the same backlog
    moves less (it still grows when the host is busy: compare runs taken alternately), and
    what it leaves of the wall time is waiting (for the broker, or for a core)."""
    if not Path("/proc").is_dir():
        return 0.0
    ticks = sum(int(f[11]) + int(f[12]) for _, f in _proc_stats(pid, session=session))
    return ticks / os.sysconf("SC_CLK_TCK")


def session_peak_rss(sid: int) -> int:
    """Sum of VmHWM (peak resident set) of the processes in session `sid`, in bytes.

    Linux /proc; elsewhere psutil's current RSS of the process tree if psutil is installed
    (the peak is not exposed there), else 0.
    """
    return _session_memory(sid, "VmHWM:")


def session_rss(sid: int) -> int:
    """Sum of VmRSS (resident set now) of the processes in session `sid`, in bytes: what a
    long-running worker keeps, where the peak of a drain is what it needed once."""
    return _session_memory(sid, "VmRSS:")


def _session_memory(sid: int, field: str) -> int:
    if not Path("/proc").is_dir():
        return _psutil_rss(sid)
    total = 0
    for entry, _ in _proc_stats(sid, session=True):
        try:
            for line in (entry / "status").read_text().splitlines():
                if line.startswith(field):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return total


def _psutil_rss(pid: int) -> int:
    try:
        import psutil
    except ImportError:
        return 0
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0


def http_get(url: str, timeout: float = 10.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()
