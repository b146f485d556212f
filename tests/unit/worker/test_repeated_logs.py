"""The Kafka client's repeated warnings are said once per interval, with a count.

While the broker was down for a few seconds in the fault test, each worker logged some 800
"Unable connect to node" lines; the operator needs the first one and then a count.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from mode.utils.logging import ExtensionFormatter

from streams.worker.repeated_logs import (
    RepeatedWarnings,
    hold_back_repeats,
    installed,
    report_held_back,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def logged() -> Iterator[tuple[io.StringIO, Clock, logging.Handler]]:
    """A handler with the filter, on the Kafka client's loggers and ours."""
    out = io.StringIO()
    clock = Clock()
    handler = logging.StreamHandler(out)
    # the formatter Faust's worker installs: it reads the record's args again
    handler.setFormatter(ExtensionFormatter(stream=out, fmt="%(name)s %(levelname)s %(message)s"))
    handler.addFilter(RepeatedWarnings(interval=10.0, clock=clock))
    loggers = [logging.getLogger(n) for n in ("aiokafka.conn", "aiokafka", "streams.x")]
    for logger in loggers:
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.INFO)
    yield out, clock, handler
    for logger in loggers:
        logger.removeHandler(handler)
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def lines(out: io.StringIO) -> list[str]:
    return out.getvalue().splitlines()


def test_a_repeated_client_error_is_said_once_per_interval_then_with_a_count(
    logged: tuple[io.StringIO, Clock, logging.Handler],
) -> None:
    out, clock, _ = logged
    conn = logging.getLogger("aiokafka.conn")
    for n in range(100):
        conn.error("Unable connect to node with id %s: %s", 1, f"attempt {n}")
        clock.now += 0.05
    assert lines(out) == ["aiokafka.conn ERROR Unable connect to node with id 1: attempt 0"]
    clock.now += 10
    conn.error("Unable connect to node with id %s: %s", 1, "attempt 100")
    assert lines(out)[1] == (
        "aiokafka.conn ERROR Unable connect to node with id 1: attempt 100 "
        "(99 more like this in the last 15 s not logged)"
    )
    clock.now += 10
    conn.error("Unable connect to node with id %s: %s", 1, "attempt 101")
    assert lines(out)[2] == "aiokafka.conn ERROR Unable connect to node with id 1: attempt 101"


def test_other_messages_levels_and_loggers_pass(
    logged: tuple[io.StringIO, Clock, logging.Handler],
) -> None:
    out, _, _ = logged
    for _ in range(3):
        logging.getLogger("aiokafka.conn").error("Unable connect to node with id %s", 1)
        logging.getLogger("aiokafka.conn").warning("Unable connect to node with id %s", 1)
        logging.getLogger("aiokafka").error("Unable to update metadata from %s", [1])
        logging.getLogger("aiokafka.conn").info("Joined group %s", "g")
        logging.getLogger("streams.x").error("fold failed on %s", "rec")
    said = lines(out)
    assert said.count("aiokafka.conn ERROR Unable connect to node with id 1") == 1
    assert said.count("aiokafka.conn WARNING Unable connect to node with id 1") == 1
    assert said.count("aiokafka ERROR Unable to update metadata from [1]") == 1
    assert said.count("aiokafka.conn INFO Joined group g") == 3, "information is never held"
    assert said.count("streams.x ERROR fold failed on rec") == 3, "only the Kafka client's"


def two_handlers(clock: Clock) -> tuple[logging.Logger, list[io.StringIO]]:
    """A Kafka client logger writing to two streams, the filter put on it on `clock`."""
    logger = logging.Logger("aiokafka.under-test")
    streams = [io.StringIO(), io.StringIO()]
    for stream in streams:
        logger.addHandler(logging.StreamHandler(stream))
    hold_back_repeats(logger)
    for f in installed(logger):
        f.clock = clock
    return logger, streams


def test_every_handler_says_the_same_and_a_record_counts_once() -> None:
    """Faust's worker may add a second handler (its spinner, on a terminal): each handler
    runs the filter, and a held-back count must be the records', not the handlers'."""
    clock = Clock()
    logger, streams = two_handlers(clock)
    hold_back_repeats(logger)  # idempotent
    filters = [f for h in logger.handlers for f in h.filters]
    assert len(filters) == 2 and all(isinstance(f, RepeatedWarnings) for f in filters)
    assert installed(logger) == [filters[0]], "one filter, shared by both handlers"
    for _ in range(5):
        logger.error("Unable to update metadata from %s", [1])
    clock.now += 11
    logger.error("Unable to update metadata from %s", [1])
    for stream in streams:
        assert stream.getvalue().splitlines() == [
            "Unable to update metadata from [1]",
            "Unable to update metadata from [1] (4 more like this in the last 11 s not logged)",
        ]


def test_repeats_whose_message_never_comes_back_are_reported_once_by_the_timer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An outage that ends leaves its last interval's count with no next line to carry it:
    the worker's timer reports it, once, and the message's next line carries no count."""
    clock = Clock()
    logger, (stream, _) = two_handlers(clock)  # one shared filter, one report
    caplog.set_level(logging.INFO, logger="streams.worker.repeated_logs")
    for _ in range(5):
        logger.error("Unable to update metadata from %s", [1])
        clock.now += 1
    assert report_held_back(logger) == 0, "the interval is not over: a next line may come"
    clock.now += 6
    assert report_held_back(logger) == 1
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.ERROR,
            "aiokafka.under-test: 4 more like 'Unable to update metadata from %s' in the "
            "10 s after the last one logged, not logged (it has not come back since)",
        )
    ]
    assert report_held_back(logger) == 0, "a count is reported once"
    logger.error("Unable to update metadata from %s", [1])
    assert stream.getvalue().splitlines() == ["Unable to update metadata from [1]"] * 2
    assert report_held_back(logging.Logger("no-filter")) == 0


def test_faust_logging_setup_ends_with_the_filter_on_the_root_handlers() -> None:
    """Faust replaces the root logger's handlers when the worker starts: the filter must go
    on the ones it installs."""
    import faust

    from streams.worker.settings import Settings
    from streams.worker.wiring import SalesWorker

    saved = logging.root.handlers[:], logging.root.level
    app = faust.App("repeated-logs-test", autodiscover=False)
    worker = SalesWorker(app, settings=Settings(), loglevel="info", quiet=True)
    try:
        worker._setup_logging()
        assert logging.root.handlers
        for handler in logging.root.handlers:
            assert any(isinstance(f, RepeatedWarnings) for f in handler.filters)
    finally:
        logging.root.handlers[:] = saved[0]
        logging.root.setLevel(saved[1])
