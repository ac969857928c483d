"""Request dependencies: app services, the calling principal, deal access and audit."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import Depends, Request
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowQueryFailedError
from temporalio.service import RPCError

from api import read_model as read_views
from api.auth import DealAccess
from api.problems import unauthorized
from api.workflow_errors import problem_from_temporal
from domain.bounds import RECORDED
from domain.deal import DealRequest
from domain.deal_state import DealState
from domain.ids import deal_workflow_id
from licenseflow.config import Settings
from store import audit, principals, read_model
from store.pool import Db
from store.tokens import Principal
from workflows.licensing_deal import LicensingDealWorkflow
from workflows.search_attributes import DEAL_OWNER, LICENSING_PARTNER, PENDING_APPROVERS


@dataclass
class Services:
    """What every route needs; created once in the app lifespan."""

    settings: Settings
    pool: asyncpg.Pool
    client: Client
    known_partners: set[str] = field(default_factory=set)
    """Partner ids seen to exist; partners are never deleted, so this only grows."""

    @property
    def rpc_timeout(self) -> timedelta:
        """How long any call to Temporal may take before the API answers 503."""
        return timedelta(seconds=self.settings.temporal_call_timeout)


async def services(request: Request) -> Services:
    """Async on purpose: FastAPI runs sync dependencies in a thread pool (slow)."""
    found: Services = request.app.state.services
    return found


async def principal(request: Request, svc: Annotated[Services, Depends(services)]) -> Principal:
    """The caller of `Authorization: Bearer <token>`; 401 without a valid token."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized()
    return await token_principal(
        request, svc, token.strip(), refused="the bearer token is unknown, revoked or expired"
    )


async def token_principal(
    request: Request, svc: Services, token: str, *, refused: str
) -> Principal:
    """The principal of a live `token` (its use recorded at most once a minute), kept on the
    request; 401 with the detail `refused` when the token is unknown, revoked or expired."""
    found = await principals.lookup(svc.pool, token)
    if found is None:
        raise unauthorized(refused)
    who, needs_touch = found
    if needs_touch and who.token_id:
        await principals.touch(svc.pool, who.token_id)
    request.state.principal = who
    return who


Svc = Annotated[Services, Depends(services)]
Caller = Annotated[Principal, Depends(principal)]


async def describe_deal(svc: Services, deal_id: str) -> WorkflowExecutionDescription:
    """The deal workflow's description (latest run); 404 when there is no such deal."""
    handle = svc.client.get_workflow_handle(deal_workflow_id(deal_id))
    try:
        return await handle.describe(rpc_timeout=svc.rpc_timeout)
    except RPCError as exc:
        raise problem_from_temporal(exc, what=f"deal {deal_id}") from exc


async def deal_access(svc: Services, deal_id: str) -> DealAccess:
    """Owner, partner and participants of a deal: from the read model (its `state` view's
    owner and licensee, the request's people and every open task's assignees, as
    `access_from_state`), else (a deal the read model does not hold) from the workflow's
    memo and search attributes; 404 when there is no such deal."""
    row = await read_model.deal_access_row(svc.pool, deal_id)
    if row is not None:
        request = DealRequest.model_validate(row["request"], context=RECORDED)
        return _access(deal_id, row["owner"], row["partner_id"], row["pending_approvers"], request)
    desc = await describe_deal(svc, deal_id)
    memo: Mapping[str, Any] = await desc.memo()
    attrs = desc.typed_search_attributes
    participants = set(memo.get("participants") or [])
    participants.update(attrs.get(PENDING_APPROVERS) or [])
    structlog.contextvars.bind_contextvars(deal_id=deal_id)
    return DealAccess(
        deal_id=deal_id,
        owner=memo.get("owner") or attrs.get(DEAL_OWNER),
        partner_id=attrs.get(LICENSING_PARTNER),
        participants=frozenset(participants),
    )


async def write_audit(
    svc: Services,
    request: Request,
    who: Principal | str,
    action: str,
    *,
    deal_id: str | None = None,
    workflow_id: str | None = None,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    db: Db | None = None,
) -> None:
    """One audit row per state-changing call, tagged with the (server's) request id, the
    client's own X-Request-ID when it sent one, the token and the client address; `db`
    writes it on a connection (inside the transaction of the change it records)."""
    context = request_context(request)
    actor = who if isinstance(who, str) else who.user
    token_id = None if isinstance(who, str) else who.token_id
    await audit.append(
        db if db is not None else svc.pool,
        actor=actor,
        action=action,
        deal_id=deal_id,
        workflow_id=workflow_id,
        subject=subject,
        detail={**(detail or {}), **context.detail()},
        token_id=token_id,
        client_ip=context.client_ip,
    )


@dataclass(frozen=True)
class RequestContext:
    """What the edge middlewares learnt about a request (`api/middleware.py`)."""

    request_id: str | None
    client_request_id: str | None
    client_ip: str | None

    def detail(self) -> dict[str, str | None]:
        """The audit detail keys: `request_id`, and `client_request_id` when sent."""
        found = {"request_id": self.request_id}
        if self.client_request_id:
            found["client_request_id"] = self.client_request_id
        return found


def request_context(request: Request) -> RequestContext:
    state = request.scope.get("state", {})
    client = request.scope.get("client")
    return RequestContext(
        request_id=state.get("request_id"),
        client_request_id=state.get("client_request_id"),
        client_ip=state.get("client_ip") or (client[0] if client else None),
    )


async def current_state(svc: Services, deal_id: str, *, live: bool = False) -> DealState:
    """The deal's `state` view from the read model (as its workflow last wrote it, which is
    at least as new as any update's answer); from the live workflow when `live`, or when the
    read model does not hold the deal (a run from before it). 404 when there is no deal."""
    if not live:
        found = await read_views.deal_state(svc.pool, deal_id)
        if found is not None:
            return found
    return await deal_state(svc, deal_id)


async def deal_state(svc: Services, deal_id: str) -> DealState:
    """The deal workflow's `state` query (the live workflow); 404 when there is no such
    deal."""
    handle = svc.client.get_workflow_handle(deal_workflow_id(deal_id))
    try:
        return await handle.query(LicensingDealWorkflow.state, rpc_timeout=svc.rpc_timeout)
    except (RPCError, WorkflowQueryFailedError) as exc:
        raise problem_from_temporal(exc, what=f"deal {deal_id}") from exc


def access_from_state(state: DealState) -> DealAccess:
    """Access facts from the state query (owner, partner, approvers, assignees)."""
    assignees = [a for t in state.open_tasks for a in t.assignees]
    return _access(state.deal_id, state.owner, state.partner_id, assignees, state.request)


def _access(
    deal_id: str,
    owner: str | None,
    partner_id: str | None,
    assignees: Iterable[str],
    request: DealRequest | None,
) -> DealAccess:
    """The deal's access facts: its participants are the open tasks' assignees and the
    people the request names (`request_participants`)."""
    structlog.contextvars.bind_contextvars(deal_id=deal_id)
    participants = set(assignees)
    if request is not None:
        participants.update(request_participants(request))
    return DealAccess(
        deal_id=deal_id, owner=owner, partner_id=partner_id, participants=frozenset(participants)
    )


def request_participants(request: DealRequest) -> list[str]:
    """Everyone the request names as approver, escalation target or signatory."""
    names = {*request.plan_approvers, request.licensor_signatory}
    for step in request.partner_approval_chain:
        names.update(step.approvers)
        if step.escalate_to:
            names.add(step.escalate_to)
    return sorted(names)
