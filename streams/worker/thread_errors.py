"""An exception that ends one of the worker's threads, logged as one record.

Faust runs the Kafka consumer in a thread of its own and hands whatever the process writes to
stderr to its logger, a write at a time: Python's default `threading.excepthook` came out as
some sixty WARNING lines, one per fragment of the traceback. Seen when a worker stops while
Kafka is unreachable: aiokafka's fetcher, closed in the middle of a request, lets
`CancelledError` out of the consumer's `stop()`, and the worker's stop timeout then ends the
process as a crash would (its own message says what that means).
"""

from __future__ import annotations

import asyncio
import logging
import threading

log = logging.getLogger("salespulse.worker")


def log_thread_exception(args: threading.ExceptHookArgs) -> None:
    """`threading.excepthook` for the worker: one log record per exception."""
    if args.exc_type is SystemExit:  # as the default hook: a thread's exit is not an error
        return
    name = args.thread.name if args.thread is not None else "unknown"
    if issubclass(args.exc_type, asyncio.CancelledError):
        log.warning(
            "thread %s was cancelled in the middle of a Kafka request (aiokafka's fetcher, "
            "closed while a stop waits for an unreachable broker, does this); the worker's "
            "stop goes on without it",
            name,
        )
        return
    log.error(
        "thread %s ended with %s: %s",
        name,
        args.exc_type.__name__,
        args.exc_value,
        exc_info=args.exc_value if args.exc_value is not None else True,
    )


def log_thread_exceptions() -> None:
    """Route every thread's uncaught exception through `log_thread_exception`."""
    threading.excepthook = log_thread_exception
