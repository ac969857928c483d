"""Split a sales report into licensed and unlicensed sales against the deal scope."""

from __future__ import annotations

from decimal import Decimal

from pydantic import Field

from domain.common import LicensedScope, Model
from domain.sales import SalesLine


class UnlicensedLine(Model):
    sku: str
    category: str
    territory: str
    channel: str
    net_sales: Decimal
    why: str
    """E.g. "territory US not licensed; channel retail not licensed"."""


class SalesCheck(Model):
    """Totals of the licensed lines (the royalty base) and the unlicensed lines found."""

    net_sales: Decimal = Decimal(0)
    gross_sales: Decimal = Decimal(0)
    units: int = 0
    unlicensed_net_sales: Decimal = Decimal(0)
    unlicensed_lines: list[UnlicensedLine] = Field(default_factory=list)


def why_unlicensed(line: SalesLine, scope: LicensedScope) -> list[str]:
    """Every dimension of a line that falls outside the scope; empty when licensed."""
    reasons = []
    if line.category not in scope.categories:
        reasons.append(f"category {line.category} not licensed")
    if line.territory not in scope.territories:
        reasons.append(f"territory {line.territory} not licensed")
    if line.channel not in scope.channels:
        reasons.append(f"channel {line.channel} not licensed")
    return reasons


def check_sales(lines: list[SalesLine], scope: LicensedScope) -> SalesCheck:
    """Sum licensed net/gross/units and list each unlicensed line with why."""
    net, gross, units, unlicensed_net = Decimal(0), Decimal(0), 0, Decimal(0)
    unlicensed: list[UnlicensedLine] = []
    for line in lines:
        reasons = why_unlicensed(line, scope)
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
    return SalesCheck(
        net_sales=net,
        gross_sales=gross,
        units=units,
        unlicensed_net_sales=unlicensed_net,
        unlicensed_lines=unlicensed,
    )
