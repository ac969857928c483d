"""Stable workflow ids, shared by workflows, the API and the parent deal workflow."""

from __future__ import annotations

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
"""Deal, partner and user ids: lower-case, URL-, workflow-id- and visibility-query-safe."""


def deal_workflow_id(deal_id: str) -> str:
    """Workflow id of the LicensingDeal for `deal_id`."""
    return f"deal-{deal_id}"


def partner_approval_id(deal_id: str, partner_id: str) -> str:
    """Workflow id of the PartnerApproval of one partner for one deal."""
    return f"partner-approval-{deal_id}-{partner_id}"
