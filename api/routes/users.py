"""The users directory (admin only): add, list, read, change roles, disable and enable.

Every change writes an audit row (`user.add`, `user.update`, `user.disable`, `user.enable`)
in the transaction of the change. Disabling a user stops every token of theirs at once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, get_args

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_role
from api.deps import Caller, Services, Svc, write_audit
from api.gates import allow
from api.params import ID_PATTERN
from api.problems import conflict, invalid, not_found
from api.routing import AuthorizeFirstRoute
from domain.common import Identifier, Name, UserName
from store import users
from store.pool import transaction
from store.tokens import ROLES, Principal
from store.users import User

router = APIRouter(
    prefix="/v1/users",
    tags=["users"],
    route_class=AuthorizeFirstRoute,
    dependencies=[allow("admin")],  # every route: before the body is validated (api/gates.py)
)

Role = Literal["admin", "owner", "approver", "partner", "ops", "finance"]
assert set(get_args(Role)) == set(ROLES)
UserPath = Annotated[str, Path(pattern=ID_PATTERN)]


class UserGrant(BaseModel):
    """Roles, partner binding (with the partner role only) and display name of a user."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Role] = Field(min_length=1, max_length=len(ROLES))
    partner_id: Identifier | None = None
    """The partner a partner user acts for; it need not be registered yet."""
    display_name: Name | None = None


class UserIn(UserGrant):
    """Body of POST /v1/users."""

    user_name: UserName


class UserOut(BaseModel):
    user_name: str
    display_name: str
    roles: list[str]
    partner_id: str | None
    active: bool
    created_at: datetime | None = None


def user_out(user: User) -> UserOut:
    return UserOut(
        user_name=user.user_name,
        display_name=user.display_name,
        roles=sorted(user.roles),
        partner_id=user.partner_id,
        active=user.active,
        created_at=user.created_at,
    )


def _check_grant(grant: UserGrant) -> None:
    if "partner" in grant.roles and not grant.partner_id:
        raise invalid("body.partner_id", "the partner role needs partner_id")
    if grant.partner_id and "partner" not in grant.roles:
        raise invalid("body.partner_id", "partner_id only goes with the partner role")


def _same(user: User, grant: UserGrant, display_name: str) -> bool:
    return (
        user.roles == frozenset(grant.roles)
        and user.partner_id == grant.partner_id
        and user.display_name == display_name
        and user.active
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=UserOut,
    responses={200: {"description": "The same user exists already (identical body)"}},
)
async def add_user(
    body: UserIn, request: Request, response: Response, svc: Svc, who: Caller
) -> UserOut:
    """Add a user (admin). The same body again answers 200; another user of that name, 409."""
    require_role(who, "admin")
    _check_grant(body)
    async with transaction(svc.pool) as conn:
        created = await users.create(
            conn,
            body.user_name,
            roles=list(body.roles),
            partner_id=body.partner_id,
            display_name=body.display_name,
        )
        if created is None:
            existing = await users.get(conn, body.user_name)
            assert existing is not None
            if not _same(existing, body, body.display_name or body.user_name):
                raise conflict(f"user {body.user_name} exists with other roles or settings")
            response.status_code = status.HTTP_200_OK
            return user_out(existing)
        await write_audit(
            svc,
            request,
            who,
            "user.add",
            subject=body.user_name,
            detail={"roles": sorted(created.roles), "partner_id": created.partner_id},
            db=conn,
        )
    return user_out(created)


@router.get("", response_model=list[UserOut])
async def list_users(
    svc: Svc,
    who: Caller,
    role: Role | None = None,
    partner_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    active: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> list[UserOut]:
    """Users by name (admin), optionally with a role, of a partner, (in)active."""
    require_role(who, "admin")
    found = await users.list_all(
        svc.pool, limit=limit, role=role, partner_id=partner_id, active=active
    )
    return [user_out(u) for u in found]


@router.get("/{user_name}", response_model=UserOut)
async def get_user(user_name: UserPath, svc: Svc, who: Caller) -> UserOut:
    """One user (admin); 404 when unknown."""
    require_role(who, "admin")
    found = await users.get(svc.pool, user_name)
    if found is None:
        raise not_found(f"user {user_name} does not exist")
    return user_out(found)


@router.put("/{user_name}", response_model=UserOut)
async def update_user(
    user_name: UserPath, body: UserGrant, request: Request, svc: Svc, who: Caller
) -> UserOut:
    """Replace a user's roles, partner binding and display name (admin). Tokens keep only the
    roles their user still holds; a role given now needs a new token."""
    require_role(who, "admin")
    _check_grant(body)
    async with transaction(svc.pool) as conn:
        before = await conn.fetchrow(
            "SELECT active FROM users WHERE user_name = $1 FOR UPDATE", user_name
        )
        if before is None:
            raise not_found(f"user {user_name} does not exist")
        updated = await users.upsert(
            conn,
            user_name,
            roles=list(body.roles),
            partner_id=body.partner_id,
            display_name=body.display_name,
            active=before["active"],
        )
        await write_audit(
            svc,
            request,
            who,
            "user.update",
            subject=user_name,
            detail={"roles": sorted(updated.roles), "partner_id": updated.partner_id},
            db=conn,
        )
    return user_out(updated)


@router.post("/{user_name}/disable", response_model=UserOut)
async def disable_user(user_name: UserPath, request: Request, svc: Svc, who: Caller) -> UserOut:
    """Disable a user (admin): their tokens stop working at once. Not oneself (409)."""
    require_role(who, "admin")
    if user_name == who.user:
        raise conflict("an admin may not disable themselves")
    return await _set_active(svc, request, who, user_name, active=False)


@router.post("/{user_name}/enable", response_model=UserOut)
async def enable_user(user_name: UserPath, request: Request, svc: Svc, who: Caller) -> UserOut:
    """Enable a disabled user (admin): their live tokens work again."""
    require_role(who, "admin")
    return await _set_active(svc, request, who, user_name, active=True)


async def _set_active(
    svc: Services, request: Request, who: Principal, user_name: str, *, active: bool
) -> UserOut:
    async with transaction(svc.pool) as conn:
        changed = await conn.fetchval(
            "UPDATE users SET active = $2 WHERE user_name = $1 AND active <> $2"
            " RETURNING user_name",
            user_name,
            active,
        )
        found = await users.get(conn, user_name)
        if found is None:
            raise not_found(f"user {user_name} does not exist")
        if changed:
            action = "user.enable" if active else "user.disable"
            await write_audit(svc, request, who, action, subject=user_name, db=conn)
    return user_out(found)
