"""Peers for `make bench`, each run as its own process on the benchmark's input topics.

    python -m bench.peers aiokafka --bootstrap HOST:PORT --group G --topics T1,T2,T3
    python -m bench.peers quix --bootstrap HOST:PORT --group G --topics T1,T2,T3 --state-dir D

Both run until SIGTERM; the benchmark watches the group's committed offsets on the broker
(never the process itself), as it does for the naive Faust agent and salespulse.
QUIX_BENCH_LOGLEVEL=DEBUG shows what Quix does.

- `aiokafka`: the plain loop, the floor of what Python + Kafka costs. `getmany` up to 20,000
  records with 8 MiB fetches, `orjson.loads` per value, one dict count per
  (rep, day, activity) (deals count under their outcome, feedback as `feedback`), `commit()`
  per batch.
- `quix`: Quix Streams (confluent-kafka / librdkafka underneath): per input topic a
  dataframe, a filter, and a 1-day tumbling window per rep (the record key) on the event
  time (`occurred_at`) with a 60-day grace, reducing to counts by activity type (or deal
  outcome / feedback); RocksDB state with changelog topics; commit every second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from datetime import datetime, timedelta
from typing import Any

import orjson

FETCH_BYTES = 8 * 1024 * 1024
MAX_RECORDS = 20_000
COMMIT_INTERVAL = 1.0  # seconds, as salespulse (SALES_COMMIT_INTERVAL) and the naive agent


async def aiokafka_loop(bootstrap: str, group: str, topics: list[str]) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        *topics,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_bytes=FETCH_BYTES,
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    counts: dict[tuple[str, str, str], int] = {}
    loads = orjson.loads
    await consumer.start()
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=MAX_RECORDS)
            if not batch:
                continue
            for messages in batch.values():
                for message in messages:
                    event = loads(message.value)
                    key = (event["rep_id"], event["occurred_at"][:10], _kind(event))
                    counts[key] = counts.get(key, 0) + 1
            await consumer.commit()
    finally:
        await consumer.stop()


def _event_ms(value: Any, headers: Any, timestamp: float, timestamp_type: Any) -> int:
    return int(datetime.fromisoformat(value["occurred_at"]).timestamp() * 1000)


def _kind(value: dict[str, Any]) -> str:
    return value.get("activity") or value.get("outcome") or "feedback"


def _initial(value: dict[str, Any]) -> dict[str, int]:
    return {_kind(value): 1}


def _reduce(counts: dict[str, int], value: dict[str, Any]) -> dict[str, int]:
    kind = _kind(value)
    counts[kind] = counts.get(kind, 0) + 1
    return counts


def quix_app(bootstrap: str, group: str, topics: list[str], state_dir: str) -> None:
    from quixstreams import Application

    app = Application(
        broker_address=bootstrap,
        consumer_group=group,
        auto_offset_reset="earliest",
        commit_interval=COMMIT_INTERVAL,
        state_dir=state_dir,
        use_changelog_topics=True,
        loglevel=logging.getLevelName(os.environ.get("QUIX_BENCH_LOGLEVEL", "WARNING")),
    )
    frames = [
        app.dataframe(app.topic(name, value_deserializer="json", timestamp_extractor=_event_ms))
        for name in topics
    ]
    # One window per input topic: `concat` into one window store measured 1.7x slower here
    # (its partition time alignment buffers and pauses partitions).
    for sdf in frames:
        sdf = sdf.filter(lambda value: bool(value.get("rep_id")) and "occurred_at" in value)
        sdf = (
            sdf.tumbling_window(timedelta(days=1), grace_ms=timedelta(days=60))
            .reduce(reducer=_reduce, initializer=_initial)
            .final()
        )
    app.run()  # stops cleanly on SIGTERM / SIGINT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.peers")
    parser.add_argument("peer", choices=("aiokafka", "quix"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topics", required=True, help="comma-separated input topics")
    parser.add_argument("--state-dir", default="var/quix-bench")
    args = parser.parse_args(argv)
    topics = args.topics.split(",")
    if args.peer == "aiokafka":
        asyncio.run(aiokafka_loop(args.bootstrap, args.group, topics))
    else:
        quix_app(args.bootstrap, args.group, topics, args.state_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
