"""Partner profiles: registered by admins/owners; read by admin and ops, the partner's own
users and the owners of deals naming the partner (everyone else: 404, as unknown)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, status

from api.auth import READ_ALL, require_role
from api.deps import Caller, Services, Svc, write_audit
from api.gates import allow
from api.params import ID_PATTERN
from api.people import check_contact_user
from api.problems import ProblemError, conflict, not_found
from api.routing import AuthorizeFirstRoute
from api.task_access import hidden_denial
from domain.bounds import RECORDED
from domain.common import Identifier
from domain.partner import PartnerProfile
from store import partner_access, partners
from store.tokens import Principal

router = APIRouter(prefix="/v1/partners", tags=["partners"], route_class=AuthorizeFirstRoute)
PartnerId = Annotated[Identifier, Path(pattern=ID_PATTERN)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PartnerProfile,
    dependencies=[allow("admin", "owner")],  # before the body is validated: api/gates.py
)
async def create_partner(
    body: PartnerProfile, request: Request, svc: Svc, who: Caller
) -> PartnerProfile:
    """Register a partner (admin or owner); 409 when the partner id exists. `contact_user` must
    be an active user with the partner role bound to this partner id, created first
    (`licenseflow user add NAME --role partner --partner ID` or POST /v1/users); else 422."""
    require_role(who, "admin", "owner")
    await check_contact_user(svc.pool, body.contact_user, body.partner_id)
    profile = body.model_copy(update={"version": 1})
    if not await partners.insert(svc.pool, profile.model_dump(mode="json"), who.user):
        raise conflict(f"partner {body.partner_id} exists already")
    await write_audit(svc, request, who, "partner.create", subject=body.partner_id)
    return profile


PARTNER_LIST_MAX = 500


@router.get("", response_model=list[PartnerProfile])
async def list_partners(
    svc: Svc,
    who: Caller,
    limit: Annotated[int, Query(ge=1, le=PARTNER_LIST_MAX)] = 100,
) -> list[PartnerProfile]:
    """The partner profiles the caller may read (see `get_partner`), by partner id: every
    one for admin and ops; a partner's users their own; an owner the partners its deals
    name; nobody else any."""
    if who.has(*READ_ALL):
        wanted: list[str] | None = None
    else:
        named: set[str] = set()
        if who.has("partner") and who.partner_id:
            named.add(who.partner_id)
        if who.has("owner"):
            named.update(await partner_access.partners_named_by(svc.pool, who.user))
        if not named:
            return []
        wanted = sorted(named)
    stored = await partner_access.profiles(svc.pool, wanted, limit=limit)
    return [PartnerProfile.model_validate(p, context=RECORDED) for p in stored]


@router.get("/{partner_id}", response_model=PartnerProfile)
async def get_partner(
    partner_id: PartnerId, request: Request, svc: Svc, who: Caller
) -> PartnerProfile:
    """A partner's profile, for admin and ops, the partner's own users, and the owners of
    deals naming the partner (as candidate or licensee); for anyone else it does not
    exist (404, the same answer as for an unknown partner)."""
    await require_partner_read(svc, who, partner_id, request)
    stored = await partners.get(svc.pool, partner_id)
    if stored is None:
        raise _no_such_partner(partner_id)
    return PartnerProfile.model_validate(stored, context=RECORDED)  # stored: as it was


async def may_read_partner(svc: Services, who: Principal, partner_id: str) -> bool:
    """Admin and ops; the partner's own users; owners of deals naming the partner (the
    deals read model: requested candidates and the approved licensee)."""
    if who.has(*READ_ALL):
        return True
    if who.has("partner") and who.partner_id is not None and who.partner_id == partner_id:
        return True
    return who.has("owner") and await partner_access.owner_names_partner(
        svc.pool, who.user, partner_id
    )


async def require_partner_read(
    svc: Services, who: Principal, partner_id: str, request: Request
) -> None:
    """404 (as for an unknown partner) unless the caller may read the partner: whether a
    partner exists, or is a candidate of some deal, is not told to a competitor's token."""
    if not await may_read_partner(svc, who, partner_id):
        raise hidden_denial(request, _no_such_partner(partner_id))


def _no_such_partner(partner_id: str) -> ProblemError:
    return not_found(f"partner {partner_id} does not exist")
