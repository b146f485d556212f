"""The group's status document (streams.worker.group_status): each worker's line, the
problems named, the lag summed. The API that serves it: test_api_status.py."""

from __future__ import annotations

from typing import Any

from streams.worker.group_status import group_document, problems, unanswered, worker_line
from streams.worker.settings import Settings
from tests.unit.worker.two_workers import LOST, consumer_holding

TOPICS = Settings.from_env({}).topics


def line(worker: str, internal: list[int], **kwargs: Any) -> dict[str, Any]:
    kafka = kwargs.pop("kafka", None)
    ready = kwargs.pop("ready", True)
    retention = kwargs.pop("retention", None)
    return worker_line(
        worker=worker,
        ready=ready,
        kafka=kafka,
        consumer=consumer_holding(internal, **kwargs),
        inputs=TOPICS.inputs(),
        internal=TOPICS.scopes,
        retention=retention,
    )


def test_a_line_counts_what_waits_on_input_and_internal_partitions_only() -> None:
    doc = line("w0", [0, 1], behind=5)
    assert doc["partitions"] == [0, 1]
    assert doc["lag"] == {"input": 10, "internal": 0}, "the changelog is not waiting input"
    fresh = [
        {"topic": TOPICS.deals, "partition": 3, "highwater": 7, "committed": None, "position": 5},
        {"topic": TOPICS.deals, "partition": 4, "highwater": 9, "committed": None},
    ]
    never = worker_line(
        worker="w1",
        ready=True,
        kafka=None,
        consumer={"partitions": fresh},
        inputs=TOPICS.inputs(),
        internal=TOPICS.scopes,
    )
    assert never["lag"] == {"input": 2, "internal": 0}, (
        "never committed: from its position; no position known: nothing"
    )


def test_a_healthy_group_has_no_problems_and_sums_its_lag() -> None:
    doc = group_document("w0", [line("w1", [2, 3], behind=1), line("w0", [0, 1])], 4)
    assert doc["status"] == "ok" and doc["problems"] == []
    assert [w["worker"] for w in doc["workers"]] == ["w0", "w1"]
    assert doc["lag"] == {"input": 2, "internal": 0}


def test_each_problem_is_named() -> None:
    lines = [
        line("w0", [0, 1], ready=False),
        line("w1", [2], kafka=LOST),
    ]
    found = problems(lines, 4)
    assert found == [
        "w0 is not ready (recovering its state or rebalancing)",
        "w1 has no contact with Kafka since 2026-12-05T00:00:10+00:00",
        "no worker folds internal partitions [3] (a rebalance under way?)",
    ]
    gone = problems([line("w0", [0, 1]), unanswered("http://w1:6066", "TimeoutError")], 4)
    assert gone == ["http://w1:6066 does not answer: TimeoutError"], (
        "its partitions are the unanswered worker's, not unfolded"
    )
    assert group_document("w0", lines, 4)["status"] == "degraded"


def test_workers_that_disagree_on_the_retention_are_a_problem() -> None:
    same = [line("w0", [0, 1], retention="P400D"), line("w1", [2, 3], retention="P400D")]
    assert problems(same, 4) == []
    lines = [line("w0", [0, 1], retention="P400D"), line("w1", [2, 3])]
    assert problems(lines, 4) == [
        "workers disagree on SALES_RETENTION (w0 P400D, w1 unset): each deletes what its own"
        " horizon drops and answers 410 by it; give every worker of the group the same"
    ]
    older = {k: v for k, v in line("w1", [2, 3]).items() if k != "retention"}
    assert problems([line("w0", [0, 1], retention="P400D"), older], 4) == [], (
        "a worker of a version that does not say is not counted"
    )


def test_a_line_carries_its_workers_busy_share_rounded() -> None:
    def busy(share: float | None) -> Any:
        return worker_line(
            worker="w0",
            ready=True,
            kafka=None,
            consumer=consumer_holding([0]),
            inputs=TOPICS.inputs(),
            internal=TOPICS.scopes,
            busy=share,
        )["busy"]

    assert busy(0.123456) == 0.123
    assert busy(None) is None, "not known yet"
