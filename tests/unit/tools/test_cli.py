"""The CLI surface: help with examples, argument validation, and the API-facing report."""

from __future__ import annotations

import asyncio
import csv
import io
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from streams.tools import cli

#: every command but the worker (its own tests cover it)
MY_COMMANDS = tuple(name for name in cli.COMMANDS if name != "worker")


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
    examples = out.split("examples:", 1)[1]  # as every command's help has
    assert "salespulse run" in examples and "salespulse COMMAND --help" in examples


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


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("rep,s01,revenue_won,2026-12,1,200", "line 2: the row has 6 cells but the header names 5"),
        ("rep", "line 2: the row has 1 cells but the header names 5"),  # was a TypeError
    ],
)
def test_targets_csv_rows_with_another_cell_count_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], row: str, message: str
) -> None:
    """`1,200` unquoted is two cells: the extra one was dropped and 1 was set."""
    sheet = tmp_path / "targets.csv"
    sheet.write_text(f"scope,scope_id,metric,period,value\n{row}\n")
    assert run_cli(["targets", "set", "--file", str(sheet)]) == 2
    assert message in capsys.readouterr().err


def test_targets_csv_is_read_as_publish_reads_csv(tmp_path: Path) -> None:
    from streams.tools.commands.targets import read_csv as read_targets_csv

    sheet = tmp_path / "targets.csv"
    sheet.write_bytes(
        b"\xef\xbb\xbfscope,scope_id,metric,period,value\r\n"
        b'rep, s03 ,revenue_won,2026-12,"1,200"\r\n'  # quoted: one cell (not a number)
        b"team,acme:emea,deals_won,2026-12,120000.75\r\n"
    )
    with pytest.raises(ValueError, match="line 2: value '1,200' is not a number"):
        read_targets_csv(sheet)
    sheet.write_bytes(sheet.read_bytes().replace(b'"1,200"', b"1200"))
    assert read_targets_csv(sheet) == [
        ("rep", "s03", "revenue_won", "2026-12", 1200),  # cells trimmed, a BOM dropped
        ("team", "acme:emea", "deals_won", "2026-12", 120000.75),  # ids may hold ':'
    ]


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


TARGET = ["--scope", "rep", "--id", "s01", "--metric", "deals_won", "--period", "2026-12"]


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "--events", "5"],
        ["deadletters"],
        ["targets", "list"],
        ["targets", "set", *TARGET, "--value", "3"],
        ["targets", "delete", *TARGET],
    ],
)
def test_kafka_commands_say_how_to_start_kafka(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Exit status 3 for Kafka unreachable, as `publish` (scripts tell it from bad input)."""
    assert run_cli(argv) == 3
    assert "make kafka-up" in capsys.readouterr().err


def test_replay_without_kafka_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"topic": "sales.activities", "key": "s01", "value": {}}\n')
    assert run_cli(["replay", str(events)]) == 3
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
        "by_source": {
            "inbound": {"won": 1, "lost": 2, "revenue_won": 4000.0, "win_rate": 1 / 3},
            "partner": {"won": 1, "lost": 1, "revenue_won": 8345.5, "win_rate": 0.5},
        },
        "lost_by_reason": {"price": 2, "unspecified": 1},
        "revenue_by_kind": {"expansion": 4000.0, "new_business": 8345.5},
    },
    "conversion": {
        "created": 8,
        "won": 1,
        "lost": 2,
        "open": 5,
        "win_rate": 0.125,
        "by_source": {"inbound": {"created": 8, "won": 1, "win_rate": 0.125}},
    },
    "pipeline": {
        "open_count": 3,
        "open_amount": 41000.0,
        "by_stage": {
            "demo": {"count": 2, "amount": 16000.0},
            "unknown": {"count": 1, "amount": 0.0},
        },
    },
    "retention": {"renewals_won": 3, "renewals_lost": 1, "rate": 0.75},
    "customers": {"won": 2, "new": 1, "repeat": 1},
    "satisfaction": {
        "csat_avg": 4.2,
        "csat_count": 5,
        "csat_satisfied_pct": 80.0,
        "nps": 20.0,
        "nps_count": 5,
    },
    "efficiency": {
        "activities_per_win": 20.0,
        "revenue_per_activity": 308.64,
        "touches_per_won_deal": 7.5,
        "touches_by_type_per_won_deal": {"call": 5.0, "demo": 2.5},
    },
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
            "projected": 13717.22,
            "gap": 7654.5,
            "required_per_business_day": 1913.63,
            "pipeline_coverage": 5.356,
        },
        {
            "metric": "deals_won",
            "target": 4,
            "actual": 2,
            "attainment": 0.5,
            "expected_by_now": 3.6,
            "pace": 0.556,
            "status": "at_risk",
            "projected": None,
            "gap": 2,
            "required_per_business_day": None,
        },
    ],
}

#: the same rep in the period before: fewer activities, one more deal won, a lower win rate
PREVIOUS = {
    **PERFORMANCE,
    "period": "2026-10",
    "activities": {"total": 30, "by_type": {"call": 30}},
    "deals": {**PERFORMANCE["deals"], "won": 3, "revenue_won": 12345.5, "win_rate": 0.5},
    "targets": [],
}

#: a team's document as an older worker (or a period without deals) may send it: the
#: section 8.2 groups absent or null
TEAM_PERFORMANCE = {
    **{k: v for k, v in PERFORMANCE.items() if k not in ("quadrant", "team_id", "pipeline")},
    "scope": "team",
    "conversion": {"created": 0, "won": 0, "lost": 0, "open": 0, "win_rate": None},
    "retention": {"renewals_won": 0, "renewals_lost": 0, "rate": None},
    "pipeline": None,
    "targets": [],
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
        if request.query.get("scope") == "team":
            entries = [{"rank": 1, "id": "t-smb", "team_id": "t-smb", "value": 12445.5}]
        return web.json_response({"period": request.query["period"], "entries": entries})

    async def performance(request: web.Request) -> web.Response:
        doc: dict[str, Any] = {**PERFORMANCE, "id": request.match_info["id"]}
        if request.query.get("compare") == "previous":
            doc["previous"] = PREVIOUS
        return web.json_response(doc)

    async def team_performance(request: web.Request) -> web.Response:
        return web.json_response({**TEAM_PERFORMANCE, "id": request.match_info["id"]})

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.add_routes(
        [
            web.get("/v1/leaderboard", leaderboard),
            web.get("/v1/reps/{id}/performance", performance),
            web.get("/v1/teams/{id}/performance", team_performance),
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
    assert docs[0]["pipeline"]["by_stage"]["unknown"] == {"count": 1, "amount": 0.0}

    assert run_cli([*base, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["id"] == "r01" and rows[0]["revenue_won"] == "12345.5"
    assert rows[0]["targets"] == (
        "revenue_won 62% at_risk, proj 69%, need 1,914/day; deals_won 50% at_risk, proj -, need -"
    )
    assert {k: rows[0][k] for k in ("conversion_win_rate", "retention_rate")} == {
        "conversion_win_rate": "0.125",
        "retention_rate": "0.75",
    }
    assert rows[0]["pipeline_open_amount"] == "41000.0" and rows[0]["customers_repeat"] == "1"
    assert rows[0]["touches_per_won_deal"] == "7.5"

    assert run_cli(base) == 0
    table = capsys.readouterr().out
    assert "r02" in table and "12,346" in table and "at_risk" in table
    assert "proj 69%" in table and "need 1,914/day" in table

    assert run_cli([*base[:3], "--period", "bad"]) == 2
    assert "bad period" in capsys.readouterr().err


def test_report_compared_with_the_previous_period(
    stand_in_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "--api", stand_in_api, "--period", "2026-11", "--compare", "previous"]
    assert run_cli(base) == 0
    table = capsys.readouterr().out
    assert "in brackets the change since 2026-10" in table
    row = next(line for line in table.splitlines() if "r01" in line)
    cells = [c.strip() for c in row.strip("│┃ ").split("│")]
    activities, won, _lost, win_rate, revenue = cells[3:8]
    now = PERFORMANCE["activities"]["total"]
    assert activities == f"{now} (+{now - 30})"
    assert won == f"{PERFORMANCE['deals']['won']} (-1)"
    assert win_rate.endswith("pp)") and "(-" in win_rate
    assert revenue == "12,346", "unchanged: no bracket"

    assert run_cli([*base, "--format", "csv"]) == 0
    (first, _) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert first["period"] == "2026-11" and first["previous_period"] == "2026-10"
    assert first["previous_activities_total"] == "30" and first["previous_deals_won"] == "3"
    assert "previous_id" not in first, "naming columns are not repeated"

    assert run_cli([*base, "--format", "json"]) == 0
    docs = orjson.loads(capsys.readouterr().out)
    assert docs[0]["previous"]["period"] == "2026-10"


@pytest.mark.parametrize(
    ("now", "before", "points", "cell"),
    [
        (12, 10, False, "12 (+2)"),
        (1000.0, 2500.0, False, "1,000 (-1,500)"),
        (5, 5, False, "5"),
        (5, None, False, "5"),
        (None, 5, False, "-"),
        (0.45, 0.40, True, "45% (+5 pp)"),
        # halves round away from zero, on the API's decimals (0.145 - 0.1 is 0.04499... in binary)
        (0.5, 0.375, True, "50% (+13 pp)"),
        (0.145, 0.1, True, "15% (+5 pp)"),
        (0.1, 0.145, True, "10% (-5 pp)"),
        (2.5, 0, False, "3 (+3)"),
    ],
)
def test_a_change_is_written_beside_the_figure(
    now: float | None, before: float | None, points: bool, cell: str
) -> None:
    from streams.tools.commands.report import change
    from streams.tools.number_text import number, percent

    assert change(now, before, percent if points else number, points=points) == cell


def test_team_report_shows_conversion_retention_and_pipeline(
    stand_in_api: str, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["report", "--api", stand_in_api, "--period", "2026-11", "--scope", "team"]
    assert run_cli(base) == 0
    table = capsys.readouterr().out
    header = next(line for line in table.splitlines() if "conv. win" in line)
    assert "retention" in header and "pipeline" in header
    row = next(line for line in table.splitlines() if "t-smb" in line)
    cells = [c.strip() for c in row.strip("│┃ ").split("│")]
    assert cells[-4:-1] == ["-", "-", "-"], "null win rate, null retention, null pipeline"

    assert run_cli([*base, "--format", "csv"]) == 0
    (row_csv,) = csv.DictReader(io.StringIO(capsys.readouterr().out))
    assert row_csv["conversion_win_rate"] == "" and row_csv["pipeline_open_amount"] == ""


def test_report_table_of_a_scope_with_the_new_groups(capsys: pytest.CaptureFixture[str]) -> None:
    """With values, the team columns read as percentages and money."""
    from rich.console import Console

    from streams.tools.commands.report import render_table

    console = Console(record=True, width=250)
    console.print(
        render_table([{**PERFORMANCE, "scope": "team", "id": "t-smb"}], "team", "2026-11")
    )
    row = next(line for line in console.export_text().splitlines() if "t-smb" in line)
    cells = [c.strip() for c in row.strip("│ ").split("│")]
    assert cells[-4:-1] == ["13%", "75%", "41,000"], "a conversion win rate of 0.125: 13 %"


def test_live_view_renders_leaderboard_quadrants_and_alerts() -> None:
    from rich.console import Console

    from streams.tools.live_view import LiveState, render, status_line

    state = LiveState(api_url="http://127.0.0.1:6066", period="2026-11", context="saas")
    state.leaderboard = [{"rank": 1, "id": "s01", "team_id": "t-smb", "value": 12345.5}]
    state.performance = {"s01": {**PERFORMANCE, "id": "s01"}}
    state.teams = [
        {"rank": 1, "id": "t-smb", "team_id": "t-smb", "value": 12445.5},
        {"rank": 2, "id": "t-new", "team_id": "t-new", "value": 0.0},
    ]
    state.team_performance = {"t-smb": {**PERFORMANCE, "scope": "team", "id": "t-smb"}}
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
        row = next(line for line in text.splitlines() if "s01" in line and "at_risk" in line)
        assert "69%" in row and "1,914" in row, "projected attainment and pace per day"
        team = next(line for line in text.splitlines() if "t-smb" in line and "12,446" in line)
        assert "13%" in team and "75%" in team and "41,000" in team
        assert "t-new" in text, "a team without documents yet shows dashes"
    assert "leader s01 (12,346)" in status_line(state)


def test_required_pace_keeps_small_paces_readable() -> None:
    from streams.tools.commands.report import per_day, target_summary

    assert [per_day(v) for v in (None, 0.0, 0.048, 2.25, 1913.63)] == [
        "-",
        "0",
        "0.05",
        "2.3",  # half away from zero
        "1,914",
    ]
    achieved = {"metric": "deals_won", "target": 4, "attainment": 1.25, "status": "achieved"}
    achieved |= {"projected": 10.0, "required_per_business_day": 0.0}
    assert target_summary(achieved) == "deals_won 125% achieved, proj 250%, need 0/day"


def test_target_values_whole_ones_as_integers_and_never_infinite() -> None:
    from streams.tools.commands.targets import TargetError, validate

    args = ("rep", "r1", "revenue_won", "2026-11")
    assert (validate(*args, "50000"), type(validate(*args, "50000"))) == (50000, int)
    assert validate(*args, "1e3") == 1000 and type(validate(*args, "1e3")) is int
    assert validate(*args, "2.5") == 2.5
    for bad in ("inf", "-inf", "nan", "1e400"):  # JSON would carry infinity as null: a delete
        with pytest.raises(TargetError):
            validate(*args, bad)


def test_a_generate_that_fails_before_its_first_record_leaves_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A span without business hours failed, and left an empty file a replay then sent as
    nothing (exit 0); a file of some records, cut short, stays (Ctrl-C says how many)."""
    monkeypatch.setenv("SALES_TIMEZONE", "UTC")
    out = tmp_path / "weekend.jsonl"
    weekend = ["--start", "2026-12-05T00:00:00Z", "--end", "2026-12-06T23:00:00Z"]
    assert run_cli(["generate", *weekend, "--output", str(out)]) == 2
    assert "contains no business hours" in capsys.readouterr().err
    assert not out.exists()


def test_run_exits_3_when_kafka_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.tools.commands import run
    from streams.tools.producer import KafkaUnavailable

    async def unreachable(*_: object) -> None:
        raise KafkaUnavailable("Kafka is not reachable at 127.0.0.1:1: start ... `make kafka-up`")

    monkeypatch.setattr(run, "_demo", unreachable)
    assert run_cli(["run", "--no-view", "--duration", "1"]) == 3
    assert "make kafka-up" in capsys.readouterr().err
