"""Runtime settings, read once from environment variables (docs/contract.md section 1).

Every setting has a default that works on one machine, so `salespulse worker` runs with
no configuration at all. Invalid values fail at start-up with a message naming the variable.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from streams.domain.deadletter import DEFAULT_MAX_BYTES as DEADLETTER_MAX_BYTES
from streams.domain.retention import MIN_RETENTION, Retention
from streams.worker.changelog_frames import SNAPSHOT_MIN_BYTES
from streams.worker.kafka_options import KafkaSecurity, KafkaSecurityError
from streams.worker.store_memory import DEFAULT_BUDGET_BYTES as STORE_BUDGET_BYTES
from streams.worker.store_memory import MIN_BUDGET_BYTES as MIN_STORE_BUDGET_BYTES

DEFAULT_FX_RATES = Path(__file__).resolve().parents[1] / "data" / "fx_rates.json"

#: what SALES_API_TOKEN_PROTECTS may name: the endpoints left open without it
TOKEN_PROTECTABLE = ("health", "metrics")
#: the fewest characters a SALES_API_TOKEN may have (e.g. `openssl rand -hex 32` gives 64)
MIN_TOKEN_CHARS = 16
DEFAULT_METRICS_MAX_SCOPES = 10_000
#: the most stage (source) label values per scope and period on the breakdown gauges
DEFAULT_METRICS_MAX_BREAKDOWN = 20
#: Kafka's limit on a group.instance.id (its legal characters are those of a topic name),
#: less the suffix `member_instance_id` adds
MAX_INSTANCE_ID_CHARS = 249 - 13
_INSTANCE_ID = re.compile(rf"[A-Za-z0-9._-]{{1,{MAX_INSTANCE_ID_CHARS}}}")

#: the largest value of a whole-number setting (byte counts, counts): beyond, C code overflows
MAX_INT = 2**48
#: the longest time setting (seconds): a year
MAX_SECONDS = 365 * 86400.0
MAX_PORT = 65535
#: SALES_SESSION_TIMEOUT: Faust's default; the broker refuses what lies outside its
#: group.min/max.session.timeout.ms (6 s and 30 min unless set), checked at start
DEFAULT_SESSION_TIMEOUT = 60.0
MIN_SESSION_TIMEOUT = 1.0
MAX_SESSION_TIMEOUT = 3600.0
#: the largest SALES_MAX_PAYLOAD_BYTES: a record crosses the internal topic with its key (held
#: to the same limit), and two of these fit Kafka's default message limit of 1 MiB
MAX_PAYLOAD = 256 * 1024
#: the table stores a worker runs on (the schemes of Faust store URLs; framed_store.py)
STORES = ("rocksdb", "memory")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
#: one bootstrap server: a host name, an IPv4 address or a bracketed IPv6 one, and a port
_BOOTSTRAP_SERVER = re.compile(
    r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(?P<port>[0-9]{1,5}))?"
)

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


class SettingsError(ValueError):
    """A configuration value is unusable; the message names the variable and the fix."""


def parse_duration(name: str, text: str) -> timedelta:
    """Parse an ISO 8601 duration such as P7D, PT1H or P1DT12H (no months or years)."""
    match = _DURATION.match(text.strip().upper())
    if not match or text.strip().upper() in ("P", "PT"):
        raise SettingsError(f"{name}={text!r} is not an ISO 8601 duration such as P7D or PT1H")
    parts = {k: float(v) for k, v in match.groupdict().items() if v}
    try:
        return timedelta(**parts)
    except OverflowError:
        raise SettingsError(f"{name}={text!r} is too long a duration") from None


def _late_grace(env: Mapping[str, str]) -> timedelta:
    return parse_duration("SALES_LATE_GRACE", env.get("SALES_LATE_GRACE") or "P7D")


def _retention(env: Mapping[str, str]) -> timedelta | None:
    """SALES_RETENTION: unset keeps every period; a duration keeps the periods that start
    after the horizon (retention.py), at least the current quarter and the late grace."""
    text = env.get("SALES_RETENTION") or ""
    if not text:
        return None
    retention = parse_duration("SALES_RETENTION", text)
    if retention < MIN_RETENTION:
        raise SettingsError(
            f"SALES_RETENTION={text!r} is shorter than P92D: the current quarter must be kept"
        )
    grace = _late_grace(env)
    if retention < grace:
        raise SettingsError(
            f"SALES_RETENTION={text!r} is shorter than SALES_LATE_GRACE "
            f"({env.get('SALES_LATE_GRACE')}): an event still on time must find its periods"
        )
    return retention


def _app_id(env: Mapping[str, str]) -> str:
    """SALES_APP_ID names the consumer group and the app's own topics (its changelog and
    internal topic), so it must be a valid part of a Kafka topic name."""
    app_id = env.get("SALES_APP_ID") or "salespulse"
    if not re.fullmatch(r"[A-Za-z0-9._-]{1,200}", app_id):
        raise SettingsError(
            f"SALES_APP_ID={app_id!r} must be 1-200 letters, digits, '.', '_' or '-' "
            "(it names the consumer group and the app's Kafka topics)"
        )
    return app_id


def _topics(env: Mapping[str, str], app_id: str) -> Topics:
    """The defaults, the internal topic named after the app, and SALES_TOPIC_<NAME> renames:
    each a legal Kafka topic name, no two roles on one topic."""
    renamed = {
        name: env[f"SALES_TOPIC_{name.upper()}"]
        for name in Topics.__dataclass_fields__
        if env.get(f"SALES_TOPIC_{name.upper()}")
    }
    for name, topic in renamed.items():
        if not _TOPIC_NAME.fullmatch(topic) or topic in (".", ".."):
            raise SettingsError(
                f"SALES_TOPIC_{name.upper()}={topic!r} is not a Kafka topic name: use 1-249 "
                "letters, digits, '.', '_' or '-'"
            )
    topics = Topics(**{"scopes": f"{app_id}.scopes", **renamed})
    roles: dict[str, str] = {}
    for name in Topics.__dataclass_fields__:
        topic = getattr(topics, name)
        if topic in roles:
            raise SettingsError(
                f"{name} and {roles[topic]} would both use the topic {topic!r}: give each its "
                f"own (SALES_TOPIC_{name.upper()}, SALES_TOPIC_{roles[topic].upper()})"
            )
        roles[topic] = name
    return topics


def _float(
    env: Mapping[str, str],
    name: str,
    default: float,
    minimum: float = 0.0,
    maximum: float = MAX_SECONDS,
) -> float:
    """A number within [minimum, maximum]; nan and infinity are no setting (a stop timeout
    of nan made the worker wait for ever)."""
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise SettingsError(f"{name}={raw!r} is not a finite number")
    return _within(name, raw, value, minimum, maximum)


_N = TypeVar("_N", int, float)


def _int(
    env: Mapping[str, str], name: str, default: int, minimum: int = 1, maximum: int = MAX_INT
) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    return _within(name, raw, value, minimum, maximum)


def _within(name: str, raw: str, value: _N, minimum: _N, maximum: _N) -> _N:
    if value < minimum:
        raise SettingsError(f"{name}={raw!r} must be >= {minimum}")
    if value > maximum:
        bound = f"{maximum:g}" if isinstance(maximum, float) else str(maximum)
        raise SettingsError(f"{name}={raw!r} must be <= {bound}")
    return value


def _security(env: Mapping[str, str]) -> KafkaSecurity:
    try:
        return KafkaSecurity.from_env(env)
    except KafkaSecurityError as exc:
        raise SettingsError(str(exc)) from None


def _session_timeout(env: Mapping[str, str]) -> float:
    return _float(
        env,
        "SALES_SESSION_TIMEOUT",
        DEFAULT_SESSION_TIMEOUT,
        minimum=MIN_SESSION_TIMEOUT,
        maximum=MAX_SESSION_TIMEOUT,
    )


def _bootstrap(env: Mapping[str, str]) -> str:
    """KAFKA_BOOTSTRAP: host:port[,host:port...] (a host alone is port 9092, as Kafka's
    clients read it); a malformed list failed deep in the client, or waited for ever."""
    raw = env.get("KAFKA_BOOTSTRAP") or "127.0.0.1:9092"
    for server in raw.split(","):
        match = _BOOTSTRAP_SERVER.fullmatch(server.strip())
        if match is None or not 1 <= int(match["port"] or 9092) <= MAX_PORT:
            raise SettingsError(
                f"KAFKA_BOOTSTRAP={raw!r}: {server.strip()!r} is not host:port (port 1-65535); "
                "give one or more brokers, e.g. 127.0.0.1:9092 or k1:9092,k2:9092"
            )
    return raw


def _store(env: Mapping[str, str]) -> str:
    store = env.get("SALES_STORE") or "rocksdb://"
    if store.split(":", 1)[0] not in STORES:
        raise SettingsError(
            f"SALES_STORE={store!r} is not a table store: use rocksdb:// (the default) or "
            "memory:// (tests: no local state, every start restores from the changelog)"
        )
    return store


def _timezone(env: Mapping[str, str]) -> str:
    tz_name = env.get("SALES_TIMEZONE") or "UTC"
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(
            f"SALES_TIMEZONE={tz_name!r} is not an IANA time zone such as Europe/Paris"
        ) from None
    return tz_name


def _base_currency(env: Mapping[str, str]) -> str:
    base = (env.get("SALES_BASE_CURRENCY") or "USD").upper()
    if not re.fullmatch(r"[A-Z]{3}", base):
        raise SettingsError(f"SALES_BASE_CURRENCY={base!r} is not an ISO 4217 code")
    return base


def _url(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name) or ""
    if raw and not re.fullmatch(r"https?://[^/\s:]+(:[0-9]{1,5})?/?", raw):
        raise SettingsError(f"{name}={raw!r} must look like http://worker-0.salespulse:6066")
    if re.match(r"https?://(0\.0\.0\.0|\[::\])[:/]?", raw):
        raise SettingsError(
            f"{name}={raw!r} names no machine: the other workers would ask themselves. Give "
            "this worker's host name or address, e.g. http://worker-0.salespulse:6066"
        )
    return raw


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} must be true or false")


def _token(env: Mapping[str, str]) -> str:
    """SALES_API_TOKEN, checked; the messages never repeat the value."""
    raw = env.get("SALES_API_TOKEN") or ""
    if not raw:
        return ""
    if not re.fullmatch(r"[\x21-\x7e]+", raw):
        raise SettingsError(
            "SALES_API_TOKEN must be printable ASCII without spaces (it is sent in an "
            "Authorization header); generate one with `openssl rand -hex 32`"
        )
    if len(raw) < MIN_TOKEN_CHARS:
        raise SettingsError(
            f"SALES_API_TOKEN must have at least {MIN_TOKEN_CHARS} characters; "
            "generate one with `openssl rand -hex 32`"
        )
    return raw


def _group_instance_id(env: Mapping[str, str]) -> str:
    """SALES_GROUP_INSTANCE_ID, checked as Kafka checks a group.instance.id."""
    raw = env.get("SALES_GROUP_INSTANCE_ID") or ""
    if raw and not _INSTANCE_ID.fullmatch(raw):
        raise SettingsError(
            f"SALES_GROUP_INSTANCE_ID={raw!r} is not a valid group.instance.id: use up to "
            f"{MAX_INSTANCE_ID_CHARS} letters, digits, '.', '_' or '-', unique per worker "
            "(a StatefulSet's pod name, for example)"
        )
    return raw


def _protects(env: Mapping[str, str], token: str) -> frozenset[str]:
    raw = env.get("SALES_API_TOKEN_PROTECTS") or ""
    names = frozenset(n.strip().lower() for n in raw.split(",") if n.strip())
    unknown = sorted(names - set(TOKEN_PROTECTABLE))
    if unknown:
        raise SettingsError(
            f"SALES_API_TOKEN_PROTECTS={raw!r}: {', '.join(unknown)} unknown; "
            f"a comma-separated list among {', '.join(TOKEN_PROTECTABLE)}"
        )
    if names and not token:
        raise SettingsError(
            f"SALES_API_TOKEN_PROTECTS={raw!r} needs SALES_API_TOKEN: set the token too, "
            "or leave SALES_API_TOKEN_PROTECTS empty"
        )
    return names


@dataclass(frozen=True)
class Topics:
    """Topic names; each can be renamed with SALES_TOPIC_<NAME> (e.g. SALES_TOPIC_ACTIVITIES)."""

    activities: str = "sales.activities"
    deals: str = "sales.deals"
    feedback: str = "sales.feedback"
    targets: str = "sales.targets"
    alerts: str = "sales.alerts"
    performance: str = "sales.performance"
    deadletter: str = "sales.deadletter"
    #: internal topic carrying validated events to the scope that owns them; from the
    #: environment it is `<SALES_APP_ID>.scopes`, private to the app like its changelog
    scopes: str = "salespulse.scopes"

    def inputs(self) -> tuple[str, str, str, str]:
        return (self.activities, self.deals, self.feedback, self.targets)


@dataclass(frozen=True)
class Settings:
    kafka_bootstrap: str = "127.0.0.1:9092"
    api_port: int = 6066
    api_host: str = "127.0.0.1"
    timezone_name: str = "UTC"
    base_currency: str = "USD"
    fx_rates_path: Path = DEFAULT_FX_RATES
    late_grace: timedelta = timedelta(days=7)
    #: SALES_RETENTION: how far back figures are kept (None: all of them; retention.py)
    retention: timedelta | None = None
    max_clock_skew: timedelta = timedelta(hours=1)
    at_risk_pace: float = 0.8
    max_payload_bytes: int = 65536
    topic_partitions: int = 8
    replication_factor: int = 1
    app_id: str = "salespulse"
    data_dir: Path = Path("var/worker")
    store: str = "rocksdb://"
    #: RocksDB's block cache and memtables over all of the worker's partitions
    store_memory_bytes: int = STORE_BUDGET_BYTES
    metrics_rep_label: bool = True
    performance_min_interval: float = 1.0
    evaluation_interval: float = 60.0
    #: seconds a once-only alert waits for its status to hold (domain.alert_settling)
    alert_settle: float = 5.0
    commit_interval: float = 1.0
    #: seconds a stop (SIGTERM, Ctrl-C) may take before the worker exits without finishing
    #: it, as a crash would (wiring.SalesWorker): a stop cannot commit while Kafka is away
    stop_timeout: float = 30.0
    #: changelog deltas per partition before a snapshot replaces them, at least
    changelog_snapshot_bytes: int = SNAPSHOT_MIN_BYTES
    topics: Topics = field(default_factory=Topics)
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    #: how peers reach this worker's API; "" derives it from SALES_API_HOST and the port
    api_advertised_url: str = ""
    #: the largest dead-letter record; lowered at start to the topic's max.message.bytes
    deadletter_max_bytes: int = DEADLETTER_MAX_BYTES
    #: seconds between deletions of the internal topic's folded records
    #: (streams.worker.internal_purge; Kafka Streams' repartition.purge.interval.ms)
    internal_purge_interval: float = 30.0
    #: whether the worker deletes them: learnt at start, True when the topic keeps records
    #: for ever (as the worker creates it)
    internal_purge: bool = False
    #: the Kafka cluster's id, learnt at start: the local state belongs to one app id on
    #: one cluster (streams.tools.commands.worker, the data dir's owner)
    kafka_cluster_id: str | None = None
    #: bearer token every API request must carry ("" = no authentication); never in repr
    api_token: str = field(default="", repr=False)
    #: open endpoints also put behind the token: "health" (/healthz, /readyz), "metrics"
    api_token_protects: frozenset[str] = frozenset()
    #: open API connections past which a new one is answered 503 (http_connections)
    api_max_connections: int = 512
    #: seconds an API connection may stay without a whole request head (idle, or sending
    #: one slowly) before it is closed
    api_idle_timeout: float = 30.0
    #: the most distinct reps, and teams, one worker exports series for on /metrics
    metrics_max_scopes: int = DEFAULT_METRICS_MAX_SCOPES
    #: the most distinct stages (sources) per scope and period on the breakdown gauges; the
    #: rest are summed under "other"
    metrics_max_breakdown: int = DEFAULT_METRICS_MAX_BREAKDOWN
    #: seconds the group waits for a member's heartbeat before it hands the member's
    #: partitions to the others (a killed dynamic member holds them this long); Faust's 60 s
    session_timeout: float = DEFAULT_SESSION_TIMEOUT
    #: this worker's static member id in the consumer group ("" = a dynamic member): a
    #: worker restarted with the same id takes its partitions back at once, where a dynamic
    #: one waits for the killed member's session to expire
    group_instance_id: str = ""

    @property
    def advertised_url(self) -> str:
        """SALES_API_ADVERTISED_URL, else the bind address, else (bound to every interface)
        this machine's host name: never 0.0.0.0, which would make a peer call itself."""
        if self.api_advertised_url:
            return self.api_advertised_url.rstrip("/")
        host = self.api_host
        if host in ("0.0.0.0", "::", ""):
            host = socket.getfqdn() or socket.gethostname()
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.api_port}"

    @property
    def member_instance_id(self) -> str | None:
        """The group.instance.id this worker joins with: SALES_GROUP_INSTANCE_ID and a digest
        of the advertised URL, or None (a dynamic member). Faust's assignor hands a static
        member that rejoins the assignment it had, URLs included, and fails on one whose URL
        moved: a worker back on another URL is a new member, which waits out the old one's
        session as a dynamic member does."""
        if not self.group_instance_id:
            return None
        digest = hashlib.sha256(self.advertised_url.encode()).hexdigest()[:12]
        return f"{self.group_instance_id}-{digest}"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone_name)

    @property
    def retention_rule(self) -> Retention:
        """SALES_RETENTION as the fold, the API and the publisher apply it."""
        return Retention(self.retention, self.tz)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        tz_name = _timezone(env)
        base = _base_currency(env)
        fx_path = Path(env.get("SALES_FX_RATES") or DEFAULT_FX_RATES)
        app_id = _app_id(env)
        topics = _topics(env, app_id)
        security = _security(env)
        port = _int(env, "SALES_API_PORT", 6066, maximum=MAX_PORT)
        token = _token(env)
        return cls(
            kafka_bootstrap=_bootstrap(env),
            api_port=port,
            api_host=env.get("SALES_API_HOST") or "127.0.0.1",
            timezone_name=tz_name,
            base_currency=base,
            fx_rates_path=fx_path,
            late_grace=_late_grace(env),
            retention=_retention(env),
            max_clock_skew=parse_duration(
                "SALES_MAX_CLOCK_SKEW", env.get("SALES_MAX_CLOCK_SKEW") or "PT1H"
            ),
            at_risk_pace=_float(env, "SALES_AT_RISK_PACE", 0.8, maximum=1.0),
            max_payload_bytes=_int(env, "SALES_MAX_PAYLOAD_BYTES", 65536, maximum=MAX_PAYLOAD),
            topic_partitions=_int(env, "SALES_TOPIC_PARTITIONS", 8),
            replication_factor=_int(env, "SALES_TOPIC_REPLICATION", 1),
            app_id=app_id,
            data_dir=Path(env.get("SALES_DATA_DIR") or f"var/worker-{port}"),
            store=_store(env),
            metrics_rep_label=_bool(env, "SALES_METRICS_REP_LABEL", True),
            performance_min_interval=_float(env, "SALES_PERFORMANCE_MIN_INTERVAL", 1.0),
            evaluation_interval=_float(env, "SALES_EVALUATION_INTERVAL", 60.0, minimum=0.1),
            alert_settle=_float(env, "SALES_ALERT_SETTLE", 5.0),
            commit_interval=_float(env, "SALES_COMMIT_INTERVAL", 1.0, minimum=0.05),
            stop_timeout=_float(env, "SALES_STOP_TIMEOUT", 30.0, minimum=1.0),
            internal_purge_interval=_float(env, "SALES_INTERNAL_PURGE_INTERVAL", 30.0, minimum=0.1),
            store_memory_bytes=_int(
                env, "SALES_STORE_MEMORY_BYTES", STORE_BUDGET_BYTES, minimum=MIN_STORE_BUDGET_BYTES
            ),
            changelog_snapshot_bytes=_int(
                env, "SALES_CHANGELOG_SNAPSHOT_BYTES", SNAPSHOT_MIN_BYTES, minimum=1024
            ),
            topics=topics,
            kafka_security=security,
            api_advertised_url=_url(env, "SALES_API_ADVERTISED_URL"),
            deadletter_max_bytes=_int(
                env, "SALES_DEADLETTER_MAX_BYTES", DEADLETTER_MAX_BYTES, minimum=4096
            ),
            api_token=token,
            api_token_protects=_protects(env, token),
            api_max_connections=_int(env, "SALES_API_MAX_CONNECTIONS", 512),
            api_idle_timeout=_float(env, "SALES_API_IDLE_TIMEOUT", 30.0, minimum=1.0),
            metrics_max_scopes=_int(env, "SALES_METRICS_MAX_SCOPES", DEFAULT_METRICS_MAX_SCOPES),
            metrics_max_breakdown=_int(
                env, "SALES_METRICS_MAX_BREAKDOWN", DEFAULT_METRICS_MAX_BREAKDOWN
            ),
            group_instance_id=_group_instance_id(env),
            session_timeout=_session_timeout(env),
        )
