"""Licensable properties (brands, characters, designs) as the licensor registers them: the
rights each offers and when (`POST /v1/properties`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import ConfigDict, ValidationInfo, field_validator

from domain import examples
from domain.bounds import at_edge, edge
from domain.common import Identifier, Model, Name, UserName
from domain.rights import AvailableRights, PropertyRights


def check_moment(moment: datetime) -> None:
    """ValueError unless `moment` has a time zone offset and lies in the years 1 to 9999."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("give a time zone offset (for example 2027-01-01T00:00:00Z)")
    if not in_calendar(moment):
        raise ValueError("must lie between the years 1 and 9999 in UTC")


def in_calendar(moment: datetime) -> bool:
    """`moment` (time zone aware) is a UTC moment of the years 1 to 9999 (what a database
    timestamp and every date computation can hold)."""
    try:
        moment.astimezone(UTC)
    except OverflowError:
        return False
    return True


Moment = Annotated[datetime, edge(check_moment)]


class PropertyIn(Model):
    """Body of POST /v1/properties. `owner` is the licensor-side owner (an owner registers
    properties for themselves and may leave it out; an admin names an active owner). The
    availability window is [available_from, available_to); no `available_to`: no end."""

    model_config = ConfigDict(json_schema_extra={"examples": [examples.PROPERTY]})

    property_id: Identifier
    name: Name
    owner: UserName | None = None
    rights: AvailableRights
    available_from: Moment
    available_to: Moment | None = None

    @field_validator("available_to")
    @classmethod
    def _after_from(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        start = info.data.get("available_from")
        if value is not None and start is not None and at_edge(info) and value <= start:
            raise ValueError("available_to must be after available_from")
        return value


class PropertyOut(PropertyIn):
    """A registered property."""

    model_config = ConfigDict(json_schema_extra=None)

    owner: UserName
    created_by: str
    created_at: datetime

    def ledger_view(self) -> PropertyRights:
        return PropertyRights(
            property_id=self.property_id,
            rights=self.rights,
            available_from=self.available_from,
            available_to=self.available_to,
        )
