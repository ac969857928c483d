"""Royalty math: tiers, advance, minimum guarantee, true-up and rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.deal import RoyaltyTier, Terms
from domain.royalty import (
    ContractYearLedger,
    apply_period,
    close_year,
    earned_royalty,
    open_year,
    to_cents,
)

D = Decimal


def terms(advance: str = "20000", mg: str = "60000") -> Terms:
    return Terms(
        royalty_tiers=[
            RoyaltyTier(up_to=D("500000"), rate=D("0.08")),
            RoyaltyTier(up_to=None, rate=D("0.10")),
        ],
        advance=D(advance),
        minimum_guarantee_per_year=D(mg),
    )


def run_year(year: int, sales: list[str], t: Terms) -> tuple[list[Decimal], Decimal]:
    ledger = open_year(year, t)
    invoices = []
    for amount in sales:
        ledger, charge = apply_period(ledger, D(amount), t, year)
        invoices.append(charge.amount_due)
    return invoices, close_year(ledger, t).amount_due


def test_worked_check_two_years() -> None:
    t = terms()
    invoices1, true_up1 = run_year(1, ["100000", "150000", "200000", "50000"], t)
    assert invoices1 == [D("0"), D("0"), D("16000"), D("4000")]
    assert true_up1 == D("20000")
    invoices2, true_up2 = run_year(2, ["200000", "250000", "150000", "150000"], t)
    assert invoices2 == [D("16000"), D("20000"), D("14000"), D("15000")]
    assert true_up2 == D("0")


def test_year_total_is_max_of_mg_earned_and_advance() -> None:
    t = terms()
    for sales in (["0"], ["100000"], ["500000"], ["900000"]):
        invoices, true_up = run_year(1, sales, t)
        earned = to_cents(earned_royalty(D(sales[0]), t.royalty_tiers))
        assert t.advance + sum(invoices) + true_up == max(D("60000"), earned, t.advance)


@pytest.mark.parametrize(
    ("sales", "expected"),
    [
        ("0", "0"),
        ("100000", "8000"),
        ("500000", "40000"),
        ("600000", "50000"),
        ("750000", "65000"),
    ],
)
def test_earned_royalty_marginal_tiers(sales: str, expected: str) -> None:
    assert earned_royalty(D(sales), terms().royalty_tiers) == D(expected)


def test_earned_royalty_three_tiers_and_finite_last_tier() -> None:
    tiers = [
        RoyaltyTier(up_to=D("100"), rate=D("0.1")),
        RoyaltyTier(up_to=D("200"), rate=D("0.2")),
        RoyaltyTier(up_to=D("300"), rate=D("0.3")),
    ]
    assert earned_royalty(D("150"), tiers) == D("10") + D("10")
    # sales above a finite last bound keep earning the last rate
    assert earned_royalty(D("400"), tiers) == D("10") + D("20") + D("60")


def test_earned_royalty_rejects_negative_and_bad_tiers() -> None:
    with pytest.raises(ValueError):
        earned_royalty(D("-1"), terms().royalty_tiers)
    with pytest.raises(ValueError):
        earned_royalty(D("1"), [])
    with pytest.raises(ValueError, match="ascending"):
        earned_royalty(
            D("1000"),
            [
                RoyaltyTier(up_to=D("500"), rate=D("0.1")),
                RoyaltyTier(up_to=D("400"), rate=D("0.2")),
                RoyaltyTier(up_to=None, rate=D("0.3")),
            ],
        )


def test_open_year_credits_advance_in_year_one_only() -> None:
    t = terms()
    first, later = open_year(1, t), open_year(2, t)
    assert (first.advance_credit, first.invoiced) == (D("20000"), D("20000"))
    assert (later.advance_credit, later.invoiced) == (D("0"), D("0"))
    with pytest.raises(ValueError):
        open_year(0, t)


def test_period_charge_fields() -> None:
    t = terms()
    ledger, charge = apply_period(open_year(1, t), D("300000"), t, 1)
    assert charge.royalty_earned == D("24000")
    assert charge.earned_to_date == D("24000")
    assert charge.guaranteed_due == D("20000")
    assert charge.amount_due == D("4000")
    assert ledger.invoiced == D("24000")
    assert ledger.ytd_net_sales == D("300000")


def test_apply_period_is_pure() -> None:
    t = terms()
    ledger = open_year(1, t)
    first = apply_period(ledger, D("300000"), t, 1)
    second = apply_period(ledger, D("300000"), t, 1)
    assert first == second
    assert ledger == open_year(1, t)


def test_wrong_contract_year_and_negative_ytd_rejected() -> None:
    t = terms()
    with pytest.raises(ValueError, match="contract year"):
        apply_period(open_year(1, t), D("1"), t, 2)
    with pytest.raises(ValueError, match="negative"):
        apply_period(open_year(1, t), D("-1"), t, 1)


def test_downward_correction_is_not_credited_and_absorbs_later_sales() -> None:
    t = terms(advance="0", mg="0")
    ledger, charge = apply_period(open_year(2, t), D("100000"), t, 2)
    assert charge.amount_due == D("8000")
    ledger, charge = apply_period(ledger, D("-50000"), t, 2)
    assert charge.amount_due == D("0")
    assert charge.royalty_earned == D("-4000")
    ledger, charge = apply_period(ledger, D("75000"), t, 2)
    assert charge.amount_due == D("2000")  # earned 10,000 minus 8,000 already invoiced
    assert close_year(ledger, t).amount_due == D("0")


def test_true_up_counts_invoiced_amounts_toward_mg() -> None:
    t = terms(advance="0", mg="10000")
    ledger, _ = apply_period(open_year(2, t), D("100000"), t, 2)  # invoiced 8,000
    ledger, _ = apply_period(ledger, D("-50000"), t, 2)  # earned drops to 4,000
    assert close_year(ledger, t).amount_due == D("2000")


def test_rounding_half_up_at_statement_level_without_drift() -> None:
    t = Terms(royalty_tiers=[RoyaltyTier(rate=D("0.05"))])
    ledger = open_year(2, t)
    total = D(0)
    for _ in range(10):
        ledger, charge = apply_period(ledger, D("0.10"), t, 2)  # earns 0.005 each
        assert charge.amount_due == charge.amount_due.quantize(D("0.01"))
        total += charge.amount_due
    assert ledger.earned == D("0.05")  # unrounded running total
    assert total == to_cents(ledger.earned) == D("0.05")
    assert to_cents(D("0.005")) == D("0.01")
    assert to_cents(D("0.0049")) == D("0.00")


def test_ledger_is_frozen() -> None:
    ledger = ContractYearLedger(contract_year=1)
    with pytest.raises(ValueError):
        ledger.invoiced = D("1")  # type: ignore[misc]
