"""Route gates: authorization that runs as a route dependency, before FastAPI validates the
body, so a caller without the role or the ownership a write needs gets 401/403, never 422
(`api/routing.py` covers bodies that are not even JSON).

- `allow(*roles)`: `dependencies=[allow("admin", "owner")]` in a route decorator;
- `SteeredDeal`: the deal's access facts, once its owner (or an admin) is calling;
- `ReportedDeal`: the deal's state, once its licensing partner (or an admin) is calling;
- `decision_gate`: read-only tokens never decide (ops only incidents); with a body that does
  not validate, the caller's access to the task is checked first (`api/task_access.py`: a
  task it may not decide is a 404, as an unknown one); a valid body goes on to the decision
  path, which checks the same, so it costs nothing extra.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Path, Request
from pydantic import ValidationError

from api import task_access
from api.auth import DealAccess, require_actor, require_partner_of, require_role, require_steer
from api.deps import Caller, Svc, access_from_state, deal_access, deal_state
from api.params import DealId
from api.routing import NOT_JSON
from api.schemas import DecisionBody
from domain.deal_state import DealState
from domain.ids import task_local_id
from domain.tasks import INCIDENT_TASK_PREFIX


def allow(*roles: str) -> Any:
    """A route dependency: 403 unless the caller holds one of `roles` (401 without a token)."""

    async def has_role(who: Caller) -> None:
        require_role(who, *roles)

    has_role.__name__ = f"allow_{'_'.join(roles)}"
    return Depends(has_role)


async def steerable_deal(deal_id: DealId, svc: Svc, who: Caller) -> DealAccess:
    """404 without the deal; 403 unless the caller owns it (or is an admin)."""
    access = await deal_access(svc, deal_id)
    require_steer(who, access)
    return access


async def reported_deal(deal_id: DealId, svc: Svc, who: Caller) -> DealState:
    """404 without the deal; 403 unless the caller is its licensing partner (or an admin)."""
    state = await deal_state(svc, deal_id)
    require_partner_of(who, access_from_state(state))
    return state


SteeredDeal = Annotated[DealAccess, Depends(steerable_deal)]
ReportedDeal = Annotated[DealState, Depends(reported_deal)]

TaskPath = Annotated[str, Path(min_length=3, max_length=300, pattern=r"^[A-Za-z0-9._:-]+$")]


async def decision_gate(task_id: TaskPath, request: Request, svc: Svc, who: Caller) -> None:
    """403 for read-only tokens (ops may decide incidents only); and, when the body will not
    validate, the answer a valid body would get for a task the caller may not decide (404,
    as for an unknown task: `api/task_access.py`). A valid body costs nothing here: the
    decision path checks the task itself."""
    if not (who.has("ops") and task_local_id(task_id).startswith(INCIDENT_TASK_PREFIX)):
        require_actor(who)
    if not await _body_validates(request):
        await task_access.task_access(svc, who, task_id)


async def _body_validates(request: Request) -> bool:
    try:
        body = await request.json()
    except ValueError:
        return False
    if body is NOT_JSON:
        return False
    try:
        DecisionBody.model_validate(body)
    except ValidationError:
        return False
    return True
