"""A BusinessCollector over a harness's views, evaluating targets as the worker does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from streams.engine.queries import target_evaluations
from streams.engine.rollups import Views
from streams.worker.metrics import BusinessCollector
from streams.worker.settings import Settings


def business_collector(
    views: Views, settings: Settings, clock: Callable[[], datetime], **options: Any
) -> BusinessCollector:
    """`options`: the collector's own (`ready`, `home_team`)."""
    return BusinessCollector(
        views,
        settings,
        lambda scope, now: target_evaluations(
            views.get(scope), now=now, tz=settings.tz, at_risk_pace=settings.at_risk_pace
        ),
        clock=clock,
        **options,
    )
