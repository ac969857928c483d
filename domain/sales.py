"""Sales reports submitted by partners."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

from pydantic import ConfigDict, Field, model_validator

from domain import bounds, examples, limits
from domain.common import Code, Model, Money, Text


class SalesLine(Model):
    sku: Code
    category: Code
    territory: Code
    channel: Code
    units: Annotated[int, *bounds.number(maximum=limits.MAX_UNITS)] = Field(ge=0)
    gross_sales: Money
    deductions: Money = Decimal(0)

    @model_validator(mode="after")
    def _deductions_within_gross(self) -> SalesLine:
        if self.deductions > self.gross_sales:
            raise ValueError("deductions cannot exceed gross_sales")
        return self

    @property
    def net_sales(self) -> Decimal:
        return self.gross_sales - self.deductions


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
