"""Deals: start (idempotent), list via visibility, read state, terminate, statements, audit."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from temporalio.client import WorkflowExecution
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from api import read_model as read_views
from api import visibility
from api.auth import reads_as_partner_only, require_read, require_role
from api.deps import (
    Caller,
    Services,
    Svc,
    access_from_state,
    current_state,
    deal_access,
    describe_deal,
    request_participants,
    write_audit,
)
from api.gates import allow, steerable_deal
from api.invoices import with_payments
from api.params import ID_PATTERN, DealId
from api.partner_view import DealView, full_view, partner_view
from api.people import check_deal_people
from api.problems import conflict, forbidden, invalid
from api.routing import AuthorizeFirstRoute
from api.schemas import AuditOut, DealCreated, DealSummary, StatementOut, TerminateBody
from api.workflow_errors import problem_from_temporal, update_problem
from domain.deal import DealRequest, canonical_request_hash
from domain.deal_messages import TerminateInput
from domain.deal_state import DealRunInput, DealState, Stage
from domain.ids import deal_workflow_id
from domain.rights import deal_property_problem
from store import audit, deals, partners, properties, read_model, statements
from store.statements import Scope
from workflows.licensing_deal import LicensingDealWorkflow
from workflows.search_attributes import DEAL_OWNER, DEAL_STAGE, KPI_STATUS, LICENSING_PARTNER

router = APIRouter(prefix="/v1/deals", tags=["deals"], route_class=AuthorizeFirstRoute)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DealCreated,
    responses={200: {"description": "Same deal_id and identical body: already started"}},
    dependencies=[allow("admin", "owner")],  # before the body is validated: api/gates.py
)
async def create_deal(
    body: DealRequest, request: Request, response: Response, svc: Svc, who: Caller
) -> DealCreated:
    """Start a LicensingDeal (owner or admin); its first read-model sync writes the
    `deal.create` audit row. Identical repeat → 200, different body → 409. Everyone named
    must be an active user in the right role, with separation of duties (`api/people.py`):
    422 naming the field. The deal names its property (`property_id`), which must offer the
    plan's scope over the term: 422 naming the field."""
    require_role(who, "admin", "owner")
    if body.owner and body.owner != who.user and not who.has("admin"):
        raise forbidden("owners start deals for themselves; leave `owner` empty")
    deal = body.model_copy(update={"owner": body.owner or who.user})
    await _require_partners(svc, deal.partners)
    await _require_property(svc, deal)
    await check_deal_people(svc.pool, deal, caller=who.user)  # users, roles, duties: api/people
    request_hash = canonical_request_hash(deal)
    workflow_id = deal_workflow_id(deal.deal_id)
    try:
        handle = await svc.client.start_workflow(
            LicensingDealWorkflow.run,
            DealRunInput(
                request=deal,
                created_by=who.user,
                request_id=getattr(request.state, "request_id", None),
            ),
            id=workflow_id,
            task_queue=svc.settings.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            memo={
                "request_hash": request_hash,
                "owner": deal.owner,
                "participants": request_participants(deal),
            },
            search_attributes=TypedSearchAttributes(
                [
                    SearchAttributePair(DEAL_STAGE, Stage.NEEDS_ANALYSIS.value),
                    SearchAttributePair(DEAL_OWNER, deal.owner or who.user),
                ]
            ),
            static_summary=f"{deal.title} — owner {deal.owner}",
            rpc_timeout=svc.rpc_timeout,
        )
    except WorkflowAlreadyStartedError:
        run_id = await _existing_run_if_same(svc, deal.deal_id, request_hash)
        response.status_code = status.HTTP_200_OK
        return DealCreated(deal_id=deal.deal_id, workflow_id=workflow_id, run_id=run_id)
    except RPCError as exc:
        raise problem_from_temporal(exc, what=f"deal {deal.deal_id}") from exc
    # the `deal.create` audit row is written by the workflow's first read-model sync
    run_id = handle.result_run_id or handle.run_id or ""
    return DealCreated(deal_id=deal.deal_id, workflow_id=workflow_id, run_id=run_id)


async def _require_partners(svc: Services, partner_ids: list[str]) -> None:
    """422 naming the first unknown partner; known ids are cached (partners are never deleted)."""
    unseen = [p for p in partner_ids if p not in svc.known_partners]
    if unseen:
        svc.known_partners.update(await partners.existing_ids(svc.pool, unseen))
    known = svc.known_partners
    for index, partner_id in enumerate(partner_ids):
        if partner_id not in known:
            raise invalid(
                f"body.partners.{index}", f"unknown partner {partner_id!r}", kind="unknown_partner"
            )


async def _require_property(svc: Services, deal: DealRequest) -> None:
    """The licensed property (its grants are kept in the rights ledger, so exclusivity holds
    across deals): named, registered, and offering the plan's scope over the deal's term;
    else 422 naming the field (`body.property_id`, `body.plan.scope.territories.1`,
    `body.schedule.start`, `body.schedule.term_periods`)."""
    if deal.property_id is None:
        raise invalid(
            "body.property_id",
            "name the licensed property (register it first: POST /v1/properties)",
            kind="missing",
        )
    found = await properties.get(svc.pool, deal.property_id)
    if found is None:
        raise invalid(
            "body.property_id", f"unknown property {deal.property_id!r}", kind="unknown_property"
        )
    problem = deal_property_problem(
        deal.plan.scope, deal.schedule, deal.terms.sell_off, found.ledger_view(), datetime.now(UTC)
    )
    if problem is not None:
        field, message = problem
        raise invalid(f"body.{field}", message, kind="not_offered")


async def _existing_run_if_same(svc: Services, deal_id: str, request_hash: str) -> str:
    """The run id of the deal started with this same request; 409 when the body differs."""
    desc = await describe_deal(svc, deal_id)
    memo: Mapping[str, Any] = await desc.memo()
    stored = memo.get("request_hash")
    if stored is None:
        row = await deals.get(svc.pool, deal_id)
        stored = row["request_hash"] if row else None
    if stored != request_hash:
        raise conflict(f"deal {deal_id} exists with a different request")
    return desc.run_id


@router.get("", response_model=list[DealSummary])
async def list_deals(
    svc: Svc,
    who: Caller,
    stage: Stage | None = None,
    partner_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    owner: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DealSummary]:
    """Deals visible to the caller, newest first, filtered by stage, partner and owner: from
    the read model (one row per deal, its latest run; `status` is `running` or, in a final
    stage, `completed`; `started_at` when the deal started), or from Temporal visibility
    while an open deal runs a run from before the read model."""
    if await read_views.covers_open_deals(svc.pool):
        try:
            scope = read_views.list_scope(who)
        except PermissionError as exc:
            raise forbidden(str(exc)) from exc
        rows = await read_model.list_deals(
            svc.pool,
            stage=stage.value if stage else None,
            partner_id=partner_id,
            owner=owner,
            everything=scope.everything,
            as_owner=scope.as_owner,
            as_partner=scope.as_partner,
            as_approver=scope.as_approver,
            limit=limit,
        )
        return [
            DealSummary(
                deal_id=r["deal_id"],
                workflow_id=r["workflow_id"],
                run_id=r["run_id"],
                status=r["status"],
                stage=r["stage"],
                owner=r["owner"],
                partner_id=r["partner_id"],
                kpi_status=r["kpi_status"],
                started_at=r["created_at"],
                closed_at=r["closed_at"],
            )
            for r in rows
        ]
    try:
        query = visibility.deals_query(
            who, stage=stage.value if stage else None, partner_id=partner_id, owner=owner
        )
    except PermissionError as exc:
        raise forbidden(str(exc)) from exc
    try:
        return [
            _summary(execution)
            async for execution in svc.client.list_workflows(
                query, limit=limit, rpc_timeout=svc.rpc_timeout
            )
        ]
    except RPCError as exc:
        raise problem_from_temporal(exc, what="deal list") from exc


def _summary(execution: WorkflowExecution) -> DealSummary:
    attrs = execution.typed_search_attributes
    return DealSummary(
        deal_id=execution.id.removeprefix(deal_workflow_id("")),
        workflow_id=execution.id,
        run_id=execution.run_id,
        status=execution.status.name.lower() if execution.status else None,
        stage=attrs.get(DEAL_STAGE),
        owner=attrs.get(DEAL_OWNER),
        partner_id=attrs.get(LICENSING_PARTNER),
        kpi_status=attrs.get(KPI_STATUS),
        started_at=execution.start_time,
        closed_at=execution.close_time,
    )


PARTNER_INVOICES = 5_000
"""Invoices listed in a licensee's deal view (a 100-year monthly deal issues about 1,300)."""


@router.get("/{deal_id}", response_model=DealView)
async def get_deal(
    deal_id: DealId,
    svc: Svc,
    who: Caller,
    live: Annotated[
        bool,
        Query(
            description="ask the live workflow (its `state` query) instead of the read model"
            " the workflow keeps current; slower, and it needs a running worker"
        ),
    ] = False,
) -> DealView:
    """The deal's state: stage, open tasks, periods, statements, history, from the Postgres
    read model its workflow keeps current (the live workflow's `state` query with
    `?live=true`, and for deals whose run predates the read model). The licensee sees its
    part: its money terms and invoices with their payments, no internal history."""
    state = await current_state(svc, deal_id, live=live)
    access = access_from_state(state)
    require_read(who, access)
    if not reads_as_partner_only(who, access):
        return full_view(state)
    now = datetime.now(UTC)
    mine = Scope(partner_id=who.partner_id)
    rows = await statements.listing(
        svc.pool, mine, now=now, deal_id=deal_id, limit=PARTNER_INVOICES
    )
    return partner_view(state, who, await with_payments(svc.pool, rows, now))


@router.post(
    "/{deal_id}/terminate", response_model=DealState, dependencies=[Depends(steerable_deal)]
)
async def terminate_deal(
    deal_id: DealId, body: TerminateBody, request: Request, svc: Svc, who: Caller
) -> DealState:
    """End the deal early (its owner, or an admin). A launched deal answers `winding_down`:
    final accounting (the last reports, then the final statement) ends it `terminated`."""
    handle = svc.client.get_workflow_handle(deal_workflow_id(deal_id))
    try:
        state = await handle.execute_update(
            LicensingDealWorkflow.terminate,
            TerminateInput(requested_by=who.user, reason=body.reason),
            rpc_timeout=svc.rpc_timeout,
        )
    except Exception as exc:
        raise await update_problem(svc.client, handle.id, exc, what=f"deal {deal_id}") from exc
    await write_audit(
        svc, request, who, "deal.terminate", deal_id=deal_id, detail={"reason": body.reason}
    )
    return state


@router.get("/{deal_id}/statements", response_model=list[StatementOut])
async def list_statements(deal_id: DealId, svc: Svc, who: Caller) -> list[StatementOut]:
    """Royalty statements issued so far, in issue order (from Postgres, the system of
    record); readers of the deal and finance."""
    access = await deal_access(svc, deal_id)
    if not who.has("finance"):
        require_read(who, access)
    now = datetime.now(UTC)
    return [StatementOut.of(row, now) for row in await statements.for_deal(svc.pool, deal_id)]


@router.get("/{deal_id}/audit", response_model=list[AuditOut])
async def list_audit(deal_id: DealId, svc: Svc, who: Caller) -> list[AuditOut]:
    """The deal's audit log (owner, admin, ops)."""
    access = await deal_access(svc, deal_id)
    if not (who.has("admin", "ops") or (who.has("owner") and access.owner == who.user)):
        raise forbidden(f"{who.user} may not read the audit log of deal {deal_id}")
    return [AuditOut.model_validate(row) for row in await audit.for_deal(svc.pool, deal_id)]
