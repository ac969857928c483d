"""What a licensee sees of a deal: its own part, not the licensor's internal workings."""

from __future__ import annotations

from domain.deal_state import DealState
from store.tokens import Principal


def partner_view(state: DealState, who: Principal) -> DealState:
    """The deal without the request (other candidates, approval chain, approvers), the
    internal history, and tasks that are not the caller's."""
    return state.model_copy(
        update={
            "request": None,
            "history": [],
            "open_tasks": [t for t in state.open_tasks if who.user in t.assignees],
        }
    )
