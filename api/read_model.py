"""Reads answered from the Postgres read model (`store/read_model.py`), kept current by the
workflows themselves: a deal's `state` view, the deal list and the inbox, in milliseconds
whatever the worker's load. Deals whose run predates the read model (patch `read-model`)
are not in it: callers fall back to the live workflow (`api/deps.py`), and lists and the
inbox to Temporal while such a deal is open."""

from __future__ import annotations

from dataclasses import dataclass

from api.visibility import visible_scope
from domain.bounds import RECORDED
from domain.deal_state import DealState
from store import read_model
from store.pool import Db
from store.tokens import Principal


async def deal_state(db: Db, deal_id: str) -> DealState | None:
    """The deal's `state` view as its workflow last wrote it; None when the read model does
    not hold the deal."""
    document = await read_model.deal_document(db, deal_id)
    if document is None:
        return None
    return DealState.model_validate(document, context=RECORDED)


async def covers_open_deals(db: Db) -> bool:
    """The read model holds every open task: it has been written, and no open deal runs a
    run from before it."""
    return not await read_model.has_unpublished_deals(db)


@dataclass(frozen=True)
class ListScope:
    """What a caller may list (`api/visibility.py` `visible_scope`, as SQL parameters)."""

    everything: bool
    as_owner: str | None = None
    as_partner: str | None = None
    as_approver: str | None = None


def list_scope(who: Principal) -> ListScope:
    """The caller's deals: admin and ops every deal; an owner theirs, a partner user its
    partner's, an approver those with a task of theirs open; PermissionError for anyone
    else (the same rule and message as the visibility query)."""
    if visible_scope(who) is None:
        return ListScope(everything=True)
    return ListScope(
        everything=False,
        as_owner=who.user if who.has("owner") else None,
        as_partner=who.partner_id if who.has("partner") and who.partner_id else None,
        as_approver=who.user if who.has("approver") else None,
    )
