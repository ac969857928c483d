"""Separation of duties inside PartnerApproval (dev server: Updates and signals share the
rules): conflicted users are dropped from steps and refused, delegation goes only to an
eligible approver, and a resubmitted profile cannot score itself."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from approval_helpers import (
    approval_input,
    decide,
    record_history,
    start_approval,
    state_when,
    step,
    step_open,
)
from factories import partner_profile
from temporalio.client import Client
from workflow_helpers import refusal, refused_field

from domain import errors
from domain.approval import DecideInput, Decision
from domain.partner import Evaluation, Risk
from store import audit, partners
from workflows.partner_approval import PartnerApprovalWorkflow

SOD = " (separation of duties)"
PARTNER_USER = "acme-ops"
"""A user bound to partner acme in the users directory (the deal passes it in `conflicted`)."""


async def test_a_partner_user_cannot_decide_the_partners_step_even_if_listed(
    dev_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    params = approval_input(
        [step("commercial", PARTNER_USER, "carol"), step("legal", "dave")],
        conflicted=["olivia", PARTNER_USER],
    )
    handle = await start_approval(dev_client, params, task_queue)
    opened = await state_when(handle, step_open("commercial"))
    [task] = opened.open_tasks
    assert task.assignees == ["carol"]  # dropped from the step, visibly
    assert [(e.event, e.detail) for e in task.history] == [
        ("opened", "carol"),
        ("excluded", f"{PARTNER_USER} (separation of duties)"),
    ]

    by_update = await refusal(decide(handle, PARTNER_USER, "approve"))
    assert by_update.type == errors.FORBIDDEN
    assert by_update.message.startswith(f"separation of duties: {PARTNER_USER} is")
    rejected_too = await refusal(decide(handle, PARTNER_USER, "reject", comment="no"))
    assert rejected_too.type == errors.FORBIDDEN

    await handle.signal(
        PartnerApprovalWorkflow.decide_signal,
        DecideInput(decided_by=PARTNER_USER, decision=Decision.APPROVE),
    )
    noted = await state_when(handle, lambda s: len(s.trail) == 2)
    entry = noted.trail[-1]
    assert (entry.actor, entry.decision, entry.applied) == (PARTNER_USER, "approve", False)
    assert entry.note is not None
    assert entry.note.startswith(f"{errors.FORBIDDEN}: separation of duties: {PARTNER_USER}")
    assert noted.current_step == "commercial" and noted.status == "awaiting_decision"

    await decide(handle, "carol", "approve")
    await state_when(handle, step_open("legal"))
    await decide(handle, "dave", "approve")
    result = await handle.result()
    assert result.outcome == "approved"
    assert [(e.actor, e.decision, e.applied) for e in result.trail[1:]] == [
        (PARTNER_USER, "approve", False),
        ("carol", "approve", True),
        ("dave", "approve", True),
    ]
    actions = [r["action"] for r in await audit.for_deal(pool, params.deal_id)]
    assert "partner_approval.decision_refused" in actions
    await record_history(handle, "partner_approval_duties")


async def test_delegation_to_the_counterparty_or_a_later_approver_is_refused(
    dev_client: Client, task_queue: str
) -> None:
    params = approval_input(
        [step("commercial", "carol"), step("legal", "dave", escalate_to="hank")],
        conflicted=["olivia", PARTNER_USER],
    )
    handle = await start_approval(dev_client, params, task_queue)
    await state_when(handle, step_open("commercial"))

    to_later_escalation = await refusal(decide(handle, "carol", "delegate", delegate_to="hank"))
    assert "hank is an approver of step legal" in to_later_escalation.message
    to_partner_user = await refusal(decide(handle, "carol", "delegate", delegate_to=PARTNER_USER))
    to_contact = await refusal(decide(handle, "carol", "delegate", delegate_to="erin"))
    to_owner = await refusal(decide(handle, "carol", "delegate", delegate_to="olivia"))
    to_later = await refusal(decide(handle, "carol", "delegate", delegate_to="dave"))
    for refused in (to_partner_user, to_contact, to_owner, to_later, to_later_escalation):
        assert (refused.type, refused_field(refused)) == (errors.FORBIDDEN, "delegate_to")
    assert "is the contact user of partner acme" in to_contact.message
    assert "dave is an approver of step legal" in to_later.message

    # an ops signal is held to the same rule: noted, not applied
    await handle.signal(
        PartnerApprovalWorkflow.decide_signal,
        DecideInput(decided_by="carol", decision=Decision.DELEGATE, delegate_to=PARTNER_USER),
    )
    noted = await state_when(handle, lambda s: len(s.trail) == 2)
    assert noted.trail[-1].applied is False
    assert noted.open_tasks[0].assignees == ["carol"]

    delegated = await decide(handle, "carol", "delegate", delegate_to="gina")
    assert delegated.open_tasks[0].assignees == ["gina"]
    await decide(handle, "gina", "approve")
    await state_when(handle, step_open("legal"))
    await decide(handle, "dave", "approve")
    assert (await handle.result()).outcome == "approved"


async def test_a_step_without_an_eligible_approver_goes_to_its_escalation_or_rejects(
    dev_client: Client, task_queue: str
) -> None:
    escalated = approval_input(
        [step("legal", PARTNER_USER, escalate_to="hank")], conflicted=[PARTNER_USER]
    )
    handle = await start_approval(dev_client, escalated, task_queue)
    opened = await state_when(handle, step_open("legal"))
    assert opened.open_tasks[0].assignees == ["hank"]
    await decide(handle, "hank", "approve")
    assert (await handle.result()).outcome == "approved"

    nobody = approval_input([step("legal", PARTNER_USER, "erin")], conflicted=[PARTNER_USER])
    result = await (await start_approval(dev_client, nobody, task_queue)).result()
    assert (result.outcome, result.reasons) == (
        "rejected",
        [f"no eligible approver at step legal: {PARTNER_USER}, erin excluded{SOD}"],
    )


async def test_a_resubmission_cannot_score_itself_and_is_stored_as_a_new_version(
    dev_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    """The licensor assessed acme 3/5 everywhere; asked for more insurance, the partner sends
    a profile with 5/5 scores: the scores are ignored (screening scores 3.00 again), the
    insurance and name are taken, and the profile is stored as version 2."""
    licensor_view = partner_profile(
        evaluation=Evaluation(cost=3, quality=3, efficiency=3, complementarity=3),
        risk=Risk(insurance_coverage=Decimal("1000000")),
    )
    await partners.insert(pool, licensor_view.model_dump(mode="json"), created_by="admin")
    params = approval_input([step("commercial", "carol")], partner=licensor_view)
    handle = await start_approval(dev_client, params, task_queue)
    first = await state_when(handle, step_open("commercial"))
    assert first.screening is not None and first.screening.score == 3.0
    await decide(handle, "carol", "needs_revision", comment="raise insurance to 5M")
    await state_when(handle, lambda s: s.status == "awaiting_revision")

    self_scored = partner_profile(
        name="Acme Apparel Group",
        evaluation=Evaluation(cost=5, quality=5, efficiency=5, complementarity=5),
        risk=Risk(insurance_coverage=Decimal("5000000"), flags=[]),
        version=2,
    )
    await decide(handle, "erin", "resubmit", profile=self_scored, comment="5M now")

    again = await state_when(handle, step_open("commercial"))
    assert again.version == 2
    assert again.screening is not None and again.screening.score == 3.0  # not 5.00
    kept = [e for e in again.trail if e.decision == "assessment_kept"]
    assert [(e.actor, e.note) for e in kept] == [
        ("system", "kept the licensor's evaluation; submitted figures ignored")
    ]
    stored = await partners.get(pool, "acme")
    assert stored is not None
    assert stored["version"] == 2
    assert stored["evaluation"] == licensor_view.evaluation.model_dump(mode="json")
    assert (stored["name"], stored["risk"]["insurance_coverage"]) == (
        "Acme Apparel Group",
        "5000000",
    )
    versions = await partners.versions(pool, "acme")
    assert [(v["version"], v["submitted_by"]) for v in versions] == [(1, "admin"), (2, "erin")]
    assert versions[1]["workflow_id"] == handle.id
    assert versions[1]["profile"]["evaluation"] == stored["evaluation"]

    await decide(handle, "carol", "approve")
    result = await handle.result()
    assert (result.outcome, result.score, result.version) == ("approved", 3.0, 2)
    await record_history(handle, "partner_approval_revision_stored")
