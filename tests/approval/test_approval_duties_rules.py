"""Separation of duties as pure rules: exclusions, eligible delegates, the licensor
signatory, the owner on the plan, and a resubmission that cannot score itself."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from factories import partner_profile

from domain import errors
from domain.approval import DecideInput, Decision
from domain.approval_rules import (
    approval_exclusions,
    decision_refusal,
    keep_licensor_assessment,
    plan_approval_refusal,
    self_scored_fields,
    signatory_refusal,
)
from domain.partner import Evaluation, Risk
from domain.tasks import Task, TaskKind

NOW = datetime(2025, 1, 6, tzinfo=UTC)
TASK = Task(
    task_id="partner-approval:d1:acme:commercial-v1",
    kind=TaskKind.PARTNER_APPROVAL,
    deal_id="d1",
    workflow_id="partner-approval:d1:acme",
    title="Approve partner acme (commercial)",
    assignees=["carol", "vera"],
    opened_at=NOW,
    due_at=NOW,
    allowed_decisions=["approve", "reject", "needs_revision", "delegate"],
    step="commercial",
)
EXCLUDED = approval_exclusions(
    partner_id="acme", contact_user="erin", conflicted=["olivia", "acme-ops"]
)


def check(decided_by: str, decision: str, **extra: Any) -> Any:
    return decision_refusal(
        DecideInput(decided_by=decided_by, decision=Decision(decision), **extra),
        task=TASK,
        requester="olivia",
        earlier_approvals={},
        step_approvals=[],
        excluded=EXCLUDED,
        other_steps={"dave": "legal"},
    )


def test_exclusions_name_why() -> None:
    assert set(EXCLUDED) == {"olivia", "acme-ops", "erin"}
    assert EXCLUDED["erin"] == "the contact user of partner acme"
    assert "user of partner acme" in EXCLUDED["acme-ops"]


@pytest.mark.parametrize("who", ["acme-ops", "erin", "olivia"])
@pytest.mark.parametrize(
    ("decision", "extra"),
    [
        ("approve", {}),
        ("reject", {"comment": "no"}),
        ("needs_revision", {"comment": "more"}),
        ("delegate", {"delegate_to": "gina"}),
    ],
)
def test_conflicted_users_decide_nothing_even_when_assigned(
    who: str, decision: str, extra: dict[str, Any]
) -> None:
    listed = TASK.model_copy(update={"assignees": [*TASK.assignees, who]})
    refusal = decision_refusal(
        DecideInput(decided_by=who, decision=Decision(decision), **extra),
        task=listed,
        requester="olivia",
        earlier_approvals={},
        step_approvals=[],
        excluded=EXCLUDED,
    )
    assert refusal is not None
    assert (refusal.error_type, refusal.field) == (errors.FORBIDDEN, None)
    assert refusal.message.startswith(f"separation of duties: {who} is ")


@pytest.mark.parametrize(
    ("target", "says"),
    [
        ("acme-ops", "separation of duties: acme-ops is the deal owner or a user of partner"),
        ("erin", "separation of duties: erin is the contact user of partner acme"),
        ("olivia", "separation of duties: olivia"),
        ("dave", "dave is an approver of step legal of this approval"),
    ],
)
def test_delegation_only_to_an_eligible_approver(target: str, says: str) -> None:
    refusal = check("carol", "delegate", delegate_to=target)
    assert refusal is not None
    assert (refusal.error_type, refusal.field) == (errors.FORBIDDEN, "delegate_to")
    assert says in refusal.message


def test_an_eligible_delegate_and_approver_pass() -> None:
    assert check("carol", "delegate", delegate_to="gina") is None
    assert check("vera", "approve") is None


def test_without_exclusions_the_earlier_rules_apply() -> None:
    """Approvals started before the patch pass no exclusions: nothing new is refused."""
    listed = TASK.model_copy(update={"assignees": ["carol", "erin"]})
    refusal = decision_refusal(
        DecideInput(decided_by="erin", decision=Decision.APPROVE),
        task=listed,
        requester="olivia",
        earlier_approvals={},
        step_approvals=[],
    )
    assert refusal is None


def test_the_owner_does_not_decide_on_the_plan() -> None:
    refusal = plan_approval_refusal("olivia", owner="olivia")
    assert refusal is not None and refusal.error_type == errors.FORBIDDEN
    assert plan_approval_refusal("paul", owner="olivia") is None
    assert plan_approval_refusal("olivia", owner=None) is None  # no owner: approvers steer


@pytest.mark.parametrize(
    ("signatory", "may_sign", "says"),
    [
        ("acme-ops", False, "is a user of partner acme"),
        ("acme-ops", True, "is a user of partner acme"),
        ("olivia", False, "owns the deal"),
        ("olivia", True, None),
        ("sam", False, None),
    ],
)
def test_the_licensor_signatory(signatory: str, may_sign: bool, says: str | None) -> None:
    refusal = signatory_refusal(
        signatory,
        owner="olivia",
        owner_may_sign=may_sign,
        partner_id="acme",
        partner_users=["acme-ops", "erin"],
    )
    if says is None:
        assert refusal is None
        return
    assert refusal is not None
    assert (refusal.error_type, refusal.field) == (errors.FORBIDDEN, "licensor_signatory")
    assert says in refusal.message


def test_a_resubmission_keeps_the_licensors_assessment() -> None:
    stored = partner_profile(
        evaluation=Evaluation(cost=2, quality=2, efficiency=2, complementarity=2),
        risk=Risk(insurance_coverage=Decimal("1000000"), flags=["late-payments"]),
    )
    revised = partner_profile(
        name="Acme Apparel (new)",
        evaluation=Evaluation(cost=5, quality=5, efficiency=5, complementarity=5),
        risk=Risk(insurance_coverage=Decimal("5000000"), flags=[]),
    )
    assert self_scored_fields(revised, stored) == ["evaluation", "risk.flags"]

    kept = keep_licensor_assessment(revised, stored)

    assert kept.evaluation == stored.evaluation
    assert kept.risk.flags == ["late-payments"]
    assert (kept.name, kept.risk.insurance_coverage) == ("Acme Apparel (new)", Decimal("5000000"))
    assert self_scored_fields(kept, stored) == []
