"""Inputs of the activities every workflow uses (`activities/common.py`)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from domain.common import Model


class AuditEntry(Model):
    """One audit-log row; `idempotency_key` is made in the workflow so retries dedupe."""

    idempotency_key: str
    actor: str
    action: str
    deal_id: str | None = None
    workflow_id: str | None = None
    subject: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class Notification(Model):
    """One outbox message (reminder, escalation, partner message)."""

    idempotency_key: str
    recipient: str
    kind: str
    subject: str
    body: str = ""
    deal_id: str | None = None
    workflow_id: str | None = None
    channel: str = "email"


class RespondersQuery(Model):
    """Who answers an incident: users holding any of `roles`."""

    roles: list[str] = Field(default_factory=lambda: ["ops", "admin"])


class Responders(Model):
    users: list[str] = Field(default_factory=list)


class PartnerUsersQuery(Model):
    """Who is bound to a partner in the users directory (`store.users.partner_users`)."""

    partner_id: str


class PartnerUsers(Model):
    users: list[str] = Field(default_factory=list)
    """Every user bound to the partner, active or not (a disabled one stays conflicted)."""
