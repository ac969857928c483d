"""Invoice rules: payments against invoices and credit notes, the unrecouped advance."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.invoices import payment_problem, unrecouped_advance

D = Decimal


@pytest.mark.parametrize(
    ("amount", "due", "paid", "currency"),
    [
        ("40.00", "100.00", "0", "EUR"),
        ("100.00", "100.00", "0", "EUR"),
        ("60", "100.00", "40.00", "EUR"),
        ("-25.50", "-40.00", "0", "EUR"),
        ("-14.50", "-40.00", "-25.50", "EUR"),
        ("1000", "5000", "0", "JPY"),
        ("0.125", "1.000", "0", "BHD"),
    ],
)
def test_payments_that_fit(amount: str, due: str, paid: str, currency: str) -> None:
    assert payment_problem(D(amount), amount_due=D(due), paid=D(paid), currency=currency) is None


@pytest.mark.parametrize(
    ("amount", "due", "paid", "currency", "message"),
    [
        ("0", "100.00", "0", "EUR", "cannot be zero"),
        ("100.01", "100.00", "0", "EUR", "exceeds the open balance of 100.00 EUR"),
        ("60.01", "100.00", "40.00", "EUR", "exceeds the open balance of 60.00 EUR"),
        ("-10.00", "100.00", "0", "EUR", "a payment of an invoice is positive"),
        ("10.00", "-40.00", "0", "EUR", "a payment of a credit note is negative"),
        ("-40.01", "-40.00", "0", "EUR", "exceeds the open balance of -40.00 EUR"),
        ("100.5", "5000", "0", "JPY", "JPY amounts have at most 0 decimals"),
        ("10.001", "100.00", "0", "EUR", "EUR amounts have at most 2 decimals"),
    ],
)
def test_payments_refused(amount: str, due: str, paid: str, currency: str, message: str) -> None:
    found = payment_problem(D(amount), amount_due=D(due), paid=D(paid), currency=currency)
    assert found is not None and message in found


def test_a_currency_accepted_unchecked_earlier_counts_cents() -> None:
    assert payment_problem(D("1.25"), amount_due=D(5), paid=D(0), currency="XXQ") is None
    assert payment_problem(D("1.255"), amount_due=D(5), paid=D(0), currency="XXQ")


def test_unrecouped_advance_never_goes_below_zero() -> None:
    assert unrecouped_advance(D(20000), D(16000)) == D(4000)
    assert unrecouped_advance(D(20000), D(25000)) == 0
    assert unrecouped_advance(D(0), D(100)) == 0
