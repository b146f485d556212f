"""The Faust application: topics, the scopes table and the shared runtime objects.

Thin wiring only. Logic lives in streams.domain and streams.engine; streams.worker.wiring
attaches the batch handler, the timers and the HTTP API.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import TP
from prometheus_client import CollectorRegistry

from streams.domain.money import FxRates
from streams.domain.validation import EventDecoder
from streams.domain.vocabulary import INPUT_KINDS
from streams.engine.processor import ScopeProcessor
from streams.engine.queries import target_evaluations
from streams.engine.rollups import APPLIED_KINDS, Views
from streams.engine.state import (
    ALERT_OUTBOX,
    FOLD_SETTINGS,
    UNPUBLISHED,
    decode_value,
    parse_key,
)
from streams.worker.alert_outbox import AlertOutbox
from streams.worker.alignment import PartitionClock
from streams.worker.delivery import BatchApp
from streams.worker.framed_store import FramedRocksDBStore, framed_store_class
from streams.worker.garbage_collection import collections_held, freeze_long_lived
from streams.worker.held_decodes import HeldDecodes
from streams.worker.kafka_contact import KafkaContact
from streams.worker.kafka_options import faust_credentials
from streams.worker.last_activity import LastActivities
from streams.worker.medians import medians_for
from streams.worker.metrics import BusinessCollector, PipelineMetrics
from streams.worker.outgoing import PRODUCER_REQUEST_BYTES
from streams.worker.partition_store import PartitionStore
from streams.worker.partitioning import partition_of
from streams.worker.peers import Peers
from streams.worker.performance_publisher import PendingPublishes
from streams.worker.settings import Settings
from streams.worker.store_memory import StoreMemory
from streams.worker.stream_times import CommittableStreamTimes, recall
from streams.worker.topics import SCOPES_TABLE, durability
from streams.worker.unpublished import UnpublishedRecords
from streams.worker.write_behind import WriteBehind

log = logging.getLogger(__name__)

#: the exit status of a worker whose settings differ from those its state was folded with
#: (sysexits' EX_CONFIG)
EXIT_SETTINGS = 78


def check_fold_settings(settings: Settings, partition: int, raw: bytes) -> None:
    """Stop the worker, before it folds or serves anything, when a partition of its state
    was folded with another time zone or base currency: its hours, days and money would be
    read wrong, and a wrong figure is worse than a stopped worker."""
    stored = decode_value(FOLD_SETTINGS, raw)
    differences = stored.differences(settings.tz.key, settings.base_currency)
    if not differences:
        return
    log.critical(
        "stopping the worker: partition %d of its state was folded with other settings "
        "(%s), so its hours, days and money cannot be read with these. Nothing was folded "
        "or committed. Set them back, or fold the input again under a new SALES_APP_ID "
        "(README, Reprocessing).",
        partition,
        "; ".join(differences),
    )
    logging.shutdown()
    os._exit(EXIT_SETTINGS)


class ScopesTable(faust.Table):  # type: ignore[misc]
    """The one state table; rebuilds this worker's views each time recovery completes."""

    runtime: Runtime

    def _new_store_by_url(self, url: Any) -> Any:
        """Faust's store for the URL, recovering from the framed changelog; a RocksDB one
        within the worker's memory budget."""
        store = framed_store_class(str(url))(
            url,
            self.app,
            self,
            table_name=self.name,
            key_type=self.key_type,
            key_serializer=self.key_serializer,
            value_serializer=self.value_serializer,
            value_type=self.value_type,
            loop=self.loop,
            options=self.options,
        )
        if isinstance(store, FramedRocksDBStore):
            store.bound_memory(self.runtime.store_memory)
        return store

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        await super().on_recovery_completed(active_tps, standby_tps)
        if await self.runtime.rebuild_views(active_tps):
            await self.runtime.rewind_uncommitted()
            await self.runtime.recall_stream_times()


#: input records per fetched batch, at most. Twice as many would share the per-batch work
#: (medians, memberships) among more events, 8 % fewer instructions for the fold of wide data,
#: but the event loop (the API, /metrics) waits for a partition's whole fold while draining a
#: backlog: the longest stall of an instrumented wide run went from 0.65 s to 1.40 s.
MAX_POLL_RECORDS = 8000
#: table records a rebuild of the views reads between two yields to the event loop (some
#: 20-40 ms of work): heartbeats, probes and scrapes go on while a long history rebuilds
REBUILD_YIELD_RECORDS = 10_000
#: state records held between checkpoints before one is taken early (memory bound)
MAX_HELD_RECORDS = 200_000
#: how often the consumer refreshes topic metadata: partitions added to an input topic
#: are read at most this long after (a metadata request each time, nothing more)
METADATA_MAX_AGE_MS = 30_000
#: bytes the producer gathers per partition into one record batch (aiokafka's default)
PRODUCER_BATCH_BYTES = 16384
#: seconds the consumer waits for a broker's answer (Faust's default)
DEFAULT_REQUEST_TIMEOUT = 90.0


def faust_app(s: Settings) -> faust.App:
    """The Faust app: raw bytes everywhere, at-least-once, one table, the API on its web.

    Faust reads none of the environment (`env={}`): it would take its own variables over
    these settings, and some are names other software sets (Kubernetes gives every pod
    `WEB_PORT=tcp://...` for a Service named `web`, which stopped the worker at start)."""
    return BatchApp(
        s.app_id,
        env={},
        broker=f"kafka://{s.kafka_bootstrap}",
        store=s.store,
        datadir=str(s.data_dir),
        topic_partitions=s.topic_partitions,
        topic_replication_factor=s.replication_factor,
        topic_allow_declare=True,
        key_serializer="raw",
        value_serializer="raw",
        web_enabled=True,
        web_port=s.api_port,
        web_bind=s.api_host,
        web_host=s.api_host,
        canonical_url=s.advertised_url,
        table_standby_replicas=0,
        processing_guarantee="at_least_once",
        broker_commit_interval=s.commit_interval,
        stream_buffer_maxsize=65536,
        consumer_auto_offset_reset="earliest",
        # partitions added to an input topic are read within this; at aiokafka's default
        # (5 minutes) their records waited that long, unseen by the lag gauge and /v1/status
        consumer_metadata_max_age_ms=METADATA_MAX_AGE_MS,
        producer_linger=0.005,
        producer_max_batch_size=PRODUCER_BATCH_BYTES,
        # larger batches write each team and membership record once for more events (two
        # 60,000-event wide runs each: 2,134 and 2,150 events/s to queryable at 8,000 against
        # 1,455 and 1,723 at 2,000); the fold still yields between partitions
        broker_max_poll_records=MAX_POLL_RECORDS,
        consumer_max_fetch_size=4 * 1024 * 1024,
        producer_max_request_size=PRODUCER_REQUEST_BYTES,
        broker_credentials=faust_credentials(s.kafka_security),
        web_in_thread=False,
        consumer_group_instance_id=s.member_instance_id,
        broker_session_timeout=s.session_timeout,
        broker_heartbeat_interval=heartbeat_interval(s.session_timeout),
        # Faust refuses a session longer than its request timeout (90 s by default)
        broker_request_timeout=max(DEFAULT_REQUEST_TIMEOUT, s.session_timeout + 30.0),
    )


def heartbeat_interval(session_timeout: float) -> float:
    """Faust's 3 s, and a tenth of a shorter session: a few missed heartbeats (a busy
    event loop) must not end the session."""
    return min(3.0, session_timeout / 10)


class Runtime:
    """Everything a worker holds: app, topics, table, views, processor and metrics."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.fx = FxRates.load(settings.fx_rates_path, settings.base_currency)
        self.decoder = EventDecoder(
            known_currencies=self.fx.known,
            max_payload_bytes=settings.max_payload_bytes,
            max_clock_skew=settings.max_clock_skew,
        )
        self.views = Views(settings.tz)
        self.processor = ScopeProcessor(
            views=self.views,
            fx=self.fx,
            tz=settings.tz,
            late_grace_seconds=settings.late_grace.total_seconds(),
            at_risk_pace=settings.at_risk_pace,
            retention=settings.retention_rule,
            alert_settle_seconds=settings.alert_settle,
        )
        self.ready = False
        self.rebuilds = 0  # of the views, begun: one that a newer one overtook stops
        #: whether Kafka answers (timers.watch_kafka_contact sets it), for /healthz
        self.kafka: KafkaContact | None = None
        #: the input is behind (batch_handler.is_backlogged): the publisher steps back
        self.backlogged = False
        #: (topic, partition) -> next offset to process, for the consumer lag gauge
        self.positions: dict[tuple[str, int], int] = {}
        self.partition_clock: PartitionClock[TP] = PartitionClock()  # (ingest_inputs)
        #: input partition number -> the latest event time read here (if its internal
        #: partition is elsewhere) or recalled from the group's commits (stream_times)
        self.read_stream_times: dict[int, float] = {}
        #: input partitions' stream times as of checkpoints, for the commits (stream_times)
        self.committable_stream_times = CommittableStreamTimes()
        #: the items of input records handed back, decoded once (ingest_inputs)
        self.held_decodes = HeldDecodes()
        #: what batches sent since the last checkpoint (Outgoing), awaited by the next one
        self.undelivered: list[Any] = []
        #: (scope, period) whose figures changed and are not on sales.performance yet
        self.pending = PendingPublishes()
        self.unpublished = UnpublishedRecords()  # what checkpoints keep of `pending`
        self.alert_outbox = AlertOutbox()  # alerts sent once the state marking them is in
        #: (topic, partition) label pairs of the consumer lag gauge currently exported
        self.lag_series: set[tuple[str, str]] = set()
        self.worker_id = f"{socket.gethostname()}:{settings.api_port}"
        self._metrics()
        self.app = faust_app(settings)
        s = settings
        t = s.topics
        self.inputs = {kind: self._topic(getattr(t, kind)) for kind in INPUT_KINDS}
        self.scopes_topic = self._topic(t.scopes)
        self.alerts_topic = self._topic(t.alerts)
        self.deadletter_topic = self._topic(t.deadletter)
        self.table: Any = self._scopes_table()
        #: what the fold changed since the last checkpoint
        self.state = WriteBehind(
            PartitionStore(self.table),
            max_records=MAX_HELD_RECORDS,
            snapshot_min_bytes=s.changelog_snapshot_bytes,
        )
        self.peers = Peers(self.app, SCOPES_TABLE, self.partition_of, token=settings.api_token)

    def _metrics(self) -> None:
        """The registry /metrics serves: the counters batches update, and the collectors
        that read the views at each scrape."""
        settings, topics = self.settings, self.settings.topics
        self.registry = CollectorRegistry()
        self.metrics = PipelineMetrics(self.registry, self.worker_id, settings.metrics_max_scopes)
        self.metrics.start_at_zero(
            (topics.activities, topics.deals, topics.feedback), topics.targets
        )
        self.last_activity = LastActivities(
            self.views, self.metrics.budget, lambda: self.ready, enabled=settings.metrics_rep_label
        )
        self.collector = BusinessCollector(
            self.views,
            settings,
            self.evaluations,
            ready=lambda: self.ready,
            home_team=self.last_activity.team_of,
        )
        self.registry.register(self.collector)
        self.registry.register(self.last_activity)

    def _scopes_table(self) -> Any:
        #: every RocksDB database of the table shares it (SALES_STORE_MEMORY_BYTES)
        self.store_memory = StoreMemory(self.settings.store_memory_bytes)
        self.metrics.watch_store_memory(self.store_memory)
        table = ScopesTable(
            app=self.app,
            name=SCOPES_TABLE,
            partitions=self.settings.topic_partitions,
            key_type=bytes,
            value_type=bytes,
            help="Per-scope state of reps, teams and deals",
            # its changelog, as Faust makes it: a state record is never cut, and one larger
            # than Kafka's default message limit (1 MiB) would stop the worker, so the topic
            # takes what the producer sends (message_limits; an older changelog keeps its own)
            extra_topic_configs={
                **durability(self.settings),
                "max.message.bytes": str(PRODUCER_REQUEST_BYTES),
            },
        )
        table.runtime = self
        return self.app.tables.add(table)

    def _topic(self, name: str) -> Any:
        return self.app.topic(
            name,
            key_type=bytes,
            value_type=bytes,
            key_serializer="raw",
            value_serializer="raw",
            partitions=self.settings.topic_partitions,
        )

    # -- state ------------------------------------------------------------------------
    def partition_of(self, scope: str) -> int:
        return partition_of(scope, self.settings.topic_partitions)

    async def rebuild_views(self, active_tps: set[TP]) -> bool:
        """Derive the views again from the table after a rebalance: the table is the truth.

        Not ready meanwhile: batches wait (delivery), timers skip, the API answers 503 and
        /metrics leaves the business gauges out, since half-built views would give wrong
        figures. It yields to the event loop every REBUILD_YIELD_RECORDS records: the
        consumer's heartbeats go out from it, and a rebuild longer than the group session
        (60 s) held them all, so the group dropped the worker while it rebuilt. False when
        a rebalance began meanwhile: the recovery that follows it rebuilds again."""
        started = datetime.now(UTC)
        self.ready = False
        # a rebalance during a rebuild changes the stores and starts another rebuild (Faust
        # does not cancel the first): the older one stops at its next yield
        self.rebuilds += 1
        generation = (self.rebuilds, self.app.rebalancing_count)
        table_topic = self.table.changelog_topic.get_topic_name()
        mine = {tp.partition for tp in active_tps if tp.topic == table_topic}
        self.views.clear()
        self.last_activity.clear()
        # nothing is announced to views built anew; every recent document is republished
        # below, measured against the medians each team announces from now on
        self.processor.unannounced.clear()
        self.processor.announcement_lost.clear()
        self.unpublished.read.clear()
        self.alert_outbox.rebuilding()
        # No collection meanwhile: everything built here lives on, a collection would only
        # rescan it (15 % of an in-process rebuild); the freeze collects once.
        with collections_held():
            records = await self._apply_table(mine, generation)
        if records is None:
            log.info("views rebuild for partitions %s stopped: a rebalance began", sorted(mine))
            return False
        self.views.share_member_parts()
        freeze_long_lived()
        self.ready = True
        self.republish_after_rebuild(mine)
        log.info(
            "views rebuilt from %d records of partitions %s in %.2fs",
            records,
            sorted(mine),
            (datetime.now(UTC) - started).total_seconds(),
        )
        return True

    def republish_after_rebuild(self, mine: set[int]) -> None:
        """sales.performance is at least once: what the last checkpoint of these partitions
        still owed (streams.worker.unpublished), and every period an event could still reach
        (owed changes made after that checkpoint are made again: their batches replay). A
        team's last announcement went with the old views: its members republish at its
        next one (ScopeProcessor.members_unannounced)."""
        recent = self.views.recent_scope_periods(
            datetime.now(UTC) - self.settings.late_grace - self.settings.max_clock_skew
        )
        kept = self.unpublished.rebuilt(sorted(mine))
        self.pending.add(sorted({*recent, *kept}))
        self.processor.members_unannounced(
            (self.partition_of(scope), scope, period_id)
            for scope, period_id in sorted(recent)
            if scope.startswith("team:")
        )

    async def _apply_table(self, mine: set[int], generation: tuple[int, int]) -> int | None:
        """Apply each assigned partition's records to the views; the number applied, or
        None once a rebalance or a newer rebuild began. Straight from each partition's
        database: Faust's iteration of the table's items runs three generators a record (a
        quarter of a year's rebuild)."""
        store = PartitionStore(self.table)
        records = read = 0
        for db_partition in sorted(mine):
            for raw_key, raw_value in store.items(db_partition):
                read += 1
                if read % REBUILD_YIELD_RECORDS == 0:
                    await asyncio.sleep(0)
                    if (self.rebuilds, self.app.rebalancing_count) != generation:
                        return None
                key = parse_key(raw_key)
                if key[1] == FOLD_SETTINGS:
                    check_fold_settings(self.settings, key[2], raw_value)
                    continue
                if key[1] == UNPUBLISHED:
                    self.unpublished.found(key[2], key[3], decode_value(UNPUBLISHED, raw_value))
                    continue
                if key[1] == ALERT_OUTBOX:
                    self.alert_outbox.found(key[2], decode_value(ALERT_OUTBOX, raw_value))
                    continue
                if key[1] not in APPLIED_KINDS or not key[0]:
                    continue  # account and stream-time state: no view rolls it up
                partition = self.partition_of(key[0])
                if partition not in mine:
                    continue
                self.views.apply(key, partition, decode_value(key[1], raw_value), raw_value)
                records += 1
        return records

    async def rewind_uncommitted(self) -> None:
        """Start partitions that have no committed offset at their beginning, explicitly.

        While recovery pauses and resumes the flow, Faust's fetcher can take records from
        the client and drop them; it then seeks back to the committed offsets, but a
        partition with no committed offset yet (its previous owner died before its first
        commit) is not sought at all and those records would be skipped. Seeking such
        partitions to offset 0 restores the `earliest` policy (out of range resets to the
        log start).
        """
        consumer: Any = self.app.consumer
        watched = {*self.settings.topics.inputs(), self.settings.topics.scopes}
        committed = await consumer.seek_to_committed()
        for tp in sorted(consumer.assignment()):
            if tp.topic in watched and committed.get(tp) is None:
                await consumer.seek(tp, 0)

    async def recall_stream_times(self) -> None:
        """Before anything assigned is folded (the flow resumes after this): the stream
        times the group's commits recorded for the input partitions assigned, which their
        previous reader, or this worker before a restart, had read."""
        consumer: Any = self.app.consumer
        inputs = set(self.settings.topics.inputs())
        assigned = [tp for tp in consumer.assignment() if tp.topic in inputs]
        if assigned:
            recall(self, await consumer.committed_metadata(assigned))

    def is_ready(self) -> bool:
        """Views rebuilt and no rebalance under way: answers are complete."""
        return self.ready and not self.app.rebalancing

    async def prepare_scrape(self) -> None:
        """Fetch the team medians the quadrant gauges need, from wherever teams are owned."""
        now = datetime.now(UTC)
        self.collector.medians = await medians_for(self, self.collector.wanted_medians(now))

    def kafka_contact(self) -> dict[str, Any] | None:
        return None if self.kafka is None else self.kafka.state()

    def busy_share(self) -> float | None:
        return self.metrics.loop_busy.recent_share()

    async def consumer_state(self) -> dict[str, Any]:
        consumer: Any = self.app.consumer
        state = []
        for tp in sorted(consumer.assignment()):
            state.append(
                {
                    "topic": tp.topic,
                    "partition": tp.partition,
                    "highwater": consumer.highwater(tp),
                    "read_offset": consumer._read_offset.get(tp),
                    "committed": consumer._committed_offset.get(tp),
                    "processed_up_to": self.positions.get((tp.topic, tp.partition)),
                    "paused": tp in consumer._paused_partitions,
                    "active": tp in (consumer._active_partitions or ()),
                    "buffered": tp in consumer._buffered_partitions,
                    "position": consumer.known_position(tp),
                }
            )
        return {
            "flow_active": self.app.flow_control.is_active(),
            "suspended": consumer.suspend_flow.is_set(),
            "rebalancing": self.app.rebalancing,
            "flags": sorted(consumer.diag.flags),
            "partitions": state,
        }

    def evaluations(self, scope: str, now: datetime) -> list[tuple[str, Any]]:
        view = self.views.get(scope)
        if view is None:
            return []
        return target_evaluations(
            view, now=now, tz=self.settings.tz, at_risk_pace=self.settings.at_risk_pace
        )
