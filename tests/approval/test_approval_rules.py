"""Pure decision rules: who may decide, four-eyes, stale tasks, resubmission."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from factories import partner_profile

from domain import errors
from domain.approval import DecideInput, Decision, ResubmitInput
from domain.approval_rules import Refusal, decision_refusal, resubmit_refusal
from domain.tasks import Task, TaskKind

NOW = datetime(2025, 1, 6, tzinfo=UTC)
TASK = Task(
    task_id="partner-approval-d1-acme:legal-v1",
    kind=TaskKind.PARTNER_APPROVAL,
    deal_id="d1",
    workflow_id="partner-approval-d1-acme",
    title="Approve partner acme (legal)",
    assignees=["dave", "rita", "vera"],
    opened_at=NOW,
    due_at=NOW,
    allowed_decisions=["approve", "reject", "needs_revision", "delegate"],
    step="legal",
)


def check(
    decided_by: str, decision: str, *, task: Task | None = TASK, **extra: Any
) -> Refusal | None:
    return decision_refusal(
        DecideInput(decided_by=decided_by, decision=Decision(decision), **extra),
        task=task,
        requester="rita",
        earlier_approvals={"carol": "commercial", "vera": "commercial"},
        step_approvals=["dave"] if decision != "delegate" and decided_by == "dave" else [],
    )


@pytest.mark.parametrize(
    ("decided_by", "decision", "extra", "error_type", "says", "field"),
    [
        ("frank", "approve", {}, errors.FORBIDDEN, "not an assignee", None),
        ("rita", "approve", {}, errors.FORBIDDEN, "four-eyes: requester", None),
        ("vera", "approve", {}, errors.FORBIDDEN, "four-eyes: vera approved step commercial", None),
        ("dave", "approve", {}, errors.CONFLICT, "approved step legal already", None),
        ("vera", "reject", {}, errors.INVALID, "reject needs a comment", "comment"),
        ("vera", "needs_revision", {"comment": " "}, errors.INVALID, "needs a comment", "comment"),
        ("vera", "delegate", {}, errors.INVALID, "needs delegate_to", "delegate_to"),
        ("vera", "delegate", {"delegate_to": "vera"}, errors.INVALID, "oneself", "delegate_to"),
        (
            "vera",
            "delegate",
            {"delegate_to": "dave"},
            errors.INVALID,
            "assignee of step legal",
            "delegate_to",
        ),
        ("vera", "delegate", {"delegate_to": "rita"}, errors.FORBIDDEN, "four-eyes", "delegate_to"),
        (
            "vera",
            "delegate",
            {"delegate_to": "carol"},
            errors.FORBIDDEN,
            "four-eyes",
            "delegate_to",
        ),
        (
            "vera",
            "reject",
            {"task_id": "x:legal-v0", "comment": "no"},
            errors.CONFLICT,
            "stale",
            None,
        ),
    ],
)
def test_refusals(
    decided_by: str,
    decision: str,
    extra: dict[str, Any],
    error_type: str,
    says: str,
    field: str | None,
) -> None:
    refusal = check(decided_by, decision, **extra)
    assert refusal is not None
    assert refusal.error_type == error_type
    assert says in refusal.message
    assert refusal.field == field


def test_no_open_step_is_a_conflict() -> None:
    assert check("dave", "approve", task=None) == Refusal(errors.CONFLICT, "no open decision step")


@pytest.mark.parametrize(
    ("decided_by", "decision", "extra"),
    [
        ("rita", "reject", {"comment": "the requester may still reject"}),
        ("vera", "needs_revision", {"comment": "more insurance", "task_id": TASK.task_id}),
        ("vera", "delegate", {"delegate_to": "gina"}),
    ],
)
def test_allowed(decided_by: str, decision: str, extra: dict[str, Any]) -> None:
    assert check(decided_by, decision, **extra) is None


def resubmit(by: str, partner_id: str = "acme", *, waiting: bool = True) -> Refusal | None:
    return resubmit_refusal(
        ResubmitInput(submitted_by=by, profile=partner_profile(partner_id=partner_id)),
        awaiting_revision=waiting,
        requester="rita",
        contact_user="erin",
        partner_id="acme",
    )


def test_resubmit_rules() -> None:
    assert resubmit("rita") is None
    assert resubmit("erin") is None
    assert [
        r.error_type if r else None
        for r in (resubmit("frank"), resubmit("erin", "other"), resubmit("erin", waiting=False))
    ] == [errors.FORBIDDEN, errors.INVALID, errors.CONFLICT]
