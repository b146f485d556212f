"""salespulse against a real SASL_SSL (SCRAM-SHA-512) broker with a throwaway CA.

The `secured_kafka` fixture (tests/conftest.py) starts deploy/kafka/kafka_local.py in secured
mode: its only client listener is SASL_SSL. What a user of a secured cluster relies on:
- any aiokafka client with the CA and the SCRAM user round-trips records; a plaintext client
  (or TLS without SASL) gets nothing;
- the `salespulse` console script and `salespulse worker`, configured with KAFKA_* variables
  only, create their topics, produce and consume through that listener;
- a wrong password, a missing CA file or an incomplete setting stops the CLI and the worker at
  start, non-zero, with a message naming the problem; SASL_SSL never falls back to plaintext.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from tests.support.topics import create_topic
from tests.support.workers import TOPIC_NAMES, free_port

pytestmark = pytest.mark.integration

SALESPULSE = Path(sys.executable).parent / "salespulse"  # the console script of the venv
REPO_ROOT = Path(__file__).resolve().parents[2]
FAIL_WITHIN = 75.0  # a misconfigured CLI or worker gives up in ~60 s (+ start-up on 2 cores)
RUN_TIMEOUT = 150.0  # seconds a CLI command that should work may take on a busy machine


# ------------------------------------------------------------------------------- helpers


def load_kafka_local() -> ModuleType:
    """deploy/kafka/kafka_local.py as a module (the conftest loads it under the same name)."""
    if "kafka_local" not in sys.modules:
        path = REPO_ROOT / "deploy" / "kafka" / "kafka_local.py"
        spec = importlib.util.spec_from_file_location("kafka_local", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["kafka_local"] = module
        spec.loader.exec_module(module)
    return sys.modules["kafka_local"]


def salespulse_env(conn: Any, name: str, tmp_path: Path, **changes: str | None) -> dict[str, str]:
    """The environment of a salespulse process on the secured broker, with topics and app id
    of this test only. `changes` overrides variables (None removes one)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SALES_", "KAFKA_"))}
    env.update(conn.env())  # KAFKA_BOOTSTRAP, KAFKA_SECURITY_PROTOCOL=SASL_SSL, KAFKA_SASL_*, ...
    env.update(
        {
            "SALES_APP_ID": name,
            "SALES_DATA_DIR": str(tmp_path / f"{name}-data"),
            "SALES_TIMEZONE": "UTC",
            "SALES_PERFORMANCE_MIN_INTERVAL": "0.5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    for kind in TOPIC_NAMES:
        env[f"SALES_TOPIC_{kind.upper()}"] = f"{name}.{kind}"
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_salespulse(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str, float]:
    """Run the console script; return (exit code, stdout+stderr, seconds it took)."""
    assert SALESPULSE.is_file(), f"{SALESPULSE} is missing: pip install -e . in this venv"
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [str(SALESPULSE), *args],
            env=env,
            cwd=REPO_ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode() if isinstance(exc.stdout, bytes) else exc.stdout
        err = (exc.stderr or b"").decode() if isinstance(exc.stderr, bytes) else exc.stderr
        raise AssertionError(
            f"`salespulse {' '.join(args)}` still running after {timeout:.0f}s:\n"
            f"{(out or '')[-3000:]}{(err or '')[-3000:]}"
        ) from None
    return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started


class WorkerProcess:
    """`salespulse worker` as a subprocess with its output in a file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = int(env["SALES_API_PORT"])
        self.started = time.monotonic()
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [str(SALESPULSE), "worker"],
                env=env,
                cwd=REPO_ROOT,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def output(self, lines: int = 80) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int | None:
        """SIGTERM to its process group, SIGKILL after 30 s; returns the exit code."""
        if self.alive():
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=30)
        return self.process.returncode

    def get(self, path: str) -> tuple[int, Any]:
        url = f"http://127.0.0.1:{self.port}{path}"
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                return response.status, orjson.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            body = exc.read()
            try:
                return exc.code, orjson.loads(body)
            except orjson.JSONDecodeError:
                return exc.code, body.decode(errors="replace")


async def read_records(
    conn: Any, topic: str, expected: int, timeout: float = 60.0
) -> list[tuple[bytes | None, bytes | None]]:
    """Read `topic` from the beginning over SASL_SSL until `expected` records came."""
    consumer = AIOKafkaConsumer(
        topic,
        **conn.aiokafka_options(),
        group_id=f"reader-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[tuple[bytes | None, bytes | None]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(received) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=1000)).values():
                received += [(r.key, r.value) for r in records]
    finally:
        await consumer.stop()
    return received


def activity_event(rep: str, team: str, when: datetime) -> dict[str, Any]:
    """One valid activity (CONTRACT section 2)."""
    return {
        "event_id": f"sec-{uuid.uuid4().hex}",
        "occurred_at": when.isoformat(timespec="seconds"),
        "rep_id": rep,
        "team_id": team,
        "schema_version": 1,
        "activity": "call",
        "duration_s": 120,
        "source": "test_secured_kafka",
    }


# --------------------------------------------------------------------------- the broker


async def test_aiokafka_round_trip_over_sasl_ssl(secured_kafka: Any, unique_name: str) -> None:
    conn = secured_kafka
    assert conn.bootstrap.startswith("127.0.0.1:")
    assert conn.mechanism == "SCRAM-SHA-512" and Path(conn.ca_file).is_file()
    topic = f"{unique_name}.secured"
    await create_topic(topic, 2, **conn.aiokafka_options())

    sent = [(f"rep-{i % 3}".encode(), orjson.dumps({"n": i})) for i in range(10)]
    producer = AIOKafkaProducer(**conn.aiokafka_options(), acks="all")
    await producer.start()
    try:
        for key, value in sent:
            await producer.send_and_wait(topic, value, key=key)
    finally:
        await producer.stop()

    assert sorted(await read_records(conn, topic, len(sent))) == sorted(sent)


async def test_clients_without_sasl_ssl_are_refused(secured_kafka: Any, unique_name: str) -> None:
    conn = secured_kafka
    kafka_local = load_kafka_local()
    port = int(conn.bootstrap.rsplit(":", 1)[1])
    assert kafka_local.probe(port) is None  # plain Kafka protocol: no answer

    attempts: dict[str, dict[str, Any]] = {
        "PLAINTEXT": {"bootstrap_servers": conn.bootstrap},
        "SSL without SASL": {
            "bootstrap_servers": conn.bootstrap,
            "security_protocol": "SSL",
            "ssl_context": conn.ssl_context(),
        },
    }
    for label, options in attempts.items():
        producer = AIOKafkaProducer(**options, request_timeout_ms=5000)
        try:
            with pytest.raises(KafkaError):
                await asyncio.wait_for(producer.start(), timeout=30)
                await asyncio.wait_for(
                    producer.send_and_wait(f"{unique_name}.leak", b"x"), timeout=15
                )
        except BaseException as exc:
            raise AssertionError(f"a {label} client was not refused") from exc
        finally:
            await producer.stop()


def test_launcher_cli_sasl_ssl_up_env_users_down(tmp_path: Path) -> None:
    """`kafka_local.py up --sasl-ssl` prints the client variables; `env` repeats them; a new
    user on the running broker can log in at once; `down` stops it."""
    kafka_local = load_kafka_local()
    script = REPO_ROOT / "deploy" / "kafka" / "kafka_local.py"
    port = str(kafka_local.free_port())
    data_dir = tmp_path / "kafka-sasl-cli"
    base = ["--port", port, "--data-dir", str(data_dir)]

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), *args],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    def exports(text: str) -> dict[str, str]:
        pairs = [line.removeprefix("export ").split("=", 1) for line in text.splitlines()]
        return {k: v.strip("'") for k, v in (p for p in pairs if len(p) == 2) if k.isupper()}

    try:
        up = cli("up", "--sasl-ssl", "--sasl-user", "alice", "--sasl-password", "alice-pw1", *base)
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"up on 127.0.0.1:{port} with SASL_SSL/SCRAM-SHA-512" in up.stdout
        env = exports(up.stdout)
        assert env["KAFKA_BOOTSTRAP"] == f"127.0.0.1:{port}"
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert (env["KAFKA_SASL_USERNAME"], env["KAFKA_SASL_PASSWORD"]) == ("alice", "alice-pw1")
        assert Path(env["KAFKA_SSL_CAFILE"]).is_file()
        assert exports(cli("env", "--data-dir", str(data_dir)).stdout) == env
        assert kafka_local.probe(int(port)) is None  # no plaintext listener

        broker = kafka_local.running_broker(data_dir)
        assert broker is not None and broker.security is not None
        assert kafka_local.probe(int(port), security=broker.security, user="alice") is not None

        plain = cli("up", *base)
        assert plain.returncode == 1 and "SASL_SSL mode" in plain.stderr, plain.stderr

        again = cli("up", "--sasl-ssl", "--sasl-user", "bob", *base)  # a new user, random pw
        assert again.returncode == 0, again.stdout + again.stderr
        assert "already running" in again.stdout
        bob = exports(again.stdout)
        assert bob["KAFKA_SASL_USERNAME"] == "bob" and bob["KAFKA_SASL_PASSWORD"]
        broker = kafka_local.running_broker(data_dir)
        assert broker is not None and broker.security is not None
        assert broker.security.users == {"alice": "alice-pw1", "bob": bob["KAFKA_SASL_PASSWORD"]}
        assert kafka_local.probe(int(port), security=broker.security, user="bob") is not None
        status = cli("status", *base)
        assert status.returncode == 0 and "SASL_SSL/SCRAM-SHA-512" in status.stdout
        assert "(ready)" in status.stdout, status.stdout
    finally:
        down = cli("down", "--data-dir", str(data_dir))
    assert down.returncode == 0 and "stopped" in down.stdout, down.stdout + down.stderr
    assert kafka_local.running_broker(data_dir) is None


# ------------------------------------------------------------------------------ the CLI


async def test_cli_sends_targets_over_sasl_ssl(
    secured_kafka: Any, unique_name: str, tmp_path: Path
) -> None:
    env = salespulse_env(secured_kafka, unique_name, tmp_path)
    args = ["targets", "set", "--scope", "rep", "--id", "r-sec", "--metric", "activities_total"]
    args += ["--period", "2026-11", "--value", "40"]
    code, output, _ = await asyncio.to_thread(run_salespulse, args, env, RUN_TIMEOUT)
    assert code == 0, output

    records = await read_records(secured_kafka, f"{unique_name}.targets", 1)
    assert len(records) == 1, records
    key, value = records[0]
    assert key == b"rep:r-sec:activities_total:2026-11"
    assert value is not None
    target = orjson.loads(value)
    assert (target["scope"], target["scope_id"], target["metric"], target["period"]) == (
        "rep",
        "r-sec",
        "activities_total",
        "2026-11",
    )
    assert target["value"] == 40


async def test_cli_mechanism_name_is_case_insensitive(
    secured_kafka: Any, unique_name: str, tmp_path: Path
) -> None:
    env = salespulse_env(secured_kafka, unique_name, tmp_path, KAFKA_SASL_MECHANISM="scram-sha-512")
    args = ["targets", "set", "--scope", "team", "--id", "t-sec", "--metric", "deals_won"]
    args += ["--period", "2026-Q4", "--value", "3"]
    code, output, _ = await asyncio.to_thread(run_salespulse, args, env, RUN_TIMEOUT)
    assert code == 0, output
    records = await read_records(secured_kafka, f"{unique_name}.targets", 1)
    assert [key for key, _ in records] == [b"team:t-sec:deals_won:2026-Q4"]


# --------------------------------------------------------------------------- the worker


async def test_worker_processes_an_event_over_sasl_ssl(
    secured_kafka: Any, unique_name: str, tmp_path: Path
) -> None:
    env = salespulse_env(secured_kafka, unique_name, tmp_path, SALES_API_PORT=str(free_port()))
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 120
        while True:  # ready = connected, topics created, partitions assigned
            assert worker.alive(), f"the worker exited:\n{worker.output()}"
            with_status = await asyncio.to_thread(_status, worker, "/readyz")
            if with_status == 200:
                break
            assert time.monotonic() < deadline, f"never ready:\n{worker.output()}"
            await asyncio.sleep(0.5)

        when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
        event = activity_event("r-sec", "t-sec", when)
        producer = AIOKafkaProducer(**secured_kafka.aiokafka_options(), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                f"{unique_name}.activities", orjson.dumps(event), key=b"r-sec"
            )
        finally:
            await producer.stop()

        period = when.strftime("%Y-%m")
        deadline = time.monotonic() + 90
        last: tuple[int, Any] = (0, None)
        while True:
            assert worker.alive(), f"the worker exited:\n{worker.output()}"
            last = await asyncio.to_thread(
                worker.get, f"/v1/reps/r-sec/performance?period={period}"
            )
            status, body = last
            if status == 200 and body["activities"]["total"] == 1:
                break
            assert time.monotonic() < deadline, f"last answer {last}:\n{worker.output()}"
            await asyncio.sleep(0.5)
        assert body["team_id"] == "t-sec"
        assert body["activities"]["by_type"] == {"call": 1}
    finally:
        code = worker.stop()
    assert code is not None


def _status(worker: WorkerProcess, path: str) -> int:
    try:
        return worker.get(path)[0]
    except OSError:
        return 0


# ------------------------------------------------------------------ misconfiguration


LOG_RECORD = re.compile(r"^\[?\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")


def final_message(output: str, lines: int = 5) -> str:
    """The closing message of a process: its last lines that are not time-stamped log records
    (the Kafka client may log the cause while the message a user reads blames something
    else, e.g. an unreachable broker for a refused password)."""
    kept = [line for line in output.splitlines() if line.strip() and not LOG_RECORD.match(line)]
    return "\n".join(kept[-lines:])


def _misconfigured(name: str, conn: Any, tmp_path: Path) -> dict[str, tuple[dict[str, str], Any]]:
    """case -> (environment, what the closing message must name, case-insensitive)."""
    missing_ca = tmp_path / "no-such-dir" / "ca.pem"
    return {
        "wrong password": (
            salespulse_env(conn, name, tmp_path, KAFKA_SASL_PASSWORD=conn.password + "-wrong"),
            ["authentication"],
        ),
        "missing CA file": (
            salespulse_env(conn, name, tmp_path, KAFKA_SSL_CAFILE=str(missing_ca)),
            ["KAFKA_SSL_CAFILE", str(missing_ca)],
        ),
        "no password": (
            salespulse_env(conn, name, tmp_path, KAFKA_SASL_PASSWORD=None),
            ["KAFKA_SASL_PASSWORD"],
        ),
    }


def assert_names(case: str, output: str, needles: list[str]) -> None:
    closing = final_message(output)
    missing = [n for n in needles if n.lower() not in closing.lower()]
    assert not missing, (
        f"{case}: the closing message does not name {missing}:\n{closing}\n"
        f"---- whole output (tail) ----\n{output[-4000:]}"
    )


@pytest.mark.parametrize("case", ["wrong password", "missing CA file", "no password"])
async def test_cli_fails_fast_when_misconfigured(
    secured_kafka: Any, unique_name: str, tmp_path: Path, case: str
) -> None:
    env, needles = _misconfigured(unique_name, secured_kafka, tmp_path)[case]
    args = ["targets", "set", "--scope", "rep", "--id", "r-bad", "--metric", "deals_won"]
    args += ["--period", "2026-11", "--value", "1"]
    code, output, took = await asyncio.to_thread(run_salespulse, args, env, FAIL_WITHIN + 15)
    assert code != 0, f"{case}: exit 0 after {took:.0f}s\n{output}"
    assert took <= FAIL_WITHIN, f"{case}: took {took:.0f}s\n{output}"
    assert_names(case, output, needles)


@pytest.mark.parametrize("case", ["wrong password", "missing CA file"])
async def test_worker_fails_fast_when_misconfigured(
    secured_kafka: Any, unique_name: str, tmp_path: Path, case: str
) -> None:
    env, needles = _misconfigured(unique_name, secured_kafka, tmp_path)[case]
    env["SALES_API_PORT"] = str(free_port())
    worker = WorkerProcess(env, tmp_path / "worker.log")
    try:
        code = await asyncio.to_thread(_wait_exit, worker, FAIL_WITHIN + 15)
        took = time.monotonic() - worker.started
        assert code is not None, f"{case}: still running after {took:.0f}s\n{worker.output()}"
        assert code != 0, f"{case}: exit 0\n{worker.output()}"
        assert took <= FAIL_WITHIN, f"{case}: took {took:.0f}s\n{worker.output()}"
        assert_names(case, worker.output(), needles)
    finally:
        worker.stop()


def _wait_exit(worker: WorkerProcess, timeout: float) -> int | None:
    try:
        return worker.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        return None


async def test_sasl_ssl_settings_never_fall_back_to_plaintext(
    kafka_bootstrap: str, secured_kafka: Any, unique_name: str, tmp_path: Path
) -> None:
    """SASL_SSL settings pointed at a plaintext broker: refused, nothing written there."""
    env = salespulse_env(secured_kafka, unique_name, tmp_path, KAFKA_BOOTSTRAP=kafka_bootstrap)
    args = ["targets", "set", "--scope", "rep", "--id", "r-plain", "--metric", "deals_won"]
    args += ["--period", "2026-11", "--value", "1"]
    code, output, took = await asyncio.to_thread(run_salespulse, args, env, FAIL_WITHIN + 15)
    assert code != 0, f"exit 0: the CLI reached a plaintext broker with SASL_SSL settings\n{output}"
    assert took <= FAIL_WITHIN, f"took {took:.0f}s\n{output}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        assert f"{unique_name}.targets" not in await admin.list_topics()
    finally:
        await admin.close()
