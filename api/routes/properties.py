"""Properties and their rights: register a property (admin, owner), read the catalogue, ask
whether a cell is free, and list the program (who holds what, where, until when).

Every read is the licensor's: admin, owner, ops and finance. Partners get 403 on all of
them (a licensee must not learn other licensees, nor where a competitor holds exclusive
rights), and so do approvers, who read the deals they are named on, not the program.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response, status
from pydantic import BaseModel

from api.deps import Caller, Svc, write_audit
from api.gates import allow
from api.params import ID_PATTERN
from api.people import OWNER, person_error, problem
from api.problems import conflict, forbidden, invalid, not_found
from api.routing import AuthorizeFirstRoute
from domain import limits
from domain.common import Identifier, fold_code
from domain.properties import PropertyIn, PropertyOut, check_moment
from domain.rights import Cell, CellAvailability, cell_availability, offers
from domain.territories import scope_territory, wanted
from store import grants, properties, users
from store.tokens import Principal

router = APIRouter(prefix="/v1/properties", tags=["properties"], route_class=AuthorizeFirstRoute)

WRITERS = ("admin", "owner")
READERS = ("admin", "owner", "ops", "finance")
"""The licensor's people who read properties, availability and the program."""
PropertyId = Annotated[Identifier, Path(pattern=ID_PATTERN)]
LIST_MAX = 500
PROGRAM_MAX = 10_000


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PropertyOut,
    responses={200: {"description": "Same property_id and identical body: registered already"}},
    dependencies=[allow(*WRITERS)],  # before the body is validated: api/gates.py
)
async def create_property(
    body: PropertyIn, request: Request, response: Response, svc: Svc, who: Caller
) -> PropertyOut:
    """Register a property and the rights it offers (admin or owner). An owner registers
    its own (leave `owner` out); an admin names an active user with the owner role (422
    naming `body.owner`). The same body again answers 200; another body for a taken
    `property_id`, 409. Audited as `property.create`."""
    owner = _owner(who, body)
    if owner != who.user or not who.has("owner"):
        found = await users.get(svc.pool, owner)
        error = person_error({owner: found} if found else {}, owner, "body.owner", OWNER)
        if error is not None:
            raise problem([error])
    async with svc.pool.acquire() as conn, conn.transaction():
        stored = await properties.insert(conn, body, owner=owner, created_by=who.user)
        if stored is not None:
            await write_audit(
                svc,
                request,
                who,
                "property.create",
                subject=body.property_id,
                detail={"owner": owner},
                db=conn,
            )
            return stored
    existing = await properties.get(svc.pool, body.property_id)
    if existing is None or not properties.same(existing, body, owner):
        raise conflict(f"property {body.property_id} exists with a different body")
    response.status_code = status.HTTP_200_OK
    return existing


def _owner(who: Principal, body: PropertyIn) -> str:
    if body.owner is None:
        if who.has("owner"):
            return who.user
        raise invalid("body.owner", "name the property's owner (a user with the owner role)")
    if body.owner != who.user and not who.has("admin"):
        raise forbidden("owners register properties for themselves; leave `owner` empty")
    return body.owner


@router.get("", response_model=list[PropertyOut], dependencies=[allow(*READERS)])
async def list_properties(
    svc: Svc,
    owner: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    after: Annotated[
        str | None, Query(pattern=ID_PATTERN, description="page after this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=LIST_MAX)] = 100,
) -> list[PropertyOut]:
    """Registered properties by id (of one owner when given); page with `after`."""
    return await properties.listing(svc.pool, owner=owner, after=after, limit=limit)


@router.get("/{property_id}", response_model=PropertyOut, dependencies=[allow(*READERS)])
async def get_property(property_id: PropertyId, svc: Svc) -> PropertyOut:
    return await _property(svc, property_id)


async def _property(svc: Svc, property_id: str) -> PropertyOut:
    found = await properties.get(svc.pool, property_id)
    if found is None:
        raise not_found(f"property {property_id} does not exist")
    return found


class AvailabilityOut(BaseModel):
    """Free or taken, per country of the asked territory (a region is answered per member)."""

    property_id: str
    category: str
    channel: str
    territory: str
    starts_at: datetime
    ends_at: datetime | None
    exclusive: bool
    """The kind of grant asked about (`free` answers for it)."""
    free: bool
    """Every country is free for such a grant."""
    cells: list[CellAvailability]


QueryCode = Annotated[
    str, Query(min_length=1, max_length=limits.MAX_CODE, pattern=r"^[^\x00-\x1f\x7f]+$")
]


@router.get(
    "/{property_id}/availability", response_model=AvailabilityOut, dependencies=[allow(*READERS)]
)
async def availability(
    property_id: PropertyId,
    svc: Svc,
    category: QueryCode,
    territory: Annotated[str, Query(min_length=2, max_length=limits.MAX_CODE)],
    channel: QueryCode,
    starts_at: Annotated[datetime, Query(alias="from", description="with a time zone offset")],
    ends_at: Annotated[
        datetime | None, Query(alias="to", description="exclusive; none: open end")
    ] = None,
    exclusive: Annotated[bool, Query(description="ask for an exclusive grant")] = True,
) -> AvailabilityOut:
    """Whether a grant of `category` x `territory` x `channel` over [from, to) could be
    reserved now, per country, with the grants in the way (deal, licensee, window,
    exclusivity, status). Taken means: for an exclusive grant, any grant overlapping; for a
    non-exclusive one, an exclusive grant overlapping."""
    for name, moment in (("from", starts_at), ("to", ends_at)):
        try:
            if moment is not None:
                check_moment(moment)
        except ValueError as exc:
            raise invalid(f"query.{name}", str(exc)) from None
    if ends_at is not None and ends_at <= starts_at:
        raise invalid("query.to", "`to` must be after `from`")
    try:
        countries = wanted([scope_territory(territory)])
    except ValueError as exc:
        raise invalid("query.territory", str(exc)) from None
    prop = await _property(svc, property_id)
    ledger = prop.ledger_view()
    within = starts_at >= ledger.available_from and (
        ledger.available_to is None or (ends_at is not None and ends_at <= ledger.available_to)
    )
    cells = [Cell(fold_code(category), country, fold_code(channel)) for country in countries]
    found = await grants.overlapping(svc.pool, property_id, cells, starts_at, ends_at)
    cover = ledger.rights.cover()  # once, not per country
    answers = [
        cell_availability(
            cell.territory, within and offers(cover, cell), exclusive, found.get(cell, [])
        )
        for cell in cells
    ]
    return AvailabilityOut(
        property_id=property_id,
        category=fold_code(category),
        channel=fold_code(channel),
        territory=territory.strip().upper(),
        starts_at=starts_at,
        ends_at=ends_at,
        exclusive=exclusive,
        free=all(a.free for a in answers),
        cells=answers,
    )


class GrantOut(BaseModel):
    """Grants of one deal in one category and channel with the same window: the program."""

    deal_id: str
    licensee: str | None
    """None while the plan is reserved before a licensee is approved."""
    category: str
    channel: str
    territories: list[str]
    exclusive: bool
    status: Literal["reserved", "active", "released"]
    starts_at: datetime
    ends_at: datetime | None
    plan_version: int
    updated_at: datetime


@router.get("/{property_id}/grants", response_model=list[GrantOut], dependencies=[allow(*READERS)])
async def program(
    property_id: PropertyId,
    svc: Svc,
    grant_status: Annotated[
        Literal["held", "reserved", "active", "released", "all"],
        Query(alias="status", description="`held`: reserved and active"),
    ] = "held",
    deal_id: Annotated[str | None, Query(pattern=ID_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=PROGRAM_MAX)] = 1000,
) -> list[GrantOut]:
    """The property's program: licensee, scope (countries per category and channel), dates,
    exclusivity and status of every grant, soonest start first."""
    await _property(svc, property_id)
    statuses = {
        "held": ("reserved", "active"),
        "all": ("reserved", "active", "released"),
    }.get(grant_status, (grant_status,))
    rows = await grants.program(
        svc.pool, property_id, statuses=statuses, deal_id=deal_id, limit=limit
    )
    return [GrantOut(licensee=r.pop("partner_id"), **r) for r in rows]
