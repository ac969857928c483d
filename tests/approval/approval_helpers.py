"""Helpers for PartnerApproval tests: input factory, start/decide helpers, bounded polling."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from factories import partner_profile
from polling import eventually
from temporalio.client import (
    Client,
    WorkflowHandle,
)
from temporalio.worker import Worker
from workflow_helpers import replay_and_record, replayer, track

from activities.approval import ApprovalActivities
from activities.common import CommonActivities
from activities.read_model import ReadModelActivities
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
    """A worker running only PartnerApproval and the activities it calls (its read-model
    write included)."""
    common, approval = CommonActivities(pool), ApprovalActivities(pool)
    async with build_worker(
        client,
        pool,
        settings,
        task_queue=task_queue,
        workflows=[PartnerApprovalWorkflow],
        activities=[
            common.record_audit,
            common.send_notification,
            common.incident_responders,
            approval.screen_partner,
            approval.store_partner_version,
            ReadModelActivities(pool).write_approval_read_model,
        ],
    ) as worker:
        yield worker


async def start_approval(client: Client, params: PartnerApprovalInput, task_queue: str) -> Handle:
    handle = await client.start_workflow(
        PartnerApprovalWorkflow.run,
        params,
        id=partner_approval_id(params.deal_id, params.partner.partner_id),
        task_queue=task_queue,
        static_summary=f"Partner approval: {params.partner.partner_id} for {params.deal_id}",
    )
    track(client, handle.id)
    return handle


async def decide(
    handle: Handle, who: str, decision: Decision | str, **extra: Any
) -> PartnerApprovalState:
    """The `decide` Update."""
    return await handle.execute_update(
        PartnerApprovalWorkflow.decide,
        DecideInput(decided_by=who, decision=Decision(decision), **extra),
    )


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


async def record_history(handle: Handle, name: str) -> None:
    """Replay the approval's history with today's code; re-record it when asked."""
    history = await handle.fetch_history()
    await replay_and_record(history, name, replayer(PartnerApprovalWorkflow))
