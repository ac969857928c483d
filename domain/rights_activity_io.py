"""Inputs and outputs of the rights-ledger activities (`activities/rights.py`)."""

from __future__ import annotations

from pydantic import Field

from domain.common import Model
from domain.rights import Holding, RightsConflict, WindowPolicy


class HoldRightsInput(Model):
    """Make the deal's grants exactly `holdings` (cells of no holding are released), in one
    transaction; `key` (made by the workflow) names the change in the audit log."""

    key: str
    deal_id: str
    workflow_id: str
    property_id: str
    partner_id: str | None = None
    plan_version: int
    holdings: list[Holding] = Field(min_length=1)
    window: WindowPolicy = "clip"
    action: str = "rights.hold"
    """The audit action: `rights.reserve`, `rights.activate`, `rights.extend`, ..."""


class HoldRightsResult(Model):
    """The cells held, or the conflict that refused the change (nothing changed then)."""

    cells: int = 0
    clipped: int = 0
    """Cells held for a shorter window than asked (the property's availability ends first)."""
    conflict: RightsConflict | None = None


class ReleaseRightsInput(Model):
    """Release every grant of the deal (cancelled, terminated, expired)."""

    key: str
    deal_id: str
    workflow_id: str
    reason: str


class ReleaseRightsResult(Model):
    released: int = 0
