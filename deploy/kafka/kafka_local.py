#!/usr/bin/env python3
"""Local single-node Apache Kafka (KRaft, broker + controller) for development and tests.

Standard library only (Python 3.11). Usable as a script and as a module.

    python deploy/kafka/kafka_local.py up [--port 9092] [--data-dir var/kafka]
    python deploy/kafka/kafka_local.py status [--port ...] [--data-dir ...]
    python deploy/kafka/kafka_local.py down [--data-dir var/kafka]
    python deploy/kafka/kafka_local.py jars          # only resolve the jars, print their folder

    from kafka_local import start_broker, ensure_jars
    broker = start_broker(19092, Path("/tmp/k"))   # returns once the broker answers requests
    broker.bootstrap                               # "127.0.0.1:19092"
    broker.stop()

How it works:
- The broker jars (org.apache.kafka:kafka_2.13 plus its runtime dependencies and a Log4j 2
  backend, see pom.xml next to this file) are resolved from Maven Central with
  `mvn dependency:copy-dependencies` into `.cache/kafka/<version>/libs` (git-ignored) once.
- The data dir holds everything of one broker: `server.properties`, `log4j2.properties`,
  `broker.log` (stdout/stderr of the JVM), `broker.pid`, `broker.json` (port, pid, version) and
  `kraft/` (the Kafka log dir, formatted with the storage tool on first use).
- The quorum is static (`controller.quorum.voters`, one voter), so formatting needs no
  `--standalone`; the controller listener gets a free port at every start.
- Readiness: TCP connect plus real ApiVersions and Metadata round-trips that list the broker.

Environment: KAFKA_BOOTSTRAP (default port, 127.0.0.1:9092), KAFKA_LOCAL_DATA_DIR (default data
dir, var/kafka under the repository), KAFKA_LOCAL_CACHE (jar cache root, .cache/kafka),
KAFKA_HEAP_OPTS (-Xms128m -Xmx512m), KAFKA_LOCAL_JAVA_OPTS (extra JVM options),
KAFKA_LOCAL_START_TIMEOUT (seconds, 90), JAVA_HOME, MVN (the maven executable).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KAFKA_VERSION = "4.3.1"
SCALA_BINARY_VERSION = "2.13"
HOST = "127.0.0.1"
NODE_ID = 1

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent.parent
POM = HERE / "pom.xml"
DEFAULT_DATA_DIR = REPO_ROOT / "var" / "kafka"
DEFAULT_CACHE_ROOT = REPO_ROOT / ".cache" / "kafka"
DEFAULT_HEAP_OPTS = "-Xms128m -Xmx512m"
DEFAULT_START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0

_COMPLETE_MARKER = ".complete"


class KafkaLocalError(RuntimeError):
    """Raised with a message meant for a human (what failed, where to look)."""


# --------------------------------------------------------------------------------------- jars


def _cache_root() -> Path:
    return Path(os.environ.get("KAFKA_LOCAL_CACHE") or DEFAULT_CACHE_ROOT)


@contextlib.contextmanager
def _locked(lock_file: Path) -> Iterator[None]:
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_file, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_jars(version: str = KAFKA_VERSION, cache_root: Path | None = None) -> Path:
    """Return the folder holding the broker's jars, resolving them with Maven the first time.

    Idempotent and safe to call from several processes at once (file lock, atomic rename).
    """
    base = (cache_root or _cache_root()) / version
    libs = base / "libs"
    if (libs / _COMPLETE_MARKER).is_file():
        return libs
    with _locked(base / ".lock"):
        if (libs / _COMPLETE_MARKER).is_file():
            return libs
        mvn = os.environ.get("MVN") or shutil.which("mvn")
        if not mvn:
            raise KafkaLocalError(
                "Maven (mvn) is not on PATH; it resolves the Kafka jars. "
                "Install it (apt-get install maven, or run .ci/system-deps.sh)."
            )
        _java()  # fail early with a clear message when java is missing
        tmp = base / f"libs.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        cmd = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(POM),
            "dependency:copy-dependencies",
            f"-Dkafka.version={version}",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        main_jar = tmp / f"kafka_{SCALA_BINARY_VERSION}-{version}.jar"
        if proc.returncode != 0 or not main_jar.is_file():
            shutil.rmtree(tmp, ignore_errors=True)
            output = (proc.stdout + proc.stderr).strip().splitlines()[-30:]
            raise KafkaLocalError(
                f"resolving the Kafka {version} jars failed (exit {proc.returncode}): "
                f"{' '.join(cmd)}\n" + "\n".join(output)
            )
        (tmp / _COMPLETE_MARKER).write_text(f"kafka {version}\n")
        if libs.exists():
            shutil.rmtree(libs)
        tmp.rename(libs)
        return libs


def _java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").is_file():
        return str(Path(java_home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise KafkaLocalError(
            "java is not on PATH (Kafka 4.x needs Java 17+). "
            "Install it (apt-get install default-jre-headless, or run .ci/system-deps.sh)."
        )
    return java


# ------------------------------------------------------------------------------------ config


def _server_properties(port: int, controller_port: int, log_dir: Path) -> str:
    props = {
        "process.roles": "broker,controller",
        "node.id": str(NODE_ID),
        "controller.quorum.voters": f"{NODE_ID}@{HOST}:{controller_port}",
        "listeners": f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(log_dir),
        # One node: every replication factor is 1.
        "num.partitions": "8",
        "default.replication.factor": "1",
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "transaction.state.log.num.partitions": "8",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # faust creates its changelog/repartition topics with the admin API; producers may
        # auto-create plain topics.
        "auto.create.topics.enable": "true",
        "delete.topic.enable": "true",
        "group.initial.rebalance.delay.ms": "0",
        # Small machine (2 cores, small heap).
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "log.cleaner.threads": "1",
        "log.cleaner.dedupe.buffer.size": str(32 * 1024 * 1024),
        "log.retention.hours": "168",
    }
    lines = ["# Written by deploy/kafka/kafka_local.py at every start; edits are lost."]
    lines += [f"{k}={v}" for k, v in props.items()]
    return "\n".join(lines) + "\n"


_LOG4J2 = """\
# Written by deploy/kafka/kafka_local.py. The JVM's stdout goes to broker.log.
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = {root}
rootLogger.appenderRef.out.ref = STDOUT
logger.config.name = org.apache.kafka.common.config
logger.config.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.logloader.name = org.apache.kafka.storage.internals.log
logger.logloader.level = WARN
logger.unifiedlog.name = kafka.log
logger.unifiedlog.level = WARN
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = INFO
"""


def _new_cluster_id() -> str:
    """A random Kafka Uuid in its base64 form (like `kafka-storage.sh random-uuid`)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


# ---------------------------------------------------------------------------- kafka protocol


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by the broker")
        buf += chunk
    return bytes(buf)


def _request(sock: socket.socket, api_key: int, version: int, corr: int, body: bytes) -> bytes:
    client_id = b"kafka_local"
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    (size,) = struct.unpack(">i", _recv_exact(sock, 4))
    data = _recv_exact(sock, size)
    (got_corr,) = struct.unpack(">i", data[:4])
    if got_corr != corr:
        raise ConnectionError(f"unexpected correlation id {got_corr}")
    return data[4:]


def _read_str(data: bytes, pos: int) -> tuple[str | None, int]:
    (n,) = struct.unpack_from(">h", data, pos)
    pos += 2
    if n < 0:
        return None, pos
    return data[pos : pos + n].decode(), pos + n


def probe(port: int, host: str = HOST, timeout: float = 2.0) -> dict[str, Any] | None:
    """Ask host:port for ApiVersions and Metadata; return a summary, or None if it is no
    ready Kafka broker (nothing listening, not Kafka, or not started yet)."""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            # ApiVersions v0 (api key 18): error_code, [api_key, min, max].
            resp = _request(sock, 18, 0, 1, b"")
            (error,) = struct.unpack_from(">h", resp, 0)
            if error != 0:
                return None
            # Metadata v4 (api key 3; v0-v3 are gone in Kafka 4): all topics, no auto-create.
            resp = _request(sock, 3, 4, 2, struct.pack(">ib", -1, 0))
            pos = 4  # throttle_time_ms
            (n_brokers,) = struct.unpack_from(">i", resp, pos)
            pos += 4
            brokers = []
            for _ in range(n_brokers):
                (node_id,) = struct.unpack_from(">i", resp, pos)
                b_host, pos = _read_str(resp, pos + 4)
                (b_port,) = struct.unpack_from(">i", resp, pos)
                _rack, pos = _read_str(resp, pos + 4)
                brokers.append((node_id, b_host, b_port))
            cluster_id, pos = _read_str(resp, pos)
            (controller_id,) = struct.unpack_from(">i", resp, pos)
    except (OSError, ConnectionError, struct.error, UnicodeDecodeError):
        return None
    if not brokers:
        return None
    return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller_id}


def _port_open(port: int, host: str = HOST) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1.0):
        return True
    return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------- process


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"  # a zombie is dead
    except OSError:
        return True


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _is_our_broker(pid: int, data_dir: Path) -> bool:
    args = _cmdline(pid)
    return "kafka.Kafka" in args and str(data_dir / "server.properties") in args


def _broker_pids(data_dir: Path) -> list[int]:
    """Every live broker process started on this data dir (found in /proc, not the pid file)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            if pid != os.getpid() and _is_our_broker(pid, data_dir) and _pid_alive(pid):
                pids.append(pid)
    return pids


def _log_tail(log_file: Path, lines: int = 25) -> str:
    try:
        text = log_file.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


def _set_pdeathsig() -> None:  # runs in the child between fork and exec
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


@dataclass
class Broker:
    """A running local broker. `stop()` ends it and waits until the process is gone."""

    port: int
    data_dir: Path
    pid: int
    controller_port: int = 0
    version: str = KAFKA_VERSION
    _proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def is_running(self) -> bool:
        if self._proc is not None and self._proc.poll() is not None:
            return False
        return _pid_alive(self.pid) and _is_our_broker(self.pid, self.data_dir)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        _terminate(self.pid, self.data_dir, timeout, self._proc)
        for extra in _broker_pids(self.data_dir):  # should be none; never leave one behind
            _terminate(extra, self.data_dir, timeout, None)
        _clear_state(self.data_dir)

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _terminate(
    pid: int, data_dir: Path, timeout: float, proc: subprocess.Popen[bytes] | None
) -> None:
    if not (_pid_alive(pid) and _is_our_broker(pid, data_dir)):
        if proc is not None:
            proc.poll()
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return
        if not _pid_alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(10)
    else:
        deadline = time.monotonic() + 10
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)


def _state_file(data_dir: Path) -> Path:
    return data_dir / "broker.json"


def _clear_state(data_dir: Path) -> None:
    for name in ("broker.json", "broker.pid"):
        with contextlib.suppress(FileNotFoundError):
            (data_dir / name).unlink()


def running_broker(data_dir: Path) -> Broker | None:
    """The live broker started on this data dir, if any (pid file checked against /proc)."""
    data_dir = Path(data_dir).resolve()
    try:
        state = json.loads(_state_file(data_dir).read_text())
        pid = int(state["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        state, pid = {}, 0
    if pid and _pid_alive(pid) and _is_our_broker(pid, data_dir):
        return Broker(
            port=int(state["port"]),
            data_dir=data_dir,
            pid=pid,
            controller_port=int(state.get("controller_port", 0)),
            version=str(state.get("version", KAFKA_VERSION)),
        )
    pids = _broker_pids(data_dir)  # pid file lost or stale, but the process is there
    if pids:
        port = _port_from_properties(data_dir / "server.properties")
        return Broker(port=port, data_dir=data_dir, pid=pids[0])
    return None


def _port_from_properties(path: Path) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith("advertised.listeners="):
                return int(line.rsplit(":", 1)[1])
    return 0


def _format_storage(java: str, libs: Path, data_dir: Path, log_dir: Path) -> None:
    if (log_dir / "meta.properties").is_file():
        return
    log4j_tool = data_dir / "log4j2-tools.properties"
    log4j_tool.write_text(_LOG4J2.format(root="WARN"))
    cmd = [
        java,
        "-Xmx256m",
        f"-Dlog4j2.configurationFile={log4j_tool}",
        "-cp",
        f"{libs}/*",
        "kafka.tools.StorageTool",
        "format",
        "--cluster-id",
        _new_cluster_id(),
        "--config",
        str(data_dir / "server.properties"),
        "--ignore-formatted",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise KafkaLocalError(
            f"formatting the Kafka storage in {log_dir} failed (exit {proc.returncode}):\n"
            + (proc.stdout + proc.stderr).strip()[-3000:]
        )


def start_broker(
    port: int,
    data_dir: Path,
    *,
    version: str = KAFKA_VERSION,
    timeout: float | None = None,
    die_with_parent: bool = False,
) -> Broker:
    """Start a single-node KRaft broker on 127.0.0.1:port and return once it serves requests.

    If a broker from this data dir already runs on that port, it is returned as is.
    `die_with_parent=True` makes the JVM get SIGTERM when the calling thread exits (tests).
    """
    data_dir = Path(data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    if timeout is None:
        timeout = float(os.environ.get("KAFKA_LOCAL_START_TIMEOUT", DEFAULT_START_TIMEOUT))
    with _locked(data_dir / ".lock"):
        existing = running_broker(data_dir)
        if existing is not None:
            if existing.port != port:
                raise KafkaLocalError(
                    f"a broker from {data_dir} already runs on port {existing.port} "
                    f"(pid {existing.pid}); stop it first or use another data dir"
                )
            _wait_ready(existing, time.monotonic() + timeout)
            return existing
        if _port_open(port):
            what = "a Kafka broker" if probe(port) else "another process"
            raise KafkaLocalError(f"{HOST}:{port} is already in use by {what}")

        libs = ensure_jars(version)
        java = _java()
        log_dir = data_dir / "kraft"
        controller_port = free_port()
        while controller_port == port:
            controller_port = free_port()
        props = data_dir / "server.properties"
        props.write_text(_server_properties(port, controller_port, log_dir))
        log4j = data_dir / "log4j2.properties"
        log4j.write_text(_LOG4J2.format(root="INFO"))
        _format_storage(java, libs, data_dir, log_dir)

        heap = os.environ.get("KAFKA_HEAP_OPTS", DEFAULT_HEAP_OPTS).split()
        extra = os.environ.get("KAFKA_LOCAL_JAVA_OPTS", "").split()
        cmd = [
            java,
            *heap,
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={log4j}",
            f"-Dkafka.logs.dir={data_dir}",
            *extra,
            "-cp",
            f"{libs}/*",
            "kafka.Kafka",
            str(props),
        ]
        log_file = data_dir / "broker.log"
        with open(log_file, "ab") as log:
            log.write(f"\n==== kafka_local: starting Kafka {version} on {HOST}:{port}\n".encode())
            log.flush()
            proc = subprocess.Popen(
                cmd,
                cwd=data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_set_pdeathsig if die_with_parent else None,
            )
        (data_dir / "broker.pid").write_text(f"{proc.pid}\n")
        _state_file(data_dir).write_text(
            json.dumps(
                {
                    "pid": proc.pid,
                    "port": port,
                    "controller_port": controller_port,
                    "version": version,
                    "bootstrap": f"{HOST}:{port}",
                    "log_file": str(log_file),
                }
            )
            + "\n"
        )
        broker = Broker(
            port=port,
            data_dir=data_dir,
            pid=proc.pid,
            controller_port=controller_port,
            version=version,
            _proc=proc,
        )
        try:
            _wait_ready(broker, time.monotonic() + timeout)
        except BaseException:
            broker.stop(timeout=10)
            raise
        return broker


def _wait_ready(broker: Broker, deadline: float) -> None:
    while True:
        if not broker.is_running():
            raise KafkaLocalError(
                f"the Kafka broker (pid {broker.pid}) exited during startup; "
                f"see {broker.log_file}. Last lines:\n{_log_tail(broker.log_file)}"
            )
        info = probe(broker.port)
        if info and any(b[0] == NODE_ID for b in info["brokers"]):
            return
        if time.monotonic() > deadline:
            raise KafkaLocalError(
                f"the Kafka broker on {broker.bootstrap} (pid {broker.pid}) did not answer "
                f"in time; see {broker.log_file}. Last lines:\n{_log_tail(broker.log_file)}"
            )
        time.sleep(0.2)


def stop_broker(data_dir: Path, timeout: float = STOP_TIMEOUT) -> Broker | None:
    """Stop the broker of this data dir, if one runs; return what was stopped."""
    data_dir = Path(data_dir).resolve()
    with _locked(data_dir / ".lock"):
        broker = running_broker(data_dir)
        if broker is None:
            _clear_state(data_dir)
            return None
        broker.stop(timeout)
        return broker


# -------------------------------------------------------------------------------------- CLI


def default_port() -> int:
    """The port of KAFKA_BOOTSTRAP (first entry), 9092 when unset."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", f"{HOST}:9092").split(",")[0].strip()
    bootstrap = bootstrap.split("://", 1)[-1]
    try:
        return int(bootstrap.rsplit(":", 1)[1])
    except (IndexError, ValueError):
        raise KafkaLocalError(f"cannot read a port from KAFKA_BOOTSTRAP={bootstrap!r}") from None


def _default_data_dir() -> Path:
    return Path(os.environ.get("KAFKA_LOCAL_DATA_DIR") or DEFAULT_DATA_DIR)


def _cmd_up(args: argparse.Namespace) -> int:
    port = args.port or default_port()
    data_dir = args.data_dir.resolve()
    existing = running_broker(data_dir) if data_dir.exists() else None
    if existing is not None and existing.port == port:
        print(f"Kafka already running on {existing.bootstrap} (pid {existing.pid}); nothing to do")
        return 0
    if existing is None and probe(port):
        print(f"a Kafka broker already answers on {HOST}:{port}; nothing to do")
        return 0
    started = time.monotonic()
    broker = start_broker(port, data_dir)
    print(
        f"Kafka {broker.version} up on {broker.bootstrap} (pid {broker.pid}, "
        f"{time.monotonic() - started:.1f}s); data {data_dir}, log {broker.log_file}"
    )
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    broker = stop_broker(data_dir) if data_dir.exists() else None
    if broker is None:
        print(f"no Kafka broker running from {data_dir}; nothing to stop")
    else:
        print(f"Kafka on {broker.bootstrap} (pid {broker.pid}) stopped")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    broker = running_broker(data_dir) if data_dir.exists() else None
    if broker is not None:
        ready = "ready" if probe(broker.port) else "not answering yet"
        print(
            f"running: {broker.bootstrap} pid {broker.pid} ({ready}); "
            f"data {data_dir}, log {broker.log_file}"
        )
        return 0
    port = args.port or default_port()
    if probe(port):
        print(f"not started from {data_dir}, but a Kafka broker answers on {HOST}:{port}")
        return 0
    print(f"stopped: no Kafka broker from {data_dir} and none on {HOST}:{port}")
    return 3


def _cmd_jars(args: argparse.Namespace) -> int:
    print(ensure_jars())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="kafka_local.py", description="Local single-node Apache Kafka (KRaft)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("up", _cmd_up, "start the broker unless it runs already"),
        ("down", _cmd_down, "stop the broker (SIGTERM, then SIGKILL after a timeout)"),
        ("status", _cmd_status, "is it running? (exit 3 when not)"),
        ("jars", _cmd_jars, "only resolve the jars and print their folder"),
    ):
        p = sub.add_parser(name, help=text)
        p.set_defaults(func=func)
        p.add_argument(
            "--port", type=int, default=None, help="broker port (default: KAFKA_BOOTSTRAP or 9092)"
        )
        p.add_argument(
            "--data-dir",
            type=Path,
            default=_default_data_dir(),
            help="broker data folder (default: var/kafka in the repository)",
        )
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KafkaLocalError as exc:
        print(f"kafka_local: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
