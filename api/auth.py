"""Bearer-token authentication and the least-privilege rules of the API.

403 vs 404 policy: no token → 401 before anything is looked up. An authenticated caller
asking for a deal that does not exist gets 404; one asking for an existing deal it may not
see or change gets 403. This reveals that a deal id is taken, which is public anyway (deal
ids are one namespace chosen by owners; POST /v1/deals with a taken id answers 409). A 403
`detail` names only the caller, the deal id and the rule — never owner, partner or stage.
Partner profiles answer 404 to anyone who may not read them (as for an unknown partner).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.problems import forbidden
from store.tokens import Principal

READ_ALL = ("admin", "ops")


@dataclass(frozen=True)
class DealAccess:
    """Who a deal belongs to, as far as access decisions go."""

    deal_id: str
    owner: str | None
    partner_id: str | None
    participants: frozenset[str] = frozenset()
    """Approvers, signatories and current assignees: they may read the deal."""


def can_read_deal(who: Principal, deal: DealAccess) -> bool:
    if who.has(*READ_ALL):
        return True
    if who.has("owner") and deal.owner == who.user:
        return True
    if who.has("partner") and who.partner_id is not None and deal.partner_id == who.partner_id:
        return True
    return who.has("approver") and who.user in deal.participants


def reads_as_partner_only(who: Principal, deal: DealAccess) -> bool:
    """True when the caller may read the deal only as its licensee (partner view)."""
    if who.has(*READ_ALL) or (who.has("owner") and deal.owner == who.user):
        return False
    return not (who.has("approver") and who.user in deal.participants)


def require_read(who: Principal, deal: DealAccess) -> None:
    if not can_read_deal(who, deal):
        raise forbidden(f"{who.user} may not see deal {deal.deal_id}")


def require_steer(who: Principal, deal: DealAccess) -> None:
    """Owners steer their own deals (terminate, amend); admins every deal."""
    if who.has("admin"):
        return
    if who.has("owner") and deal.owner == who.user:
        return
    raise forbidden(f"only the deal owner may change deal {deal.deal_id}")


def require_partner_of(who: Principal, deal: DealAccess) -> None:
    """Only the deal's own partner (or an admin) reports its sales."""
    if who.has("admin"):
        return
    if who.has("partner") and who.partner_id is not None and who.partner_id == deal.partner_id:
        return
    raise forbidden(f"only the licensing partner of deal {deal.deal_id} may report its sales")


def require_role(who: Principal, *roles: str) -> None:
    if not who.has(*roles):
        raise forbidden(f"this needs one of the roles {', '.join(roles)}")


def require_actor(who: Principal) -> None:
    """Read-only tokens (ops only) never change state."""
    if not who.has("admin", "owner", "approver", "partner", "finance"):
        raise forbidden("this token is read-only")
