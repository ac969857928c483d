"""Split a sales report into licensed and unlicensed sales against the deal scope."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import Field

from domain.common import LicensedScope, Model, ScopeCover
from domain.rate_cards import RateCardRow, RowSales, add_sale, row_for
from domain.sales import SalesLine


def _no_rows(rows: dict[int, RowSales]) -> bool:
    return not rows


class UnlicensedLine(Model):
    sku: str
    category: str
    territory: str
    channel: str
    net_sales: Decimal
    """After returns: may be negative."""
    why: str
    """E.g. "territory US not licensed; channel retail not licensed"."""


class SalesCheck(Model):
    """Totals of the licensed lines (the royalty base) and the unlicensed lines found.

    `net_sales` and `unlicensed_net_sales` are net of returns and may be negative."""

    net_sales: Decimal = Decimal(0)
    gross_sales: Decimal = Decimal(0)
    units: int = 0
    unlicensed_net_sales: Decimal = Decimal(0)
    unlicensed_lines: list[UnlicensedLine] = Field(default_factory=list)
    rows: dict[int, RowSales] = Field(default_factory=dict, exclude_if=_no_rows)
    """Licensed net sales and units per rate-card row taking them (`domain.rate_cards`);
    the lines no row takes are the rest of `net_sales`. Empty without a rate card."""


def why_unlicensed(line: SalesLine, scope: LicensedScope) -> list[str]:
    """Every dimension of a line that falls outside the scope; empty when licensed."""
    return _why_unlicensed(line, scope.cover())


def _why_unlicensed(line: SalesLine, cover: ScopeCover) -> list[str]:
    """Compared normalised on both sides (casefolded category and channel, upper-case
    territory, scope regions expanded): a report or scope stored before the API normalised
    codes matches the same way as new input, so a difference in spelling is never a breach
    and a breach is never hidden by one."""
    reasons = []
    if not cover.has_category(line.category):
        reasons.append(f"category {line.category} not licensed")
    if not cover.has_territory(line.territory):
        reasons.append(f"territory {line.territory} not licensed")
    if not cover.has_channel(line.channel):
        reasons.append(f"channel {line.channel} not licensed")
    return reasons


def check_sales(
    lines: list[SalesLine], scope: LicensedScope, rate_card: Sequence[RateCardRow] = ()
) -> SalesCheck:
    """Sum licensed net/gross/units (also per rate-card row) and list each unlicensed line
    with why.

    Net sales are after returns, so a line, the licensed `net_sales` and
    `unlicensed_net_sales` may each be negative (returns above the period's sales)."""
    cover = scope.cover()
    net, gross, units, unlicensed_net = Decimal(0), Decimal(0), 0, Decimal(0)
    unlicensed: list[UnlicensedLine] = []
    rows: dict[int, RowSales] = {}
    for line in lines:
        reasons = _why_unlicensed(line, cover)
        if reasons:
            unlicensed_net += line.net_sales
            unlicensed.append(
                UnlicensedLine(
                    sku=line.sku,
                    category=line.category,
                    territory=line.territory,
                    channel=line.channel,
                    net_sales=line.net_sales,
                    why="; ".join(reasons),
                )
            )
        else:
            net += line.net_sales
            gross += line.gross_sales
            units += line.units
            if rate_card:
                add_sale(rows, row_for(line, rate_card), line.net_sales, line.units)
    return SalesCheck(
        net_sales=net,
        gross_sales=gross,
        units=units,
        unlicensed_net_sales=unlicensed_net,
        unlicensed_lines=unlicensed,
        rows={row: sales for row, sales in rows.items() if sales.net_sales or sales.units},
    )
