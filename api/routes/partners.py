"""Partner profiles: registered by admins/owners, readable by staff and the partner itself."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from api.auth import require_role
from api.deps import Caller, Svc, write_audit
from api.params import ID_PATTERN
from api.problems import conflict, forbidden, not_found
from domain.bounds import RECORDED
from domain.common import Identifier
from domain.partner import PartnerProfile
from store import partners

router = APIRouter(prefix="/v1/partners", tags=["partners"])
PartnerId = Annotated[Identifier, Path(pattern=ID_PATTERN)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=PartnerProfile)
async def create_partner(
    body: PartnerProfile, request: Request, svc: Svc, who: Caller
) -> PartnerProfile:
    """Register a partner (admin or owner); 409 when the partner id exists."""
    require_role(who, "admin", "owner")
    profile = body.model_copy(update={"version": 1})
    if not await partners.insert(svc.pool, profile.model_dump(mode="json"), who.user):
        raise conflict(f"partner {body.partner_id} exists already")
    await write_audit(svc, request, who, "partner.create", subject=body.partner_id)
    return profile


@router.get("/{partner_id}", response_model=PartnerProfile)
async def get_partner(partner_id: PartnerId, svc: Svc, who: Caller) -> PartnerProfile:
    """A partner's profile; partner tokens see only their own partner."""
    if not who.has("admin", "owner", "approver", "ops") and who.partner_id != partner_id:
        raise forbidden(f"{who.user} may not see partner {partner_id}")
    stored = await partners.get(svc.pool, partner_id)
    if stored is None:
        raise not_found(f"partner {partner_id} does not exist")
    return PartnerProfile.model_validate(stored, context=RECORDED)  # stored: as it was
