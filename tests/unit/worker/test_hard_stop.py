"""A store write the local disk refuses (streams.worker.hard_stop.disk_error): told apart from
every other failure with the error a real RocksDB database raises, and the worker's stop then
sends the operator to the volume, not to a record."""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiokafka.errors import MessageSizeTooLargeError
from faust.exceptions import ProducerSendError

from streams.worker import hard_stop
from streams.worker.hard_stop import disk_error

#: a child process whose files may not grow past this: a RocksDB write-ahead log does
FILE_LIMIT = 200_000

WRITE_PAST_THE_LIMIT = textwrap.dedent(
    """
    import resource, sys
    import rocksdict
    from streams.worker.framed_store import RocksDBPartition
    from streams.worker.hard_stop import disk_error

    hard = resource.getrlimit(resource.RLIMIT_FSIZE)[1]
    resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, hard))
    db = rocksdict.Rdict(sys.argv[1], options=rocksdict.Options(raw_mode=True))
    part = RocksDBPartition(db)
    try:
        for n in range(100):
            part.write({{b"key-%d-%d" % (n, i): b"x" * 1000 for i in range(20)}}, None)
    except Exception as exc:
        print(type(exc).__name__, "|", disk_error(exc), "|", exc)
    else:
        print("no error")
    """
)


def test_a_rocksdb_write_past_the_disk_s_limit_is_a_disk_error(tmp_path: Path) -> None:
    """Python ignores SIGXFSZ, so a write past RLIMIT_FSIZE fails as a full disk does: with
    the error RocksDB gives for any file it cannot append to."""
    code = WRITE_PAST_THE_LIMIT.format(limit=FILE_LIMIT)
    done = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    kind, said, whole = (part.strip() for part in done.stdout.split("|", 2))
    assert kind == "Exception", done.stdout  # rocksdict's, not an OSError
    assert said == whole and said.startswith("IO error: "), done.stdout
    assert "File too large" in said and str(tmp_path / "db") in said, done.stdout


@pytest.mark.parametrize(
    ("exc", "said"),
    [
        (OSError(28, "No space left on device"), "[Errno 28] No space left on device"),
        (
            Exception("IO error: No space left on device: While appending to file: /d/1.log"),
            "IO error: No space left on device: While appending to file: /d/1.log",
        ),
        (Exception("Corruption: block checksum mismatch"), None),
        (ValueError("a record the fold could not read"), None),
    ],
)
def test_only_the_disk_s_complaints_are_disk_errors(exc: BaseException, said: str | None) -> None:
    assert disk_error(exc) == said


def size_error() -> Exception:
    """A send refused for its size, as Faust's producer raises it."""
    try:
        raise ProducerSendError("Error while sending") from MessageSizeTooLargeError()
    except ProducerSendError as exc:
        return exc


@pytest.mark.parametrize(
    ("exc", "advice"),
    [
        (
            Exception("IO error: No space left on device: While appending to file: /d/1.log"),
            "Free space on that volume",
        ),
        (RuntimeError("broker refused"), "the logs above name the record"),
        (size_error(), "Raise that topic's max.message.bytes"),
    ],
)
def test_the_stop_tells_the_operator_where_to_look(
    exc: BaseException,
    advice: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    exits: list[int] = []
    monkeypatch.setattr(hard_stop.os, "_exit", exits.append)
    monkeypatch.setattr(hard_stop.logging, "shutdown", lambda: None)
    with caplog.at_level(logging.CRITICAL, logger=hard_stop.log.name):
        hard_stop.stop_without_commit("writing out 3 state records", exc)
    assert exits == [hard_stop.EXIT_UNHANDLED]
    [record] = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    message = record.getMessage()
    assert message.startswith("stopping the worker without committing: writing out 3 state")
    assert str(exc) in message and advice in message, message
    assert ("Free space" in message) == (disk_error(exc) is not None)
    assert ("max.message.bytes=4194304" in message) == (advice.startswith("Raise"))
