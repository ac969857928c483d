"""Screening runs first; a failure rejects with every reason, using stored risk flags."""

from __future__ import annotations

from decimal import Decimal

import asyncpg
from approval_helpers import (
    REQUESTER,
    approval_input,
    decide,
    start_approval,
    state_when,
    step,
    step_open,
)
from factories import partner_profile
from temporalio.client import Client
from workflow_helpers import refusal

from domain import errors
from domain.common import PartnerScope
from domain.partner import Evaluation, Risk
from store import audit, partners
from workflows.partner_approval import PartnerApprovalWorkflow


async def test_screening_failure_rejects_with_every_reason_and_opens_no_task(
    time_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    weak = partner_profile(
        scope=PartnerScope(categories=["toys"], territories=["DE"], channels=["online"]),
        evaluation=Evaluation(cost=2, quality=2, efficiency=3, complementarity=2),
        risk=Risk(insurance_coverage=Decimal("250000"), flags=["litigation"]),
    )
    params = approval_input([step("commercial", "carol")], partner=weak)
    handle = await start_approval(time_client, params, task_queue)

    result = await handle.result()

    assert result.outcome == "rejected"
    assert result.score == 2.25
    scope, score, insurance, flag = (
        result.reasons[:2],
        result.reasons[2],
        result.reasons[3],
        result.reasons[4:],
    )
    assert scope == [
        "category apparel not covered by partner scope",
        "territory FR not covered by partner scope",
    ]
    assert score == "score 2.25 below pass mark 3.00"
    assert insurance.startswith("insurance coverage 250000 below minimum 1000000")
    assert flag == ["risk flag: litigation"]
    final = await handle.query(PartnerApprovalWorkflow.state)
    assert (final.status, final.open_tasks, final.current_step) == ("rejected", [], None)
    actions = [r["action"] for r in await audit.for_deal(pool, params.deal_id)]
    assert actions == ["partner_approval.screened", "partner_approval.rejected"]


async def test_screening_uses_risk_flags_stored_in_postgres(
    time_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    stored = partner_profile(
        risk=Risk(insurance_coverage=Decimal("2000000"), flags=["sanctions-hit"])
    )
    await partners.insert(pool, stored.model_dump(mode="json"), created_by="ops")
    params = approval_input([step("commercial", "carol")], partner=partner_profile())

    result = await (await start_approval(time_client, params, task_queue)).result()

    assert (result.outcome, result.reasons) == ("rejected", ["risk flag: sanctions-hit"])


async def test_malformed_stored_data_parks_the_approval_until_ops_retry(
    dev_client: Client, task_queue: str, pool: asyncpg.Pool
) -> None:
    """A final failure (stored risk flags that are not a list) does not fail the approval:
    it waits, blocked, on an incident task; after the data is fixed, `retry` screens again."""
    stored = partner_profile().model_dump(mode="json")
    stored["risk"]["flags"] = "sanctions-hit"  # malformed: not a list
    await partners.insert(pool, stored, created_by="ops")
    handle = await start_approval(
        dev_client, approval_input([step("commercial", "carol")]), task_queue
    )
    blocked = await state_when(handle, lambda s: bool(s.open_tasks))
    [incident] = blocked.open_tasks
    assert (incident.kind, incident.allowed_decisions) == ("incident", ["retry"])
    assert incident.assignees == [REQUESTER]  # no ops or admin token in this database
    assert "screen_partner: Invalid: stored risk flags" in incident.title
    assert blocked.status == "screening"

    outsider = await refusal(decide(handle, "carol", "retry"))
    assert outsider.type == errors.FORBIDDEN
    await pool.execute(
        "UPDATE partners SET profile = jsonb_set(profile, '{risk,flags}', '[]') "
        "WHERE partner_id = $1",
        stored["partner_id"],
    )
    await decide(handle, REQUESTER, "retry")
    screened = await state_when(handle, step_open("commercial"))
    assert screened.screening is not None and screened.screening.passed
    await decide(handle, "carol", "approve")
    assert (await handle.result()).outcome == "approved"
