"""The live view styles every quadrant and status of the contract's vocabulary."""

from __future__ import annotations

from streams.domain.vocabulary import QUADRANTS, TARGET_STATUSES
from streams.tools.live_view import QUADRANT_STYLE, STATUS_STYLE


def test_every_quadrant_and_status_has_a_style() -> None:
    assert set(QUADRANT_STYLE) == set(QUADRANTS)
    assert set(STATUS_STYLE) == set(TARGET_STATUSES)
