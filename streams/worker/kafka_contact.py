"""Whether the worker can reach Kafka, told to the operator: in the log, once when contact is
lost (two failed probes in a row, some 10 s), every few minutes while it lasts and once when it
is back; and as a gauge that an alert watches (sales_kafka_last_contact_timestamp_seconds, alert
KafkaUnreachable).

During a broker outage the worker keeps answering the API and /metrics with the figures it
has, so nothing else shows that they stopped moving: the Kafka client's own errors are held
back (streams.worker.repeated_logs), the consumer lag keeps its last value and Prometheus
still scrapes the worker, so StreamProcessorDown stays quiet.

The probe asks the producer's client for fresh cluster metadata (the connection every
figure, alert and dead letter goes out on). The bookkeeping is plain logic, unit-tested
without a broker.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from streams.domain.periods import rfc3339

log = logging.getLogger(__name__)

#: seconds between probes (a timer of the worker)
PROBE_SECONDS = 5.0
#: a probe that has no answer within this many seconds failed (less than the interval, so
#: a probe never overlaps the next one)
PROBE_TIMEOUT_SECONDS = 4.0
#: while contact is lost, the log says so again this often
REMIND_SECONDS = 300.0
#: failed probes in a row before the log says contact is lost: one alone may be the event
#: loop's fault (a long synchronous step, such as rebuilding a year of views after a
#: rebalance, lets a probe's timeout fire before its answer is read)
FAILURES_TO_TELL = 2


class KafkaContact:
    """The last time Kafka answered, and what the operator has been told about it."""

    def __init__(
        self,
        bootstrap: str,
        logger: logging.Logger = log,
        *,
        on_answer: Callable[[float], None] = lambda _: None,
        remind_every: float = REMIND_SECONDS,
        failures_to_tell: int = FAILURES_TO_TELL,
    ) -> None:
        self.bootstrap = bootstrap
        self.log = logger
        #: called with the time of each answer (the gauge's setter)
        self.on_answer = on_answer
        self.remind_every = remind_every
        self.failures_to_tell = failures_to_tell
        #: epoch seconds of the last answer (None: none yet)
        self.last_answer: float | None = None
        #: epoch seconds of the first failed probe since the last answer (None: in contact)
        self.lost_since: float | None = None
        #: failed probes since the last answer
        self.failures = 0
        #: when the log last said contact is lost (None: it has not, since the last answer)
        self.said_at: float | None = None

    def answered(self, now: float) -> None:
        if self.said_at is not None and self.lost_since is not None:
            self.log.warning(
                "Kafka at %s answers again after %.0f s without contact; the worker catches "
                "up from its committed offsets",
                self.bootstrap,
                now - self.lost_since,
            )
        self.lost_since = self.said_at = None
        self.failures = 0
        self.last_answer = now
        self.on_answer(now)

    def failed(self, now: float, reason: str) -> None:
        self.failures += 1
        if self.lost_since is None:
            self.lost_since = now
        if self.said_at is None:
            if self.failures >= self.failures_to_tell:
                self.said_at = now
                self.log.warning(
                    "lost contact with Kafka at %s (KAFKA_BOOTSTRAP): %s. The API and "
                    "/metrics keep serving the figures as of %s; nothing new is read or sent "
                    "until the broker answers, and the worker reconnects by itself. Check "
                    "the broker and the network to it",
                    self.bootstrap,
                    reason,
                    self._since_text(),
                )
        elif now - self.said_at >= self.remind_every:
            self.said_at = now
            self.log.warning(
                "still no contact with Kafka at %s after %.0f s (%s); figures as of %s",
                self.bootstrap,
                now - self.lost_since,
                reason,
                self._since_text(),
            )

    def state(self) -> dict[str, Any]:
        """What /healthz says: `contact` is "lost" once the log has said so, else "ok"."""
        return {
            "contact": "ok" if self.said_at is None else "lost",
            "last_contact": _instant(self.last_answer),
            "lost_since": None if self.said_at is None else _instant(self.lost_since),
        }

    def _since_text(self) -> str:
        return _instant(self.last_answer) or "the worker's start"


def _instant(epoch: float | None) -> str | None:
    return None if epoch is None else rfc3339(datetime.fromtimestamp(epoch, UTC), "seconds")


async def probe(
    contact: KafkaContact,
    refresh: Callable[[], Awaitable[Any]],
    now: Callable[[], float],
    timeout: float = PROBE_TIMEOUT_SECONDS,
) -> None:
    """One probe: `refresh` asks for cluster metadata and answers whether it came."""
    try:
        came = await asyncio.wait_for(refresh(), timeout)
    except TimeoutError:
        contact.failed(now(), f"no metadata within {timeout:.0f} s")
    except Exception as exc:  # the client's errors: the broker is not there
        contact.failed(now(), f"{type(exc).__name__}: {exc}")
    else:
        if came:
            contact.answered(now())
        else:
            contact.failed(now(), "no broker answered a metadata request")
