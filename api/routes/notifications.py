"""The caller's own notifications (reminders, escalations, partner messages)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.deps import Caller, Svc
from store import notifications

router = APIRouter(prefix="/v1/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    """One notification addressed to the caller."""

    id: int
    kind: str
    subject: str
    body: str
    deal_id: str | None
    status: Literal["pending", "sent", "failed"] = Field(
        description="`pending`: queued or being retried; `sent`: delivered; `failed`: given up"
    )
    created_at: datetime
    sent_at: datetime | None


@router.get("", response_model=list[NotificationOut])
async def my_notifications(
    svc: Svc,
    who: Caller,
    limit: Annotated[int, Query(ge=1, le=200, description="at most this many")] = 50,
) -> list[NotificationOut]:
    """Notifications addressed to the caller, newest first, whatever their delivery status.

    Workflows queue them; the worker delivers them by e-mail (or to its log).
    """
    rows = await notifications.latest_for_recipient(svc.pool, who.user, limit=limit)
    return [NotificationOut(**r) for r in rows]
