"""A whole worker: the runtime with its agents, timers and HTTP API attached.

Kept apart from streams.worker.runtime so that the agents and the API can import the
runtime without a cycle.
"""

from __future__ import annotations

from typing import Any

from streams.worker import agents, api
from streams.worker.runtime import Runtime
from streams.worker.settings import Settings


def build_runtime(settings: Settings | None = None) -> Runtime:
    runtime = Runtime(settings or Settings.from_env())
    agents.register(runtime)
    web: Any = runtime.app.web  # Faust's aiohttp driver
    api.install(web.web_app, runtime)
    return runtime
