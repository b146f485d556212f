"""Every kind of item on the internal topic has a handler in the fold."""

from __future__ import annotations

from typing import get_args

from streams.engine import processor
from streams.engine.items import Item


def test_every_item_type_has_a_handler() -> None:
    assert set(processor._HANDLERS) == set(get_args(Item))
