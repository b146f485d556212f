"""`salespulse publish` without a broker: what is checked, reported and (not) sent."""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from streams.tools import cli

GOOD = [
    b'{"event_id":"a1","occurred_at":"2026-11-27T10:00:00Z","rep_id":"s01","team_id":"t1",'
    b'"activity":"call"}',
    b'{"event_id":"f1","occurred_at":"2026-11-25T10:00:00Z","rep_id":"s02","team_id":"t1","nps":9}',
]
BAD = (
    b'{"event_id":"d1","occurred_at":"2026-11-26T10:00:00Z","rep_id":"s01","team_id":"t1",'
    b'"deal_id":"d-1","outcome":"won"}'
)


def run_cli(argv: list[str]) -> int:
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.fixture(autouse=True)
def no_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    # nothing listens on port 1: reaching for Kafka is exit code 3, never a hang
    monkeypatch.setenv("KAFKA_BOOTSTRAP", "127.0.0.1:1")


@pytest.fixture
def good(tmp_path: Path) -> Path:
    path = tmp_path / "good.jsonl"
    path.write_bytes(b"\n".join(GOOD) + b"\n")
    return path


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    path = tmp_path / "mixed.jsonl"
    path.write_bytes(b"\n".join([GOOD[0], BAD, GOOD[1]]) + b"\n")
    return path


def test_an_invalid_record_stops_everything_before_kafka(
    mixed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["publish", str(mixed)]) == 1, "1, not 3: Kafka was never contacted"
    err = capsys.readouterr().err
    assert f"{mixed}:2: deal: $.amount: required when outcome is won (schema_violation)" in err
    assert "1 of 3 records are invalid: nothing sent" in err
    assert "Traceback" not in err


def test_dry_run_checks_and_sends_nothing(
    good: Path, mixed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["publish", "--dry-run", str(good)]) == 0
    assert (
        "dry run: 2 valid records (activities 1, feedback 1), 0 invalid" in capsys.readouterr().err
    )
    assert run_cli(["publish", "--dry-run", str(mixed)]) == 1
    err = capsys.readouterr().err
    assert f"{mixed}:2:" in err and "dry run: 2 valid records" in err


def test_skip_invalid_reports_the_invalid_and_sends_the_rest(
    mixed: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it gets as far as sending: with no broker that is exit code 3
    assert run_cli(["publish", "--skip-invalid", str(mixed)]) == 3
    err = capsys.readouterr().err
    assert f"{mixed}:2: deal:" in err
    assert "Kafka is not reachable at 127.0.0.1:1" in err and "make kafka-up" in err


def test_json_report_for_machines(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(["publish", "--format", "json", str(mixed)]) == 1
    captured = capsys.readouterr()
    assert captured.err == ""
    doc = orjson.loads(captured.out)
    assert doc["status"] == "invalid" and doc["exit_code"] == 1
    assert (doc["records"], doc["valid"], doc["invalid"]) == (3, 2, 1)
    assert doc["errors"] == [
        {
            "file": str(mixed),
            "line": 2,
            "kind": "deals",
            "reason": "schema_violation",
            "field": "amount",
            "detail": "$.amount: required when outcome is won",
        }
    ]
    assert run_cli(["publish", "--format", "json", "--skip-invalid", str(mixed)]) == 3
    doc = orjson.loads(capsys.readouterr().out)
    assert doc["status"] == "kafka_unavailable" and doc["skipped"] == 1
    assert "make kafka-up" in doc["message"]


def test_csv_and_stdin_and_a_given_kind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sheet = tmp_path / "quotas.csv"
    sheet.write_text(
        "scope,scope_id,metric,period,value\nrep,s01,deals_won,2026-11,4\nteam,t1,revenue_won,2026-11,\n"
    )
    assert run_cli(["publish", "--dry-run", "--kind", "targets", str(sheet)]) == 1
    err = capsys.readouterr().err
    assert f"{sheet}:3: target: $.value: required field is missing" in err

    stdin = io.TextIOWrapper(io.BytesIO(GOOD[0] + b"\n"))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert run_cli(["publish", "--dry-run", "-"]) == 0
    assert "dry run: 1 valid records (activities 1)" in capsys.readouterr().err


def test_the_kind_must_be_recognisable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "odd.jsonl"
    path.write_bytes(b'{"rep_id": "s01", "team_id": "t1"}\n')
    assert run_cli(["publish", str(path)]) == 1
    err = capsys.readouterr().err
    assert f"{path}:1: cannot tell whether this is an activity" in err and "--kind" in err
    # with --kind, the decoder says what is missing
    assert run_cli(["publish", "--kind", "activities", str(path)]) == 1
    assert "$.event_id: required field is missing" in capsys.readouterr().err


def test_future_events_are_judged_by_the_wall_clock(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "future.jsonl"
    path.write_bytes(GOOD[0].replace(b"2026-11-27T10:00:00Z", b"9000-01-01T00:00:00Z") + b"\n")
    assert run_cli(["publish", str(path)]) == 1
    assert "(future_event_time)" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["publish"], {}, "the following arguments are required: FILE"),
        (["publish", "/nonexistent.jsonl"], {}, "not a file: /nonexistent.jsonl"),
        (["publish", "--kind", "leads", "x"], {}, "invalid choice: 'leads'"),
        (["publish", "--format", "xml", "x"], {}, "invalid choice: 'xml'"),
        (["publish", "GOOD"], {"SALES_MAX_CLOCK_SKEW": "soon"}, "SALES_MAX_CLOCK_SKEW='soon'"),
        (["publish", "GOOD"], {"SALES_FX_RATES": "/nonexistent/fx.json"}, "/nonexistent/fx.json"),
        (["publish", "GOOD"], {"SALES_TIMEZONE": "Mars/Olympus"}, "SALES_TIMEZONE='Mars/Olympus'"),
    ],
)
def test_usage_and_configuration_errors_exit_2_without_a_traceback(
    argv: list[str],
    env: dict[str, str],
    message: str,
    good: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    argv = [str(good) if a == "GOOD" else a for a in argv]
    assert run_cli(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert err.startswith(("usage: salespulse publish", "salespulse publish: "))


def test_the_bootstrap_flag_overrides_the_variable(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(["publish", "--bootstrap", "127.0.0.1:2", str(good)]) == 3
    assert "not reachable at 127.0.0.1:2" in capsys.readouterr().err


def test_ctrl_c_while_sending_says_how_many_records_were_delivered(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It printed a KeyboardInterrupt traceback and no count (the operator audit)."""
    from streams.tools.commands import publish

    async def interrupted(
        settings: object, ordered: list[object], rate: float, progress: Any
    ) -> None:
        progress(1)  # the broker acknowledged the first record
        raise KeyboardInterrupt

    monkeypatch.setattr(publish, "_publish", interrupted)
    assert run_cli(["publish", str(good)]) == 130
    err = capsys.readouterr().err
    assert "interrupted: the first 1 of 2 records were delivered" in err, err
    assert "Traceback" not in err


def test_ctrl_c_during_a_replay_says_how_many_records_were_delivered(
    good: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from streams.tools.commands import replay

    async def interrupted(settings: object, handle: object, rate: float, *rest: Any) -> int:
        rest[-1](1)  # the progress: the broker acknowledged the first record
        raise KeyboardInterrupt

    monkeypatch.setattr(replay, "_replay", interrupted)
    assert run_cli(["replay", str(good)]) == 130
    err = capsys.readouterr().err
    assert "interrupted: the first 1 records were delivered" in err, err
