"""`salespulse status`: the group's document as a table or JSON, and an exit code scripts
can test (the document itself: tests/unit/worker/test_api_status.py; a real group:
tests/integration/test_status_cli.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from streams.tools import cli
from streams.tools.commands import status
from streams.worker.group_status import group_document, unanswered, worker_line
from streams.worker.settings import Settings
from tests.unit.worker.two_workers import LOST, consumer_holding

TOPICS = Settings.from_env({}).topics


def line(worker: str, internal: list[int], **kwargs: Any) -> dict[str, Any]:
    return {
        **worker_line(
            worker=worker,
            ready=kwargs.get("ready", True),
            kafka=kwargs.get("kafka"),
            consumer=consumer_holding(internal, behind=kwargs.get("behind", 0)),
            inputs=TOPICS.inputs(),
            internal=TOPICS.scopes,
            retention=kwargs.get("retention"),
            busy=kwargs.get("busy"),
        ),
        "url": f"http://{worker}",
    }


HEALTHY = group_document(
    "w0:6066",
    [
        line("w0:6066", [0, 1, 2, 3], retention="P400D", busy=0.973),
        line("w1:6066", [4, 5, 6, 7], behind=3, retention="P400D"),
    ],
    8,
)
DEGRADED = group_document(
    "w0:6066",
    [line("w0:6066", [0, 1, 2, 3], kafka=LOST), unanswered("http://w1:6066", "TimeoutError")],
    8,
)


def run(monkeypatch: pytest.MonkeyPatch, doc: dict[str, Any], *argv: str) -> int:
    async def fetch(api_url: str) -> dict[str, Any]:
        assert api_url == "http://127.0.0.1:6066"
        return doc

    monkeypatch.setattr(status, "fetch", fetch)
    monkeypatch.setenv("COLUMNS", "140")
    return cli.main(["status", *argv])


def test_a_healthy_group_exits_0_with_a_line_per_worker(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, HEALTHY) == 0
    out = capsys.readouterr().out
    assert "2 workers, 8 partitions: ok (records waiting: 12 input, 0 internal)" in out
    assert "0-3" in out and "4-7" in out
    assert out.count("P400D") == 2, "each worker's SALES_RETENTION"
    assert "97%" in out, "w0's event loop worked 97 % of the last minute"
    assert "problem" not in out


def test_a_degraded_group_exits_3_and_names_its_problems(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, DEGRADED) == status.DEGRADED == 3
    out = capsys.readouterr().out
    assert "no answer" in out and "http://w1:6066" in out
    assert "lost since 2026-12-05T00:00:10+00:00" in out
    assert "problem: http://w1:6066 does not answer: TimeoutError" in out
    assert "problem: w0:6066 has no contact with Kafka" in out


def test_json_is_the_document_as_served(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(monkeypatch, DEGRADED, "--format", "json") == 3
    assert orjson.loads(capsys.readouterr().out) == DEGRADED


def test_no_worker_answering_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--api", "http://127.0.0.1:1"]) == 1
    assert "make worker" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("share", "cell"), [(None, "-"), (0.0, "0%"), (0.4449, "44%"), (1.0, "100%")]
)
def test_busy_is_a_percentage_or_a_dash(share: float | None, cell: str) -> None:
    assert status.busy_cell(share) == cell


@pytest.mark.parametrize(
    ("partitions", "cell"),
    [
        ([], "-"),
        ([3], "3"),
        ([0, 1, 2, 3], "0-3"),
        ([7, 0, 1, 5], "0-1, 5, 7"),
        ([2, 4, 6], "2, 4, 6"),
    ],
)
def test_partitions_are_shown_as_runs(partitions: list[int], cell: str) -> None:
    assert status.partitions_cell(partitions) == cell
