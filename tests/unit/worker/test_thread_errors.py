"""A thread's uncaught exception is one log record (streams.worker.thread_errors), not the
default hook's stderr output, which Faust's logger cut into a line per fragment."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator

import pytest

from streams.worker.thread_errors import log_thread_exception, log_thread_exceptions


@pytest.fixture
def hook() -> Iterator[None]:
    before = threading.excepthook
    log_thread_exceptions()
    try:
        yield
    finally:
        threading.excepthook = before


def _run(target: object) -> None:
    thread = threading.Thread(target=target, name="consumer-thread")  # type: ignore[arg-type]
    thread.start()
    thread.join()


def test_a_thread_that_raises_is_one_error_record_with_its_traceback(
    hook: None, caplog: pytest.LogCaptureFixture
) -> None:
    def fails() -> None:
        raise ValueError("bad offset")

    with caplog.at_level(logging.WARNING):
        _run(fails)
    assert len(caplog.records) == 1, caplog.text
    record = caplog.records[0]
    assert record.levelno == logging.ERROR
    assert record.getMessage() == "thread consumer-thread ended with ValueError: bad offset"
    assert record.exc_info is not None and record.exc_info[0] is ValueError


def test_a_thread_cancelled_mid_request_is_one_warning_without_traceback(
    hook: None, caplog: pytest.LogCaptureFixture
) -> None:
    def cancelled() -> None:
        raise asyncio.CancelledError()

    with caplog.at_level(logging.WARNING):
        _run(cancelled)
    assert len(caplog.records) == 1, caplog.text
    record = caplog.records[0]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert record.getMessage().startswith(
        "thread consumer-thread was cancelled in the middle of a Kafka request"
    )


def test_a_thread_that_exits_logs_nothing(hook: None, caplog: pytest.LogCaptureFixture) -> None:
    def exits() -> None:
        raise SystemExit(0)

    with caplog.at_level(logging.DEBUG):
        _run(exits)
    assert caplog.records == []
    assert threading.excepthook is log_thread_exception
