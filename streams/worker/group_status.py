"""The state of the consumer group as one document (`GET /v1/status`, `salespulse status`).

Every worker says what it holds (ready, Kafka contact, the internal topic's partitions it
folds, the records waiting on its input and internal partitions); the worker asked gathers
the others' lines and names what is wrong: a worker that does not answer or is not ready,
one that lost Kafka, partitions no worker folds. Pure: the API handler feeds it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any


def _lag(partitions: Iterable[Mapping[str, Any]]) -> int:
    """Records appended and not committed yet. Before its first commit (a partition just
    assigned, a new group) a partition counts from where its consumer reads; one whose
    position is not known yet counts nothing rather than its whole history."""
    waiting = 0
    for p in partitions:
        highwater = p.get("highwater")
        done = p.get("committed")
        if done is None:
            done = p.get("position")
        if highwater is None or highwater < 0 or done is None:
            continue
        waiting += max(highwater - done, 0)
    return waiting


def worker_line(
    *,
    worker: str,
    ready: bool,
    kafka: Mapping[str, Any] | None,
    consumer: Mapping[str, Any],
    inputs: Iterable[str],
    internal: str,
    retention: str | None = None,
    busy: float | None = None,
) -> dict[str, Any]:
    """One worker's line: from its readiness, Kafka contact and consumer state, its
    SALES_RETENTION (None: unset), which every worker of a group must share, and the share
    of the last minute its event loop worked (streams.worker.loop_busy; None: not known
    yet)."""
    partitions = list(consumer.get("partitions", []))
    input_topics = set(inputs)
    return {
        "worker": worker,
        "ready": ready,
        "rebalancing": bool(consumer.get("rebalancing", False)),
        "kafka": dict(kafka) if kafka is not None else None,
        "partitions": sorted(p["partition"] for p in partitions if p["topic"] == internal),
        "lag": {
            "input": _lag(p for p in partitions if p["topic"] in input_topics),
            "internal": _lag(p for p in partitions if p["topic"] == internal),
        },
        "retention": retention,
        "busy": None if busy is None else round(busy, 3),
    }


def unanswered(url: str, why: str) -> dict[str, Any]:
    """The line of a worker the one asked could not reach: known by its URL only."""
    return {"worker": None, "url": url, "error": why}


def _name(line: Mapping[str, Any]) -> str:
    return str(line.get("worker") or line.get("url"))


def problems(lines: Sequence[Mapping[str, Any]], partition_count: int) -> list[str]:
    """What is wrong with the group, one sentence each; empty when all is well."""
    found = []
    for line in lines:
        who = _name(line)
        if line.get("error"):
            found.append(f"{who} does not answer: {line['error']}")
            continue
        if not line["ready"]:
            found.append(f"{who} is not ready (recovering its state or rebalancing)")
        kafka = line.get("kafka")
        if kafka is not None and kafka.get("contact") != "ok":
            found.append(f"{who} has no contact with Kafka since {kafka.get('lost_since')}")
    retentions = {_name(line): line["retention"] for line in lines if "retention" in line}
    if len(set(retentions.values())) > 1:
        said = ", ".join(f"{who} {value or 'unset'}" for who, value in sorted(retentions.items()))
        found.append(
            f"workers disagree on SALES_RETENTION ({said}): each deletes what its own horizon"
            " drops and answers 410 by it; give every worker of the group the same"
        )
    folded = {p for line in lines if not line.get("error") for p in line.get("partitions", [])}
    unfolded = sorted(set(range(partition_count)) - folded)
    if unfolded and not any(line.get("error") for line in lines):
        found.append(f"no worker folds internal partitions {unfolded} (a rebalance under way?)")
    return found


def group_document(
    asked: str, lines: Sequence[Mapping[str, Any]], partition_count: int
) -> dict[str, Any]:
    """`GET /v1/status`: every worker's line, the group's totals and what is wrong."""
    wrong = problems(lines, partition_count)
    answered = [line for line in lines if not line.get("error")]
    return {
        "status": "degraded" if wrong else "ok",
        "asked": asked,
        "workers": sorted(lines, key=_name),
        "partitions": partition_count,
        "lag": {
            "input": sum(line["lag"]["input"] for line in answered),
            "internal": sum(line["lag"]["internal"] for line in answered),
        },
        "problems": wrong,
    }
