"""E-sign events: webhook signature check and one path that applies events and signals deals.

The provider webhook and the local provider's sign/decline decisions both end in
`apply_signing_event`: record in Postgres first (deduplicated, in order), then signal.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import asyncpg
import structlog
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from domain.deal_messages import SignatureEvent
from store import envelope_events
from store.envelope_events import Applied
from workflows.licensing_deal import LicensingDealWorkflow

log = structlog.get_logger(__name__)

SIGNATURE_HEADER_PREFIX = "x-docusign-signature-"

SETTLING_EVENTS = {
    "envelope-completed": "completed",
    "envelope-declined": "declined",
    "recipient-declined": "declined",
    "envelope-voided": "voided",
}
SIGNER_EVENTS = {"recipient-completed"}
SIGNALS = {
    "completed": LicensingDealWorkflow.signature_completed,
    "declined": LicensingDealWorkflow.signature_declined,
    "voided": LicensingDealWorkflow.signature_declined,
}
"""The deal signal for each settled envelope status."""
SETTLED: dict[str, Literal["completed", "declined", "voided"]] = {
    "completed": "completed",
    "declined": "declined",
    "voided": "voided",
}
"""Settled envelope statuses as the `SignatureEvent.event` they are signalled with."""


def sign_body(secret: str, raw_body: bytes) -> str:
    """base64(HMAC-SHA256(secret, body)), as DocuSign Connect sends it."""
    digest = hmac.new(secret.encode(), raw_body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(raw_body: bytes, signatures: list[str], secrets: list[str]) -> bool:
    """True when any provided signature matches any configured secret (rotation)."""
    expected = [sign_body(secret, raw_body).encode() for secret in secrets]
    matched = False
    for given in signatures:
        for candidate in expected:
            # compare every pair so timing does not reveal which secret or header matched
            matched |= hmac.compare_digest(given.strip().encode(), candidate)
    return matched


@dataclass(frozen=True)
class SigningEvent:
    """A provider-neutral event on one envelope."""

    envelope_id: str
    event_id: str
    event: str
    at: datetime
    by: str | None = None
    reason: str | None = None
    source: str = "webhook"

    @property
    def settles_as(self) -> str | None:
        return SETTLING_EVENTS.get(self.event)

    @property
    def signer(self) -> str | None:
        return self.by if self.event in SIGNER_EVENTS else None


async def apply_signing_event(
    pool: asyncpg.Pool,
    client: Client,
    ev: SigningEvent,
    *,
    rpc_timeout: timedelta = timedelta(seconds=10),
) -> Applied:
    """Record the event on the envelope and, when it settles the envelope, signal the deal.

    Raises RPCError when Temporal cannot take the signal (callers answer 503 and the
    provider's retry re-sends it).
    """
    applied = await envelope_events.apply_event(
        pool,
        ev.envelope_id,
        event_id=ev.event_id,
        event=ev.event,
        at=ev.at,
        signer=ev.signer,
        settle=ev.settles_as,
        detail={"source": ev.source, **({"reason": ev.reason} if ev.reason else {})},
    )
    settled_now = applied.outcome == "applied" and applied.status in SIGNALS
    # A retried settling event re-sends the signal, in case the first delivery failed;
    # the deal ignores a second signal for the same envelope.
    retried = applied.outcome == "duplicate" and applied.status in SIGNALS
    retried = retried and (
        ev.settles_as == applied.status or (ev.signer is not None and applied.status == "completed")
    )
    log.info(
        "esign.event",
        envelope_id=ev.envelope_id,
        kind=ev.event,
        outcome=applied.outcome,
        status=applied.status,
        deal_id=applied.deal_id,
    )
    if (settled_now or retried) and applied.workflow_id and applied.status:
        await _signal_deal(client, applied.workflow_id, applied.status, ev, rpc_timeout)
    return applied


async def _signal_deal(
    client: Client, workflow_id: str, status: str, ev: SigningEvent, rpc_timeout: timedelta
) -> None:
    signal = SIGNALS[status]
    payload = SignatureEvent(
        envelope_id=ev.envelope_id,
        event=SETTLED[status],
        at=ev.at,
        by=ev.by,
        reason=ev.reason,
    )
    try:
        await client.get_workflow_handle(workflow_id).signal(
            signal, payload, rpc_timeout=rpc_timeout
        )
    except RPCError as exc:
        if exc.status != RPCStatusCode.NOT_FOUND:
            raise
        log.warning("esign.deal_gone", workflow_id=workflow_id, signal=signal.__name__)
