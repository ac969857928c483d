"""ISO 4217 currencies and amounts at each currency's minor unit."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError

from domain.currency import check_minor_unit, minor_unit, to_minor
from domain.deal import RoyaltyTier, Terms
from domain.royalty import apply_period, close_year, open_year


def terms(currency: str, rate: str = "0.07", **money: str) -> Terms:
    return Terms(currency=currency, royalty_tiers=[RoyaltyTier(rate=Decimal(rate))], **money)


def test_minor_units_follow_iso_4217() -> None:
    assert (minor_unit("EUR"), minor_unit("JPY"), minor_unit("BHD")) == (2, 0, 3)
    for bad in ("banana", "eur", "XAU", "XDR"):
        with pytest.raises(ValueError):
            minor_unit(bad)
    with pytest.raises(ValidationError, match="currency"):
        terms("banana")


def test_input_amounts_fit_the_minor_unit() -> None:
    assert terms("JPY", advance="100000").advance == Decimal(100000)
    with pytest.raises(ValidationError) as failed:
        terms("JPY", advance="100000.5")
    assert failed.value.errors()[0]["loc"] == ("advance",)
    terms("BHD", minimum_guarantee_per_year="1000.125")
    check_minor_unit(Decimal("10.50"), "EUR")
    with pytest.raises(ValueError, match="at most 0 decimals"):
        check_minor_unit(Decimal("10.5"), "JPY")


def test_royalties_round_to_the_minor_unit() -> None:
    # 12,345 JPY at 7% = 864.15 JPY: invoiced as 864 yen, not 864.15
    jpy = terms("JPY")
    _, charge = apply_period(open_year(1, jpy), Decimal(12345), jpy, 1, jpy.minor_unit)
    assert (charge.royalty_earned, charge.amount_due) == (Decimal(864), Decimal(864))
    # 1,234.567 BHD at 7% = 86.41969 BHD: 86.420 (three decimals)
    bhd = terms("BHD")
    ledger, charge = apply_period(open_year(1, bhd), Decimal("1234.567"), bhd, 1, 3)
    assert charge.amount_due == Decimal("86.420")
    assert close_year(ledger, bhd, 3).earned == Decimal("86.420")
    assert to_minor(Decimal("2.5"), 0) == Decimal(3)  # half up
