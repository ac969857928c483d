"""The rights ledger's rules (pure): cells, holdings, conflicts and the windows of a grant.

A deal's licensed scope is granted cell by cell: one (category, territory, channel) of its
property, categories and channels compared case-insensitively, territories as countries
(regions such as EU expanded first). A deal *holds* cells: `reserved` from plan approval
until the contract is signed, `active` from signature (launch -> term end, plus sell-off),
`released` when it is cancelled, terminated or expired. An exclusive grant conflicts with
every overlapping grant of its cell; non-exclusive grants coexist (the database enforces it:
`store/migrations/0010_rights_ledger.sql`).

The workflow says what the deal holds as `Holding`s (a scope, a window, a status); the
ledger makes the deal's rows exactly that (`desired_rows`), so every call is idempotent.
An active row keeps its start (a granted right is never moved back or forward in time; a
renewal or a termination only moves its end); reserved and new rows take the holding's
window.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from pydantic import Field

from domain.common import LicensedScope, Model, PartnerScope, ScopeCover, fold_code
from domain.deal import Schedule
from domain.durations import parse_duration
from domain.schedule import period_end
from domain.territories import wanted

MAX_CELLS = 25_000
"""Cells (categories x countries x channels, regions expanded) one deal may hold: ten
categories in every country over ten channels. A scope above it is refused at the edge."""

GrantStatus = Literal["reserved", "active", "released"]
HeldStatus = Literal["reserved", "active"]
WindowPolicy = Literal["clip", "contain"]
"""What a window reaching beyond the property's availability gets: `clip` (held as far as
the property is available) or `contain` (refused; a renewal past the licensor's own rights)."""


@dataclass(frozen=True, order=True)
class Cell:
    """One licensable right: a category in one country through one channel."""

    category: str
    territory: str
    channel: str

    def __str__(self) -> str:
        return f"{self.category}/{self.territory}/{self.channel}"


def scope_cells(scope: PartnerScope) -> list[Cell]:
    """Every cell of `scope` in a stable order (codes folded, regions expanded)."""
    categories = dict.fromkeys(fold_code(c) for c in scope.categories)
    channels = dict.fromkeys(fold_code(c) for c in scope.channels)
    countries = wanted(scope.territories)
    return sorted(Cell(c, t, ch) for c in categories for t in countries for ch in channels)


def cell_count(scope: PartnerScope) -> int:
    """How many cells `scope` holds (without building them)."""
    categories = {fold_code(c) for c in scope.categories}
    channels = {fold_code(c) for c in scope.channels}
    return len(categories) * len(wanted(scope.territories)) * len(channels)


class Holding(Model):
    """What a deal holds: every cell of `scope`, from `starts_at` to `ends_at`."""

    scope: LicensedScope
    starts_at: datetime
    ends_at: datetime
    status: HeldStatus
    plan_version: int | None = None
    """The plan version the cells belong to (a pending amendment's); none: the call's."""


@dataclass(frozen=True, order=True)
class GrantRow:
    """One cell as the deal should hold it."""

    cell: Cell
    exclusive: bool
    starts_at: datetime
    ends_at: datetime
    status: HeldStatus
    plan_version: int | None = None

    def merged(self, other: GrantRow) -> GrantRow:
        """The cell held by two holdings at once (the plan in force and a pending amendment):
        active over reserved (with its plan version), exclusive when either is, the union of
        the windows."""
        active = self if self.status == "active" or other.status != "active" else other
        return replace(
            active,
            exclusive=self.exclusive or other.exclusive,
            starts_at=min(self.starts_at, other.starts_at),
            ends_at=max(self.ends_at, other.ends_at),
        )


def desired_rows(holdings: Iterable[Holding]) -> list[GrantRow]:
    """The rows the deal should hold, one per cell, sorted (a stable lock order)."""
    rows: dict[Cell, GrantRow] = {}
    for holding in holdings:
        for cell in scope_cells(holding.scope):
            row = GrantRow(
                cell,
                holding.scope.exclusive,
                holding.starts_at,
                holding.ends_at,
                holding.status,
                holding.plan_version,
            )
            held = rows.get(cell)
            rows[cell] = row if held is None else held.merged(row)
    return sorted(rows.values())


class RightsConflict(Model):
    """Why the ledger refused: a grant of another deal holds the cell (`held`), or the
    property does not offer it (`unavailable`: not in its rights, or outside its window)."""

    kind: Literal["held", "unavailable"]
    property_id: str
    category: str
    territory: str
    channel: str
    deal_id: str | None = None
    """The deal holding the cell (`held`)."""
    licensee: str | None = None
    """That deal's licensee, once it has one."""
    exclusive: bool | None = None
    """Whether the blocking grant is exclusive."""
    status: GrantStatus | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    detail: str | None = None
    """What the property lacks (`unavailable`)."""

    @property
    def cell(self) -> Cell:
        return Cell(self.category, self.territory, self.channel)

    def message(self) -> str:
        where = f"{self.cell} of property {self.property_id}"
        if self.kind == "unavailable":
            return f"rights conflict: {where} is not available to license: {self.detail}"
        held = "exclusively " if self.exclusive else ""
        licensee = f" (licensee {self.licensee})" if self.licensee else ""
        return (
            f"rights conflict: {where} is held {held}by deal {self.deal_id}{licensee}"
            f" from {_day(self.starts_at)} to {_day(self.ends_at)} ({self.status})"
        )


def _day(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "open end"


class AvailableRights(PartnerScope):
    """The rights a property offers: categories, territories (countries and regions, regions
    expanded at the edge) and channels."""


class PropertyRights(Model):
    """A property as the ledger checks it: what it offers and when."""

    property_id: str
    rights: AvailableRights
    available_from: datetime
    available_to: datetime | None = None


def outside_rights(scope: PartnerScope, rights: PartnerScope) -> tuple[str, str] | None:
    """(field under the scope, message) of the first scope value `rights` do not offer, or
    None when every cell of `scope` is offered."""
    cover: ScopeCover = rights.cover()
    for i, category in enumerate(scope.categories):
        if not cover.has_category(category):
            return f"categories.{i}", f"category {category!r} is not offered by property"
    for i, territory in enumerate(scope.territories):
        missing = [c for c in wanted([territory]) if not cover.has_territory(c)]
        if missing:
            return f"territories.{i}", f"territory {missing[0]!r} is not offered by property"
    for i, channel in enumerate(scope.channels):
        if not cover.has_channel(channel):
            return f"channels.{i}", f"channel {channel!r} is not offered by property"
    return None


def offers(cover: ScopeCover, cell: Cell) -> bool:
    """The property whose rights cover `cover` (`rights.cover()`, made once for many cells)
    offers `cell`."""
    return (
        cover.has_category(cell.category)
        and cover.has_territory(cell.territory)
        and cover.has_channel(cell.channel)
    )


def fit_window(row: GrantRow, prop: PropertyRights, policy: WindowPolicy) -> GrantRow | str:
    """`row` within the property's availability: clipped to it (`clip`), or as it is when it
    lies inside (`contain`); else why not (a message)."""
    start, end = row.starts_at, row.ends_at
    until = prop.available_to
    if policy == "contain":
        if start < prop.available_from:
            return f"it is available from {prop.available_from.isoformat()}"
        if until is not None and end > until:
            return (
                f"it is available until {until.isoformat()}, the grant would end {end.isoformat()}"
            )
        return row
    start = max(start, prop.available_from)
    end = min(end, until) if until is not None else end
    if start >= end:
        return f"it is available {_window(prop)} only"
    return replace(row, starts_at=start, ends_at=end)


def _window(prop: PropertyRights) -> str:
    until = prop.available_to.isoformat() if prop.available_to else "open end"
    return f"from {prop.available_from.isoformat()} to {until}"


def first_unavailable(
    rows: Sequence[GrantRow], prop: PropertyRights, policy: WindowPolicy
) -> tuple[list[GrantRow], RightsConflict | None]:
    """The rows fitted to the property (see `fit_window`), or the first one it cannot take.
    A row with an empty window (a deal terminated before its scheduled start, without a
    sell-off reaching past it) holds nothing: it is left out, so the ledger releases it."""
    fitted: list[GrantRow] = []
    cover = prop.rights.cover()  # once: a deal may hold 25,000 cells
    for row in rows:
        if row.ends_at <= row.starts_at:
            continue
        if not offers(cover, row.cell):
            return [], _unavailable(prop, row.cell, "the property does not offer it")
        fit = fit_window(row, prop, policy)
        if isinstance(fit, str):
            return [], _unavailable(prop, row.cell, fit)
        fitted.append(fit)
    return fitted, None


def _unavailable(prop: PropertyRights, cell: Cell, detail: str) -> RightsConflict:
    return RightsConflict(
        kind="unavailable",
        property_id=prop.property_id,
        category=cell.category,
        territory=cell.territory,
        channel=cell.channel,
        detail=detail,
    )


# ---- windows ---------------------------------------------------------------------------


def term_end(launch: datetime, schedule: Schedule, term_periods: int) -> datetime:
    """When a term of `term_periods` periods launched at `launch` ends."""
    return period_end(launch, schedule.period, term_periods)


def with_sell_off(end: datetime, sell_off: str | None) -> datetime:
    """`end` plus the contractual sell-off period, when there is one."""
    return parse_duration(sell_off).add_to(end) if sell_off else end


SIGNATURE_SLAS = 3
"""A contract envelope unsigned after three decision SLAs (reminder, escalation, expiry)
cancels the deal: a reservation covers a launch that late."""


def reservation_window(
    now: datetime, schedule: Schedule, term_periods: int, sell_off: str | None
) -> tuple[datetime, datetime]:
    """The window reserved before signature: from the planned start (`schedule.start`, else
    now) to the end of a term launched as late as the signature may come, plus sell-off."""
    if schedule.start is not None:
        start = launch_by = schedule.start
    else:
        start = now
        launch_by = now + parse_duration(schedule.decision_sla).approx() * SIGNATURE_SLAS
    return start, with_sell_off(term_end(launch_by, schedule, term_periods), sell_off)


# ---- availability answers (API) ---------------------------------------------------------


class BlockingGrant(Model):
    """A grant overlapping the asked window in one cell."""

    deal_id: str
    licensee: str | None = None
    exclusive: bool
    status: GrantStatus
    starts_at: datetime
    ends_at: datetime | None = None


class CellAvailability(Model):
    """One country of the asked category and channel."""

    territory: str
    offered: bool
    """The property offers the cell over the whole asked window."""
    free: bool
    """A grant of the asked exclusivity could be reserved now."""
    free_exclusive: bool
    """No grant overlaps: an exclusive grant would fit."""
    free_non_exclusive: bool
    """No exclusive grant overlaps: a non-exclusive grant would fit."""
    blocking: list[BlockingGrant] = Field(default_factory=list)
    """Every grant overlapping the window (the ones that make it taken, and non-exclusive
    ones sharing it)."""


def cell_availability(
    territory: str, offered: bool, exclusive: bool, overlapping: Sequence[BlockingGrant]
) -> CellAvailability:
    """Free or taken, from the grants overlapping the asked window."""
    free_exclusive = offered and not overlapping
    free_shared = offered and not any(g.exclusive for g in overlapping)
    return CellAvailability(
        territory=territory,
        offered=offered,
        free=free_exclusive if exclusive else free_shared,
        free_exclusive=free_exclusive,
        free_non_exclusive=free_shared,
        blocking=list(overlapping),
    )


def deal_property_problem(
    scope: PartnerScope,
    schedule: Schedule,
    sell_off: str | None,
    prop: PropertyRights,
    now: datetime,
) -> tuple[str, str] | None:
    """(field of the deal request, message) when a new deal on `prop` asks for what the
    property does not offer: too many cells, a scope value it lacks, a start before its
    availability (`schedule.start`, or now) or a term (plus sell-off) ending after it."""
    cells = cell_count(scope)
    if cells > MAX_CELLS:
        return "plan.scope", f"the scope holds {cells} cells (at most {MAX_CELLS})"
    outside = outside_rights(scope, prop.rights)
    if outside is not None:
        field, message = outside
        return f"plan.scope.{field}", f"{message} {prop.property_id}"
    start = schedule.start or now
    if start < prop.available_from:
        hint = "" if schedule.start else "; give a schedule.start on or after it"
        return (
            "schedule.start",
            f"property {prop.property_id} is available from {prop.available_from.isoformat()}"
            + hint,
        )
    try:
        end = with_sell_off(term_end(start, schedule, schedule.term_periods), sell_off)
    except (OverflowError, ValueError):  # past the year 9999
        return (
            "schedule.term_periods",
            f"the term (with sell-off) from {start.isoformat()} would end after the year 9999",
        )
    if prop.available_to is not None and end > prop.available_to:
        return (
            "schedule.term_periods",
            f"the term (with sell-off) would end {end.isoformat()}; property"
            f" {prop.property_id} is available until {prop.available_to.isoformat()}",
        )
    return None
