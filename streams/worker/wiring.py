"""A whole worker: the runtime with its batch handler, timers and HTTP API attached.

Kept apart from streams.worker.runtime so that they can import the
runtime without a cycle.
"""

from __future__ import annotations

from typing import Any

from streams.worker import api, batch_handler, timers
from streams.worker.runtime import Runtime
from streams.worker.settings import Settings


def build_runtime(settings: Settings | None = None) -> Runtime:
    runtime = Runtime(settings or Settings.from_env())
    batch_handler.register(runtime)
    timers.register(runtime)
    web: Any = runtime.app.web  # Faust's aiohttp driver
    api.install(web.web_app, runtime)
    return runtime
