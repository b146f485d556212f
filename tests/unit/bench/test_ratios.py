"""The bench's ratios and goals over rounds (bench.ratios, bench.__main__.goals): what
`make bench` judges the throughput goals on when each consumer runs several times."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from bench.__main__ import goals, missing_peer, parse_args
from bench.__main__ import main as bench_main
from bench.ratios import ratios, repeated_shape
from bench.throughput import Run


def _run(
    consumer: str,
    seconds: float,
    *,
    round_: int = 1,
    shape: str = "wide",
    queryable: float | None = None,
    **extra: Any,
) -> Run:
    run = Run(consumer, consumer, shape, 300_000, seconds=seconds, seconds_queryable=queryable)
    run.round = round_
    run.extra.update(extra)
    return run


def _rounds(*pairs: tuple[float, float, float]) -> list[Run]:
    """Per round: Quix Streams' seconds, the worker's to committed and to queryable."""
    runs: list[Run] = []
    for i, (quix, committed, queryable) in enumerate(pairs, start=1):
        runs += [
            _run("quix", quix, round_=i),
            _run("salespulse", committed, round_=i, queryable=queryable),
        ]
    return runs


def test_each_round_pairs_the_runs_of_that_round_and_the_median_is_judged() -> None:
    # round 2's worker was slow and round 3's Quix Streams was: each pair stays in its round
    runs = _rounds((10.0, 20.0, 25.0), (10.0, 40.0, 50.0), (20.0, 20.0, 20.0))
    quix = ratios(runs)["wide"]["quix"]
    assert [p["round"] for p in quix["rounds"]] == [1, 2, 3]
    assert [p["committed"] for p in quix["rounds"]] == [0.5, 0.25, 1.0]
    assert [p["queryable"] for p in quix["rounds"]] == [0.4, 0.2, 1.0]
    assert quix["committed"] == 0.5
    assert quix["queryable"] == 0.4


def test_an_even_number_of_rounds_takes_the_mean_of_the_middle_two() -> None:
    runs = _rounds((10.0, 20.0, 20.0), (10.0, 10.0, 10.0))
    assert ratios(runs)["wide"]["quix"]["committed"] == pytest.approx(0.75)


def test_a_round_without_the_peer_or_its_rate_gives_no_pair() -> None:
    runs = _rounds((10.0, 20.0, 20.0), (10.0, 10.0, 10.0), (10.0, 5.0, 5.0))
    runs = [r for r in runs if not (r.consumer == "quix" and r.round == 2)]
    runs[0].seconds = None  # round 1's Quix Streams never committed: no rate
    quix = ratios(runs)["wide"]["quix"]
    assert [p["round"] for p in quix["rounds"]] == [3]
    assert quix["committed"] == 2.0


def test_a_worker_never_queryable_has_no_queryable_ratio() -> None:
    quix = ratios(_rounds((10.0, 20.0, 25.0)))["wide"]["quix"]
    assert quix["queryable"] == 0.4
    quix = ratios([_run("quix", 10.0), _run("salespulse", 20.0)])["wide"]["quix"]
    assert quix["queryable"] is None
    assert quix["committed"] == 0.5


def test_shapes_are_kept_apart() -> None:
    runs = [
        _run("quix", 10.0, shape="wide"),
        _run("salespulse", 20.0, shape="wide", queryable=20.0),
        _run("quix", 10.0, shape="live"),
        _run("salespulse", 5.0, shape="live", queryable=5.0),
    ]
    out = ratios(runs)
    assert out["wide"]["quix"]["queryable"] == 0.5
    assert out["live"]["quix"]["queryable"] == 2.0


def test_the_goals_shape_is_repeated_when_the_run_has_it() -> None:
    assert repeated_shape(("live", "wide")) == "wide"
    assert repeated_shape(("live",)) == "live"


def test_goals_name_the_rounds_and_take_the_changelog_of_the_first_round() -> None:
    runs = _rounds((10.0, 20.0, 25.0), (10.0, 40.0, 50.0), (20.0, 20.0, 20.0))
    runs[1].extra["changelog_records_per_input_event"] = 0.002
    runs[3].extra["changelog_records_per_input_event"] = 0.5  # a later round's: not judged
    report = {"ratios": ratios(runs), "salespulse_workers": 1}
    found = {g["goal"]: g for g in goals(report, runs)}
    quix = found["salespulse >= 2x Quix Streams (wide, median of 3 rounds)"]
    assert quix["measured"] == 0.4
    assert quix["holds"] is False
    changelog = [g for g in found.values() if "changelog" in g["goal"]]
    assert [g["measured"] for g in changelog] == [0.002]


def test_one_round_names_no_median() -> None:
    runs = _rounds((10.0, 4.0, 5.0))
    report = {"ratios": ratios(runs), "salespulse_workers": 1}
    (quix,) = goals(report, runs)
    assert quix["goal"] == "salespulse >= 2x Quix Streams (wide)"
    assert quix["holds"] is True


def test_rounds_default_to_three_and_must_be_positive(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args([]).rounds == 3
    assert parse_args(["--rounds", "1"]).rounds == 1
    with pytest.raises(SystemExit):
        parse_args(["--rounds", "0"])
    assert "--rounds" in capsys.readouterr().err


def test_rounds_run_each_consumer_in_turn_and_the_measures_that_produce_follow_the_last(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The latency and state measures produce to the input topics: an earlier round's
    worker would drain those records too, so they follow the last round's worker only."""
    import asyncio

    import bench.__main__ as main

    calls: list[tuple[str, int, bool, bool]] = []

    async def peer(consumer: str, *_: Any) -> Run:
        calls.append((consumer, 0, False, False))
        return _run(consumer, 10.0)

    async def salespulse(*_: Any, latency: bool, state: bool) -> tuple[Run, dict[str, Any]]:
        calls.append(("salespulse", 0, latency, state))
        return _run("salespulse", 20.0, queryable=20.0), {"worker_log": []}

    monkeypatch.setattr(main, "run_peer", peer)
    monkeypatch.setattr(main, "run_salespulse", salespulse)
    args = parse_args(["--only", "quix,salespulse,latency", "--shapes", "wide", "--rounds", "3"])
    topics = main.ShapeTopics("wide", {}, {})
    report: dict[str, Any] = {}

    shared = main.Shared(args, None, None, None, None, None, report)  # type: ignore[arg-type]

    async def rounds() -> list[Run]:
        runs: list[Run] = []
        for round_ in (1, 2, 3):
            runs += await main.run_round(shared, topics, round_, 3)
        return runs

    runs = asyncio.run(rounds())
    assert [c[0] for c in calls] == ["quix", "salespulse"] * 3
    assert [c[2:] for c in calls if c[0] == "salespulse"] == [
        (False, False),
        (False, False),
        (True, True),
    ]
    assert [(r.consumer, r.round) for r in runs] == [
        ("quix", 1),
        ("salespulse", 1),
        ("quix", 2),
        ("salespulse", 2),
        ("quix", 3),
        ("salespulse", 3),
    ]
    assert sorted(report["worker_logs"]) == ["wide (round 1)", "wide (round 2)", "wide (round 3)"]


def test_a_missing_quix_streams_is_said_before_the_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the bench's extra, the bench stops at once with what to run, instead of
    ending minutes later with every Quix Streams row INCOMPLETE."""
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "quixstreams" else real(name, *a),
    )
    assert missing_peer(("salespulse", "naive")) is None
    assert bench_main(["--only", "quix,salespulse"]) == 2
    err = capsys.readouterr().err
    assert "Quix Streams is not installed in this venv: run `make bench`" in err


def test_only_the_whole_default_run_replaces_the_latest_results() -> None:
    """bench/results/latest.json backs the README's table: a round of one consumer writes
    elsewhere unless told where."""
    from bench.__main__ import DEFAULT_RESULTS, PARTIAL_RESULTS

    assert parse_args([]).results == DEFAULT_RESULTS
    assert parse_args(["--only", "salespulse", "--rounds", "1"]).results == PARTIAL_RESULTS
    assert parse_args(["--shapes", "wide"]).results == PARTIAL_RESULTS
    assert parse_args(["--only", "salespulse", "--results", "x.json"]).results == Path("x.json")
