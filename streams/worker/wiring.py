"""A whole worker: the runtime with its batch handler, timers and HTTP API attached, and
the Faust worker that runs it.

Kept apart from streams.worker.runtime so that they can import the
runtime without a cycle.
"""

from __future__ import annotations

import logging
from typing import Any

import faust

from streams.worker import api, batch_handler, timers
from streams.worker.repeated_logs import hold_back_repeats
from streams.worker.runtime import Runtime
from streams.worker.settings import Settings


def build_runtime(settings: Settings | None = None) -> Runtime:
    runtime = Runtime(settings or Settings.from_env())
    batch_handler.register(runtime)
    timers.register(runtime)
    web: Any = runtime.app.web  # Faust's aiohttp driver
    api.install(web.web_app, runtime)
    return runtime


class SalesWorker(faust.Worker):  # type: ignore[misc]
    """Faust's worker, whose log says the Kafka client's repeated warnings once per interval
    (streams.worker.repeated_logs): Faust sets the log handlers up, then calls this."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        super().on_setup_root_logger(logger, level)
        hold_back_repeats(logger)
