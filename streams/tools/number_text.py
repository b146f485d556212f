"""Figures as the tables of `report` and `run` print them.

Rounded half away from zero on the decimal the API sent (12.5 % prints 13 %, as a reader
rounds it), not on the binary float: Python's own formatting rounds halves to even, and
0.145 * 100 is 14.499999999999998 in binary.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any


def exact(value: Any) -> Decimal:
    """The figure as the API wrote it: repr gives the shortest text that reads back as the
    same float, so differences of figures carry no binary noise either."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def number(value: Any, digits: int = 0) -> str:
    """A figure with thousands separators and `digits` decimals; "-" for null."""
    if value is None:
        return "-"
    rounded = exact(value).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    return f"{rounded + 0:,.{digits}f}"  # + 0: -0 prints as 0


def percent(value: Any) -> str:
    """A ratio (0.125) as a whole percentage (13%); "-" for null."""
    return "-" if value is None else f"{number(exact(value) * 100)}%"
