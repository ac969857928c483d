"""Visibility queries built from validated values only; `quote` is the single way in."""

from __future__ import annotations

import re

from api.params import ID_PATTERN
from store.tokens import Principal
from workflows.search_attributes import DEAL_OWNER, DEAL_STAGE, LICENSING_PARTNER, PENDING_APPROVERS

DEAL_WORKFLOW = "LicensingDeal"
_SAFE_VALUE = re.compile(ID_PATTERN)


def quote(value: str) -> str:
    """A visibility string literal; only identifier-shaped values are accepted.

    Identifiers cannot contain quotes, backslashes or spaces, so the literal cannot be
    broken out of; anything else is refused rather than escaped.
    """
    if not _SAFE_VALUE.fullmatch(value):
        raise ValueError(f"not a safe visibility value: {value!r}")
    return f"'{value}'"


def _eq(attribute: str, value: str) -> str:
    return f"{attribute} = {quote(value)}"


def tasks_query(user: str) -> str:
    """Running workflows where `user` holds an open task."""
    return f"ExecutionStatus = 'Running' AND {_eq(PENDING_APPROVERS.name, user)}"


def deals_query(
    who: Principal,
    *,
    stage: str | None = None,
    partner_id: str | None = None,
    owner: str | None = None,
) -> str:
    """Deals matching the filters, narrowed to what the caller may see."""
    clauses = [f"WorkflowType = {quote_type(DEAL_WORKFLOW)}"]
    if stage:
        clauses.append(_eq(DEAL_STAGE.name, stage))
    if partner_id:
        clauses.append(_eq(LICENSING_PARTNER.name, partner_id))
    if owner:
        clauses.append(_eq(DEAL_OWNER.name, owner))
    scope = visible_scope(who)
    if scope:
        clauses.append(scope)
    return " AND ".join(clauses)


def visible_scope(who: Principal) -> str | None:
    """None for admin/ops (everything); otherwise an OR of what each role may see."""
    if who.has("admin", "ops"):
        return None
    alternatives: list[str] = []
    if who.has("owner"):
        alternatives.append(_eq(DEAL_OWNER.name, who.user))
    if who.has("partner") and who.partner_id:
        alternatives.append(_eq(LICENSING_PARTNER.name, who.partner_id))
    if who.has("approver"):
        alternatives.append(_eq(PENDING_APPROVERS.name, who.user))
    if not alternatives:
        raise PermissionError(f"{who.user} may not list deals")
    return "(" + " OR ".join(alternatives) + ")"


def quote_type(name: str) -> str:
    """Workflow type names are constants of this code base (CamelCase)."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9]{0,62}", name):
        raise ValueError(f"not a workflow type name: {name!r}")
    return f"'{name}'"
