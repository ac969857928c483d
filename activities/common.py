"""Activities every workflow uses: audit log and notification outbox (both idempotent)."""

from __future__ import annotations

import asyncpg
import structlog
from temporalio import activity

from domain.activity_io import AuditEntry, Notification, Responders, RespondersQuery
from store import audit, notifications, principals

log = structlog.get_logger(__name__)


class CommonActivities:
    """Audit and notifications, bound to a Postgres pool."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    @activity.defn
    async def record_audit(self, entry: AuditEntry) -> bool:
        """Append to the audit log; True if written now, False if a retry found it there."""
        return await audit.append(self._pool, **entry.model_dump())

    @activity.defn
    async def incident_responders(self, query: RespondersQuery) -> Responders:
        """The users an incident task goes to (ops and admin)."""
        return Responders(users=await principals.users_with_roles(self._pool, query.roles))

    @activity.defn
    async def send_notification(self, note: Notification) -> bool:
        """Queue a notification in the outbox (a sender delivers it)."""
        queued = await notifications.enqueue(self._pool, **note.model_dump())
        log.info(
            "notification.queued",
            kind=note.kind,
            recipient=note.recipient,
            deal_id=note.deal_id,
            duplicate=not queued,
        )
        return queued
