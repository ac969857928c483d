"""Invoice rules: what a payment against a statement may be, and the unrecouped advance.

A statement is an invoice when its `amount_due` is positive and a credit note when it is
negative (money the licensor pays back). Payments carry the sign of the amount due, at the
currency's minor unit, and never exceed what is still open.
"""

from __future__ import annotations

from decimal import Decimal

from domain.currency import minor_unit, to_minor

ZERO = Decimal(0)


def decimals_of(currency: str) -> int:
    """The currency's minor unit; 2 for a code an earlier release accepted unchecked."""
    try:
        return minor_unit(currency)
    except ValueError:
        return 2


def payment_problem(
    amount: Decimal, *, amount_due: Decimal, paid: Decimal, currency: str
) -> str | None:
    """Why `amount` cannot be paid against a statement (None when it can)."""
    if amount == 0:
        return "a payment cannot be zero"
    decimals = decimals_of(currency)
    if amount != to_minor(amount, decimals):
        return f"{currency} amounts have at most {decimals} decimals"
    if (amount > 0) != (amount_due > 0):
        which = "an invoice" if amount_due > 0 else "a credit note"
        sign = "positive" if amount_due > 0 else "negative"
        return f"a payment of {which} is {sign}, like its amount due {amount_due}"
    balance = amount_due - paid
    if abs(amount) > abs(balance):
        return f"exceeds the open balance of {balance} {currency}"
    return None


def unrecouped_advance(advance: Decimal, year_one_earned: Decimal) -> Decimal:
    """The part of the advance not yet covered by year-1 royalties (it is recouped against
    year 1 only: whatever is left at year end stays with the licensor)."""
    return max(ZERO, advance - year_one_earned)
