"""Ending the worker at once, with nothing committed past what it did not handle, and telling
the operator what a restart will do.

Returning an error to Faust would let it acknowledge the batch and restart the task
(committed, never applied), and its table recovery logs a failed write and retries it for
ever, against a RocksDB database that refuses every write after one failed. A hard exit is
the crash every state record is built to survive: a restarted worker discards a local state
it did not close cleanly, restores it from the changelog, and replays from the last
committed offset, idempotently.
"""

from __future__ import annotations

import logging
import os
from typing import NoReturn

from streams.engine.items import UnreadableEnvelope
from streams.worker.outgoing import PRODUCER_REQUEST_BYTES, too_large
from streams.worker.topic_retention import alter_command

log = logging.getLogger(__name__)

#: exit status of a worker that stopped rather than commit past a batch it did not handle
EXIT_UNHANDLED = 70

#: how RocksDB words a failed file operation (its Status::IOError), which rocksdict raises as
#: a plain Exception: "IO error: No space left on device: While appending to file: ..."
ROCKSDB_IO_ERROR = "IO error: "


def disk_error(exc: BaseException) -> str | None:
    """What the local disk said, when `exc` is a store write the disk refused (full, a file
    past its size limit, a read-only or vanished volume); None for any other failure. The
    operator's fix is then on the volume, not in the data: nothing about a record to report."""
    if isinstance(exc, OSError):
        return str(exc)
    text = str(exc)
    return text if text.startswith(ROCKSDB_IO_ERROR) else None


def stop_without_commit(what: str, exc: BaseException) -> NoReturn:
    """End the process at once: `what` failed with `exc`, and no offset may be committed
    past it."""
    log.critical(
        "stopping the worker without committing: %s failed: %s: %s. %s",
        what,
        type(exc).__name__,
        exc,
        after_stop(exc),
        exc_info=exc,
    )
    logging.shutdown()  # flush the log: os._exit runs no cleanup
    os._exit(EXIT_UNHANDLED)


def after_stop(exc: BaseException) -> str:
    """What the operator may expect of a restart."""
    if disk_error(exc) is not None:
        return (
            "The local disk refused the state store's write (SALES_DATA_DIR). Nothing is "
            "lost: no offset was committed past it. Free space on that volume (or make it "
            "writable), then restart the worker: it restores its state from the changelog "
            "topic and replays from the last committed offset"
        )
    if too_large(exc):
        return (
            "A record was larger than its topic takes (the ERROR above names the topic; a "
            "state record larger than a changelog frame is named in a WARNING above). Nothing "
            "is lost: no offset was committed past it. Raise that topic's max.message.bytes "
            f"({alter_command('<topic>', f'max.message.bytes={PRODUCER_REQUEST_BYTES}')}), "
            "then restart the worker; a record past that, the most its producer sends, "
            "cannot be written: report it with this message"
        )
    if isinstance(exc, UnreadableEnvelope):
        return (
            "Nothing is lost: no offset was committed past that record. A restart stops on it "
            "again until this worker runs a version that reads it"
        )
    return (
        "Nothing is lost; restart the worker to replay from the last committed offset (if "
        "this repeats, the logs above name the record; report it with this message)"
    )
