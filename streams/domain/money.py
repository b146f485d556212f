"""Currency conversion to the base currency (``SALES_BASE_CURRENCY``, ``SALES_FX_RATES``).

The rates file is a JSON object mapping ISO 4217 codes (three upper-case letters) to the value
of one unit in the base currency, as JSON numbers: ``{"EUR": 1.08, "JPY": 0.0066}``. The rates
are static: deals are converted with the table loaded at start-up, not the rate of the day.

How the base currency is resolved when loading:

* The base listed in the file: every value is divided by the base's value, so the file may
  be expressed in any one currency (``streams/data/fx_rates.json`` is in USD and also serves
  a EUR or GBP base this way). Rebasing divides with 34 significant digits; a file whose
  base is already 1 is used as written.
* The base not listed: the values are taken as already in the base currency, and the base is
  1. If some other code is exactly 1 the file is evidently expressed in that currency, which
  is refused rather than silently misread (add the base code to the file).

The shipped ``streams/data/fx_rates.json`` holds illustrative, approximate rates for a USD
base, good for demos and tests only; supply your own file through ``SALES_FX_RATES``.

Conversion is exact decimal arithmetic: ``Decimal(str(amount)) * rate``, no rounding here
(money is rounded to cents only on output).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any

_CODE = re.compile(r"[A-Z]{3}")
# Products of a float's shortest repr and a rate fit easily: the multiplication is exact.
_EXACT = Context(prec=200)
_REBASE = Context(prec=34)


class FxRatesError(ValueError):
    """The rates table is unusable; the message names the file (when there is one)."""


class UnknownCurrency(KeyError):
    """A currency code is not in the rates table."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

    def __str__(self) -> str:
        return f"unknown currency {self.code!r}: not in the FX rates table"


def _check_code(code: object, where: str) -> str:
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        raise FxRatesError(f"{where}: {code!r} is not an ISO 4217 code (three capital letters)")
    return code


def _check_rate(code: str, value: object, where: str) -> Decimal:
    # bool is an int subclass: true/false are not rates.
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float):
        raise FxRatesError(f"{where}: rate of {code} must be a number, got {value!r}")
    try:
        rate = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise FxRatesError(f"{where}: rate of {code} is not a number: {value!r}") from None
    if not rate.is_finite() or rate <= 0:
        raise FxRatesError(f"{where}: rate of {code} must be a finite number > 0, got {value}")
    return rate


class FxRates:
    """An immutable table of rates into one base currency."""

    def __init__(self, base: str, rates: Mapping[str, Decimal]) -> None:
        """Validate codes and rates; the base's rate is forced to 1."""
        self.base = _check_code(base, "base currency")
        table: dict[str, Decimal] = {}
        for code, value in rates.items():
            table[_check_code(code, "FX rates")] = _check_rate(code, value, "FX rates")
        table[self.base] = Decimal(1)
        self._rates = table
        self.known: frozenset[str] = frozenset(table)

    @classmethod
    def load(cls, path: Path, base: str) -> FxRates:
        """Read a rates file and express it in ``base`` (see the module docstring)."""
        where = str(path)
        base = _check_code(base, f"{where}: base currency")
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise FxRatesError(f"{where}: cannot read FX rates file: {exc}") from None
        try:
            data = json.loads(
                text,
                parse_float=Decimal,
                parse_int=Decimal,
                parse_constant=_reject_constant,
                object_pairs_hook=_no_duplicates,
            )
        except (ValueError, _DuplicateKey) as exc:
            raise FxRatesError(f"{where}: invalid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise FxRatesError(f"{where}: expected a JSON object of code -> rate")
        rates = {
            _check_code(code, where): _check_rate(code, value, where)
            for code, value in data.items()
        }
        if base in rates:
            pivot = rates[base]
            if pivot != 1:
                rates = {code: _REBASE.divide(rate, pivot) for code, rate in rates.items()}
        else:
            ones = sorted(code for code, rate in rates.items() if rate == 1)
            if ones:
                raise FxRatesError(
                    f"{where}: base currency {base} is not in the file, which appears to be "
                    f"expressed in {ones[0]} ({ones[0]} = 1); add {base} to the file"
                )
        return cls(base, rates)

    def rate(self, currency: str) -> Decimal:
        """Value of one unit of ``currency`` in the base currency."""
        try:
            return self._rates[currency]
        except KeyError:
            raise UnknownCurrency(currency) from None

    def to_base(self, amount: float | Decimal, currency: str) -> Decimal:
        """Convert an amount to the base currency exactly (no rounding)."""
        rate = self.rate(currency)
        if isinstance(amount, float) and not math.isfinite(amount):
            raise ValueError(f"amount must be finite, got {amount!r}")
        value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
        if not value.is_finite():
            raise ValueError(f"amount must be finite, got {amount!r}")
        return _EXACT.multiply(value, rate)

    def __repr__(self) -> str:
        return f"FxRates(base={self.base!r}, currencies={len(self.known)})"


class _DuplicateKey(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid rate")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _DuplicateKey(f"duplicate key {key!r}")
        seen[key] = value
    return seen
