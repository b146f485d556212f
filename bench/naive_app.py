"""Peer for `make bench`: the textbook Faust agent.

One agent, ``async for event in stream`` over the input topics with a JSON value serializer,
and one table update per event (``table[f"{rep}:{day}:{activity}"] += 1``; deals count
under their outcome, feedback as ``feedback``), a memory table with its changelog topic:
how the Faust documentation teaches it. The benchmark runs it as a subprocess on the same
input topics as every other consumer, with its own app id (so its own consumer group and
changelog), and watches the group's committed offsets on the broker.

Configuration (environment):
    NAIVE_BOOTSTRAP        Kafka bootstrap servers (127.0.0.1:9092)
    NAIVE_APP_ID           faust app id, also the consumer group (naive-bench)
    NAIVE_TOPICS           comma-separated input topics
                           (sales.activities,sales.deals,sales.feedback)
    NAIVE_PARTITIONS       partitions of the input topics and of the table (8)
    NAIVE_STORE            faust table store (memory://)
    NAIVE_DATA_DIR         faust data dir (var/naive)
    NAIVE_COMMIT_INTERVAL  seconds between offset commits (1.0, as salespulse's default)

Run: ``python -m bench.naive_app worker --loglevel warn``.
"""

from __future__ import annotations

import os
from typing import Any

import faust

BOOTSTRAP = os.environ.get("NAIVE_BOOTSTRAP", "127.0.0.1:9092")
APP_ID = os.environ.get("NAIVE_APP_ID", "naive-bench")
TOPICS = os.environ.get("NAIVE_TOPICS", "sales.activities,sales.deals,sales.feedback").split(",")
PARTITIONS = int(os.environ.get("NAIVE_PARTITIONS", "8"))
STORE = os.environ.get("NAIVE_STORE", "memory://")
DATA_DIR = os.environ.get("NAIVE_DATA_DIR", "var/naive")
COMMIT_INTERVAL = float(os.environ.get("NAIVE_COMMIT_INTERVAL", "1.0"))

app = faust.App(
    APP_ID,
    broker=f"kafka://{BOOTSTRAP}",
    store=STORE,
    datadir=DATA_DIR,
    topic_partitions=PARTITIONS,
    broker_commit_interval=COMMIT_INTERVAL,
    web_enabled=False,
    autodiscover=False,
    consumer_auto_offset_reset="earliest",
)
events = app.topic(*TOPICS, value_serializer="json", partitions=PARTITIONS)
counts = app.Table("activity-counts", default=int, partitions=PARTITIONS)


@app.agent(events)
async def count_activities(stream: Any) -> None:
    async for event in stream:
        day = event["occurred_at"][:10]
        kind = event.get("activity") or event.get("outcome") or "feedback"
        counts[f"{event['rep_id']}:{day}:{kind}"] += 1


if __name__ == "__main__":
    app.main()
