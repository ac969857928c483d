"""Sales reports submitted by partners."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from domain import bounds, examples, limits
from domain.common import Code, Country, LowerCode, Model, Money, Text


def _no_returns(returns: Decimal) -> bool:
    return returns == 0


class SalesLine(Model):
    """One line of a report. `category` and `channel` are case-insensitive (lower-cased on
    input), `territory` is one country's ISO 3166-1 alpha-2 code (upper-cased on input).

    Net sales are gross - deductions - returns: goods returned this period may exceed what
    was sold in it, so a line (and a whole period) may be net negative."""

    sku: Code
    category: LowerCode
    territory: Country
    channel: LowerCode
    units: Annotated[int, *bounds.number(maximum=limits.MAX_UNITS)] = Field(ge=0)
    gross_sales: Money
    deductions: Money = Decimal(0)
    returns: Money = Field(default=Decimal(0), exclude_if=_no_returns)
    """Goods returned this period (value at sale). Left out of the dump when 0, so a report
    without returns keeps the stored JSON and the hash it had before returns existed."""

    @model_validator(mode="after")
    def _deductions_within_gross(self) -> SalesLine:
        if self.deductions > self.gross_sales:
            raise ValueError("deductions cannot exceed gross_sales")
        return self

    @property
    def net_sales(self) -> Decimal:
        """gross_sales - deductions - returns; negative when returns exceed the rest."""
        return self.gross_sales - self.deductions - self.returns


class SalesReport(Model):
    """A partner's report for one period; empty `lines` means "no sales"."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.SALES_REPORT]})

    period: Annotated[int, *bounds.number(maximum=limits.MAX_TERM_PERIODS)] = Field(ge=1)
    lines: Annotated[list[SalesLine], *bounds.max_items(limits.MAX_REPORT_LINES)] = Field(
        default_factory=list
    )
    correction: bool = False
    reason: Text | None = None

    @model_validator(mode="after")
    def _correction_needs_reason(self) -> SalesReport:
        if self.correction and not (self.reason and self.reason.strip()):
            raise ValueError("a correction needs a reason")
        return self
