"""tests/support/workers.eventually: a check passes when it returns without an assertion
failing, and not when it returns False (the held-rebalance test's rejoin check returned a
bool, so its wait passed at the first call whatever it found)."""

from __future__ import annotations

import pytest

from tests.support.workers import eventually


async def test_a_check_that_returns_false_is_asked_again() -> None:
    calls = 0

    async def third_time() -> bool:
        nonlocal calls
        calls += 1
        return calls >= 3

    assert await eventually(third_time, timeout=5, interval=0.01) is True
    assert calls == 3


async def test_a_check_that_stays_false_fails_at_the_timeout_naming_it() -> None:
    async def never() -> bool:
        return False

    with pytest.raises(AssertionError, match="never is still False"):
        await eventually(never, timeout=0.05, interval=0.01)


async def test_a_check_that_returns_a_value_or_none_passes_at_once() -> None:
    async def figures() -> dict[str, int]:
        return {"total": 0}

    async def nothing() -> None:
        return None

    assert await eventually(figures, timeout=0.05) == {"total": 0}
    assert await eventually(nothing, timeout=0.05) is None
