"""Helpers for PartnerApproval tests: input factory, start/decide helpers, bounded polling."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
from factories import partner_profile
from polling import eventually
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.approval import ApprovalActivities
from activities.common import CommonActivities
from domain.approval import (
    ApprovalStep,
    DecideInput,
    Decision,
    PartnerApprovalInput,
    PartnerApprovalResult,
    PartnerApprovalState,
)
from domain.common import LicensedScope
from domain.ids import partner_approval_id
from licenseflow.config import Settings
from workers.main import build_worker
from workflows.partner_approval import PartnerApprovalWorkflow

Handle = WorkflowHandle[PartnerApprovalWorkflow, PartnerApprovalResult]

HISTORIES = Path(__file__).parent.parent / "histories"
REQUESTER = "rita"
SCOPE = LicensedScope(categories=["apparel"], territories=["DE", "FR"], channels=["online"])


def step(name: str, *approvers: str, **extra: Any) -> ApprovalStep:
    return ApprovalStep(step=name, approvers=list(approvers), **extra)


def approval_input(chain: list[ApprovalStep], **overrides: Any) -> PartnerApprovalInput:
    """Input with a unique deal id (the dev server is shared by the whole session)."""
    data: dict[str, Any] = {
        "deal_id": f"moonbear-{uuid.uuid4().hex[:8]}",
        "partner": partner_profile(),
        "scope": SCOPE,
        "requester": REQUESTER,
        "chain": chain,
    }
    data.update(overrides)
    return PartnerApprovalInput(**data)


@asynccontextmanager
async def approval_worker(
    client: Client, pool: asyncpg.Pool, settings: Settings, task_queue: str
) -> AsyncIterator[Worker]:
    """A worker running only PartnerApproval and the activities it calls."""
    common, approval = CommonActivities(pool), ApprovalActivities(pool)
    async with build_worker(
        client,
        pool,
        settings,
        task_queue=task_queue,
        workflows=[PartnerApprovalWorkflow],
        activities=[common.record_audit, common.send_notification, approval.screen_partner],
    ) as worker:
        yield worker


STARTED: dict[str, list[Handle]] = {}
"""Handles started per task queue, so fixtures can end leftovers (see `end_leftovers`)."""


async def start_approval(client: Client, params: PartnerApprovalInput, task_queue: str) -> Handle:
    handle = await client.start_workflow(
        PartnerApprovalWorkflow.run,
        params,
        id=partner_approval_id(params.deal_id, params.partner.partner_id),
        task_queue=task_queue,
        static_summary=f"Partner approval: {params.partner.partner_id} for {params.deal_id}",
    )
    STARTED.setdefault(task_queue, []).append(handle)
    return handle


async def end_leftovers(task_queue: str) -> None:
    """Terminate workflows a test left running: on the time-skipping server a running
    workflow without a worker stops time from skipping for every later test."""
    for handle in STARTED.pop(task_queue, []):
        description = await handle.describe()
        if description.status == WorkflowExecutionStatus.RUNNING:
            await handle.terminate(reason="test finished")


async def decide(
    handle: Handle, who: str, decision: Decision | str, **extra: Any
) -> PartnerApprovalState:
    """The `decide` Update."""
    return await handle.execute_update(
        PartnerApprovalWorkflow.decide,
        DecideInput(decided_by=who, decision=Decision(decision), **extra),
    )


async def refusal(call: Awaitable[object]) -> ApplicationError:
    """The ApplicationError a refused Update failed with (fails the test if it was accepted)."""
    try:
        await call
    except WorkflowUpdateFailedError as failed:
        assert isinstance(failed.cause, ApplicationError), failed.cause
        return failed.cause
    raise AssertionError("update was accepted but should have been refused")


async def state_when(
    handle: Handle, until: Callable[[PartnerApprovalState], bool], *, within: float = 10.0
) -> PartnerApprovalState:
    """The `state` query, polled until `until` holds."""
    return await eventually(
        lambda: handle.query(PartnerApprovalWorkflow.state), until, within=within
    )


def step_open(name: str) -> Callable[[PartnerApprovalState], bool]:
    """Predicate: the approval waits for a decision on step `name`."""
    return lambda s: s.status == "awaiting_decision" and s.current_step == name


async def maybe_record_history(handle: Handle, name: str) -> None:
    """Re-record tests/histories/<name>.json when LICENSEFLOW_RECORD_HISTORIES=1."""
    if os.environ.get("LICENSEFLOW_RECORD_HISTORIES") != "1":
        return
    history = await handle.fetch_history()
    (HISTORIES / f"{name}.json").write_text(history.to_json())
