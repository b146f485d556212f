"""Kafka client warnings said once per interval, with a count of the repeats held back.

While the broker is down, aiokafka retries every connection, fetch, produce and
coordinator request about ten times a second and logs each failure: a 10-second broker
restart wrote some 800 identical error lines per worker (the fault test), half of each
worker's log, and an hour's outage would write a few hundred thousand. The operator needs
the first line, then to know it is still going on: each message (by its template, e.g.
"Unable connect to node with id %s: %s") is logged once per interval, and its next line
after the interval says how many were held back meanwhile. When there is no next line (the
outage ended), a timer of the worker reports the count instead (`report_held_back`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

#: loggers whose repeated warnings are held back: the Kafka client's
LOGGER_PREFIX = "aiokafka"
INTERVAL_SECONDS = 10.0
#: the record attribute that holds the filter's answer, for the next handler
DECIDED = "salespulse_repeat_passes"

log = logging.getLogger(__name__)

Template = tuple[str, int, str]  # (logger, level, message template)


class RepeatedWarnings(logging.Filter):
    """A handler filter: a warning (or worse) of the Kafka client's loggers passes at most
    once per `interval` per message template; the next one to pass carries the count of
    those held back. Everything else passes untouched."""

    def __init__(
        self,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        #: (logger, level, template) -> (when it last passed, how many held back since)
        self.seen: dict[Template, tuple[float, int]] = {}
        # the Kafka consumer logs from its own thread, the worker's timer reads from the loop
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING or not is_kafka_client(record.name):
            return True
        decided = record.__dict__.get(DECIDED)
        if decided is not None:  # another handler's turn: same answer, counted once
            return bool(decided)
        with self._lock:
            passes = self._passes(record)
        record.__dict__[DECIDED] = passes
        return passes

    def overdue(self) -> list[tuple[Template, int]]:
        """(message, count) of each message whose interval ended with repeats held back and
        no line since to say so (all of them came within the interval after the message
        last passed: a later one passes); each count is taken once."""
        now = self.clock()
        due: list[tuple[Template, int]] = []
        with self._lock:
            for key, (since, held) in self.seen.items():
                if held and now - since >= self.interval:
                    due.append((key, held))
                    self.seen[key] = (since, 0)
        return due

    def _passes(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()
        last = self.seen.get(key)
        if last is not None and now - last[0] < self.interval:
            self.seen[key] = (last[0], last[1] + 1)
            return False
        self.seen[key] = (now, 0)
        if last is not None and last[1]:
            record.msg = (
                f"{record.getMessage()} ({last[1]} more like this in the last "
                f"{now - last[0]:.0f} s not logged)"
            )
            record.args = ()
        return True


def is_kafka_client(name: str) -> bool:
    return name == LOGGER_PREFIX or name.startswith(LOGGER_PREFIX + ".")


def report_held_back(logger: logging.Logger) -> int:
    """Log, on this module's logger, the repeats the filters on `logger`'s handlers held back
    and no later line reported (run by a timer every interval); returns how many lines."""
    reported = 0
    for shared in installed(logger):
        for (name, level, template), held in shared.overdue():
            log.log(
                level,
                "%s: %d more like %r in the %.0f s after the last one logged, not logged "
                "(it has not come back since)",
                name,
                held,
                template,
                shared.interval,
            )
            reported += 1
    return reported


def installed(logger: logging.Logger) -> list[RepeatedWarnings]:
    """The filters on the logger's handlers, each once (one is shared by every handler)."""
    filters = {
        id(f): f for h in logger.handlers for f in h.filters if isinstance(f, RepeatedWarnings)
    }
    return list(filters.values())


def hold_back_repeats(logger: logging.Logger) -> None:
    """Put one filter on each of the logger's handlers: a record goes through every
    handler, and the filter answers each the same (it counts the record once)."""
    shared = RepeatedWarnings()
    for handler in logger.handlers:
        if not any(isinstance(f, RepeatedWarnings) for f in handler.filters):
            handler.addFilter(shared)
