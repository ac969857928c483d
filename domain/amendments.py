"""Plan amendments of a signed deal (patch `amendment-approval`): what was proposed at a
review, how far it got, and which changes need the licensee's signature.

An amendment is proposed with `amend` on a review task. It takes effect only after plan
approval (`amendment-<n>`, a `plan_approval` task for the plan approvers) and, when it
changes what the licensee signed (licensed scope or KPIs), after both signatories signed an
amendment envelope (`amendment-<n>-signature`). A promotion-only change takes effect on
approval. Rejection, a declined envelope or an expired wait keep the plan in force.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from domain.common import Model, UserName
from domain.deal import Plan
from domain.deal_messages import SignatureEvent, TaskDecisionInput

AmendmentStatus = Literal[
    "approval",
    "signature",
    "applied",
    "rejected",
    "declined",
    "expired",
    "superseded",
    "withdrawn",
]
"""`approval` and `signature` are pending; the others are final: `applied` (the plan is the
new version), `rejected` (by a plan approver), `declined` (by a signatory), `expired` (a wait
ran out), `superseded` (a later review proposed another plan), `withdrawn` (the deal ended)."""

PENDING: frozenset[AmendmentStatus] = frozenset({"approval", "signature"})


class PlanAmendment(Model):
    """The latest amendment of a deal, pending or settled (carried across continue-as-new)."""

    number: int
    """1, 2, ... per deal: names its tasks `amendment-<n>` and `amendment-<n>-signature`."""
    plan: Plan
    version: int
    """The plan version it becomes when applied."""
    proposed_by: UserName
    proposed_at: datetime
    review_period: int | None = None
    needs_signature: bool = False
    """Scope or KPIs change: the licensee signs an amendment envelope."""
    changes: list[str]
    """What differs from the plan in force: `scope`, `kpis`, `promotion`."""
    status: AmendmentStatus = "approval"
    envelope_id: str | None = None
    approved_by: UserName | None = None
    reason: str | None = None
    """Why it ended as it did (a rejection comment, a decline reason, an expiry)."""
    decision: TaskDecisionInput | None = None
    """An approval decision applied but not yet taken when the run continued as new."""
    signature: SignatureEvent | None = None
    """The envelope's settling event, received but not yet taken when the run continued as
    new."""

    @property
    def pending(self) -> bool:
        return self.status in PENDING

    @property
    def approval_task(self) -> str:
        return f"amendment-{self.number}"

    @property
    def signature_task(self) -> str:
        return f"amendment-{self.number}-signature"


def plan_changes(current: Plan, proposed: Plan) -> list[str]:
    """What `proposed` changes against `current`: scope (normalised cover and exclusivity),
    KPIs (as a set) and promotion (as a set); orderings and code spellings are no change."""
    changes: list[str] = []
    if (current.scope.cover(), current.scope.exclusive) != (
        proposed.scope.cover(),
        proposed.scope.exclusive,
    ):
        changes.append("scope")
    if not _same_items(current.kpis, proposed.kpis):
        changes.append("kpis")
    if not _same_items(current.promotion, proposed.promotion):
        changes.append("promotion")
    return changes


def needs_signature(changes: list[str]) -> bool:
    """A change of what the licensee signed (scope or KPIs) needs an amendment envelope."""
    return bool({"scope", "kpis"} & set(changes))


def _same_items(left: Sequence[Model], right: Sequence[Model]) -> bool:
    """The same items in any order (values compared as values: 50000 == 50000.00)."""
    return all(item in right for item in left) and all(item in left for item in right)
