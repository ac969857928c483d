"""Currencies: ISO 4217 codes only, and amounts at each currency's minor unit (JPY 0
decimals, EUR 2, BHD 3). Funds and metals (XAU, XDR, ...) have no minor unit and cannot be
invoiced."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

import iso4217

from domain.bounds import edge


def minor_unit(code: str) -> int:
    """Decimals of the currency's minor unit; ValueError for anything not invoiceable."""
    try:
        exponent = iso4217.Currency(code).exponent
    except ValueError:
        raise ValueError(f"{code!r} is not an ISO 4217 currency code") from None
    if exponent is None:
        raise ValueError(f"{code} has no minor unit: statements cannot be issued in it")
    return int(exponent)


def to_minor(amount: Decimal, decimals: int) -> Decimal:
    """`amount` rounded half up to `decimals` places (the currency's minor unit)."""
    return amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def check_minor_unit(amount: Decimal, code: str) -> None:
    """ValueError when `amount` has more decimals than `code` allows."""
    decimals = minor_unit(code)
    if amount != to_minor(amount, decimals):
        raise ValueError(f"{code} amounts have at most {decimals} decimals")


def _currency(code: str) -> None:
    minor_unit(code)


CurrencyCode = Annotated[str, edge(_currency)]
"""An ISO 4217 code with a minor unit, upper case (EUR, JPY, BHD)."""
