"""FX table loading, validation, rebasing and exact conversion."""

from __future__ import annotations

import json
from decimal import Decimal, localcontext
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.money import FxRates, FxRatesError, UnknownCurrency

DEFAULT = Path(__file__).resolve().parents[3] / "streams" / "data" / "fx_rates.json"
SHIPPED = {
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "INR", "BRL", "SEK",
    "NOK", "DKK", "PLN", "MXN", "SGD", "ZAR", "NZD", "CNY", "HKD",
}  # fmt: skip


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rates.json"
    path.write_text(text, encoding="utf-8")
    return path


def test_default_file_loads_for_usd() -> None:
    fx = FxRates.load(DEFAULT, "USD")
    assert fx.base == "USD"
    assert fx.known == frozenset(SHIPPED)
    assert fx.rate("USD") == Decimal(1)
    raw = json.loads(DEFAULT.read_text(encoding="utf-8"), parse_float=Decimal)
    assert fx.rate("EUR") == raw["EUR"]
    assert all(fx.rate(c) > 0 for c in SHIPPED)


def test_to_base_is_exact() -> None:
    fx = FxRates("USD", {"EUR": Decimal("1.08"), "JPY": Decimal("0.0066")})
    assert fx.to_base(100, "EUR") == Decimal("108.00")
    assert fx.to_base(0.1, "EUR") == Decimal("0.108")  # via str(0.1), not the binary value
    assert fx.to_base(Decimal("19.99"), "EUR") == Decimal("21.5892")
    assert fx.to_base(1234567, "JPY") == Decimal("8148.1422")
    assert fx.to_base(12.5, "USD") == Decimal("12.5")
    assert fx.to_base(0, "EUR") == 0
    # Sums of many small amounts stay exact.
    total = sum((fx.to_base(0.1, "EUR") for _ in range(10)), Decimal(0))
    assert total == Decimal("1.080")


@given(
    cents=st.integers(min_value=0, max_value=10**13),
    rate=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(1000), places=6),
)
def test_to_base_equals_exact_product(cents: int, rate: Decimal) -> None:
    fx = FxRates("USD", {"XXX": rate})
    amount = Decimal(cents).scaleb(-2)
    assert fx.to_base(amount, "XXX") == amount * rate  # default context is exact here
    assert fx.to_base(float(amount), "XXX") == Decimal(str(float(amount))) * rate


def test_unknown_currency() -> None:
    fx = FxRates("USD", {"EUR": Decimal("1.08")})
    with pytest.raises(UnknownCurrency) as info:
        fx.to_base(1, "XYZ")
    assert isinstance(info.value, KeyError)
    assert info.value.code == "XYZ"
    assert "XYZ" in str(info.value)
    with pytest.raises(UnknownCurrency):
        fx.to_base(1, "eur")  # codes are exact
    with pytest.raises(ValueError):
        fx.to_base(float("nan"), "EUR")
    with pytest.raises(ValueError):
        fx.to_base(Decimal("Infinity"), "EUR")


def test_base_is_forced_to_one() -> None:
    fx = FxRates("EUR", {"USD": Decimal("0.93")})
    assert fx.rate("EUR") == 1
    assert fx.known == {"EUR", "USD"}


def test_rebase_default_file_to_eur() -> None:
    fx = FxRates.load(DEFAULT, "EUR")
    assert fx.base == "EUR"
    assert fx.rate("EUR") == 1
    usd = FxRates.load(DEFAULT, "USD")
    # value_in_new_base(c) = rate[c] / rate[new_base], to 34 significant digits
    with localcontext(prec=34):
        assert fx.rate("USD") == Decimal(1) / Decimal("1.08")
        assert fx.rate("GBP") == usd.rate("GBP") / usd.rate("EUR")
    assert abs(fx.to_base(108, "USD") - 100) < Decimal("1e-25")


def test_rebase_to_a_code_missing_from_the_file_is_refused() -> None:
    with pytest.raises(FxRatesError, match=r"KRW.*add KRW"):
        FxRates.load(DEFAULT, "KRW")


def test_file_already_in_the_base_currency(tmp_path: Path) -> None:
    # The contract's own example: values of one unit in the base, base not listed.
    fx = FxRates.load(write(tmp_path, '{"EUR": 1.08}'), "USD")
    assert fx.known == {"EUR", "USD"}
    assert fx.to_base(10, "EUR") == Decimal("10.80")


def test_file_with_the_base_at_one_is_used_as_written(tmp_path: Path) -> None:
    fx = FxRates.load(
        write(tmp_path, '{"USD": 1, "XBT": 1.0000000000000000000000000000000000001}'), "USD"
    )
    assert fx.rate("XBT") == Decimal("1.0000000000000000000000000000000000001")


def test_file_with_the_base_at_another_value_is_rebased(tmp_path: Path) -> None:
    fx = FxRates.load(write(tmp_path, '{"USD": 2, "EUR": 3}'), "USD")
    assert fx.rate("USD") == 1
    assert fx.rate("EUR") == Decimal("1.5")


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("{", "invalid JSON"),
        ('{"EUR": 1.08,}', "invalid JSON"),
        ('{"EUR": 1.08, "EUR": 1.1}', "duplicate"),
        ("[1, 2]", "JSON object"),
        ('"EUR"', "JSON object"),
        ('{"EUR": 0}', "> 0"),
        ('{"EUR": -1.08}', "> 0"),
        ('{"EUR": "1.08"}', "must be a number"),
        ('{"EUR": true}', "must be a number"),
        ('{"EUR": null}', "must be a number"),
        ('{"EUR": NaN}', "invalid JSON"),
        ('{"EUR": Infinity}', "invalid JSON"),
        ('{"eur": 1.08}', "ISO 4217"),
        ('{"EURO": 1.08}', "ISO 4217"),
        ('{"": 1.08}', "ISO 4217"),
    ],
)
def test_bad_files_name_the_file(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FxRatesError) as info:
        FxRates.load(path, "USD")
    assert str(path) in str(info.value)
    assert fragment in str(info.value)


def test_missing_or_unreadable_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(FxRatesError, match=r"nope\.json"):
        FxRates.load(missing, "USD")
    binary = tmp_path / "bin.json"
    binary.write_bytes(b"\xff\xfe{}")
    with pytest.raises(FxRatesError, match=r"bin\.json"):
        FxRates.load(binary, "USD")


def test_bad_base_or_constructor_rates() -> None:
    with pytest.raises(FxRatesError):
        FxRates.load(DEFAULT, "usd")
    with pytest.raises(FxRatesError):
        FxRates("USD", {"EUR": Decimal("-1")})
    with pytest.raises(FxRatesError):
        FxRates("USD", {"EUR": Decimal("NaN")})
    with pytest.raises(FxRatesError):
        FxRates("US", {})


def test_large_exact_values_keep_all_digits(tmp_path: Path) -> None:
    fx = FxRates.load(write(tmp_path, '{"BTC": 64123.123456789012345678901234567890}'), "USD")
    assert fx.rate("BTC") == Decimal("64123.123456789012345678901234567890")
    product = fx.to_base(Decimal("12345678901234.56789"), "BTC")
    with localcontext(prec=100):
        exact = Decimal("12345678901234.56789") * Decimal("64123.123456789012345678901234567890")
    assert product == exact
    assert len(product.as_tuple().digits) > 28  # beyond the default decimal precision
