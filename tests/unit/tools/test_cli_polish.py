"""CLI polish: --version, checked log levels, env notes in help, no tracebacks, report --team."""

from __future__ import annotations

import argparse
import asyncio
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from streams.tools import api_client, cli


def run_cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture(autouse=True)
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")


def subparser(*path: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def test_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"salespulse {version('salespulse')}"


def test_a_bad_loglevel_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["worker", "--loglevel", "foo"]) == 2
    err = capsys.readouterr().err
    assert "usage: salespulse worker" in err
    assert "argument --loglevel: invalid choice: 'foo'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("given", ["DEBUG", "Warning", "info"])
def test_loglevels_are_taken_in_any_case(given: str) -> None:
    args = cli.build_parser().parse_args(["worker", "--loglevel", given])
    assert args.loglevel == given.lower()


@pytest.mark.parametrize(
    "path",
    [
        ("generate",),
        ("replay",),
        ("publish",),
        ("run",),
        ("targets", "set"),
        ("targets", "list"),
        ("targets", "delete"),
    ],
)
def test_kafka_commands_take_bootstrap_and_say_which_variable_it_overrides(
    path: tuple[str, ...],
) -> None:
    text = " ".join(subparser(*path).format_help().split())
    assert "--bootstrap HOST:PORT" in text
    assert "(env KAFKA_BOOTSTRAP)" in text


def test_flags_with_a_variable_counterpart_name_it() -> None:
    assert "(env SALES_API_PORT)" in " ".join(subparser("report").format_help().split())
    assert "(env SALES_API_PORT)" in " ".join(subparser("run").format_help().split())


@pytest.mark.parametrize(
    ("argv", "env", "prefix"),
    [
        (["generate", "--events", "5", "--output", "/nonexistent/dir/out.jsonl"], {}, "generate"),
        (["generate", "--events", "5", "--output", "TMP"], {}, "generate"),  # a directory
        (["targets", "list"], {"SALES_TIMEZONE": "Mars/Olympus"}, "targets"),
        (["report"], {"SALES_API_PORT": "many"}, "report"),
        (["replay", "FILE"], {"SALES_TOPIC_PARTITIONS": "0"}, "replay"),
        (["publish", "FILE"], {"SALES_BASE_CURRENCY": "dollars"}, "publish"),
        (["run", "--no-view"], {"SALES_LATE_GRACE": "a week"}, "run"),
    ],
)
def test_bad_values_are_messages_not_tracebacks(
    argv: list[str],
    env: dict[str, str],
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    events = tmp_path / "in.jsonl"
    events.write_text("")
    argv = [{"FILE": str(events), "TMP": str(tmp_path)}.get(a, a) for a in argv]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"salespulse {prefix}: ")
    assert "Traceback" not in err


def test_main_turns_value_and_os_errors_into_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.tools.commands import replay

    def boom(args: argparse.Namespace) -> int:
        raise PermissionError(13, "Permission denied", "secret.jsonl")

    monkeypatch.setattr(replay, "run_replay", boom)
    assert run_cli(["replay", "x.jsonl"]) == 2
    assert capsys.readouterr().err == (
        "salespulse replay: [Errno 13] Permission denied: 'secret.jsonl'\n"
    )


def test_a_system_error_naming_no_file_says_where_it_came_from(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.tools.commands import replay

    def boom(args: argparse.Namespace) -> int:
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(replay, "run_replay", boom)
    assert run_cli(["replay", "x.jsonl"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("salespulse replay: [Errno 22] Invalid argument (OSError at ")
    assert err.endswith(f"{__file__}:{boom.__code__.co_firstlineno + 1}, in boom)\n")


# -- report --team and the leaderboard's limit ----------------------------------------------


def _reps() -> list[dict[str, Any]]:
    """Seven reps in three teams, with distinct revenue (the leaderboard's value)."""
    teams = ["t-a", "t-a", "t-b", "t-b", "t-b", "t-c", "t-a"]
    return [
        {"id": f"r{i}", "team_id": team, "value": 1000.0 * (i + 1)} for i, team in enumerate(teams)
    ]


class StandIn:
    """A worker's leaderboard and performance endpoints over fixed data; records queries."""

    def __init__(self) -> None:
        self.queries: list[dict[str, str]] = []
        self.reps = _reps()
        self.health: dict[str, Any] = {"status": "ok", "worker": "stand-in"}

    def leaderboard(self, query: dict[str, str]) -> list[dict[str, Any]]:
        self.queries.append(query)
        if query.get("scope") == "team":
            totals: dict[str, float] = {}
            for rep in self.reps:
                totals[rep["team_id"]] = totals.get(rep["team_id"], 0.0) + rep["value"]
            entries = [{"id": t, "team_id": t, "value": v} for t, v in totals.items()]
        else:
            team = query.get("team")
            entries = [r for r in self.reps if team is None or r["team_id"] == team]
        entries.sort(key=lambda e: (-e["value"], e["id"]))
        limit = int(query["limit"])
        return [{"rank": n, **e} for n, e in enumerate(entries[:limit], 1)]


@pytest.fixture
def stand_in() -> Iterator[tuple[str, StandIn]]:
    data = StandIn()

    async def leaderboard(request: web.Request) -> web.Response:
        entries = data.leaderboard(dict(request.query))
        return web.json_response({"period": request.query["period"], "entries": entries})

    async def performance(request: web.Request) -> web.Response:
        rep = next(r for r in data.reps if r["id"] == request.match_info["id"])
        doc = {
            "scope": "rep",
            "id": rep["id"],
            "team_id": rep["team_id"],
            "period": "2026-11",
            "currency": "USD",
            "deals": {"revenue_won": rep["value"]},
        }
        return web.json_response(doc)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response(data.health)

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    loop = asyncio.new_event_loop()
    app = web.Application()
    app.add_routes(
        [
            web.get("/v1/leaderboard", leaderboard),
            web.get("/v1/reps/{id}/performance", performance),
            web.get("/healthz", healthz),
        ]
    )
    runner = web.AppRunner(app)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", data
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.run_until_complete(runner.cleanup())
        loop.close()


def report_ids(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[list[str], str]:
    assert run_cli(["report", "--period", "2026-11", "--format", "json", *argv]) == 0
    captured = capsys.readouterr()
    return [doc["id"] for doc in orjson.loads(captured.out)], captured.err


def test_report_team_limits_the_reps_to_one_team(
    stand_in: tuple[str, StandIn], capsys: pytest.CaptureFixture[str]
) -> None:
    url, data = stand_in
    ids, err = report_ids(["--api", url, "--team", "t-b"], capsys)
    assert ids == ["r4", "r3", "r2"]
    assert data.queries[-1]["team"] == "t-b"
    assert err == ""


def test_report_team_needs_the_rep_scope(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["report", "--scope", "team", "--team", "t-b"]) == 2
    assert "--team applies to --scope rep only" in capsys.readouterr().err


def test_report_asks_team_by_team_beyond_the_limit(
    stand_in: tuple[str, StandIn],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, data = stand_in
    monkeypatch.setattr(api_client, "LEADERBOARD_MAX_LIMIT", 4)
    ids, err = report_ids(["--api", url], capsys)
    assert ids == ["r6", "r5", "r4", "r3", "r2", "r1", "r0"], "all seven, in leaderboard order"
    assert err == "", "no team holds the limit: nothing is missing"
    assert {q.get("team") for q in data.queries} == {None, "t-a", "t-b", "t-c"}
    assert all(q["limit"] == "4" for q in data.queries)


def test_report_says_when_the_limit_may_hide_some(
    stand_in: tuple[str, StandIn],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url, _ = stand_in
    monkeypatch.setattr(api_client, "LEADERBOARD_MAX_LIMIT", 3)  # t-a and t-b have three reps
    ids, err = report_ids(["--api", url], capsys)
    assert ids == ["r6", "r5", "r4", "r3", "r2", "r1", "r0"]
    assert "at most 3 reps per request" in err and "may be incomplete" in err
    ids, err = report_ids(["--api", url, "--team", "t-b"], capsys)
    assert ids == ["r4", "r3", "r2"]
    assert "may be incomplete" in err


def test_a_worker_waiting_for_an_absent_broker_says_so_once_and_gives_up_clearly(
    tmp_path: Path,
) -> None:
    """No broker on the port: one line of ours saying what it waits for and how long, the
    Kafka client's line per attempt held back, and a final message naming the setting."""
    import os
    import subprocess
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "SALES_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "streams.tools.cli", "worker", "--wait-for-kafka", "4"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    waiting = [line for line in lines if "does not answer yet" in line]
    assert len(waiting) == 1, done.stderr
    assert f"127.0.0.1:{port} (KAFKA_BOOTSTRAP)" in waiting[0] and "up to 4 s" in waiting[0]
    client = [line for line in lines if "aiokafka" in line and "Unable connect" in line]
    assert 1 <= len(client) <= 2, done.stderr  # at most one per 10 s, not one per attempt
    assert lines[-1].startswith(f"salespulse worker: Kafka at 127.0.0.1:{port} did not answer")
    assert "within 4 s" in lines[-1] and "KAFKA_BOOTSTRAP" in lines[-1]
    assert "Traceback" not in done.stderr


def test_a_data_dir_that_cannot_be_made_fails_before_waiting_for_kafka(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.tools.commands import worker

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("SALES_DATA_DIR", str(tmp_path / "a-file" / "worker"))

    def waits(*_: object) -> None:
        raise AssertionError("waited for Kafka with an unusable data dir")

    monkeypatch.setattr(worker, "_prepare_kafka", waits)
    with pytest.raises(SystemExit) as stopped:
        cli.main(["worker"])
    message = str(stopped.value)
    assert message.startswith("salespulse worker: cannot keep its local state in ")
    assert "a-file/worker (SALES_DATA_DIR): Not a directory" in message
    assert "Traceback" not in capsys.readouterr().err


def test_report_says_when_the_worker_has_lost_contact_with_kafka(
    stand_in: tuple[str, StandIn], capsys: pytest.CaptureFixture[str]
) -> None:
    url, data = stand_in
    ids, err = report_ids(["--api", url], capsys)
    assert len(ids) == 7 and "Kafka" not in err  # in contact: nothing to say
    data.health["kafka"] = {
        "contact": "lost",
        "last_contact": "2026-11-30T16:59:55+00:00",
        "lost_since": "2026-11-30T17:00:00+00:00",
    }
    ids, err = report_ids(["--api", url], capsys)
    assert len(ids) == 7, "the figures are still reported"
    assert err.strip() == (
        f"salespulse report: note: the worker at {url} has had no contact with Kafka since "
        "2026-11-30T17:00:00+00:00: these figures are as of 2026-11-30T16:59:55+00:00, and "
        "newer events are not in them yet"
    )


def test_a_worker_waiting_for_a_broker_that_answers_says_it_is_not_ready(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A broker just started answers before it has elected its group coordinator: the
    worker says the broker is not ready, not that it does not answer (it is running)."""
    from aiokafka.errors import GroupCoordinatorNotAvailableError

    from streams.tools.commands import worker
    from streams.worker.settings import Settings

    async def not_ready(settings: Settings) -> Settings:
        raise GroupCoordinatorNotAvailableError("Unable to get coordinator id for app")

    async def nothing_to_say(settings: Settings) -> tuple[None, None]:
        return None, None

    monkeypatch.setattr(worker, "_topics_ready", not_ready)
    monkeypatch.setattr(worker, "diagnose", nothing_to_say)
    settings = Settings.from_env({"KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    with caplog.at_level("WARNING"), pytest.raises(SystemExit) as stopped:
        worker._prepare_kafka(settings, 1.5)  # tries once a second: two or three times
    waiting = [r.getMessage() for r in caplog.records if "not ready yet" in r.getMessage()]
    assert len(waiting) == 1, caplog.text
    assert "127.0.0.1:1 (KAFKA_BOOTSTRAP) answers but is not ready yet" in waiting[0]
    assert "Is the broker running" not in caplog.text
    assert str(stopped.value).startswith(
        "salespulse worker: Kafka at 127.0.0.1:1 answered but was not ready within 2 s"
    )


def test_a_reader_that_stops_early_ends_the_command_quietly() -> None:
    """`salespulse ... | head`: the rest of the output has nowhere to go; that is no error."""
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streams.tools.cli",
            "generate",
            "--events",
            "50000",
            "--output",
            "-",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(100)
    proc.stdout.close()  # as `head -c 100` does
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert first.startswith(b'{"topic":') and "Broken pipe" not in err and "Traceback" not in err
