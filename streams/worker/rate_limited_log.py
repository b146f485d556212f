"""A log that says the first few lines of each interval and then only how many it held back.

A flood of bad input must not flood the log (or slow the hot path with formatting): the
operator sees examples with their topic, partition and offset, and a count of the rest;
every record is on the dead-letter topic anyway. A periodic duty failing again and again
(streams.worker.timers) is logged the same way.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any


class RateLimitedLog:
    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        *,
        per_interval: int = 10,
        interval: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        where: str = "",
    ) -> None:
        self.logger = logger
        self.what = what
        #: where the operator finds every one of them, said with the count
        self.where = where
        self.per_interval = per_interval
        self.interval = interval
        self.clock = clock
        self.window_start = clock()
        self.said = 0
        self.held_back = 0

    def add(self, message: str, *args: Any) -> None:
        """Log one line (a warning) unless this interval's allowance is used up."""
        self._roll()
        if self.said < self.per_interval:
            self.said += 1
            self.logger.warning(message, *args)
        else:
            self.held_back += 1

    def flush(self) -> None:
        """Report what was held back once the interval is over."""
        self._roll()

    def _roll(self) -> None:
        now = self.clock()
        if now - self.window_start < self.interval:
            return
        if self.held_back:
            self.logger.warning(
                "%d more %s in the last %.0f s not logged one by one%s",
                self.held_back,
                self.what,
                now - self.window_start,
                f" ({self.where})" if self.where else "",
            )
        self.window_start = now
        self.said = 0
        self.held_back = 0
