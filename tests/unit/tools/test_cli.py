"""The CLI surface: help with examples, argument validation, and the API-facing report."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from aiohttp import web

from streams.tools import cli

MY_COMMANDS = ("run", "generate", "replay", "publish", "targets", "report")


def run_cli(argv: list[str]) -> int:
    """Exit code of `salespulse ARGV`, whether argparse exits or the command returns."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture(autouse=True)
def no_kafka_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing listens on port 1: a test that reached Kafka by mistake fails fast
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")


@pytest.mark.parametrize(
    "argv",
    [
        *([name] for name in MY_COMMANDS),
        ["targets", "set"],
        ["targets", "list"],
        ["targets", "delete"],
    ],
)
def test_help_works_and_shows_an_example(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert "usage: salespulse" in out
    assert "example" in out.lower()
    assert f"salespulse {argv[0]}" in out.split("example", 1)[1]


def test_top_level_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--help"]) == 0
    out = capsys.readouterr().out
    for name in MY_COMMANDS:
        assert name in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["generate", "--rate", "-1"], "must be >= 0"),
        (["generate", "--late-rate", "1.5"], "between 0 and 1"),
        (["generate", "--context", "bakery"], "invalid choice"),
        (["generate", "--reps", "0"], "must be >= 1"),
        (["generate", "--events", "many"], "not a whole number"),
        (["generate", "--duration", "soon"], "not a duration"),
        (["generate", "--days", "3", "--start", "2026-11-01"], "either --days or --start"),
        (["generate", "--end", "2999-01-01"], "in the future"),
        (["generate", "--start", "yesterday"], "not an ISO 8601"),
        (["generate", "--reps", "2", "--teams", "3"], "every team needs a rep"),
        (["generate", "--invalid-rate", "0.6", "--late-rate", "0.6"], "at most 1"),
        (["replay"], "required: file"),
        (["replay", "/nonexistent/file.jsonl"], "is not a file"),
        (["targets"], "required: ACTION"),
        (["targets", "set", "--scope", "rep", "--id", "r1"], "give --scope, --id, --metric"),
        (
            [
                "targets",
                "set",
                "--scope",
                "rep",
                "--id",
                "r1",
                "--metric",
                "revenue",
                "--period",
                "2026-11",
                "--value",
                "5",
            ],
            "metric 'revenue'",
        ),
        (
            [
                "targets",
                "set",
                "--scope",
                "rep",
                "--id",
                "r1",
                "--metric",
                "revenue_won",
                "--period",
                "November",
                "--value",
                "5",
            ],
            "period 'November'",
        ),
        (
            [
                "targets",
                "set",
                "--scope",
                "rep",
                "--id",
                "r1",
                "--metric",
                "deals_won",
                "--period",
                "2026-11",
                "--value",
                "0",
            ],
            "must be > 0",
        ),
        (["targets", "delete", "--scope", "crew", "--id", "r1"], "invalid choice"),
        (["report", "--format", "xml"], "invalid choice"),
        (["run", "--rate", "-5"], "must be >= 0"),
        (["run", "--context", "bakery"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_a_useful_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(argv) == 2
    assert message in capsys.readouterr().err


def test_targets_csv_errors_name_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "targets.csv"
    bad.write_text("scope,scope_id,metric,period,value\nrep,r1,revenue_won,2026-11,-3\n")
    assert run_cli(["targets", "set", "--file", str(bad)]) == 2
    assert "line 2" in capsys.readouterr().err
    bad.write_text("who,what\nrep,r1\n")
    assert run_cli(["targets", "set", "--file", str(bad)]) == 2
    assert "header row" in capsys.readouterr().err


def test_generate_to_a_file_writes_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.jsonl"
    argv = [
        "generate",
        "--seed",
        "3",
        "--start",
        "2026-11-02",
        "--end",
        "2026-11-06T18:00",
        "--events",
        "500",
        "--invalid-rate",
        "0.1",
        "--output",
        str(out),
    ]
    assert run_cli(argv) == 0
    assert "wrote 500 records" in capsys.readouterr().err
    lines = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    assert len(lines) == 500
    assert {line["topic"] for line in lines} == {
        "sales.activities",
        "sales.deals",
        "sales.feedback",
    }
    assert all(("value" in line) != ("value_raw" in line) for line in lines)
    first = out.read_bytes()
    assert run_cli(argv) == 0
    assert out.read_bytes() == first, "same seed and span, same file"


def test_kafka_commands_say_how_to_start_kafka(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["generate", "--events", "5"]) == 1
    assert "make kafka-up" in capsys.readouterr().err


def test_report_without_a_worker_says_how_to_start_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", "--api", "http://127.0.0.1:1"]) == 1
    err = capsys.readouterr().err
    assert "no salespulse worker answers at http://127.0.0.1:1" in err
    assert "make worker" in err


# -- report against a stand-in API ------------------------------------------------------------

PERFORMANCE = {
    "scope": "rep",
    "team_id": "t-smb",
    "period": "2026-11",
    "currency": "USD",
    "activities": {"total": 40, "by_type": {"call": 30, "demo": 10}},
    "deals": {
        "won": 2,
        "lost": 3,
        "revenue_won": 12345.5,
        "win_rate": 0.4,
        "avg_deal_size": 6172.75,
        "avg_cycle_days": 31.2,
    },
    "satisfaction": {
        "csat_avg": 4.2,
        "csat_count": 5,
        "csat_satisfied_pct": 80.0,
        "nps": 20.0,
        "nps_count": 5,
    },
    "efficiency": {"activities_per_win": 20.0, "revenue_per_activity": 308.64},
    "quadrant": "high_activity_low_performance",
    "targets": [
        {
            "metric": "revenue_won",
            "target": 20000,
            "actual": 12345.5,
            "attainment": 0.617,
            "expected_by_now": 18000,
            "pace": 0.686,
            "status": "at_risk",
        }
    ],
}


@pytest.fixture
def stand_in_api() -> Iterator[str]:
    """A minimal server answering like a worker (docs/contract.md section 6), on its own thread."""

    async def leaderboard(request: web.Request) -> web.Response:
        if request.query.get("period") == "bad":
            return web.json_response({"error": "bad period"}, status=400)
        entries = [
            {"rank": 1, "id": "r01", "team_id": "t-smb", "value": 12345.5},
            {"rank": 2, "id": "r02", "team_id": "t-smb", "value": 100.0},
        ]
        return web.json_response({"period": request.query["period"], "entries": entries})

    async def performance(request: web.Request) -> web.Response:
        return web.json_response({**PERFORMANCE, "id": request.match_info["id"]})

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.add_routes(
        [
            web.get("/v1/leaderboard", leaderboard),
            web.get("/v1/reps/{id}/performance", performance),
        ]
    )
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def test_report_formats(stand_in_api: str, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["report", "--api", stand_in_api, "--period", "2026-11"]
    assert run_cli([*base, "--format", "json"]) == 0
    docs = orjson.loads(capsys.readouterr().out)
    assert [d["id"] for d in docs] == ["r01", "r02"]

    assert run_cli([*base, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["id"] == "r01" and rows[0]["revenue_won"] == "12345.5"
    assert rows[0]["targets"] == "revenue_won 62% at_risk"

    assert run_cli(base) == 0
    table = capsys.readouterr().out
    assert "r02" in table and "12,346" in table and "at_risk" in table

    assert run_cli([*base[:3], "--period", "bad"]) == 2
    assert "bad period" in capsys.readouterr().err


def test_live_view_renders_leaderboard_quadrants_and_alerts() -> None:
    from rich.console import Console

    from streams.tools.live_view import LiveState, render, status_line

    state = LiveState(api_url="http://127.0.0.1:6066", period="2026-11", context="saas")
    state.leaderboard = [{"rank": 1, "id": "s01", "team_id": "t-smb", "value": 12345.5}]
    state.performance = {"s01": {**PERFORMANCE, "id": "s01"}}
    state.alerts.append(
        {
            "kind": "target_at_risk",
            "scope": "rep",
            "scope_id": "s01",
            "metric": "revenue_won",
            "period": "2026-11",
            "attainment": 0.617,
            "emitted_at": "2026-11-27T14:00:05+00:00",
        }
    )
    state.alerts_seen = 1
    state.sent = 42
    for width in (100, 180):
        console = Console(record=True, width=width)
        console.print(render(state, width))
        text = console.export_text()
        assert "s01" in text and "12,346" in text and "62% at_risk" in text
        assert "hi act / lo perf" in text and "target_at_risk" in text
        assert "http://127.0.0.1:6066/metrics" in text
    assert "leader s01 (12,346)" in status_line(state)
