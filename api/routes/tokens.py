"""Bearer tokens (admin only): list (never a secret), issue for a user, revoke.

A token is issued for an existing, active user with the user's roles or a subset of them
and lives 90 days unless `ttl` says otherwise (at most 365 days). Its secret is answered
once, by POST; only its hash is stored. Issue and revoke write `token.create` and
`token.revoke` audit rows in the transaction of the change.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_role
from api.deps import Caller, Services, Svc, write_audit
from api.gates import allow
from api.params import ID_PATTERN
from api.problems import invalid, not_found
from api.routes.users import Role
from api.routing import AuthorizeFirstRoute
from domain.common import UserName
from store import tokens, users
from store.pool import Db, transaction
from store.tokens import IssuedToken, Principal, TokenInfo, TokenStatus

router = APIRouter(
    prefix="/v1/tokens",
    tags=["tokens"],
    route_class=AuthorizeFirstRoute,
    dependencies=[allow("admin")],  # every route: before the body is validated (api/gates.py)
)

TokenIdPath = Annotated[str, Path(pattern=r"^tok_[A-Za-z0-9_-]{1,60}$")]
TTL_PATTERN = r"^[1-9][0-9]{0,5}[dh]$"


class TokenIn(BaseModel):
    """Body of POST /v1/tokens."""

    model_config = ConfigDict(extra="forbid")

    user_name: UserName
    roles: list[Role] | None = Field(default=None, min_length=1, max_length=6)
    """A subset of the user's roles; default: all of them."""
    ttl: str | None = Field(default=None, pattern=TTL_PATTERN, examples=["90d", "12h"])
    """Lifetime in days (`30d`) or hours (`12h`); default 90d, at most 365d."""


class TokenOut(BaseModel):
    """A token as listed: never its secret nor its hash."""

    token_id: str
    user_name: str
    roles: list[str]
    partner_id: str | None
    created_at: datetime
    created_by: str | None
    last_used_at: datetime | None
    expires_at: datetime
    revoked_at: datetime | None
    status: TokenStatus


class TokenCreated(TokenOut):
    """POST's answer: the only time the secret is shown."""

    token: str


def token_out(info: TokenInfo) -> TokenOut:
    return TokenOut(
        token_id=info.token_id,
        user_name=info.user_name,
        roles=list(info.roles),
        partner_id=info.partner_id,
        created_at=info.created_at,
        created_by=info.created_by,
        last_used_at=info.last_used_at,
        expires_at=info.expires_at,
        revoked_at=info.revoked_at,
        status=info.status(),
    )


@router.get("", response_model=list[TokenOut])
async def list_tokens(
    svc: Svc,
    who: Caller,
    user_name: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 500,
) -> list[TokenOut]:
    """Tokens of every status, newest first, optionally of one user (admin)."""
    require_role(who, "admin")
    return [token_out(t) for t in await tokens.list_tokens(svc.pool, user=user_name, limit=limit)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TokenCreated)
async def create_token(
    body: TokenIn, request: Request, response: Response, svc: Svc, who: Caller
) -> TokenCreated:
    """Issue a token for a user (admin); the answer carries the secret, once."""
    require_role(who, "admin")
    try:
        ttl = tokens.parse_ttl(body.ttl) if body.ttl else tokens.DEFAULT_TTL
    except ValueError as exc:
        raise invalid("body.ttl", str(exc)) from exc
    async with transaction(svc.pool) as conn:
        user = await users.get(conn, body.user_name)
        if user is None:
            raise invalid("body.user_name", f"unknown user {body.user_name!r}", kind="unknown_user")
        if not user.active:
            raise invalid(
                "body.user_name", f"user {body.user_name!r} is disabled", kind="inactive_user"
            )
        missing = sorted(set(body.roles or ()) - user.roles)
        if missing:
            raise invalid(
                "body.roles",
                f"user {body.user_name!r} does not hold the role(s) {', '.join(missing)}",
                kind="missing_role",
            )
        issued = await issue_audited(
            conn,
            svc,
            request,
            who,
            body.user_name,
            list(body.roles) if body.roles else None,
            ttl=ttl,
        )
    response.headers["Cache-Control"] = "no-store"
    return TokenCreated(**token_out(issued.info).model_dump(), token=issued.token)


@router.delete("/{token_id}", response_model=TokenOut)
async def revoke_token(token_id: TokenIdPath, request: Request, svc: Svc, who: Caller) -> TokenOut:
    """Revoke a token (admin): refused from now on. Revoking it again changes nothing."""
    require_role(who, "admin")
    async with transaction(svc.pool) as conn:
        found = await revoke_audited(conn, svc, request, who, token_id)
    if found is None:
        raise not_found(f"token {token_id} does not exist")
    return token_out(found[0])


async def issue_audited(
    conn: Db,
    svc: Services,
    request: Request,
    who: Principal,
    user_name: str,
    roles: list[str] | None,
    *,
    ttl: timedelta,
    purpose: str | None = None,
) -> IssuedToken:
    """Issue a token of `user_name` created by `who` and write its `token.create` audit row
    on `conn` (the transaction of the issue); `purpose` is noted in the row."""
    issued = await tokens.issue(conn, user_name, roles, ttl=ttl, created_by=who.user)
    info = issued.info
    detail = {
        "user": info.user_name,
        "roles": list(info.roles),
        "partner_id": info.partner_id,
        "expires_at": info.expires_at.isoformat(),
    }
    await write_audit(
        svc,
        request,
        who,
        "token.create",
        subject=info.token_id,
        detail=_noted(detail, purpose),
        db=conn,
    )
    return issued


async def revoke_audited(
    conn: Db,
    svc: Services,
    request: Request,
    who: Principal | str,
    token_id: str,
    *,
    purpose: str | None = None,
) -> tuple[TokenInfo, bool] | None:
    """`tokens.revoke_id`, writing a `token.revoke` audit row on `conn` when the token was
    live until now; `purpose` is noted in the row."""
    found = await tokens.revoke_id(conn, token_id)
    if found is not None and found[1]:
        detail = _noted({"user": found[0].user_name}, purpose)
        await write_audit(
            svc, request, who, "token.revoke", subject=token_id, detail=detail, db=conn
        )
    return found


def _noted(detail: dict[str, Any], purpose: str | None) -> dict[str, Any]:
    return detail if purpose is None else {**detail, "purpose": purpose}
