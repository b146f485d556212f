"""The settings a partition's records are read with (time zone, base currency) are kept in
the table, once per partition, and never rewritten; a worker started with others stops
before it folds or serves anything (streams.worker.runtime.check_fold_settings)."""

from __future__ import annotations

import logging

import pytest

from streams.engine.state import FOLD_SETTINGS, FoldSettings, encode_value, make_key
from streams.worker import runtime
from streams.worker.settings import Settings
from tests.unit.engine.scope_harness import Harness, activity, utc

NOW = utc(2026, 11, 27, 12)
AT = "2026-11-27T10:00:00Z"


def stored(h: Harness) -> dict[int, FoldSettings]:
    return {key[2]: value for key, value in h.records(FOLD_SETTINGS).items()}


def test_each_partition_keeps_the_settings_it_was_folded_with() -> None:
    h = Harness(partitions=2, tz="Asia/Kolkata", base="EUR", route=lambda scope: 0)
    h.run([activity("a1", "r1", "t1", AT, "call")], NOW)
    assert stored(h) == {0: FoldSettings("Asia/Kolkata", "EUR")}, "only partitions folded"
    for p in range(h.n):
        h.restart(p)  # a new process: its first batch looks again
    h.run([activity("a2", "r1", "t1", AT, "demo")], NOW)
    assert stored(h) == {0: FoldSettings("Asia/Kolkata", "EUR")}


def test_a_stored_setting_is_never_rewritten_by_the_fold() -> None:
    h = Harness(partitions=1)
    earlier = FoldSettings("Europe/Paris", "USD")
    h.parts[0].store[make_key("", FOLD_SETTINGS, 0)] = encode_value(earlier)
    h.run([activity("a1", "r1", "t1", AT, "call")], NOW)
    assert stored(h) == {0: earlier}


def test_differences_name_each_setting() -> None:
    kept = FoldSettings("UTC", "USD")
    assert kept.differences("UTC", "USD") == []
    assert kept.differences("Asia/Kolkata", "EUR") == [
        "SALES_TIMEZONE was 'UTC', is 'Asia/Kolkata'",
        "SALES_BASE_CURRENCY was 'USD', is 'EUR'",
    ]


def test_a_worker_with_other_settings_stops_without_folding(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    exits: list[int] = []

    def exit_(code: int) -> None:
        exits.append(code)

    monkeypatch.setattr(runtime.os, "_exit", exit_)
    monkeypatch.setattr(runtime.logging, "shutdown", lambda: None)
    settings = Settings.from_env({"SALES_TIMEZONE": "Asia/Kolkata"})
    runtime.check_fold_settings(settings, 3, encode_value(FoldSettings("Asia/Kolkata", "USD")))
    assert exits == []
    with caplog.at_level(logging.CRITICAL, logger=runtime.log.name):
        runtime.check_fold_settings(settings, 3, encode_value(FoldSettings("UTC", "USD")))
    assert exits == [runtime.EXIT_SETTINGS]
    (message,) = [r.getMessage() for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "partition 3" in message and "SALES_TIMEZONE was 'UTC', is 'Asia/Kolkata'" in message
    assert "Nothing was folded or committed" in message and "Reprocessing" in message
