"""Stable workflow ids, shared by workflows, the API and the parent deal workflow.

Workflow ids and task ids:

* a deal: `deal-<deal_id>`;
* a partner approval: `partner-approval:<deal_id>:<partner_id>`. Identifiers cannot
  contain `:` (`ID_PATTERN`), so two (deal, partner) pairs never share an id. Approvals
  started before the `partner-approval-v2` patch keep their legacy id
  `partner-approval-<deal_id>-<partner_id>`, which is ambiguous (deal `zeta` + partner
  `eu-acme` and deal `zeta-eu` + partner `acme` give the same id): it is accepted, never
  built for a new approval, and cannot be split back into its deal and partner;
* a task: `<workflow_id>:<local id>` (`plan-v1`, `legal-v2`, `incident-1`, ...). Split it
  with `split_task_id`, never at the first `:` (the approval id holds two).
"""

from __future__ import annotations

import re

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"
"""Deal, partner and user ids: lower-case, URL-, workflow-id- and visibility-query-safe.
No `:`: it separates the parts of workflow and task ids."""

ID_SEPARATOR = ":"
"""Separates the parts of a partner approval id and a task id from its local id."""

DEAL_ID_PREFIX = "deal-"
APPROVAL_ID_PREFIX = f"partner-approval{ID_SEPARATOR}"
"""Prefix of partner approval ids (since the `partner-approval-v2` patch)."""
LEGACY_APPROVAL_ID_PREFIX = "partner-approval-"
"""Prefix of partner approval ids started before the `partner-approval-v2` patch."""

_IDENTIFIER = re.compile(ID_PATTERN)


def deal_workflow_id(deal_id: str) -> str:
    """Workflow id of the LicensingDeal for `deal_id`."""
    return f"{DEAL_ID_PREFIX}{deal_id}"


def partner_approval_id(deal_id: str, partner_id: str) -> str:
    """Workflow id of the PartnerApproval of one partner for one deal (unique per pair)."""
    return f"{APPROVAL_ID_PREFIX}{deal_id}{ID_SEPARATOR}{partner_id}"


def legacy_partner_approval_id(deal_id: str, partner_id: str) -> str:
    """The id approvals started before the `partner-approval-v2` patch have (ambiguous)."""
    return f"{LEGACY_APPROVAL_ID_PREFIX}{deal_id}-{partner_id}"


def is_deal_workflow_id(workflow_id: str) -> bool:
    """True for `deal-<deal_id>`."""
    rest = workflow_id.removeprefix(DEAL_ID_PREFIX)
    return rest != workflow_id and bool(_IDENTIFIER.fullmatch(rest))


def is_partner_approval_id(workflow_id: str) -> bool:
    """True for a partner approval id of either form."""
    if workflow_id.startswith(APPROVAL_ID_PREFIX):
        return parse_partner_approval_id(workflow_id) is not None
    rest = workflow_id.removeprefix(LEGACY_APPROVAL_ID_PREFIX)
    return rest != workflow_id and ID_SEPARATOR not in rest and bool(rest)


def parse_partner_approval_id(workflow_id: str) -> tuple[str, str] | None:
    """(deal_id, partner_id) of a partner approval id; None for anything else, and for a
    legacy id (it cannot be split: read the approval's `state` for its deal and partner)."""
    if not workflow_id.startswith(APPROVAL_ID_PREFIX):
        return None
    parts = workflow_id.removeprefix(APPROVAL_ID_PREFIX).split(ID_SEPARATOR)
    if len(parts) != 2 or not all(_IDENTIFIER.fullmatch(p) for p in parts):
        return None
    return parts[0], parts[1]


def split_task_id(task_id: str) -> tuple[str, str] | None:
    """(workflow_id, local_id) of a task id, or None when it names no workflow holding tasks
    (a deal or a partner approval of either form) or has no local id."""
    if task_id.startswith(APPROVAL_ID_PREFIX):
        parts = task_id.split(ID_SEPARATOR, 3)
        if len(parts) != 4:
            return None
        workflow_id, local_id = ID_SEPARATOR.join(parts[:3]), parts[3]
    else:
        workflow_id, _, local_id = task_id.partition(ID_SEPARATOR)
    if not local_id:
        return None
    if not (is_deal_workflow_id(workflow_id) or is_partner_approval_id(workflow_id)):
        return None
    return workflow_id, local_id


def task_workflow_id(task_id: str) -> str | None:
    """The workflow id a task id names (see `split_task_id`), or None."""
    split = split_task_id(task_id)
    return split[0] if split else None


def task_local_id(task_id: str) -> str:
    """The local id of a task id (`plan-v1`, `incident-2`; see `split_task_id`), or "" when
    it names no task."""
    split = split_task_id(task_id)
    return split[1] if split else ""
