"""`--api` takes a worker URL or says what one looks like (usage error, exit 2)."""

from __future__ import annotations

import argparse

import pytest

from streams.tools.commands.options import seconds, worker_url


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("http://127.0.0.1:6066", "http://127.0.0.1:6066"),
        ("https://salespulse.example.com/", "https://salespulse.example.com"),
        (" http://[::1]:6067 ", "http://[::1]:6067"),
    ],
)
def test_a_worker_url_is_taken(text: str, url: str) -> None:
    assert worker_url(text) == url


@pytest.mark.parametrize(
    "text",
    ["notaurl", "ftp://x", "http://", "http://127.0.0.1:99999", "http://h:0", "127.0.0.1:6066"],
)
def test_what_is_not_a_worker_url_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a worker URL"):
        worker_url(text)


def test_status_refuses_it_as_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    from streams.tools.cli import main

    with pytest.raises(SystemExit) as stopped:
        main(["status", "--api", "ftp://x"])
    assert stopped.value.code == 2
    assert "is not a worker URL such as http://127.0.0.1:6066" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["-5", "nan", "inf", "soon"])
def test_a_duration_flag_takes_seconds_only(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="is not a number of seconds"):
        seconds(text)
    assert seconds("0") == 0.0 and seconds("2.5") == 2.5
