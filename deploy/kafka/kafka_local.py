#!/usr/bin/env python3
"""Local single-node Apache Kafka (KRaft, broker + controller) for development and tests.

Standard library only (Python 3.11). Usable as a script and as a module.

    python deploy/kafka/kafka_local.py up [--port 9092] [--data-dir var/kafka]
    python deploy/kafka/kafka_local.py status [--port ...] [--data-dir ...]
    python deploy/kafka/kafka_local.py down [--data-dir var/kafka]
    python deploy/kafka/kafka_local.py jars          # only resolve the jars, print their folder
    python deploy/kafka/kafka_local.py up --nodes 3 --data-dir var/kafka-cluster   # a cluster

    from kafka_local import start_broker, ensure_jars
    broker = start_broker(19092, Path("/tmp/k"))   # returns once the broker answers requests
    broker.bootstrap                               # "127.0.0.1:19092"
    broker.stop()

A local cluster of several nodes (each broker and controller, one static quorum; topics with
up to three replicas), for what one broker cannot show:

    cluster = start_cluster(Path("/tmp/kc"), 3)    # returns once every node answers
    cluster.bootstrap                              # "127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3"
    cluster.stop_node(2); cluster.start_node(2)    # a rolling restart, one node at a time
    cluster.kill_node(3); cluster.start_node(3)    # a crash (SIGKILL) and a restart
    cluster.stop()

Secured mode (SASL_SSL with SCRAM users and a throwaway CA):

    python deploy/kafka/kafka_local.py up --sasl-ssl [--port 19093] [--data-dir var/kafka-sasl]
        [--sasl-user salespulse] [--sasl-password SECRET]   # password: random unless given
    eval "$(python deploy/kafka/kafka_local.py env --data-dir var/kafka-sasl)"   # KAFKA_* vars

    broker = start_broker(19093, Path("/tmp/ks"), security=SecuredListener())
    conn = broker.connection()       # bootstrap, ca_file, username, password, mechanism
    conn.env()                       # KAFKA_BOOTSTRAP, KAFKA_SECURITY_PROTOCOL=SASL_SSL, ...
    conn.aiokafka_options()          # keyword arguments for any aiokafka client

- The only client listener is SASL_SSL on 127.0.0.1:port (SCRAM-SHA-512 by default, or
  SCRAM-SHA-256); brokers talk to themselves through it too (inter-broker user
  `kafka-local-admin`). The controller listener stays PLAINTEXT on a random loopback port:
  it is internal to the one process and no client is told about it.
- SCRAM users are written into the storage at format time (`StorageTool format --add-scram`);
  users or passwords asked for later on an already formatted data dir are set with
  `kafka.admin.ConfigCommand` as the inter-broker user once the broker is up. Their passwords
  (random unless given) are kept in `security/users.json` (mode 0600) of the data dir. A data
  dir formatted in plain mode cannot be switched to secured mode (its storage has no SCRAM
  user): use a fresh data dir.
- `--acls` (`SecuredListener(acls=True)`): the broker authorizes every request
  (StandardAuthorizer, `allow.everyone.if.no.acl.found=false`); the inter-broker user, and the
  PLAINTEXT controller listener's ANONYMOUS inside the one process, are super users. Client
  users may do what ACLs grant them (`salespulse acls --apply` as `kafka-local-admin`).
- A new throwaway CA and a broker certificate (SAN IP:127.0.0.1, DNS:localhost, RSA 2048,
  made with the `openssl` command) are generated at every start into `security/`: `ca.pem`
  (give it to clients) and `broker-keystore.pem` (key and chain, `ssl.keystore.type=PEM`;
  the CA key is deleted once the certificate is signed). No JKS anywhere.
- Readiness in secured mode: TLS handshake checked against the CA, a SCRAM authentication,
  then the same Metadata round-trip as in plain mode.

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
KAFKA_LOCAL_START_TIMEOUT (seconds, 90), JAVA_HOME, MVN (the maven executable),
OPENSSL (the openssl executable, secured mode only).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
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


def _server_properties(
    port: int,
    controller_port: int,
    log_dir: Path,
    security: _SecuredFiles | None = None,
    quorum: Quorum | None = None,
    node_id: int = NODE_ID,
) -> str:
    voters = quorum.voters if quorum is not None else f"{NODE_ID}@{HOST}:{controller_port}"
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.voters": voters,
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
    if quorum is not None:
        props.update(quorum.replication())
    if security is not None:
        props.update(_secured_properties(port, controller_port, security))
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


# ---------------------------------------------------------------------------- secured mode

SCRAM_MECHANISMS = {"SCRAM-SHA-256": "sha256", "SCRAM-SHA-512": "sha512"}
DEFAULT_MECHANISM = "SCRAM-SHA-512"
DEFAULT_SASL_USER = "salespulse"
ADMIN_USER = "kafka-local-admin"  # the broker's own (inter-broker) SCRAM user
SECURITY_DIR = "security"
_USERS_FILE = "users.json"
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
# Passwords go into server.properties (JAAS), `--add-scram` and the kafka-configs syntax:
# no quotes, backslashes, brackets, commas, equals signs or spaces.
_PASSWORD_CHARS = _NAME_CHARS | frozenset("~!@#$%^&*()+:;?/<>{}|")


@dataclass(frozen=True)
class SecuredListener:
    """Asks `start_broker(..., security=SecuredListener())` for a SASL_SSL client listener.

    users: user name -> password; None picks a random password, kept in the data dir so that
    the same data dir keeps it across restarts. The first user is the default one of
    `Broker.connection()`. mechanism: SCRAM-SHA-512 (default) or SCRAM-SHA-256.
    cert_days: validity of the throwaway CA and broker certificate made at every start.
    acls: the broker authorizes every request (StandardAuthorizer, nothing allowed without an
    ACL, the inter-broker user a super user): the client users may do what ACLs grant
    them (`salespulse acls --apply`, run as the inter-broker user), and nothing else.
    """

    users: Mapping[str, str | None] = field(default_factory=lambda: {DEFAULT_SASL_USER: None})
    mechanism: str = DEFAULT_MECHANISM
    cert_days: int = 30
    acls: bool = False


@dataclass(frozen=True)
class Security:
    """The secured listener of a running broker (`Broker.security`)."""

    mechanism: str
    ca_file: Path
    users: dict[str, str]  # client users and their passwords; the first is the default
    admin_user: str
    admin_password: str
    protocol: str = "SASL_SSL"


@dataclass(frozen=True)
class SecuredConnection:
    """Everything a client needs to reach the SASL_SSL listener as one user."""

    bootstrap: str
    ca_file: Path
    username: str
    password: str
    mechanism: str = DEFAULT_MECHANISM
    protocol: str = "SASL_SSL"

    def env(self) -> dict[str, str]:
        """The salespulse environment variables (KAFKA_*) for this connection."""
        return {
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "KAFKA_SECURITY_PROTOCOL": self.protocol,
            "KAFKA_SASL_MECHANISM": self.mechanism,
            "KAFKA_SASL_USERNAME": self.username,
            "KAFKA_SASL_PASSWORD": self.password,
            "KAFKA_SSL_CAFILE": str(self.ca_file),
        }

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting only the throwaway CA (host name checked)."""
        return ssl.create_default_context(cafile=str(self.ca_file))

    def aiokafka_options(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer / AIOKafkaConsumer / AIOKafkaAdminClient."""
        return {
            "bootstrap_servers": self.bootstrap,
            "security_protocol": self.protocol,
            "sasl_mechanism": self.mechanism,
            "sasl_plain_username": self.username,
            "sasl_plain_password": self.password,
            "ssl_context": self.ssl_context(),
        }


@dataclass(frozen=True)
class _SecuredFiles:
    """What server.properties needs for the SASL_SSL listener."""

    mechanism: str
    keystore: Path
    ca_file: Path
    admin_user: str
    admin_password: str
    acls: bool = False


def _secured_properties(port: int, controller_port: int, sec: _SecuredFiles) -> dict[str, str]:
    mech = sec.mechanism
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{sec.admin_user}" password="{sec.admin_password}";'
    )
    authorizer = {
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # the controller listener is PLAINTEXT on loopback, inside the one process: its
        # principal is ANONYMOUS
        "super.users": f"User:{sec.admin_user};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }
    return {
        **(authorizer if sec.acls else {}),
        "listeners": f"SASL_SSL://{HOST}:{port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"SASL_SSL://{HOST}:{port}",
        "inter.broker.listener.name": "SASL_SSL",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL",
        "sasl.enabled.mechanisms": mech,
        "sasl.mechanism.inter.broker.protocol": mech,
        f"listener.name.sasl_ssl.{mech.lower()}.sasl.jaas.config": jaas,
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(sec.keystore),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(sec.ca_file),
        "ssl.client.auth": "none",
        "ssl.endpoint.identification.algorithm": "https",
    }


def _check_mechanism(mechanism: str) -> str:
    mech = mechanism.strip().upper()
    if mech not in SCRAM_MECHANISMS:
        raise KafkaLocalError(
            f"SASL mechanism {mechanism!r} is not supported here; "
            f"use one of {', '.join(SCRAM_MECHANISMS)}"
        )
    return mech


def _check_user(name: str, password: str | None) -> None:
    if not name or not set(name) <= _NAME_CHARS:
        raise KafkaLocalError(
            f"SASL user name {name!r} must be letters, digits, '.', '_' or '-' only"
        )
    if name == ADMIN_USER:
        raise KafkaLocalError(f"SASL user name {ADMIN_USER!r} is reserved for the broker")
    if password is not None and (not password or not set(password) <= _PASSWORD_CHARS):
        raise KafkaLocalError(
            f"the password of SASL user {name!r} must be non-empty and use only letters, "
            f"digits and {''.join(sorted(_PASSWORD_CHARS - _NAME_CHARS))}._-"
        )


def _security_dir(data_dir: Path) -> Path:
    return data_dir / SECURITY_DIR


def _load_users(data_dir: Path) -> dict[str, Any] | None:
    """The SCRAM users the storage of this data dir knows (None: formatted without any)."""
    try:
        record = json.loads((_security_dir(data_dir) / _USERS_FILE).read_text())
        return {
            "mechanism": str(record["mechanism"]),
            "admin": {
                "name": str(record["admin"]["name"]),
                "password": str(record["admin"]["password"]),
            },
            "users": {str(k): str(v) for k, v in dict(record["users"]).items()},
        }
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_private(path: Path, text: str) -> None:
    """Write a file readable by its owner only (atomically)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _save_users(data_dir: Path, record: dict[str, Any]) -> None:
    _write_private(_security_dir(data_dir) / _USERS_FILE, json.dumps(record, indent=2) + "\n")


def _openssl() -> str:
    exe = os.environ.get("OPENSSL") or shutil.which("openssl")
    if not exe:
        raise KafkaLocalError(
            "openssl is not on PATH; secured mode makes its throwaway CA with it. "
            "Install it (apt-get install openssl)."
        )
    return exe


def _run_openssl(args: list[str], what: str) -> None:
    proc = subprocess.run([_openssl(), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise KafkaLocalError(
            f"openssl failed to {what} (exit {proc.returncode}):\n"
            + (proc.stdout + proc.stderr).strip()[-2000:]
        )


def make_tls(directory: Path, days: int = 30) -> tuple[Path, Path]:
    """A new throwaway CA and a broker certificate for 127.0.0.1 / localhost in `directory`.

    Returns (ca.pem, broker-keystore.pem); the keystore holds the broker's unencrypted PKCS#8
    key, its certificate and the CA certificate (Kafka's `ssl.keystore.type=PEM`). The CA key
    is deleted once the certificate is signed: nothing else can ever be signed by this CA.
    """
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    work = Path(tempfile.mkdtemp(dir=directory, prefix=".tls-"))
    try:
        ca_key, ca_pem = work / "ca.key", work / "ca.pem"
        key, csr, crt = work / "broker.key", work / "broker.csr", work / "broker.crt"
        ext = work / "ext.cnf"
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        ca_subject = f"/O=kafka_local/CN=kafka_local throwaway CA {stamp}"
        ca_ext = ["-addext", "basicConstraints=critical,CA:TRUE,pathlen:0"]
        ca_ext += ["-addext", "keyUsage=critical,keyCertSign,cRLSign"]
        new_key = ["-newkey", "rsa:2048", "-nodes", "-sha256"]
        ca_out = ["-keyout", str(ca_key), "-out", str(ca_pem)]
        key_out = ["-keyout", str(key), "-out", str(csr)]
        _run_openssl(
            ["req", "-x509", *new_key, "-days", str(days), "-subj", ca_subject, *ca_ext, *ca_out],
            "make the throwaway CA",
        )
        _run_openssl(
            ["req", "-new", *new_key, "-subj", "/O=kafka_local/CN=localhost", *key_out],
            "make the broker key",
        )
        ext.write_text(
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth,clientAuth\n"
            f"subjectAltName=IP:{HOST},DNS:localhost\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
        )
        signing = ["-CA", str(ca_pem), "-CAkey", str(ca_key), "-extfile", str(ext)]
        signing += ["-in", str(csr), "-out", str(crt)]
        serial = f"0x{secrets.token_hex(16)}"
        _run_openssl(
            ["x509", "-req", "-sha256", "-days", str(days), "-set_serial", serial, *signing],
            "sign the broker certificate",
        )
        ca_file, keystore = directory / "ca.pem", directory / "broker-keystore.pem"
        _write_private(keystore, key.read_text() + crt.read_text() + ca_pem.read_text())
        tmp_ca = directory / ".ca.pem.tmp"
        tmp_ca.write_text(ca_pem.read_text())
        os.chmod(tmp_ca, 0o644)
        os.replace(tmp_ca, ca_file)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the CA key and the loose broker key go here
    return ca_file, keystore


def _tools_cmd(java: str, libs: Path, data_dir: Path, main: str) -> list[str]:
    log4j_tool = data_dir / "log4j2-tools.properties"
    log4j_tool.write_text(_LOG4J2.format(root="WARN"))
    return [java, "-Xmx256m", f"-Dlog4j2.configurationFile={log4j_tool}", "-cp", f"{libs}/*", main]


def _set_scram_users(
    java: str, libs: Path, data_dir: Path, port: int, sec: Security, users: Mapping[str, str]
) -> None:
    """Create or change SCRAM users on the running broker, as the inter-broker user."""
    config = _security_dir(data_dir) / "admin-client.properties"
    _write_private(
        config,
        "security.protocol=SASL_SSL\n"
        f"sasl.mechanism={sec.mechanism}\n"
        "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{sec.admin_user}" password="{sec.admin_password}";\n'
        "ssl.truststore.type=PEM\n"
        f"ssl.truststore.location={sec.ca_file}\n",
    )
    for name, password in users.items():
        cmd = [
            *_tools_cmd(java, libs, data_dir, "kafka.admin.ConfigCommand"),
            "--bootstrap-server",
            f"{HOST}:{port}",
            "--command-config",
            str(config),
            "--alter",
            "--entity-type",
            "users",
            "--entity-name",
            name,
            "--add-config",
            f"{sec.mechanism}=[password={password}]",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise KafkaLocalError(
                f"setting the SCRAM user {name!r} failed (exit {proc.returncode}):\n"
                + (proc.stdout + proc.stderr).strip()[-3000:]
            )


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


class ProbeError(Exception):
    """The port does not (yet) serve Kafka requests; the message says why."""


class AuthenticationFailed(ProbeError):
    """The broker refused the SASL credentials."""


def _sasl_authenticate(sock: socket.socket, corr: int, data: bytes) -> bytes:
    # SaslAuthenticate v1 (api key 36): auth_bytes -> error_code, error_message, auth_bytes,
    # session_lifetime_ms.
    resp = _request(sock, 36, 1, corr, struct.pack(">i", len(data)) + data)
    (error,) = struct.unpack_from(">h", resp, 0)
    message, pos = _read_str(resp, 2)
    if error != 0:
        raise AuthenticationFailed(
            f"authentication failed (error {error}): {message or 'no message'}"
        )
    (size,) = struct.unpack_from(">i", resp, pos)
    return resp[pos + 4 : pos + 4 + max(size, 0)]


def _scram_login(sock: socket.socket, mechanism: str, user: str, password: str) -> None:
    """SaslHandshake plus a SCRAM exchange (RFC 5802, no channel binding), server verified."""
    mech = mechanism.encode()
    resp = _request(sock, 17, 1, 10, struct.pack(">h", len(mech)) + mech)  # SaslHandshake v1
    (error,) = struct.unpack_from(">h", resp, 0)
    if error != 0:
        raise ProbeError(f"the broker does not accept SASL mechanism {mechanism} (error {error})")
    algo = SCRAM_MECHANISMS[mechanism]
    client_nonce = secrets.token_urlsafe(24)
    saslname = user.replace("=", "=3D").replace(",", "=2C")
    first_bare = f"n={saslname},r={client_nonce}"
    server_first = _sasl_authenticate(sock, 11, f"n,,{first_bare}".encode()).decode()
    attrs = dict(item.split("=", 1) for item in server_first.split(",") if "=" in item)
    nonce = attrs.get("r", "")
    if not nonce.startswith(client_nonce) or "s" not in attrs or "i" not in attrs:
        raise ProbeError(f"unexpected SCRAM server-first message {server_first!r}")
    salted = hashlib.pbkdf2_hmac(
        algo, password.encode(), base64.b64decode(attrs["s"]), int(attrs["i"])
    )
    client_key = hmac.new(salted, b"Client Key", algo).digest()
    stored_key = hashlib.new(algo, client_key).digest()
    final_bare = f"c=biws,r={nonce}"
    auth_message = f"{first_bare},{server_first},{final_bare}".encode()
    signature = hmac.new(stored_key, auth_message, algo).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, signature, strict=True)))
    server_final = _sasl_authenticate(sock, 12, f"{final_bare},p={proof.decode()}".encode())
    server_key = hmac.new(salted, b"Server Key", algo).digest()
    expected = base64.b64encode(hmac.new(server_key, auth_message, algo).digest()).decode()
    if server_final.decode() != f"v={expected}":
        raise ProbeError("the broker's SCRAM signature does not match (not the same user store)")


def _probe(
    port: int,
    host: str = HOST,
    timeout: float = 2.0,
    security: Security | None = None,
    user: str | None = None,
) -> dict[str, Any]:
    """probe() that raises ProbeError or OSError saying why instead of returning None."""
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
        sock.settimeout(timeout)
        if security is not None:
            context = ssl.create_default_context(cafile=str(security.ca_file))
            sock = stack.enter_context(context.wrap_socket(sock, server_hostname=host))
            if user is None or user == security.admin_user:
                name, password = security.admin_user, security.admin_password
            else:
                name, password = user, security.users[user]
            _scram_login(sock, security.mechanism, name, password)
        try:
            # ApiVersions v0 (api key 18): error_code, [api_key, min, max].
            resp = _request(sock, 18, 0, 1, b"")
            (error,) = struct.unpack_from(">h", resp, 0)
            if error != 0:
                raise ProbeError(f"ApiVersions answered error {error}")
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
        except (struct.error, UnicodeDecodeError) as exc:
            raise ProbeError(f"unreadable answer: {exc}") from None
    if not brokers:
        raise ProbeError("the broker lists no brokers yet")
    return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller_id}


def probe(
    port: int,
    host: str = HOST,
    timeout: float = 2.0,
    security: Security | None = None,
    user: str | None = None,
) -> dict[str, Any] | None:
    """Ask host:port for ApiVersions and Metadata; return a summary, or None if it is no
    ready Kafka broker (nothing listening, not Kafka, or not started yet).

    With `security` (a secured broker's `Broker.security`) it speaks TLS, checks the broker
    certificate against the CA and logs in with SCRAM as `user` (default: the broker's own
    inter-broker user) first."""
    try:
        return _probe(port, host, timeout, security, user)
    except (OSError, ConnectionError, ProbeError, struct.error, UnicodeDecodeError):
        return None


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


def sigterm_when_parent_exits() -> None:
    """A `preexec_fn` (it runs in the child between fork and exec): the child gets SIGTERM
    when the thread that started it exits, so a test or bench that dies leaves no broker or
    worker behind. Start such children from a thread that lives as long as they should."""
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
    security: Security | None = field(default=None, repr=False)  # None: plain mode
    node_id: int = NODE_ID

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"

    def connection(self, user: str | None = None) -> SecuredConnection:
        """How a client reaches the SASL_SSL listener as `user` (default: the first user;
        the broker's own user, a super user when it authorizes, to grant ACLs)."""
        sec = self.security
        if sec is None:
            raise KafkaLocalError(f"the broker on {self.bootstrap} runs in plain mode (no SASL)")
        name = user or next(iter(sec.users), "")
        passwords = {**sec.users, sec.admin_user: sec.admin_password}
        if name not in passwords:
            raise KafkaLocalError(f"no SASL user {name!r} on {self.bootstrap}")
        return SecuredConnection(
            bootstrap=self.bootstrap,
            ca_file=sec.ca_file,
            username=name,
            password=passwords[name],
            mechanism=sec.mechanism,
            protocol=sec.protocol,
        )

    @property
    def log_file(self) -> Path:
        return self.data_dir / "broker.log"

    def is_running(self) -> bool:
        if self._proc is not None:
            return _child_running(self._proc)
        return _pid_alive(self.pid) and _is_our_broker(self.pid, self.data_dir)

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        _terminate(self.pid, self.data_dir, timeout, self._proc)
        for extra in _broker_pids(self.data_dir):  # should be none; never leave one behind
            _terminate(extra, self.data_dir, timeout, None)
        _clear_state(self.data_dir)

    def kill(self, timeout: float = 30.0) -> None:
        """SIGKILL the JVM, as a crash: no controlled shutdown, no flush of its logs; its
        partitions' leadership moves only once the controllers miss its heartbeats."""
        _kill(self.pid, self._proc, timeout)
        _clear_state(self.data_dir)

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _child_running(proc: subprocess.Popen[bytes]) -> bool:
    """Is a JVM this process started still running? Its Popen says: the pid cannot be
    reused before it is reaped. Its cmdline cannot: the kernel sets it only after closing
    the exec's close-on-exec pipe, which is when Popen returns, so it can read empty for a
    moment. Read then, a broker just started was taken for one that had exited during
    startup, and stopped before it logged a line (seen with two test runs at once)."""
    return proc.poll() is None


def _terminate(
    pid: int, data_dir: Path, timeout: float, proc: subprocess.Popen[bytes] | None
) -> None:
    if proc is not None:
        if not _child_running(proc):
            return
    elif not (_pid_alive(pid) and _is_our_broker(pid, data_dir)):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:  # reaped: no zombie left behind
                return
        elif not _pid_alive(pid):
            return
        time.sleep(0.1)
    _kill(pid, proc, 10)


def _kill(pid: int, proc: subprocess.Popen[bytes] | None, timeout: float) -> None:
    """SIGKILL a broker's JVM and wait until it is gone (reaped, when we started it)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    if proc is not None:
        proc.wait(timeout)
    else:
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


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
            security=_security_from_state(data_dir, state.get("security")),
        )
    pids = _broker_pids(data_dir)  # pid file lost or stale, but the process is there
    if pids:
        props = data_dir / "server.properties"
        port = _port_from_properties(props)
        with contextlib.suppress(OSError):
            if "SASL_SSL://" in props.read_text():
                return Broker(
                    port=port,
                    data_dir=data_dir,
                    pid=pids[0],
                    security=_security_from_state(data_dir, {}),
                )
        return Broker(port=port, data_dir=data_dir, pid=pids[0])
    return None


def _security_from_state(data_dir: Path, state: Any) -> Security | None:
    """The Security of a running secured broker, from broker.json and security/users.json."""
    if state is None:
        return None
    stored = _load_users(data_dir)
    if stored is None:  # users.json lost: still stoppable, but nobody can log in from here
        mechanism = str(state.get("mechanism") or DEFAULT_MECHANISM)
        admin = {"name": ADMIN_USER, "password": ""}
        stored = {"mechanism": mechanism, "admin": admin, "users": {}}
    first = [n for n in state.get("users", []) if n in stored["users"]]
    names = first + [n for n in stored["users"] if n not in first]  # started with first
    return Security(
        mechanism=stored["mechanism"],
        ca_file=Path(state.get("ca_file") or _security_dir(data_dir) / "ca.pem"),
        users={n: stored["users"][n] for n in names},
        admin_user=stored["admin"]["name"],
        admin_password=stored["admin"]["password"],
    )


def _port_from_properties(path: Path) -> int:
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            if line.startswith("advertised.listeners="):
                return int(line.rsplit(":", 1)[1])
    return 0


def _format_storage(
    java: str,
    libs: Path,
    data_dir: Path,
    log_dir: Path,
    extra: tuple[str, ...] = (),
    cluster_id: str | None = None,
) -> None:
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
        cluster_id or _new_cluster_id(),
        "--config",
        str(data_dir / "server.properties"),
        "--ignore-formatted",
        *extra,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise KafkaLocalError(
            f"formatting the Kafka storage in {log_dir} failed (exit {proc.returncode}):\n"
            + (proc.stdout + proc.stderr).strip()[-3000:]
        )


@dataclass
class _UserPlan:
    mechanism: str
    admin_password: str
    users: dict[str, str]  # the requested client users with their final passwords
    pending: dict[str, str]  # to set on the running broker (formatted storage)
    format_args: tuple[str, ...]  # `--add-scram` for a storage still to format
    record: dict[str, Any]  # security/users.json once done


def _plan_users(data_dir: Path, listener: SecuredListener, formatted: bool) -> _UserPlan:
    mech = _check_mechanism(listener.mechanism)
    if not listener.users:
        raise KafkaLocalError("SecuredListener needs at least one SASL user")
    for name, password in listener.users.items():
        _check_user(name, password)
    stored = _load_users(data_dir)
    if formatted and stored is None:
        raise KafkaLocalError(
            f"the Kafka storage in {data_dir / 'kraft'} was formatted in plain mode and has no "
            "SCRAM user, so it cannot serve the SASL_SSL listener; use another data dir "
            f"(or delete {data_dir / 'kraft'})"
        )
    if formatted and stored is not None and stored["mechanism"] != mech:
        raise KafkaLocalError(
            f"the Kafka storage in {data_dir / 'kraft'} holds {stored['mechanism']} users; "
            f"start it with that mechanism or use another data dir for {mech}"
        )
    previous: dict[str, str] = dict(stored["users"]) if stored else {}
    admin_password = stored["admin"]["password"] if stored else secrets.token_urlsafe(24)
    users = {
        name: password or previous.get(name) or secrets.token_urlsafe(18)
        for name, password in listener.users.items()
    }
    admin = {"name": ADMIN_USER, "password": admin_password}
    if formatted:
        pending = {n: p for n, p in users.items() if previous.get(n) != p}
        record = {"mechanism": mech, "admin": admin, "users": {**previous, **users}}
        return _UserPlan(mech, admin_password, users, pending, (), record)
    format_args: list[str] = []
    for name, password in {ADMIN_USER: admin_password, **users}.items():
        format_args += ["--add-scram", f"{mech}=[name={name},password={password}]"]
    record = {"mechanism": mech, "admin": admin, "users": users}
    return _UserPlan(mech, admin_password, users, {}, tuple(format_args), record)


def _apply_pending_users(
    broker: Broker, plan: _UserPlan, libs: Path, java: str, timeout: float
) -> None:
    """Set the users the formatted storage does not know yet, then wait until they log in."""
    assert broker.security is not None
    if not plan.pending:
        return
    _set_scram_users(java, libs, broker.data_dir, broker.port, broker.security, plan.pending)
    _save_users(broker.data_dir, plan.record)
    deadline = time.monotonic() + timeout
    for name in plan.pending:
        _wait_ready(broker, deadline, user=name)


def _check_mode(existing: Broker, security: SecuredListener | None) -> None:
    running = "plain" if existing.security is None else "SASL_SSL"
    wanted = "plain" if security is None else "SASL_SSL"
    if running != wanted:
        raise KafkaLocalError(
            f"a broker from {existing.data_dir} already runs on {existing.bootstrap} in "
            f"{running} mode (pid {existing.pid}), not {wanted}; stop it first (`down`) "
            "or use another data dir"
        )
    if security is not None and existing.security is not None:
        mech = _check_mechanism(security.mechanism)
        if mech != existing.security.mechanism:
            raise KafkaLocalError(
                f"the broker on {existing.bootstrap} uses {existing.security.mechanism}, "
                f"not {mech}; stop it first (`down`) or use another data dir"
            )


def _launch(
    java: str, libs: Path, data_dir: Path, what: str, die_with_parent: bool
) -> subprocess.Popen[bytes]:
    """Start the JVM of the node whose server.properties and log4j2.properties are in
    `data_dir`; its output goes to broker.log there, its pid to broker.pid."""
    heap = os.environ.get("KAFKA_HEAP_OPTS", DEFAULT_HEAP_OPTS).split()
    extra = os.environ.get("KAFKA_LOCAL_JAVA_OPTS", "").split()
    cmd = [
        java,
        *heap,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExitOnOutOfMemoryError",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={data_dir / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={data_dir}",
        *extra,
        "-cp",
        f"{libs}/*",
        "kafka.Kafka",
        str(data_dir / "server.properties"),
    ]
    with open(data_dir / "broker.log", "ab") as log:
        log.write(f"\n==== kafka_local: starting {what}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            cwd=data_dir,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=sigterm_when_parent_exits if die_with_parent else None,
        )
    (data_dir / "broker.pid").write_text(f"{proc.pid}\n")
    return proc


def start_broker(
    port: int,
    data_dir: Path,
    *,
    version: str = KAFKA_VERSION,
    timeout: float | None = None,
    die_with_parent: bool = False,
    security: SecuredListener | None = None,
) -> Broker:
    """Start a single-node KRaft broker on 127.0.0.1:port and return once it serves requests.

    If a broker from this data dir already runs on that port, it is returned as is.
    `die_with_parent=True` makes the JVM get SIGTERM when the calling thread exits (tests).
    `security=SecuredListener(...)` makes the client listener SASL_SSL (see the module
    docstring); the returned broker's `security` / `connection()` tell how to reach it.
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
            _check_mode(existing, security)
            deadline = time.monotonic() + timeout
            _wait_ready(existing, deadline)
            if security is not None and existing.security is not None:
                plan = _plan_users(data_dir, security, formatted=True)
                existing.security = Security(
                    mechanism=plan.mechanism,
                    ca_file=existing.security.ca_file,
                    users=plan.users,
                    admin_user=ADMIN_USER,
                    admin_password=plan.admin_password,
                )
                if plan.pending:
                    _apply_pending_users(existing, plan, ensure_jars(version), _java(), timeout)
            return existing
        if _port_open(port):
            what = "a Kafka broker" if probe(port) else "another process"
            raise KafkaLocalError(f"{HOST}:{port} is already in use by {what}")

        libs = ensure_jars(version)
        java = _java()
        log_dir = data_dir / "kraft"
        plan = None
        secured = None
        if security is not None:
            plan = _plan_users(data_dir, security, (log_dir / "meta.properties").is_file())
            ca_file, keystore = make_tls(_security_dir(data_dir), security.cert_days)
            secured = _SecuredFiles(
                plan.mechanism, keystore, ca_file, ADMIN_USER, plan.admin_password, security.acls
            )
        controller_port = free_port()
        while controller_port == port:
            controller_port = free_port()
        props = data_dir / "server.properties"
        if secured is not None:  # it holds the inter-broker password
            _write_private(props, _server_properties(port, controller_port, log_dir, secured))
        else:
            props.write_text(_server_properties(port, controller_port, log_dir))
        log4j = data_dir / "log4j2.properties"
        log4j.write_text(_LOG4J2.format(root="INFO"))
        _format_storage(java, libs, data_dir, log_dir, plan.format_args if plan else ())
        if plan is not None and plan.format_args:
            _save_users(data_dir, plan.record)

        mode = "" if secured is None else f" (SASL_SSL, {secured.mechanism})"
        proc = _launch(
            java, libs, data_dir, f"Kafka {version} on {HOST}:{port}{mode}", die_with_parent
        )
        state: dict[str, Any] = {
            "pid": proc.pid,
            "port": port,
            "controller_port": controller_port,
            "version": version,
            "bootstrap": f"{HOST}:{port}",
            "log_file": str(data_dir / "broker.log"),
        }
        broker_security = None
        if plan is not None and secured is not None:
            state["security"] = {
                "protocol": "SASL_SSL",
                "mechanism": plan.mechanism,
                "ca_file": str(secured.ca_file),
                "users": list(plan.users),
            }
            broker_security = Security(
                mechanism=plan.mechanism,
                ca_file=secured.ca_file,
                users=plan.users,
                admin_user=ADMIN_USER,
                admin_password=plan.admin_password,
            )
        _state_file(data_dir).write_text(json.dumps(state) + "\n")
        broker = Broker(
            port=port,
            data_dir=data_dir,
            pid=proc.pid,
            controller_port=controller_port,
            version=version,
            _proc=proc,
            security=broker_security,
        )
        try:
            deadline = time.monotonic() + timeout
            _wait_ready(broker, deadline)
            if plan is not None:
                _apply_pending_users(broker, plan, libs, java, timeout)
        except BaseException:
            broker.stop(timeout=10)
            raise
        return broker


def _wait_ready(broker: Broker, deadline: float, user: str | None = None) -> None:
    last_error = "no answer yet"
    while True:
        if not broker.is_running():
            code = broker._proc.returncode if broker._proc is not None else None
            how = "" if code is None else (f" (exit {code})" if code >= 0 else f" (signal {-code})")
            raise KafkaLocalError(
                f"the Kafka broker (pid {broker.pid}) exited during startup{how}; "
                f"see {broker.log_file}. Last lines:\n{_log_tail(broker.log_file)}"
            )
        try:
            info = _probe(broker.port, security=broker.security, user=user)
            if any(b[0] == broker.node_id for b in info["brokers"]):
                return
            last_error = f"node {broker.node_id} not listed yet"
        except (OSError, ConnectionError, ProbeError, struct.error, UnicodeDecodeError) as exc:
            last_error = str(exc) or type(exc).__name__
        if time.monotonic() > deadline:
            raise KafkaLocalError(
                f"the Kafka broker on {broker.bootstrap} (pid {broker.pid}) did not answer "
                f"in time (last probe: {last_error}); see {broker.log_file}. "
                f"Last lines:\n{_log_tail(broker.log_file)}"
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


# --------------------------------------------------------------------------- local clusters


@dataclass(frozen=True)
class Quorum:
    """Several local nodes, each a broker and a controller, in one static quorum: a
    replicated cluster on one machine, for what one node cannot show (a rolling restart,
    partition leadership moving between brokers)."""

    cluster_id: str
    #: node id -> (client port, controller port)
    ports: dict[int, tuple[int, int]]

    @property
    def voters(self) -> str:
        return ",".join(f"{n}@{HOST}:{c}" for n, (_, c) in sorted(self.ports.items()))

    @property
    def bootstrap(self) -> str:
        return ",".join(f"{HOST}:{port}" for _, (port, _) in sorted(self.ports.items()))

    def replication(self) -> dict[str, str]:
        """Every topic on up to three nodes. The brokers' `min.insync.replicas` stays
        Kafka's default (1), as on a cluster nobody tuned: how many replicas a write needs
        in sync is then the topic's own setting (salespulse gives the topics it creates
        with three replicas 2: streams.worker.topics.durability)."""
        replicas = str(min(3, len(self.ports)))
        in_sync = str(min(2, len(self.ports)))
        return {
            "default.replication.factor": replicas,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": in_sync,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": in_sync,
        }

    @classmethod
    def load_or_plan(cls, root: Path, nodes: int) -> Quorum:
        """The quorum of a cluster once started on `root` (its ids and ports kept in
        cluster.json), or a new one on free ports."""
        saved = root / "cluster.json"
        if saved.is_file():
            state = json.loads(saved.read_text())
            ports = {int(n): (int(p), int(c)) for n, (p, c) in state["ports"].items()}
            return cls(cluster_id=str(state["cluster_id"]), ports=ports)
        taken: set[int] = set()
        while len(taken) < 2 * nodes:
            taken.add(free_port())
        free = sorted(taken)
        ports = {n: (free[2 * n - 2], free[2 * n - 1]) for n in range(1, nodes + 1)}
        quorum = cls(cluster_id=_new_cluster_id(), ports=ports)
        root.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps({"cluster_id": quorum.cluster_id, "ports": ports}) + "\n")
        return quorum


def node_dir(root: Path, node_id: int) -> Path:
    """Where a cluster's node keeps its data, laid out as a single broker's data dir."""
    return root / f"node-{node_id}"


@dataclass
class LocalCluster:
    """A running local cluster (`start_cluster`): each node in `root/node-<id>`, laid out
    as a single broker's data dir. A node stops cleanly and starts again on its own."""

    root: Path
    quorum: Quorum
    version: str = KAFKA_VERSION
    die_with_parent: bool = False
    brokers: dict[int, Broker] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        return self.quorum.bootstrap

    def node_dir(self, node_id: int) -> Path:
        return node_dir(self.root, node_id)

    def launch_node(self, node_id: int) -> Broker:
        """Start one node's JVM and return at once (a quorum forms only once most of its
        voters run, so a cluster's nodes start together, then `wait_node`)."""
        if node_id in self.brokers and self.brokers[node_id].is_running():
            raise KafkaLocalError(f"node {node_id} of {self.root} already runs")
        libs, java = ensure_jars(self.version), _java()
        data_dir = self.node_dir(node_id)
        data_dir.mkdir(parents=True, exist_ok=True)
        port, controller_port = self.quorum.ports[node_id]
        log_dir = data_dir / "kraft"
        (data_dir / "server.properties").write_text(
            _server_properties(port, controller_port, log_dir, quorum=self.quorum, node_id=node_id)
        )
        (data_dir / "log4j2.properties").write_text(_LOG4J2.format(root="INFO"))
        _format_storage(java, libs, data_dir, log_dir, cluster_id=self.quorum.cluster_id)
        what = f"Kafka {self.version} node {node_id} on {HOST}:{port}"
        proc = _launch(java, libs, data_dir, what, self.die_with_parent)
        state: dict[str, Any] = {"pid": proc.pid, "port": port, "node_id": node_id}
        state.update(controller_port=controller_port, version=self.version)
        _state_file(data_dir).write_text(json.dumps(state) + "\n")
        broker = Broker(
            port, data_dir, proc.pid, controller_port, self.version, proc, node_id=node_id
        )
        self.brokers[node_id] = broker
        return broker

    def wait_node(self, node_id: int, timeout: float | None = None) -> Broker:
        """Return once the node serves requests and lists itself among the brokers."""
        if timeout is None:
            timeout = float(os.environ.get("KAFKA_LOCAL_START_TIMEOUT", DEFAULT_START_TIMEOUT))
        broker = self.brokers[node_id]
        _wait_ready(broker, time.monotonic() + timeout)
        return broker

    def start_node(self, node_id: int, timeout: float | None = None) -> Broker:
        """Start one node again while the others run (their quorum is there)."""
        self.launch_node(node_id)
        return self.wait_node(node_id, timeout)

    def stop_node(self, node_id: int, timeout: float = STOP_TIMEOUT) -> None:
        """Stop one node cleanly (SIGTERM): it hands its partition leadership to the
        replicas in sync before it exits, as in a rolling restart."""
        broker = self.brokers.pop(node_id, None)
        if broker is not None:
            broker.stop(timeout)

    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node, as a crash (`Broker.kill`)."""
        self.brokers.pop(node_id).kill()

    def stop(self) -> None:
        for node_id in sorted(self.brokers):
            self.stop_node(node_id)

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_cluster(
    root: Path,
    nodes: int = 3,
    *,
    version: str = KAFKA_VERSION,
    timeout: float | None = None,
    die_with_parent: bool = False,
) -> LocalCluster:
    """Start a local cluster of `nodes` KRaft nodes (each broker and controller) on
    loopback and return once every node serves requests. Topics get min(3, nodes)
    replicas (`Quorum.replication`). A node of `root` that runs already is taken as it is
    (a cluster with a node down comes back whole, the others untouched)."""
    root = Path(root).resolve()
    with _locked(_lock_file(root)):
        quorum = Quorum.load_or_plan(root, nodes)
        if len(quorum.ports) != nodes:
            raise KafkaLocalError(
                f"{root} holds a cluster of {len(quorum.ports)} nodes, not {nodes}"
            )
        cluster = LocalCluster(root, quorum, version, die_with_parent)
        launched = []
        try:
            for node_id in sorted(cluster.quorum.ports):
                running = running_broker(cluster.node_dir(node_id))
                if running is None:
                    cluster.launch_node(node_id)
                    launched.append(node_id)
                else:
                    running.node_id = node_id
                    cluster.brokers[node_id] = running
            for node_id in launched:
                cluster.wait_node(node_id, timeout)
        except BaseException:
            for node_id in launched:
                cluster.stop_node(node_id)
            raise
        return cluster


def _lock_file(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    return root / ".lock"


# -------------------------------------------------------------------------------------- CLI


#: hosts of KAFKA_BOOTSTRAP that name this machine
LOOPBACK = frozenset({HOST, "localhost", "::1", "[::1]"})


def default_port() -> int:
    """The port of KAFKA_BOOTSTRAP (first entry), 9092 when unset. A KAFKA_BOOTSTRAP naming
    another machine is refused: the broker starts on this one, and `make run` would then
    send its demo traffic to the other (a real cluster, say)."""
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP", f"{HOST}:9092").split(",")[0].strip()
    bootstrap = bootstrap.split("://", 1)[-1]
    host, _, port = bootstrap.rpartition(":")
    if host and host not in LOOPBACK:
        raise KafkaLocalError(
            f"KAFKA_BOOTSTRAP={bootstrap!r} names another machine; the local broker listens on "
            f"{HOST} only, and the demo of `make run` would go to {host!r}: unset "
            f"KAFKA_BOOTSTRAP, or set it to {HOST}:<port> for a local broker on that port"
        )
    try:
        return int(port)
    except ValueError:
        raise KafkaLocalError(f"cannot read a port from KAFKA_BOOTSTRAP={bootstrap!r}") from None


def _default_data_dir() -> Path:
    return Path(os.environ.get("KAFKA_LOCAL_DATA_DIR") or DEFAULT_DATA_DIR)


def _listener_from_args(args: argparse.Namespace) -> SecuredListener | None:
    if args.acls and not args.sasl_ssl:
        raise KafkaLocalError("--acls goes with --sasl-ssl: ACLs name SASL users")
    if not args.sasl_ssl:
        return None
    return SecuredListener(
        users={args.sasl_user: args.sasl_password or None},
        mechanism=args.sasl_mechanism,
        acls=args.acls,
    )


def _print_env(broker: Broker, user: str | None = None) -> None:
    env = (
        broker.connection(user).env() if broker.security else {"KAFKA_BOOTSTRAP": broker.bootstrap}
    )
    for key, value in env.items():
        print(f"export {key}={shlex.quote(value)}")


def _cmd_up(args: argparse.Namespace) -> int:
    if args.nodes > 1:
        return _cluster_up(args)
    port = args.port or default_port()
    data_dir = args.data_dir.resolve()
    security = _listener_from_args(args)
    existing = running_broker(data_dir) if data_dir.exists() else None
    if existing is not None and existing.port == port:
        _check_mode(existing, security)
        if security is not None:  # sets the asked user / password if they are new
            existing = start_broker(port, data_dir, security=security)
        print(f"Kafka already running on {existing.bootstrap} (pid {existing.pid}); nothing to do")
        if security is not None:
            _print_env(existing, args.sasl_user)
        return 0
    if existing is None and security is None and probe(port):
        print(f"a Kafka broker already answers on {HOST}:{port}; nothing to do")
        return 0
    started = time.monotonic()
    broker = start_broker(port, data_dir, security=security)
    mode = "" if broker.security is None else f" with SASL_SSL/{broker.security.mechanism}"
    print(
        f"Kafka {broker.version} up on {broker.bootstrap}{mode} (pid {broker.pid}, "
        f"{time.monotonic() - started:.1f}s); data {data_dir}, log {broker.log_file}"
    )
    if security is not None:
        _print_env(broker, args.sasl_user)
    return 0


def _saved_quorum(data_dir: Path) -> Quorum | None:
    """The quorum of the cluster once started on `data_dir`; None when none was (a single
    broker's data dir, or nothing)."""
    if not (data_dir / "cluster.json").is_file():
        return None
    return Quorum.load_or_plan(data_dir, 0)


def _cluster_nodes(data_dir: Path, quorum: Quorum) -> dict[int, Broker | None]:
    """node id -> its running broker (None: stopped)."""
    return {n: running_broker(node_dir(data_dir, n)) for n in sorted(quorum.ports)}


def _cluster_up(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    if args.sasl_ssl:
        raise KafkaLocalError("--nodes and --sasl-ssl do not go together: a cluster is plain")
    if (data_dir / "server.properties").is_file():
        raise KafkaLocalError(
            f"{data_dir} holds one broker's data: give a cluster a folder of its own"
        )
    quorum = _saved_quorum(data_dir)
    if (
        quorum is not None
        and len(quorum.ports) == args.nodes
        and all(_cluster_nodes(data_dir, quorum).values())
    ):
        print(f"Kafka cluster already running on {quorum.bootstrap}; nothing to do")
        return 0
    started = time.monotonic()  # nodes that run already are left as they are
    cluster = start_cluster(data_dir, args.nodes)  # refuses another node count
    pids = ", ".join(f"node {n} pid {b.pid}" for n, b in sorted(cluster.brokers.items()))
    print(
        f"Kafka {cluster.version} cluster of {args.nodes} nodes up on {cluster.bootstrap} "
        f"({pids}; {time.monotonic() - started:.1f}s); data {data_dir}"
    )
    print(f"export KAFKA_BOOTSTRAP={cluster.bootstrap}")
    return 0


def _cmd_env(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    quorum = _saved_quorum(data_dir)
    if quorum is not None:
        print(f"export KAFKA_BOOTSTRAP={quorum.bootstrap}")
        return 0
    broker = running_broker(data_dir) if data_dir.exists() else None
    if broker is None:
        print(f"no Kafka broker running from {data_dir}", file=sys.stderr)
        return 3
    _print_env(broker, args.sasl_user)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    quorum = _saved_quorum(data_dir)
    if quorum is not None:
        running = {n: b for n, b in _cluster_nodes(data_dir, quorum).items() if b is not None}
        for broker in running.values():
            stop_broker(broker.data_dir)
        stopped = ", ".join(f"node {n} on {b.bootstrap}" for n, b in running.items())
        print(f"Kafka cluster stopped ({stopped or 'no node was running'})")
        return 0
    broker = stop_broker(data_dir) if data_dir.exists() else None
    if broker is None:
        print(f"no Kafka broker running from {data_dir}; nothing to stop")
    else:
        print(f"Kafka on {broker.bootstrap} (pid {broker.pid}) stopped")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    data_dir = args.data_dir.resolve()
    quorum = _saved_quorum(data_dir)
    if quorum is not None:
        nodes = _cluster_nodes(data_dir, quorum)
        for node_id, broker in nodes.items():
            if broker is None:
                print(f"node {node_id}: stopped")
            else:
                ready = "ready" if probe(broker.port) else "not answering yet"
                print(f"node {node_id}: running: {broker.bootstrap} pid {broker.pid} ({ready})")
        return 0 if all(nodes.values()) else 3
    broker = running_broker(data_dir) if data_dir.exists() else None
    if broker is not None:
        ready = "ready" if probe(broker.port, security=broker.security) else "not answering yet"
        mode = "" if broker.security is None else f" SASL_SSL/{broker.security.mechanism}"
        print(
            f"running: {broker.bootstrap}{mode} pid {broker.pid} ({ready}); "
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
        ("env", _cmd_env, "print `export KAFKA_...` lines for the running broker (exit 3 if none)"),
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
            help="broker data folder (default: var/kafka in the repository); down, status "
            "and env find a cluster's nodes in it",
        )
        if name == "up":
            p.add_argument(
                "--nodes",
                type=int,
                default=1,
                help="nodes of a local cluster (default 1: a single broker); each is broker "
                "and controller, on free ports, topics with up to three replicas",
            )
        if name in ("up", "env"):
            p.add_argument(
                "--sasl-user",
                default=DEFAULT_SASL_USER if name == "up" else None,
                help=f"SCRAM user for clients (up: default {DEFAULT_SASL_USER}; "
                "env: default the first one)",
            )
        if name == "up":
            p.add_argument(
                "--sasl-ssl",
                action="store_true",
                help="the client listener is SASL_SSL (SCRAM users, throwaway CA); prints the "
                "KAFKA_* variables clients need",
            )
            p.add_argument(
                "--acls",
                action="store_true",
                help=f"with --sasl-ssl: the broker authorizes requests; users may do only what "
                f"ACLs grant them ({ADMIN_USER}, a super user, grants them: `env --sasl-user "
                f"{ADMIN_USER}`, then `salespulse acls --apply`)",
            )
            p.add_argument(
                "--sasl-password",
                default=None,
                help="password of --sasl-user (default: random, kept in the data dir)",
            )
            p.add_argument(
                "--sasl-mechanism",
                default=DEFAULT_MECHANISM,
                choices=sorted(SCRAM_MECHANISMS),
                type=str.upper,
                help=f"SCRAM mechanism (default {DEFAULT_MECHANISM})",
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
