"""Real salespulse workers as subprocesses, for integration and end-to-end tests.

Each `Cluster` gets its own app id and its own topic names (SALES_TOPIC_*), so tests
sharing the session broker never see each other's records or consumer groups.
"""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.tools.commands.worker import RUNNING_MARKER

REPO_ROOT = Path(__file__).resolve().parents[2]
TOPIC_NAMES = (
    "activities",
    "deals",
    "feedback",
    "targets",
    "alerts",
    "performance",
    "deadletter",
    "scopes",
)


#: every port free_port handed out in this process
_handed_out: set[int] = set()


def free_port() -> int:
    """A port free now and never handed out before by this process. A worker binds its port
    a second or so after it starts, and the system may give the same port to the next
    bind(0) meanwhile: two workers of one cluster once got one port, hence one data dir and
    one log, and the second refused to start (ci91)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in _handed_out:
            _handed_out.add(port)
            return port


@dataclass
class Worker:
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    #: RLIMIT_FSIZE of the worker's process: no file it writes (its log too) grows past this,
    #: as on a full disk (Python ignores SIGXFSZ: the write fails with EFBIG)
    file_size_limit: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Worker:
        log = self.log_path.open("ab")
        limit = self.file_size_limit

        def limit_file_size() -> None:
            if limit is not None:
                hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
                resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))

        self.process = subprocess.Popen(
            [sys.executable, "-m", "streams.tools.cli", "worker", "--loglevel", "info"],
            env=self.env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=limit_file_size if limit is not None else None,
        )
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, no commit. What a crash looks like."""
        if self.process is not None and self.alive():
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or not self.alive():
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()

    async def sigterm_exit_code(self, timeout: float) -> int:
        """SIGTERM the worker's process (not its group), and its exit code once it ended."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return await asyncio.to_thread(self.process.wait, timeout)

    def assert_stopped_cleanly(self, code: int) -> None:
        """Exit 0 within SALES_STOP_TIMEOUT and no running marker: its next start goes on
        from its local state (a stop cut as a crash exits 75 and discards it)."""
        assert code == 0, self.log_tail()
        assert "SALES_STOP_TIMEOUT" not in self.log_path.read_text(errors="replace")
        assert not (Path(self.env["SALES_DATA_DIR"]) / RUNNING_MARKER).exists()

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@dataclass
class Cluster:
    """Workers of one app id on one broker, and the topic names they use."""

    bootstrap: str
    name: str
    base_dir: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)

    def topic(self, kind: str) -> str:
        return f"{self.name}.{kind}"

    def env(self, port: int) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SALES_", "KAFKA_"))}
        env.update(
            {
                "KAFKA_BOOTSTRAP": self.bootstrap,
                "SALES_API_PORT": str(port),
                "SALES_APP_ID": self.name,
                "SALES_DATA_DIR": str(self.base_dir / f"worker-{port}"),
                "SALES_PERFORMANCE_MIN_INTERVAL": "0.5",
                "PYTHONUNBUFFERED": "1",
            }
        )
        for kind in TOPIC_NAMES:
            env[f"SALES_TOPIC_{kind.upper()}"] = self.topic(kind)
        env.update(self.extra_env)
        return env

    def start_worker(
        self, port: int | None = None, *, file_size_limit: int | None = None, run: int = 0
    ) -> Worker:
        """A worker on its own data dir (by port); `run` > 0 logs to a file of its own."""
        port = port or free_port()
        log = self.base_dir / (f"worker-{port}.log" if not run else f"worker-{port}.{run}.log")
        worker = Worker(port, self.env(port), log, file_size_limit=file_size_limit).start()
        self.workers.append(worker)
        return worker

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()


#: streams.worker.peers.FORWARDED_HEADER: a request already forwarded is answered locally
FORWARDED_HEADER = "X-Salespulse-Forwarded"


async def local_status(url: str) -> int:
    """The status of a request the worker must answer itself (never forwarded): 200 from
    the owner of the key, 503 ("now owned by the worker at ...") from the others."""

    def call() -> int:
        request = urllib.request.Request(url, headers={FORWARDED_HEADER: "1"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    return await asyncio.to_thread(call)


async def http_get(url: str) -> tuple[int, Any]:
    """GET a JSON document with the standard library (no client to configure)."""
    import urllib.error
    import urllib.request

    def call() -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                body = response.read()
                if "json" not in response.headers.get("Content-Type", ""):
                    return response.status, body.decode()
                return response.status, orjson.loads(body) if body else None
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                return exc.code, orjson.loads(body)
            except orjson.JSONDecodeError:
                return exc.code, body.decode(errors="replace")

    return await asyncio.to_thread(call)


async def wait_ready(workers: Iterable[Worker], timeout: float = 120.0) -> None:
    """Until every worker answers /readyz with 200 (or fail with its log)."""
    deadline = time.monotonic() + timeout
    for worker in workers:
        while True:
            if not worker.alive():
                raise AssertionError(f"worker {worker.port} died:\n{worker.log_tail()}")
            try:
                status, _ = await http_get(worker.url + "/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"worker {worker.port} never ready:\n{worker.log_tail()}")
            await asyncio.sleep(0.5)


async def eventually(check: Any, timeout: float = 90.0, interval: float = 0.5) -> Any:
    """Retry an async check until it returns without AssertionError; re-raise at timeout.
    A check that returns False has not passed either (one that did so once passed at its
    first call, whatever it found)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = await check()
            assert result is not False, f"{getattr(check, '__name__', check)} is still False"
            return result
        except (AssertionError, OSError):
            if time.monotonic() > deadline:
                raise
        await asyncio.sleep(interval)


async def produce(
    bootstrap: str, records: Iterable[tuple[str, bytes | None, bytes | dict[str, Any] | None]]
) -> None:
    """Send (topic, key, value) in order; dict values are JSON-encoded."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    await producer.start()
    try:
        for topic, key, value in records:
            payload = orjson.dumps(value) if isinstance(value, dict) else value
            await producer.send_and_wait(topic, payload, key=key)
    finally:
        await producer.stop()


async def group_commits(bootstrap: str, group: str, **security: Any) -> dict[TopicPartition, Any]:
    """The consumer group's committed offsets, each with its metadata (OffsetAndMetadata);
    `security`: the client's SASL and TLS options, if the broker wants them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **security)
    await admin.start()
    try:
        return dict(await admin.list_consumer_group_offsets(group))
    finally:
        await admin.close()


async def delete_group(bootstrap: str, group: str) -> None:
    """Delete a consumer group without members, its committed offsets with it: what Kafka
    does once it had none for offsets.retention.minutes (aiokafka's admin client has no
    call for it: the request, sent to the group's coordinator)."""
    from aiokafka.protocol.admin import DeleteGroupsRequest

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        coordinator = await admin.find_coordinator(group)
        response = await admin._client.send(coordinator, DeleteGroupsRequest([group]))
        assert [error for _, error in response.results] == [0], response
    finally:
        await admin.close()


async def folded_records_deleted(
    bootstrap: str, group: str, topic: str, **security: Any
) -> dict[int, tuple[int, int]]:
    """Partition -> (committed offset, first offset held) of `topic`'s partitions the
    group committed past 0, asserting the records before each committed offset are
    deleted (streams.worker.internal_purge); `security` as for `group_commits`."""
    commits = await group_commits(bootstrap, group, **security)
    committed = {tp: m.offset for tp, m in commits.items() if tp.topic == topic and m.offset > 0}
    assert committed, f"the group {group} committed nothing past 0 on {topic}: {commits}"
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, **security)
    await consumer.start()
    try:
        starts = await consumer.beginning_offsets(list(committed))
    finally:
        await consumer.stop()
    found = {tp.partition: (committed[tp], starts[tp]) for tp in committed}
    assert all(first == offset for offset, first in found.values()), found
    return found


async def records_written(bootstrap: str, topic: str) -> int:
    """How many records were ever written to `topic` (its partitions' end offsets): those
    the worker purged since count too."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        ends = await consumer.end_offsets(await partitions_of(consumer, topic))
        return sum(ends.values())
    finally:
        await consumer.stop()


async def partitions_of(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """The topic's partitions, in order, as the consumer's metadata (refreshed once) knows
    them: none when the topic does not exist."""
    partitions = consumer.partitions_for_topic(topic) or set()
    if not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(partitions)]


async def read_topic(bootstrap: str, topic: str) -> list[Any]:
    """Every record currently in a topic (all partitions, up to the end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        tps = await partitions_of(consumer, topic)
        if not tps:
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        records: list[Any] = []
        remaining = {tp for tp in tps if end[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, messages in batch.items():
                records.extend(messages)
                if messages and messages[-1].offset + 1 >= end[tp]:
                    remaining.discard(tp)
            for tp in list(remaining):
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
        return records
    finally:
        await consumer.stop()


async def topic_partitions(bootstrap: str) -> dict[str, tuple[int, dict[str, str]]]:
    """name -> (partition count, non-default configs) of every topic."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = await admin.list_topics()
        described = await admin.describe_topics(names)
        out: dict[str, tuple[int, dict[str, str]]] = {}
        resources = [ConfigResource(ConfigResourceType.TOPIC, n) for n in names]
        configs = await admin.describe_configs(resources)
        config_by_name: dict[str, dict[str, str]] = {}
        for response in configs:
            for resource in response.resources:
                name = resource[3]
                entries = resource[4]
                config_by_name[name] = {e[0]: e[1] for e in entries}
        for topic in described:
            out[topic["topic"]] = (
                len(topic["partitions"]),
                config_by_name.get(topic["topic"], {}),
            )
        return out
    finally:
        await admin.close()


async def salespulse(env: Mapping[str, str], *argv: str) -> subprocess.CompletedProcess[str]:
    """The `salespulse` console script in a subprocess with `env` (a worker's, to reach its
    broker, topics and API as it does)."""
    return await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "streams.tools.cli", *argv],
        env=dict(env),
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
