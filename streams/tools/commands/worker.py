"""`salespulse worker`: one stream-processing worker (Faust) with the HTTP API."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
from aiokafka.errors import (
    BrokerResponseError,
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    InvalidPartitionsError,
    InvalidReplicationFactorError,
    InvalidTopicError,
    KafkaError,
    PolicyViolationError,
    TopicAuthorizationFailedError,
)

from streams.tools.commands.options import add_loglevel_argument, seconds
from streams.worker.kafka_options import diagnose
from streams.worker.settings import Settings, SettingsError

EXAMPLE = """example:
  salespulse worker                        # Kafka on 127.0.0.1:9092, API on :6066
  SALES_API_PORT=6067 salespulse worker    # a second worker on the same machine
"""

log = logging.getLogger("salespulse.worker")


def log_fold_build() -> None:
    """Say whether the fold runs compiled: a build without a C compiler falls back to Python,
    which works the same, only slower, and only this line tells the operator."""
    from streams import fold_is_compiled

    if fold_is_compiled():
        log.info("the fold runs compiled (mypyc)")
    else:
        log.warning(
            "the fold runs as Python, not compiled: it works the same, only slower (README, "
            "Performance). Install the package where a C compiler is found (README, "
            "Development) to compile it"
        )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "worker",
        help="run a stream-processing worker with the HTTP API and /metrics",
        description="Run one salespulse worker. Configuration comes from environment "
        "variables (see README.md); more workers with the same SALES_APP_ID share the load.",
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_loglevel_argument(parser)
    parser.add_argument(
        "--wait-for-kafka",
        type=seconds,
        default=60.0,
        metavar="SECONDS",
        help="how long to wait for the broker at start-up (default 60)",
    )
    parser.set_defaults(func=run)


#: room left in a dead-letter topic's max.message.bytes for the record batch's own overhead
DEADLETTER_OVERHEAD = 1024


async def _topics_ready(settings: Settings) -> Settings:
    """Create missing topics, check the app's own, and fit dead letters to their topic's
    max.message.bytes; the checks share one admin connection."""
    from aiokafka.admin import AIOKafkaAdminClient

    from streams.worker.kafka_options import kafka_options
    from streams.worker.topics import (
        changelog_topic,
        ensure_topics,
        message_limit,
        topic_configs,
    )

    admin = AIOKafkaAdminClient(**kafka_options(settings))
    try:
        await admin.start()
        await _check_legacy_internal_topic(settings, admin)
        # before the internal topic is created: made with SALES_TOPIC_PARTITIONS beside a
        # changelog of another count, the advice to set that count was then refused too
        await _check_partitions(settings, admin)
        await ensure_topics(settings)
        # the topics and their configurations, asked once for every check below
        existing = set(await admin.list_topics())
        t = settings.topics
        ours = (changelog_topic(settings), t.scopes, t.targets, t.performance, t.deadletter)
        configs = await topic_configs(admin, [topic for topic in ours if topic in existing])
        commits = await admin.list_consumer_group_offsets(settings.app_id)
        await _check_changelog(settings, existing, commits)
        await _check_internal_backlog(settings, commits)
        _check_retention(settings, configs)
        purge = _check_internal_retention(settings, configs)
        _check_message_limits(settings, configs)
        limit = message_limit(configs.get(t.deadletter))
        cluster = await admin.describe_cluster()
        await _check_session_timeout(settings, admin, cluster)
    finally:
        await admin.close()
    cluster_id = cluster.get("cluster_id")
    settings = replace(settings, kafka_cluster_id=cluster_id, internal_purge=purge)
    if limit is not None and limit - DEADLETTER_OVERHEAD < settings.deadletter_max_bytes:
        fitted = max(limit - DEADLETTER_OVERHEAD, 1024)
        log.info("dead letters cut to %d bytes (max.message.bytes of the topic)", fitted)
        return replace(settings, deadletter_max_bytes=fitted)
    return settings


async def _check_session_timeout(settings: Settings, admin: Any, cluster: dict[str, Any]) -> None:
    """Refuse to start with a session the broker would refuse (streams.worker.group_session)."""
    from streams.worker.group_session import broker_session_bounds, session_refusal

    brokers = cluster.get("brokers") or []
    if not brokers:
        return
    bounds = await broker_session_bounds(admin, brokers[0]["node_id"])
    refusal = session_refusal(settings.session_timeout, bounds)
    if refusal is not None:
        raise SystemExit(f"salespulse worker: {refusal}")


async def _check_legacy_internal_topic(settings: Settings, admin: Any) -> None:
    """Refuse to start while this app's records wait on the internal topic it used before
    the topic was named after SALES_APP_ID: started, the worker would never fold them."""
    from streams.worker.topics import LEGACY_SCOPES_TOPIC, legacy_internal_backlog

    waiting = await legacy_internal_backlog(settings, admin)
    if waiting:
        raise SystemExit(
            f"salespulse worker: {waiting} records of consumer group {settings.app_id!r} wait "
            f"on {LEGACY_SCOPES_TOPIC}, the internal topic of versions before 2026-12-05; this "
            f"version reads {settings.topics.scopes}. Set SALES_TOPIC_SCOPES="
            f"{LEGACY_SCOPES_TOPIC} to keep the old topic (README, Upgrading), or let a "
            "worker of the previous version fold them first."
        )
    if waiting == 0:
        log.info(
            "the internal topic is now %s (was %s, with nothing left to fold there)",
            settings.topics.scopes,
            LEGACY_SCOPES_TOPIC,
        )


async def _check_partitions(settings: Settings, admin: Any) -> None:
    """Refuse to start when the app's state topics have another partition count than
    SALES_TOPIC_PARTITIONS, or than each other: every scope would be looked for on the
    wrong partition."""
    from streams.worker.topics import app_topic_partitions

    counts = await app_topic_partitions(settings, admin)
    if len(set(counts.values())) > 1:
        found = ", ".join(f"{topic} has {count}" for topic, count in sorted(counts.items()))
        raise SystemExit(
            f"salespulse worker: the app's own topics disagree on their partitions ({found}):"
            " its state cannot be read whatever SALES_TOPIC_PARTITIONS says. Fold the input "
            "again under a new SALES_APP_ID (README, Reprocessing)."
        )
    for topic, count in counts.items():
        if count != settings.topic_partitions:
            raise SystemExit(
                f"salespulse worker: {topic} has {count} partitions, but "
                f"SALES_TOPIC_PARTITIONS is {settings.topic_partitions}. The state is "
                f"partitioned by the count it was created with: set SALES_TOPIC_PARTITIONS="
                f"{count}, or fold the input again under a new SALES_APP_ID to change it "
                "(README, Reprocessing)."
            )


async def _check_changelog(settings: Settings, existing: set[str], commits: dict[Any, Any]) -> None:
    """Refuse to start on a changelog that lost records the group's commits recorded
    (streams.worker.changelog_watermark): the state would be restored without them. Say
    why the input is read again when the group lost its commits but not its state."""
    from streams.worker import changelog_watermark
    from streams.worker.topics import changelog_topic, partition_offsets

    topic = changelog_topic(settings)
    if not commits and topic in existing:
        partitions = range(settings.topic_partitions)
        held = sum((await partition_offsets(settings, topic, partitions, end=True)).values())
        if held:
            log.warning(changelog_watermark.commits_gone_warning(settings.app_id, topic, held))
    furthest = changelog_watermark.recorded(
        (tp.partition, meta.metadata)
        for tp, meta in commits.items()
        if tp.partition < settings.topic_partitions
    )
    if not furthest:
        return
    ends = dict.fromkeys(furthest, 0)  # a changelog deleted (Faust makes it anew) holds nothing
    if topic in existing:
        ends = await partition_offsets(settings, topic, furthest, end=True)
    losses = changelog_watermark.lost_partitions(furthest, ends)
    if losses:
        raise SystemExit(changelog_watermark.refusal(topic, settings.app_id, losses))


async def _check_internal_backlog(settings: Settings, commits: dict[Any, Any]) -> None:
    """Refuse to start when records of the internal topic were deleted before the group
    folded them (streams.worker.internal_loss)."""
    from streams.worker import internal_loss
    from streams.worker.topics import partition_offsets

    topic = settings.topics.scopes
    committed = {tp.partition: meta.offset for tp, meta in commits.items() if tp.topic == topic}
    if not committed:
        return
    starts = await partition_offsets(settings, topic, committed, end=False)
    gaps = internal_loss.deleted_unread(committed, starts)
    if gaps:
        raise SystemExit(internal_loss.refusal(topic, settings.app_id, gaps))


def _check_retention(settings: Settings, configs: dict[str, Any]) -> None:
    """Refuse to start on a changelog Kafka may delete by age or size; say so of a targets
    or performance topic (streams.worker.topic_retention). `configs`: of each topic that
    exists and was described."""
    from streams.worker import topic_retention
    from streams.worker.topics import changelog_topic

    changelog = changelog_topic(settings)
    for topic in (changelog, settings.topics.targets, settings.topics.performance):
        if topic not in configs:
            continue  # Faust creates the changelog compacted; ensure_topics made the others
        deletion = topic_retention.deletes_records(configs[topic])
        if deletion is None:
            continue
        if topic == changelog:
            raise SystemExit(topic_retention.changelog_refusal(topic, deletion))
        log.warning(topic_retention.reader_warning(topic, deletion))


def _check_internal_retention(settings: Settings, configs: dict[str, Any]) -> bool:
    """Whether the worker deletes the internal topic's folded records itself: when the topic
    keeps them for ever, as the worker creates it (streams.worker.internal_purge). Refuse
    one that compacts; say of one that deletes by age or size that it may lose records."""
    from streams.worker import topic_retention

    topic = settings.topics.scopes
    found = configs.get(topic)
    if found is None:  # not described (not allowed?): left to its retention
        return False
    if "compact" in topic_retention.policies(found):
        raise SystemExit(topic_retention.internal_refusal(topic, found["cleanup.policy"]))
    deletion = topic_retention.deletes_records(found)
    if deletion is not None:
        log.warning(topic_retention.internal_warning(topic, deletion))
    return topic_retention.kept_for_ever(found)


def _check_message_limits(settings: Settings, configs: dict[str, Any]) -> None:
    """Refuse to start on a changelog or internal topic whose max.message.bytes cannot take
    the worker's largest frame or envelope (streams.worker.message_limits)."""
    from streams.worker.message_limits import too_small
    from streams.worker.topics import changelog_topic, message_limit

    for topic, role in (
        (changelog_topic(settings), "changelog"),
        (settings.topics.scopes, "internal"),
    ):
        if topic in configs:
            refusal = too_small(topic, message_limit(configs[topic]), role)
            if refusal is not None:
                raise SystemExit(refusal)


#: a topic the broker will never create as asked: said at once, not waited for
CANNOT_CREATE = (
    InvalidReplicationFactorError,
    InvalidPartitionsError,
    InvalidTopicError,
    PolicyViolationError,
)


#: Kafka refused the worker's principal something: waiting does not grant it
REFUSED = (
    TopicAuthorizationFailedError,
    GroupAuthorizationFailedError,
    ClusterAuthorizationFailedError,
)


def _refused(settings: Settings, exc: KafkaError) -> str:
    user = settings.kafka_security.username
    principal = f"User:{user}" if user else "User:<the worker's principal>"
    return (
        f"salespulse worker: Kafka at {settings.kafka_bootstrap} refused the worker's user "
        f"{user or '(no SASL user)'} ({exc}). A cluster that authorizes requests needs ACLs "
        f"for it: `salespulse acls --principal {principal}` lists them, and with --apply "
        "creates them as an admin (README, Kafka connection and security)."
    )


def _prepare_kafka(settings: Settings, wait: float) -> Settings:
    """Create the topics, waiting up to `wait` seconds for the broker; says once that it
    waits and why (the Kafka client's own line per attempt is held back, repeated_logs)."""
    deadline = time.monotonic() + wait
    waiting = False
    while True:
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(_topics_ready(settings))
        except CANNOT_CREATE as exc:  # waiting cannot help either
            raise SystemExit(
                f"salespulse worker: Kafka at {settings.kafka_bootstrap} refused to create a "
                f"topic: {exc}. With SALES_TOPIC_REPLICATION={settings.replication_factor} and "
                f"SALES_TOPIC_PARTITIONS={settings.topic_partitions}, the cluster needs as many "
                "brokers as replicas; see the broker's log for its policy, or create the "
                "topics yourself (README, Topics)."
            ) from None
        except REFUSED as exc:
            raise SystemExit(_refused(settings, exc)) from None
        except (TimeoutError, KafkaError, OSError) as exc:  # not a bug of ours
            reason, why = loop.run_until_complete(diagnose(settings))
            if reason is not None:  # retrying cannot help
                raise SystemExit(
                    f"salespulse worker: Kafka refused the connection: {reason}"
                ) from None
            answered = isinstance(exc, BrokerResponseError)
            last = time.monotonic() > deadline
            if last:
                raise SystemExit(_not_ready(settings, exc, wait, answered, why)) from None
            if not waiting:
                waiting = True
                _say_waiting(settings, exc, wait, answered, why)
            time.sleep(1.0)
        finally:
            loop.close()


def _not_ready(
    settings: Settings, exc: BaseException, wait: float, answered: bool, why: str | None
) -> str:
    if answered:
        return (
            f"salespulse worker: Kafka at {settings.kafka_bootstrap} answered but was not "
            f"ready within {wait:.0f} s ({exc}). See the broker's log, or give it longer "
            "with --wait-for-kafka."
        )
    advice = why or "Start it with `make kafka-up` or set KAFKA_BOOTSTRAP."
    return (
        f"salespulse worker: Kafka at {settings.kafka_bootstrap} did not answer within "
        f"{wait:.0f} s ({exc}). {advice}"
    )


def _say_waiting(
    settings: Settings, exc: BaseException, wait: float, answered: bool, why: str | None
) -> None:
    # a broker that answers is running: a new one elects its coordinators first, which
    # takes it a few seconds
    advice = "" if answered else why or "Is the broker running (`make kafka-up`)?"
    log.warning(
        "Kafka at %s (KAFKA_BOOTSTRAP) %s (%s); retrying for up to %.0f s (--wait-for-kafka). %s",
        settings.kafka_bootstrap,
        "answers but is not ready yet" if answered else "does not answer yet",
        exc,
        wait,
        advice,
    )


RUNNING_MARKER = "salespulse.running"
#: whose state the data dir holds: the app id and the Kafka cluster it was folded from
OWNER_FILE = "salespulse.owner"


#: Faust's own variables that the README named before the worker stopped Faust reading
#: the environment (runtime.faust_app): what to set instead
UNREAD_VARIABLES = {
    "BROKER_SESSION_TIMEOUT": "SALES_SESSION_TIMEOUT",
    "BROKER_HEARTBEAT_INTERVAL": "SALES_SESSION_TIMEOUT (heartbeats: a tenth of it, 3 s at most)",
}


def _say_unread_variables(env: Mapping[str, str]) -> None:
    for name, instead in UNREAD_VARIABLES.items():
        if env.get(name):
            log.warning("%s is set but no longer read: set %s", name, instead)


def _check_data_dir(data_dir: Path) -> None:
    """Fail at once, before waiting for Kafka, when the data dir cannot be used."""
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise PermissionError(13, "not writable")
    except OSError as exc:
        raise SystemExit(
            f"salespulse worker: cannot keep its local state in {data_dir} (SALES_DATA_DIR): "
            f"{exc.strerror or exc}. Point SALES_DATA_DIR at a writable directory."
        ) from None


def _check_api_address(settings: Settings) -> None:
    """Fail at once, before waiting for Kafka, when the API cannot listen where it is told:
    Faust found out after joining the group, with a traceback."""
    host, port = settings.api_host, settings.api_port
    where = f"{host}:{port} (SALES_API_HOST, SALES_API_PORT)"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (OSError, UnicodeError) as exc:
        raise SystemExit(
            f"salespulse worker: cannot serve the API on {where}: {host!r} is not an address "
            f"of this machine ({exc}). Set SALES_API_HOST to one, e.g. 127.0.0.1 or 0.0.0.0."
        ) from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as aiohttp binds
        try:
            probe.bind(address)
        except OSError as exc:
            hint = (
                "Another worker on this machine? Give this one another SALES_API_PORT."
                if exc.errno == errno.EADDRINUSE
                else "Set SALES_API_HOST to an address of this machine, e.g. 127.0.0.1."
            )
            raise SystemExit(
                f"salespulse worker: cannot serve the API on {where}: {exc.strerror}. {hint}"
            ) from None


def _prepare_data_dir(settings: Settings) -> Path:
    """Claim the data dir; discard the local state it holds after an unclean stop, or when
    it belongs to another app id or Kafka cluster.

    Faust writes a table record to the local RocksDB before its changelog record reaches
    Kafka, so after a crash the local store can hold records the changelog never got. The
    changelog is the truth: discarding the local copy makes recovery rebuild exactly what
    Kafka has, and the input replay then repairs the rest (see README, "Why nothing is lost").
    Another app's state (or one of another cluster, a broker set up anew) holds changelog
    offsets this app's changelog never reached: Faust stopped on them ("ConsistencyError:
    The persisted offset ... is higher than the last offset in that topic").
    """
    data_dir = settings.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / RUNNING_MARKER
    if marker.exists():
        pid = marker.read_text().strip()
        if pid.isdigit() and _alive(int(pid)):
            raise SystemExit(
                f"salespulse worker: {data_dir} is in use by process {pid}; give each worker "
                "its own SALES_DATA_DIR (it defaults to var/worker-<SALES_API_PORT>)"
            )
        _discard_local_state(data_dir, "the previous worker on it did not stop cleanly")
    owner_file = data_dir / OWNER_FILE
    owner = orjson.dumps({"app_id": settings.app_id, "kafka_cluster": settings.kafka_cluster_id})
    held = owner_file.read_bytes() if owner_file.exists() else None
    if held is not None and held != owner:
        _discard_local_state(data_dir, f"it holds the state of {held.decode(errors='replace')}")
    owner_file.write_bytes(owner)  # a data dir of an earlier version: its state is kept
    marker.write_text(str(os.getpid()))
    return marker


def _discard_local_state(data_dir: Path, why: str) -> None:
    log.warning(
        "discarding the local state in %s (SALES_DATA_DIR): %s; it is restored from the "
        "changelog topic",
        data_dir,
        why,
    )
    for child in data_dir.iterdir():
        if child.name in (RUNNING_MARKER, OWNER_FILE):
            continue
        if child.is_dir():
            shutil.rmtree(child)
        else:
            child.unlink()


def _alive(pid: int) -> bool:
    """Does process `pid` run? A zombie does not: a worker SIGKILLed by a parent that has
    not reaped it yet (a supervisor script) kept its data dir "in use" until it did."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # no procfs: kill's answer stands
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class _Stopped(Exception):
    """SIGTERM or Ctrl-C before Faust's own handlers are in place."""


@contextmanager
def _stoppable() -> Iterator[None]:
    """While the worker waits for Kafka, SIGTERM and Ctrl-C stop it cleanly (exit 0), as
    they do once it runs: a traceback for Ctrl-C, death by the signal (143) for SIGTERM."""

    def stop(signum: int, frame: object) -> None:
        raise _Stopped

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    except KeyboardInterrupt:
        raise _Stopped from None
    finally:
        signal.signal(signal.SIGTERM, previous)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.loglevel.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from streams.worker.repeated_logs import hold_back_repeats
    from streams.worker.skipped_records import say_skipped_records

    # waiting for the broker, before Faust sets up its own handlers (wiring does it there)
    hold_back_repeats(logging.getLogger())
    say_skipped_records()  # a logger's filter: it stays when Faust replaces the handlers
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"salespulse worker: {exc}", file=sys.stderr)
        return 2
    _say_unread_variables(os.environ)
    _check_data_dir(settings.data_dir)
    _check_api_address(settings)
    try:
        with _stoppable():
            settings = _prepare_kafka(settings, args.wait_for_kafka)
    except _Stopped:
        print("salespulse worker: stopped while waiting for Kafka", file=sys.stderr)
        return 0
    asyncio.set_event_loop(asyncio.new_event_loop())

    from streams.worker.garbage_collection import tune_collector
    from streams.worker.thread_errors import log_thread_exceptions
    from streams.worker.wiring import SalesWorker, build_runtime

    marker = _prepare_data_dir(settings)
    log_fold_build()
    tune_collector()
    log_thread_exceptions()
    runtime = build_runtime(settings)
    worker = SalesWorker(runtime.app, settings=settings, loglevel=args.loglevel, quiet=True)
    clean = False
    try:
        worker.execute_from_commandline()
        clean = True
    except SystemExit as exc:
        clean = exc.code in (0, None)
        raise
    finally:
        if clean:
            marker.unlink(missing_ok=True)
            # Faust's last lines ("Closing event loop") do not say whether anything was lost
            print(
                "salespulse worker: stopped cleanly: what it folded is committed, and its "
                "next start goes on from its local state",
                file=sys.stderr,
            )
    return 0
