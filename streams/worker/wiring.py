"""A whole worker: the runtime with its batch handler, timers and HTTP API attached, and
the Faust worker that runs it.

Kept apart from streams.worker.runtime so that they can import the
runtime without a cycle.
"""

from __future__ import annotations

import logging
import os
import signal
from typing import Any, NoReturn

import faust

from streams.worker import api, batch_handler, http_connections, timers
from streams.worker.repeated_logs import hold_back_repeats
from streams.worker.runtime import Runtime
from streams.worker.settings import Settings

log = logging.getLogger(__name__)


def build_runtime(settings: Settings | None = None) -> Runtime:
    runtime = Runtime(settings or Settings.from_env())
    batch_handler.register(runtime)
    timers.register(runtime)
    web: Any = runtime.app.web  # Faust's aiohttp driver
    api.install(web.web_app, runtime)
    http_connections.install(web, runtime.settings)
    return runtime


#: the exit status of a stop cut short, SALES_STOP_TIMEOUT past or a second signal
#: (sysexits' EX_TEMPFAIL: Kafka away for now)
EXIT_STOP_CUT = 75
#: a second signal this soon after the first is the same stop delivered twice: SIGTERM sent
#: to `make worker`'s process group reaches the worker from the group and again from make
SAME_SIGNAL_SECONDS = 1.0


class SalesWorker(faust.Worker):  # type: ignore[misc]
    """Faust's worker, with a stop that ends.

    Its log says the Kafka client's repeated warnings once per interval
    (streams.worker.repeated_logs): Faust sets the log handlers up, then calls
    `on_setup_root_logger`. A stop waits for the last checkpoint and commit, which wait for
    Kafka: with the broker away, mode's worker waited for ever and ignored any further
    signal. Past SALES_STOP_TIMEOUT, or at a second signal, it exits as a crash would: the
    running marker stays, so the next start on the data dir discards the local state and
    restores it from the changelog, and the input since the last commit is folded again.
    """

    def __init__(self, app: Any, *services: Any, settings: Settings, **kwargs: Any) -> None:
        super().__init__(app, *services, **kwargs)
        self.settings = settings

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        hold_back_repeats(logger)

    def _schedule_shutdown(self, signum: signal.Signals) -> None:
        """mode's handler of SIGTERM and SIGINT (its private API, faust-streaming pinned)."""
        if self._signal_stop_time:
            if self.loop.time() - self._signal_stop_time < SAME_SIGNAL_SECONDS:
                log.info(
                    "%s again within %g s: taken as the same stop (a process group's members "
                    "both pass a signal on, `make worker` for one); a signal later cuts the "
                    "stop short",
                    signum.name,
                    SAME_SIGNAL_SECONDS,
                )
                return
            self._exit_unclean(f"{signum.name} again while stopping")
        super()._schedule_shutdown(signum)
        self.loop.call_later(self.settings.stop_timeout, self._stop_overdue, signum)

    def _stop_overdue(self, signum: signal.Signals) -> None:
        self._exit_unclean(
            f"not stopped {self.settings.stop_timeout:g} s after {signum.name} "
            f"(SALES_STOP_TIMEOUT): a stop commits, and a commit waits for Kafka at "
            f"{self.settings.kafka_bootstrap} (unreachable?) and for a rebalance of the "
            "consumer group under way to end (workers joining or leaving at once?); it also "
            "waits for the API's open requests"
        )

    @staticmethod
    def _exit_unclean(why: str) -> NoReturn:
        log.critical(
            "%s. Exiting without a clean stop, as a crash would: the next start on this data "
            "dir restores the state from the changelog and folds the input since the last "
            "commit again; nothing is lost or counted twice",
            why,
        )
        logging.shutdown()  # flush the log: os._exit runs no cleanup
        os._exit(EXIT_STOP_CUT)
