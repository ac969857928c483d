"""Helpers for LicensingDeal tests: request factory, partner seeding, worker, report driver.

Synchronisation: tests never sleep on the wall clock. They poll the `state` query with a
bounded helper (`wait_state`) until the workflow reached the expected point, and on the
time-skipping server they move time with `env.sleep()` to the moment they need (a period
end, an SLA); `handle.result()` skips time on its own until the deal finishes.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from factories import partner_profile
from polling import eventually
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from workflow_helpers import replay_and_record, replayer, track

from domain.approval import ApprovalStep, DecideInput, Decision
from domain.common import LicensedScope
from domain.deal import (
    Audience,
    DealRequest,
    Kpi,
    Needs,
    Objective,
    Plan,
    Property,
    RoyaltyTier,
    Schedule,
    Terms,
)
from domain.deal_messages import SalesReportReceived, SignatureEvent, TaskDecisionInput
from domain.deal_state import DealOutcome, DealRunInput, DealState
from domain.ids import deal_workflow_id, partner_approval_id
from domain.sales import SalesLine, SalesReport
from licenseflow.config import Settings
from store import partners, sales
from workers.main import build_worker
from workers.registry import activity_functions
from workflows.licensing_deal import LicensingDealWorkflow
from workflows.partner_approval import PartnerApprovalWorkflow

OWNER = "olivia"
PLAN_APPROVERS = ["paul", "petra"]
PARTNER_APPROVER = "vera"
SIGNATORY = "sam"
PARTNER_CONTACT = "erin"
SCOPE = LicensedScope(categories=["apparel"], territories=["DE", "FR"], channels=["online"])
Handle = WorkflowHandle[LicensingDealWorkflow, DealOutcome]
"""Deals started by the running test; terminated at teardown so none outlives its worker
(a leftover workflow task would stall time skipping for the whole session)."""


def schedule(**overrides: Any) -> Schedule:
    """Quarterly periods, yearly reviews, a three-year term; override anything."""
    data: dict[str, Any] = {
        "period": "P3M",
        "periods_per_year": 4,
        "periods_per_review": 4,
        "term_periods": 12,
        "report_grace": "P15D",
        "decision_sla": "P5D",
    }
    data.update(overrides)
    return Schedule(**data)


def deal_request(**overrides: Any) -> DealRequest:
    """A valid quarterly deal (the worked-check terms) with a unique id; override anything."""
    data: dict[str, Any] = {
        "deal_id": f"moonbear-{uuid.uuid4().hex[:8]}",
        "title": "Moonbear apparel",
        "property": Property(name="Moonbear", rights=["brand", "product"]),
        "needs": Needs(
            objectives=[Objective(kind="revenue", target=Decimal("500000"), unit="EUR")],
            audience=Audience(segments=["teens"], regions=["DE", "FR"]),
        ),
        "plan": plan(),
        "terms": Terms(
            royalty_tiers=[
                RoyaltyTier(up_to=Decimal("500000"), rate=Decimal("0.08")),
                RoyaltyTier(up_to=None, rate=Decimal("0.10")),
            ],
            advance=Decimal("20000"),
            minimum_guarantee_per_year=Decimal("60000"),
        ),
        "schedule": schedule(),
        "partners": ["acme"],
        "plan_approvers": PLAN_APPROVERS,
        "partner_approval_chain": [ApprovalStep(step="legal", approvers=[PARTNER_APPROVER])],
        "licensor_signatory": SIGNATORY,
        "owner": OWNER,
    }
    data.update(overrides)
    return DealRequest(**data)


def plan(target: str = "100000", at_risk_below: float = 0.75) -> Plan:
    return Plan(
        scope=SCOPE,
        kpis=[Kpi(target_per_period=Decimal(target), at_risk_below=at_risk_below)],
    )


async def seed_partner(pool: asyncpg.Pool, partner_id: str = "acme", **overrides: Any) -> None:
    profile = partner_profile(partner_id, **overrides)
    await partners.insert(pool, profile.model_dump(mode="json"), created_by="test")


@asynccontextmanager
async def deal_worker(
    client: Client, pool: asyncpg.Pool, settings: Settings, task_queue: str, *stand_ins: Any
) -> AsyncIterator[Worker]:
    """A worker with the full registry: LicensingDeal, the real PartnerApproval, all
    activities; each stand-in replaces the activity of its name."""
    activities = activities_with(pool, settings, *stand_ins)
    async with build_worker(
        client, pool, settings, task_queue=task_queue, activities=activities
    ) as worker:
        yield worker


async def start_deal(client: Client, request: DealRequest, task_queue: str) -> Handle:
    track(client, deal_workflow_id(request.deal_id))
    return await client.start_workflow(
        LicensingDealWorkflow.run,
        DealRunInput(request=request),
        id=deal_workflow_id(request.deal_id),
        task_queue=task_queue,
        static_summary=f"Licensing deal {request.deal_id}: {request.title}",
    )


def latest(client: Client, deal_id: str) -> Handle:
    """Handle on the latest run (follows continue-as-new)."""
    return client.get_workflow_handle_for(LicensingDealWorkflow.run, deal_workflow_id(deal_id))


async def wait_state(
    client: Client,
    deal_id: str,
    predicate: Callable[[DealState], bool],
    *,
    within: float = 20.0,
    what: str = "condition",
) -> DealState:
    """Poll the `state` query until `predicate` holds (bounded; fails with the last state)."""
    return await eventually(
        lambda: latest(client, deal_id).query(
            LicensingDealWorkflow.state, rpc_timeout=timedelta(seconds=2)
        ),
        predicate,
        within=within,
        interval=0.05,
        what=what,
        tolerate=(RPCError, WorkflowQueryFailedError),
        describe=lambda s: f"stage={s.stage} {[h.event for h in s.history][-15:]}",
    )


def open_task(state: DealState, local_id: str) -> bool:
    return any(t.task_id.endswith(f":{local_id}") for t in state.open_tasks)


async def decide_signal(
    client: Client, deal_id: str, local_id: str, who: str, decision: str, **extra: Any
) -> None:
    """`decide_signal` (works on the time-skipping server, which lacks Updates)."""
    await latest(client, deal_id).signal(
        LicensingDealWorkflow.decide_signal,
        TaskDecisionInput(task_id=local_id, decided_by=who, decision=decision, **extra),
    )


async def outcome_of(env: WorkflowEnvironment, deal_id: str) -> DealOutcome:
    """The deal's result. Only handles returned by `start_workflow` skip time on their own,
    so on the time-skipping server time is unlocked explicitly while waiting."""
    unlocked = getattr(env, "time_skipping_unlocked", None)
    if unlocked is None:
        return await latest(env.client, deal_id).result()
    async with unlocked():
        return await latest(env.client, deal_id).result()


async def decide_then_new_run(
    client: Client, deal_id: str, local_id: str, who: str, decision: str, **extra: Any
) -> str:
    """Decide a task that ends the contract year, then wait (via describe, not queries) for
    the continued-as-new run. The time-skipping test server can wedge when a query races a
    continue-as-new, so tests never poll the state query across that boundary."""
    before = (await latest(client, deal_id).describe()).run_id
    await decide_signal(client, deal_id, local_id, who, decision, **extra)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while loop.time() < deadline:
        run_id = (await latest(client, deal_id).describe()).run_id
        if run_id != before and await _first_task_done(client, deal_id, run_id):
            return run_id
        await asyncio.sleep(0.05)
    raise AssertionError(f"deal {deal_id} did not continue as new after {local_id}")


async def _first_task_done(client: Client, deal_id: str, run_id: str) -> bool:
    history = await client.get_workflow_handle(
        deal_workflow_id(deal_id), run_id=run_id
    ).fetch_history()
    return any(e.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED for e in history.events)


async def sign(
    client: Client,
    deal_id: str,
    *,
    event: str = "completed",
    local_id: str = "signature-1",
    reason: str | None = None,
) -> DealState:
    """Wait for the signature task, then signal the envelope completed (or declined)."""
    state = await wait_state(
        client, deal_id, lambda s: open_task(s, local_id), what="signature task"
    )
    assert state.envelope_id
    signal = (
        LicensingDealWorkflow.signature_completed
        if event == "completed"
        else LicensingDealWorkflow.signature_declined
    )
    await latest(client, deal_id).signal(
        signal,
        SignatureEvent(
            envelope_id=state.envelope_id,
            event=event,
            at=datetime.now(),
            by=SIGNATORY,
            reason=reason,
        ),
    )
    return state


async def launch(client: Client, deal_id: str) -> DealState:
    """Plan approval, partner approval and signature: the deal reaches monitoring."""
    await wait_state(client, deal_id, lambda s: open_task(s, "plan-v1"), what="plan task")
    await decide_signal(client, deal_id, "plan-v1", PLAN_APPROVERS[0], "approve")
    await approve_child(client, deal_id, by_signal=True)
    await sign(client, deal_id)
    return await wait_state(client, deal_id, lambda s: s.stage == "monitoring", what="monitoring")


def line(net: str, **overrides: Any) -> SalesLine:
    data: dict[str, Any] = {
        "sku": "MB-TEE",
        "category": "apparel",
        "territory": "DE",
        "channel": "online",
        "units": 10,
        "gross_sales": Decimal(net),
    }
    data.update(overrides)
    return SalesLine(**data)


async def submit_report(
    pool: asyncpg.Pool,
    client: Client,
    deal_id: str,
    period: int,
    lines: list[SalesLine],
    *,
    version: int = 1,
    signal: bool = True,
) -> None:
    """Persist a report version and signal the deal, as the API does (`signal=False`: the
    API stored it but died before signalling)."""
    report = SalesReport(
        period=period,
        lines=lines,
        correction=version > 1,
        reason="corrected figures" if version > 1 else None,
    )
    body = report.model_dump(mode="json")
    report_id = f"{deal_id}-p{period}-v{version}"
    await sales.insert_version(
        pool,
        report_id=report_id,
        deal_id=deal_id,
        period=period,
        version=version,
        lines=body["lines"],
        body_hash=hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest(),
        submitted_by=PARTNER_CONTACT,
        correction=report.correction,
        reason=report.reason,
    )
    if not signal:
        return
    await latest(client, deal_id).signal(
        LicensingDealWorkflow.sales_report_received,
        SalesReportReceived.stored(report_id, version, report),
    )


async def skip_to(env: WorkflowEnvironment, moment: datetime) -> None:
    """Time-skipping: move the server clock to `moment` (no-op when already past)."""
    now = await env.get_current_time()
    if moment > now:
        await env.sleep(moment - now)


async def report_after_period_end(
    env: WorkflowEnvironment,
    pool: asyncpg.Pool,
    deal_id: str,
    period: int,
    net: str | None,
) -> DealState:
    """Driver step: let period `period` end, post its report (None: no report), await it."""
    client = env.client
    state = await wait_state(
        client, deal_id, lambda s: any(p.period == period for p in s.periods), what=f"p{period}"
    )
    record = next(p for p in state.periods if p.period == period)
    await skip_to(env, record.ends_at + timedelta(seconds=1))
    if net is not None:
        await submit_report(pool, client, deal_id, period, [line(net)])
    else:
        await skip_to(env, record.report_due_at + timedelta(seconds=1))
    return await wait_state(
        client,
        deal_id,
        lambda s: any(p.period == period and p.status != "open" for p in s.periods),
        what=f"period {period} settled",
    )


async def replay_and_record_runs(client: Client, deal_id: str, run_ids: dict[str, str]) -> None:
    """Replay each named run of a deal with today's code (and re-record it when asked)."""
    for name, run_id in run_ids.items():
        handle = client.get_workflow_handle(deal_workflow_id(deal_id), run_id=run_id)
        history = await handle.fetch_history()
        await replay_and_record(history, f"licensing_deal_{name}", replayer(LicensingDealWorkflow))


async def approve_child(
    client: Client, deal_id: str, partner_id: str = "acme", *, by_signal: bool = False
) -> None:
    """Approve the PartnerApproval child once its step is open: through its `decide` Update,
    or its `decide_signal` on the time-skipping server (which lacks Updates)."""
    child = client.get_workflow_handle_for(
        PartnerApprovalWorkflow.run, partner_approval_id(deal_id, partner_id)
    )
    await eventually(
        lambda: child.query(PartnerApprovalWorkflow.state),
        lambda s: bool(s.open_tasks),
        within=20,
        interval=0.05,
        what=f"partner approval of {partner_id} open",
        tolerate=(RPCError, WorkflowQueryFailedError),
    )
    approval = DecideInput(decided_by=PARTNER_APPROVER, decision=Decision.APPROVE)
    if by_signal:
        await child.signal(PartnerApprovalWorkflow.decide_signal, approval)
    else:
        await child.execute_update(PartnerApprovalWorkflow.decide, approval)


async def decide_update(
    client: Client, deal_id: str, task: str, who: str, decision: str, **extra: Any
) -> DealState:
    """The deal's `decide` Update (dev server)."""
    return await latest(client, deal_id).execute_update(
        LicensingDealWorkflow.decide,
        TaskDecisionInput(task_id=task, decided_by=who, decision=decision, **extra),
    )


async def needs_open(client: Client, task_queue: str) -> DealRequest:
    """A deal started without its needs analysis, waiting on the owner's needs task."""
    request = deal_request(needs=None)
    await start_deal(client, request, task_queue)
    await wait_state(client, request.deal_id, lambda s: open_task(s, "needs"), what="needs task")
    return request


def activities_with(pool: asyncpg.Pool, settings: Settings, *stand_ins: Any) -> list[Any]:
    """The worker's activities, each stand-in replacing the activity of its name."""
    by_name = {getattr(f, "__name__", ""): f for f in stand_ins}
    return [by_name.get(getattr(f, "__name__", ""), f) for f in activity_functions(pool, settings)]
