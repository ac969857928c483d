"""Search attributes, current details and static summary readable on the dev server."""

from __future__ import annotations

from approval_helpers import (
    approval_input,
    decide,
    eventually,
    start_approval,
    state_when,
    step,
    step_open,
)
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.client import Client


async def test_pending_approvers_and_partner_follow_each_transition(
    dev_client: Client, task_queue: str
) -> None:
    chain = [step("commercial", "carol", "gina"), step("legal", "dave")]
    params = approval_input(chain)
    handle = await start_approval(dev_client, params, task_queue)

    async def ids(query: str) -> list[str]:
        full = f'{query} AND WorkflowId = "{handle.id}"'
        return [w.id async for w in dev_client.list_workflows(full)]

    def found(ids: list[str]) -> bool:
        return ids == [handle.id]

    await eventually(lambda: ids('PendingApprovers = "carol" AND LicensingPartner = "acme"'), found)
    await eventually(lambda: ids('PendingApprovers = "gina"'), found)
    await state_when(handle, step_open("commercial"))
    await decide(handle, "carol", "approve")
    await eventually(lambda: ids('PendingApprovers = "dave"'), found)
    assert await ids('PendingApprovers = "carol"') == []

    description = await handle.describe()
    assert await description.static_summary() == f"Partner approval: acme for {params.deal_id}"
    metadata = await handle.query("__temporal_workflow_metadata", result_type=WorkflowMetadata)
    assert "Status: **awaiting_decision**" in metadata.current_details
    assert "Step: legal (2 of 2, quorum any)" in metadata.current_details
    assert "Assignees: dave" in metadata.current_details
    await decide(handle, "dave", "approve")
    await handle.result()
    await eventually(lambda: ids('PendingApprovers = "dave"'), lambda found: found == [])
