"""Baseline for `make bench`: the textbook Faust agent that counts activities.

One agent, ``async for event in stream``, a JSON value, and one table update per event
(``table[f"{rep}:{day}:{activity}"] += 1``): how the Faust documentation teaches it. The
benchmark runs it as a subprocess next to salespulse on the same broker and the same
activity records, with its own app id (so its own consumer group and changelog topic).

Configuration (environment):
    NAIVE_BOOTSTRAP      Kafka bootstrap servers (127.0.0.1:9092)
    NAIVE_APP_ID         faust app id, also the consumer group (naive-bench)
    NAIVE_TOPIC          input topic holding sales.activities records (sales.activities)
    NAIVE_PARTITIONS     partitions of the input topic and of the table (8)
    NAIVE_STORE          faust table store: rocksdb:// or memory:// (rocksdb://)
    NAIVE_DATA_DIR       faust data dir for the RocksDB files (var/naive)
    NAIVE_EXPECT         events to count before the run is marked done (0: never)
    NAIVE_PROGRESS_FILE  JSON progress written every 0.2 s and when done (none)

Run: ``python -m bench.naive_app worker --loglevel warn``.
The progress file holds ``{"count", "started_at", "first_event_at", "done_at"}`` (epoch
seconds, wall clock), which the benchmark polls.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import faust

BOOTSTRAP = os.environ.get("NAIVE_BOOTSTRAP", "127.0.0.1:9092")
APP_ID = os.environ.get("NAIVE_APP_ID", "naive-bench")
TOPIC = os.environ.get("NAIVE_TOPIC", "sales.activities")
PARTITIONS = int(os.environ.get("NAIVE_PARTITIONS", "8"))
STORE = os.environ.get("NAIVE_STORE", "rocksdb://")
DATA_DIR = os.environ.get("NAIVE_DATA_DIR", "var/naive")
EXPECT = int(os.environ.get("NAIVE_EXPECT", "0"))
PROGRESS_FILE = os.environ.get("NAIVE_PROGRESS_FILE")

app = faust.App(
    APP_ID,
    broker=f"kafka://{BOOTSTRAP}",
    store=STORE,
    datadir=DATA_DIR,
    topic_partitions=PARTITIONS,
    web_enabled=False,
    autodiscover=False,
    consumer_auto_offset_reset="earliest",
)
activities = app.topic(TOPIC, value_serializer="json", partitions=PARTITIONS)
counts = app.Table("activity-counts", default=int, partitions=PARTITIONS)

progress: dict[str, Any] = {
    "count": 0,
    "started_at": time.time(),
    "first_event_at": None,
    "done_at": None,
}


def write_progress() -> None:
    if not PROGRESS_FILE:
        return
    path = Path(PROGRESS_FILE)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(progress))
    tmp.replace(path)


@app.agent(activities)
async def count_activities(stream: Any) -> None:
    async for event in stream:
        if progress["first_event_at"] is None:
            progress["first_event_at"] = time.time()
        day = event["occurred_at"][:10]
        counts[f"{event['rep_id']}:{day}:{event['activity']}"] += 1
        progress["count"] += 1
        if progress["count"] == EXPECT:
            progress["done_at"] = time.time()
            write_progress()


@app.timer(0.2)
async def report_progress() -> None:
    write_progress()


if __name__ == "__main__":
    app.main()
